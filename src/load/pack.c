/* pack: resolves a pack layer in a pack registry — a file:// directory in
 * pack-central's layout (DIR/<name>-<version>/), or an archive of that
 * directory over http(s):// or as a Palette OCI pack (unpacked by
 * pack_archive.c of src/fetch) — to pack.json, values.yaml and the
 * manifests that kubeManifests lists, rendered with .Values =
 * manifests.<basename>. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "load.h"

struct registry *
registry_find(struct workspace *w, struct dnode *meta)
{
	const char *name = doc_str(doc_get(meta, "name"));
	const char *uid = doc_str(doc_get(meta, "uid"));
	for (size_t i = 0; i < w->nregs; i++) {
		struct registry *r = &w->regs[i];
		if (name && r->name && strcmp(name, r->name) == 0)
			return r;
		if (uid && r->uid && strcmp(uid, r->uid) == 0)
			return r;
	}
	return NULL;
}

/* opens path (a directory when dir) to see that it can be read: 0 or an
 * errno value */
static int
readable(const char *path, int dir)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | (dir ? O_DIRECTORY : 0)), e = 0;
	struct stat st;
	if (fd < 0)
		return errno;
	if (!dir && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		e = EISDIR;
	close(fd);
	return e;
}

int
registry_check(struct ldctx *lc, const struct registry *r, const struct layer *l,
	       const char *profile_file)
{
	const char *name = r->name ? r->name : r->uid;
	int e;
	if (strncmp(r->url, "file://", 7) == 0 && (e = readable(r->url + 7, 1)))
		diag_add(lc->d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
			 "%s: cannot read the directory of registry %s: %s", r->url + 7, name,
			 strerror(e));
	else if (r->ca && (e = readable(r->ca, 0)))
		diag_add(lc->d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
			 "%s: cannot read the CA file of registry %s: %s", r->ca, name, strerror(e));
	else
		return 0;
	return -1;
}

static struct dnode *
parse_file(struct ldctx *lc, const char *path, int *missing)
{
	struct arena *a = lc->a;
	struct diag *d = lc->d;
	struct buf t = {0};
	int e = ld_read(lc, path, &t);
	*missing = e == ENOENT;
	if (e) {
		if (!*missing)
			diag_add(d, DIAG_ERROR, path, 0, 0, "cannot read: %s", strerror(e));
		buf_free(&t);
		return NULL;
	}
	struct dnode *root;
	struct dorigin o = doc_file_origin(path);
	int rc = doc_parse_first(a, t.s, t.len, &o, &root, d);
	buf_free(&t);
	if (rc)
		return NULL;
	return root ? root : doc_new(a, D_MAP, 0);
}

int
pack_resolve(struct ldctx *lc, struct layer *l, struct dnode *regmeta,
	     const char *profile_file, struct dnode **base,
	     const char **base_file)
{
	struct workspace *w = lc->w;
	struct arena *a = lc->a;
	struct diag *d = lc->d;
	*base = NULL;
	*base_file = NULL;
	const char *rname = doc_str(doc_get(regmeta, "name"));
	if (!rname)
		rname = doc_str(doc_get(regmeta, "uid"));
	struct registry *r = regmeta ? registry_find(w, regmeta) : NULL;
	if (!r) {
		diag_add(d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
			 "pack \"%s\": unknown registry \"%s\"; add it under registries: in %s "
			 "(for example: {name: \"%s\", kind: pack, url: file://packs})",
			 l->pack, rname ? rname : "(none given)", w->file,
			 rname ? rname : "Palette Registry");
		return -1;
	}
	if (strcmp(r->kind, "pack") != 0) {
		diag_add(d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
			 "pack \"%s\": registry \"%s\" is a %s registry, not a pack registry",
			 l->pack, r->name, r->kind);
		return -1;
	}
	int archive = strncmp(r->url, "oci://", 6) == 0 || strncmp(r->url, "http://", 7) == 0 ||
		      strncmp(r->url, "https://", 8) == 0;
	if (!archive && strncmp(r->url, "file://", 7) != 0) {
		diag_add(d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
			 "pack \"%s\": registry \"%s\" is at %s; addonmake reads file://, "
			 "http://, https:// and oci:// pack registries", l->pack, r->name, r->url);
		return -1;
	}
	if (!l->version) {
		diag_add(d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
			 "pack \"%s\" has no version: or tag:", l->pack);
		return -1;
	}
	if (registry_check(lc, r, l, profile_file))
		return -1;
	const char *dir;
	if (archive) {
		struct buf err = {0};
		dir = pack_archive_dir(&w->fx, a, r, l->pack, l->version, &err);
		if (!dir && err.len) {
			diag_add(d, DIAG_ERROR, profile_file, l->at.line, l->at.col, "pack \"%s\" %s: %s",
				 l->pack, l->version, err.s);
			d->nremote++;
		}
		if (!dir) {
			buf_free(&err);
			return -1;
		}
		buf_free(&err);
	} else {
		dir = arena_printf(a, "%s/%s-%s", r->url + 7, l->pack, l->version);
	}
	int missing;
	const char *pj = arena_printf(a, "%s/pack.json", dir);
	struct dnode *meta = parse_file(lc, pj, &missing);
	if (!meta) {
		if (missing)
			diag_add(d, DIAG_ERROR, profile_file, l->at.line, l->at.col,
				 "unknown pack \"%s\" version %s in registry \"%s\" (no %s)",
				 l->pack, l->version, r->name, pj);
		return -1;
	}
	l->body->pack_dir = dir;
	l->body->pack_json = meta;
	const char *vf = arena_printf(a, "%s/values.yaml", dir);
	struct dnode *vals = parse_file(lc, vf, &missing);
	if (!vals && !missing)
		return -1;
	if (vals && vals->kind != D_MAP && !doc_is_null(vals)) {
		diag_add(d, DIAG_ERROR, vf, vals->line, vals->col, "values must be a mapping");
		return -1;
	}
	*base = vals && vals->kind == D_MAP ? vals : NULL;
	*base_file = vf;
	return 0;
}

static const char *
basename_noext(struct arena *a, const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	const char *dot = strrchr(b, '.');
	return arena_strndup(a, b, dot ? (size_t)(dot - b) : strlen(b));
}

const char *
pack_file(struct ldctx *lc, const struct layer *l, const char *pj, const struct dnode *item,
	  const char *list)
{
	const char *rel = doc_str(item);
	if (!rel || strstr(rel, "..") || rel[0] == '/') {
		diag_add(lc->d, DIAG_ERROR, pj, item->line, item->col,
			 "%s entries must be relative paths inside the pack", list);
		return NULL;
	}
	return arena_printf(lc->a, "%s/%s", l->body->pack_dir, rel);
}

int
pack_manifests(struct ldctx *lc, const struct layer *l, struct rendered **out, size_t *nout)
{
	struct arena *a = lc->a;
	struct diag *d = lc->d;
	const char *pj = arena_printf(a, "%s/pack.json", l->body->pack_dir);
	struct dnode *km = doc_get(l->body->pack_json, "kubeManifests");
	*out = NULL;
	*nout = 0;
	if (!km || doc_is_null(km))
		return 0;
	if (km->kind != D_SEQ) {
		diag_add(d, DIAG_ERROR, pj, km->line, km->col, "kubeManifests must be a list");
		return -1;
	}
	*out = arena_alloc(a, (km->n + 1) * sizeof(**out));
	int rc = 0;
	for (size_t i = 0; i < km->n; i++) {
		const char *rel = doc_str(km->items[i]);
		const char *path = pack_file(lc, l, pj, km->items[i], "kubeManifests");
		if (!path) {
			rc = -1;
			continue;
		}
		struct buf t = {0}, text = {0};
		int e = ld_read(lc, path, &t);
		if (e) {
			diag_add(d, DIAG_ERROR, pj, km->items[i]->line, km->items[i]->col,
				 "%s: cannot read the manifest: %s", path, strerror(e));
			buf_free(&t);
			rc = -1;
			continue;
		}
		const char *base = basename_noext(a, rel);
		struct dnode *vals = doc_path(l->body->values, arena_printf(a, "manifests.%s", base));
		if (tmpl_render(t.s, t.len, vals, lc->spectro, path, a, &text, d) == 0)
			(*out)[(*nout)++] = (struct rendered){.file = path, .len = text.len,
							      .text = arena_strndup(a, text.s, text.len)};
		else
			rc = -1;
		buf_free(&t);
		buf_free(&text);
	}
	return rc;
}
