/* graph: the layers of one cluster as a tiered graph. Nodes are sorted by
 * (install order, id); each tier is the run of nodes sharing an order and
 * acts as the barrier node its successor tier depends on, so a cluster of N
 * layers has O(N) edges. The graph carries no knowledge of where layers come
 * from: a node is an id, a label, an order, a state and an opaque pointer. */
#ifndef GRAPH_H
#define GRAPH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum gstate {
	GS_UNKNOWN,  /* no state loaded */
	GS_UPTODATE,
	GS_DIRTY,
	GS_FAILED,
	GS_NEW,
	GS_REMOVED,  /* recorded but no longer in the profiles */
};

struct gnode {
	const char *id;
	const char *label; /* shown in DOT: name, type, version */
	int64_t order;
	int state;
	size_t tier;       /* set by graph_build */
	void *data;        /* the caller's layer */
};

struct gtier {
	int64_t order;
	size_t first, n;   /* nodes[first .. first+n) */
};

struct graph {
	struct gnode *nodes;
	size_t n, cap;
	struct gtier *tiers;
	size_t ntiers;
	size_t *byid; /* node indices sorted by id, for graph_find */
};

void graph_add(struct graph *g, const struct gnode *n);
/* sorts nodes and forms tiers; call after the last graph_add */
void graph_build(struct graph *g);
/* the tier whose barrier node k depends on, or -1 for the first tier */
long graph_barrier_before(const struct graph *g, size_t tier);
/* index of the node with this id, or -1 (O(log n) after graph_build) */
long graph_find(const struct graph *g, const char *id);
void graph_free(struct graph *g);

/* DOT: graph_dot_begin, one graph_dot_cluster per cluster, graph_dot_end */
void graph_dot_begin(FILE *f);
void graph_dot_cluster(FILE *f, const struct graph *g, const char *name,
		       int with_state);
void graph_dot_end(FILE *f);
/* a cluster "legend" with one node per state, styled as the nodes are (its
 * names cannot be a cluster's or a layer's: those have a '/' in a layer id) */
void graph_dot_legend(FILE *f);
/* the word of a state ("up to date", "dirty", …; NULL for GS_UNKNOWN) */
const char *graph_state_word(int st);
/* writes s as a DOT double-quoted string */
void graph_dot_quote(FILE *f, const char *s);

#endif
