/* helm: a helm layer's chart from a Helm repository — a file:// directory,
 * an http(s):// repository (its index and archives come through
 * helm_repo.c of src/fetch) or oci:// (oci.c) — at the version asked for
 * (exact, else the newest release matching it as a constraint), the .tgz
 * checked against the index's SHA-256 digest; then rendered by the helm
 * binary (ADDONMAKE_HELM, else helm on PATH) with `helm template`, in a
 * temporary directory removed afterwards. A chart URL that is absolute is
 * looked up by its file name in a file:// repository's directory: an index
 * copied from a web repository still works offline. */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "load.h"

const char *
helm_binary(struct arena *a)
{
	const char *e = getenv("ADDONMAKE_HELM");
	if (e && *e)
		return e;
	const char *path = getenv("PATH");
	for (const char *s = path; s && *s;) {
		const char *c = strchr(s, ':');
		size_t l = c ? (size_t)(c - s) : strlen(s);
		char *cand = arena_printf(a, "%.*s/helm", (int)l, s);
		if (l && access(cand, X_OK) == 0)
			return cand;
		s += l + (c ? 1 : 0);
	}
	return NULL;
}

/* the index entry for chart name at the version asked for */
static struct dnode *
pick(struct dnode *versions, const char *want, int *bad_constraint)
{
	const char **vs = xcalloc(versions->n, sizeof(*vs));
	for (size_t i = 0; i < versions->n; i++)
		vs[i] = doc_str(doc_get(versions->items[i], "version"));
	int k = semver_pick(vs, versions->n, want, bad_constraint);
	free(vs);
	return k < 0 ? NULL : versions->items[k];
}

/* the name in an unpacked chart's Chart.yaml */
static const char *
chart_name(struct ldctx *lc, const char *cdir)
{
	struct buf t = {0};
	const char *path = arena_printf(lc->a, "%s/Chart.yaml", cdir);
	if (file_read(path, &t)) {
		buf_free(&t);
		return NULL;
	}
	struct dorigin o = doc_file_origin(path);
	struct dnode *root;
	const char *name = NULL;
	if (!doc_parse_first(lc->a, t.s, t.len, &o, &root, NULL))
		name = doc_str(doc_get(root, "name"));
	buf_free(&t);
	return name;
}

void
helm_values(const struct layer *l, const char *chart, struct buf *out)
{
	struct dnode *cv = doc_get(doc_get(l->body->values, "charts"), chart);
	if (cv && !doc_is_null(cv))
		doc_emit(out, cv);
}

/* renders one chart archive with helm template; the chart's values are
 * charts.<chart> of the layer's values, its release name (into *relp)
 * pack.releaseNameOverride.<chart>, else <layer>-<chart> (Palette's) */
static char *
render(struct ldctx *lc, struct layer *l, const char *chart, const char *tgz,
       size_t ntgz, const char **relp, struct buf *err)
{
	struct arena *a = lc->a;
	const char *helm = helm_binary(a);
	if (!helm) {
		buf_adds(err, "rendering a chart needs the helm binary: install helm, or set "
			 "ADDONMAKE_HELM to its path");
		return NULL;
	}
	const char *t = getenv("TMPDIR");
	char *dir = arena_printf(a, "%s/addonmake-chart-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir)) {
		buf_printf(err, "cannot make a temporary directory: %s", strerror(errno));
		return NULL;
	}
	struct procs local, *ps = lc->w ? lc->w->ps : NULL;
	if (!ps) {
		procs_init(&local);
		ps = &local;
	}
	int slot = procs_tmp_add(ps, dir);
	char *out = NULL;
	char *cdir = arena_printf(a, "%s/chart", dir);
	char *vfile = arena_printf(a, "%s/values.yaml", dir);
	struct buf vals = {0}, res = {0};
	int e;
	const char *rel = NULL;
	if (tgz_unpack(tgz, ntgz, cdir, err)) {
		buf_printf(err, " (chart %s)", chart ? chart : "archive");
	} else if (!chart && !(chart = chart_name(lc, cdir))) {
		buf_adds(err, "the chart archive has no Chart.yaml with a name");
	} else {
		helm_values(l, chart, &vals);
		rel = doc_str(doc_get(doc_get(doc_get(l->body->values, "pack"), "releaseNameOverride"),
				      chart));
		if (!rel)
			rel = arena_printf(a, "%s-%s", l->name, chart);
	}
	if (err->len) {
		/* reported below */
	} else if ((e = file_write_replace(vfile, vals.s ? vals.s : "", vals.len, 0))) {
		buf_printf(err, "cannot write %s: %s", vfile, strerror(e));
	} else {
		char *argv[] = {(char *)helm, "template", (char *)rel, cdir,
				"--namespace", (char *)l->ns, "--values", vfile, "--include-crds", NULL};
		struct buf eb = {0};
		int status;
		int rc = proc_run_split(ps, argv, NULL, now_ms() + 120000, &res, &status, &eb);
		if (rc == 0 && status == 0)
			out = arena_strndup(a, res.s ? res.s : "", res.len);
		else if (rc == ETIMEDOUT)
			buf_printf(err, "%s template did not finish within 120s", helm);
		else if (rc == ECANCELED)
			buf_printf(err, "%s template: interrupted", helm);
		else if (rc)
			buf_adds(err, eb.s);
		else
			buf_printf(err, "%s template failed (exit %d)%s%s", helm, status,
				   eb.len ? ": " : "", eb.len ? eb.s : "");
		buf_free(&eb);
	}
	buf_free(&vals);
	buf_free(&res);
	file_rmtree(dir);
	procs_tmp_done(ps, slot);
	if (ps == &local)
		pthread_mutex_destroy(&local.mu);
	if (relp)
		*relp = rel;
	return out;
}

/* a remote error: the server's fault, not the input's (exit 1) */
static void
remote_err(struct ldctx *lc, const struct layer *l, const char *file, const struct buf *err)
{
	diag_add(lc->d, DIAG_ERROR, file, l->at.line, l->at.col, "helm layer %s: %s", l->id, err->s);
	lc->d->nremote++;
}

/* a verified chart archive (freed here) → the layer's documents, the
 * digest in its hash, the rendering kept for the run */
static int
render_chart(struct ldctx *lc, struct layer *l, const char *profile_file, struct buf *tgz)
{
	struct arena *a = lc->a;
	if (lc->w->fx.defer && lc->w->fx.nqueue) {
		/* this pass is done again once the queue is fetched */
		buf_free(tgz);
		return -1;
	}
	char hex[65];
	sha256_hex(tgz->s, tgz->len, hex);
	l->chart.digest = arena_strdup(a, hex);
	struct buf err = {0};
	char *yaml = render(lc, l, l->pack, tgz->s, tgz->len, &l->chart.release, &err);
	/* the kube target installs this very archive from the cache (where a
	 * file:// chart is not yet); without it, that target says so */
	char *cached = dl_path(&lc->w->fx, hex);
	if (access(cached, R_OK) == 0 || dl_put(&lc->w->fx, hex, tgz->s, tgz->len) == 0)
		l->chart.file = cached;
	buf_free(tgz);
	if (!yaml) {
		diag_add(lc->d, DIAG_ERROR, profile_file, l->at.line, l->at.col, "helm layer %s: %s",
			 l->id, err.s);
		buf_free(&err);
		return -1;
	}
	l->chart.yaml = yaml;
	return 0;
}

/* an error at the layer's entry in its profile; -1 */
static int
layer_err(struct ldctx *lc, const struct layer *l, const char *profile_file, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	struct buf m = {0};
	buf_vprintf(&m, fmt, ap);
	va_end(ap);
	diag_add(lc->d, DIAG_ERROR, profile_file, l->at.line, l->at.col, "%s", m.s);
	buf_free(&m);
	return -1;
}

/* the Helm registry a layer names, usable: a helm registry at file://,
 * http(s):// or oci://, and the layer has a version; NULL (said) else */
static struct registry *
helm_registry(struct ldctx *lc, struct layer *l, struct dnode *regmeta, const char *pfile)
{
	const char *rname = doc_str(doc_get(regmeta, "name"));
	if (!rname)
		rname = doc_str(doc_get(regmeta, "uid"));
	struct registry *r = regmeta ? registry_find(lc->w, regmeta) : NULL;
	if (!r) {
		layer_err(lc, l, pfile, "helm layer \"%s\": unknown registry \"%s\"; add it under "
			  "registries: in %s (for example: {name: \"%s\", kind: helm, url: file://charts})",
			  l->pack, rname ? rname : "(none given)", lc->w->file, rname ? rname : "charts");
		return NULL;
	}
	if (strcmp(r->kind, "helm") != 0) {
		layer_err(lc, l, pfile, "helm layer \"%s\": registry \"%s\" is a %s registry, not a "
			  "helm registry", l->pack, r->name, r->kind);
		return NULL;
	}
	if (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0 &&
	    strncmp(r->url, "oci://", 6) != 0 && strncmp(r->url, "file://", 7) != 0) {
		layer_err(lc, l, pfile, "helm layer \"%s\": registry \"%s\" is at %s; addonmake reads "
			  "file://, http://, https:// and oci:// Helm registries", l->pack, r->name, r->url);
		return NULL;
	}
	if (!l->version) {
		layer_err(lc, l, pfile, "helm layer \"%s\" has no version: or tag:", l->pack);
		return NULL;
	}
	return registry_check(lc, r, l, pfile) ? NULL : r;
}

/* a chart from an OCI registry: <registry>/<path>/<chart>:<version>, a
 * constraint resolved to the newest matching tag */
static int
helm_oci(struct ldctx *lc, struct layer *l, struct registry *r, const char *pfile)
{
	static const char *const media[] = {"application/vnd.cncf.helm.chart.content.v1.tar+gzip",
					    "application/tar+gzip", NULL};
	const char *base = strchr(r->url + 6, '/');
	const char *repo = base ? arena_printf(lc->a, "%s/%s", base + 1, l->pack) : l->pack;
	struct buf blob = {0}, err = {0};
	char hx[65];
	int rc = 0;
	if (!semver_pinned(l->version)) {
		rc = oci_resolve(&lc->w->fx, lc->a, r, repo, l->version, &l->version, &err);
		if (rc > 0)
			layer_err(lc, l, pfile, "helm layer %s: %s", l->id, err.s);
	}
	if (!rc)
		rc = oci_pull(&lc->w->fx, lc->a, r, repo, l->version, media, &blob, hx, &err);
	if (rc) {
		if (rc < 0) /* else queued, or no tag matches (said above) */
			remote_err(lc, l, pfile, &err);
		buf_free(&blob);
		buf_free(&err);
		return -1;
	}
	buf_free(&err);
	return render_chart(lc, l, pfile, &blob);
}

/* the entry of the repository's index for the layer's chart at its
 * version (exact, else the newest matching it as a constraint), which
 * then names the version; NULL (said) when there is none */
static struct dnode *
index_entry(struct ldctx *lc, struct layer *l, struct registry *r, const char *pfile,
	    int remote, const char *dir, const char **ipath)
{
	struct buf t = {0};
	int e = 0;
	*ipath = remote ? helm_url_resolve(lc->a, dir, "index.yaml") : arena_printf(lc->a, "%s/index.yaml", dir);
	struct buf err = {0};
	if (remote ? helm_index_get(&lc->w->fx, lc->a, r, *ipath, &t, &err) != 0
		   : (e = ld_read(lc, *ipath, &t)) != 0) {
		if (e)
			layer_err(lc, l, pfile, "%s: cannot read the index of helm layer \"%s\": %s", *ipath,
				  l->pack, strerror(e));
		else
			remote_err(lc, l, pfile, &err);
		buf_free(&t);
		buf_free(&err);
		return NULL;
	}
	buf_free(&err); /* what retries said before the index came */
	struct dorigin o = doc_file_origin(*ipath);
	struct dnode *index;
	int rc = doc_parse_first(lc->a, t.s, t.len, &o, &index, lc->d);
	buf_free(&t);
	if (rc)
		return NULL;
	struct dnode *versions = doc_get(doc_get(index, "entries"), l->pack);
	if (!versions || versions->kind != D_SEQ || !versions->n) {
		layer_err(lc, l, pfile, "unknown chart \"%s\" in Helm repository \"%s\" (%s)", l->pack,
			  r->name, *ipath);
		return NULL;
	}
	int bad;
	struct dnode *ent = pick(versions, l->version, &bad);
	if (bad) {
		layer_err(lc, l, pfile, "helm layer \"%s\": \"%s\" is neither a version nor a "
			  "constraint (such as 1.2.3, ~1.2, ^1, >=1.0 <2.0)", l->pack, l->version);
		return NULL;
	}
	if (!ent) {
		struct buf av = {0};
		for (size_t i = 0; i < versions->n && i < 5; i++)
			buf_printf(&av, "%s%s", i ? ", " : "",
				   doc_str(doc_get(versions->items[i], "version")));
		layer_err(lc, l, pfile, "chart \"%s\" has no version matching \"%s\" in \"%s\" (it "
			  "has %s%s)", l->pack, l->version, r->name, av.s ? av.s : "none",
			  versions->n > 5 ? ", …" : "");
		buf_free(&av);
		return NULL;
	}
	l->version = doc_str(doc_get(ent, "version"));
	return ent;
}

/* the chart .tgz an index entry names, into tgz; *where says where it came
 * from, *want is the digest it must have (the index's, or for a remote
 * chart without one, that of what arrived) */
static int
entry_chart(struct ldctx *lc, struct layer *l, struct registry *r, const char *pfile, int remote,
	    const char *dir, const char *ipath, struct dnode *ent, struct buf *tgz,
	    const char **where, const char **want)
{
	struct arena *a = lc->a;
	struct dnode *urls = doc_get(ent, "urls");
	const char *url = urls && urls->kind == D_SEQ && urls->n ? doc_str(urls->items[0]) : NULL;
	if (!url)
		return layer_err(lc, l, pfile, "chart \"%s\" %s has no urls in %s", l->pack,
				 l->version, ipath);
	*want = doc_str(doc_get(ent, "digest"));
	if (remote) {
		*where = helm_url_resolve(a, dir, url);
		struct buf err = {0};
		int rc = helm_chart_get(&lc->w->fx, r, *where, *want, tgz, &err);
		if (rc < 0)
			remote_err(lc, l, pfile, &err);
		buf_free(&err);
		if (rc)
			return -1;
		if (!*want) {
			char hx[65];
			sha256_hex(tgz->s, tgz->len, hx);
			*want = arena_strdup(a, hx);
		}
		fetch_rec_put(&lc->w->fx, arena_printf(a, "chart:%s|%s|%s", r->url, l->pack, l->version),
			      NULL, *want);
		return 0;
	}
	if (strncmp(url, "file://", 7) == 0)
		*where = url + 7;
	else if (strstr(url, "://"))
		*where = arena_printf(a, "%s/%s", dir, strrchr(url, '/') + 1);
	else
		*where = path_join(a, dir, url);
	int e = ld_read(lc, *where, tgz);
	if (e)
		return layer_err(lc, l, pfile, "%s: cannot read chart \"%s\" %s: %s", *where, l->pack,
				 l->version, strerror(e));
	return 0;
}

int
helm_layer(struct ldctx *lc, struct layer *l, struct dnode *regmeta,
	   const char *profile_file)
{
	struct arena *a = lc->a;
	struct registry *r = helm_registry(lc, l, regmeta, profile_file);
	if (!r)
		return -1;
	if (strncmp(r->url, "oci://", 6) == 0)
		return helm_oci(lc, l, r, profile_file);
	int remote = strncmp(r->url, "file://", 7) != 0;
	const char *dir = remote ? r->url : r->url + 7;
	struct buf tgz = {0};
	const char *want = NULL, *where = NULL, *pe, *pd;
	/* a pinned version already in the download cache costs no request */
	char *pin = arena_printf(a, "chart:%s|%s|%s", r->url, l->pack, l->version);
	if (remote && !lc->w->fx.refresh && semver_pinned(l->version) && fetch_rec_get(&lc->w->fx, pin, &pe, &pd) == 0 &&
	    dl_get(&lc->w->fx, pd, &tgz) == 0) {
		want = pd;
		where = arena_printf(a, "the download cache (%s)", pd);
	} else {
		const char *ipath;
		struct dnode *ent = index_entry(lc, l, r, profile_file, remote, dir, &ipath);
		if (!ent || entry_chart(lc, l, r, profile_file, remote, dir, ipath, ent, &tgz, &where,
					&want)) {
			buf_free(&tgz);
			return -1;
		}
	}
	char hex[65];
	sha256_hex(tgz.s, tgz.len, hex);
	if (want && strcmp(want, hex) != 0) {
		buf_free(&tgz);
		return layer_err(lc, l, profile_file, "chart \"%s\" %s: %s has SHA-256 %s, but the index "
				 "says %s: the chart was changed or corrupted; nothing was applied",
				 l->pack, l->version, where, hex, want);
	}
	return render_chart(lc, l, profile_file, &tgz);
}

int
pack_charts(struct ldctx *lc, struct layer *l, const char *profile_file)
{
	struct arena *a = lc->a;
	struct dnode *charts = doc_get(l->body->pack_json, "charts");
	if (!charts || doc_is_null(charts))
		return 0;
	if (lc->w->fx.defer && lc->w->fx.nqueue)
		return -1; /* as in render_chart */
	const char *pj = arena_printf(a, "%s/pack.json", l->body->pack_dir);
	if (charts->kind != D_SEQ) {
		diag_add(lc->d, DIAG_ERROR, pj, charts->line, charts->col, "charts must be a list");
		return -1;
	}
	int rc = 0;
	struct buf all = {0};
	for (size_t i = 0; i < charts->n; i++) {
		const char *rel = doc_str(charts->items[i]);
		const char *path = pack_file(lc, l, pj, charts->items[i], "charts");
		if (!path) {
			rc = -1;
			continue;
		}
		struct buf tgz = {0}, err = {0};
		int e = ld_read(lc, path, &tgz);
		char *yaml = NULL;
		if (e)
			buf_printf(&err, "%s: cannot read: %s", path, strerror(e));
		else
			yaml = render(lc, l, NULL, tgz.s, tgz.len, NULL, &err);
		if (!yaml) {
			diag_add(lc->d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
				 "pack %s %s, chart %s: %s", l->pack, l->version, rel, err.s);
			rc = -1;
		} else {
			buf_printf(&all, "%s%s", all.len ? "\n---\n" : "", yaml);
		}
		buf_free(&tgz);
		buf_free(&err);
	}
	/* what compile adds, kept for the run like a helm layer's: helm
	 * runs once */
	if (!rc && all.len)
		l->chart.yaml = arena_strndup(a, all.s, all.len);
	buf_free(&all);
	return rc;
}
