/* plan: which layers a run applies and prunes, and why (DESIGN §6), from
 * the layers' hashes, the state's records and the target's output check.
 * The executor that carries a plan out is run.h's. */
#ifndef PLAN_H
#define PLAN_H

#include "load/load.h"

struct plan_opts {
	int force;           /* -B */
	char **only;         /* LAYER arguments; NULL-terminated or NULL */
	/* the cluster's target's check that a clean layer's output is still
	 * there as it was left (a stat): NULL, or the reason; NULL: none */
	const char *(*outdated)(const struct cluster *c, const struct layer *l,
				const struct layer_rec *r);
};

/* reads the records of c's layers (in the store's open read transaction),
 * sets each layer's dirty/reason and the graph's node states, and collects
 * removed layers (highest order first). -1 with err on a corrupt record. */
int plan_cluster(struct store *s, struct cluster *c, const struct plan_opts *o,
		 struct arena *a, struct buf *err);
/* the named LAYER arguments that match no layer of any cluster */
int plan_check_only(struct workspace *w, char **only, struct buf *err);
size_t plan_count_dirty(const struct cluster *c);
/* whether a LAYER argument of only names l (its id or its name) */
int plan_named(const struct layer *l, char **only);
/* c has no work: no layer dirty, nothing to prune (a cluster whose
 * records could not be read) */
void plan_nothing(struct cluster *c);

/* readiness schedule: the delay before check k+1 (k ≥ 0 checks done):
 * 1 s, 2 s, 4 s, … capped at interval */
int64_t ready_delay_ms(int k, int64_t interval_ms);

#endif
