/* main: one run. Parses the command line (cli.c), loads and compiles the workspace (every error
 * found is reported, then exit 2 with nothing applied or recorded), then
 * hands the selected clusters to a subcommand. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"
#include "cmd.h"
#include "fleet.h"

static int run(struct run_opts *ro, struct cli *g);

/* Ctrl-C or SIGTERM before the apply phase (compiling, downloading): the
 * children of compiling go with the run, which then ends by the signal
 * (130 or 143 to a shell). Nothing is recorded before the apply phase,
 * whose executor takes these signals over (runner_init blocks them). The
 * handler can only reach the registry through a global. */
static struct procs *compiling;

static void
on_stop(int sig)
{
	if (compiling)
		procs_kill_async(compiling);
	signal(sig, SIG_DFL);
	raise(sig);
}

int
main(int argc, char **argv)
{
	struct run_opts ro = {0};
	struct cli g;
	/* a file-size limit (ulimit -f) makes a write fail with EFBIG, which is
	 * reported and leaves the old file, rather than killing the run
	 * mid-write */
	signal(SIGXFSZ, SIG_IGN);
	ro.started_ms = now_ms();
	int rc = cli_parse(argc, argv, &ro, &g);
	if (rc == 0 && g.dir && chdir(g.dir) < 0) {
		fprintf(stderr, "addonmake: error: cannot change to %s: %s\n", g.dir, strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = run(&ro, &g);
	else
		rc = rc > 0 ? EXIT_DONE : EXIT_USAGE;
	cli_free(&g);
	return rc;
}

/* --state, else ADDONMAKE_STATE, else the workspace's state:; these two
 * are relative to the directory addonmake runs in (after -C); 0, or -1
 * (said) */
static int
state_dir(struct workspace *w, const struct cli *g)
{
	const char *st = g->state ? g->state : getenv("ADDONMAKE_STATE");
	if (!st || !*st)
		return 0;
	const char *home;
	int e = path_home(&w->a, st, &home);
	if (e) {
		fprintf(stderr, "addonmake: error: %s%s: %s\n",
			g->state ? "--state " : "ADDONMAKE_STATE=", st,
			e == EINVAL ? "only ~ and ~/ are expanded (the home directory)"
				    : "~ is the home directory, but HOME is not set");
		return -1;
	}
	w->state = path_join(&w->a, ".", home);
	return 0;
}

/* --shard I/N: keeps, of the n clusters at sel, those of shard I (in
 * their order); 0, or -1 (said) */
static int
shard_of(struct workspace *w, const char *spec, struct cluster **sel, size_t *n)
{
	struct buf err = {0};
	int i, nshards;
	if (fleet_shard_parse(spec, &i, &nshards, &err)) {
		fprintf(stderr, "addonmake: %s\n", err.s);
		buf_free(&err);
		return -1;
	}
	size_t *weights = xcalloc(*n + 1, sizeof(*weights));
	const char **names = xcalloc(*n + 1, sizeof(*names));
	int *shard = xcalloc(*n + 1, sizeof(*shard));
	for (size_t k = 0; k < *n; k++) {
		weights[k] = fleet_layers(w, sel[k]);
		names[k] = sel[k]->name;
	}
	fleet_shard(weights, names, *n, nshards, shard);
	size_t kept = 0;
	for (size_t k = 0; k < *n; k++)
		if (shard[k] == i)
			sel[kept++] = sel[k];
	*n = kept;
	free(weights);
	free(names);
	free(shard);
	return 0;
}

/* the clusters -c names (every one without -c) into the command's
 * context; 0, or -1 (said, with the nearest name) when one is unknown */
static int
select_clusters(struct workspace *w, const struct cli *g, struct run_opts *ro, struct cmd_ctx *x)
{
	struct cluster **sel = arena_alloc(&w->a, (w->nclusters + 1) * sizeof(*sel));
	const char **names = arena_alloc(&w->a, (w->nclusters + 1) * sizeof(*names));
	size_t nsel = 0;
	for (size_t i = 0; i < w->nclusters; i++) {
		int want = g->ncl == 0;
		for (size_t k = 0; k < g->ncl && !want; k++)
			want = strcmp(g->clusters[k], w->clusters[i].name) == 0;
		if (want)
			sel[nsel++] = &w->clusters[i];
		names[i] = w->clusters[i].name;
	}
	for (size_t k = 0; k < g->ncl; k++) {
		int found = 0;
		for (size_t i = 0; i < w->nclusters && !found; i++)
			found = strcmp(g->clusters[k], w->clusters[i].name) == 0;
		if (!found) {
			struct buf b = {0};
			near_hint(&b, g->clusters[k], names, w->nclusters, "clusters");
			fprintf(stderr, "addonmake: error: %s has no cluster \"%s\"%s\n", w->file,
				g->clusters[k], b.s);
			buf_free(&b);
			return -1;
		}
	}
	if (ro->shard && shard_of(w, ro->shard, sel, &nsel))
		return -1;
	*x = (struct cmd_ctx){.w = w, .st = NULL, .cl = sel, .ncl = nsel, .ro = ro,
			      .only = g->nargs ? g->args : NULL, .all = g->ncl == 0 && !ro->shard};
	return 0;
}

/* has the targets that the command will open start, in the background,
 * what they need (for the kube target the libraries of the client its
 * server is spoken to by), while the layers compile:
 * sync, prune, diff and state open every target; the other commands only
 * those that keep their records in the cluster */
static void
warm_targets(const struct cmd_ctx *x, int cmd)
{
	int opens = cmd == CMD_SYNC || cmd == CMD_PRUNE || cmd == CMD_DIFF || cmd == CMD_STATE;
	for (size_t i = 0; i < x->ncl; i++) {
		struct buf err = {0};
		const struct target_ops *ops = target_for(x->cl[i], &err);
		buf_free(&err); /* said when the target is opened */
		if (ops && ops->warm && (opens || (ops->state_on && ops->state_on(x->cl[i])))) {
			ops->warm(x->cl[i]);
			return;
		}
	}
}

/* opens the state and compiles the selected clusters: -1 when the command
 * can run, else its exit code (errors said) */
static int
prepare(struct cmd_ctx *x, struct run_opts *ro, int cmd, struct diag *d)
{
	struct workspace *w = x->w;
	struct buf err = {0};
	if (store_check(w->state, &err) || store_open(&x->st, w->state, 1, &err)) {
		fprintf(stderr, "addonmake: error: %s\n", err.s);
		buf_free(&err);
		return EXIT_FAILED;
	}
	w->fx = (struct fetcher){.a = &w->a, .state = w->state, .st = x->st,
				  .offline = ro->offline, .refresh = ro->refresh};
	w->quiet = ro->quiet;
	if (ro->offline && ro->refresh) {
		fprintf(stderr, "addonmake: --offline and --refresh exclude each other\n");
		return EXIT_USAGE;
	}
	warm_targets(x, cmd);
	if (load_clusters(x, d))
		return EXIT_FAILED;
	diag_print(d, stderr);
	if (d->nerr) {
		fprintf(stderr, "addonmake: %d error%s; nothing was applied.\n", d->nerr,
			d->nerr == 1 ? "" : "s");
		/* only downloads failed: that is not bad input */
		return d->nerr == d->nremote ? EXIT_FAILED : EXIT_USAGE;
	}
	if (x->only && plan_check_only(w, x->only, &err)) {
		fprintf(stderr, "addonmake: error: %s\n", err.s);
		buf_free(&err);
		return EXIT_USAGE;
	}
	return -1;
}

/* loads, compiles and runs the command */
static int
run(struct run_opts *ro, struct cli *g)
{
	struct workspace w = {0};
	struct diag d = {0};
	d.secret = &w.secret;
	struct procs cps;
	procs_init(&cps);
	w.ps = &cps;
	compiling = &cps;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	struct cmd_ctx x = {0};
	int rc = EXIT_USAGE;
	if (ws_load(&w, g->file, &d)) {
		diag_print(&d, stderr);
	} else if (state_dir(&w, g) == 0 && select_clusters(&w, g, ro, &x) == 0) {
		rc = g->cmd == CMD_CLEAN || g->cmd == CMD_UNLOCK || g->cmd == CMD_CLUSTERS
			     ? cli_run(&x, g->cmd)
			     : prepare(&x, ro, g->cmd, &d);
		if (rc < 0)
			rc = cli_run(&x, g->cmd);
	}
	cmd_end(&x);
	lazy_preload_end();
	store_close(x.st);
	diag_free(&d);
	ws_free(&w);
	return rc;
}
