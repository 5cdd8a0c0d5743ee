/* target: choosing a cluster's target, and the environment its commands
 * see. */
#include <stdio.h>
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
		buf_printf(err, "cluster %s: the kube target is not available in this version "
			   "of addonmake; use render or exec", c->name);
		return NULL;
	}
	buf_printf(err, "cluster %s has no target", c->name);
	return NULL;
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
