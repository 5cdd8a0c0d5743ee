/* target_kube_ready: a layer is ready when kstatus says Current for every
 * object of its inventory and the readinessCheck.v1beta1 block of a
 * pack's values holds. Between checks the layer waits with a watch on the
 * object the last check found not ready, from the resourceVersion it was
 * read at, so that the next check comes as soon as it changes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "target_kube.h"

/* what the layer waits for next: the object at path (name), as live
 * (NULL: not found) says; NULL path: nothing to watch */
static void
watch_set(struct kt *kt, const struct layer *l, const char *path, const char *name,
	  const struct dnode *live)
{
	pthread_mutex_lock(&kt->mu);
	int added;
	void **slot = strset_slot(&kt->watching, arena_strdup(&kt->a, l->id), &added);
	*slot = NULL;
	const char *slash = path ? strrchr(path, '/') : NULL;
	if (slash) {
		const char *rv = doc_str(doc_path(live, "metadata.resourceVersion"));
		struct buf w = {0};
		/* a name is a DNS label or subdomain: nothing to escape */
		buf_printf(&w, "%.*s\twatch=1&fieldSelector=metadata.name%%3D%s%s%s",
			   (int)(slash - path), path, name, rv ? "&resourceVersion=" : "",
			   rv ? rv : "");
		*slot = arena_strdup(&kt->a, w.s);
		buf_free(&w);
	}
	pthread_mutex_unlock(&kt->mu);
}

int
tk_await(const struct target_ctx *t, const struct layer *l, int64_t until)
{
	struct kt *kt = t->priv;
	pthread_mutex_lock(&kt->mu);
	const char *hint = strset_get(&kt->watching, l->id);
	char *w = hint ? xstrdup(hint) : NULL;
	pthread_mutex_unlock(&kt->mu);
	if (!w)
		return -1;
	char *tab = strchr(w, '\t');
	*tab = 0;
	/* the server ends it too, a second after addonmake would */
	int64_t secs = (until - now_ms()) / 1000 + 1;
	struct buf q = {0}, err = {0};
	buf_printf(&q, "%s&timeoutSeconds=%lld", tab + 1, (long long)(secs > 0 ? secs : 1));
	int rc = kube_watch(kt->k, w, q.s, until, &err);
	if (rc < 0 && t->note)
		buf_printf(t->note, "readiness: %s; checking on the schedule\n", err.s);
	buf_free(&q);
	buf_free(&err);
	free(w);
	return rc;
}

/* the node at key of obj, a keyToCheck: a.b[0].c (dots and list
 * indexes), or NULL */
static const struct dnode *
key_value(const struct dnode *obj, const char *key)
{
	const struct dnode *cur = obj;
	char *k2 = xstrdup(key);
	for (char *tok = strtok(k2, "."); tok && cur; tok = strtok(NULL, ".")) {
		char *br = strchr(tok, '[');
		if (br)
			*br = 0;
		cur = doc_get(cur, tok);
		while (br && cur) {
			long idx = strtol(br + 1, NULL, 10);
			cur = cur->kind == D_SEQ && idx >= 0 && (size_t)idx < cur->n ? cur->items[idx]
										: NULL;
			br = strchr(br + 1, '[');
		}
	}
	free(k2);
	return cur;
}

/* the Piraeus-style readinessCheck.v1beta1 block of a pack's values: each
 * entry names a resource whose fields must have the given values */
static int
values_checks(struct kt *kt, const struct layer *l, struct buf *why)
{
	const struct dnode *rc = doc_path(l->body ? l->body->values : NULL, "readinessCheck.v1beta1");
	if (!rc || rc->kind != D_SEQ)
		return T_OK;
	for (size_t i = 0; i < rc->n; i++) {
		const struct dnode *e = rc->items[i];
		const char *name = doc_str(doc_get(e, "name"));
		const char *kind = doc_str(doc_get(e, "kind"));
		const char *group = doc_str(doc_get(e, "group"));
		const char *version = doc_str(doc_get(e, "version"));
		const char *ns = doc_str(doc_get(e, "namespace"));
		if (!name || !kind || !version)
			continue;
		struct buf api = {0}, path = {0}, e2 = {0};
		if (group && *group)
			buf_printf(&api, "%s/%s", group, version);
		else
			buf_adds(&api, version);
		struct kube_res res;
		int r = kube_resource(kt->k, api.s, kind, &res, &e2);
		int out = T_OK;
		if (r != 0) {
			buf_printf(why, "readinessCheck: %s %s: %s", kind, name,
				   r > 0 ? "the server has no such kind yet" : e2.s);
			out = T_NOTREADY;
		} else {
			const char *ons = res.namespaced ? (ns ? ns : l->ns ? l->ns : "default") : NULL;
			kube_path(&path, &res, ons, name);
			struct arena a = {0};
			struct dnode *live;
			int g = tk_get_obj(kt, path.s, &a, &live, &e2);
			if (g == 0)
				watch_set(kt, l, path.s, name, NULL);
			if (g <= 0) {
				buf_printf(why, "readinessCheck: ");
				tk_obj_name(why, kind, ons, name);
				buf_printf(why, ": %s", g == 0 ? "not found" : e2.s);
				out = T_NOTREADY;
			}
			const struct dnode *keys = doc_get(e, "keysToCheck");
			for (size_t j = 0; g == 1 && keys && keys->kind == D_SEQ && j < keys->n; j++) {
				const char *key = doc_str(doc_get(keys->items[j], "keyToCheck"));
				const char *want = doc_str(doc_get(keys->items[j], "expectedValue"));
				if (!key || !want)
					continue;
				const char *got = doc_str(key_value(live, key));
				if (!got || strcmp(got, want) != 0) {
					buf_adds(why, "readinessCheck: ");
					tk_obj_name(why, kind, ons, name);
					buf_printf(why, ": %s is %s, want %s", key, got ? got : "unset", want);
					watch_set(kt, l, path.s, name, live);
					out = T_NOTREADY;
					break;
				}
			}
			arena_free(&a);
		}
		buf_free(&api);
		buf_free(&path);
		buf_free(&e2);
		if (out != T_OK)
			return out;
	}
	return T_OK;
}

/* kstatus over the layer's inventory; Failed fails the layer only when it
 * is seen on two checks in a row (a status can pass through Failed) */
int
tk_ready(const struct target_ctx *t, const struct layer *l, const char *text, size_t len,
	   const struct buf *inv, struct buf *why)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	struct iobj *v;
	size_t n;
	const char *rel;
	int rc = T_OK, failed = 0;
	watch_set(kt, l, NULL, NULL, NULL);
	if (tk_inv_get(inv->s, inv->len, &a, &rel, &v, &n) < 0) {
		arena_free(&a);
		buf_adds(why, "the layer's inventory is unreadable");
		return T_FAILED;
	}
	for (size_t i = 0; i < n && rc == T_OK; i++) {
		if (v[i].flags & OBJ_CURRENT)
			continue;
		struct dnode *live;
		struct buf e = {0}, r = {0};
		int g = tk_get_obj(kt, v[i].path, &a, &live, &e);
		if (g == 0)
			watch_set(kt, l, v[i].path, v[i].name, NULL);
		if (g < 0) {
			tk_obj_name(why, v[i].kind, v[i].ns, v[i].name);
			buf_printf(why, ": %s", e.s);
			rc = T_NOTREADY;
		} else if (g == 0) {
			tk_obj_name(why, v[i].kind, v[i].ns, v[i].name);
			buf_adds(why, ": NotFound: it is gone");
			rc = T_NOTREADY;
		} else {
			int st = kube_kstatus(live, wall_secs(), &r);
			/* Failed counts when seen twice in a row: the second look
			 * comes on the schedule, not with a change that may not come */
			if (st != KS_CURRENT && st != KS_FAILED)
				watch_set(kt, l, v[i].path, v[i].name, live);
			if (st != KS_CURRENT) {
				tk_obj_name(why, v[i].kind, v[i].ns, v[i].name);
				buf_printf(why, ": %s", r.s ? r.s : kube_kstatus_name(st));
				rc = T_NOTREADY;
				failed = st == KS_FAILED;
			}
		}
		buf_free(&e);
		buf_free(&r);
	}
	if (rc == T_OK)
		rc = values_checks(kt, l, why);
	pthread_mutex_lock(&kt->mu);
	int added;
	void **slot = strset_slot(&kt->failing, arena_strdup(&kt->a, l->id), &added);
	intptr_t streak = failed ? (intptr_t)*slot + 1 : 0;
	*slot = (void *)streak;
	pthread_mutex_unlock(&kt->mu);
	if (failed && streak >= 2)
		rc = T_FAILED;
	arena_free(&a);
	return rc;
}
