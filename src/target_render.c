/* target_render: writes each layer's documents to DIR/<name>, the name of
 * render_name.c (unique per layer, in install order), atomically, so a
 * reader sees the old file or the new one, never half of one. Durability is
 * batched: flush runs syncfs once before the finished layers are recorded
 * ready, so a crash before it leaves them pending and they are written
 * again. The record keeps the path and the file's stat: prune and a changed
 * install order remove the old file, and a file deleted or edited by hand
 * is written again. */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
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

/* what a record holds (in a); 0, or -1 when it holds nothing */
static int
rinv_get(const struct layer_rec *r, struct arena *a, struct rinv *out)
{
	memset(out, 0, sizeof(*out));
	if (!r->ninventory)
		return -1;
	const unsigned char *p = (const unsigned char *)r->inventory;
	if (p[0] != RINV_VERSION || r->ninventory < 25) {
		out->path = arena_strndup(a, r->inventory, r->ninventory);
		return 0;
	}
	struct reader rd = {p, r->ninventory, 1, 0};
	out->has_stat = 1;
	out->size = (int64_t)get_be(&rd, 8);
	out->mtime_ns = (int64_t)get_be(&rd, 8);
	out->ino = get_be(&rd, 8);
	out->path = arena_strndup(a, r->inventory + 25, r->ninventory - 25);
	return 0;
}

static char *
out_path(struct arena *a, const struct cluster *c, const struct layer *l)
{
	struct buf b = {0};
	buf_printf(&b, "%s/", c->target.dir);
	render_name(&b, l->order, l->profile, l->name);
	char *p = arena_strdup(a, b.s);
	buf_free(&b);
	return p;
}

static int
render_apply(const struct target_ctx *t, const struct layer *l, const char *text,
	     size_t len, struct buf *inv, struct buf *err)
{
	struct arena a = {0};
	char *path = out_path(&a, t->c, l);
	int e = file_mkdirs(t->c->target.dir, 0755);
	if (!e)
		e = file_write_replace(path, text, len, 0);
	struct stat st;
	if (!e && stat(path, &st) < 0)
		e = errno;
	if (e) {
		buf_printf(err, "cannot write %s: %s", path, strerror(e));
		arena_free(&a);
		return T_FAILED;
	}
	struct rinv old;
	if (l->has_rec && rinv_get(&l->rec, &a, &old) == 0 && strcmp(old.path, path) != 0)
		unlink(old.path); /* its order (or the naming) changed */
	rinv_put(inv, path, &st);
	arena_free(&a);
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
	struct arena a = {0};
	struct rinv ri;
	int rc = T_OK;
	if (rinv_get(r, &a, &ri) == 0 && unlink(ri.path) < 0 && errno != ENOENT) {
		buf_printf(err, "cannot remove %s: %s", ri.path, strerror(errno));
		rc = T_FAILED;
	}
	arena_free(&a);
	return rc;
}

/* a file that is gone or no longer what was written makes its layer
 * dirty, as a missing or newer output does in ninja */
static const char *
render_outdated(const struct cluster *c, const struct layer *l, const struct layer_rec *r)
{
	struct arena a = {0};
	const char *path = out_path(&a, c, l);
	struct rinv ri;
	struct stat st;
	const char *why = NULL;
	if (stat(path, &st) < 0)
		why = "output missing";
	else if (rinv_get(r, &a, &ri) < 0 || !ri.has_stat || strcmp(ri.path, path) != 0 ||
		 ri.size != (int64_t)st.st_size || ri.mtime_ns != ns_of(&st.st_mtim) ||
		 ri.ino != (uint64_t)st.st_ino)
		why = "output changed";
	arena_free(&a);
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

const struct target_ops target_render = {
	.kind = "render",
	.apply = render_apply,
	.ready = render_ready,
	.remove = render_remove,
	.flush = render_flush,
	.outdated = render_outdated,
};
