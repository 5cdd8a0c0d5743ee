/* cmd_drift: the drift pass of plan and sync (--drift, or drift: true of a
 * cluster; DESIGN §6). A clean layer's hash says Git did not change it,
 * not that the cluster did not: the target is asked whether what the
 * layer's last apply left is still there as it left it. A layer that
 * drifted becomes dirty with what changed as its reason, and is repaired
 * like an output that went missing: applied again, its later tiers left
 * alone (their inputs did not change). */
#include <stdlib.h>
#include <string.h>
#include "cmd.h"

/* the layers of c that the plan left clean and whose last apply was good */
static size_t
clean_layers(struct cmd_ctx *x, struct cluster *c, struct layer **ls)
{
	size_t n = 0;
	for (size_t i = 0; i < c->nlayers; i++) {
		struct layer *l = c->layers[i];
		l->plan.drift = NULL;
		if (!l->plan.dirty && l->plan.has_rec && l->plan.rec.status == LS_READY &&
		    (!x->only || plan_named(l, x->only)))
			ls[n++] = l;
	}
	return n;
}

/* loading a layer's content for the target, for as long as the drift
 * check of its cluster lasts */
struct drift_load {
	struct cmd_ctx *x;
	struct cluster *c;
	struct arena a;
	struct layer **v;
	size_t n;
};

static int
load_one(void *u, struct layer *l)
{
	struct drift_load *dl = u;
	struct layer *one[1] = {l};
	if (run_load(cmd_runner(dl->x), dl->x->w, dl->c, one, 1, &dl->a)) {
		dl->v = xrealloc(dl->v, (dl->n + 1) * sizeof(*dl->v));
		dl->v[dl->n++] = l;
	}
	return l->body ? 0 : -1;
}

/* what the target found for c's clean layers into their plan.drift; a
 * cluster that cannot be asked has no work and fails at its turn, as one
 * whose records cannot be read (said) */
static void
drift_one(struct cmd_ctx *x, struct cluster *c)
{
	struct layer **ls = xcalloc(c->nlayers + 1, sizeof(*ls));
	const char **why = xcalloc(c->nlayers + 1, sizeof(*why));
	size_t n = clean_layers(x, c, ls);
	struct target_ctx *tc;
	const struct target_ops *ops;
	struct buf skipped = {0}, err = {0};
	c->drift_checked = 1;
	if (n && runner_target(cmd_runner(x), x->w, c, &tc, &ops)) {
		cmd_row_set(x, c, CO_FAILED, NULL, "its target could not be opened");
		c->unreachable = 1;
	} else if (n && ops->drift) {
		struct drift_load dl = {.x = x, .c = c};
		if (ops->drift(tc, ls, n, why, &skipped, load_one, &dl, &x->w->a, &err)) {
			fprintf(stderr, "addonmake: error: %s\n", err.s);
			cmd_row_set(x, c, CO_FAILED, NULL, err.s);
			c->unreachable = 1;
		} else {
			for (size_t i = 0; i < n; i++)
				ls[i]->plan.drift = why[i];
		}
		run_unload(dl.v, dl.n);
		free(dl.v);
		arena_free(&dl.a);
	}
	if (c->unreachable)
		plan_nothing(c);
	/* fields another manager was trusted with are said only when asked */
	if (x->ro->explain && !x->ro->json && skipped.len) {
		for (char *p = skipped.s, *nl; p && *p; p = nl ? nl + 1 : NULL) {
			nl = strchr(p, '\n');
			fprintf(stderr, "addonmake explain: %.*s\n", nl ? (int)(nl - p) : (int)strlen(p),
				p);
		}
	}
	buf_free(&skipped);
	buf_free(&err);
	free(ls);
	free(why);
}

int
cmd_drift_all(struct cmd_ctx *x)
{
	int any = 0;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		if (!(x->ro->drift || c->drift) || c->unreachable)
			continue;
		if (!c->drift_checked) {
			struct buf err = {0};
			const struct target_ops *ops = target_for(c, &err);
			buf_free(&err);
			if (!ops || !ops->drift)
				continue;
			drift_one(x, c);
		}
		for (size_t k = 0; k < c->nlayers; k++)
			any |= c->layers[k]->plan.drift != NULL;
	}
	return any;
}
