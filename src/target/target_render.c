/* target_render: writes each layer's documents to DIR/<name>, the name of
 * render_name.c (unique per layer, in install order), atomically, so a
 * reader sees the old file or the new one, never half of one. Durability is
 * batched: flush runs syncfs once before the finished layers are recorded
 * ready, so a crash before it leaves them pending and they are written
 * again. The record keeps the path and the file's stat: prune and a changed
 * install order remove the old file, and a file deleted or edited by hand
 * is written again.
 *
 * The files are the truth where the records are not (a fresh clone of a
 * repository that commits the rendered directory): each starts with a
 * comment line naming the layer, its hash and a hash of the text after
 * the line, and a run without local records (no mark) makes them from the
 * files whose line is intact. */
#define _GNU_SOURCE /* syncfs */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "target.h"

/* The record's inventory: version 2 is the file's stat right after it
 * was written (size, mtime, inode, so that a plan finds a deleted or
 * edited file with one stat and no read; not ctime, which a chmod
 * changes), then its path; a version 1 record was the bare path. */
#define RINV_VERSION 2
struct rinv {
	const char *path;
	size_t pathlen;
	int has_stat;
	int64_t size, mtime_ns;
	uint64_t ino;
};

static int64_t
ns_of(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static void
rinv_put(struct buf *b, const char *path, const struct stat *st)
{
	put_be(b, RINV_VERSION, 1);
	put_be(b, (uint64_t)st->st_size, 8);
	put_be(b, (uint64_t)ns_of(&st->st_mtim), 8);
	put_be(b, (uint64_t)st->st_ino, 8);
	buf_adds(b, path);
}

/* what a record holds, its path pointing into the record (not
 * NUL-terminated: a plan reads thousands and copies none); 0, or -1 when
 * it holds nothing */
static int
rinv_get(const struct layer_rec *r, struct rinv *out)
{
	memset(out, 0, sizeof(*out));
	if (!r->ninventory)
		return -1;
	const unsigned char *p = (const unsigned char *)r->inventory;
	if (p[0] != RINV_VERSION || r->ninventory < 25) {
		out->path = r->inventory;
		out->pathlen = r->ninventory;
		return 0;
	}
	struct reader rd = {.p = p, .n = r->ninventory, .off = 1, .bad = 0};
	out->has_stat = 1;
	out->size = (int64_t)get_be(&rd, 8);
	out->mtime_ns = (int64_t)get_be(&rd, 8);
	out->ino = get_be(&rd, 8);
	out->path = r->inventory + 25;
	out->pathlen = r->ninventory - 25;
	return 0;
}

static int
rinv_is(const struct rinv *ri, const char *path)
{
	return strlen(path) == ri->pathlen && memcmp(ri->path, path, ri->pathlen) == 0;
}

/* removes the file a record names; 0, or an errno (a file already gone
 * is no error) */
static int
unlink_rinv(const struct rinv *ri)
{
	char *path = xstrndup(ri->path, ri->pathlen);
	int e = unlink(path) < 0 && errno != ENOENT ? errno : 0;
	free(path);
	return e;
}

/* the layer's file, in b */
static void
out_path(struct buf *b, const struct cluster *c, const struct layer *l)
{
	buf_adds(b, c->target.dir);
	buf_addc(b, '/');
	render_name(b, l->order, l->profile, l->name);
}

#define HEADER "# addonmake: "
/* kept with local records made from (or written to) the files */
#define MARK "render 1"

/* the first line of a layer's file: what a run without records makes the
 * layer's record from (the layer id last: it may hold spaces) */
static void
header_put(struct buf *b, const struct layer *l, const char *text, size_t len)
{
	struct hash128 body;
	char hex[33], bhex[33];
	hash_hex(&l->hash, hex);
	hash_bytes(text, len, &body);
	hash_hex(&body, bhex);
	buf_printf(b, HEADER "hash=%s body=%s order=%lld type=%s layer=%s\n", hex, bhex,
		   (long long)l->order, l->type ? l->type : "", l->id);
}

static int
render_apply(const struct target_ctx *t, const struct layer *l, const char *text,
	     size_t len, struct buf *inv, struct buf *err)
{
	struct buf pb = {0}, file = {0};
	out_path(&pb, t->c, l);
	const char *path = pb.s;
	header_put(&file, l, text, len);
	buf_add(&file, text, len);
	int e = file_mkdirs(t->c->target.dir, 0755);
	if (!e)
		e = file_write_replace(path, file.s, file.len, 0);
	buf_free(&file);
	struct stat st;
	if (!e && stat(path, &st) < 0)
		e = errno;
	if (e) {
		buf_printf(err, "cannot write %s: %s", path, strerror(e));
		buf_free(&pb);
		return T_FAILED;
	}
	struct rinv old;
	if (l->plan.has_rec && rinv_get(&l->plan.rec, &old) == 0 && !rinv_is(&old, path))
		unlink_rinv(&old); /* its order (or the naming) changed */
	rinv_put(inv, path, &st);
	buf_free(&pb);
	return T_OK;
}

static int
render_ready(const struct target_ctx *t, const struct layer *l, const char *text,
	     size_t len, const struct buf *inv, struct buf *why)
{
	return T_OK;
}

static int
render_remove(const struct target_ctx *t, const char *id, const struct layer_rec *r,
	      struct buf *err)
{
	struct rinv ri;
	int e = rinv_get(r, &ri) == 0 ? unlink_rinv(&ri) : 0;
	if (e) {
		buf_printf(err, "cannot remove %.*s: %s", (int)ri.pathlen, ri.path, strerror(e));
		return T_FAILED;
	}
	return T_OK;
}

/* a file that is gone or no longer what was written makes its layer
 * dirty, as a missing or newer output does in ninja */
static const char *
render_outdated(const struct cluster *c, const struct layer *l, const struct layer_rec *r)
{
	struct buf pb = {0};
	out_path(&pb, c, l);
	struct rinv ri;
	struct stat st;
	const char *why = NULL;
	if (stat(pb.s, &st) < 0)
		why = "output missing";
	else if (rinv_get(r, &ri) < 0 || !ri.has_stat || !rinv_is(&ri, pb.s) ||
		 ri.size != (int64_t)st.st_size || ri.mtime_ns != ns_of(&st.st_mtim) ||
		 ri.ino != (uint64_t)st.st_ino)
		why = "output changed";
	buf_free(&pb);
	return why;
}
static int
render_flush(const struct target_ctx *t, struct buf *err)
{
	int fd = open(t->c->target.dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? T_OK : T_FAILED;
	int rc = syncfs(fd);
	int e = errno;
	close(fd);
	if (rc < 0) {
		buf_printf(err, "cannot flush %s to disk: %s", t->c->target.dir, strerror(e));
		return T_FAILED;
	}
	return T_OK;
}

/* the record a file's first line and text make, into a; 0, or -1 when
 * the file is not a layer's as addonmake wrote it (no line, a line it
 * cannot read, or text that is not the text the line names) */
static int
rec_of_file(const char *path, struct arena *a, struct store_put *p)
{
	struct buf b = {0};
	struct stat st;
	int rc = -1;
	/* a file that does not begin with the line is not read further
	 * (rendered before the line existed: such a directory is looked at
	 * again by each run until the next write marks the records) */
	char head[sizeof(HEADER) - 1];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t nread = fd >= 0 ? read(fd, head, sizeof(head)) : -1;
	if (fd >= 0)
		close(fd);
	if (nread != (ssize_t)sizeof(head) || memcmp(head, HEADER, sizeof(head)) ||
	    file_read_st(path, &b, &st) || b.len < sizeof(HEADER) ||
	    memcmp(b.s, HEADER, sizeof(HEADER) - 1))
		goto out;
	char *nl = memchr(b.s, '\n', b.len);
	if (!nl)
		goto out;
	*nl = 0;
	char hex[33], bhex[33], type[64];
	long long order;
	int at = 0;
	if (sscanf(b.s + sizeof(HEADER) - 1, "hash=%32[0-9a-f] body=%32[0-9a-f] order=%lld type=%63[^ ] "
		   "layer=%n", hex, bhex, &order, type, &at) != 4 || !at || strlen(hex) != 32)
		goto out;
	const char *id = b.s + sizeof(HEADER) - 1 + at;
	struct hash128 body;
	char got[33];
	hash_bytes(nl + 1, b.len - (size_t)(nl + 1 - b.s), &body);
	hash_hex(&body, got);
	struct hash128 h;
	if (!*id || strcmp(got, bhex) != 0 || hash_parse_hex(hex, &h))
		goto out; /* edited by hand: the layer is written again */
	struct layer_rec *r = arena_alloc(a, sizeof(*r));
	memset(r, 0, sizeof(*r));
	r->hash = h;
	r->order = order;
	r->status = LS_READY;
	r->type = arena_strdup(a, type);
	r->finished = st.st_mtim.tv_sec;
	struct buf inv = {0};
	rinv_put(&inv, path, &st);
	char *iv = arena_alloc(a, inv.len);
	memcpy(iv, inv.s, inv.len);
	r->inventory = iv;
	r->ninventory = inv.len;
	buf_free(&inv);
	p->id = arena_strdup(a, id);
	p->rec = r;
	rc = 0;
out:
	buf_free(&b);
	return rc;
}

/* the files are the truth: a cluster with no mark (its local records were
 * never made from them, or were forgotten) gets records from the files
 * of its directory whose first line is intact; with a mark, the local
 * records stand and nothing is read */
static int
render_state_pull(const struct target_ctx *t, const char *mark, size_t nmark, struct arena *a,
		  struct state_got *got, struct buf *err)
{
	(void)mark;
	got->from = "its rendered files";
	if (nmark) {
		got->same = 1;
		return 0;
	}
	buf_adds(&got->mark, MARK);
	DIR *d = opendir(t->c->target.dir);
	if (!d) {
		if (errno == ENOENT) {
			got->same = 1; /* nothing to take: nothing written */
			return 0;
		}
		buf_printf(err, "cannot read the directory %s: %s", t->c->target.dir,
			   strerror(errno));
		return -1;
	}
	size_t cap = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (got->n == cap) {
			cap = cap ? 2 * cap : 64;
			struct store_put *v = arena_alloc(a, cap * sizeof(*v));
			if (got->n)
				memcpy(v, got->puts, got->n * sizeof(*v));
			got->puts = v;
		}
		char *path = arena_printf(a, "%s/%s", t->c->target.dir, e->d_name);
		if (rec_of_file(path, a, &got->puts[got->n]) == 0)
			got->n++;
	}
	closedir(d);
	got->same = !got->n;
	return 0;
}

/* nothing to write but the mark, so that the next run reads no file */
static int
render_state_push(const struct target_ctx *t, const struct store_put *puts, size_t n,
		  struct buf *mark, struct buf *err)
{
	(void)t, (void)puts, (void)n, (void)err;
	buf_adds(mark, MARK);
	return 0;
}

/* the file as it is and as apply would write it; a removed layer's file
 * as a deletion */
static int
render_diff(const struct target_ctx *t, const struct layer *l, const char *id,
	    const struct layer_rec *rec, const char *text, size_t len, diff_fn fn, void *u,
	    struct buf *err)
{
	struct buf path = {0}, want = {0}, live = {0};
	struct rinv ri;
	if (l)
		out_path(&path, t->c, l);
	else if (rec && rinv_get(rec, &ri) == 0)
		buf_add(&path, ri.path, ri.pathlen);
	else
		return 0;
	if (l) {
		header_put(&want, l, text, len);
		buf_add(&want, text, len);
	}
	int e = file_read(path.s, &live);
	int rc = 0;
	if (e && e != ENOENT) {
		buf_printf(err, "cannot read %s: %s", path.s, strerror(e));
		rc = -1;
	} else if (l || !e) {
		struct diff_item d = {.kind = "file", .ns = "", .name = path.s,
				      .live = e ? NULL : live.s ? live.s : "",
				      .want = l ? want.s : NULL};
		fn(u, &d);
	}
	(void)id;
	buf_free(&path);
	buf_free(&want);
	buf_free(&live);
	return rc;
}

static int
render_state_on(const struct cluster *c)
{
	(void)c;
	return 1;
}

const struct target_ops target_render = {
	.kind = "render",
	.apply = render_apply,
	.ready = render_ready,
	.remove = render_remove,
	.flush = render_flush,
	.outdated = render_outdated,
	.state_on = render_state_on,
	.state_pull = render_state_pull,
	.state_push = render_state_push,
	.diff = render_diff,
};
