/* cmd_diff: `addonmake diff` — what a sync would change, object by object,
 * changing nothing. The targets compare (target.h, diff); this file shows
 * what they found: a unified diff per object under a header that names
 * cluster, layer and object, or one JSON object per object, or two
 * directories for ADDONMAKE_EXTERNAL_DIFF; a summary; and an exit status
 * a CI step can tell apart: 0 no differences, 3 differences (or objects
 * that could not be compared), 1 an error, 2 bad input. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cmd.h"

struct diff_run {
	struct cmd_ctx *x;
	const char *cluster, *layer;
	long long order;
	int removed;        /* the layer left the profiles */
	int color;
	const char *ext;    /* ADDONMAKE_EXTERNAL_DIFF, or NULL */
	const char *dir;    /* its two directories' parent */
	int tmp_slot;
	size_t ndiff, ncreate, nchange, ndelete, nhidden, nfiles;
	struct strset layers; /* layers with a difference */
	struct buf err;       /* a file that could not be written */
};

static const char *
action_of(const struct diff_item *d)
{
	return d->why ? "not compared" : !d->live ? "create" : !d->want ? "delete" : "change";
}

static void
json_path(void *u, const char *p)
{
	struct buf *b = u;
	if (b->s[b->len - 1] != '[')
		buf_addc(b, ',');
	doc_json_str(b, *p ? p : ".");
}

/* the object's name for a file of ADDONMAKE_EXTERNAL_DIFF's directories:
 * cluster, layer, kind, namespace, name, with / and spaces as _ */
static void
ext_name(struct buf *b, const struct diff_run *dr, const struct diff_item *d)
{
	buf_printf(b, "%s.%s.%s.%s%s%s", dr->cluster, dr->layer, d->kind, d->ns, *d->ns ? "." : "",
		   d->name);
	for (size_t i = 0; i < b->len; i++)
		if (b->s[i] == '/' || b->s[i] == ' ')
			b->s[i] = '_';
}

static void
ext_write(struct diff_run *dr, const struct diff_item *d)
{
	struct buf name = {0};
	ext_name(&name, dr, d);
	for (int side = 0; side < 2; side++) {
		const char *text = side ? d->want : d->live;
		if (!text)
			continue; /* absent on that side: no file, as kubectl does */
		struct buf p = {0}, t = {0};
		buf_printf(&p, "%s/%s/%s", dr->dir, side ? "MERGED" : "LIVE", name.s);
		buf_adds(&t, text);
		buf_redact(&t, &dr->x->w->secret);
		int e = file_write_replace(p.s, t.s ? t.s : "", t.len, 0);
		if (e && !dr->err.len)
			buf_printf(&dr->err, "cannot write %s: %s", p.s, strerror(e));
		buf_free(&p);
		buf_free(&t);
	}
	buf_free(&name);
}

static void
on_item(void *u, const struct diff_item *d)
{
	struct diff_run *dr = u;
	struct cmd_ctx *x = dr->x;
	struct buf hunks = {0}, out = {0};
	int differ = d->why || udiff(&hunks, d->live, d->want, dr->color && !x->ro->json && !dr->ext);
	if (!differ)
		return;
	if (d->why) {
		dr->nhidden++;
	} else {
		dr->ndiff++;
		dr->ncreate += !d->live;
		dr->ndelete += !d->want;
		dr->nchange += d->live && d->want;
		int added;
		void **slot = strset_slot(&dr->layers,
					  arena_printf(&x->w->a, "%s\n%s", dr->cluster, dr->layer), &added);
		*slot = dr;
	}
	if (x->ro->json) {
		buf_adds(&out, "{\"cluster\":");
		doc_json_str(&out, dr->cluster);
		buf_adds(&out, ",\"layer\":");
		doc_json_str(&out, dr->layer);
		buf_printf(&out, ",\"order\":%lld,\"kind\":", dr->order);
		doc_json_str(&out, d->kind);
		buf_adds(&out, ",\"namespace\":");
		doc_json_str(&out, d->ns);
		buf_adds(&out, ",\"name\":");
		doc_json_str(&out, d->name);
		buf_printf(&out, ",\"action\":\"%s\",\"removed_layer\":%s", action_of(d),
			   dr->removed ? "true" : "false");
		if (d->why) {
			buf_adds(&out, ",\"why\":");
			doc_json_str(&out, d->why);
		} else if (d->live_doc && d->want_doc) {
			buf_adds(&out, ",\"paths\":[");
			doc_diff_paths(d->live_doc, d->want_doc, json_path, &out);
			buf_addc(&out, ']');
		}
		buf_adds(&out, "}\n");
	} else if (d->why) {
		buf_printf(&out, "addonmake: %s: %s (order %lld): %s %s%s%s: not compared: %s\n",
			   dr->cluster, dr->layer, dr->order, d->kind, d->ns, *d->ns ? "/" : "",
			   d->name, d->why);
	} else if (dr->ext) {
		ext_write(dr, d);
	} else {
		const char *b = dr->color ? "\033[1m" : "", *e = dr->color ? "\033[0m" : "";
		buf_printf(&out, "%s%s: %s (order %lld): %s %s%s%s (%s%s)%s\n%s--- live\n+++ desired%s\n",
			   b, dr->cluster, dr->layer, dr->order, d->kind, d->ns, *d->ns ? "/" : "",
			   d->name, action_of(d),
			   dr->removed ? ": the layer left the profiles; prune deletes it" : "", e, b, e);
		buf_add(&out, hunks.s ? hunks.s : "", hunks.len);
	}
	if (out.len) {
		buf_redact(&out, &x->w->secret);
		fwrite(out.s, 1, out.len, d->why && !x->ro->json ? stderr : stdout);
	}
	buf_free(&out);
	buf_free(&hunks);
}

/* compares c's layers: those sync would apply, the named ones, or every
 * one with --all; then the removed ones (what prune would delete). 0, or
 * an exit code (said) */
static int
diff_cluster(struct cmd_ctx *x, struct cluster *c, struct diff_run *dr)
{
	struct buf err = {0};
	const struct target_ops *ops = target_for(c, &err);
	if (ops && !ops->diff) {
		fprintf(stderr, "addonmake: error: %s: the %s target has nothing to compare with: diff "
			"needs the kube or the render target\n", c->name, ops->kind);
		return EXIT_USAGE;
	}
	struct target_ctx *tc;
	int rc = c->unreachable ? EXIT_FAILED : runner_target(cmd_runner(x), x->w, c, &tc, &ops);
	if (rc)
		return rc;
	tc->force_conflicts = x->ro->force_conflicts;
	dr->cluster = c->name;
	for (size_t k = 0; k < c->g.n && !rc; k++) {
		struct layer *l = c->g.nodes[k].data;
		/* a layer that sync re-applies only because an earlier tier
		 * changed has the content it had: nothing of Git's to show
		 * (--all or its name compares it) */
		int named = x->only && plan_named(l, x->only);
		int follows = l->plan.dirty && l->plan.reason &&
			      !strncmp(l->plan.reason, "earlier tier changed", 20);
		if (!x->ro->all_layers && !named && (!l->plan.dirty || follows))
			continue;
		/* a clean layer's content is not loaded: it is, for as long as
		 * it is compared */
		struct arena la = {0};
		struct layer *one[1] = {l};
		size_t loaded = run_load(cmd_runner(x), x->w, c, one, 1, &la);
		if (!l->body) {
			arena_free(&la);
			rc = EXIT_FAILED;
			break;
		}
		struct buf text = {0};
		if (!ops->docs_only)
			applied_render(c, l, &text);
		dr->layer = l->id;
		dr->order = (long long)l->order;
		dr->removed = 0;
		if (ops->diff(tc, l, l->id, l->plan.has_rec ? &l->plan.rec : NULL, text.s, text.len,
			      on_item, dr, &err)) {
			fprintf(stderr, "addonmake: error: %s: %s: %s\n", c->name, l->id, err.s);
			rc = EXIT_FAILED;
		}
		buf_free(&text);
		run_unload(one, loaded);
		arena_free(&la);
	}
	for (size_t k = 0; k < c->nremoved && !rc && !x->only; k++) {
		dr->layer = c->removed[k].id;
		dr->order = (long long)c->removed[k].rec.order;
		dr->removed = 1;
		if (ops->diff(tc, NULL, c->removed[k].id, &c->removed[k].rec, NULL, 0, on_item, dr,
			      &err)) {
			fprintf(stderr, "addonmake: error: %s: %s: %s\n", c->name, c->removed[k].id, err.s);
			rc = EXIT_FAILED;
		}
	}
	buf_free(&err);
	return rc;
}

/* ADDONMAKE_EXTERNAL_DIFF: its program (and arguments, split at spaces by
 * the shell, as kubectl splits KUBECTL_EXTERNAL_DIFF) on the two
 * directories, on addonmake's own stdout and stderr (a pager or a window
 * of its own may need the terminal); diff(1)'s 1 says "differences": an
 * error is 2 and more, or a signal */
static int
run_external(struct diff_run *dr)
{
	struct buf cmd = {0};
	buf_printf(&cmd, "%s \"$0/LIVE\" \"$0/MERGED\"", dr->ext);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd.s, dr->dir, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	buf_free(&cmd);
	if (pid < 0 || !WIFEXITED(st) || WEXITSTATUS(st) > 1) {
		fprintf(stderr, "addonmake: error: ADDONMAKE_EXTERNAL_DIFF (%s) failed (%s %d)\n",
			dr->ext, pid < 0 ? "fork:" : WIFEXITED(st) ? "exit" : "signal",
			pid < 0 ? errno : WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	return 0;
}

int
cmd_diff(struct cmd_ctx *x)
{
	int rc = cmd_plan_all(x, 0);
	if (rc)
		return rc;
	struct diff_run dr = {.x = x, .color = isatty(1) && !getenv("NO_COLOR")};
	const char *ext = getenv("ADDONMAKE_EXTERNAL_DIFF");
	if (ext && *ext) {
		const char *tmp = getenv("TMPDIR");
		char *t = arena_printf(&x->w->a, "%s/addonmake-diff-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(t)) {
			fprintf(stderr, "addonmake: error: cannot make a temporary directory: %s\n",
				strerror(errno));
			return EXIT_FAILED;
		}
		dr.ext = ext;
		dr.dir = t;
		dr.tmp_slot = procs_tmp_add(x->w->ps, t); /* Ctrl-C leaves it not */
		for (int i = 0; i < 2; i++) {
			char *d = arena_printf(&x->w->a, "%s/%s", t, i ? "MERGED" : "LIVE");
			if (mkdir(d, 0700) < 0) {
				fprintf(stderr, "addonmake: error: cannot make %s: %s\n", d, strerror(errno));
				file_rmtree(t);
				procs_tmp_done(x->w->ps, dr.tmp_slot);
				return EXIT_FAILED;
			}
		}
	}
	for (size_t i = 0; i < x->ncl; i++) {
		int crc = diff_cluster(x, x->cl[i], &dr);
		if (crc && (!rc || crc == EXIT_USAGE))
			rc = crc;
	}
	if (dr.err.len) {
		fprintf(stderr, "addonmake: error: %s\n", dr.err.s);
		rc = EXIT_FAILED;
	}
	if (dr.ext) {
		if ((dr.ndiff || dr.nhidden) && !rc && run_external(&dr))
			rc = EXIT_FAILED;
		file_rmtree(dr.dir);
		procs_tmp_done(x->w->ps, dr.tmp_slot);
	}
	size_t nl = dr.layers.n;
	if (x->ro->json) {
		printf("{\"summary\":{\"differ\":%zu,\"create\":%zu,\"change\":%zu,\"delete\":%zu,"
		       "\"layers\":%zu,\"not_compared\":%zu}}\n",
		       dr.ndiff, dr.ncreate, dr.nchange, dr.ndelete, nl, dr.nhidden);
	} else if (!x->ro->quiet && (dr.ndiff || dr.nhidden || !rc)) {
		if (!dr.ndiff)
			printf("addonmake: no differences%s.\n", dr.nhidden ? " in what was compared" : "");
		else
			printf("addonmake: %zu object%s differ%s in %zu layer%s: %zu to create, %zu to "
			       "change, %zu to delete.\n", dr.ndiff, dr.ndiff == 1 ? "" : "s",
			       dr.ndiff == 1 ? "s" : "", nl, nl == 1 ? "" : "s", dr.ncreate, dr.nchange,
			       dr.ndelete);
		if (dr.nhidden)
			printf("addonmake: %zu object%s not compared: differences may be hidden.\n",
			       dr.nhidden, dr.nhidden == 1 ? "" : "s");
	}
	strset_free(&dr.layers);
	buf_free(&dr.err);
	if (rc)
		return rc;
	return dr.ndiff || dr.nhidden ? EXIT_WORK : EXIT_DONE;
}
