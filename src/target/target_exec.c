/* target_exec: the user's own commands, run without a shell in the
 * workspace directory, with the rendered layer on stdin. The record keeps
 * the rendered text so that delete gets it on stdin too, after the layer
 * has left the profiles. */
#include <errno.h>
#include <string.h>
#include "target.h"

static int
run(const struct target_ctx *t, char **argv, char **env, const char *text,
    size_t len, const char *what, struct buf *err)
{
	struct buf out = {0};
	int status;
	struct proc_spec sp = {.argv = argv, .env = env, .cwd = t->w->dir, .in = text, .inlen = len,
			       .deadline = 0, .err_path = NULL};
	int rc = proc_run(t->ps, &sp, &out, &status);
	if (t->note) {
		/* -v: the argv as a shell would read it, then what it printed */
		buf_printf(t->note, "%s:", what);
		for (char **p = argv; *p; p++)
			buf_printf(t->note, strpbrk(*p, " \t'\"$;&|") || !**p ? " '%s'" : " %s", *p);
		if (rc == ECANCELED)
			buf_adds(t->note, " (stopped)\n");
		else
			buf_printf(t->note, " (exit %d)\n", status);
		for (const char *s = out.s, *e; s && *s; s = *e ? e + 1 : e) {
			e = strchr(s, '\n');
			if (!e)
				e = s + strlen(s);
			buf_printf(t->note, "  | %.*s\n", (int)(e - s), s);
		}
	}
	if (rc == ECANCELED) {
		buf_free(&out);
		return T_STOPPED;
	}
	if (status != 0) {
		while (out.len && out.s[out.len - 1] == '\n')
			out.s[--out.len] = 0;
		buf_printf(err, "%s command %s exited with status %d%s%s", what, argv[0], status,
			   out.len ? ":\n" : "", out.len ? out.s : "");
	}
	buf_free(&out);
	return status == 0 ? T_OK : T_FAILED;
}

static int
exec_apply(const struct target_ctx *t, const struct layer *l, const char *text,
	   size_t len, struct buf *inv, struct buf *err)
{
	struct arena a = {0};
	char **env = target_env(&a, t->c, l->id, l->ns, (long long)l->order, l->type);
	int rc = run(t, t->c->target.apply, env, text, len, "apply", err);
	if (rc == T_OK)
		buf_add(inv, text, len);
	arena_free(&a);
	return rc;
}

static int
exec_ready(const struct target_ctx *t, const struct layer *l, const char *text,
	   size_t len, const struct buf *inv, struct buf *why)
{
	(void)inv;
	if (!t->c->target.check)
		return T_OK;
	struct arena a = {0};
	char **env = target_env(&a, t->c, l->id, l->ns, (long long)l->order, l->type);
	int rc = run(t, t->c->target.check, env, text, len, "check", why);
	arena_free(&a);
	return rc == T_FAILED ? T_NOTREADY : rc;
}

static int
exec_remove(const struct target_ctx *t, const char *id, const struct layer_rec *r,
	    struct buf *err)
{
	if (!t->c->target.del)
		return T_OK;
	struct arena a = {0};
	char **env = target_env(&a, t->c, id, r->ns, (long long)r->order, r->type);
	int rc = run(t, t->c->target.del, env, r->inventory, r->ninventory, "delete", err);
	arena_free(&a);
	return rc;
}

const struct target_ops target_exec = {
	.kind = "exec",
	.apply = exec_apply,
	.ready = exec_ready,
	.remove = exec_remove,
};
