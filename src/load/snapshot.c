/* snapshot: the stat cache. A cluster's snapshot records what it was
 * compiled from — a hash of its configuration and every file its layers
 * were read from, with the stat taken before reading — and what it was
 * compiled to: layer metadata and warnings. When the configuration hashes
 * the same and every file stats the same, a run takes the layers from the
 * snapshot and reads no profile, manifest or pack file: that is what makes a
 * no-op fast. Layout (version 1), integers big endian, strings u32-prefixed:
 *   u8 version, 16 config hash,
 *   u32 files:    path, i64 size (-1 absent), i64 mtime_ns, i64 ctime_ns, u64 ino
 *   u32 warnings: file, i32 line, i32 col, text
 *   u32 layers:   id, profile, name, pack, type, version, ns, i64 order,
 *                 16 hash, u32 profile index, u32 entry, i32 line, i32 col */
#include <string.h>
#include <sys/stat.h>
#include "load.h"

#define SNAP_VERSION 1
/* part of the configuration's hash: change it whenever compiling the same
 * files gives other layers or hashes (layer_hash.c's rules), so that a
 * snapshot of an earlier addonmake is not taken for this one's (2: the
 * rendered form enters the hashes of render and exec layers) */
#define SNAP_FORMAT "addonmake-snapshot-2"

/* everything in addonmake.yaml that can change what a cluster compiles to */
static void
config_hash(struct workspace *w, struct cluster *c, struct hash128 *h)
{
	struct buf b = {0};
	canon_field(&b, "format", SNAP_FORMAT, strlen(SNAP_FORMAT));
	canon_field(&b, "dir", w->dir, strlen(w->dir));
	canon_node(&b, c->node);
	canon_node(&b, w->regs_node);
	canon_node(&b, w->defaults_node);
	hash_bytes(b.s, b.len, h);
	buf_free(&b);
}

void
snapshot_encode(struct workspace *w, struct cluster *c, struct buf *out)
{
	struct hash128 h;
	config_hash(w, c, &h);
	buf_addc(out, SNAP_VERSION);
	buf_add(out, h.b, 16);
	put_be(out, c->deps.n, 4);
	for (size_t i = 0; i < c->deps.n; i++) {
		const struct dep *d = &c->deps.v[i];
		put_str(out, d->path);
		put_be(out, (uint64_t)d->size, 8);
		put_be(out, (uint64_t)d->mtime_ns, 8);
		put_be(out, (uint64_t)d->ctime_ns, 8);
		put_be(out, d->ino, 8);
	}
	put_be(out, c->warnings.n, 4);
	for (size_t i = 0; i < c->warnings.n; i++) {
		const struct diag_msg *m = &c->warnings.msg[i];
		put_str(out, m->file);
		put_be(out, (uint64_t)(int64_t)m->line, 4);
		put_be(out, (uint64_t)(int64_t)m->col, 4);
		put_str(out, m->text);
	}
	put_be(out, c->nlayers, 4);
	for (size_t i = 0; i < c->nlayers; i++) {
		const struct layer *l = c->layers[i];
		put_str(out, l->id);
		put_str(out, l->profile);
		put_str(out, l->name);
		put_str(out, l->pack);
		put_str(out, l->type);
		put_str(out, l->version);
		put_str(out, l->ns);
		put_be(out, (uint64_t)l->order, 8);
		buf_add(out, l->hash.b, 16);
		put_be(out, l->prof, 4);
		put_be(out, l->entry, 4);
		put_be(out, (uint64_t)(int64_t)l->at.line, 4);
		put_be(out, (uint64_t)(int64_t)l->at.col, 4);
	}
}

/* a string; NULL for an empty one when nullable */
static const char *
get_s(struct reader *r, struct arena *a, int nullable)
{
	size_t n;
	const char *s = get_str(r, a, &n);
	return n || !nullable ? s : NULL;
}

static int
same_stat(const char *path, int64_t size, int64_t mtime, int64_t ctime, uint64_t ino)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return size == -1;
	return size == (int64_t)st.st_size &&
	       mtime == (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec &&
	       ctime == (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec &&
	       ino == (uint64_t)st.st_ino;
}

/* whether each of the nf files the snapshot lists still stats as it did
 * (else why names the first that changed); reads them from r */
static int
files_unchanged(struct reader *r, size_t nf, struct buf *why)
{
	for (size_t i = 0; i < nf && !r->bad; i++) {
		size_t len = (size_t)get_be(r, 4);
		if (r->bad || len > r->n - r->off || len >= 4096)
			return 1;
		char path[4096];
		memcpy(path, r->p + r->off, len);
		path[len] = 0;
		r->off += len;
		int64_t size = (int64_t)get_be(r, 8), mt = (int64_t)get_be(r, 8);
		int64_t ct = (int64_t)get_be(r, 8);
		uint64_t ino = get_be(r, 8);
		if (r->bad || !same_stat(path, size, mt, ct, ino)) {
			buf_printf(why, "%s changed", path);
			return 1;
		}
	}
	if (r->bad)
		buf_adds(why, "the stat cache is unreadable");
	return r->bad;
}

/* one layer's metadata from r (in w's arena), or NULL with r->bad set */
static struct layer *
get_layer(struct reader *r, struct workspace *w, struct cluster *c)
{
	struct layer *l = arena_alloc(&w->a, sizeof(*l));
	l->id = get_s(r, &w->a, 0);
	l->profile = get_s(r, &w->a, 0);
	l->name = get_s(r, &w->a, 0);
	l->pack = get_s(r, &w->a, 0);
	l->type = get_s(r, &w->a, 0);
	l->version = get_s(r, &w->a, 1);
	l->ns = get_s(r, &w->a, 0);
	l->order = (int64_t)get_be(r, 8);
	if (r->bad || r->n - r->off < 16) {
		r->bad = 1;
		return NULL;
	}
	memcpy(l->hash.b, r->p + r->off, 16);
	r->off += 16;
	l->prof = (size_t)get_be(r, 4);
	l->entry = (size_t)get_be(r, 4);
	l->at.line = (int)(int32_t)get_be(r, 4);
	l->at.col = (int)(int32_t)get_be(r, 4);
	if (r->bad || l->prof >= c->nprofiles) {
		r->bad = 1;
		return NULL;
	}
	l->at.file = c->profiles[l->prof];
	l->label = layer_label(&w->a, l);
	layer_readiness(w, c, l);
	return l;
}

int
snapshot_use(struct workspace *w, struct cluster *c, const char *p, size_t n,
	     struct diag *d, struct buf *why)
{
	struct reader r = {.p = (const unsigned char *)p, .n = n, .off = 0, .bad = 0};
	struct hash128 h;
	if (get_be(&r, 1) != SNAP_VERSION || n < 17) {
		buf_adds(why, "the stat cache is of another version");
		return 1;
	}
	config_hash(w, c, &h);
	if (memcmp(p + 1, h.b, 16) != 0) {
		buf_adds(why, "its configuration in the workspace file changed");
		return 1;
	}
	r.off = 17;
	/* every file first: nothing is built unless all of them still hold */
	size_t nf = (size_t)get_be(&r, 4);
	if (files_unchanged(&r, nf, why))
		return 1;
	size_t nw = (size_t)get_be(&r, 4);
	struct diag warn = {0};
	for (size_t i = 0; i < nw && !r.bad; i++) {
		const char *file = get_s(&r, &w->a, 1);
		int line = (int)(int32_t)get_be(&r, 4), col = (int)(int32_t)get_be(&r, 4);
		const char *text = get_s(&r, &w->a, 0);
		diag_add(&warn, DIAG_WARNING, file, line, col, "%s", text);
	}
	size_t nl = (size_t)get_be(&r, 4);
	if (r.bad || nl > n) {
		diag_free(&warn);
		buf_adds(why, "the stat cache is unreadable");
		return 1;
	}
	struct layer **ls = arena_alloc(&w->a, (nl + 1) * sizeof(*ls));
	for (size_t i = 0; i < nl && !r.bad; i++)
		ls[i] = get_layer(&r, w, c);
	if (r.bad || r.off != r.n) {
		diag_free(&warn);
		buf_adds(why, "the stat cache is unreadable");
		return 1;
	}
	buf_printf(why, "%zu files unchanged", nf);
	for (size_t i = 0; i < warn.n; i++)
		diag_add(d, DIAG_WARNING, warn.msg[i].file, warn.msg[i].line, warn.msg[i].col,
			 "%s", warn.msg[i].text);
	diag_free(&warn);
	c->layers = ls;
	c->nlayers = nl;
	cluster_graph(c);
	return 0;
}
