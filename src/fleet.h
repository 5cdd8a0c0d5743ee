/* fleet: the clusters of a workspace as a fleet — sizes, shards (fleet.c) */
#ifndef FLEET_H
#define FLEET_H

#include "load/load.h"

/* c's layers, counted from its profiles' add-on entries (parsed, nothing
 * fetched; once a run: kept in c); a profile that cannot be read counts
 * none */
size_t fleet_layers(struct workspace *w, struct cluster *c);
/* "I/N" or "auto/N" (I from JOB_COMPLETION_INDEX): 0, or -1 with err */
int fleet_shard_parse(const char *spec, int *i, int *n, struct buf *err);
/* the shard (0..nshards-1) of each of n clusters, balanced by weight and
 * the same in every process for the same clusters */
void fleet_shard(const size_t *weights, const char *const *names, size_t n, int nshards,
		 int *shard_of);

#endif
