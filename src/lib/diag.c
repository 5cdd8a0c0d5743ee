/* diag: compiler-style diagnostics, collected so that one run reports every
 * error it can find before it gives up. */
#include <stdlib.h>
#include "lib.h"

void
diag_vadd(struct diag *d, int severity, const char *file, int line, int col,
	  const char *fmt, va_list ap)
{
	if (d->n == d->cap) {
		d->cap = d->cap ? d->cap * 2 : 8;
		d->msg = xrealloc(d->msg, d->cap * sizeof(*d->msg));
	}
	struct buf b = {0};
	buf_vprintf(&b, fmt, ap);
	buf_redact(&b, d->secret);
	struct diag_msg *m = &d->msg[d->n++];
	m->severity = severity;
	m->file = file ? xstrdup(file) : NULL;
	m->line = line;
	m->col = col;
	m->text = b.s ? b.s : xstrdup("");
	if (severity == DIAG_ERROR)
		d->nerr++;
}

void
diag_add(struct diag *d, int severity, const char *file, int line, int col,
	 const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_vadd(d, severity, file, line, col, fmt, ap);
	va_end(ap);
}

void
diag_print(const struct diag *d, FILE *f)
{
	for (size_t i = 0; i < d->n; i++) {
		const struct diag_msg *m = &d->msg[i];
		const char *sev = m->severity == DIAG_ERROR ? "error" : "warning";
		/* again: a secret may have become known after the message */
		struct buf t = {0};
		buf_adds(&t, m->text);
		buf_redact(&t, d->secret);
		if (m->file && m->line > 0)
			fprintf(f, "%s:%d:%d: %s: %s\n", m->file, m->line,
				m->col > 0 ? m->col : 1, sev, t.s ? t.s : "");
		else if (m->file)
			fprintf(f, "%s: %s: %s\n", m->file, sev, t.s ? t.s : "");
		else
			fprintf(f, "addonmake: %s: %s\n", sev, t.s ? t.s : "");
		buf_free(&t);
	}
}

void
diag_truncate(struct diag *d, size_t n)
{
	while (d->n > n) {
		struct diag_msg *m = &d->msg[--d->n];
		if (m->severity == DIAG_ERROR)
			d->nerr--;
		free(m->file);
		free(m->text);
	}
}

void
diag_free(struct diag *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->msg[i].file);
		free(d->msg[i].text);
	}
	free(d->msg);
	d->msg = NULL;
	d->n = d->cap = 0;
	d->nerr = d->nremote = 0;
}
