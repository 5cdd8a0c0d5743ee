/* target: choosing a cluster's target, the environment its commands see,
 * and the kubeconfig it names. */
#include <stdio.h>
#include <stdlib.h>
#include "target.h"

const struct target_ops *
target_for(const struct cluster *c, struct buf *err)
{
	switch (c->target.kind) {
	case TARGET_RENDER:
		return &target_render;
	case TARGET_EXEC:
		return &target_exec;
	case TARGET_KUBE:
		return &target_kube;
	}
	buf_printf(err, "cluster %s has no target", c->name);
	return NULL;
}

const struct target_ops *
target_state(const struct cluster *c)
{
	struct buf err = {0};
	const struct target_ops *ops = target_for(c, &err);
	buf_free(&err);
	return ops && ops->state_on && ops->state_on(c) ? ops : NULL;
}

int
target_open(struct target_ctx *t, const struct target_ops **ops, struct buf *err)
{
	*ops = target_for(t->c, err);
	if (!*ops)
		return -1;
	if ((*ops)->open && (*ops)->open(t, err) < 0)
		return -1;
	return 0;
}

void
target_close(struct target_ctx *t, const struct target_ops *ops)
{
	if (ops && ops->close)
		ops->close(t);
	t->priv = NULL;
}

void
target_slot(const struct target_ctx *t, int release)
{
	if (t->slot)
		t->slot(t, release);
}

char **
target_env(struct arena *a, const struct cluster *c, const char *id,
	   const char *ns, long long order, const char *type)
{
	char **env = arena_alloc(a, 6 * sizeof(*env));
	env[0] = arena_printf(a, "ADDONMAKE_CLUSTER=%s", c->name);
	env[1] = arena_printf(a, "ADDONMAKE_LAYER=%s", id);
	env[2] = arena_printf(a, "ADDONMAKE_NAMESPACE=%s", ns ? ns : "");
	env[3] = arena_printf(a, "ADDONMAKE_ORDER=%lld", order);
	env[4] = arena_printf(a, "ADDONMAKE_TYPE=%s", type ? type : "");
	return env;
}
