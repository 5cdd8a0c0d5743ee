/* target_render: writes each layer's documents to
 * DIR/<order>_<profile>_<layer>.yaml, atomically, so a reader sees the old
 * file or the new one, never half of one. Durability is batched: flush runs
 * syncfs once before the finished layers are recorded ready, so a crash
 * before it leaves them pending and they are written again. The record keeps
 * the path, so prune and a changed install order remove the old file. */
#define _GNU_SOURCE /* syncfs */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "target.h"

static char *
out_path(struct arena *a, const struct cluster *c, const struct layer *l)
{
	struct buf b = {0};
	buf_printf(&b, "%s/%lld_", c->target.dir, (long long)l->order);
	for (const char *s = l->id; *s; s++) {
		char ch = *s;
		int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			 (ch >= '0' && ch <= '9') || ch == '.' || ch == '-' || ch == '_';
		buf_addc(&b, ch == '/' ? '_' : ok ? ch : '-');
	}
	buf_adds(&b, ".yaml");
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
	if (e) {
		buf_printf(err, "cannot write %s: %s", path, strerror(e));
		arena_free(&a);
		return T_FAILED;
	}
	if (l->has_rec && l->rec.ninventory && strcmp(l->rec.inventory, path) != 0)
		unlink(l->rec.inventory);
	buf_adds(inv, path);
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
	if (!r->ninventory)
		return T_OK;
	if (unlink(r->inventory) < 0 && errno != ENOENT) {
		buf_printf(err, "cannot remove %s: %s", r->inventory, strerror(errno));
		return T_FAILED;
	}
	return T_OK;
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

const struct target_ops target_render = {"render", render_apply, render_ready,
					 render_remove, render_flush, NULL, NULL, 0, 0};
