/* target_kube_rebuild: the records of a cluster made again from its
 * objects, for `addonmake state rebuild` after the records were lost (the
 * state namespace deleted). Every object addonmake applies carries the
 * label addonmake.io/layer and the annotations addonmake.io/cluster,
 * addonmake.io/layer, addonmake.io/hash and addonmake.io/order
 * (applied.c), so one LIST per kind that can hold them — every kind
 * discovery says can be listed and patched, in its group's preferred
 * version — with the label selector finds them all. */
#include <stdlib.h>
#include <string.h>
#include "target_kube.h"

/* an object found, with what it says of its layer */
struct found {
	const char *id, *hash, *order;
	int cat;
	struct iobj o;
};

static int
by_layer(const void *x, const void *y)
{
	const struct found *a = x, *b = y;
	int c = strcmp(a->id, b->id);
	if (!c)
		c = a->cat - b->cat;
	if (!c)
		c = strcmp(a->o.kind, b->o.kind);
	if (!c)
		c = strcmp(a->o.ns, b->o.ns);
	return c ? c : strcmp(a->o.name, b->o.name);
}

/* the apiVersion addonmake applied the object with (its entry in
 * managedFields), so that the path recorded is the one the next apply of
 * the layer uses; else the version it was listed in */
static const char *
applied_api(const struct dnode *md, const char *listed)
{
	const struct dnode *mf = doc_get(md, "managedFields");
	for (size_t i = 0; mf && mf->kind == D_SEQ && i < mf->n; i++) {
		const char *m = doc_str(doc_get(mf->items[i], "manager"));
		const char *op = doc_str(doc_get(mf->items[i], "operation"));
		const char *api = doc_str(doc_get(mf->items[i], "apiVersion"));
		if (m && op && api && !strcmp(m, "addonmake") && !strcmp(op, "Apply"))
			return api;
	}
	return listed;
}

/* the objects of one LIST answer that are this cluster's layers' */
static void
take_items(struct kt *kt, const struct cluster *c, const struct kube_res *res,
	   const struct dnode *items, struct strset *uids, struct arena *a, struct found **v,
	   size_t *n, size_t *cap)
{
	const char *listed = *res->group ? arena_printf(a, "%s/%s", res->group, res->version)
					 : res->version;
	for (size_t i = 0; items && items->kind == D_SEQ && i < items->n; i++) {
		const struct dnode *md = doc_get(items->items[i], "metadata");
		const struct dnode *ann = doc_get(md, "annotations");
		const char *cl = doc_str(doc_get(ann, "addonmake.io/cluster"));
		const char *id = doc_str(doc_get(ann, "addonmake.io/layer"));
		const char *lab = doc_str(doc_get(doc_get(md, "labels"), "addonmake.io/layer"));
		const char *uid = doc_str(doc_get(md, "uid"));
		const char *name = doc_str(doc_get(md, "name"));
		const char *ns = doc_str(doc_get(md, "namespace"));
		char want[17];
		if (!cl || strcmp(cl, c->name) || !id || !*id || !lab || !uid || !name)
			continue;
		applied_layer_label(want, c->name, id);
		if (strcmp(lab, want))
			continue; /* copied from another cluster's object */
		int added;
		void **slot = strset_slot(uids, uid, &added);
		if (!added)
			continue; /* served by two groups (events) */
		*slot = (void *)uid;
		const char *api = applied_api(md, listed);
		struct kube_res r = *res;
		struct buf e = {0};
		if (strcmp(api, listed) && kube_resource(kt->k, api, res->kind, &r, &e) != 0)
			r = *res, api = listed; /* that version is gone: the listed one */
		buf_free(&e);
		struct buf path = {0};
		kube_path(&path, &r, r.namespaced ? ns : NULL, name);
		if (*n == *cap) {
			*cap = *cap ? 2 * *cap : 64;
			*v = xrealloc(*v, *cap * sizeof(**v));
		}
		int isns = !*res->group && !strcmp(res->kind, "Namespace");
		/* whether addonmake created a namespace cannot be told from the
		 * cluster: one found is never deleted by a prune */
		(*v)[(*n)++] = (struct found){
			.id = id, .hash = doc_str(doc_get(ann, "addonmake.io/hash")),
			.order = doc_str(doc_get(ann, "addonmake.io/order")),
			.cat = applied_category(res->group, res->kind),
			.o = {.path = arena_strdup(a, path.s), .api = api, .kind = res->kind,
			      .ns = r.namespaced && ns ? ns : "", .name = name, .uid = uid,
			      .flags = isns ? 0 : OBJ_CREATED}};
		buf_free(&path);
	}
}

/* the record of the layer whose objects are v[0..n) */
static struct layer_rec *
rec_of(const struct cluster *c, const struct found *v, size_t n, struct arena *a,
       struct buf *note)
{
	struct layer_rec *r = arena_alloc(a, sizeof(*r));
	memset(r, 0, sizeof(*r));
	struct hash128 h;
	int known = v[0].hash && hash_parse_hex(v[0].hash, &h) == 0;
	for (size_t i = 0; i < n && known; i++)
		known = v[i].hash && !strcmp(v[i].hash, v[0].hash) && v[i].order &&
			!strcmp(v[i].order, v[0].order);
	r->status = known ? LS_READY : LS_PENDING;
	if (known) {
		r->hash = h;
		r->order = strtoll(v[0].order, NULL, 10);
	} else {
		buf_printf(note, "%s%s: its objects do not name one hash and order (an apply stopped "
			   "half-way, or an older addonmake applied them): recorded pending, so the "
			   "next run applies it again", note->len ? "\n" : "", v[0].id);
	}
	for (size_t i = 0; i < c->nlayers; i++)
		if (!strcmp(c->layers[i]->id, v[0].id)) {
			const struct layer *l = c->layers[i];
			r->type = l->type, r->ns = l->ns, r->version = l->version;
			if (!known)
				r->order = l->order;
		}
	struct iobj *objs = arena_alloc(a, n * sizeof(*objs));
	for (size_t i = 0; i < n; i++)
		objs[i] = v[i].o;
	struct buf inv = {0};
	tk_inv_put(&inv, "", objs, n);
	char *p = arena_alloc(a, inv.len);
	memcpy(p, inv.s, inv.len);
	r->inventory = p;
	r->ninventory = inv.len;
	buf_free(&inv);
	return r;
}

int
tk_state_rebuild(const struct target_ctx *t, struct arena *a, struct state_got *got,
		 struct buf *note, struct buf *err)
{
	struct kt *kt = t->priv;
	struct kube_res *res;
	size_t nres;
	got->n = 0;
	if (kube_listable(kt->k, a, &res, &nres, err) < 0)
		return -1;
	struct kube_req *q = xcalloc(nres + 1, sizeof(*q));
	for (size_t i = 0; i < nres; i++) {
		struct buf p = {0};
		kube_path(&p, &res[i], NULL, NULL);
		q[i] = (struct kube_req){.method = "GET", .path = arena_strdup(a, p.s),
					 .query = "labelSelector=app.kubernetes.io%2Fmanaged-by%3D"
						  "addonmake%2Caddonmake.io%2Flayer"};
		buf_free(&p);
	}
	kube_call_all(kt->k, q, nres);
	struct found *v = NULL;
	size_t n = 0, cap = 0;
	struct strset uids = {0};
	int rc = 0;
	for (size_t i = 0; i < nres; i++) {
		if (!rc && q[i].rc < 0) {
			buf_printf(err, "cluster %s: %s", t->c->name, q[i].err.s);
			rc = -1;
		} else if (!rc && q[i].r.code == 200) {
			/* with managedFields (kube_json leaves them out) */
			struct dnode *list = NULL;
			if (doc_parse_json(a, q[i].r.body.s, q[i].r.body.len, &list) == 0)
				take_items(kt, t->c, &res[i], doc_get(list, "items"), &uids, a, &v, &n,
					   &cap);
		} else if (!rc && q[i].r.code != 404 && q[i].r.code != 405) {
			/* a kind that cannot be read may hold objects: a
			 * record without them would leave them out of a prune */
			struct buf e = {0};
			kube_error(kt->k, arena_printf(a, "list %s", q[i].path), &q[i].r, &e);
			buf_printf(err, "cluster %s: %s; nothing was rebuilt", t->c->name, e.s);
			buf_free(&e);
			rc = -1;
		}
		kube_resp_free(&q[i].r);
		buf_free(&q[i].err);
	}
	free(q);
	strset_free(&uids);
	if (!rc && n) {
		qsort(v, n, sizeof(*v), by_layer);
		got->puts = arena_alloc(a, n * sizeof(*got->puts));
		for (size_t i = 0, j; i < n; i = j) {
			for (j = i + 1; j < n && !strcmp(v[j].id, v[i].id); j++)
				;
			got->puts[got->n++] = (struct store_put){
				.id = v[i].id, .rec = rec_of(t->c, v + i, j - i, a, note)};
		}
	}
	free(v);
	return rc;
}
