/* main: the command line. Loads and compiles the workspace (every error
 * found is reported, then exit 2 with nothing applied or recorded), then
 * hands the selected clusters to a subcommand. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cmd.h"

#define VERSION "0.1.0"

static const char usage_text[] =
"usage: addonmake [COMMAND] [options] [LAYER...]\n"
"\n"
"Applies Palette add-on profiles tier by tier (lowest install order first),\n"
"waiting for every layer of a tier to be ready before the next, and re-applies\n"
"only what changed since the last run.\n"
"\n"
"commands:\n"
"  sync      apply what changed (the default)\n"
"  plan      show what sync would apply or prune, and why; applies nothing\n"
"  graph     print the layer graph as Graphviz DOT (addonmake graph | dot -Tsvg)\n"
"  status    table of layers: tier, type, state, hash, last applied\n"
"  prune     delete layers no longer in the profiles, highest order first\n"
"  clean     forget the recorded state (of the clusters named with -c, or all)\n"
"\n"
"options:\n"
"  -C DIR               change to DIR first\n"
"  -f FILE              workspace file (default addonmake.yaml)\n"
"  -c CLUSTER           only this cluster (repeatable; default: all)\n"
"  -j N                 at most N layers of a tier at once (default: all)\n"
"  -k                   keep going: after a cluster fails, sync the next one\n"
"  -n                   dry run: show what sync would do, change nothing\n"
"  -B                   re-apply every layer (reason \"forced\")\n"
"  -v, -q               more output / only failures\n"
"  --explain            say why each layer is applied\n"
"  --prune              after a successful sync, prune removed layers\n"
"  --json               JSON Lines output (plan, status, sync events)\n"
"  --detailed-exitcode  plan: exit 3 when there is work to do\n"
"  --wait-lock          wait for another run of this workspace instead of failing\n"
"  --offline            use downloaded charts and packs from the cache only;\n"
"                       no network\n"
"  --refresh            ask the registries again for every index, OCI tag and\n"
"                       HTTP pack (picks up a chart or pack republished under\n"
"                       the same version)\n"
"  --force-conflicts    kube target: take over fields another field manager owns\n"
"  --state DIR          keep the state in DIR (else $ADDONMAKE_STATE, else\n"
"                       state: of the workspace, else .addonmake)\n"
"  -h, --help           this text\n"
"  --version            the version\n"
"\n"
"LAYER is a layer id (PROFILE/LAYER) or a layer name; sync then applies those\n"
"layers (when dirty, or with -B) and the later tiers that must follow them.\n"
"\n"
"exit status: 0 done or nothing to do, 1 a layer or a download failed, 2 bad input\n"
"or usage, 3 plan --detailed-exitcode found work, 130 interrupted (143 on SIGTERM).\n";

static int
usage_err(const char *fmt, const char *arg)
{
	fprintf(stderr, "addonmake: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\nRun 'addonmake --help' for usage.\n");
	return -1;
}

struct args {
	const char *dir, *file, *cmd, *state;
	char **clusters, **layers; /* owned; NULL-terminated */
	size_t ncl, nlayers;
};

/* 0: go on; 1: done (--help, --version); -1: usage error (printed) */
static int
parse_args(int argc, char **argv, struct run_opts *ro, struct args *g)
{
	static const char *const cmds[] = {"sync", "plan", "graph", "status", "prune", "clean",
					   NULL};
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (a[0] != '-' || !a[1]) {
			int is_cmd = 0;
			for (const char *const *c = cmds; *c && !g->cmd && !g->nlayers; c++)
				if (strcmp(a, *c) == 0)
					is_cmd = 1;
			if (is_cmd)
				g->cmd = a;
			else
				g->layers[g->nlayers++] = a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			while (++i < argc)
				g->layers[g->nlayers++] = argv[i];
			break;
		}
		if (a[1] == '-') {
			if (strcmp(a, "--help") == 0) {
				fputs(usage_text, stdout);
				return 1;
			} else if (strcmp(a, "--version") == 0) {
				printf("addonmake %s\n", VERSION);
				return 1;
			} else if (strcmp(a, "--explain") == 0) {
				ro->explain = 1;
			} else if (strcmp(a, "--prune") == 0) {
				ro->prune = 1;
			} else if (strcmp(a, "--json") == 0) {
				ro->json = 1;
			} else if (strcmp(a, "--detailed-exitcode") == 0) {
				ro->detailed_exitcode = 1;
			} else if (strcmp(a, "--wait-lock") == 0) {
				ro->wait_lock = 1;
			} else if (strcmp(a, "--offline") == 0) {
				ro->offline = 1;
			} else if (strcmp(a, "--refresh") == 0) {
				ro->refresh = 1;
			} else if (strcmp(a, "--force-conflicts") == 0) {
				ro->force_conflicts = 1;
			} else if (strncmp(a, "--state=", 8) == 0) {
				g->state = a + 8;
			} else if (strcmp(a, "--state") == 0) {
				if (i + 1 >= argc)
					return usage_err("option %s needs a value", a);
				g->state = argv[++i];
			} else {
				return usage_err("unknown option %s", a);
			}
			continue;
		}
		for (char *p = a + 1; *p; p++) {
			const char *val = NULL;
			char opt[3] = {'-', *p, 0};
			if (strchr("Cfcj", *p)) {
				val = p[1] ? p + 1 : (i + 1 < argc ? argv[++i] : NULL);
				if (!val)
					return usage_err("option %s needs a value", opt);
			}
			switch (*p) {
			case 'C': g->dir = val; break;
			case 'f': g->file = val; break;
			case 'c': g->clusters[g->ncl++] = (char *)val; break;
			case 'j': {
				char *end;
				long n = strtol(val, &end, 10);
				if (*end || n < 0 || n > 100000)
					return usage_err("-j needs a number (0 = all), not \"%s\"", val);
				ro->jobs = (int)n;
				break;
			}
			case 'k': ro->keep_going = 1; break;
			case 'n': ro->dry_run = 1; break;
			case 'B': ro->force = 1; break;
			case 'v': ro->verbose = 1; break;
			case 'q': ro->quiet = 1; break;
			case 'h': fputs(usage_text, stdout); return 1;
			default: return usage_err("unknown option %s", opt);
			}
			if (val)
				break;
		}
	}
	if (!g->cmd)
		g->cmd = "sync";
	if (g->nlayers && strcmp(g->cmd, "sync") && strcmp(g->cmd, "plan"))
		return usage_err("%s takes no LAYER arguments", g->cmd);
	return 0;
}

static int run(struct run_opts *ro, struct args *g);

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
	struct args g = {0};
	/* a file-size limit (ulimit -f) makes a write fail with EFBIG, which is
	 * reported and leaves the old file, rather than killing the run
	 * mid-write */
	signal(SIGXFSZ, SIG_IGN);
	g.file = "addonmake.yaml";
	g.clusters = xcalloc((size_t)argc + 1, sizeof(char *));
	g.layers = xcalloc((size_t)argc + 1, sizeof(char *));
	int rc = parse_args(argc, argv, &ro, &g);
	if (rc == 0 && g.dir && chdir(g.dir) < 0) {
		fprintf(stderr, "addonmake: error: cannot change to %s: %s\n", g.dir, strerror(errno));
		rc = -1;
	}
	if (rc == 0)
		rc = run(&ro, &g);
	else
		rc = rc > 0 ? EXIT_DONE : EXIT_USAGE;
	free(g.clusters);
	free(g.layers);
	return rc;
}

/* loads, compiles and runs the command */
static int
run(struct run_opts *ro, struct args *g)
{
	const char *file = g->file, *cmd = g->cmd;
	char **clusters = g->clusters, **layers = g->layers;
	size_t ncl = g->ncl, nlayers = g->nlayers;

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
	if (ws_load(&w, file, &d)) {
		diag_print(&d, stderr);
		goto out;
	}
	/* --state, else ADDONMAKE_STATE, else the workspace's state:; these
	 * two are relative to the directory addonmake runs in (after -C) */
	const char *st = g->state ? g->state : getenv("ADDONMAKE_STATE");
	if (st && *st) {
		const char *home;
		int e = path_home(&w.a, st, &home);
		if (e) {
			fprintf(stderr, "addonmake: error: %s%s: %s\n",
				g->state ? "--state " : "ADDONMAKE_STATE=", st,
				e == EINVAL ? "only ~ and ~/ are expanded (the home directory)"
					    : "~ is the home directory, but HOME is not set");
			goto out;
		}
		w.state = path_join(&w.a, ".", home);
	}
	struct cluster **sel = arena_alloc(&w.a, (w.nclusters + 1) * sizeof(*sel));
	size_t nsel = 0;
	for (size_t i = 0; i < w.nclusters; i++) {
		int want = ncl == 0;
		for (size_t k = 0; k < ncl && !want; k++)
			want = strcmp(clusters[k], w.clusters[i].name) == 0;
		if (want)
			sel[nsel++] = &w.clusters[i];
	}
	for (size_t k = 0; k < ncl; k++) {
		int found = 0;
		for (size_t i = 0; i < w.nclusters && !found; i++)
			found = strcmp(clusters[k], w.clusters[i].name) == 0;
		if (!found) {
			fprintf(stderr, "addonmake: error: %s has no cluster \"%s\"\n", w.file,
				clusters[k]);
			goto out;
		}
	}
	x = (struct cmd_ctx){&w, NULL, sel, nsel, ro, nlayers ? layers : NULL};
	if (strcmp(cmd, "clean") == 0) {
		rc = cmd_clean(&x, ncl == 0);
		goto out;
	}
	struct buf err = {0};
	if (store_check(w.state, &err) || store_open(&x.st, w.state, 1, &err)) {
		fprintf(stderr, "addonmake: error: %s\n", err.s);
		buf_free(&err);
		rc = EXIT_FAILED;
		goto out;
	}
	w.st = x.st;
	w.offline = ro->offline;
	w.refresh = ro->refresh;
	w.quiet = ro->quiet;
	if (w.offline && w.refresh) {
		fprintf(stderr, "addonmake: --offline and --refresh exclude each other\n");
		goto out;
	}
	if (load_clusters(&x, &d)) {
		rc = EXIT_FAILED;
		goto out;
	}
	diag_print(&d, stderr);
	if (d.nerr) {
		fprintf(stderr, "addonmake: %d error%s; nothing was applied.\n", d.nerr,
			d.nerr == 1 ? "" : "s");
		/* only downloads failed: that is not bad input */
		if (d.nerr == d.nremote)
			rc = EXIT_FAILED;
		goto out;
	}
	if (x.only && plan_check_only(&w, x.only, &err)) {
		fprintf(stderr, "addonmake: error: %s\n", err.s);
		buf_free(&err);
		goto out;
	}
	if (strcmp(cmd, "sync") == 0)
		rc = cmd_sync(&x);
	else if (strcmp(cmd, "plan") == 0)
		rc = cmd_plan(&x);
	else if (strcmp(cmd, "graph") == 0)
		rc = cmd_graph(&x);
	else if (strcmp(cmd, "status") == 0)
		rc = cmd_status(&x);
	else
		rc = cmd_prune(&x);
out:
	store_close(x.st);
	diag_free(&d);
	ws_free(&w);
	return rc;
}
