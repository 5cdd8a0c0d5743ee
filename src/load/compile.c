/* compile: a cluster's profiles → layers with resolved content → the tiered
 * graph. Collects every error it can find; a cluster with errors is not
 * synced at all. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "load.h"

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
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v <= ORDER_LIMIT)
			v = v * 10 + (*s - '0');
	}
	if (v > ORDER_LIMIT)
		return -2;
	*out = neg ? -v : v;
	return 0;
}

int
layer_add_docs(struct arena *a, struct layer_body *b, const char *file,
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
		if (b->ndocs == b->capdocs) {
			size_t cap = b->capdocs ? b->capdocs * 2 : 8;
			struct dnode **nd = arena_alloc(a, cap * sizeof(*nd));
			const char **nf = arena_alloc(a, cap * sizeof(*nf));
			if (b->ndocs) {
				memcpy(nd, b->docs, b->ndocs * sizeof(*nd));
				memcpy(nf, b->docfiles, b->ndocs * sizeof(*nf));
			}
			b->docs = nd;
			b->docfiles = nf;
			b->capdocs = cap;
		}
		b->docfiles[b->ndocs] = file;
		b->docs[b->ndocs++] = docs[i];
	}
	return 0;
}

struct cctx {
	struct workspace *w;
	struct cluster *c;
	struct ldctx lc;
	int keep;              /* content stays loaded (cross-layer references) */
	struct layer **layers;
	size_t n, cap;
	struct strset ids;     /* id → layer */
	size_t prof, entry;    /* where the current entry is */
};

static struct dnode *
pack_values_of(void *vctx, const char *pack)
{
	struct cctx *x = vctx;
	for (size_t i = 0; i < x->n; i++)
		if (strcmp(x->layers[i]->name, pack) == 0 || strcmp(x->layers[i]->pack, pack) == 0)
			return x->layers[i]->body ? x->layers[i]->body->values : NULL;
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
	struct arena *a = x->lc.a;
	struct diag *d = x->lc.d;
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
		struct buf t = {0}, out = {0};
		struct dorigin o;
		const char *src, *where = p->file;
		size_t len;
		if (file) {
			if (!doc_str(file)) {
				diag_add(d, DIAG_ERROR, p->file, file->line, file->col,
					 "file: must be a path");
				continue;
			}
			const char *path = path_join(a, path_dir(a, p->file), file->s);
			int e = ld_read(&x->lc, path, &t);
			if (e) {
				diag_add(d, DIAG_ERROR, p->file, file->line, file->col,
					 "%s: cannot read the manifest file: %s", path, strerror(e));
				buf_free(&t);
				continue;
			}
			o = doc_file_origin(path);
			src = t.s;
			len = t.len;
			where = path;
		} else if (content && content->kind == D_SCALAR) {
			dorigin_of_scalar(&o, p->file, p->src, content);
			src = content->s;
			len = content->len;
		} else {
			diag_add(d, DIAG_ERROR, p->file, m->line, m->col,
				 "a manifest needs content: (YAML text) or file: (a path)");
			continue;
		}
		if (!subst_text(sc, src, len, &o, &out, d)) {
			char *text = arena_strndup(a, out.s, out.len);
			layer_add_docs(a, l->body, where, text, out.len, &o, d);
		}
		buf_free(&t);
		buf_free(&out);
	}
}

const char *
layer_label(struct arena *a, const struct layer *l)
{
	return arena_printf(a, "%s\n%s%s%s\nprofile %s", l->name, l->type, l->version ? " " : "",
			    l->version ? l->version : "", l->profile);
}

const struct layer_opts *
layer_opts_of(const struct cluster *c, const char *id)
{
	for (size_t i = 0; i < c->nlopts; i++)
		if (strcmp(c->lopts[i].id, id) == 0)
			return &c->lopts[i];
	return NULL;
}

int
ignore_rule_names(const struct ignore_rule *g, const char *kind, const char *ns, const char *name)
{
	return !(g->kind && strcmp(g->kind, kind)) && !(g->name && strcmp(g->name, name)) &&
	       !(g->ns && strcmp(g->ns, ns ? ns : ""));
}

void
layer_readiness(struct workspace *w, struct cluster *c, struct layer *l)
{
	l->r = w->defaults;
	for (size_t i = 0; i < c->nlopts; i++) {
		struct layer_opts *o = &c->lopts[i];
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

/* a new layer's metadata, copied out of the content arena (its content
 * stays there, and goes with it) */
static struct layer *
persist(struct cctx *x, struct layer *l)
{
	if (x->keep)
		return l;
	struct layer *p = arena_alloc(&x->w->a, sizeof(*p));
	*p = *l;
	p->body = NULL;
	const char **strs[] = {&p->id, &p->profile, &p->name, &p->pack, &p->type, &p->version,
			       &p->ns, &p->chart.digest, &p->chart.yaml, &p->chart.file,
			       &p->chart.release};
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		if (*strs[i])
			*strs[i] = arena_strdup(&x->w->a, *strs[i]);
	return p;
}

/* values that name another pack ({{.spectro.pack.P.x}}) need every
 * layer's values first: such entries load in a second pass */
static int
refers_to_packs(struct dnode *entry)
{
	struct dnode *v = doc_get(entry, "values");
	return v && v->kind == D_SCALAR && strstr(v->s, ".spectro.pack.") != NULL;
}

/* the pack: settings of a layer — install order, namespace, display name
 * and so its id — the layer's own values winning over the pack's; 0, or
 * -1 with the error at the key that is wrong */
static int
layer_settings(struct cctx *x, struct profile *p, struct layer *l, struct dnode *lvals,
	       struct dnode *base, const char *base_file)
{
	struct diag *d = x->lc.d;
	struct dnode *n;
	const char *nfile = p->file;
	if (!(n = pack_key(lvals, "spectrocloud.com/install-priority")) &&
	    (n = pack_key(base, "spectrocloud.com/install-priority")))
		nfile = base_file;
	int bad = n ? parse_order(n, &l->order) : 0;
	if (bad) {
		diag_add(d, DIAG_ERROR, nfile, n->line, n->col,
			 "install-priority \"%s\" of pack \"%s\" is %s (install orders are "
			 "integers from %d to %d)", n->kind == D_SCALAR ? n->s : "(not a scalar)",
			 l->pack, bad == -2 ? "out of range" : "not an integer", -ORDER_LIMIT,
			 ORDER_LIMIT);
		return -1;
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
			return -1;
		}
		l->ns = n->s;
	}
	n = pack_key(lvals, "spectrocloud.com/display-name");
	l->name = n && doc_str(n) && *n->s ? n->s : l->pack;
	l->id = arena_printf(x->lc.a, "%s/%s", p->name, l->name);
	return 0;
}

/* the documents of a pack's templates */
static int
add_pack_manifests(struct cctx *x, struct layer *l)
{
	struct rendered *r;
	size_t n;
	int rc = pack_manifests(&x->lc, l, &r, &n);
	for (size_t i = 0; i < n; i++) {
		struct dorigin o = doc_file_origin(r[i].file);
		if (layer_add_docs(x->lc.a, l->body, r[i].file, r[i].text, r[i].len, &o, x->lc.d))
			rc = -1;
	}
	return rc;
}

/* a layer's documents: a pack's templates and charts, a helm chart (or,
 * with kept, what helm rendered of it earlier in the run: helm runs once
 * per layer and run), then the entry's own manifests; 0, or -1 with the
 * errors in d */
static int
layer_docs(struct cctx *x, struct profile *p, struct dnode *e, struct layer *l,
	   const struct subst_ctx *sc, const struct layer_chart *kept)
{
	int is_pack = strcmp(l->type, "spectro") == 0 || strcmp(l->type, "oci") == 0;
	int is_helm = strcmp(l->type, "helm") == 0;
	if (is_pack && !x->lc.spectro) {
		/* .Spectro: the cluster's name, and its macros; made once,
		 * in the workspace arena (profile arenas come and go) */
		struct arena *wa = &x->w->a;
		struct dnode *sp = doc_new(wa, D_MAP, 1);
		sp->items[0] = doc_scalar(wa, "cluster", DS_PLAIN);
		sp->items[1] = doc_scalar(wa, x->c->name, DS_QUOTED);
		x->lc.spectro = doc_merge(wa, x->c->macros, sp);
	}
	if (is_pack && add_pack_manifests(x, l))
		return -1;
	if ((is_pack || is_helm) && kept && kept->yaml)
		l->chart = *kept;
	else if (is_pack && pack_charts(&x->lc, l, p->file))
		return -1;
	else if (is_helm &&
		 helm_layer(&x->lc, l, doc_get(doc_get(e, "registry"), "metadata"), p->file))
		return -1;
	if (l->chart.yaml) {
		const char *what = arena_printf(x->lc.a, "helm template of %s %s", l->pack,
						l->version ? l->version : "");
		struct dorigin o = doc_file_origin(what);
		if (layer_add_docs(x->lc.a, l->body, what, l->chart.yaml, strlen(l->chart.yaml), &o,
				   x->lc.d))
			return -1;
	}
	manifest_entries(x, p, l, doc_get(e, "manifests"), sc);
	return 0;
}

/* a compiled layer joins the cluster, its metadata persisted */
static void
layer_keep(struct cctx *x, struct layer *l)
{
	layer_readiness(x->w, x->c, l);
	l->label = layer_label(&x->w->a, l);
	l = persist(x, l);
	int added;
	*strset_slot(&x->ids, l->id, &added) = l;
	if (x->n == x->cap) {
		x->cap = x->cap ? x->cap * 2 : 16;
		x->layers = xrealloc(x->layers, x->cap * sizeof(*x->layers));
	}
	x->layers[x->n++] = l;
}

/* the substitution context of profile p's entries */
static struct subst_ctx
entry_subst(struct cctx *x, const struct profile *p)
{
	return (struct subst_ctx){.cluster = x->c->name, .profile = p->name,
				  .profile_version = p->version, .profile_vars = p->variables,
				  .vars = x->c->variables, .macros = x->c->macros,
				  .pack_values = pack_values_of, .pack_ctx = x,
				  .secret = &x->w->secret, .secret_a = &x->w->a};
}

/* the first step of an entry, for compile and content load alike: a
 * layer (in the content arena) with its values and settings, so its id;
 * NULL with the errors in d */
static struct layer *
entry_layer(struct cctx *x, struct profile *p, struct dnode *e, const struct subst_ctx *sc)
{
	struct arena *a = x->lc.a;
	struct diag *d = x->lc.d;
	struct layer *l = arena_alloc(a, sizeof(*l));
	l->body = arena_alloc(a, sizeof(*l->body));
	l->profile = p->name;
	l->prof = x->prof;
	l->entry = x->entry;
	l->pack = doc_str(doc_get(e, "name"));
	l->type = doc_str(doc_get(e, "type"));
	if (!l->type)
		l->type = "spectro";
	l->version = doc_str(doc_get(e, "version"));
	if (!l->version)
		l->version = doc_str(doc_get(e, "tag"));
	l->at = (struct pos){.file = x->c->profiles[x->prof], .line = e->line, .col = e->col};
	struct dnode *lvals = profile_values(a, p, doc_get(e, "values"), sc, d);
	if (!lvals)
		return NULL;
	int is_pack = strcmp(l->type, "spectro") == 0 || strcmp(l->type, "oci") == 0;
	if (!is_pack && strcmp(l->type, "manifest") && strcmp(l->type, "helm")) {
		struct dnode *t = doc_get(e, "type");
		diag_add(d, DIAG_ERROR, p->file, t->line, t->col,
			 "pack \"%s\" has type \"%s\"; expected spectro, oci, helm or manifest",
			 l->pack, l->type);
		return NULL;
	}
	struct dnode *base = NULL;
	const char *base_file = NULL;
	if (is_pack &&
	    pack_resolve(&x->lc, l, doc_get(doc_get(e, "registry"), "metadata"), p->file,
			 &base, &base_file))
		return NULL;
	l->body->values = doc_merge(a, base, lvals);
	return layer_settings(x, p, l, lvals, base, base_file) ? NULL : l;
}

/* one packs[] entry → a layer of the cluster */
static void
layer_from_entry(struct cctx *x, struct profile *p, struct dnode *e, int pass2)
{
	if (!pass2 && refers_to_packs(e))
		return;
	struct subst_ctx sc = entry_subst(x, p);
	struct layer *l = entry_layer(x, p, e, &sc);
	if (!l)
		return;
	struct layer *other = strset_get(&x->ids, l->id);
	if (other) {
		diag_add(x->lc.d, DIAG_ERROR, p->file, e->line, e->col,
			 "duplicate layer %s: already defined at %s:%d:%d (give one a "
			 "pack.spectrocloud.com/display-name)", l->id,
			 other->at.file, other->at.line, other->at.col);
		return;
	}
	if (layer_docs(x, p, e, l, &sc, NULL))
		return;
	if (strcmp(l->type, "manifest") == 0 && !doc_get(e, "manifests"))
		diag_add(x->lc.d, DIAG_WARNING, p->file, e->line, e->col,
			 "manifest layer %s has no manifests", l->id);
	layer_hash(x->c, l);
	layer_keep(x, l);
}

/* the content of a known layer, from its entry of profile p (loaded
 * again): the same steps as compiling it, with what helm rendered then.
 * What is applied is what is recorded: its hash is that of this content.
 * 0, or -1 with the errors in d */
static int
layer_content(struct cctx *x, struct profile *p, struct layer *known)
{
	int nerr = x->lc.d->nerr;
	x->prof = known->prof;
	x->entry = known->entry;
	struct dnode *e = known->entry < p->npacks ? p->packs[known->entry] : NULL;
	struct subst_ctx sc = entry_subst(x, p);
	struct layer *l = e ? entry_layer(x, p, e, &sc) : NULL;
	if (l && strcmp(l->id, known->id) == 0 && !layer_docs(x, p, e, l, &sc, &known->chart)) {
		layer_hash(x->c, l);
		known->hash = l->hash;
		known->body = l->body;
		return 0;
	}
	if (x->lc.d->nerr == nerr)
		diag_add(x->lc.d, DIAG_ERROR, known->at.file, known->at.line, known->at.col,
			 "layer %s is no longer where it was when the run began", known->id);
	return -1;
}

static int
has_pack_refs(const struct profile *p)
{
	for (size_t j = 0; j < p->npacks; j++)
		if (refers_to_packs(p->packs[j]))
			return 1;
	return 0;
}

/* loads profile i into the content arena and runs its entries */
static int
load_profile(struct cctx *x, struct profile *p, size_t i, int pass)
{
	x->prof = i;
	for (size_t j = 0; j < p->npacks; j++) {
		x->entry = j;
		if (pass == 0 || refers_to_packs(p->packs[j]))
			layer_from_entry(x, p, p->packs[j], pass);
	}
	return 0;
}

static void
check_profile_names(struct cctx *x, struct profile *ps, size_t n, struct strset *names)
{
	for (size_t i = 0; i < n; i++) {
		if (!ps[i].name)
			continue;
		int added;
		void **slot = strset_slot(names, ps[i].name, &added);
		if (added) {
			*slot = &ps[i];
			continue;
		}
		struct profile *first = *slot;
		diag_add(x->lc.d, DIAG_ERROR, ps[i].file, ps[i].root->line, ps[i].root->col,
			 "two profiles of cluster %s are named \"%s\" (the other is %s); "
			 "layer ids PROFILE/LAYER would collide", x->c->name, ps[i].name,
			 first->file);
	}
}

/* profiles of at most this many bytes in all stay loaded for the apply
 * phase: their trees take some tens of MiB at most, and the tiers do not
 * parse them again */
#define KEEP_BYTES (2L << 20)

static int
small_enough_to_keep(const struct cluster *c)
{
	long total = 0;
	for (size_t i = 0; i < c->nprofiles; i++) {
		struct stat st;
		if (stat(c->profiles[i], &st) < 0)
			return 0; /* reported when it is loaded */
		total += (long)st.st_size;
		if (total > KEEP_BYTES)
			return 0;
	}
	return 1;
}

static int
compile_pass(struct workspace *w, struct cluster *c, struct deps *deps, struct diag *d)
{
	struct cctx x = {.w = w, .c = c, .lc = {.w = w, .a = NULL, .deps = deps, .d = d}};
	int nerr = d->nerr;
	size_t ndeps0 = deps ? deps->n : 0, ndiag0 = d->n;
	struct strset names = {0};
	/* names are kept in the workspace arena; trees in one arena per
	 * profile, freed once its layers are hashed. A small cluster, or one
	 * whose values refer to other packs, keeps everything loaded
	 * instead. */
	struct profile *ps = arena_alloc(&w->a, (c->nprofiles + 1) * sizeof(*ps));
	struct arena tmp = {0};
	x.keep = small_enough_to_keep(c);
	for (size_t i = 0; i < c->nprofiles && !x.keep; i++) {
		x.lc.a = &tmp;
		if (profile_load(&x.lc, c->profiles[i], &c->profile_at[i], &ps[i]))
			ps[i].npacks = 0;
		if (has_pack_refs(&ps[i])) {
			x.keep = 1;
			break;
		}
		ps[i].name = ps[i].name ? arena_strdup(&w->a, ps[i].name) : NULL;
		load_profile(&x, &ps[i], i, 0);
		if (ps[i].root) {
			/* only the position outlives the profile's arena */
			struct dnode *r = doc_new(&w->a, D_MAP, 0);
			r->line = ps[i].root->line;
			r->col = ps[i].root->col;
			ps[i].root = r;
		}
		arena_free(&tmp);
	}
	if (x.keep) {
		/* start over with everything in the workspace arena */
		arena_free(&tmp);
		x.n = 0;
		strset_free(&x.ids);
		if (deps)
			deps->n = ndeps0;
		diag_truncate(d, ndiag0);
		x.lc.a = &w->a;
		for (size_t i = 0; i < c->nprofiles; i++)
			if (profile_load(&x.lc, c->profiles[i], &c->profile_at[i], &ps[i]))
				ps[i].npacks = 0;
		for (int pass = 0; pass < 2; pass++)
			for (size_t i = 0; i < c->nprofiles; i++)
				load_profile(&x, &ps[i], i, pass);
	}
	check_profile_names(&x, ps, c->nprofiles, &names);
	strset_free(&names);
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
	strset_free(&x.ids);
	if (d->nerr > nerr || w->fx.nqueue)
		return -1; /* a pass with queued downloads is done again */
	if (c->target.kind == TARGET_RENDER && render_names_check(c, d))
		return -1;
	if (!c->nlayers) /* a mistake more often than not: say so */
		diag_add(d, DIAG_WARNING, c->at.file, c->at.line, c->at.col,
			 c->nprofiles ? "cluster %s has no layers: its profiles have no add-on layers "
					"(infrastructure layers are the cluster's own, and skipped)"
				      : "cluster %s has no layers: it names no profiles (profiles:)",
			 c->name);
	cluster_graph(c);
	return 0;
}

/* two passes when downloads are missing: the first queues them, dl_run
 * fetches them all at once, the second finds them in the cache */
int
cluster_compile(struct workspace *w, struct cluster *c, struct deps *deps, struct diag *d)
{
	size_t nd = d->n, ndeps = deps ? deps->n : 0;
	int nremote = d->nremote;
	w->fx.defer = !w->fx.offline;
	int rc = compile_pass(w, c, deps, d);
	w->fx.defer = 0;
	if (!w->fx.nqueue)
		return rc;
	dl_run(&w->fx, w->quiet ? NULL : c->name);
	diag_truncate(d, nd);
	d->nremote = nremote;
	if (deps)
		deps->n = ndeps;
	for (size_t i = 0; i < c->nlopts; i++)
		c->lopts[i].used = 0;
	return compile_pass(w, c, deps, d);
}

void
cluster_graph(struct cluster *c)
{
	graph_free(&c->g);
	for (size_t i = 0; i < c->nlayers; i++) {
		struct layer *l = c->layers[i];
		struct gnode gn = {.id = l->id, .label = l->label, .order = l->order,
				   .state = GS_UNKNOWN, .tier = 0, .data = l};
		graph_add(&c->g, &gn);
	}
	graph_build(&c->g);
}

int
layer_load_content(struct workspace *w, struct cluster *c, struct layer **ls,
		   size_t n, struct arena *a, struct diag *d)
{
	struct cctx x = {.w = w, .c = c, .lc = {.w = w, .a = a, .deps = NULL, .d = d}};
	int rc = 0;
	/* one parse per profile: the layers of one profile are handled
	 * together (n is a tier's dirty layers: a quadratic scan is fine) */
	for (size_t i = 0; i < n; i++) {
		if (ls[i]->body)
			continue;
		struct profile p;
		if (profile_load(&x.lc, c->profiles[ls[i]->prof], &c->profile_at[ls[i]->prof], &p)) {
			rc = -1;
			continue;
		}
		for (size_t k = i; k < n; k++)
			if (!ls[k]->body && ls[k]->prof == ls[i]->prof && layer_content(&x, &p, ls[k]))
				rc = -1;
	}
	return rc;
}
