/* out: everything a run prints while it works. The main thread of each
 * cluster being synced calls these (several at once with -J), so each
 * takes the output's lock: a line is never cut by another's. On a
 * terminal the status line is one
 * line, cut to the terminal's width (a longer one would wrap and leave its
 * rows behind when it is redrawn), and events are coloured unless
 * NO_COLOR is set. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "run.h"

#define RED "\033[31m"
#define GREEN "\033[32m"
#define YELLOW "\033[33m"
#define BOLD "\033[1m"
#define PLAIN "\033[0m"

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
	const char *nc = getenv("NO_COLOR");
	o->color = o->tty && !(nc && *nc);
	pthread_mutex_init(&o->mu, NULL);
}

void
out_done(struct out *o, int n)
{
	pthread_mutex_lock(&o->mu);
	o->done += n;
	pthread_mutex_unlock(&o->mu);
}

void
out_fleet(struct out *o, int done, int running, int failed, int waiting)
{
	pthread_mutex_lock(&o->mu);
	o->fleet = 1;
	o->cl_done = done, o->cl_running = running, o->cl_failed = failed;
	o->cl_waiting = waiting;
	pthread_mutex_unlock(&o->mu);
}

/* the terminal's width now (it may have been resized) */
static int
columns(FILE *f)
{
	struct winsize ws;
	if (ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	const char *c = getenv("COLUMNS");
	int n = c ? atoi(c) : 0;
	return n > 0 ? n : 80;
}

/* cuts b to at most width columns (text_width), ending in "…" when cut */
static void
cut_to(struct buf *b, int width)
{
	if (text_width(b->s) <= width)
		return;
	size_t i = 0;
	int w = 0, cw;
	while (b->s[i]) {
		size_t n = text_char(b->s + i, &cw);
		if (w + cw > width - 1) /* room for the ellipsis */
			break;
		w += cw;
		i += n;
	}
	b->len = i;
	b->s[i] = 0;
	buf_adds(b, "…");
	if (strchr(b->s, 033))
		buf_adds(b, PLAIN);
}

/* the colour of an event's word on a terminal */
static const char *
event_color(const char *event)
{
	if (strcmp(event, "failed") == 0)
		return BOLD RED;
	if (strcmp(event, "ready") == 0 || strcmp(event, "pruned") == 0)
		return GREEN;
	if (strcmp(event, "interrupted") == 0 || strcmp(event, "waiting") == 0)
		return YELLOW;
	return NULL;
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
	/* a failure's first line: the rest follows once, in the run's
	 * "layer X failed: WHY" (a command's output would be there twice) */
	struct buf first = {0};
	if (detail && strcmp(event, "failed") == 0 && strchr(detail, '\n')) {
		buf_add(&first, detail, (size_t)(strchr(detail, '\n') - detail));
		if (first.len && first.s[first.len - 1] == ':')
			first.s[--first.len] = 0;
		detail = first.s ? first.s : "";
	}
	const char *col = o->color ? event_color(event) : NULL;
	struct buf ev = {0};
	buf_printf(&ev, "%s%s%s", col ? col : "", event, col ? PLAIN : "");
	if (o->tty) {
		clear_line(o);
		struct buf line = {0};
		if (important) {
			buf_printf(&line, "%s: %s %s%s%s", cluster, ev.s, layer, detail ? ": " : "",
				   detail ? detail : "");
			fprintf(o->f, "%s\n", line.s);
		} else {
			buf_printf(&line, "[%d/%d] ", o->done, o->total);
			if (o->fleet)
				buf_printf(&line, "[clusters: %d done, %d running, %d failed, %d waiting] ",
					   o->cl_done, o->cl_running, o->cl_failed, o->cl_waiting);
			buf_printf(&line, "%s: %s %s%s%s", cluster, ev.s, layer, detail ? " — " : "",
				   detail ? detail : "");
			cut_to(&line, columns(o->f) - 1);
			fputs(line.s, o->f);
			o->line_open = 1;
		}
		fflush(o->f);
		buf_free(&line);
		buf_free(&ev);
		buf_free(&first);
		return;
	}
	if (strcmp(event, "waiting") == 0 && !o->verbose && !detail)
		return;
	fprintf(o->f, "[%d/%d] %s: %s %s (order %lld)%s%s\n", o->done, o->total, cluster,
		ev.s, layer, order, detail ? ": " : "", detail ? detail : "");
	fflush(o->f);
	buf_free(&ev);
	buf_free(&first);
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
	pthread_mutex_lock(&o->mu);
	if (strcmp(event, "ready") == 0)
		o->nready++;
	else if (strcmp(event, "failed") == 0)
		o->nfailed++;
	else if (strcmp(event, "interrupted") == 0)
		o->ninterrupted++;
	else if (strcmp(event, "pruned") == 0)
		o->npruned++;
	event_print(o, event, cluster, layer, order, detail);
	pthread_mutex_unlock(&o->mu);
	buf_free(&db);
}

void
out_msg(struct out *o, const char *fmt, ...)
{
	pthread_mutex_lock(&o->mu);
	clear_line(o);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(o->f, fmt, ap);
	va_end(ap);
	fputc('\n', o->f);
	fflush(o->f);
	pthread_mutex_unlock(&o->mu);
}

void
out_finish(struct out *o)
{
	pthread_mutex_lock(&o->mu);
	if (o->line_open) {
		fputc('\n', o->f);
		o->line_open = 0;
	}
	fflush(o->f);
	pthread_mutex_unlock(&o->mu);
}

void
out_summary(struct out *o, int planned, int64_t started_ms)
{
	if (o->json || (o->quiet && !o->nfailed && !o->ninterrupted))
		return;
	int left = planned - o->nready - o->nfailed - o->ninterrupted - o->npruned;
	struct buf b = {0};
	buf_printf(&b, "%d applied", o->nready);
	if (o->npruned)
		buf_printf(&b, ", %d pruned", o->npruned);
	if (o->nfailed)
		buf_printf(&b, ", %s%d failed%s", o->color ? BOLD RED : "", o->nfailed,
			   o->color ? PLAIN : "");
	if (o->ninterrupted)
		buf_printf(&b, ", %d interrupted", o->ninterrupted);
	if (left > 0)
		buf_printf(&b, ", %d not started", left);
	int64_t ms = now_ms() - started_ms;
	out_msg(o, "addonmake: %s in %lld.%lld s", b.s, (long long)(ms / 1000),
		(long long)(ms % 1000 / 100));
	buf_free(&b);
}
