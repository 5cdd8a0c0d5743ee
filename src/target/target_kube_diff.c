/* target_kube_diff: what applying a layer would change, object by object,
 * changing nothing. Each object is read (GET) and applied as a dry run
 * (the apply's own request with dryRun=All, so the server's defaults,
 * admission and normalisation are in what comes back); both answers are
 * shown without what the server owns (managedFields, resourceVersion, uid,
 * generation, creationTimestamp, status) and never with a Secret's values:
 * a key whose value would change reads "(secret value, old)" and "(secret
 * value, new)". Objects that the record has and the layer no longer has,
 * and the objects of a removed layer, are shown as deletions. */
#include <stdlib.h>
#include <string.h>
#include "target_kube.h"

#define SECRET_SAME "(secret value)"
#define SECRET_OLD "(secret value, old)"
#define SECRET_NEW "(secret value, new)"

/* m without the keys named (a shallow copy) */
static struct dnode *
without(struct arena *a, const struct dnode *m, const char *const *keys)
{
	if (!m || m->kind != D_MAP)
		return (struct dnode *)m;
	struct dnode *c = doc_new(a, D_MAP, m->n);
	size_t k = 0;
	for (size_t i = 0; i < m->n; i++) {
		int drop = 0;
		for (const char *const *p = keys; *p && !drop; p++)
			drop = !strcmp(m->items[2 * i]->s, *p);
		if (drop)
			continue;
		c->items[2 * k] = m->items[2 * i];
		c->items[2 * k + 1] = m->items[2 * i + 1];
		k++;
	}
	c->n = k;
	return c;
}

/* m with key set to v (added at the end when missing; v NULL drops it) */
static struct dnode *
with(struct arena *a, const struct dnode *m, const char *key, struct dnode *v)
{
	const char *keys[] = {key, NULL};
	struct dnode *c = without(a, m, keys);
	if (!v || !c || c->kind != D_MAP)
		return c;
	struct dnode *d = doc_new(a, D_MAP, c->n + 1);
	memcpy(d->items, c->items, 2 * c->n * sizeof(*d->items));
	size_t at = c->n;
	for (size_t i = 0; m && i < m->n; i++)
		if (!strcmp(m->items[2 * i]->s, key))
			at = i; /* keep its place */
	if (at < c->n) {
		memmove(d->items + 2 * at + 2, d->items + 2 * at, 2 * (c->n - at) * sizeof(*d->items));
	}
	d->items[2 * at] = doc_scalar(a, key, DS_PLAIN);
	d->items[2 * at + 1] = v;
	return d;
}

/* a copy of d whose keys are plain (JSON quotes them all; YAML needs it
 * only where a key would read as something else) */
static struct dnode *
plain_keys(struct arena *a, const struct dnode *d)
{
	if (!d || d->kind == D_SCALAR)
		return (struct dnode *)d;
	struct dnode *c = doc_new(a, d->kind, d->n);
	size_t slots = d->kind == D_MAP ? 2 * d->n : d->n;
	for (size_t i = 0; i < slots; i++) {
		const struct dnode *v = d->items[i];
		if (d->kind == D_MAP && i % 2 == 0 && v->style != DS_PLAIN && v->len &&
		    strspn(v->s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._/-") ==
			    v->len && !strchr("-.", v->s[0]))
			c->items[i] = doc_scalar(a, v->s, DS_PLAIN);
		else
			c->items[i] = plain_keys(a, v);
	}
	return c;
}

/* an object as shown: without what the server owns */
static struct dnode *
shown(struct arena *a, const struct dnode *o)
{
	static const char *const top[] = {"status", NULL};
	static const char *const meta[] = {"managedFields", "resourceVersion", "uid", "generation",
					   "creationTimestamp", "selfLink", NULL};
	/* kubectl's copy of what it applied, a Secret's values included;
	 * the layer's hash, which every edit of the layer changes on each of
	 * its objects (bookkeeping, not a change of the object) */
	static const char *const ann[] = {"kubectl.kubernetes.io/last-applied-configuration",
					  "addonmake.io/hash", NULL};
	if (!o || o->kind != D_MAP)
		return (struct dnode *)o;
	struct dnode *md = without(a, doc_get(o, "metadata"), meta);
	const struct dnode *an = doc_get(md, "annotations");
	if (an) {
		struct dnode *an2 = without(a, an, ann);
		md = with(a, md, "annotations", an2->n ? an2 : NULL);
	}
	return plain_keys(a, with(a, without(a, o, top), "metadata", md));
}

/* the values of field (data, stringData) of a Secret's two sides replaced:
 * the same on both, or "(changed)" where they differ */
static void
hide_field(struct arena *a, struct dnode **live, struct dnode **want, const char *field)
{
	const struct dnode *lv = *live ? doc_get(*live, field) : NULL;
	const struct dnode *wv = *want ? doc_get(*want, field) : NULL;
	/* a whole object created or deleted: nothing to tell apart */
	int one = !*live || !*want;
	for (int side = 0; side < 2; side++) {
		const struct dnode *m = side ? wv : lv, *o = side ? lv : wv;
		if (!m || m->kind != D_MAP)
			continue;
		struct dnode *c = doc_new(a, D_MAP, m->n);
		for (size_t i = 0; i < m->n; i++) {
			const struct dnode *ov = o && o->kind == D_MAP ? doc_get(o, m->items[2 * i]->s) : NULL;
			const struct dnode *v = m->items[2 * i + 1];
			int same = one || (ov && ov->kind == D_SCALAR && v->kind == D_SCALAR &&
					   ov->len == v->len && !memcmp(ov->s, v->s, v->len));
			c->items[2 * i] = m->items[2 * i];
			c->items[2 * i + 1] = doc_scalar(a, same ? SECRET_SAME : side ? SECRET_NEW
										  : SECRET_OLD,
							 DS_QUOTED);
		}
		struct dnode **obj = side ? want : live;
		*obj = with(a, *obj, field, c);
	}
}

static int
is_secret(const char *api, const char *kind)
{
	return !strcmp(api, "v1") && !strcmp(kind, "Secret");
}

static const char *
yaml_of(struct arena *a, const struct dnode *d)
{
	if (!d)
		return NULL;
	struct buf b = {0};
	doc_emit(&b, d);
	const char *s = arena_strndup(a, b.s ? b.s : "", b.len);
	buf_free(&b);
	return s;
}

/* d without what JSON pointer segments seg[0..n) name ("~1" is "/",
 * "~0" is "~"; a number indexes a list); d itself when nothing is there */
static struct dnode *
drop_at(struct arena *a, struct dnode *d, char **seg, size_t n)
{
	if (!n)
		return NULL;
	if (!d || d->kind == D_SCALAR)
		return d;
	size_t i = 0, slots = d->n;
	if (d->kind == D_MAP) {
		while (i < slots && strcmp(d->items[2 * i]->s, seg[0]))
			i++;
	} else {
		char *end;
		unsigned long k = strtoul(seg[0], &end, 10);
		i = *seg[0] && !*end ? (size_t)k : slots;
	}
	if (i >= slots)
		return d;
	struct dnode *child = d->kind == D_MAP ? d->items[2 * i + 1] : d->items[i];
	struct dnode *c2 = drop_at(a, child, seg + 1, n - 1);
	if (c2 == child)
		return d;
	int per = d->kind == D_MAP ? 2 : 1;
	struct dnode *c = doc_new(a, d->kind, d->n);
	memcpy(c->items, d->items, per * d->n * sizeof(*c->items));
	if (c2) {
		c->items[per * i + per - 1] = c2;
	} else {
		memmove(c->items + per * i, c->items + per * (i + 1),
			per * (d->n - i - 1) * sizeof(*c->items));
		c->n--;
	}
	return c;
}

/* d without the fields the layer's ignore rules name for this object */
static struct dnode *
ignored(struct arena *a, struct dnode *d, const struct layer_opts *lo, const char *kind,
	const char *ns, const char *name)
{
	for (size_t r = 0; d && lo && r < lo->nignore; r++) {
		const struct ignore_rule *g = &lo->ignore[r];
		if (!ignore_rule_names(g, kind, ns, name))
			continue;
		for (size_t p = 0; p < g->npaths; p++) {
			char *seg[64];
			size_t n = 0;
			char *copy = arena_strdup(a, g->paths[p] + 1);
			for (char *t = copy, *sl; t && n < 64; t = sl ? sl + 1 : NULL) {
				sl = strchr(t, '/');
				if (sl)
					*sl = 0;
				/* ~1 and ~0, in place */
				char *w = t;
				for (char *q = t; *q; q++)
					*w++ = q[0] == '~' && (q[1] == '1' || q[1] == '0')
						       ? (q++, *q == '1' ? '/' : '~') : *q;
				*w = 0;
				seg[n++] = t;
			}
			d = drop_at(a, d, seg, n);
		}
	}
	return d;
}

/* one object's two sides to fn */
static void
report(struct arena *a, const struct layer_opts *lo, const char *api, const char *kind,
       const char *ns, const char *name, const struct dnode *live, const struct dnode *want,
       const char *why, diff_fn fn, void *u)
{
	struct dnode *l = ignored(a, shown(a, live), lo, kind, ns, name);
	struct dnode *w = ignored(a, shown(a, want), lo, kind, ns, name);
	if (is_secret(api, kind)) {
		hide_field(a, &l, &w, "data");
		hide_field(a, &l, &w, "stringData");
	}
	struct diff_item d = {.kind = kind, .ns = ns ? ns : "", .name = name, .live = yaml_of(a, l),
			      .want = why ? NULL : yaml_of(a, w), .live_doc = l,
			      .want_doc = why ? NULL : w, .why = why};
	fn(u, &d);
}

/* the answer of a request as a tree: 1 (in *o), 0 not found, -1 another
 * answer (said in err) */
static int
answer(struct kt *kt, struct arena *a, const struct kube_req *q, const char *what,
       struct dnode **o, struct buf *err)
{
	*o = NULL;
	if (q->rc < 0) {
		buf_printf(err, "%s: %s", what, q->err.s);
		return -1;
	}
	if (q->r.code == 404)
		return 0;
	if (q->r.code != 200 && q->r.code != 201) {
		kube_error(kt->k, what, &q->r, err);
		return -1;
	}
	*o = kube_json(a, &q->r);
	return 1;
}

/* the recorded objects of a layer that objs (n of them; NULL for a removed
 * layer) no longer has, as deletions */
static int
deletions(const struct target_ctx *t, struct kt *kt, const struct layer_rec *rec,
	  const struct obj *objs, size_t n, const char *layer_ns, const struct layer_opts *lo,
	  struct arena *a, diff_fn fn, void *u, struct buf *err)
{
	struct iobj *v;
	size_t nv;
	const char *rel;
	if (!rec || tk_inv_get(rec->inventory, rec->ninventory, a, &rel, &v, &nv) < 0)
		return 0; /* another target's record: nothing of ours */
	/* the objects gone from the layer, asked for together, shown in
	 * reverse order (as a prune deletes them) */
	struct kube_req *q = xcalloc(nv + 1, sizeof(*q));
	size_t *which = xcalloc(nv + 1, sizeof(*which)), nq = 0;
	for (size_t i = nv; i-- > 0;) {
		/* kept: a namespace addonmake did not make, what helm keeps,
		 * and the layer's own namespace while the layer has it */
		int still = !tk_deletable(&v[i]) || (v[i].flags & OBJ_KEEP) ||
			    ((v[i].flags & OBJ_LAYER_NS) && layer_ns && !strcmp(v[i].name, layer_ns));
		for (size_t j = 0; j < n && !still; j++)
			still = objs[j].resolved && tk_same_obj(&v[i], objs[j].api, objs[j].kind,
								 objs[j].res.namespaced ? objs[j].ns : "",
								 objs[j].name);
		if (!still) {
			which[nq] = i;
			q[nq++] = (struct kube_req){.method = "GET", .path = v[i].path};
		}
	}
	kube_call_all(kt->k, q, nq);
	int rc = 0;
	for (size_t k = 0; k < nq; k++) {
		const struct iobj *o = &v[which[k]];
		struct dnode *live;
		struct buf e = {0};
		int g = rc ? 0 : answer(kt, a, &q[k], arena_printf(a, "get %s", o->path), &live, &e);
		if (g < 0) {
			buf_printf(err, "cluster %s: %s", t->c->name, e.s);
			rc = -1;
		}
		buf_free(&e);
		const char *uid = g == 1 ? doc_str(doc_path(live, "metadata.uid")) : NULL;
		/* another object of that name (not ours) is not shown deleted */
		if (g == 1 && !(*o->uid && uid && strcmp(uid, o->uid)))
			report(a, lo, o->api, o->kind, o->ns, o->name, live, NULL, NULL, fn, u);
		kube_resp_free(&q[k].r);
		buf_free(&q[k].err);
	}
	free(q);
	free(which);
	return rc;
}

/* the layer's namespace, when apply would make it (it is missing and the
 * layer does not apply it itself), as created; 0, or -1 with err */
static int
diff_layer_ns(const struct target_ctx *t, struct kt *kt, const struct layer *l,
	      const struct obj *objs, size_t n, const struct layer_opts *lo, struct arena *a,
	      diff_fn fn, void *u, struct buf *err)
{
	int has_ns = !l->ns || !*l->ns || applied_system_namespace(l->ns);
	for (size_t i = 0; i < n && !has_ns; i++)
		has_ns = objs[i].cat == CAT_NAMESPACE && !strcmp(objs[i].name, l->ns);
	if (has_ns)
		return 0;
	struct dnode *live;
	int g = tk_get_obj(kt, arena_printf(a, "/api/v1/namespaces/%s", l->ns), a, &live, err);
	if (g == 0) {
		struct obj o = {.doc = applied_namespace(a, l->ns), .api = "v1", .kind = "Namespace",
				.name = l->ns};
		struct buf b = {0};
		struct dnode *sent = NULL;
		tk_body(a, t, l, &o, &b);
		if (doc_parse_json(a, b.s, b.len, &sent) < 0)
			sent = NULL;
		buf_free(&b);
		report(a, lo, "v1", "Namespace", "", l->ns, NULL, sent, NULL, fn, u);
	}
	return g < 0 ? -1 : 0;
}

/* one object's answers: q[0] its GET, q[1] its apply as a dry run; sent
 * the body of that apply. 0, or -1 with err (the GET failed) */
static int
diff_answers(struct kt *kt, const struct obj *o, const struct kube_req *q, struct dnode *sent,
	     const struct layer_opts *lo, struct arena *a, diff_fn fn, void *u, struct buf *err)
{
	const char *ns = o->res.namespaced ? o->ns : "";
	struct buf what = {0}, e = {0};
	tk_obj_name(&what, o->kind, o->res.namespaced ? o->ns : NULL, o->name);
	struct dnode *live, *want;
	int g = answer(kt, a, &q[0], what.s, &live, err);
	int w = g < 0 ? -1 : answer(kt, a, &q[1], what.s, &want, &e);
	if (g < 0) {
		/* said in err */
	} else if (w == 0 && !live) {
		/* its namespace is not there yet (the layer makes it) */
		report(a, lo, o->api, o->kind, ns, o->name, NULL, sent, NULL, fn, u);
	} else if (w < 0 || !want) {
		/* refused (an admission webhook that takes no dry run, a
		 * conflict): not compared, and the rest goes on */
		const char *why = arena_printf(a, "the server refused the dry run: %s",
					       e.s ? e.s : "not found");
		report(a, lo, o->api, o->kind, ns, o->name, live, NULL, why, fn, u);
	} else {
		report(a, lo, o->api, o->kind, ns, o->name, live, want, NULL, fn, u);
	}
	buf_free(&e);
	buf_free(&what);
	return g < 0 ? -1 : 0;
}

/* every object of the layer: a GET and the apply as a dry run each, sent
 * together; 0, or -1 with err */
static int
diff_objects(const struct target_ctx *t, struct kt *kt, const struct layer *l,
	     const struct obj *objs, size_t n, const struct layer_opts *lo, struct arena *a,
	     diff_fn fn, void *u, struct buf *err)
{
	struct kube_req *q = xcalloc(2 * n + 1, sizeof(*q));
	const char *qs = t->force_conflicts
		? "fieldManager=addonmake&fieldValidation=Strict&force=true&dryRun=All"
		: "fieldManager=addonmake&fieldValidation=Strict&force=false&dryRun=All";
	struct buf *body = xcalloc(n + 1, sizeof(*body));
	size_t nq = 0;
	for (size_t i = 0; i < n; i++) {
		tk_body(a, t, l, &objs[i], &body[i]);
		if (!objs[i].resolved)
			continue;
		struct buf p = {0};
		kube_path(&p, &objs[i].res, objs[i].ns, objs[i].name);
		const char *path = arena_strdup(a, p.s);
		buf_free(&p);
		q[nq++] = (struct kube_req){.method = "GET", .path = path};
		q[nq++] = (struct kube_req){"PATCH", path, qs, "application/apply-patch+yaml",
					    body[i].s, body[i].len, 0, {0, {0}}, {0}};
	}
	kube_call_all(kt->k, q, nq);
	int rc = 0;
	for (size_t i = 0, k = 0; i < n && !rc; i++) {
		struct dnode *sent = NULL;
		if (doc_parse_json(a, body[i].s, body[i].len, &sent) < 0)
			sent = NULL;
		if (!objs[i].resolved) {
			/* its CRD is in this layer and not applied yet: what would
			 * be sent is all there is to show */
			report(a, lo, objs[i].api, objs[i].kind, objs[i].ns, objs[i].name, NULL, sent, NULL,
			       fn, u);
			continue;
		}
		rc = diff_answers(kt, &objs[i], &q[k], sent, lo, a, fn, u, err);
		k += 2;
	}
	for (size_t i = 0; i < nq; i++) {
		kube_resp_free(&q[i].r);
		buf_free(&q[i].err);
	}
	for (size_t i = 0; i < n; i++)
		buf_free(&body[i]);
	free(body);
	free(q);
	return rc;
}

int
tk_diff(const struct target_ctx *t, const struct layer *l, const char *id,
	const struct layer_rec *rec, const char *text, size_t len, diff_fn fn, void *u,
	struct buf *err)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	int rc = 0;
	const struct layer_opts *lo = layer_opts_of(t->c, id);
	(void)text, (void)len; /* the kube target applies the layer's documents */
	if (!l) {
		rc = deletions(t, kt, rec, NULL, 0, NULL, lo, &a, fn, u, err);
	} else if (tk_helm_layer(l)) {
		struct diff_item d = {.kind = "HelmRelease", .ns = l->ns ? l->ns : "",
				      .name = l->chart.release,
				      .why = "a helm layer: helm installs it, and its objects are not "
					     "compared"};
		fn(u, &d);
	} else {
		const struct kube_cfg *cfg = kube_cfg_of(kt->k);
		const char *dns = l->ns && *l->ns ? l->ns : cfg->ns ? cfg->ns : "default";
		struct obj *objs = NULL;
		size_t n = 0;
		rc = tk_layer_objects(kt, l, dns, &objs, &n, err) != T_OK ? -1 : 0;
		if (!rc)
			rc = diff_layer_ns(t, kt, l, objs, n, lo, &a, fn, u, err);
		if (!rc)
			rc = diff_objects(t, kt, l, objs, n, lo, &a, fn, u, err);
		if (!rc)
			rc = deletions(t, kt, l->plan.has_rec ? &l->plan.rec : NULL, objs, n, l->ns, lo,
				       &a, fn, u, err);
		free(objs);
	}
	arena_free(&a);
	return rc;
}
