/* target_kube: layers applied to an API server with server-side apply.
 * Within a layer: its namespace first (created when missing, as Palette
 * does), then Namespaces, CRDs (waited for until Established, then
 * discovery is asked again), ServiceAccounts and RBAC, ConfigMaps and
 * Secrets, the rest, custom resources last. Every object is labelled with
 * its layer and recorded in the layer's inventory with its uid; readiness
 * is kstatus over that inventory; prune deletes exactly what was recorded,
 * with the uid as a precondition. A helm layer is installed by helm
 * (upgrade --install of its verified chart archive); its inventory is the
 * release (ns/name) and the objects of `helm get manifest`, and prune is
 * helm uninstall.
 *
 * This file: the connection to the cluster, the inventory's encoding and
 * what the other target_kube_*.c share (target_kube.h); applying is in
 * target_kube_apply.c, helm releases in target_kube_helm.c, readiness in
 * target_kube_ready.c, deletion in target_kube_remove.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "../http/http.h"
#include "target_kube.h"

/* 1: objects; 2: a helm release (or ""), then objects; 3: the release,
 * the table of the objects' field pointers (objects of a kind share most
 * of them), then the objects, each with its fields as (index in the
 * table, hash) */
#define INV_VERSION 3

void
tk_inv_put(struct buf *b, const char *release, const struct iobj *v, size_t n)
{
	put_be(b, INV_VERSION, 1);
	put_str(b, release ? release : "");
	struct strset idx = {0};
	size_t nt = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < v[i].nf; f++) {
			int added;
			void **slot = strset_slot(&idx, v[i].fptr[f], &added);
			if (added)
				*slot = (void *)(uintptr_t)++nt;
		}
	put_be(b, nt, 4);
	/* in the order they were first seen */
	const char **tab = xcalloc(nt + 1, sizeof(*tab));
	for (size_t i = 0; i < n; i++)
		for (size_t f = 0; f < v[i].nf; f++)
			tab[(uintptr_t)strset_get(&idx, v[i].fptr[f]) - 1] = v[i].fptr[f];
	for (size_t k = 0; k < nt; k++)
		put_str(b, tab[k]);
	free(tab);
	put_be(b, n, 4);
	for (size_t i = 0; i < n; i++) {
		put_str(b, v[i].path);
		put_str(b, v[i].api);
		put_str(b, v[i].kind);
		put_str(b, v[i].ns ? v[i].ns : "");
		put_str(b, v[i].name);
		put_str(b, v[i].uid ? v[i].uid : "");
		put_be(b, v[i].flags, 1);
		put_be(b, v[i].nf, 4);
		for (size_t f = 0; f < v[i].nf; f++) {
			put_be(b, (uintptr_t)strset_get(&idx, v[i].fptr[f]) - 1, 4);
			put_be(b, v[i].fhash[f], 8);
		}
	}
	strset_free(&idx);
}

/* the fields of an object of a version 3 inventory, pointers from tab */
static int
fields_get(struct reader *r, struct arena *a, const char **tab, size_t nt, struct iobj *o)
{
	o->nf = get_be(r, 4);
	if (r->bad || o->nf > r->n - r->off)
		return -1;
	o->fptr = arena_alloc(a, (o->nf + 1) * sizeof(*o->fptr));
	o->fhash = arena_alloc(a, (o->nf + 1) * sizeof(*o->fhash));
	for (size_t f = 0; f < o->nf && !r->bad; f++) {
		size_t k = get_be(r, 4);
		if (k >= nt)
			return -1;
		o->fptr[f] = tab[k];
		o->fhash[f] = get_be(r, 8);
	}
	return r->bad ? -1 : 0;
}

/* the helm release ("ns/name", or "") and the objects of an inventory
 * (into a); -1 when it is not ours */
int
tk_inv_get(const char *p, size_t len, struct arena *a, const char **release, struct iobj **out,
	size_t *n)
{
	*out = NULL;
	*n = 0;
	*release = "";
	if (!len)
		return 0;
	struct reader r = {.p = (const unsigned char *)p, .n = len, .off = 0, .bad = 0};
	uint64_t ver = get_be(&r, 1);
	if (ver < 1 || ver > INV_VERSION)
		return -1;
	if (ver >= 2 && !(*release = get_str(&r, a, NULL)))
		return -1;
	size_t nt = ver >= 3 ? get_be(&r, 4) : 0;
	if (r.bad || nt > len)
		return -1;
	const char **tab = arena_alloc(a, (nt + 1) * sizeof(*tab));
	for (size_t k = 0; k < nt && !r.bad; k++)
		tab[k] = get_str(&r, a, NULL);
	size_t cnt = get_be(&r, 4);
	if (r.bad || cnt > len)
		return -1;
	struct iobj *v = arena_alloc(a, (cnt ? cnt : 1) * sizeof(*v));
	for (size_t i = 0; i < cnt && !r.bad; i++) {
		v[i].path = get_str(&r, a, NULL);
		v[i].api = get_str(&r, a, NULL);
		v[i].kind = get_str(&r, a, NULL);
		v[i].ns = get_str(&r, a, NULL);
		v[i].name = get_str(&r, a, NULL);
		v[i].uid = get_str(&r, a, NULL);
		v[i].flags = (unsigned)get_be(&r, 1);
		v[i].nf = 0;
		if (ver >= 3 && fields_get(&r, a, tab, nt, &v[i]))
			return -1;
	}
	if (r.bad)
		return -1;
	*out = v;
	*n = cnt;
	return 0;
}

/* "Deployment addons/web" */
void
tk_obj_name(struct buf *b, const char *kind, const char *ns, const char *name)
{
	buf_printf(b, "%s %s%s%s", kind, ns && *ns ? ns : "", ns && *ns ? "/" : "", name);
}

/* exec credential plugins run as the run's children: Ctrl-C stops them */
static int
run_plugin(void *u, char *const *argv, char *const *env, struct buf *out, struct buf *err)
{
	struct procs *ps = u;
	int status = 0;
	struct buf e = {0};
	int rc = proc_run_split(ps, argv, env, now_ms() + 60000, out, &status, &e);
	if (rc && rc != ECANCELED && rc != ETIMEDOUT) {
		buf_adds(err, e.s); /* no temporary file */
		buf_free(&e);
		return -1;
	}
	if (rc || status != 0) {
		if (rc == ECANCELED)
			buf_adds(err, "interrupted");
		else if (rc == ETIMEDOUT)
			buf_adds(err, "it did not finish within 60s");
		else if (status == 127)
			buf_printf(err, "%s could not be run (is it installed?)", argv[0]);
		else
			buf_printf(err, "it exited with status %d%s%s", status, e.len ? ": " : "",
				   e.len ? e.s : "");
		buf_free(&e);
		return -1;
	}
	buf_free(&e);
	return 0;
}

/* the cluster's kubeconfig: 0, or -1 with err */
static int
config_load(const struct cluster *c, struct kube_cfg *cfg, struct buf *err)
{
	return kube_config_load(c->target.kubepath, c->target.context,
				getenv("ADDONMAKE_SERVICEACCOUNT_DIR"), cfg, err);
}

/* on the background thread: loads what the cluster's first request
 * needs, which its kubeconfig tells (an error there is said by open) */
static void
warm_main(void *u)
{
	struct kube_cfg cfg;
	struct buf e = {0};
	if (config_load(u, &cfg, &e) == 0) {
		kube_preload(&cfg);
		kube_config_free(&cfg);
	}
	buf_free(&e);
}

static void
kube_warm(const struct cluster *c)
{
	lazy_preload(warm_main, (void *)c);
}

static int
kube_open_target(struct target_ctx *t, struct buf *err)
{
	const struct cluster *c = t->c;
	struct kube_cfg cfg;
	struct buf e = {0};
	if (config_load(c, &cfg, &e) < 0) {
		buf_printf(err, "cluster %s: %s", c->name, e.s);
		buf_free(&e);
		return -1;
	}
	const char *nocurl = kube_needs_curl(&cfg) ? http_unavailable() : NULL;
	if (nocurl) {
		buf_printf(err, "cluster %s: %s", c->name, nocurl);
		kube_config_free(&cfg);
		return -1;
	}
	struct kt *kt = xcalloc(1, sizeof(*kt));
	pthread_mutex_init(&kt->mu, NULL);
	kt->k = kube_open(&cfg, run_plugin, t->ps, &t->ps->stopping);
	t->priv = kt;
	return 0;
}

static void
kube_close_target(struct target_ctx *t)
{
	struct kt *kt = t->priv;
	if (!kt)
		return;
	tk_lease_release(kt);
	kube_close(kt->k);
	strset_free(&kt->failing);
	strset_free(&kt->watching);
	strset_free(&kt->ns_seen);
	arena_free(&kt->a);
	pthread_mutex_destroy(&kt->mu);
	free(kt);
}

int
tk_stopping(const struct target_ctx *t)
{
	return __atomic_load_n(&t->ps->stopping, __ATOMIC_RELAXED) != 0;
}

/* GET an object: 1 with it in *live, 0 when it is gone, -1 on error */
int
tk_get_obj(struct kt *kt, const char *path, struct arena *a, struct dnode **live, struct buf *err)
{
	struct kube_resp r;
	int rc = -1;
	*live = NULL;
	if (kube_call(kt->k, "GET", path, NULL, NULL, NULL, 0, &r, err) < 0)
		return -1;
	if (r.code == 200) {
		*live = kube_json(a, &r);
		rc = 1;
	} else if (r.code == 404) {
		rc = 0;
	} else {
		kube_error(kt->k, path, &r, err);
	}
	kube_resp_free(&r);
	return rc;
}


const struct target_ops target_kube = {
	.kind = "kube",
	.apply = tk_apply,
	.ready = tk_ready,
	.await = tk_await,
	.remove = tk_remove,
	.open = kube_open_target,
	.warm = kube_warm,
	.close = kube_close_target,
	.apply_slots = 2,
	/* a helm layer runs helm; the rest only send requests */
	.fibers = 1,
	.blocks = tk_helm_layer,
	.docs_only = 1,
	.state_on = tk_state_on,
	.state_pull = tk_state_pull,
	.state_push = tk_state_push,
	.state_lock = tk_state_lock,
	.state_unlock = tk_state_unlock,
	.state_rebuild = tk_state_rebuild,
	.diff = tk_diff,
	.drift = tk_drift,
};
