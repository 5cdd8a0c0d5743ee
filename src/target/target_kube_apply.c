/* target_kube_apply: a layer's objects applied with server-side apply,
 * group by group (namespace, Namespaces, CRDs — waited for until
 * Established and served —, ServiceAccounts and RBAC, ConfigMaps and Secrets, the
 * rest, custom resources), each recorded with its uid; what an earlier
 * apply recorded and this one did not is deleted after a good apply. */
#include <stdlib.h>
#include <string.h>
#include "target_kube.h"

#define CRD_WAIT_MS 120000

static void
where(struct buf *b, const struct obj *o)
{
	buf_printf(b, "%s:%d:%d: ", o->file, o->line, o->col);
}

/* the object as applied (target.h), as JSON; the tree (in a) */
const struct dnode *
tk_body(struct arena *a, const struct target_ctx *t, const struct layer *l, const struct obj *o,
	struct buf *out)
{
	struct dnode *d = applied_object(a, t->c->name, l, o->doc, o->res.namespaced ? o->ns : NULL);
	doc_emit_json(out, d);
	return d;
}

void
tk_applied_push(struct applied *ap, struct iobj io)
{
	if (ap->n == ap->cap) {
		ap->cap = ap->cap ? 2 * ap->cap : 16;
		ap->v = xrealloc(ap->v, ap->cap * sizeof(*ap->v));
	}
	ap->v[ap->n++] = io;
}

void
tk_applied_add(struct applied *ap, struct arena *a, const char *path, const struct obj *o,
	    const char *uid, unsigned flags)
{
	tk_applied_push(ap, (struct iobj){.path = arena_strdup(a, path), .api = o->api,
				       .kind = o->kind,
				       .ns = o->res.namespaced ? o->ns : "", .name = o->name,
				       .uid = arena_strdup(a, uid ? uid : ""), .flags = flags});
}

/* the length of the group of an apiVersion ("apps/v1": 4, "v1": 0) */
static size_t
group_len(const char *api)
{
	const char *s = strrchr(api, '/');
	return s ? (size_t)(s - api) : 0;
}

/* whether two inventory entries are one object: the same group, kind,
 * namespace and name, whatever version each was applied at (a manifest
 * that moves to another served version changes the path, not the object) */
int
tk_same_obj(const struct iobj *a, const char *api, const char *kind, const char *ns,
	 const char *name)
{
	size_t g = group_len(api);
	return g == group_len(a->api) && !strncmp(a->api, api, g) && !strcmp(a->kind, kind) &&
	       !strcmp(a->ns ? a->ns : "", ns ? ns : "") && !strcmp(a->name, name);
}

/* what an earlier run recorded for this object */
static const struct iobj *
old_of(const struct iobj *old, size_t nold, const char *api, const char *kind, const char *ns,
       const char *name)
{
	for (size_t i = 0; i < nold; i++)
		if (tk_same_obj(&old[i], api, kind, ns, name))
			return &old[i];
	return NULL;
}

/* what an apply's answer means for object o: T_OK with it recorded in
 * ap, or T_FAILED with err */
static int
applied(struct kt *kt, struct obj *o, const char *path, const struct dnode *sent,
	struct kube_req *q, const struct iobj *old, size_t nold, struct applied *ap,
	struct arena *a, unsigned extra, struct buf *err)
{
	if (q->rc < 0) {
		/* no answer: the server's fault, not the manifest's */
		tk_obj_name(err, o->kind, o->res.namespaced ? o->ns : NULL, o->name);
		buf_printf(err, ": %s", q->err.s);
		return T_FAILED;
	}
	if (q->r.code != 200 && q->r.code != 201) {
		struct buf what = {0};
		where(&what, o);
		buf_adds(&what, "apply ");
		tk_obj_name(&what, o->kind, o->res.namespaced ? o->ns : NULL, o->name);
		kube_error(kt->k, what.s, &q->r, err);
		buf_free(&what);
		return T_FAILED;
	}
	struct arena ra = {0};
	struct dnode *live = kube_json(&ra, &q->r);
	const char *uid = doc_str(doc_path(live, "metadata.uid"));
	const struct iobj *was = old_of(old, nold, o->api, o->kind, o->res.namespaced ? o->ns : "",
					o->name);
	unsigned flags = extra;
	if (q->r.code == 201 ||
	    (was && (was->flags & OBJ_CREATED) && strcmp(was->uid, uid ? uid : "") == 0))
		flags |= OBJ_CREATED;
	struct buf why = {0};
	if (live && kube_kstatus(live, wall_secs(), &why) == KS_CURRENT &&
	    !doc_path(live, "status.observedGeneration"))
		flags |= OBJ_CURRENT; /* nothing will change it: no GET later */
	buf_free(&why);
	tk_applied_add(ap, a, path, o, uid, flags);
	tk_fields(a, sent, live, &ap->v[ap->n - 1]);
	arena_free(&ra);
	return T_OK;
}

/* server-side apply of the n objects at o, sent together (they are of one
 * group, so none needs another first); T_OK, or T_FAILED with the
 * failures added to err, one a line. What was applied is recorded in ap either
 * way. */
static int
apply_objs(const struct target_ctx *t, struct kt *kt, const struct layer *l, struct obj *o,
	   size_t n, const struct iobj *old, size_t nold, struct applied *ap, struct arena *a,
	   unsigned extra, struct buf *err)
{
	struct kube_req *q = xcalloc(n, sizeof(*q));
	struct buf *path = xcalloc(n, sizeof(*path)), *body = xcalloc(n, sizeof(*body));
	const struct dnode **sent = xcalloc(n, sizeof(*sent));
	/* repairing drift takes the fields back, as Argo CD's self-heal does */
	const char *qs = t->force_conflicts || l->plan.drift
		? "fieldManager=addonmake&fieldValidation=Strict&force=true"
		: "fieldManager=addonmake&fieldValidation=Strict&force=false";
	for (size_t i = 0; i < n; i++) {
		kube_path(&path[i], &o[i].res, o[i].ns, o[i].name);
		sent[i] = tk_body(a, t, l, &o[i], &body[i]);
		q[i] = (struct kube_req){"PATCH", path[i].s, qs, "application/apply-patch+yaml",
					 body[i].s, body[i].len, 0, {0, {0}}, {0}};
	}
	kube_call_all(kt->k, q, n);
	int rc = T_OK;
	for (size_t i = 0; i < n; i++) {
		struct buf e = {0};
		if (applied(kt, &o[i], path[i].s, sent[i], &q[i], old, nold, ap, a, extra, &e) !=
		    T_OK) {
			/* after what err holds already (an object that could not
			 * be resolved) or the failure before */
			buf_printf(err, "%s%s", err->len ? "\n" : "", e.s);
			rc = T_FAILED;
		}
		buf_free(&e);
		kube_resp_free(&q[i].r);
		buf_free(&q[i].err);
		buf_free(&path[i]);
		buf_free(&body[i]);
	}
	free(q);
	free(path);
	free(body);
	free(sent);
	return rc;
}

/* 1 when discovery lists the CRD's kind in every version it serves, 0 not
 * yet (why says which), -1 with err. The real server sets Established a
 * moment before its discovery shows the kind (its discovery controller
 * works from a queue of its own), and an object of the kind applied in
 * between would fail as of a kind the server does not have. */
static int
crd_served(struct kube *k, const struct dnode *crd, struct buf *why, struct buf *err)
{
	const char *grp = doc_str(doc_path(crd, "spec.group"));
	const char *kind = doc_str(doc_path(crd, "spec.names.kind"));
	if (!grp || !kind)
		return 1;
	kube_forget(k, grp);
	const struct dnode *vs = doc_path(crd, "spec.versions");
	size_t nv = vs && vs->kind == D_SEQ ? vs->n : 0;
	const char *legacy = doc_str(doc_path(crd, "spec.version"));
	for (size_t i = 0; i < nv || (i == 0 && legacy); i++) {
		const char *v = nv ? doc_str(doc_get(vs->items[i], "name")) : legacy;
		const char *served = nv ? doc_str(doc_get(vs->items[i], "served")) : NULL;
		if (!v || (served && strcmp(served, "false") == 0))
			continue;
		struct buf gv = {0};
		buf_printf(&gv, "%s/%s", grp, v);
		struct kube_res res;
		int r = kube_resource(k, gv.s, kind, &res, err);
		if (r == 1)
			buf_printf(why, "Established, but the server does not serve kind %s in %s yet",
				   kind, gv.s);
		buf_free(&gv);
		if (r != 0)
			return r < 0 ? -1 : 0;
	}
	return 1;
}

/* waits until the layer's CRDs are Established and their kinds served */
static int
crds_established(const struct target_ctx *t, struct kt *kt, struct obj *objs, size_t n,
		 struct buf *err)
{
	int64_t deadline = now_ms() + CRD_WAIT_MS;
	for (size_t i = 0; i < n; i++) {
		struct obj *o = &objs[i];
		if (o->cat != CAT_CRD)
			continue;
		struct buf path = {0};
		kube_path(&path, &o->res, NULL, o->name);
		for (int64_t nap = 100;; nap = nap < 1000 ? nap * 2 : 1000) {
			struct arena a = {0};
			struct dnode *live;
			struct buf why = {0};
			int g = tk_get_obj(kt, path.s, &a, &live, err);
			int st = g == 1 ? kube_kstatus(live, wall_secs(), &why) : KS_NOTFOUND;
			arena_free(&a);
			if (st == KS_CURRENT) {
				buf_free(&why);
				int s = crd_served(kt->k, o->doc, &why, err);
				if (s < 0)
					g = -1;
				else if (s == 0)
					st = KS_INPROGRESS;
			}
			if (g < 0 || st == KS_CURRENT || st == KS_FAILED || tk_stopping(t) ||
			    now_ms() > deadline) {
				if (st == KS_FAILED)
					buf_printf(err, "CustomResourceDefinition %s: %s", o->name, why.s);
				else if (g >= 0 && st != KS_CURRENT && !tk_stopping(t))
					buf_printf(err, "CustomResourceDefinition %s is not usable "
						   "after %ds: %s", o->name, CRD_WAIT_MS / 1000,
						   why.s ? why.s : "not found");
				buf_free(&why);
				buf_free(&path);
				if (tk_stopping(t))
					return T_STOPPED;
				if (g < 0 || st != KS_CURRENT)
					return T_FAILED;
				break;
			}
			buf_free(&why);
			fiber_nap(now_ms() + nap);
		}
		buf_free(&path);
	}
	return T_OK;
}

/* crds_established out of the apply slot: it only polls, for up to two
 * minutes, and other layers may apply meanwhile */
static int
wait_crds(const struct target_ctx *t, struct kt *kt, struct obj *objs, size_t n,
	  struct buf *err)
{
	size_t i = 0;
	while (i < n && objs[i].cat != CAT_CRD)
		i++;
	if (i == n)
		return T_OK;
	target_slot(t, 1);
	int rc = crds_established(t, kt, objs, n, err);
	target_slot(t, 0);
	return rc;
}

static int
by_category(const void *a, const void *b)
{
	const struct obj *x = a, *y = b;
	if (x->cat != y->cat)
		return x->cat - y->cat;
	/* manifest order within a group (qsort is not stable) */
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* kinds that CRDs of this layer define */
static int
crd_defines(const struct obj *objs, size_t n, const char *api, const char *kind)
{
	const char *slash = strchr(api, '/');
	if (!slash)
		return 0;
	size_t gl = (size_t)(slash - api);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(objs[i].kind, "CustomResourceDefinition") != 0)
			continue;
		const char *g = doc_str(doc_path(objs[i].doc, "spec.group"));
		const char *k = doc_str(doc_path(objs[i].doc, "spec.names.kind"));
		if (g && k && strlen(g) == gl && strncmp(g, api, gl) == 0 && strcmp(k, kind) == 0)
			return 1;
	}
	return 0;
}

/* resolves an object's resource; T_OK, T_NOTREADY (a CRD of the layer will
 * define it), T_FAILED */
int
tk_resolve(struct kt *kt, struct obj *o, const struct obj *objs, size_t n, const char *dns,
	int final, struct buf *err)
{
	struct buf e = {0};
	int r = kube_resource(kt->k, o->api, o->kind, &o->res, &e);
	if (r < 0) {
		/* discovery failed: the server's fault, not the manifest's */
		buf_printf(err, "%s", e.s);
		buf_free(&e);
		return T_FAILED;
	}
	buf_free(&e);
	if (r == 1) {
		if (!final && crd_defines(objs, n, o->api, o->kind))
			return T_NOTREADY;
		where(err, o);
		buf_printf(err, "the server has no kind %s in %s (is its CRD installed? a CRD "
			   "from an earlier layer must be Established first)", o->kind, o->api);
		return T_FAILED;
	}
	o->resolved = 1;
	const char *mns = doc_str(doc_path(o->doc, "metadata.namespace"));
	o->ns = o->res.namespaced ? (mns && *mns ? mns : dns) : NULL;
	o->cat = applied_category(o->res.group, o->kind);
	return T_OK;
}

/* the objects of the layer, checked for what apply needs */
static int
collect(const struct layer *l, struct obj **out, size_t *nout, struct buf *err)
{
	struct obj *objs = xcalloc(l->body->ndocs + 1, sizeof(*objs));
	size_t n = 0;
	for (size_t i = 0; i < l->body->ndocs; i++) {
		const struct dnode *d = l->body->docs[i];
		if (!d || doc_is_null(d) || (d->kind == D_MAP && d->n == 0))
			continue;
		struct obj *o = &objs[n];
		o->doc = d;
		o->seq = i;
		o->file = l->body->docfiles && l->body->docfiles[i] ? l->body->docfiles[i] : l->id;
		o->line = d->line;
		o->col = d->col;
		o->api = doc_str(doc_get(d, "apiVersion"));
		o->kind = doc_str(doc_get(d, "kind"));
		o->name = doc_str(doc_path(d, "metadata.name"));
		if (d->kind != D_MAP || !o->api || !*o->api || !o->kind || !*o->kind || !o->name ||
		    !*o->name) {
			where(err, o);
			buf_printf(err, "document %zu of layer %s is not a Kubernetes object: it needs "
				   "apiVersion, kind and metadata.name", i + 1, l->id);
			free(objs);
			return -1;
		}
		n++;
	}
	*out = objs;
	*nout = n;
	return 0;
}

/* the layer's namespace, created when missing (as Palette does) */
static int
ensure_ns(const struct target_ctx *t, struct kt *kt, const struct layer *l, const char *ns,
	  const struct obj *objs, size_t n, const struct iobj *old, size_t nold,
	  struct applied *ap, struct arena *a, struct buf *err)
{
	for (size_t i = 0; i < n; i++)
		if (objs[i].cat == CAT_NAMESPACE && strcmp(objs[i].name, ns) == 0)
			return T_OK; /* the layer applies it itself */
	struct buf path = {0};
	buf_printf(&path, "/api/v1/namespaces/%s", ns);
	const struct iobj *was = old_of(old, nold, "v1", "Namespace", "", ns);
	int ours = was && (was->flags & OBJ_LAYER_NS);
	/* a namespace another layer of this run found or made is there: the
	 * layers of a tier share one, and a GET each is a request too many */
	pthread_mutex_lock(&kt->mu);
	int seen = strset_get(&kt->ns_seen, ns) != NULL;
	pthread_mutex_unlock(&kt->mu);
	if (seen && !ours) {
		buf_free(&path);
		return T_OK;
	}
	struct dnode *live;
	struct arena ga = {0};
	int g = tk_get_obj(kt, path.s, &ga, &live, err);
	arena_free(&ga);
	int rc = T_OK;
	if (g == 0 || (g == 1 && ours)) {
		/* missing, or ours from an earlier run: (re)apply it */
		struct dnode *doc = applied_namespace(a, ns);
		struct obj o = {.doc = doc, .file = l->id, .api = "v1", .kind = "Namespace", .name = ns,
				.line = l->at.line, .col = l->at.col, .resolved = 1,
				.res = {.group = "", .version = "v1", .resource = "namespaces",
					.kind = "Namespace", .namespaced = 0}};
		o.file = l->at.file ? l->at.file : l->id;
		rc = apply_objs(t, kt, l, &o, 1, old, nold, ap, a, OBJ_LAYER_NS, err);
	} else if (g < 0) {
		rc = T_FAILED;
	}
	if (rc == T_OK) {
		pthread_mutex_lock(&kt->mu);
		int added;
		void **slot = strset_slot(&kt->ns_seen, arena_strdup(&kt->a, ns), &added);
		*slot = kt;
		pthread_mutex_unlock(&kt->mu);
	}
	buf_free(&path);
	return rc;
}

/* a layer's objects, each resolved to its resource (one of a CRD of this
 * layer resolves later, once the CRD is there), in the order of kinds;
 * T_OK or T_FAILED with err */
int
tk_layer_objects(struct kt *kt, const struct layer *l, const char *dns, struct obj **objs,
	      size_t *n, struct buf *err)
{
	if (collect(l, objs, n, err) < 0)
		return T_FAILED;
	for (size_t i = 0; i < *n; i++) {
		int r = tk_resolve(kt, &(*objs)[i], *objs, *n, dns, 0, err);
		if (r == T_FAILED)
			return T_FAILED;
		if (r == T_NOTREADY)
			(*objs)[i].cat = CAT_CUSTOM; /* a custom resource of a CRD of this layer */
	}
	if (*n) /* qsort wants an array */
		qsort(*objs, *n, sizeof(**objs), by_category);
	return T_OK;
}

/* applies the objects group by group (the objects of one category go out
 * together), waiting for the layer's CRDs before the first custom
 * resource; one that cannot be resolved ends its group and, after it is
 * applied, the layer */
static int
apply_groups(const struct target_ctx *t, struct kt *kt, const struct layer *l, struct obj *objs,
	     size_t n, const char *dns, struct iobj *old, size_t nold, struct applied *ap,
	     struct arena *a, struct buf *err)
{
	int rc = T_OK, crds_waited = 0;
	for (size_t i = 0; i < n && rc == T_OK;) {
		struct obj *o = &objs[i];
		if (tk_stopping(t))
			return T_STOPPED;
		if (o->cat >= 2 && !crds_waited) {
			crds_waited = 1;
			if ((rc = wait_crds(t, kt, objs, i, err)) != T_OK)
				return rc;
		}
		size_t j = i;
		int unresolved = 0;
		while (j < n && objs[j].cat == o->cat && !unresolved) {
			if (!objs[j].resolved && tk_resolve(kt, &objs[j], objs, n, dns, 1, err) != T_OK)
				unresolved = 1;
			else
				j++;
		}
		if (j > i)
			rc = apply_objs(t, kt, l, o, j - i, old, nold, ap, a, 0, err);
		if (unresolved)
			rc = T_FAILED;
		i = j;
	}
	if (rc == T_OK && !crds_waited)
		rc = wait_crds(t, kt, objs, n, err);
	return rc;
}

/* what an earlier apply recorded (old) and this one did not apply: after
 * a good apply, deleted (those helm upgrade already deleted and
 * namespaces we did not create are forgotten); else, or when a delete
 * fails, kept in the record. The layer's result. */
static int
drop_old(struct kt *kt, int rc, struct iobj *old, size_t nold, const char *old_rel,
	 const char *rel, struct applied *ap, struct buf *err)
{
	size_t nkeep = ap->n;
	for (size_t i = 0; i < nold; i++) {
		int still = 0;
		for (size_t j = 0; j < nkeep && !still; j++)
			still = tk_same_obj(&ap->v[j], old[i].api, old[i].kind, old[i].ns, old[i].name);
		if (still)
			continue;
		if (rc == T_OK && (old[i].flags & OBJ_HELM) && strcmp(old_rel, rel) == 0)
			continue; /* helm upgrade deleted it */
		if (rc == T_OK && tk_deletable(&old[i])) {
			struct buf e = {0};
			if (tk_delete_obj(kt, &old[i], &e) == 0) {
				buf_free(&e);
				continue;
			}
			buf_printf(err, "%s", e.s);
			buf_free(&e);
			rc = T_FAILED;
		} else if (rc == T_OK) {
			continue; /* a namespace we did not create: forget it */
		}
		/* not applied or not deleted: keep it recorded */
		tk_applied_push(ap, old[i]);
	}
	return rc;
}

int
tk_apply(const struct target_ctx *t, const struct layer *l, const char *text, size_t len,
	   struct buf *inv, struct buf *err)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	struct iobj *old = NULL;
	size_t nold = 0;
	const char *old_rel = "";
	if (l->plan.has_rec &&
	    tk_inv_get(l->plan.rec.inventory, l->plan.rec.ninventory, &a, &old_rel, &old, &nold) < 0)
		old = NULL, nold = 0; /* another target's record: nothing of ours */
	struct obj *objs = NULL;
	size_t n = 0;
	struct applied ap = {0};
	const struct kube_cfg *cfg = kube_cfg_of(kt->k);
	const char *dns = l->ns && *l->ns ? l->ns : cfg->ns ? cfg->ns : "default";
	/* helm layers go through helm; what helm rendered at compile time is
	 * only their hash */
	int helm = tk_helm_layer(l);
	const char *rel = helm ? arena_printf(&a, "%s/%s", dns, l->chart.release) : "";
	/* objects that cannot be read or resolved: nothing is applied, and
	 * the record stays as it was */
	int rc = helm ? T_OK : tk_layer_objects(kt, l, dns, &objs, &n, err);
	if (rc == T_OK) {
		if (l->ns && *l->ns)
			rc = ensure_ns(t, kt, l, l->ns, objs, n, old, nold, &ap, &a, err);
		if (helm && rc == T_OK) {
			/* helm applies on its own connections, for seconds */
			target_slot(t, 1);
			rc = tk_helm_apply(t, kt, l, dns, &ap, &a, err);
			target_slot(t, 0);
		}
		if (rc == T_OK)
			rc = apply_groups(t, kt, l, objs, n, dns, old, nold, &ap, &a, err);
		rc = drop_old(kt, rc, old, nold, old_rel, rel, &ap, err);
		tk_inv_put(inv, rel, ap.v, ap.n);
	}
	free(ap.v);
	free(objs);
	arena_free(&a);
	return rc;
}
