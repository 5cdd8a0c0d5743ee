/* fleet: a workspace's clusters as a fleet, for the engines that run
 * addonmake in shards (a CI matrix, a Kubernetes Indexed Job): each
 * cluster's size (its layers, counted from its profiles' add-on entries:
 * the files are parsed, nothing is fetched or compiled), a split into N
 * shards that every shard's process computes the same way (every cluster
 * in exactly one, as equal as can be by layers), and `addonmake clusters`. */
#include <stdlib.h>
#include <string.h>
#include "fleet.h"

size_t
fleet_layers(struct workspace *w, struct cluster *c)
{
	if (c->npacks_counted)
		return c->npacks_counted - 1; /* --shard counted them already */
	struct arena a = {0};
	struct diag d = {0};
	struct ldctx lc = {.w = w, .a = &a, .deps = NULL, .d = &d};
	size_t n = 0;
	for (size_t i = 0; i < c->nprofiles; i++) {
		struct profile p;
		if (profile_load(&lc, c->profiles[i], &c->profile_at[i], &p) == 0)
			n += p.npacks;
	}
	diag_free(&d);
	arena_free(&a);
	c->npacks_counted = n + 1;
	return n;
}

int
fleet_shard_parse(const char *spec, int *i, int *n, struct buf *err)
{
	char *end;
	const char *slash = strchr(spec, '/');
	int autoi = slash && (size_t)(slash - spec) == 4 && !strncmp(spec, "auto", 4);
	long nn = slash ? strtol(slash + 1, &end, 10) : 0;
	if (!slash || end == slash + 1 || *end || nn < 1 || nn > 100000) {
		buf_printf(err, "--shard %s: want I/N (0 <= I < N) or auto/N", spec);
		return -1;
	}
	const char *is = autoi ? getenv("JOB_COMPLETION_INDEX") : spec;
	if (autoi && (!is || !*is)) {
		buf_printf(err, "--shard %s: JOB_COMPLETION_INDEX is not set (it is, in a Kubernetes "
			   "Indexed Job); give the index: --shard I/%ld", spec, nn);
		return -1;
	}
	long ii = strtol(is, &end, 10);
	if (end == is || (autoi ? *end != 0 : end != slash) || ii < 0 || ii >= nn) {
		buf_printf(err, "--shard %s: the index%s%s%s must be a number from 0 to %ld", spec,
			   autoi ? " (JOB_COMPLETION_INDEX=" : "", autoi ? is : "", autoi ? ")" : "",
			   nn - 1);
		return -1;
	}
	*i = (int)ii;
	*n = (int)nn;
	return 0;
}

struct sized {
	size_t w, at;
	const char *name;
};

static int
by_size(const void *x, const void *y)
{
	const struct sized *a = x, *b = y;
	if (a->w != b->w)
		return a->w > b->w ? -1 : 1;
	return strcmp(a->name, b->name);
}

void
fleet_shard(const size_t *weights, const char *const *names, size_t n, int nshards, int *shard_of)
{
	/* the largest first, each to the shard with the fewest layers so far
	 * (the lowest index on a tie): the same split in every process,
	 * whatever order the workspace lists the clusters in */
	struct sized *v = xcalloc(n + 1, sizeof(*v));
	size_t *load = xcalloc((size_t)nshards, sizeof(*load));
	size_t *count = xcalloc((size_t)nshards, sizeof(*count));
	for (size_t i = 0; i < n; i++)
		v[i] = (struct sized){weights[i], i, names[i]};
	qsort(v, n, sizeof(*v), by_size);
	for (size_t i = 0; i < n; i++) {
		int best = 0;
		for (int s = 1; s < nshards; s++)
			if (load[s] < load[best] || (load[s] == load[best] && count[s] < count[best]))
				best = s;
		shard_of[v[i].at] = best;
		load[best] += v[i].w;
		count[best]++;
	}
	free(v);
	free(load);
	free(count);
}
