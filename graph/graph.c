/* graph: node storage, deterministic ordering and tier formation. */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>
#include <string.h>
#include "graph.h"

void
graph_add(struct graph *g, const struct gnode *n)
{
	if (g->n == g->cap) {
		g->cap = g->cap ? g->cap * 2 : 16;
		struct gnode *p = realloc(g->nodes, g->cap * sizeof(*p));
		if (!p)
			abort();
		g->nodes = p;
	}
	g->nodes[g->n++] = *n;
}

static int
node_cmp(const void *a, const void *b)
{
	const struct gnode *x = a, *y = b;
	if (x->order != y->order)
		return x->order < y->order ? -1 : 1;
	return strcmp(x->id, y->id);
}

static int
byid_cmp(const void *a, const void *b, void *nodes)
{
	const struct gnode *n = nodes;
	return strcmp(n[*(const size_t *)a].id, n[*(const size_t *)b].id);
}

void
graph_build(struct graph *g)
{
	if (g->n) /* a cluster may have no layers; qsort wants an array */
		qsort(g->nodes, g->n, sizeof(*g->nodes), node_cmp);
	free(g->byid);
	g->byid = malloc((g->n ? g->n : 1) * sizeof(*g->byid));
	if (!g->byid)
		abort();
	for (size_t i = 0; i < g->n; i++)
		g->byid[i] = i;
	if (g->n)
		qsort_r(g->byid, g->n, sizeof(*g->byid), byid_cmp, g->nodes);
	free(g->tiers);
	g->tiers = NULL;
	g->ntiers = 0;
	size_t cap = 0;
	for (size_t i = 0; i < g->n; i++) {
		if (!g->ntiers || g->tiers[g->ntiers - 1].order != g->nodes[i].order) {
			if (g->ntiers == cap) {
				cap = cap ? cap * 2 : 8;
				struct gtier *t = realloc(g->tiers, cap * sizeof(*t));
				if (!t)
					abort();
				g->tiers = t;
			}
			g->tiers[g->ntiers++] = (struct gtier){g->nodes[i].order, i, 0};
		}
		g->tiers[g->ntiers - 1].n++;
		g->nodes[i].tier = g->ntiers - 1;
	}
}

long
graph_barrier_before(const struct graph *g, size_t tier)
{
	(void)g;
	return tier == 0 ? -1 : (long)tier - 1;
}

long
graph_find(const struct graph *g, const char *id)
{
	size_t lo = 0, hi = g->byid ? g->n : 0;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(g->nodes[g->byid[mid]].id, id);
		if (c == 0)
			return (long)g->byid[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

void
graph_free(struct graph *g)
{
	free(g->nodes);
	free(g->tiers);
	free(g->byid);
	memset(g, 0, sizeof(*g));
}
