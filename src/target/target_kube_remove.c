/* target_kube_remove: deleting what an inventory recorded — each object
 * with its uid as precondition, never a namespace addonmake did not
 * create — and waiting until it is gone. */
#include <stdlib.h>
#include <string.h>
#include "target_kube.h"

/* DELETE with the recorded uid as precondition: 0 deleted (or already
 * gone, or replaced by an object we did not make), -1 error */
int
tk_delete_obj(struct kt *kt, const struct iobj *o, struct buf *err)
{
	struct buf body = {0}, e = {0};
	buf_adds(&body, "{\"kind\":\"DeleteOptions\",\"apiVersion\":\"v1\","
			"\"propagationPolicy\":\"Background\"");
	if (o->uid && *o->uid) {
		buf_adds(&body, ",\"preconditions\":{\"uid\":");
		doc_json_str(&body, o->uid);
		buf_addc(&body, '}');
	}
	buf_addc(&body, '}');
	struct kube_resp r;
	int rc = 0;
	if (kube_call(kt->k, "DELETE", o->path, NULL, "application/json", body.s, body.len, &r,
		      &e) < 0) {
		tk_obj_name(err, o->kind, o->ns, o->name);
		buf_printf(err, ": %s", e.s);
		rc = -1;
	} else if (r.code != 200 && r.code != 202 && r.code != 404 && r.code != 409) {
		struct buf what = {0};
		buf_adds(&what, "delete ");
		tk_obj_name(&what, o->kind, o->ns, o->name);
		kube_error(kt->k, what.s, &r, err);
		buf_free(&what);
		rc = -1;
	}
	kube_resp_free(&r);
	buf_free(&body);
	buf_free(&e);
	return rc;
}

/* whether an inventory object may be deleted: never a namespace that
 * addonmake did not create, nor one the API server refuses to delete (a
 * layer may have created `default` on a server that had just started;
 * asking to delete it would fail every prune after) */
int
tk_deletable(const struct iobj *o)
{
	if (strcmp(o->kind, "Namespace") != 0 || strcmp(o->api, "v1") != 0)
		return 1;
	return !applied_system_namespace(o->name) && (o->flags & OBJ_CREATED) != 0;
}

/* deletes a removed layer's objects, last applied first, and waits until
 * they are gone */
int
tk_remove(const struct target_ctx *t, const char *id, const struct layer_rec *rec,
	    struct buf *err)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	struct iobj *v;
	size_t n;
	const char *rel;
	if (tk_inv_get(rec->inventory, rec->ninventory, &a, &rel, &v, &n) < 0) {
		buf_printf(err, "the record of %s holds no inventory of the kube target: nothing "
			   "to delete (run `addonmake clean -c %s` to forget it)", id, t->c->name);
		arena_free(&a);
		return T_FAILED;
	}
	int rc = *rel ? tk_helm_uninstall(t, rel, err) : T_OK;
	char *sent = xcalloc(n + 1, 1);
	for (size_t i = n; i-- > 0 && rc == T_OK;) {
		if (v[i].flags & OBJ_HELM) {
			sent[i] = !(v[i].flags & OBJ_KEEP); /* helm deletes it */
			continue;
		}
		if (!tk_deletable(&v[i]))
			continue;
		if (tk_delete_obj(kt, &v[i], err) < 0)
			rc = T_FAILED;
		else
			sent[i] = 1;
	}
	int64_t deadline = now_ms() + (t->w->defaults.timeout_ms ? t->w->defaults.timeout_ms
								    : 900000);
	for (int64_t nap = 100; rc == T_OK; nap = nap < 2000 ? nap * 2 : 2000) {
		size_t left = 0, first = 0;
		for (size_t i = 0; i < n; i++) {
			if (!sent[i])
				continue;
			struct dnode *live;
			struct buf e = {0};
			struct arena ga = {0};
			int g = tk_get_obj(kt, v[i].path, &ga, &live, &e);
			const char *uid = doc_str(doc_path(live, "metadata.uid"));
			if (g == 0 || (g == 1 && uid && *v[i].uid && strcmp(uid, v[i].uid) != 0))
				sent[i] = 0; /* gone (or another object by now) */
			else if (!left++)
				first = i;
			buf_free(&e);
			arena_free(&ga);
		}
		if (!left)
			break;
		if (tk_stopping(t)) {
			rc = T_STOPPED;
			break;
		}
		if (now_ms() > deadline) {
			tk_obj_name(err, v[first].kind, v[first].ns, v[first].name);
			buf_printf(err, " is still there after the timeout (%zu object%s left)", left,
				   left == 1 ? "" : "s");
			rc = T_FAILED;
			break;
		}
		fiber_nap(now_ms() + nap);
	}
	free(sent);
	arena_free(&a);
	return rc;
}
