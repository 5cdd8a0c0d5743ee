/* helm_run: the helm binary run for the kube target (upgrade --install,
 * get manifest, uninstall) against the cluster's kubeconfig and context,
 * as the user's own helm would be. Its stderr is kept apart from its
 * output and becomes the error when it fails. */
#include <errno.h>
#include <stdlib.h>
#include "target.h"

/* a helm call never waits for readiness (addonmake does): this bounds only
 * a hung helm */
#define HELM_TIMEOUT_MS 600000

int
helm_run(const struct target_ctx *t, const char *const *args, const char *ns,
	 struct buf *out, struct buf *err)
{
	struct arena a = {0};
	const char *helm = helm_binary(&a);
	if (!helm) {
		buf_adds(err, "a helm layer needs the helm binary: install helm, or set ADDONMAKE_HELM "
			      "to its path");
		arena_free(&a);
		return -1;
	}
	const char *verb = args[0];
	const char *argv[24];
	size_t n = 0;
	argv[n++] = helm;
	for (; *args && n < 16; args++)
		argv[n++] = *args;
	argv[n++] = "--namespace";
	argv[n++] = ns;
	const char *kc = t->c->target.kubepath;
	if (kc) {
		argv[n++] = "--kubeconfig";
		argv[n++] = kc;
	}
	if (t->c->target.context) {
		argv[n++] = "--kube-context";
		argv[n++] = t->c->target.context;
	}
	argv[n] = NULL;
	int status = 0;
	struct buf e = {0};
	int rc = proc_run_split(t->ps, (char *const *)argv, NULL, now_ms() + HELM_TIMEOUT_MS, out,
				&status, &e);
	if (rc == ECANCELED)
		buf_printf(err, "helm %s: interrupted", verb);
	else if (rc == ETIMEDOUT)
		buf_printf(err, "helm %s did not finish within %ds", verb, HELM_TIMEOUT_MS / 1000);
	else if (rc)
		buf_adds(err, e.s);
	else if (status == 127)
		buf_printf(err, "%s could not be run (is it installed?)", helm);
	else if (status != 0)
		buf_printf(err, "helm %s failed (exit %d)%s%s", verb, status, e.len ? ": " : "",
			   e.len ? e.s : "");
	buf_free(&e);
	arena_free(&a);
	return rc == ECANCELED ? -2 : rc == 0 && status == 0 ? 0 : -1;
}
