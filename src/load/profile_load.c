/* profile_load: one Palette profile export (JSON or YAML; libyaml reads
 * both) → its add-on pack entries. Exports carry many fields we do not use;
 * they are ignored, so an export can be dropped into a repository unchanged.
 * Infrastructure layers are skipped with one warning each: the cluster's
 * infrastructure owns them. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "load.h"

/* a file larger than this is refused before it is read (EFBIG): no
 * profile, manifest, index or chart archive comes near it, and parsing one
 * that large would take the machine's memory */
#define LD_MAX_BYTES (64L << 20)

int
ld_read(struct ldctx *lc, const char *path, struct buf *out)
{
	struct stat st;
	int e = stat(path, &st) == 0 && st.st_size > LD_MAX_BYTES ? EFBIG
									: file_read_st(path, out, &st);
	if (!lc->deps)
		return e;
	struct deps *ds = lc->deps;
	if (ds->n == ds->cap) {
		ds->cap = ds->cap ? ds->cap * 2 : 64;
		ds->v = xrealloc(ds->v, ds->cap * sizeof(*ds->v));
	}
	struct dep *dp = &ds->v[ds->n++];
	dp->path = arena_strdup(&lc->w->a, path);
	if (e) {
		dp->size = -1;
		dp->mtime_ns = dp->ctime_ns = 0;
		dp->ino = 0;
	} else {
		dp->size = (int64_t)st.st_size;
		dp->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
		dp->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
		dp->ino = (uint64_t)st.st_ino;
	}
	return e;
}

static int
is_infra_layer(const char *layer)
{
	static const char *const infra[] = {"os", "k8s", "cni", "csi", "kernel", NULL};
	for (const char *const *p = infra; *p; p++)
		if (strcmp(layer, *p) == 0)
			return 1;
	return 0;
}

/* a profile that cannot be read: said where the workspace names it, when
 * it does */
static void
read_err(struct diag *d, const char *file, const struct pos *named, int e)
{
	if (named)
		diag_add(d, DIAG_ERROR, named->file, named->line, named->col,
			 "%s: cannot read the profile: %s", file, strerror(e));
	else
		diag_add(d, DIAG_ERROR, file, 0, 0, "cannot read the profile: %s", strerror(e));
}

/* whether an entry of spec.template.packs is an add-on layer addonmake
 * syncs: a mapping with a name, of the addon layer (an infrastructure
 * layer is skipped with a warning; another layer is an error) */
static int
addon_entry(struct diag *d, const char *file, struct dnode *pk)
{
	if (pk->kind != D_MAP) {
		diag_add(d, DIAG_ERROR, file, pk->line, pk->col,
			 "each entry of spec.template.packs must be a mapping");
		return 0;
	}
	const char *name = doc_str(doc_get(pk, "name"));
	if (!name || !*name) {
		diag_add(d, DIAG_ERROR, file, pk->line, pk->col, "a pack entry has no name");
		return 0;
	}
	const char *layer = doc_str(doc_get(pk, "layer"));
	if (!layer || strcmp(layer, "addon") == 0)
		return 1;
	if (is_infra_layer(layer))
		diag_add(d, DIAG_WARNING, file, pk->line, pk->col,
			 "skipping %s layer \"%s\": infrastructure layers are "
			 "owned by the cluster's infrastructure, not by add-on syncs",
			 layer, name);
	else
		diag_add(d, DIAG_ERROR, file, doc_get(pk, "layer")->line, doc_get(pk, "layer")->col,
			 "layer \"%s\" of pack \"%s\" is not one of addon, os, k8s, cni, csi, kernel",
			 layer, name);
	return 0;
}

int
profile_load(struct ldctx *lc, const char *file, const struct pos *named,
	     struct profile *p)
{
	struct arena *a = lc->a;
	struct diag *d = lc->d;
	struct buf text = {0};
	int nerr = d->nerr;
	memset(p, 0, sizeof(*p));
	p->file = file;
	int e = ld_read(lc, file, &text);
	if (e) {
		read_err(d, file, named, e);
		buf_free(&text);
		return -1;
	}
	p->src = arena_alloc(a, sizeof(*p->src));
	p->src->s = arena_strndup(a, text.s, text.len);
	struct dnode **docs;
	size_t n;
	struct dorigin o = doc_file_origin(file);
	int rc = doc_parse(a, p->src->s, text.len, &o, &docs, &n, d);
	buf_free(&text);
	if (rc)
		return -1;
	if (n != 1 || docs[0]->kind != D_MAP) {
		diag_add(d, DIAG_ERROR, file, n ? docs[0]->line : 1, n ? docs[0]->col : 1,
			 "a profile must be one mapping with metadata: and spec: (Palette's export format)");
		return -1;
	}
	p->root = docs[0];
	struct dnode *md = doc_get(p->root, "metadata");
	struct dnode *spec = doc_get(p->root, "spec");
	p->name = doc_str(doc_get(md, "name"));
	if (!p->name || !*p->name) {
		struct dnode *at = md ? md : p->root;
		diag_add(d, DIAG_ERROR, file, at->line, at->col,
			 "the profile has no metadata.name");
		return -1;
	}
	if (strchr(p->name, '/')) {
		struct dnode *at = doc_get(md, "name");
		diag_add(d, DIAG_ERROR, file, at->line, at->col,
			 "profile name \"%s\" must not contain '/'", p->name);
	}
	p->version = doc_str(doc_get(spec, "version"));
	if (!p->version)
		p->version = "1.0.0";
	p->variables = doc_get(spec, "variables");
	if (p->variables && p->variables->kind != D_SEQ) {
		if (!doc_is_null(p->variables))
			diag_add(d, DIAG_ERROR, file, p->variables->line, p->variables->col,
				 "spec.variables must be a list");
		p->variables = NULL;
	}
	struct dnode *packs = doc_path(spec, "template.packs");
	if (!packs || doc_is_null(packs)) {
		struct dnode *at = spec ? spec : p->root;
		diag_add(d, DIAG_ERROR, file, at->line, at->col,
			 "the profile has no spec.template.packs");
		return -1;
	}
	if (packs->kind != D_SEQ) {
		diag_add(d, DIAG_ERROR, file, packs->line, packs->col,
			 "spec.template.packs must be a list");
		return -1;
	}
	p->packs = arena_alloc(a, (packs->n + 1) * sizeof(*p->packs));
	for (size_t i = 0; i < packs->n; i++)
		if (addon_entry(d, file, packs->items[i]))
			p->packs[p->npacks++] = packs->items[i];
	return d->nerr > nerr ? -1 : 0;
}

/* values: a YAML string (Palette's export) or, in hand-written repos, a
 * mapping; placeholders are substituted on the text first */
struct dnode *
profile_values(struct arena *a, const struct profile *p, struct dnode *v,
	       const struct subst_ctx *sc, struct diag *d)
{
	if (!v || doc_is_null(v))
		return doc_new(a, D_MAP, 0);
	if (v->kind == D_SCALAR) {
		struct dorigin o;
		struct buf t = {0};
		dorigin_of_scalar(&o, p->file, p->src, v);
		if (subst_text(sc, v->s, v->len, &o, &t, d)) {
			buf_free(&t);
			return NULL;
		}
		struct dnode *root;
		int rc = doc_parse_first(a, t.s, t.len, &o, &root, d);
		buf_free(&t);
		if (rc)
			return NULL;
		if (!root || doc_is_null(root))
			return doc_new(a, D_MAP, 0);
		if (root->kind != D_MAP) {
			diag_add(d, DIAG_ERROR, p->file, v->line, v->col,
				 "values must be a YAML mapping");
			return NULL;
		}
		return root;
	}
	if (v->kind == D_SEQ) {
		diag_add(d, DIAG_ERROR, p->file, v->line, v->col,
			 "values must be a YAML string or a mapping");
		return NULL;
	}
	/* a mapping: substitute inside each scalar that has a placeholder */
	struct dnode *m = doc_new(a, D_MAP, v->n);
	*m = *v;
	m->items = arena_alloc(a, (2 * v->n + 1) * sizeof(*m->items));
	for (size_t i = 0; i < 2 * v->n; i++) {
		struct dnode *c = v->items[i];
		if (c->kind == D_MAP && i % 2)
			c = profile_values(a, p, c, sc, d);
		else if (c->kind == D_SCALAR && strstr(c->s, "{{")) {
			struct dorigin o;
			struct buf t = {0};
			dorigin_of_scalar(&o, p->file, p->src, c);
			if (!subst_text(sc, c->s, c->len, &o, &t, d)) {
				struct dnode *s = doc_scalar(a, t.s, c->style);
				s->line = c->line;
				s->col = c->col;
				c = s;
			}
			buf_free(&t);
		}
		m->items[i] = c ? c : v->items[i];
	}
	return m;
}

