/* cmd_summary: how each cluster a run was asked for came out — synced, no
 * work, failed (at which layer, why), locked by another run, not started,
 * stopped after a tier (-J: another cluster failed) — one line each at the end of a run of several clusters, one JSON event
 * each with --json, and the same as one JSON document with --summary FILE
 * (written whole or not at all), so that a fleet's run cannot hide a
 * cluster. */
#include <stdlib.h>
#include <string.h>
#include "cmd.h"

static const char *const names[] = {
	[CO_NOWORK] = "no work", [CO_SYNCED] = "synced", [CO_FAILED] = "failed",
	[CO_LOCKED] = "locked", [CO_SKIPPED] = "not started", [CO_STOPPED] = "stopped",
};

struct crow *
cmd_row(struct cmd_ctx *x, const struct cluster *c)
{
	if (!x->rows)
		x->rows = xcalloc(x->ncl + 1, sizeof(*x->rows));
	for (size_t i = 0; i < x->ncl; i++)
		if (x->cl[i] == c)
			return &x->rows[i];
	return &x->rows[x->ncl]; /* not asked for: nowhere shown */
}

void
cmd_row_set(struct cmd_ctx *x, const struct cluster *c, int outcome, const char *layer,
	    const char *why)
{
	struct crow *r = cmd_row(x, c);
	r->outcome = outcome;
	free(r->layer);
	free(r->why);
	r->layer = layer ? xstrndup(layer, strlen(layer)) : NULL;
	/* the first line is the reason, without "cluster NAME: " (the row
	 * names it); the rest was said where it happened */
	size_t nl = strlen(c->name);
	if (why && !strncmp(why, "cluster ", 8) && !strncmp(why + 8, c->name, nl) &&
	    !strncmp(why + 8 + nl, ": ", 2))
		why += 10 + nl;
	r->why = why ? xstrndup(why, strcspn(why, "\n")) : NULL;
}

/* the row as a JSON object; lead (fields and a comma, or "") first */
static void
row_json(struct buf *b, const char *lead, const struct cluster *c, const struct crow *r)
{
	buf_printf(b, "{%s\"cluster\":", lead);
	doc_json_str(b, c->name);
	buf_printf(b, ",\"outcome\":\"%s\",\"applied\":%d,\"pruned\":%d", names[r->outcome],
		   r->applied, r->pruned);
	if (r->layer) {
		buf_adds(b, ",\"layer\":");
		doc_json_str(b, r->layer);
	}
	if (r->why) {
		buf_adds(b, ",\"why\":");
		doc_json_str(b, r->why);
	}
	buf_addc(b, '}');
}

int
cmd_summary(struct cmd_ctx *x, struct out *o, int lines)
{
	int bad = 0;
	struct buf doc = {0}, ev = {0};
	buf_adds(&doc, "{\"clusters\":[");
	for (size_t i = 0; i < x->ncl; i++) {
		const struct cluster *c = x->cl[i];
		struct crow *r = cmd_row(x, c);
		bad |= r->outcome != CO_NOWORK && r->outcome != CO_SYNCED;
		if (i)
			buf_addc(&doc, ',');
		row_json(&doc, "", c, r);
		if (x->ro->json) {
			buf_clear(&ev);
			row_json(&ev, "\"event\":\"cluster\",", c, r);
			out_msg(o, "%s", ev.s);
		} else if (lines && (!x->ro->quiet || (r->outcome != CO_NOWORK && r->outcome != CO_SYNCED))) {
			struct buf l = {0};
			buf_printf(&l, "addonmake: %s: %s", c->name, names[r->outcome]);
			if (r->outcome == CO_SYNCED || r->outcome == CO_STOPPED)
				buf_printf(&l, " (%d applied%s)", r->applied, r->pruned ? ", pruned" : "");
			if (r->layer)
				buf_printf(&l, " at %s", r->layer);
			if (r->why)
				buf_printf(&l, r->outcome == CO_SKIPPED || r->outcome == CO_STOPPED ? " (%s)"
													  : ": %s",
					   r->why);
			out_msg(o, "%s", l.s);
			buf_free(&l);
		}
	}
	buf_adds(&doc, "]}\n");
	int rc = 0;
	if (x->ro->summary) {
		int e = file_write_replace(x->ro->summary, doc.s, doc.len, 1);
		if (e) {
			fprintf(stderr, "addonmake: error: cannot write the summary %s: %s\n",
				x->ro->summary, strerror(e));
			rc = -1;
		}
	}
	buf_free(&doc);
	buf_free(&ev);
	return rc < 0 ? -1 : bad;
}

void
cmd_rows_free(struct cmd_ctx *x)
{
	for (size_t i = 0; x->rows && i <= x->ncl; i++) {
		free(x->rows[i].layer);
		free(x->rows[i].why);
	}
	free(x->rows);
	x->rows = NULL;
}
