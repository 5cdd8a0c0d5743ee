/* compile: a cluster's profiles → layers with resolved content → the tiered
 * graph. Collects every error it can find; a cluster with errors is not
 * synced at all. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "model.h"

int
valid_dns_label(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		int alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
		if (!alnum && !(c == '-' && i > 0 && i < n - 1))
			return 0;
	}
	return 1;
}

int
parse_order(const struct dnode *n, int64_t *out)
{
	if (!n || n->kind != D_SCALAR)
		return -1;
	const char *s = n->s;
	int neg = 0;
	if (*s == '-' || *s == '+')
		neg = *s++ == '-';
	if (!*s)
		return -1;
	int64_t v = 0;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s) || v > 100000000000LL)
			return -1;
		v = v * 10 + (*s - '0');
	}
	*out = neg ? -v : v;
	return 0;
}

int
layer_add_docs(struct arena *a, struct layer *l, const char *file,
	       const char *text, size_t len, const struct dorigin *o,
	       struct diag *d)
{
	struct dnode **docs;
	size_t n;
	if (doc_parse(a, text, len, o, &docs, &n, d))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (doc_is_null(docs[i]))
			continue; /* an empty document between two --- */
		if (docs[i]->kind != D_MAP) {
			diag_add(d, DIAG_ERROR, file, docs[i]->line, docs[i]->col,
				 "a manifest document must be a mapping (a Kubernetes object)");
			continue;
		}
		if (l->ndocs == l->capdocs) {
			size_t cap = l->capdocs ? l->capdocs * 2 : 8;
			struct dnode **nd = arena_alloc(a, cap * sizeof(*nd));
			const char **nf = arena_alloc(a, cap * sizeof(*nf));
			if (l->ndocs) {
				memcpy(nd, l->docs, l->ndocs * sizeof(*nd));
				memcpy(nf, l->docfiles, l->ndocs * sizeof(*nf));
			}
			l->docs = nd;
			l->docfiles = nf;
			l->capdocs = cap;
		}
		l->docfiles[l->ndocs] = file;
		l->docs[l->ndocs++] = docs[i];
	}
	return 0;
}

struct cctx {
	struct workspace *w;
	struct cluster *c;
	struct diag *d;
	struct layer **layers;
	size_t n, cap;
};

static struct dnode *
pack_values_of(void *vctx, const char *pack)
{
	struct cctx *x = vctx;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->layers[i]->name, pack) == 0 || strcmp(x->layers[i]->pack, pack) == 0)
			return x->layers[i]->values;
	return NULL;
}

static struct dnode *
pack_key(struct dnode *values, const char *key)
{
	return doc_get(doc_get(values, "pack"), key);
}

static void
manifest_entries(struct cctx *x, struct profile *p, struct layer *l,
		 struct dnode *ms, const struct subst_ctx *sc)
{
	struct arena *a = &x->w->a;
	struct diag *d = x->d;
	if (!ms || doc_is_null(ms))
		return;
	if (ms->kind != D_SEQ) {
		diag_add(d, DIAG_ERROR, p->file, ms->line, ms->col, "manifests must be a list");
		return;
	}
	for (size_t i = 0; i < ms->n; i++) {
		struct dnode *m = ms->items[i];
		struct dnode *content = doc_get(m, "content"), *file = doc_get(m, "file");
		const char *mname = doc_str(doc_get(m, "name"));
		for (size_t j = 0; mname && j < i; j++) {
			const char *other = doc_str(doc_get(ms->items[j], "name"));
			if (other && strcmp(other, mname) == 0)
				diag_add(d, DIAG_ERROR, p->file, m->line, m->col,
					 "duplicate manifest name \"%s\" in layer %s", mname, l->id);
		}
		if (content && file) {
			diag_add(d, DIAG_ERROR, p->file, m->line, m->col,
				 "a manifest has either content: or file:, not both");
			continue;
		}
		if (file) {
			if (!doc_str(file)) {
				diag_add(d, DIAG_ERROR, p->file, file->line, file->col,
					 "file: must be a path");
				continue;
			}
			const char *path = path_join(a, path_dir(a, p->file), file->s);
			struct buf t = {0}, out = {0};
			int e = file_read(path, &t);
			if (e) {
				diag_add(d, DIAG_ERROR, p->file, file->line, file->col,
					 "cannot read manifest file %s: %s", path, strerror(e));
				continue;
			}
			struct dorigin o = {path, 1, 1, 0, 1};
			if (!subst_text(sc, t.s, t.len, &o, &out, d)) {
				char *src = arena_strndup(a, out.s, out.len);
				layer_add_docs(a, l, path, src, out.len, &o, d);
			}
			buf_free(&t);
			buf_free(&out);
		} else if (content && content->kind == D_SCALAR) {
			struct dorigin o;
			struct buf out = {0};
			dorigin_of_scalar(&o, p->file, p->src, content);
			if (!subst_text(sc, content->s, content->len, &o, &out, d)) {
				char *src = arena_strndup(a, out.s, out.len);
				layer_add_docs(a, l, p->file, src, out.len, &o, d);
			}
			buf_free(&out);
		} else {
			diag_add(d, DIAG_ERROR, p->file, m->line, m->col,
				 "a manifest needs content: (YAML text) or file: (a path)");
		}
	}
}

static void
readiness_for(struct cctx *x, struct layer *l)
{
	l->r = x->w->defaults;
	for (size_t i = 0; i < x->c->nlopts; i++) {
		struct layer_opts *o = &x->c->lopts[i];
		if (strcmp(o->id, l->id) != 0)
			continue;
		o->used = 1;
		if (o->has_interval)
			l->r.interval_ms = o->r.interval_ms;
		if (o->has_timeout)
			l->r.timeout_ms = o->r.timeout_ms;
		if (o->r.nchecks) {
			l->r.checks = o->r.checks;
			l->r.nchecks = o->r.nchecks;
		}
	}
}

/* one packs[] entry → a layer */
static void
layer_from_entry(struct cctx *x, struct profile *p, struct dnode *e, int pass2)
{
	struct arena *a = &x->w->a;
	struct diag *d = x->d;
	struct layer *l = arena_alloc(a, sizeof(*l));
	l->profile = p->name;
	l->pack = doc_str(doc_get(e, "name"));
	l->type = doc_str(doc_get(e, "type"));
	if (!l->type)
		l->type = "spectro";
	l->version = doc_str(doc_get(e, "version"));
	if (!l->version)
		l->version = doc_str(doc_get(e, "tag"));
	l->at = (struct pos){p->file, e->line, e->col};
	struct subst_ctx sc = {x->c->name, p->name, p->version, p->variables,
			       x->c->variables, x->c->macros, pack_values_of, x};
	struct dnode *vnode = doc_get(e, "values");
	/* placeholders naming another pack need every layer's values: those
	 * layers are loaded in a second pass */
	if (!pass2 && vnode && vnode->kind == D_SCALAR && strstr(vnode->s, ".spectro.pack."))
		return;
	struct dnode *lvals = profile_values(a, p, vnode, &sc, d);
	if (!lvals)
		return;
	const char *type = l->type;
	int is_pack = strcmp(type, "spectro") == 0 || strcmp(type, "oci") == 0;
	if (!is_pack && strcmp(type, "manifest") && strcmp(type, "helm")) {
		struct dnode *t = doc_get(e, "type");
		diag_add(d, DIAG_ERROR, p->file, t->line, t->col,
			 "pack \"%s\" has type \"%s\"; expected spectro, oci, helm or manifest",
			 l->pack, type);
		return;
	}
	struct dnode *base = NULL;
	const char *base_file = NULL;
	if (is_pack &&
	    pack_resolve(x->w, l, doc_get(doc_get(e, "registry"), "metadata"), p->file,
			 &base, &base_file, d))
		return;
	if (strcmp(type, "helm") == 0) {
		diag_add(d, DIAG_ERROR, p->file, e->line, e->col,
			 "helm layer \"%s\": helm charts need remote content support, which this "
			 "version of addonmake does not have yet", l->pack);
		return;
	}
	l->values = doc_merge(a, base, lvals);
	/* pack: settings: the layer's own values win over the pack's */
	struct dnode *n;
	const char *nfile = p->file;
	if (!(n = pack_key(lvals, "spectrocloud.com/install-priority")) &&
	    (n = pack_key(base, "spectrocloud.com/install-priority")))
		nfile = base_file;
	if (n && parse_order(n, &l->order)) {
		diag_add(d, DIAG_ERROR, nfile, n->line, n->col,
			 "install-priority \"%s\" of pack \"%s\" is not an integer",
			 n->kind == D_SCALAR ? n->s : "(not a scalar)", l->pack);
		return;
	}
	nfile = p->file;
	if (!(n = pack_key(lvals, "namespace")) && (n = pack_key(base, "namespace")))
		nfile = base_file;
	l->ns = "default";
	if (n && !doc_is_null(n)) {
		if (n->kind != D_SCALAR || !valid_dns_label(n->s)) {
			diag_add(d, DIAG_ERROR, nfile, n->line, n->col,
				 "namespace \"%s\" of pack \"%s\" is not a valid name "
				 "(lower-case letters, digits and '-', at most 63)",
				 n->kind == D_SCALAR ? n->s : "", l->pack);
			return;
		}
		l->ns = n->s;
	}
	n = pack_key(lvals, "spectrocloud.com/display-name");
	l->name = n && doc_str(n) && *n->s ? n->s : l->pack;
	l->id = arena_printf(a, "%s/%s", p->name, l->name);
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->layers[i]->id, l->id) == 0) {
			diag_add(d, DIAG_ERROR, p->file, e->line, e->col,
				 "duplicate layer %s: already defined at %s:%d:%d (give one a "
				 "pack.spectrocloud.com/display-name)", l->id,
				 x->layers[i]->at.file, x->layers[i]->at.line, x->layers[i]->at.col);
			return;
		}
	if (is_pack && pack_manifests(x->w, l, d))
		return;
	manifest_entries(x, p, l, doc_get(e, "manifests"), &sc);
	if (strcmp(type, "manifest") == 0 && !doc_get(e, "manifests"))
		diag_add(d, DIAG_WARNING, p->file, e->line, e->col,
			 "manifest layer %s has no manifests", l->id);
	readiness_for(x, l);
	l->label = arena_printf(a, "%s\n%s%s%s", l->name, type, l->version ? " " : "",
				l->version ? l->version : "");
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->layers = xrealloc(x->layers, x->cap * sizeof(*x->layers));
	}
	x->layers[x->n++] = l;
}

int
cluster_compile(struct workspace *w, struct cluster *c, struct diag *d)
{
	struct cctx x = {w, c, d, NULL, 0, 0};
	int nerr = d->nerr;
	struct profile *ps = arena_alloc(&w->a, (c->nprofiles + 1) * sizeof(*ps));
	for (size_t i = 0; i < c->nprofiles; i++) {
		struct profile *p = &ps[i];
		if (profile_load(&w->a, c->profiles[i], p, d)) {
			if (!p->root)
				diag_add(d, DIAG_ERROR, c->profile_at[i].file, c->profile_at[i].line,
					 c->profile_at[i].col, "cluster %s: profile %s could not be loaded",
					 c->name, c->profiles[i]);
			p->npacks = 0;
			if (!p->name)
				continue;
		}
		for (size_t j = 0; j < i; j++)
			if (ps[j].name && strcmp(ps[j].name, p->name) == 0)
				diag_add(d, DIAG_ERROR, p->file, p->root->line, p->root->col,
					 "two profiles of cluster %s are named \"%s\" (the other is %s); "
					 "layer ids PROFILE/LAYER would collide", c->name, p->name,
					 ps[j].file);
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->nprofiles; i++)
			for (size_t j = 0; j < ps[i].npacks; j++) {
				struct dnode *v = doc_get(ps[i].packs[j], "values");
				int deferred = v && v->kind == D_SCALAR &&
					       strstr(v->s, ".spectro.pack.");
				if (pass == 0 || deferred)
					layer_from_entry(&x, &ps[i], ps[i].packs[j], pass);
			}
	for (size_t i = 0; i < c->nlopts; i++)
		if (!c->lopts[i].used)
			diag_add(d, DIAG_ERROR, c->lopts[i].at.file, c->lopts[i].at.line,
				 c->lopts[i].at.col, "cluster %s has no layer \"%s\" (layer ids are "
				 "PROFILE/LAYER)", c->name, c->lopts[i].id);
	c->layers = arena_alloc(&w->a, (x.n + 1) * sizeof(*c->layers));
	if (x.n)
		memcpy(c->layers, x.layers, x.n * sizeof(*x.layers));
	c->nlayers = x.n;
	free(x.layers);
	if (d->nerr > nerr)
		return -1;
	for (size_t i = 0; i < c->nlayers; i++) {
		struct layer *l = c->layers[i];
		layer_hash(c, l);
		struct gnode gn = {l->id, l->label, l->order, GS_UNKNOWN, 0, l};
		graph_add(&c->g, &gn);
	}
	graph_build(&c->g);
	return 0;
}
