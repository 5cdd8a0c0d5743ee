/* target_kube_state: the layer records kept in the cluster, so that a
 * runner that starts empty knows what is applied. In the state namespace
 * (stateNamespace, else addonmake-system) each cluster of the workspace has
 * a head, ConfigMap addonmake-<c>, and one ConfigMap per layer record,
 * addonmake-<c>-<l> (c: 16 hex digits of XXH3 of the cluster's name, l:
 * the layer's label). A record holds what the local one does, never
 * manifests or values.
 *
 * Every write goes head first: the head is replaced with its
 * resourceVersion as a precondition (its serial changes, so its
 * resourceVersion does), then the records. So no record changes unless the
 * head changed before it, and local records kept with the head's uid and
 * resourceVersion (the mark) are the cluster's for as long as the head has
 * them: a run reads the head (one GET) and lists the records only when it
 * moved. A failed precondition means that another run wrote meanwhile:
 * this one stops rather than record over it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "target_kube.h"

#define SCHEMA "1"

int
tk_state_on(const struct cluster *c)
{
	return !c->target.state_local;
}

/* the value of the label that finds the records */
static void
head_key(const struct cluster *c, char out[17])
{
	applied_layer_label(out, c->name, ""); /* no layer id is empty */
}

void
tk_state_name(char out[TK_STATE_NAME], const struct cluster *c, const char *id)
{
	char k[17], l[17];
	head_key(c, k);
	if (id)
		applied_layer_label(l, c->name, id);
	snprintf(out, TK_STATE_NAME, "addonmake-%s%s%s", k, id ? "-" : "", id ? l : "");
}

static void
cm_path(struct buf *b, const struct cluster *c, const char *name)
{
	buf_printf(b, "/api/v1/namespaces/%s/configmaps%s%s", c->target.state_ns,
		   name ? "/" : "", name ? name : "");
}

/* what a user without rights on the records needs */
static void
rights_hint(struct buf *err, const struct kube_resp *r, const struct cluster *c)
{
	if (r && r->code == 403)
		buf_printf(err, "; addonmake keeps cluster %s's records in namespace %s and needs "
			   "get, list, create, update, patch and delete of configmaps there, and "
			   "get and patch of that namespace (samples/kube/state-rbac.yaml has them), or "
			   "'state: local' in the target", c->name, c->target.state_ns);
}

static void
fail(struct buf *err, const struct target_ctx *t, const char *what, const struct kube_resp *r)
{
	struct kt *kt = t->priv;
	struct buf e = {0};
	kube_error(kt->k, what, r, &e);
	buf_printf(err, "cluster %s: %s", t->c->name, e.s);
	rights_hint(err, r, t->c);
	buf_free(&e);
}

/* kube_call, its error (no answer) naming the cluster */
static int
call(const struct target_ctx *t, const char *method, const char *path, const char *query,
     const char *ctype, const struct buf *body, struct kube_resp *r, struct buf *err)
{
	struct kt *kt = t->priv;
	struct buf e = {0};
	int rc = kube_call(kt->k, method, path, query, ctype, body ? body->s : NULL,
			   body ? body->len : 0, r, &e);
	if (rc < 0)
		buf_printf(err, "cluster %s: %s", t->c->name, e.s);
	buf_free(&e);
	return rc;
}

static const char *
data_of(const struct dnode *o, const char *key)
{
	return doc_str(doc_get(doc_get(o, "data"), key));
}

static void
mark_put(struct buf *mark, const struct khead *h)
{
	buf_clear(mark);
	buf_printf(mark, "%s %s %s", h->uid, h->rv, h->identity);
}

/* the head from an answer; -1 when it is not one this addonmake reads */
static int
head_read(struct khead *h, const struct dnode *o)
{
	const char *uid = doc_str(doc_get(doc_get(o, "metadata"), "uid"));
	const char *rv = doc_str(doc_get(doc_get(o, "metadata"), "resourceVersion"));
	const char *sch = data_of(o, "schema"), *ser = data_of(o, "serial");
	const char *id = data_of(o, "identity");
	if (!uid || !rv || !sch || strcmp(sch, SCHEMA) || !ser || strlen(uid) >= sizeof(h->uid) ||
	    strlen(rv) >= sizeof(h->rv) || (id && strlen(id) >= sizeof(h->identity)))
		return -1;
	snprintf(h->uid, sizeof(h->uid), "%s", uid);
	snprintf(h->rv, sizeof(h->rv), "%s", rv);
	snprintf(h->identity, sizeof(h->identity), "%s", id ? id : "");
	const char *wr = data_of(o, "writer"), *wn = data_of(o, "written");
	snprintf(h->writer, sizeof(h->writer), "%s", wr ? wr : "");
	snprintf(h->written, sizeof(h->written), "%s", wn ? wn : "");
	h->serial = atoll(ser);
	h->exists = h->read = 1;
	return 0;
}

/* GET the head: 0 (h says whether it exists), or -1 with err */
static int
head_get(const struct target_ctx *t, struct arena *a, struct buf *err)
{
	struct kt *kt = t->priv;
	char name[TK_STATE_NAME];
	tk_state_name(name, t->c, NULL);
	struct buf path = {0};
	cm_path(&path, t->c, name);
	struct kube_resp r;
	int rc = -1;
	memset(&kt->head, 0, sizeof(kt->head));
	if (call(t, "GET", path.s, NULL, NULL, NULL, &r, err) < 0) {
		buf_free(&path);
		return -1;
	}
	if (r.code == 404) {
		kt->head.read = 1;
		rc = 0;
	} else if (r.code != 200) {
		fail(err, t, path.s, &r);
	} else if (head_read(&kt->head, kube_json(a, &r))) {
		buf_printf(err, "cluster %s: the head of its records, configmap %s/%s, is damaged or "
			   "of a newer addonmake; delete it (kubectl -n %s delete configmap %s) and "
			   "the next run lists the records again", t->c->name, t->c->target.state_ns,
			   name, t->c->target.state_ns, name);
	} else {
		rc = 0;
	}
	kube_resp_free(&r);
	buf_free(&path);
	return rc;
}

/* one record from its ConfigMap, into a; -1 when damaged */
static int
rec_read(const struct dnode *o, struct arena *a, struct store_put *p)
{
	const char *sch = data_of(o, "schema"), *id = data_of(o, "layer");
	const char *hash = data_of(o, "hash"), *order = data_of(o, "order");
	const char *st = data_of(o, "status");
	if (!sch || strcmp(sch, SCHEMA) || !id || !*id || !hash || !order ||
	    !st)
		return -1;
	struct layer_rec *r = arena_alloc(a, sizeof(*r));
	memset(r, 0, sizeof(*r));
	if (hash_parse_hex(hash, &r->hash))
		return -1;
	char *end;
	r->order = strtoll(order, &end, 10);
	if (*end || end == order)
		return -1;
	for (int s = LS_PENDING; s <= LS_INTERRUPTED && !r->status; s++)
		if (!strcmp(st, layer_status_name(s)))
			r->status = s;
	if (!r->status)
		return -1;
	const char *v;
	r->started = (v = data_of(o, "started")) ? atoll(v) : 0;
	r->finished = (v = data_of(o, "finished")) ? atoll(v) : 0;
	r->count = (v = data_of(o, "count")) ? (uint32_t)atol(v) : 0;
	r->type = (v = data_of(o, "type")) && *v ? v : NULL;
	r->ns = (v = data_of(o, "namespace")) && *v ? v : NULL;
	r->version = (v = data_of(o, "version")) && *v ? v : NULL;
	const char *inv = doc_str(doc_get(doc_get(o, "binaryData"), "inventory"));
	if (inv) {
		struct buf b = {0};
		if (kube_b64_decode(inv, strlen(inv), &b) < 0) {
			buf_free(&b);
			return -1;
		}
		char *c = arena_alloc(a, b.len + 1);
		memcpy(c, b.s, b.len + 1);
		r->inventory = c;
		r->ninventory = b.len;
		buf_free(&b);
	}
	p->id = id;
	p->rec = r;
	return 0;
}

/* LIST the records into got; 0, or -1 with err */
static int
recs_list(const struct target_ctx *t, struct arena *a, struct state_got *got, struct buf *err)
{
	char k[17];
	head_key(t->c, k);
	struct buf path = {0}, q = {0};
	cm_path(&path, t->c, NULL);
	buf_printf(&q, "labelSelector=addonmake.io%%2Frecords-of%%3D%s", k);
	struct kube_resp r;
	int rc = -1;
	if (call(t, "GET", path.s, q.s, NULL, NULL, &r, err) < 0)
		goto out;
	if (r.code != 200) {
		fail(err, t, path.s, &r);
		kube_resp_free(&r);
		goto out;
	}
	const struct dnode *items = doc_get(kube_json(a, &r), "items");
	size_t n = items && items->kind == D_SEQ ? items->n : 0;
	got->puts = arena_alloc(a, (n ? n : 1) * sizeof(*got->puts));
	got->n = 0;
	rc = 0;
	for (size_t i = 0; i < n && !rc; i++) {
		const struct dnode *o = items->items[i];
		if (rec_read(o, a, &got->puts[got->n]) == 0) {
			got->n++;
			continue;
		}
		const char *name = doc_str(doc_get(doc_get(o, "metadata"), "name"));
		buf_printf(err, "cluster %s: the record configmap %s/%s is damaged or of a newer "
			   "addonmake; delete it (kubectl -n %s delete configmap %s): its layer is "
			   "then applied again as new", t->c->name, t->c->target.state_ns,
			   name ? name : "?", t->c->target.state_ns, name ? name : "?");
		rc = -1;
	}
	kube_resp_free(&r);
out:
	buf_free(&path);
	buf_free(&q);
	return rc;
}

int
tk_state_pull(const struct target_ctx *t, const char *mark, size_t nmark, struct arena *a,
	      struct state_got *got, struct buf *err)
{
	struct kt *kt = t->priv;
	if (head_get(t, a, err))
		return -1;
	char lid[64] = "";
	if (nmark) {
		/* "uid rv identity" */
		const char *sp = memchr(mark, ' ', nmark);
		sp = sp ? memchr(sp + 1, ' ', nmark - (size_t)(sp + 1 - mark)) : NULL;
		size_t n = sp ? nmark - (size_t)(sp + 1 - mark) : 0;
		if (n < sizeof(lid)) {
			memcpy(lid, sp + 1, n);
			lid[n] = 0;
		}
	}
	if (!kt->head.exists) {
		/* no records here: a cache filled from a cluster was another's
		 * (or its records were deleted); records without a mark are
		 * from before the cluster kept them, and stay */
		got->same = !nmark;
		got->changed = nmark != 0;
		got->n = 0;
		return 0;
	}
	mark_put(&got->mark, &kt->head);
	if (*kt->head.writer)
		got->last = arena_printf(a, "%s at %.19sZ", kt->head.writer, kt->head.written);
	if (nmark == got->mark.len && !memcmp(mark, got->mark.s, nmark)) {
		got->same = 1;
		return 0;
	}
	got->changed = nmark && *lid && *kt->head.identity && strcmp(lid, kt->head.identity);
	return recs_list(t, a, got, err);
}

/* the cluster's identity, the uid of namespace kube-system ("" when it
 * cannot be read) */
static void
identity(struct kt *kt, struct arena *a, char out[64])
{
	struct dnode *o;
	struct buf e = {0};
	out[0] = 0;
	if (tk_get_obj(kt, "/api/v1/namespaces/kube-system", a, &o, &e) == 1) {
		const char *u = doc_str(doc_get(doc_get(o, "metadata"), "uid"));
		if (u && strlen(u) < 64)
			strcpy(out, u);
	}
	buf_free(&e);
}

static void
json_kv(struct buf *b, const char *k, const char *v, int comma)
{
	if (comma)
		buf_addc(b, ',');
	doc_json_str(b, k);
	buf_addc(b, ':');
	doc_json_str(b, v ? v : "");
}

/* the head as a ConfigMap, with rv as its precondition (NULL: created) */
static void
head_json(struct buf *b, const struct cluster *c, const struct khead *h, const char *rv)
{
	char k[17], name[TK_STATE_NAME], ser[24];
	head_key(c, k);
	tk_state_name(name, c, NULL);
	snprintf(ser, sizeof(ser), "%lld", h->serial);
	buf_printf(b, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		   "\"%s\",\"namespace\":\"%s\",", name, c->target.state_ns);
	if (rv)
		buf_printf(b, "\"resourceVersion\":\"%s\",", rv);
	buf_printf(b, "\"labels\":{\"app.kubernetes.io/managed-by\":\"addonmake\","
		   "\"addonmake.io/head-of\":\"%s\"},\"annotations\":{", k);
	json_kv(b, "addonmake.io/cluster", c->name, 0);
	buf_adds(b, "}},\"data\":{");
	json_kv(b, "schema", SCHEMA, 0);
	json_kv(b, "cluster", c->name, 1);
	json_kv(b, "identity", h->identity, 1);
	json_kv(b, "serial", ser, 1);
	json_kv(b, "writer", h->writer, 1);
	json_kv(b, "written", h->written, 1);
	buf_adds(b, "}}");
}

/* one record as a ConfigMap */
static void
rec_json(struct buf *b, const struct cluster *c, const char *id, const struct layer_rec *r)
{
	char k[17], name[TK_STATE_NAME], hex[33], num[4][24];
	head_key(c, k);
	tk_state_name(name, c, id);
	hash_hex(&r->hash, hex);
	snprintf(num[0], 24, "%lld", (long long)r->order);
	snprintf(num[1], 24, "%lld", (long long)r->started);
	snprintf(num[2], 24, "%lld", (long long)r->finished);
	snprintf(num[3], 24, "%lu", (unsigned long)r->count);
	buf_printf(b, "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		   "\"%s\",\"namespace\":\"%s\",\"labels\":{"
		   "\"app.kubernetes.io/managed-by\":\"addonmake\",\"addonmake.io/records-of\":"
		   "\"%s\"},\"annotations\":{", name, c->target.state_ns, k);
	json_kv(b, "addonmake.io/cluster", c->name, 0);
	json_kv(b, "addonmake.io/layer", id, 1);
	buf_adds(b, "}},\"data\":{");
	json_kv(b, "schema", SCHEMA, 0);
	json_kv(b, "layer", id, 1);
	json_kv(b, "hash", hex, 1);
	json_kv(b, "order", num[0], 1);
	json_kv(b, "status", layer_status_name(r->status), 1);
	json_kv(b, "type", r->type, 1);
	json_kv(b, "namespace", r->ns, 1);
	json_kv(b, "version", r->version, 1);
	json_kv(b, "started", num[1], 1);
	json_kv(b, "finished", num[2], 1);
	json_kv(b, "count", num[3], 1);
	buf_addc(b, '}');
	if (r->ninventory) {
		buf_adds(b, ",\"binaryData\":{\"inventory\":\"");
		kube_b64_encode(r->inventory, r->ninventory, b);
		buf_adds(b, "\"}");
	}
	buf_addc(b, '}');
}

/* the state namespace, made when missing (by apply: it may be there) */
int
tk_state_namespace(const struct target_ctx *t, struct buf *err)
{
	struct kt *kt = t->priv;
	if (kt->state_ns_made)
		return 0;
	struct buf path = {0}, body = {0};
	buf_printf(&path, "/api/v1/namespaces/%s", t->c->target.state_ns);
	buf_printf(&body, "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
		   "\"%s\",\"labels\":{\"app.kubernetes.io/managed-by\":\"addonmake\"}}}",
		   t->c->target.state_ns);
	struct kube_resp r;
	int rc = call(t, "PATCH", path.s, "fieldManager=addonmake&force=true",
		      "application/apply-patch+yaml", &body, &r, err);
	if (rc == 0 && r.code != 200 && r.code != 201) {
		fail(err, t, path.s, &r);
		rc = -1;
	}
	if (rc == 0)
		kube_resp_free(&r);
	kt->state_ns_made = rc == 0;
	buf_free(&path);
	buf_free(&body);
	return rc;
}

/* the head written one serial on, with the precondition of the one read
 * (created when there was none); 0, or -1 with err */
static int
head_bump(const struct target_ctx *t, struct arena *a, struct buf *err)
{
	struct kt *kt = t->priv;
	struct khead h = kt->head;
	int create = !h.exists;
	if (create) {
		if (tk_state_namespace(t, err))
			return -1;
		identity(kt, a, h.identity);
	}
	h.serial++;
	tk_holder_of(h.writer);
	tk_micro_now(h.written);
	char name[TK_STATE_NAME];
	tk_state_name(name, t->c, NULL);
	struct buf path = {0}, body = {0};
	cm_path(&path, t->c, create ? NULL : name);
	head_json(&body, t->c, &h, create ? NULL : h.rv);
	struct kube_resp r;
	int rc = call(t, create ? "POST" : "PUT", path.s, "fieldManager=addonmake",
		      "application/json", &body, &r, err);
	if (rc == 0) {
		if (r.code == 409)
			buf_printf(err, "cluster %s: its records changed since this run read them "
				   "(configmap %s/%s: another addonmake run wrote them); nothing more "
				   "was recorded; run again", t->c->name, t->c->target.state_ns, name);
		else if (r.code != 200 && r.code != 201)
			fail(err, t, path.s, &r);
		else if (head_read(&kt->head, kube_json(a, &r)))
			buf_printf(err, "cluster %s: the answer to writing configmap %s/%s is not "
				   "the head written", t->c->name, t->c->target.state_ns, name);
		else
			rc = 1;
		kube_resp_free(&r);
		rc = rc == 1 ? 0 : -1;
	}
	buf_free(&path);
	buf_free(&body);
	return rc;
}

int
tk_state_push(const struct target_ctx *t, const struct store_put *puts, size_t n,
	      struct buf *mark, struct buf *err)
{
	struct kt *kt = t->priv;
	struct arena a = {0};
	int rc = -1;
	if (kt->lease.held && tk_lease_lost(kt)) {
		buf_printf(err, "cluster %s: another run took over the lease on its records (this "
			   "one could not renew it in time); nothing more was recorded; run again",
			   t->c->name);
		goto out;
	}
	if (!kt->head.read && head_get(t, &a, err))
		goto out;
	if (head_bump(t, &a, err))
		goto out;
	struct kube_req *q = xcalloc(n ? n : 1, sizeof(*q));
	struct buf *paths = xcalloc(n ? n : 1, sizeof(*paths));
	struct buf *bodies = xcalloc(n ? n : 1, sizeof(*bodies));
	for (size_t i = 0; i < n; i++) {
		char name[TK_STATE_NAME];
		tk_state_name(name, t->c, puts[i].id);
		cm_path(&paths[i], t->c, name);
		if (puts[i].rec) {
			rec_json(&bodies[i], t->c, puts[i].id, puts[i].rec);
			q[i] = (struct kube_req){.method = "PATCH", .path = paths[i].s,
						 .query = "fieldManager=addonmake&force=true",
						 .ctype = "application/apply-patch+yaml",
						 .body = bodies[i].s, .len = bodies[i].len};
		} else {
			q[i] = (struct kube_req){.method = "DELETE", .path = paths[i].s};
		}
	}
	kube_call_all(kt->k, q, n);
	rc = 0;
	for (size_t i = 0; i < n; i++) {
		int ok = q[i].rc == 0 && (q[i].r.code == 200 || q[i].r.code == 201 ||
					  (!puts[i].rec && q[i].r.code == 404));
		if (!ok && !rc) {
			if (q[i].rc < 0)
				buf_printf(err, "cluster %s: %s", t->c->name, q[i].err.s);
			else
				fail(err, t, paths[i].s, &q[i].r);
			rc = -1;
		}
		if (q[i].rc == 0)
			kube_resp_free(&q[i].r);
		buf_free(&q[i].err);
		buf_free(&paths[i]);
		buf_free(&bodies[i]);
	}
	free(q);
	free(paths);
	free(bodies);
	if (!rc)
		mark_put(mark, &kt->head);
out:
	arena_free(&a);
	return rc;
}
