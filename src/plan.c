/* plan: dirtiness with reasons, in tier order. A layer is dirty for the
 * first reason that holds: new layer, content changed, last apply
 * failed/interrupted/pending, output missing/changed, drifted or deleted
 * in the cluster, forced, earlier tier changed. An output missing or
 * changed, or drift, is mended by applying that layer again; its inputs
 * did not change, so it makes no later tier dirty. */
#include <stdlib.h>
#include <string.h>
#include "plan.h"

int64_t
ready_delay_ms(int k, int64_t interval_ms)
{
	int64_t d = 1000;
	for (int i = 0; i < k && d < interval_ms; i++)
		d *= 2;
	return d < interval_ms ? d : interval_ms;
}

int
plan_named(const struct layer *l, char **only)
{
	for (char **p = only; *p; p++)
		if (strcmp(*p, l->id) == 0 || strcmp(*p, l->name) == 0)
			return 1;
	return 0;
}

int
plan_check_only(struct workspace *w, char **only, struct buf *err)
{
	for (char **p = only; p && *p; p++) {
		int found = 0;
		for (size_t i = 0; i < w->nclusters && !found; i++)
			for (size_t j = 0; j < w->clusters[i].nlayers && !found; j++) {
				const struct layer *l = w->clusters[i].layers[j];
				found = strcmp(*p, l->id) == 0 || strcmp(*p, l->name) == 0;
			}
		if (!found) {
			size_t n = 0;
			for (size_t i = 0; i < w->nclusters; i++)
				n += w->clusters[i].nlayers;
			const char **ids = xcalloc(n + 1, sizeof(*ids));
			n = 0;
			for (size_t i = 0; i < w->nclusters; i++)
				for (size_t j = 0; j < w->clusters[i].nlayers; j++)
					ids[n++] = w->clusters[i].layers[j]->id;
			buf_printf(err, "unknown layer \"%s\"", *p);
			near_hint(err, *p, ids, n, "layers");
			buf_adds(err, "; 'addonmake status' lists the layer ids");
			free(ids);
			return -1;
		}
	}
	return 0;
}

struct rm_ctx {
	struct cluster *c;
	struct arena *a;
	size_t cap;
};

static void
collect_removed(void *vctx, const char *id, const struct layer_rec *r)
{
	struct rm_ctx *x = vctx;
	if (graph_find(&x->c->g, id) >= 0)
		return;
	if (x->c->nremoved == x->cap) {
		size_t cap = x->cap ? x->cap * 2 : 8;
		struct removed *n = arena_alloc(x->a, cap * sizeof(*n));
		if (x->c->nremoved)
			memcpy(n, x->c->removed, x->c->nremoved * sizeof(*n));
		x->c->removed = n;
		x->cap = cap;
	}
	x->c->removed[x->c->nremoved].id = id;
	x->c->removed[x->c->nremoved].rec = *r;
	x->c->nremoved++;
}

/* Palette's deletion order: highest install order first */
static int
removed_cmp(const void *a, const void *b)
{
	const struct removed *x = a, *y = b;
	if (x->rec.order != y->rec.order)
		return x->rec.order > y->rec.order ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
plan_cluster(struct store *s, struct cluster *c, const struct plan_opts *o,
	     struct arena *a, struct buf *err)
{
	struct graph *g = &c->g;
	const struct layer *first_dirty = NULL; /* of an earlier tier */
	const struct layer *tier_dirty = NULL;  /* of the current tier */
	int named_dirty_before = 0, named_dirty_here = 0;
	for (size_t t = 0; t < g->ntiers; t++) {
		if (tier_dirty && !first_dirty)
			first_dirty = tier_dirty;
		named_dirty_before |= named_dirty_here;
		tier_dirty = NULL;
		named_dirty_here = 0;
		for (size_t i = g->tiers[t].first; i < g->tiers[t].first + g->tiers[t].n; i++) {
			struct gnode *gn = &g->nodes[i];
			struct layer *l = gn->data;
			int rc = store_get_layer(s, c->name, l->id, &l->plan.rec, a, err);
			if (rc < 0)
				return -1;
			l->plan.has_rec = rc == 0;
			const char *why = NULL;
			int mended = 0; /* dirty, but later tiers need nothing */
			/* with LAYER arguments, only those layers and what must
			 * follow a dirty one of them are considered */
			int considered = !o->only || plan_named(l, o->only) || named_dirty_before;
			if (!considered)
				why = NULL;
			else if (!l->plan.has_rec)
				why = c->changed ? "cluster changed" : "new layer";
			else if (memcmp(l->plan.rec.hash.b, l->hash.b, 16) != 0)
				why = "content changed";
			else if (l->plan.rec.status == LS_FAILED)
				why = "last apply failed";
			else if (l->plan.rec.status == LS_INTERRUPTED)
				why = "last apply interrupted";
			else if (l->plan.rec.status != LS_READY)
				why = "pending from an interrupted run";
			else if (o->outdated && (why = o->outdated(c, l, &l->plan.rec)))
				mended = 1;
			else if (l->plan.drift)
				why = l->plan.drift, mended = 1;
			else if (o->force)
				why = "forced";
			else if (first_dirty)
				why = arena_printf(a, "earlier tier changed: %s (order %lld)",
						   first_dirty->id, (long long)first_dirty->order);
			l->plan.dirty = why != NULL;
			l->plan.reason = why;
			if (why && !mended && !tier_dirty)
				tier_dirty = l;
			if (why && o->only && plan_named(l, o->only))
				named_dirty_here = 1;
			gn->state = !why ? GS_UPTODATE
				    : !l->plan.has_rec ? GS_NEW
				    : l->plan.rec.status == LS_FAILED ? GS_FAILED : GS_DIRTY;
		}
	}
	c->nremoved = 0;
	struct rm_ctx x = {c, a, 0};
	if (store_each_layer(s, c->name, collect_removed, &x, a, err))
		return -1;
	if (c->nremoved)
		qsort(c->removed, c->nremoved, sizeof(*c->removed), removed_cmp);
	return 0;
}

void
plan_nothing(struct cluster *c)
{
	for (size_t i = 0; i < c->nlayers; i++) {
		c->layers[i]->plan.dirty = 0;
		c->layers[i]->plan.reason = NULL;
	}
	c->nremoved = 0;
}

size_t
plan_count_dirty(const struct cluster *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nlayers; i++)
		n += c->layers[i]->plan.dirty != 0;
	return n;
}
