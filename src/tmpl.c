/* tmpl: pack manifests are Go templates over .Values. This is the subset
 * that needs no evaluation engine: {{ .Values.a.b }} lookups of scalars,
 * with {{- / -}} trimming. Anything else is refused with its file and line
 * rather than rendered wrongly. A missing value renders as the empty string,
 * as Helm does (missingkey=zero). */
#include <ctype.h>
#include <string.h>
#include "model.h"

const char *
text_copy_plain(const char *p, const char *end, struct buf *out, int *line, int *col)
{
	const char *q = p;
	while ((q = memchr(q, '{', (size_t)(end - q))) && q + 1 < end && q[1] != '{')
		q++;
	if (!q || q + 1 >= end)
		q = end;
	for (const char *nl = p; (nl = memchr(nl, '\n', (size_t)(q - nl))); nl++) {
		(*line)++;
		*col = 1 - (int)(nl + 1 - p);
	}
	*col += (int)(q - p);
	buf_add(out, p, (size_t)(q - p));
	return q;
}

int
tmpl_render(const char *text, size_t len, const struct dnode *values,
	    const char *file, struct buf *out, struct diag *d)
{
	const char *end = text + len;
	int line = 1, col = 1, rc = 0;
	buf_add(out, "", 0);
	for (const char *p = text; p < end;) {
		if (!(p + 1 < end && p[0] == '{' && p[1] == '{')) {
			p = text_copy_plain(p, end, out, &line, &col);
			continue;
		}
		const char *close = NULL;
		for (const char *q = p + 2; q + 1 < end; q++)
			if (q[0] == '}' && q[1] == '}') {
				close = q;
				break;
			}
		if (!close) {
			diag_add(d, DIAG_ERROR, file, line, col, "unterminated template action \"{{\"");
			return -1;
		}
		const char *s = p + 2, *e = close;
		if (s < e && *s == '-') {
			s++;
			while (out->len && isspace((unsigned char)out->s[out->len - 1]))
				out->s[--out->len] = 0;
		}
		int trim_after = e > s && e[-1] == '-';
		if (trim_after)
			e--;
		while (s < e && isspace((unsigned char)*s))
			s++;
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		size_t n = (size_t)(e - s);
		if (n >= 8 && strncmp(s, ".Values.", 8) == 0) {
			char path[512];
			size_t pl = n - 8;
			int ok = pl < sizeof(path);
			for (size_t i = 0; ok && i < pl; i++)
				ok = !isspace((unsigned char)s[8 + i]) && s[8 + i] != '|';
			if (ok) {
				memcpy(path, s + 8, pl);
				path[pl] = 0;
				const struct dnode *v = doc_path(values, path);
				if (v && v->kind != D_SCALAR) {
					diag_add(d, DIAG_ERROR, file, line, col,
						 ".Values.%s is a %s: printing it needs toYaml, which "
						 "addonmake does not support yet", path,
						 v->kind == D_MAP ? "mapping" : "list");
					rc = -1;
				} else if (v && !doc_is_null(v)) {
					buf_add(out, v->s, v->len);
				}
				goto next;
			}
		}
		diag_add(d, DIAG_ERROR, file, line, col,
			 "unsupported template action \"{{%.*s}}\": addonmake renders only "
			 "{{ .Values.path }} lookups in pack manifests for now",
			 (int)(close - p - 2 > 60 ? 60 : close - p - 2), p + 2);
		rc = -1;
	next:
		for (const char *q = p; q < close + 2; q++)
			if (*q == '\n')
				line++, col = 1;
			else
				col++;
		p = close + 2;
		if (trim_after)
			while (p < end && isspace((unsigned char)*p)) {
				if (*p == '\n')
					line++, col = 1;
				else
					col++;
				p++;
			}
	}
	return rc;
}
