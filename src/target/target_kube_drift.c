/* target_kube_drift: whether the cluster still holds what the last apply
 * of each clean layer left there (DESIGN §6). One LIST per kind with the
 * label app.kubernetes.io/managed-by=addonmake, cluster-wide, finds the
 * objects; one missing from it is asked for by name (its label may be what
 * was edited). Each field the apply set is compared, by hash, with what
 * the server answered then (target_kube_fields.c), whoever owns it now.
 * A field another manager holds that the cluster or the layer trusts
 * (ignoreManagers), or that an ignore rule names, is not drift. */
#include <stdlib.h>
#include <string.h>
#include "target_kube.h"

#define SELECTOR "labelSelector=app.kubernetes.io%2Fmanaged-by%3Daddonmake"
/* paths named in a reason, per object */
#define MAX_PATHS 5

/* the collection of every namespace that path's object is in
 * (/api/v1/namespaces/NS/configmaps/NAME: /api/v1/configmaps), in a */
static const char *
collection_of(struct arena *a, const struct iobj *o)
{
	const char *seg[8];
	size_t len[8], n = 0;
	for (const char *p = o->path; *p == '/' && n < 8;) {
		const char *e = strchr(p + 1, '/');
		seg[n] = p + 1;
		len[n] = e ? (size_t)(e - p - 1) : strlen(p + 1);
		n++;
		p = e ? e : "";
	}
	size_t pre = n && len[0] == 3 && !strncmp(seg[0], "api", 3) ? 2 : 3;
	size_t res = *o->ns && n == pre + 4 ? pre + 2 : pre;
	if (n < pre + 2 || res >= n)
		return NULL;
	return arena_printf(a, "%.*s/%.*s", (int)(seg[pre - 1] + len[pre - 1] - o->path),
			    o->path, (int)len[res], seg[res]);
}

/* the objects of one collection, by "namespace/name" */
struct coll {
	const char *path;
	struct strset byname;
};

/* an object of a layer's inventory, with the collection it is listed in
 * (NULL: a path not of an API) and its key there, found once */
struct dobj {
	const struct iobj *o;
	struct coll *c;
	const char *key;
};

struct drift {
	const struct target_ctx *t;
	struct kt *kt;
	struct arena *a;
	struct coll *cv;
	size_t nc, capc;
	struct buf *skipped;
	layer_load_fn load;
	void *lu;
	int loaded; /* the current layer's content: 0 not asked, 1 there, -1 not */
};

/* the value of data key of Secret o as the layer's manifest gives it
 * (stringData as the base64 the server keeps), into out; 0, or -1 when
 * the manifest does not say */
static int
manifest_secret(struct drift *d, struct layer *l, const struct iobj *o, const char *key,
		struct buf *out)
{
	if (!d->loaded)
		d->loaded = l->body || d->load(d->lu, l) == 0 ? 1 : -1;
	for (size_t i = 0; d->loaded == 1 && l->body && i < l->body->ndocs; i++) {
		const struct dnode *doc = l->body->docs[i];
		const char *kind = doc_str(doc_get(doc, "kind"));
		const char *name = doc_str(doc_path(doc, "metadata.name"));
		const char *ns = doc_str(doc_path(doc, "metadata.namespace"));
		if (!kind || strcmp(kind, "Secret") || !name || strcmp(name, o->name) ||
		    (ns && strcmp(ns, o->ns)))
			continue;
		const char *v = doc_str(doc_get(doc_get(doc, "stringData"), key));
		if (v) {
			kube_b64_encode(v, strlen(v), out);
			return 0;
		}
		if ((v = doc_str(doc_get(doc_get(doc, "data"), key)))) {
			buf_adds(out, v);
			return 0;
		}
	}
	return -1;
}

/* whether data field ptr (/data/KEY) of Secret o is as its manifest has it */
static int
secret_same(struct drift *d, struct layer *l, const struct iobj *o, const struct dnode *live,
	    const char *ptr)
{
	struct buf want = {0};
	const char *have = doc_str(doc_get(doc_get(live, "data"), ptr + 6));
	int same = manifest_secret(d, l, o, ptr + 6, &want) != 0 || /* cannot tell: as it was */
		   (have && want.s && !strcmp(have, want.s));
	buf_free(&want);
	return same;
}

static struct coll *
coll_for(struct drift *d, const char *path)
{
	for (size_t i = 0; i < d->nc; i++)
		if (!strcmp(d->cv[i].path, path))
			return &d->cv[i];
	if (d->nc == d->capc) {
		d->capc = d->capc ? 2 * d->capc : 16;
		d->cv = xrealloc(d->cv, d->capc * sizeof(*d->cv));
	}
	d->cv[d->nc] = (struct coll){.path = path};
	return &d->cv[d->nc++];
}

static const char *
key_of(struct arena *a, const char *ns, const char *name)
{
	return arena_printf(a, "%s/%s", ns ? ns : "", name);
}

/* the answer of a LIST (or of a GET, one object) into c; 0, or -1 with err */
static int
take(struct drift *d, struct coll *c, struct kube_req *q, struct buf *err)
{
	if (q->rc < 0) {
		buf_printf(err, "%s", q->err.s);
		return -1;
	}
	if (q->r.code == 404)
		return 0;
	struct dnode *doc = NULL;
	if (q->r.code != 200 ||
	    doc_parse_json(d->a, q->r.body.s, q->r.body.len, &doc) != 0 || !doc) {
		kube_error(d->kt->k, arena_printf(d->a, "list %s", q->path), &q->r, err);
		return -1;
	}
	const struct dnode *items = doc_get(doc, "items");
	const struct dnode *one[1] = {doc};
	const struct dnode *const *v = items ? (const struct dnode *const *)items->items : one;
	size_t n = items ? (items->kind == D_SEQ ? items->n : 0) : 1;
	for (size_t i = 0; i < n; i++) {
		const struct dnode *md = doc_get(v[i], "metadata");
		const char *name = doc_str(doc_get(md, "name"));
		if (!name)
			continue;
		int added;
		void **slot = strset_slot(&c->byname, key_of(d->a, doc_str(doc_get(md, "namespace")),
							     name), &added);
		*slot = (void *)v[i];
	}
	return 0;
}

/* one request for each of n paths, the answers into their collections */
static int
ask(struct drift *d, const char **paths, struct coll **into, size_t n, const char *query,
    struct buf *err)
{
	struct kube_req *q = xcalloc(n + 1, sizeof(*q));
	for (size_t i = 0; i < n; i++)
		q[i] = (struct kube_req){.method = "GET", .path = paths[i], .query = query};
	kube_call_all(d->kt->k, q, n);
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rc && take(d, into[i], &q[i], err))
			rc = -1;
		kube_resp_free(&q[i].r);
		buf_free(&q[i].err);
	}
	free(q);
	return rc;
}

/* whether a rule of the layer, or a manager the cluster or layer trusts,
 * leaves the field alone: why, else NULL */
static const char *
left_alone(const struct cluster *c, const struct layer_opts *lo, const struct iobj *o,
	   const char *ptr, const char *owner)
{
	for (size_t r = 0; lo && r < lo->nignore; r++) {
		const struct ignore_rule *g = &lo->ignore[r];
		if (!ignore_rule_names(g, o->kind, o->ns, o->name))
			continue;
		for (size_t p = 0; p < g->npaths; p++) {
			size_t n = strlen(g->paths[p]);
			if (!strncmp(ptr, g->paths[p], n) && (!ptr[n] || ptr[n] == '/'))
				return "an ignore rule";
		}
	}
	for (size_t i = 0; owner && i < c->nignore_managers; i++)
		if (!strcmp(owner, c->ignore_managers[i]))
			return "ignoreManagers of the cluster";
	for (size_t i = 0; owner && lo && i < lo->nignore_managers; i++)
		if (!strcmp(owner, lo->ignore_managers[i]))
			return "ignoreManagers of the layer";
	return NULL;
}

/* what changed in object o (live as it is now) to why, the fields left
 * alone to d->skipped */
static void
compare(struct drift *d, struct layer *l, const struct iobj *o, const struct dnode *live,
	struct buf *why)
{
	const struct layer_opts *lo = layer_opts_of(d->t->c, l->id);
	size_t shown = 0, more = 0;
	for (size_t f = 0; f < o->nf; f++) {
		if (tk_field_hash(live, o->fptr[f], o->fhash[f]) == o->fhash[f] &&
		    (o->fhash[f] != TK_SECRET_HELD || secret_same(d, l, o, live, o->fptr[f])))
			continue;
		const char *m = tk_field_owner(live, o->fptr[f]);
		const char *alone = left_alone(d->t->c, lo, o, o->fptr[f], m);
		if (alone) {
			buf_printf(d->skipped, "%s: %s: ", d->t->c->name, l->id);
			tk_obj_name(d->skipped, o->kind, o->ns, o->name);
			buf_printf(d->skipped, ": %s%s%s%s: not drift (%s)\n", o->fptr[f],
				   m ? " (changed by " : "", m ? m : "", m ? ")" : "", alone);
			continue;
		}
		if (shown == MAX_PATHS) {
			more++;
			continue;
		}
		if (!shown) {
			buf_printf(why, "%sdrifted: ", why->len ? "; " : "");
			tk_obj_name(why, o->kind, o->ns, o->name);
			buf_adds(why, ":");
		}
		buf_printf(why, "%s %s", shown ? "," : "", o->fptr[f]);
		if (m)
			buf_printf(why, " (changed by %s)", m);
		shown++;
	}
	if (more)
		buf_printf(why, " and %zu more", more);
}

/* the objects of the layers' inventories (v[i][0..nv[i])), each with its
 * collection and key: their collections listed once, with the label
 * selector; the objects a list left out asked for by name */
static int
read_live(struct drift *d, struct dobj **v, const size_t *nv, size_t n, struct buf *err)
{
	const char **paths = xcalloc(d->nc + 1, sizeof(*paths));
	struct coll **into = xcalloc(d->nc + 1, sizeof(*into));
	for (size_t i = 0; i < d->nc; i++)
		paths[i] = d->cv[i].path, into[i] = &d->cv[i];
	int rc = ask(d, paths, into, d->nc, SELECTOR, err);
	size_t nmiss = 0, cap = d->nc + 1;
	for (size_t i = 0; !rc && i < n; i++)
		for (size_t k = 0; k < nv[i]; k++) {
			const struct dobj *x = &v[i][k];
			if (!x->c || strset_get(&x->c->byname, x->key))
				continue;
			if (nmiss == cap) {
				cap *= 2;
				paths = xrealloc(paths, cap * sizeof(*paths));
				into = xrealloc(into, cap * sizeof(*into));
			}
			paths[nmiss] = x->o->path;
			into[nmiss++] = x->c;
		}
	if (!rc && nmiss)
		rc = ask(d, paths, into, nmiss, NULL, err);
	free(paths);
	free(into);
	return rc;
}

int
tk_drift(const struct target_ctx *t, struct layer **ls, size_t n, const char **why,
	 struct buf *skipped, layer_load_fn load, void *lu, struct arena *a, struct buf *err)
{
	struct drift d = {.t = t, .kt = t->priv, .a = a, .skipped = skipped, .load = load,
			  .lu = lu};
	struct dobj **v = xcalloc(n + 1, sizeof(*v));
	size_t *nv = xcalloc(n + 1, sizeof(*nv));
	for (size_t i = 0; i < n; i++) {
		const char *rel;
		struct iobj *inv;
		why[i] = NULL;
		if (tk_inv_get(ls[i]->plan.rec.inventory, ls[i]->plan.rec.ninventory, a, &rel,
			       &inv, &nv[i]) < 0 || *rel)
			nv[i] = 0; /* not ours, or helm's release: helm keeps it */
		v[i] = arena_alloc(a, (nv[i] + 1) * sizeof(*v[i]));
		for (size_t k = 0; k < nv[i]; k++) {
			const char *p = collection_of(a, &inv[k]);
			v[i][k] = (struct dobj){.o = &inv[k], .c = p ? coll_for(&d, p) : NULL,
						.key = key_of(a, inv[k].ns, inv[k].name)};
		}
	}
	struct buf e = {0};
	int rc = read_live(&d, v, nv, n, &e);
	for (size_t i = 0; !rc && i < n; i++) {
		struct buf w = {0};
		d.loaded = 0;
		for (size_t k = 0; k < nv[i]; k++) {
			const struct iobj *o = v[i][k].o;
			const struct dnode *live =
				v[i][k].c ? strset_get(&v[i][k].c->byname, v[i][k].key) : NULL;
			if (!live) {
				buf_printf(&w, "%sdeleted: ", w.len ? "; " : "");
				tk_obj_name(&w, o->kind, o->ns, o->name);
			} else {
				compare(&d, ls[i], o, live, &w);
			}
		}
		if (w.len)
			why[i] = arena_strdup(a, w.s);
		buf_free(&w);
	}
	if (rc)
		buf_printf(err, "cluster %s: drift not checked: %s", t->c->name, e.s);
	buf_free(&e);
	for (size_t i = 0; i < d.nc; i++)
		strset_free(&d.cv[i].byname);
	free(d.cv);
	free(v);
	free(nv);
	return rc;
}
