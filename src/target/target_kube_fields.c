/* target_kube_fields: the fields addonmake applied to an object, as values
 * it can compare later without the manifest. Drift (DESIGN §6) compares
 * the fields addonmake sent, whoever owns them now (an edit takes them
 * from addonmake's field manager), and compares them with what the server
 * made of them (it normalises: cpu 0.5 comes back as 500m): so apply
 * records, per object, each applied field's JSON pointer and a hash of its
 * value in the apply's answer (a Secret's data: only that it is there;
 * drift compares its value with the manifest's). */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "target_kube.h"

/* at most this many fields an object: a deeper object (a CRD's schema
 * has thousands of leaves) is recorded with its subtrees below some depth
 * as one field each, so that a record stays small */
#define MAX_FIELDS 32

struct walk {
	struct arena *a;
	int limit; /* the depth below which a subtree is one field */
	int secret; /* the object is a Secret */
	struct buf ptr;
	const char **p;
	uint64_t *h;
	size_t n, cap;
};

/* the hash of a value as the server holds it: 0 for none; an empty map or
 * list that was applied is one field whatever the server puts in it
 * (defaults) */
static uint64_t
value_hash(const struct dnode *sent, const struct dnode *live)
{
	if (!live)
		return 0;
	if (sent && sent->kind != D_SCALAR && !sent->n && live->kind == sent->kind)
		return live->kind == D_MAP ? 2 : 3;
	struct buf b = {0};
	doc_emit_json(&b, live);
	uint64_t h = XXH3_64bits(b.s, b.len) | 1;
	buf_free(&b);
	return h;
}

static void
leaf(struct walk *w, const struct dnode *sent, const struct dnode *live)
{
	if (w->n == w->cap) {
		w->cap = w->cap ? 2 * w->cap : 32;
		w->p = xrealloc(w->p, w->cap * sizeof(*w->p));
		w->h = xrealloc(w->h, w->cap * sizeof(*w->h));
	}
	w->p[w->n] = arena_strdup(w->a, w->ptr.s);
	/* a hash of a Secret's value, in a ConfigMap anyone with read access
	 * to the records sees, could be tried against a dictionary: for a
	 * Secret's data only that it is there is kept */
	int secret = w->secret && !strncmp(w->ptr.s, "/data/", 6);
	w->h[w->n++] = secret ? (live ? TK_SECRET_HELD : 0) : value_hash(sent, live);
}

/* a JSON pointer's segment: ~ as ~0, / as ~1 */
static void
push_key(struct buf *b, const char *k)
{
	buf_addc(b, '/');
	for (; *k; k++)
		if (*k == '~' || *k == '/')
			buf_printf(b, "~%c", *k == '~' ? '0' : '1');
		else
			buf_addc(b, *k);
}

static int
has_map(const struct dnode *seq)
{
	for (size_t i = 0; i < seq->n; i++)
		if (seq->items[i]->kind == D_MAP)
			return 1;
	return 0;
}

/* maps are walked key by key, lists of maps element by element; anything
 * else (a scalar, a list of scalars, an empty map) is one field */
static void
walk(struct walk *w, const struct dnode *sent, const struct dnode *live, int depth)
{
	size_t mark = w->ptr.len;
	/* a folded subtree is hashed whole as the server holds it: never the
	 * metadata, where the server changes resourceVersion and
	 * managedFields on every write */
	if (depth >= w->limit && strncmp(w->ptr.s, "/metadata", 9) != 0) {
		leaf(w, sent, live);
	} else if (sent->kind == D_MAP && sent->n) {
		for (size_t i = 0; i < sent->n; i++) {
			const char *k = sent->items[2 * i]->s;
			/* what names the object is not a field of it; status is
			 * the server's */
			if (depth == 0 && (!strcmp(k, "apiVersion") || !strcmp(k, "kind") ||
					   !strcmp(k, "status")))
				continue;
			if (depth == 1 && !strcmp(w->ptr.s, "/metadata") &&
			    (!strcmp(k, "name") || !strcmp(k, "namespace")))
				continue;
			/* a Secret's stringData is write-only: the server keeps it
			 * in data, and that is what is compared */
			const char *at = depth == 0 && w->secret && !strcmp(k, "stringData") ? "data" : k;
			push_key(&w->ptr, at);
			walk(w, sent->items[2 * i + 1], doc_get(live, at), depth + 1);
			w->ptr.len = mark;
			w->ptr.s[mark] = 0;
		}
	} else if (sent->kind == D_SEQ && sent->n && has_map(sent)) {
		for (size_t i = 0; i < sent->n; i++) {
			buf_printf(&w->ptr, "/%zu", i);
			const struct dnode *lv = live && live->kind == D_SEQ && i < live->n
						 ? live->items[i] : NULL;
			walk(w, sent->items[i], lv, depth + 1);
			w->ptr.len = mark;
			w->ptr.s[mark] = 0;
		}
	} else {
		leaf(w, sent, live);
	}
}

void
tk_fields(struct arena *a, const struct dnode *sent, const struct dnode *answer, struct iobj *io)
{
	struct walk w = {.a = a, .limit = 64};
	const char *api = doc_str(doc_get(sent, "apiVersion")), *kind = doc_str(doc_get(sent, "kind"));
	w.secret = api && kind && !strcmp(api, "v1") && !strcmp(kind, "Secret");
	buf_adds(&w.ptr, "");
	/* every leaf, or, for a deep object, the fields down to the deepest
	 * level that keeps them at MAX_FIELDS (the top level at the least) */
	for (int lim = 8; sent && sent->kind == D_MAP; lim--) {
		w.n = 0;
		walk(&w, sent, answer, 0);
		if (w.n <= MAX_FIELDS || lim == 1)
			break;
		w.limit = lim;
	}
	io->nf = w.n;
	io->fptr = arena_alloc(a, (w.n ? w.n : 1) * sizeof(*io->fptr));
	io->fhash = arena_alloc(a, (w.n ? w.n : 1) * sizeof(*io->fhash));
	if (w.n) {
		memcpy(io->fptr, w.p, w.n * sizeof(*w.p));
		memcpy(io->fhash, w.h, w.n * sizeof(*w.h));
	}
	free(w.p);
	free(w.h);
	buf_free(&w.ptr);
}

/* the next segment of a JSON pointer at *p, unescaped into seg; 0 at the end */
static int
next_seg(const char **p, struct buf *seg)
{
	if (**p != '/')
		return 0;
	buf_clear(seg);
	buf_adds(seg, "");
	for ((*p)++; **p && **p != '/'; (*p)++)
		if (**p == '~' && ((*p)[1] == '0' || (*p)[1] == '1'))
			buf_addc(seg, *++(*p) == '0' ? '~' : '/');
		else
			buf_addc(seg, **p);
	return 1;
}

/* the node at a segment of a map (a key) or a list (an index) */
static const struct dnode *
child(const struct dnode *n, const char *seg)
{
	if (!n)
		return NULL;
	if (n->kind == D_MAP)
		return doc_get(n, seg);
	char *end;
	unsigned long i = strtoul(seg, &end, 10);
	return n->kind == D_SEQ && !*end && *seg && i < n->n ? n->items[i] : NULL;
}

uint64_t
tk_field_hash(const struct dnode *live, const char *ptr, uint64_t recorded)
{
	int empty = recorded == 2 || recorded == 3;
	struct buf seg = {0};
	const struct dnode *n = live;
	for (const char *p = ptr; n && next_seg(&p, &seg);)
		n = child(n, seg.s);
	buf_free(&seg);
	if (recorded == TK_SECRET_HELD)
		return n ? TK_SECRET_HELD : 0; /* its value: tk_drift, from the manifest */
	if (n && empty && n->kind != D_SCALAR)
		return n->kind == D_MAP ? 2 : 3;
	return value_hash(NULL, n);
}

/* whether the key "k:{...}" of a fieldsV1 set names element e of a list:
 * every key of the JSON has e's value */
static int
key_names(const char *k, const struct dnode *e)
{
	struct arena a = {0};
	struct dnode *want = NULL;
	int ok = e && e->kind == D_MAP && doc_parse_json(&a, k + 2, strlen(k + 2), &want) == 0 &&
		 want->kind == D_MAP;
	for (size_t i = 0; ok && i < want->n; i++) {
		const struct dnode *have = doc_get(e, want->items[2 * i]->s);
		const char *ws = doc_str(want->items[2 * i + 1]);
		ok = have && ws && doc_str(have) && !strcmp(doc_str(have), ws);
	}
	arena_free(&a);
	return ok;
}

/* whether fieldsV1 set fs holds the field at ptr of object live */
static int
owns(const struct dnode *fs, const struct dnode *live, const char *ptr)
{
	struct buf seg = {0}, f = {0};
	const char *p = ptr;
	while (fs && next_seg(&p, &seg)) {
		const struct dnode *next = NULL;
		if (live && live->kind == D_SEQ) {
			const struct dnode *e = child(live, seg.s);
			buf_clear(&f);
			buf_printf(&f, "i:%s", seg.s);
			next = doc_get(fs, f.s);
			for (size_t i = 0; !next && fs->kind == D_MAP && i < fs->n; i++) {
				const char *k = fs->items[2 * i]->s;
				if (!strncmp(k, "k:", 2) && key_names(k, e))
					next = fs->items[2 * i + 1];
			}
			live = e;
		} else {
			buf_clear(&f);
			buf_printf(&f, "f:%s", seg.s);
			next = doc_get(fs, f.s);
			live = child(live, seg.s);
		}
		fs = next;
	}
	buf_free(&seg);
	buf_free(&f);
	return fs != NULL;
}

const char *
tk_field_owner(const struct dnode *live, const char *ptr)
{
	const struct dnode *mf = doc_path(live, "metadata.managedFields");
	for (size_t i = 0; mf && mf->kind == D_SEQ && i < mf->n; i++) {
		const struct dnode *e = mf->items[i];
		const char *m = doc_str(doc_get(e, "manager"));
		const char *op = doc_str(doc_get(e, "operation"));
		if (m && !(!strcmp(m, "addonmake") && op && !strcmp(op, "Apply")) &&
		    owns(doc_get(e, "fieldsV1"), live, ptr))
			return m;
	}
	/* a removed field, or one changed where the server keeps no owner (a
	 * scale before Kubernetes 1.22): nobody can be named */
	return NULL;
}
