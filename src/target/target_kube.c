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
 * helm uninstall. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "../kube/kube.h"
#include "target.h"

/* 1: objects; 2: a helm release (or ""), then objects */
#define INV_VERSION 2
/* OBJ_HELM: the release's, deleted by helm; OBJ_KEEP: helm leaves it
 * (helm.sh/resource-policy: keep) */
enum { OBJ_CREATED = 1, OBJ_LAYER_NS = 2, OBJ_CURRENT = 4, OBJ_HELM = 8, OBJ_KEEP = 16 };
#define CRD_WAIT_MS 120000

struct kt {
	struct kube *k;
	pthread_mutex_t mu;
	struct strset failing; /* layer id -> consecutive Failed checks */
	struct strset ns_seen; /* namespaces seen to exist in this run */
	struct arena a;
};

/* one object of an inventory */
struct iobj {
	const char *path, *api, *kind, *ns, *name, *uid;
	unsigned flags;
};

static void
inv_put(struct buf *b, const char *release, const struct iobj *v, size_t n)
{
	put_be(b, INV_VERSION, 1);
	put_str(b, release ? release : "");
	put_be(b, n, 4);
	for (size_t i = 0; i < n; i++) {
		put_str(b, v[i].path);
		put_str(b, v[i].api);
		put_str(b, v[i].kind);
		put_str(b, v[i].ns ? v[i].ns : "");
		put_str(b, v[i].name);
		put_str(b, v[i].uid ? v[i].uid : "");
		put_be(b, v[i].flags, 1);
	}
}

/* the helm release ("ns/name", or "") and the objects of an inventory
 * (into a); -1 when it is not ours */
static int
inv_get(const char *p, size_t len, struct arena *a, const char **release, struct iobj **out,
	size_t *n)
{
	*out = NULL;
	*n = 0;
	*release = "";
	if (!len)
		return 0;
	struct reader r = {.p = (const unsigned char *)p, .n = len, .off = 0, .bad = 0};
	uint64_t ver = get_be(&r, 1);
	if (ver != 1 && ver != INV_VERSION)
		return -1;
	if (ver >= 2 && !(*release = get_str(&r, a, NULL)))
		return -1;
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
	}
	if (r.bad)
		return -1;
	*out = v;
	*n = cnt;
	return 0;
}

/* "Deployment addons/web" */
static void
obj_name(struct buf *b, const char *kind, const char *ns, const char *name)
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

static int
kube_open_target(struct target_ctx *t, struct buf *err)
{
	const struct cluster *c = t->c;
	struct kube_cfg cfg;
	struct buf e = {0};
	if (kube_config_load(c->target.kubepath, c->target.context,
			     getenv("ADDONMAKE_SERVICEACCOUNT_DIR"), &cfg, &e) < 0) {
		buf_printf(err, "cluster %s: %s", c->name, e.s);
		buf_free(&e);
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
	kube_close(kt->k);
	strset_free(&kt->failing);
	strset_free(&kt->ns_seen);
	arena_free(&kt->a);
	pthread_mutex_destroy(&kt->mu);
	free(kt);
}

static int
stopping(const struct target_ctx *t)
{
	return __atomic_load_n(&t->ps->stopping, __ATOMIC_RELAXED) != 0;
}

/* an object of the layer on its way to the server */
struct obj {
	const struct dnode *doc;
	const char *file, *api, *kind, *name, *ns;
	int line, col, cat, resolved;
	size_t seq; /* its place among the layer's documents */
	struct kube_res res;
};

static void
where(struct buf *b, const struct obj *o)
{
	buf_printf(b, "%s:%d:%d: ", o->file, o->line, o->col);
}

/* the object as applied (target.h), as JSON */
static void
body_of(struct arena *a, const struct target_ctx *t, const char *id, const struct obj *o,
	struct buf *out)
{
	doc_emit_json(out, applied_object(a, t->c->name, id, o->doc,
					  o->res.namespaced ? o->ns : NULL));
}

struct applied {
	struct iobj *v;
	size_t n, cap;
};

static void
applied_push(struct applied *ap, struct iobj io)
{
	if (ap->n == ap->cap) {
		ap->cap = ap->cap ? 2 * ap->cap : 16;
		ap->v = xrealloc(ap->v, ap->cap * sizeof(*ap->v));
	}
	ap->v[ap->n++] = io;
}

static void
applied_add(struct applied *ap, struct arena *a, const char *path, const struct obj *o,
	    const char *uid, unsigned flags)
{
	applied_push(ap, (struct iobj){.path = arena_strdup(a, path), .api = o->api,
				       .kind = o->kind,
				       .ns = o->res.namespaced ? o->ns : "", .name = o->name,
				       .uid = arena_strdup(a, uid ? uid : ""), .flags = flags});
}

/* what an earlier run recorded for this path */
static const struct iobj *
old_of(const struct iobj *old, size_t nold, const char *path)
{
	for (size_t i = 0; i < nold; i++)
		if (strcmp(old[i].path, path) == 0)
			return &old[i];
	return NULL;
}

/* what an apply's answer means for object o: T_OK with it recorded in
 * ap, or T_FAILED with err */
static int
applied(struct kt *kt, struct obj *o, const char *path, struct kube_req *q,
	const struct iobj *old, size_t nold, struct applied *ap, struct arena *a,
	unsigned extra, struct buf *err)
{
	if (q->rc < 0) {
		/* no answer: the server's fault, not the manifest's */
		obj_name(err, o->kind, o->res.namespaced ? o->ns : NULL, o->name);
		buf_printf(err, ": %s", q->err.s);
		return T_FAILED;
	}
	if (q->r.code != 200 && q->r.code != 201) {
		struct buf what = {0};
		where(&what, o);
		buf_adds(&what, "apply ");
		obj_name(&what, o->kind, o->res.namespaced ? o->ns : NULL, o->name);
		kube_error(kt->k, what.s, &q->r, err);
		buf_free(&what);
		return T_FAILED;
	}
	struct arena ra = {0};
	struct dnode *live = kube_json(&ra, &q->r);
	const char *uid = doc_str(doc_path(live, "metadata.uid"));
	const struct iobj *was = old_of(old, nold, path);
	unsigned flags = extra;
	if (q->r.code == 201 ||
	    (was && (was->flags & OBJ_CREATED) && strcmp(was->uid, uid ? uid : "") == 0))
		flags |= OBJ_CREATED;
	struct buf why = {0};
	if (live && kube_kstatus(live, wall_secs(), &why) == KS_CURRENT &&
	    !doc_path(live, "status.observedGeneration"))
		flags |= OBJ_CURRENT; /* nothing will change it: no GET later */
	buf_free(&why);
	applied_add(ap, a, path, o, uid, flags);
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
	const char *qs = t->force_conflicts
		? "fieldManager=addonmake&fieldValidation=Strict&force=true"
		: "fieldManager=addonmake&fieldValidation=Strict&force=false";
	for (size_t i = 0; i < n; i++) {
		kube_path(&path[i], &o[i].res, o[i].ns, o[i].name);
		body_of(a, t, l->id, &o[i], &body[i]);
		q[i] = (struct kube_req){"PATCH", path[i].s, qs, "application/apply-patch+yaml",
					 body[i].s, body[i].len, 0, {0, {0}}, {0}};
	}
	kube_call_all(kt->k, q, n);
	int rc = T_OK;
	for (size_t i = 0; i < n; i++) {
		struct buf e = {0};
		if (applied(kt, &o[i], path[i].s, &q[i], old, nold, ap, a, extra, &e) != T_OK) {
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
	return rc;
}

/* GET an object: 1 with it in *live, 0 when it is gone, -1 on error */
static int
get_obj(struct kt *kt, const char *path, struct arena *a, struct dnode **live, struct buf *err)
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

/* waits until the layer's CRDs are Established, then forgets what discovery
 * said about their groups */
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
			int g = get_obj(kt, path.s, &a, &live, err);
			int st = g == 1 ? kube_kstatus(live, wall_secs(), &why) : KS_NOTFOUND;
			arena_free(&a);
			if (g < 0 || st == KS_CURRENT || st == KS_FAILED || stopping(t) ||
			    now_ms() > deadline) {
				if (st == KS_FAILED)
					buf_printf(err, "CustomResourceDefinition %s: %s", o->name, why.s);
				else if (g >= 0 && st != KS_CURRENT && !stopping(t))
					buf_printf(err, "CustomResourceDefinition %s is not Established "
						   "after %ds: %s", o->name, CRD_WAIT_MS / 1000,
						   why.s ? why.s : "not found");
				buf_free(&why);
				buf_free(&path);
				if (stopping(t))
					return T_STOPPED;
				if (g < 0 || st != KS_CURRENT)
					return T_FAILED;
				break;
			}
			buf_free(&why);
			struct timespec ts = {nap / 1000, (nap % 1000) * 1000000L};
			nanosleep(&ts, NULL);
		}
		buf_free(&path);
		const char *grp = doc_str(doc_path(o->doc, "spec.group"));
		if (grp)
			kube_forget(kt->k, grp);
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
static int
resolve(struct kt *kt, struct obj *o, const struct obj *objs, size_t n, const char *dns,
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
	const struct iobj *was = old_of(old, nold, path.s);
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
	int g = get_obj(kt, path.s, &ga, &live, err);
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

/* DELETE with the recorded uid as precondition: 0 deleted (or already
 * gone, or replaced by an object we did not make), -1 error */
static int
delete_obj(struct kt *kt, const struct iobj *o, struct buf *err)
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
		obj_name(err, o->kind, o->ns, o->name);
		buf_printf(err, ": %s", e.s);
		rc = -1;
	} else if (r.code != 200 && r.code != 202 && r.code != 404 && r.code != 409) {
		struct buf what = {0};
		buf_adds(&what, "delete ");
		obj_name(&what, o->kind, o->ns, o->name);
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
static int
deletable(const struct iobj *o)
{
	if (strcmp(o->kind, "Namespace") != 0 || strcmp(o->api, "v1") != 0)
		return 1;
	return !applied_system_namespace(o->name) && (o->flags & OBJ_CREATED) != 0;
}

/* a helm layer: helm upgrade --install of its chart archive with its
 * values, then the release's objects (helm get manifest) into ap */
static int
helm_apply(const struct target_ctx *t, struct kt *kt, const struct layer *l, const char *ns,
	   struct applied *ap, struct arena *a, struct buf *err)
{
	if (!l->chart.file) {
		buf_printf(err, "helm layer %s: its chart archive is not in the download cache under "
			   "%s (is the state directory writable?)", l->id, t->w->state);
		return T_FAILED;
	}
	const char *tmp = getenv("TMPDIR");
	char *vfile = arena_printf(a, "%s/addonmake-values-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(vfile);
	if (fd < 0) {
		buf_printf(err, "cannot make a temporary file: %s", strerror(errno));
		return T_FAILED;
	}
	/* written through mkstemp's descriptor: values may hold secrets, and
	 * the file stays 0600 */
	struct buf vals = {0}, out = {0};
	helm_values(l, l->pack, &vals);
	int e = 0;
	for (size_t off = 0; off < vals.len && !e;) {
		ssize_t w = write(fd, vals.s + off, vals.len - off);
		if (w > 0)
			off += (size_t)w;
		else if (errno != EINTR)
			e = errno ? errno : EIO;
	}
	if (close(fd) < 0 && !e)
		e = errno;
	buf_free(&vals);
	const char *up[] = {"upgrade", "--install", l->chart.release, l->chart.file, "--values", vfile, NULL};
	const char *gm[] = {"get", "manifest", l->chart.release, NULL};
	int r = e ? -1 : helm_run(t, up, ns, &out, err);
	if (e)
		buf_printf(err, "cannot write %s: %s", vfile, strerror(e));
	unlink(vfile);
	if (!r) {
		buf_clear(&out);
		r = helm_run(t, gm, ns, &out, err);
	}
	if (r) {
		buf_free(&out);
		return r == -2 ? T_STOPPED : T_FAILED;
	}
	char *what = arena_printf(a, "helm get manifest %s", l->chart.release);
	struct dorigin o = doc_file_origin(what);
	struct dnode **docs;
	size_t n;
	struct diag d = {0};
	int rc = T_OK;
	if (doc_parse(a, out.s ? out.s : "", out.len, &o, &docs, &n, &d)) {
		buf_printf(err, "%s: %s:%d:%d: %s", what, d.msg[0].file, d.msg[0].line, d.msg[0].col,
			   d.msg[0].text);
		rc = T_FAILED;
		n = 0;
	}
	for (size_t i = 0; i < n && rc == T_OK; i++) {
		struct obj ob;
		memset(&ob, 0, sizeof(ob));
		ob.doc = docs[i];
		ob.file = what;
		ob.api = doc_str(doc_get(docs[i], "apiVersion"));
		ob.kind = doc_str(doc_get(docs[i], "kind"));
		ob.name = doc_str(doc_path(docs[i], "metadata.name"));
		if (!ob.api || !ob.kind || !ob.name)
			continue; /* not an object: nothing helm installed */
		ob.line = docs[i]->line;
		ob.col = docs[i]->col;
		if ((rc = resolve(kt, &ob, NULL, 0, ns, 1, err)) != T_OK)
			break;
		const char *pol =
			doc_str(doc_get(doc_path(docs[i], "metadata.annotations"), "helm.sh/resource-policy"));
		struct buf path = {0};
		kube_path(&path, &ob.res, ob.ns, ob.name);
		applied_add(ap, a, path.s, &ob, "", OBJ_HELM | (pol && !strcmp(pol, "keep") ? OBJ_KEEP : 0));
		buf_free(&path);
	}
	diag_free(&d);
	buf_free(&out);
	return rc;
}

/* a layer's objects, each resolved to its resource (one of a CRD of this
 * layer resolves later, once the CRD is there), in the order of kinds;
 * T_OK or T_FAILED with err */
static int
layer_objects(struct kt *kt, const struct layer *l, const char *dns, struct obj **objs,
	      size_t *n, struct buf *err)
{
	if (collect(l, objs, n, err) < 0)
		return T_FAILED;
	for (size_t i = 0; i < *n; i++) {
		int r = resolve(kt, &(*objs)[i], *objs, *n, dns, 0, err);
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
		if (stopping(t))
			return T_STOPPED;
		if (o->cat >= 2 && !crds_waited) {
			crds_waited = 1;
			if ((rc = wait_crds(t, kt, objs, i, err)) != T_OK)
				return rc;
		}
		size_t j = i;
		int unresolved = 0;
		while (j < n && objs[j].cat == o->cat && !unresolved) {
			if (!objs[j].resolved && resolve(kt, &objs[j], objs, n, dns, 1, err) != T_OK)
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
			still = strcmp(ap->v[j].path, old[i].path) == 0;
		if (still)
			continue;
		if (rc == T_OK && (old[i].flags & OBJ_HELM) && strcmp(old_rel, rel) == 0)
			continue; /* helm upgrade deleted it */
		if (rc == T_OK && deletable(&old[i])) {
			struct buf e = {0};
			if (delete_obj(kt, &old[i], &e) == 0) {
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
		applied_push(ap, old[i]);
	}
	return rc;
}

static int
kube_apply(const struct target_ctx *t, const struct layer *l, const char *text, size_t len,
	   struct buf *inv, struct buf *err)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	struct iobj *old = NULL;
	size_t nold = 0;
	const char *old_rel = "";
	if (l->plan.has_rec &&
	    inv_get(l->plan.rec.inventory, l->plan.rec.ninventory, &a, &old_rel, &old, &nold) < 0)
		old = NULL, nold = 0; /* another target's record: nothing of ours */
	struct obj *objs = NULL;
	size_t n = 0;
	struct applied ap = {0};
	const struct kube_cfg *cfg = kube_cfg_of(kt->k);
	const char *dns = l->ns && *l->ns ? l->ns : cfg->ns ? cfg->ns : "default";
	/* helm layers go through helm; what helm rendered at compile time is
	 * only their hash */
	int helm = l->chart.release && strcmp(l->type, "helm") == 0;
	const char *rel = helm ? arena_printf(&a, "%s/%s", dns, l->chart.release) : "";
	/* objects that cannot be read or resolved: nothing is applied, and
	 * the record stays as it was */
	int rc = helm ? T_OK : layer_objects(kt, l, dns, &objs, &n, err);
	if (rc == T_OK) {
		if (l->ns && *l->ns)
			rc = ensure_ns(t, kt, l, l->ns, objs, n, old, nold, &ap, &a, err);
		if (helm && rc == T_OK) {
			/* helm applies on its own connections, for seconds */
			target_slot(t, 1);
			rc = helm_apply(t, kt, l, dns, &ap, &a, err);
			target_slot(t, 0);
		}
		if (rc == T_OK)
			rc = apply_groups(t, kt, l, objs, n, dns, old, nold, &ap, &a, err);
		rc = drop_old(kt, rc, old, nold, old_rel, rel, &ap, err);
		inv_put(inv, rel, ap.v, ap.n);
	}
	free(ap.v);
	free(objs);
	arena_free(&a);
	return rc;
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
			int g = get_obj(kt, path.s, &a, &live, &e2);
			if (g <= 0) {
				buf_printf(why, "readinessCheck: ");
				obj_name(why, kind, ons, name);
				buf_printf(why, ": %s", g == 0 ? "not found" : e2.s);
				out = T_NOTREADY;
			}
			const struct dnode *keys = doc_get(e, "keysToCheck");
			for (size_t j = 0; g == 1 && keys && keys->kind == D_SEQ && j < keys->n; j++) {
				const char *key = doc_str(doc_get(keys->items[j], "keyToCheck"));
				const char *want = doc_str(doc_get(keys->items[j], "expectedValue"));
				if (!key || !want)
					continue;
				/* a.b[0].c: dots and list indexes */
				const struct dnode *cur = live;
				char *k2 = xstrdup(key);
				for (char *tok = strtok(k2, "."); tok && cur; tok = strtok(NULL, ".")) {
					char *br = strchr(tok, '[');
					if (br)
						*br = 0;
					cur = doc_get(cur, tok);
					while (br && cur) {
						long idx = strtol(br + 1, NULL, 10);
						cur = cur->kind == D_SEQ && idx >= 0 && (size_t)idx < cur->n
							      ? cur->items[idx] : NULL;
						br = strchr(br + 1, '[');
					}
				}
				free(k2);
				const char *got = doc_str(cur);
				if (!got || strcmp(got, want) != 0) {
					buf_adds(why, "readinessCheck: ");
					obj_name(why, kind, ons, name);
					buf_printf(why, ": %s is %s, want %s", key, got ? got : "unset", want);
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
static int
kube_ready(const struct target_ctx *t, const struct layer *l, const char *text, size_t len,
	   const struct buf *inv, struct buf *why)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	struct iobj *v;
	size_t n;
	const char *rel;
	int rc = T_OK, failed = 0;
	if (inv_get(inv->s, inv->len, &a, &rel, &v, &n) < 0) {
		arena_free(&a);
		buf_adds(why, "the layer's inventory is unreadable");
		return T_FAILED;
	}
	for (size_t i = 0; i < n && rc == T_OK; i++) {
		if (v[i].flags & OBJ_CURRENT)
			continue;
		struct dnode *live;
		struct buf e = {0}, r = {0};
		int g = get_obj(kt, v[i].path, &a, &live, &e);
		if (g < 0) {
			obj_name(why, v[i].kind, v[i].ns, v[i].name);
			buf_printf(why, ": %s", e.s);
			rc = T_NOTREADY;
		} else if (g == 0) {
			obj_name(why, v[i].kind, v[i].ns, v[i].name);
			buf_adds(why, ": NotFound: it is gone");
			rc = T_NOTREADY;
		} else {
			int st = kube_kstatus(live, wall_secs(), &r);
			if (st != KS_CURRENT) {
				obj_name(why, v[i].kind, v[i].ns, v[i].name);
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

/* helm uninstall of a release "ns/name"; one that is already gone is
 * fine */
static int
helm_uninstall(const struct target_ctx *t, const char *rel, struct buf *err)
{
	const char *slash = strchr(rel, '/');
	char *ns = strndup(rel, slash ? (size_t)(slash - rel) : 0);
	const char *un[] = {"uninstall", slash ? slash + 1 : rel, NULL};
	struct buf out = {0}, e = {0};
	int r = helm_run(t, un, ns, &out, &e);
	int rc = r == 0 || (r == -1 && strstr(e.s, "not found")) ? T_OK : r == -2 ? T_STOPPED : T_FAILED;
	if (rc != T_OK)
		buf_adds(err, e.s);
	free(ns);
	buf_free(&out);
	buf_free(&e);
	return rc;
}

/* deletes a removed layer's objects, last applied first, and waits until
 * they are gone */
static int
kube_remove(const struct target_ctx *t, const char *id, const struct layer_rec *rec,
	    struct buf *err)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	struct iobj *v;
	size_t n;
	const char *rel;
	if (inv_get(rec->inventory, rec->ninventory, &a, &rel, &v, &n) < 0) {
		buf_printf(err, "the record of %s holds no inventory of the kube target: nothing "
			   "to delete (run `addonmake clean -c %s` to forget it)", id, t->c->name);
		arena_free(&a);
		return T_FAILED;
	}
	int rc = *rel ? helm_uninstall(t, rel, err) : T_OK;
	char *sent = xcalloc(n + 1, 1);
	for (size_t i = n; i-- > 0 && rc == T_OK;) {
		if (v[i].flags & OBJ_HELM) {
			sent[i] = !(v[i].flags & OBJ_KEEP); /* helm deletes it */
			continue;
		}
		if (!deletable(&v[i]))
			continue;
		if (delete_obj(kt, &v[i], err) < 0)
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
			int g = get_obj(kt, v[i].path, &ga, &live, &e);
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
		if (stopping(t)) {
			rc = T_STOPPED;
			break;
		}
		if (now_ms() > deadline) {
			obj_name(err, v[first].kind, v[first].ns, v[first].name);
			buf_printf(err, " is still there after the timeout (%zu object%s left)", left,
				   left == 1 ? "" : "s");
			rc = T_FAILED;
			break;
		}
		struct timespec ts = {nap / 1000, (nap % 1000) * 1000000L};
		nanosleep(&ts, NULL);
	}
	free(sent);
	arena_free(&a);
	return rc;
}

const struct target_ops target_kube = {
	.kind = "kube",
	.apply = kube_apply,
	.ready = kube_ready,
	.remove = kube_remove,
	.open = kube_open_target,
	.close = kube_close_target,
	.apply_slots = 2,
	.docs_only = 1,
};
