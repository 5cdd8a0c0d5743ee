/* out: everything a run prints while it works. Only the main thread calls
 * these, so output needs no lock. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "run.h"

void
out_init(struct out *o, FILE *f, const struct run_opts *ro)
{
	memset(o, 0, sizeof(*o));
	o->f = f;
	o->json = ro->json;
	o->quiet = ro->quiet;
	o->verbose = ro->verbose;
	const char *term = getenv("TERM");
	o->tty = !o->json && isatty(fileno(f)) && !(term && strcmp(term, "dumb") == 0);
}

static void
clear_line(struct out *o)
{
	if (o->line_open) {
		fputs("\r\033[K", o->f);
		o->line_open = 0;
	}
}

static void
event_print(struct out *o, const char *event, const char *cluster,
	    const char *layer, long long order, const char *detail)
{
	if (o->json) {
		struct buf b = {0};
		buf_adds(&b, "{\"event\":");
		doc_json_str(&b, event);
		buf_adds(&b, ",\"cluster\":");
		doc_json_str(&b, cluster);
		buf_adds(&b, ",\"layer\":");
		doc_json_str(&b, layer);
		buf_printf(&b, ",\"order\":%lld,\"done\":%d,\"total\":%d", order, o->done, o->total);
		if (detail) {
			buf_adds(&b, ",\"detail\":");
			doc_json_str(&b, detail);
		}
		buf_adds(&b, "}\n");
		fputs(b.s, o->f);
		buf_free(&b);
		fflush(o->f);
		return;
	}
	int important = strcmp(event, "failed") == 0 || strcmp(event, "interrupted") == 0;
	if (o->quiet && !important)
		return;
	if (o->tty) {
		clear_line(o);
		if (important) {
			fprintf(o->f, "%s: %s %s%s%s\n", cluster, event, layer, detail ? ": " : "",
				detail ? detail : "");
		} else {
			fprintf(o->f, "[%d/%d] %s: %s %s%s%s", o->done, o->total, cluster, event,
				layer, detail ? " — " : "", detail ? detail : "");
			o->line_open = 1;
		}
		fflush(o->f);
		return;
	}
	if (strcmp(event, "waiting") == 0 && !o->verbose && !detail)
		return;
	fprintf(o->f, "[%d/%d] %s: %s %s (order %lld)%s%s\n", o->done, o->total, cluster,
		event, layer, order, detail ? ": " : "", detail ? detail : "");
	fflush(o->f);
}

void
out_event(struct out *o, const char *event, const char *cluster,
	  const char *layer, long long order, const char *detail0)
{
	/* a detail quotes a target's error, which may quote a value */
	struct buf db = {0};
	if (detail0) {
		buf_adds(&db, detail0);
		buf_redact(&db, o->secret);
	}
	const char *detail = detail0 ? (db.s ? db.s : "") : NULL;
	event_print(o, event, cluster, layer, order, detail);
	buf_free(&db);
}

void
out_msg(struct out *o, const char *fmt, ...)
{
	clear_line(o);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
	fputc('\n', o->f);
	fflush(o->f);
}

void
out_finish(struct out *o)
{
	if (o->line_open) {
		fputc('\n', o->f);
		o->line_open = 0;
	}
	fflush(o->f);
}
