/* cli: see cli.h. The tables come first; everything after them reads
 * them. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cli.h"
#include "cmd.h"

#define B(c) (1u << (c))
/* the commands that read a workspace */
#define WS (B(CMD_SYNC) | B(CMD_PLAN) | B(CMD_GRAPH) | B(CMD_STATUS) | B(CMD_PRUNE) | B(CMD_CLEAN) | \
	    B(CMD_UNLOCK) | B(CMD_STATE) | B(CMD_DIFF) | B(CMD_CLUSTERS))
/* those that a shard of the fleet may run */
#define SHARDED (B(CMD_SYNC) | B(CMD_PLAN) | B(CMD_STATUS) | B(CMD_PRUNE) | B(CMD_DIFF) | \
		 B(CMD_CLUSTERS))
/* those that compile it */
#define COMPILE (WS & ~B(CMD_CLEAN) & ~B(CMD_UNLOCK) & ~B(CMD_CLUSTERS))
#define ALL ((1u << NCMDS) - 1)

struct command {
	const char *name;
	const char *args;    /* what follows the options, for usage */
	const char *summary; /* one line */
	const char *about;   /* a paragraph */
	int (*run)(struct cmd_ctx *x); /* commands of a workspace */
};

static const struct command cmds[NCMDS] = {
	[CMD_SYNC] = {.name = "sync", .args = "[LAYER...]",
		      .summary = "apply what changed, tier by tier (the default)",
		      .about = "Applies the layers that changed since the last run, tier by tier, lowest install "
		      "order first, and waits until every layer of a tier is ready before it starts the "
		      "next. Named LAYERs (PROFILE/LAYER or a layer name) are applied when they changed "
		      "(or with -B), with every layer of a later tier after them.",
		      .run = cmd_sync},
	[CMD_PLAN] = {.name = "plan", .args = "[LAYER...]",
		      .summary = "what sync would apply or prune, and why; applies nothing",
		      .about = "Says what sync would apply, one line a layer with the reason, and applies and "
		      "writes nothing. Layers that left the profiles are listed as removed (with --prune, "
		      "as what sync --prune would prune).",
		      .run = cmd_plan},
	[CMD_GRAPH] = {.name = "graph", .args = "",
		       .summary = "the layer graph as Graphviz DOT (addonmake graph | dot -Tsvg)",
		       .about = "Prints the layer graph: a DOT digraph with one cluster a tier and one node a "
		       "layer, coloured by its state, or with --json its nodes and edges.",
		       .run = cmd_graph},
	[CMD_STATUS] = {.name = "status", .args = "",
			.summary = "table of layers: tier, type, state, hash, last applied",
			.about = "Prints one line a layer: cluster, layer, install order, type, state, the hash "
			"applied (and the new one of a layer that changed) and when it was last applied.",
			.run = cmd_status},
	[CMD_PRUNE] = {.name = "prune", .args = "",
		       .summary = "delete the layers that left the profiles",
		       .about = "Deletes the layers that are recorded but no longer in the profiles, highest "
		       "install order first, and only what addonmake recorded applying.",
		       .run = cmd_prune},
	[CMD_CLEAN] = {.name = "clean", .args = "",
		       .summary = "forget the recorded state (of -c CLUSTER, or all)",
		       .about = "Forgets the recorded state of the clusters named with -c, or of every cluster; "
		       "deletes no output. The next sync applies every layer again, except on a kube "
		       "target whose records live in the cluster (state: cluster, the default): there "
		       "only the local cache is forgotten, and the next run reads the records again.",
		       .run = cmd_clean},
	[CMD_UNLOCK] = {.name = "unlock", .args = "",
			.summary = "release the lease on the records of -c CLUSTER (state: cluster)",
			.about = "Releases the lease that keeps a second run off a cluster whose records "
			"live in it (target: {kube: {state: cluster}}), whoever holds it: for a person, "
			"after a run that is gone. A lease not renewed for its duration (60 s) is taken "
			"over by the next run anyway. Needs -c; with -n, releases nothing.",
			.run = cmd_unlock},
	[CMD_DIFF] = {.name = "diff", .args = "[LAYER...]",
		      .summary = "what sync would change, object by object; changes nothing",
		      .about = "For each layer sync would apply for a change of its own (every layer with "
		      "--all; the named LAYERs), "
		      "shows what applying it would change: a unified diff per object of the live "
		      "object against the server's answer to the same apply as a dry run (kube "
		      "target), or of the rendered file (render target), without what the server "
		      "owns and never with a Secret's values. Objects that left a layer and the objects "
		      "of layers that left the profiles are shown as deletions. ADDONMAKE_EXTERNAL_DIFF "
		      "runs another program on two directories instead. Exit 0: no differences; 3: "
		      "differences (or objects that could not be compared).",
		      .run = cmd_diff},
	[CMD_CLUSTERS] = {.name = "clusters", .args = "",
			  .summary = "the clusters: name, target, profiles, layers (--json: a CI matrix)",
			  .about = "Lists the clusters of the workspace (of --shard I/N, of -c) with their "
			  "target, profiles and layers, counted from the profiles without fetching or "
			  "compiling anything. With --json, a GitHub Actions matrix ({\"include\": "
			  "[...]}, for fromJSON); with --chunk N, an array of matrices of at most N "
			  "clusters each (GitHub runs at most 256 jobs a matrix).",
			  .run = cmd_clusters},
	[CMD_STATE] = {.name = "state", .args = "rebuild",
		       .summary = "state rebuild: make lost records again from the objects in the cluster",
		       .about = "With records in the cluster (target: {kube: {state: cluster}}), makes the "
		       "records of layers that have objects in the cluster but no record (its state "
		       "namespace was deleted, say) from the labels and annotations addonmake puts on "
		       "every object it applies: one LIST with a label selector per kind that can be "
		       "listed and patched. Records that exist are kept. A helm layer's objects are "
		       "helm's and carry none: its record is not made, and the next sync upgrades its "
		       "release in place. With -n, says what it would record and records nothing.",
		       .run = cmd_state},
	[CMD_HELP] = {.name = "help", .args = "[COMMAND]",
		      .summary = "this text, or what a command does and takes",
		      .about = "Prints the help of addonmake, or of COMMAND.", .run = NULL},
	[CMD_VERSION] = {.name = "version", .args = "", .summary = "the version",
			 .about = "Prints the version of addonmake.", .run = NULL},
	[CMD_COMPLETION] = {.name = "completion", .args = "SHELL",
			    .summary = "a completion script for bash or zsh",
			    .about = "Prints a completion script for SHELL, bash or zsh, made from the same "
			    "tables as this help: eval \"$(addonmake completion bash)\" in ~/.bashrc, "
			    "or addonmake completion zsh > ~/.zfunc/_addonmake with ~/.zfunc in fpath.",
			    .run = NULL},
};

enum { O_DIR, O_FILE, O_CLUSTER, O_STATE, O_JOBS, O_CLUSTERS, O_KEEP, O_DRY, O_FORCE, O_VERBOSE, O_QUIET,
       O_EXPLAIN, O_PRUNE, O_DRIFT, O_JSON, O_DETAILED, O_ALL, O_SHARD, O_CHUNK, O_SUMMARY, O_WAITLOCK,
       O_OFFLINE,
       O_REFRESH, O_CONFLICTS,
       O_HELP, O_VERSION, NOPTS };
/* how a shell completes an option's value */
enum { V_NONE, V_DIR, V_FILE, V_WORD };

struct option {
	char sh;          /* -x, or 0 */
	const char *lng;  /* --name, or NULL */
	const char *arg;  /* the value's name, or NULL: a flag */
	int value;        /* V_* */
	unsigned cmds;    /* the commands that take it */
	const char *help;
};

static const struct option opts[NOPTS] = {
	[O_DIR] = {.sh = 'C', .lng = NULL, .arg = "DIR", .value = V_DIR, .cmds = WS,
		   .help = "change to DIR first"},
	[O_FILE] = {.sh = 'f', .lng = NULL, .arg = "FILE", .value = V_FILE, .cmds = WS,
		    .help = "the workspace file (default addonmake.yaml)"},
	[O_CLUSTER] = {.sh = 'c', .lng = NULL, .arg = "CLUSTER", .value = V_WORD, .cmds = WS,
		       .help = "only this cluster (repeatable; default: every cluster)"},
	[O_STATE] = {.sh = 0, .lng = "state", .arg = "DIR", .value = V_DIR, .cmds = WS,
		     .help = "keep the state in DIR (else $ADDONMAKE_STATE, else state: of the workspace, "
		     "else .addonmake)"},
	[O_JOBS] = {.sh = 'j', .lng = NULL, .arg = "N", .value = V_WORD, .cmds = B(CMD_SYNC),
		    .help = "at most N layers of a tier at once (default 0: all)"},
	[O_CLUSTERS] = {.sh = 'J', .lng = NULL, .arg = "N", .value = V_WORD, .cmds = B(CMD_SYNC),
			.help = "at most N clusters at once (default 8; 1: one after another)"},
	[O_KEEP] = {.sh = 'k', .lng = NULL, .arg = NULL, .value = V_NONE, .cmds = B(CMD_SYNC),
		    .help = "keep going: after a cluster fails, sync the others (without it, no "
		    "other cluster starts, and those running stop after their tier)"},
	[O_DRY] = {.sh = 'n', .lng = NULL, .arg = NULL, .value = V_NONE, .cmds = WS,
		   .help = "dry run: say what would be done, change nothing"},
	[O_FORCE] = {.sh = 'B', .lng = NULL, .arg = NULL, .value = V_NONE,
		     .cmds = B(CMD_SYNC) | B(CMD_PLAN),
		     .help = "apply every layer again (reason \"forced\")"},
	[O_VERBOSE] = {.sh = 'v', .lng = NULL, .arg = NULL, .value = V_NONE, .cmds = WS,
		       .help = "more output: why a cluster was compiled or not, each exec command and "
		       "its output"},
	[O_QUIET] = {.sh = 'q', .lng = NULL, .arg = NULL, .value = V_NONE, .cmds = WS,
		     .help = "quiet: print nothing but failures"},
	[O_EXPLAIN] = {.sh = 0, .lng = "explain", .arg = NULL, .value = V_NONE,
		       .cmds = B(CMD_SYNC) | B(CMD_PLAN),
		       .help = "say why each layer is applied"},
	[O_PRUNE] = {.sh = 0, .lng = "prune", .arg = NULL, .value = V_NONE,
		     .cmds = B(CMD_SYNC) | B(CMD_PLAN),
		     .help = "after a successful sync, prune the layers that left the profiles"},
	[O_DRIFT] = {.sh = 0, .lng = "drift", .arg = NULL, .value = V_NONE,
		     .cmds = B(CMD_SYNC) | B(CMD_PLAN),
		     .help = "kube target: also read the objects of unchanged layers and apply again "
		     "those changed or deleted in the cluster since their last apply"},
	[O_JSON] = {.sh = 0, .lng = "json", .arg = NULL, .value = V_NONE,
		    .cmds = B(CMD_SYNC) | B(CMD_PLAN) | B(CMD_STATUS) | B(CMD_GRAPH) | B(CMD_DIFF) |
			    B(CMD_CLUSTERS),
		    .help = "JSON Lines: events (sync), one object a layer (plan, status), nodes and "
		    "edges (graph), one object an object compared (diff)"},
	[O_ALL] = {.sh = 0, .lng = "all", .arg = NULL, .value = V_NONE, .cmds = B(CMD_DIFF),
		   .help = "compare every layer, not only those sync would apply"},
	[O_SHARD] = {.sh = 0, .lng = "shard", .arg = "I/N", .value = V_WORD, .cmds = SHARDED,
		     .help = "only the clusters of shard I of N (0 <= I < N; auto/N: I from "
		     "JOB_COMPLETION_INDEX), a split the same in every shard, balanced by layers"},
	[O_CHUNK] = {.sh = 0, .lng = "chunk", .arg = "N", .value = V_WORD, .cmds = B(CMD_CLUSTERS),
		     .help = "with --json, matrices of at most N clusters each"},
	[O_SUMMARY] = {.sh = 0, .lng = "summary", .arg = "FILE", .value = V_FILE, .cmds = B(CMD_SYNC),
		       .help = "write how each cluster came out (synced, no work, failed at a layer, "
		       "locked, not started) to FILE as JSON"},
	[O_DETAILED] = {.sh = 0, .lng = "detailed-exitcode", .arg = NULL, .value = V_NONE,
			.cmds = B(CMD_PLAN),
			.help = "exit 3 when there is work to do"},
	[O_WAITLOCK] = {.sh = 0, .lng = "wait-lock", .arg = NULL, .value = V_NONE,
			.cmds = B(CMD_SYNC) | B(CMD_PRUNE) | B(CMD_CLEAN) | B(CMD_STATE),
			.help = "wait for another run of this workspace (or, state: cluster, of the "
			"cluster) instead of failing"},
	[O_OFFLINE] = {.sh = 0, .lng = "offline", .arg = NULL, .value = V_NONE, .cmds = COMPILE,
		       .help = "use downloaded charts and packs from the cache only; no network"},
	[O_REFRESH] = {.sh = 0, .lng = "refresh", .arg = NULL, .value = V_NONE, .cmds = COMPILE,
		       .help = "ask the registries again for every index, OCI tag and HTTP pack (finds "
		       "a chart or pack republished under the same version)"},
	[O_CONFLICTS] = {.sh = 0, .lng = "force-conflicts", .arg = NULL, .value = V_NONE,
			 .cmds = B(CMD_SYNC) | B(CMD_DIFF),
			 .help = "kube target: take over fields another field manager owns"},
	[O_HELP] = {.sh = 'h', .lng = "help", .arg = NULL, .value = V_NONE, .cmds = ALL,
		    .help = "this text"},
	[O_VERSION] = {.sh = 0, .lng = "version", .arg = NULL, .value = V_NONE, .cmds = ALL,
		       .help = "the version"},
};

static const char exit_text[] =
	"0 done or nothing to do, 1 a layer, a download or the cluster failed (or another run "
	"holds the lock), 2 bad input or usage, 130 interrupted (143 on SIGTERM)";

const char *
cli_name(int cmd)
{
	return cmds[cmd].name;
}

/* --- help --------------------------------------------------------------- */

/* text wrapped at 79 columns, lines after the first indented by indent;
 * col is where the first starts */
static void
wrap(FILE *f, const char *text, int col, int indent)
{
	while (*text) {
		const char *e = text;
		while (*e && *e != ' ')
			e++;
		int w = (int)(e - text);
		if (col > indent && col + 1 + w > 79) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fprintf(f, "%.*s", w, text);
		col += w;
		text = *e ? e + 1 : e;
	}
	fputc('\n', f);
}

/* "-C DIR", "--state DIR", "-h, --help" */
static void
opt_spelling(char *out, size_t n, const struct option *o)
{
	if (o->sh && o->lng)
		snprintf(out, n, "-%c, --%s", o->sh, o->lng);
	else if (o->sh)
		snprintf(out, n, "-%c%s%s", o->sh, o->arg ? " " : "", o->arg ? o->arg : "");
	else
		snprintf(out, n, "--%s%s%s", o->lng, o->arg ? " " : "", o->arg ? o->arg : "");
}

static void
opt_line(FILE *f, const struct option *o, int cmd)
{
	char sp[64], help[400];
	opt_spelling(sp, sizeof(sp), o);
	snprintf(help, sizeof(help), "%s", o->help);
	if (cmd < 0 && (o->cmds & WS) != WS) {
		/* in addonmake's help: which commands take it */
		size_t n = strlen(help);
		int first = 1;
		for (int c = 0; c < CMD_HELP; c++)
			if (o->cmds & B(c)) {
				n += (size_t)snprintf(help + n, sizeof(help) - n, "%s%s",
						      first ? " [" : ", ", cmds[c].name);
				first = 0;
			}
		snprintf(help + n, sizeof(help) - n, "]");
	}
	fprintf(f, "  %-21s", sp);
	wrap(f, help, 23, 23);
}

void
cli_help(FILE *f, int cmd)
{
	if (cmd < 0) {
		fputs("usage: addonmake [COMMAND] [options] [LAYER...]\n\n", f);
		wrap(f, "Applies Palette add-on profiles tier by tier (lowest install order first), "
			"waiting for every layer of a tier to be ready before the next, and applies "
			"again only what changed since the last run.", 0, 0);
		fputs("\ncommands:\n", f);
		for (int c = 0; c < NCMDS; c++) {
			fprintf(f, "  %-12s", cmds[c].name);
			wrap(f, cmds[c].summary, 14, 14);
		}
		fputs("\noptions ('addonmake help COMMAND' lists those of a command):\n", f);
		for (int o = 0; o < NOPTS; o++)
			opt_line(f, &opts[o], -1);
		fputs("\nLAYER is a layer id (PROFILE/LAYER) or a layer name.\n\n", f);
	} else {
		fprintf(f, "usage: addonmake %s%s%s%s\n\n", cmds[cmd].name,
			cmd < CMD_HELP ? " [options]" : "", *cmds[cmd].args ? " " : "", cmds[cmd].args);
		wrap(f, cmds[cmd].about, 0, 0);
		if (cmd < CMD_HELP) {
			fputs("\noptions:\n", f);
			for (int o = 0; o < NOPTS; o++)
				if ((opts[o].cmds & B(cmd)) && o != O_VERSION)
					opt_line(f, &opts[o], cmd);
		}
		fputc('\n', f);
	}
	char ex[400];
	snprintf(ex, sizeof(ex), "exit status: %s%s.", exit_text,
		 cmd < 0 || cmd == CMD_PLAN ? "; 3 plan --detailed-exitcode found work" : "");
	wrap(f, ex, 0, 0);
}

/* --- parsing ------------------------------------------------------------ */

static int __attribute__((format(printf, 1, 2)))
usage_err(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "addonmake: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	return -1;
}

static int
find_cmd(const char *s)
{
	for (int c = 0; c < NCMDS; c++)
		if (strcmp(cmds[c].name, s) == 0)
			return c;
	return -1;
}

/* a count from min to 100000 in *out: 0, or -1 */
static int
count_of(const char *value, long min, int *out)
{
	char *end;
	long n = strtol(value, &end, 10);
	if (!*value || *end || n < min || n > 100000)
		return -1;
	*out = (int)n;
	return 0;
}

/* sets what option o says (value: its argument) */
static int
apply_opt(int o, const char *value, struct run_opts *ro, struct cli *c)
{
	switch (o) {
	case O_DIR: c->dir = value; break;
	case O_FILE: c->file = value; break;
	case O_CLUSTER: c->clusters[c->ncl++] = (char *)value; break;
	case O_STATE: c->state = value; break;
	case O_JOBS:
		if (count_of(value, 0, &ro->jobs))
			return usage_err("-j needs a number (0 = all), not \"%s\"", value);
		break;
	case O_CLUSTERS:
		if (count_of(value, 1, &ro->clusters_at_once))
			return usage_err("-J needs a number of clusters (1 or more), not \"%s\"", value);
		break;
	case O_KEEP: ro->keep_going = 1; break;
	case O_DRY: ro->dry_run = 1; break;
	case O_FORCE: ro->force = 1; break;
	case O_VERBOSE: ro->verbose = 1; break;
	case O_QUIET: ro->quiet = 1; break;
	case O_EXPLAIN: ro->explain = 1; break;
	case O_PRUNE: ro->prune = 1; break;
	case O_DRIFT: ro->drift = 1; break;
	case O_JSON: ro->json = 1; break;
	case O_DETAILED: ro->detailed_exitcode = 1; break;
	case O_ALL: ro->all_layers = 1; break;
	case O_SHARD: ro->shard = value; break;
	case O_SUMMARY: ro->summary = value; break;
	case O_CHUNK:
		if (count_of(value, 1, &ro->chunk))
			return usage_err("--chunk needs a number of clusters (1 or more), not \"%s\"",
					 value);
		break;
	case O_WAITLOCK: ro->wait_lock = 1; break;
	case O_OFFLINE: ro->offline = 1; break;
	case O_REFRESH: ro->refresh = 1; break;
	case O_CONFLICTS: ro->force_conflicts = 1; break;
	}
	return 0;
}

/* a --long option at argv[*i] (its value the rest after '=' or the next
 * argument); 0, or -1 (said) */
static int
long_opt(int argc, char **argv, int *i, struct run_opts *ro, struct cli *c, char given[][32])
{
	const char *a = argv[*i];
	const char *eq = strchr(a, '=');
	size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
	int o = 0;
	while (o < NOPTS && !(opts[o].lng && strlen(opts[o].lng) == len &&
			      strncmp(opts[o].lng, a + 2, len) == 0))
		o++;
	if (o == NOPTS)
		return usage_err("unknown option %s\nRun 'addonmake --help' for usage.", a);
	const char *val = NULL;
	if (opts[o].arg) {
		val = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
		if (!val)
			return usage_err("option %s needs a value (%s)", a, opts[o].arg);
	} else if (eq) {
		return usage_err("option --%s takes no value", opts[o].lng);
	}
	snprintf(given[o], 32, "--%s", opts[o].lng);
	return apply_opt(o, val, ro, c) ? -1 : 0;
}

/* -xyz at argv[*i]: flags, the last of which may take a value (the rest
 * of the word, or the next argument); 0, or -1 (said) */
static int
short_opts(int argc, char **argv, int *i, struct run_opts *ro, struct cli *c, char given[][32])
{
	for (char *p = argv[*i] + 1; *p; p++) {
		int o = 0;
		while (o < NOPTS && opts[o].sh != *p)
			o++;
		char sp[3] = {'-', *p, 0};
		if (o == NOPTS)
			return usage_err("unknown option %s\nRun 'addonmake --help' for usage.", sp);
		const char *val = NULL;
		if (opts[o].arg) {
			val = p[1] ? p + 1 : *i + 1 < argc ? argv[++*i] : NULL;
			if (!val)
				return usage_err("option %s needs a value (%s)", sp, opts[o].arg);
		}
		memcpy(given[o], sp, 3);
		if (apply_opt(o, val, ro, c))
			return -1;
		if (val)
			break;
	}
	return 0;
}

/* what the words say once read: the commands that answer at once (help,
 * version, completion), an option the command does not take, LAYER
 * arguments where none go; as cli_parse returns */
static int
cli_finish(struct cli *c, char given[][32])
{
	int named = c->cmd >= 0;
	if (!named)
		c->cmd = CMD_SYNC;
	if (given[O_HELP][0]) {
		cli_help(stdout, named ? c->cmd : -1);
		return 1;
	}
	if (given[O_VERSION][0] || c->cmd == CMD_VERSION) {
		printf("addonmake %s\n", VERSION);
		return 1;
	}
	/* an option the command does not take is refused, not ignored */
	for (int o = 0; o < NOPTS; o++)
		if (given[o][0] && !(opts[o].cmds & B(c->cmd)))
			return usage_err("%s takes no %s\nRun 'addonmake help %s' for its options.",
					 cmds[c->cmd].name, given[o], cmds[c->cmd].name);
	if (c->cmd == CMD_HELP) {
		int k = c->nargs ? find_cmd(c->args[0]) : -1;
		if (c->nargs > 1 || (c->nargs && k < 0)) {
			char names[200] = "";
			for (int i = 0; i < NCMDS; i++)
				snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
					 i ? ", " : "", cmds[i].name);
			return usage_err("help takes one COMMAND of: %s (not \"%s\")", names,
					 c->args[c->nargs - 1]);
		}
		cli_help(stdout, k);
		return 1;
	}
	if (c->cmd == CMD_COMPLETION) {
		if (c->nargs != 1)
			return usage_err("completion takes one SHELL: bash or zsh");
		return cli_completion(stdout, c->args[0]) ? -1 : 1;
	}
	if (c->cmd == CMD_STATE) {
		if (c->nargs != 1 || strcmp(c->args[0], "rebuild") != 0)
			return usage_err("state takes one verb: rebuild (addonmake state rebuild -c "
					 "CLUSTER)%s%s%s", c->nargs ? "; not \"" : "",
					 c->nargs ? c->args[c->nargs - 1] : "", c->nargs ? "\"" : "");
		c->nargs = 0; /* the verb is not a LAYER */
	}
	if (c->nargs && c->cmd != CMD_SYNC && c->cmd != CMD_PLAN && c->cmd != CMD_DIFF)
		return usage_err("%s takes no LAYER arguments (\"%s\")", cmds[c->cmd].name,
				 c->args[0]);
	return 0;
}

int
cli_parse(int argc, char **argv, struct run_opts *ro, struct cli *c)
{
	memset(c, 0, sizeof(*c));
	c->cmd = -1;
	c->file = "addonmake.yaml";
	c->clusters = xcalloc((size_t)argc + 1, sizeof(char *));
	c->args = xcalloc((size_t)argc + 1, sizeof(char *));
	char given[NOPTS][32]; /* how each option was spelt, or "" */
	memset(given, 0, sizeof(given));
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		if (a[0] != '-' || !a[1]) {
			int k = c->cmd < 0 && !c->nargs ? find_cmd(a) : -1;
			if (k >= 0)
				c->cmd = k;
			else
				c->args[c->nargs++] = a;
		} else if (strcmp(a, "--") == 0) {
			while (++i < argc)
				c->args[c->nargs++] = argv[i];
		} else if (a[1] == '-' ? long_opt(argc, argv, &i, ro, c, given)
				       : short_opts(argc, argv, &i, ro, c, given)) {
			return -1;
		}
	}
	return cli_finish(c, given);
}

void
cli_free(struct cli *c)
{
	free(c->clusters);
	free(c->args);
}

int
cli_run(struct cmd_ctx *x, int cmd)
{
	return cmds[cmd].run(x);
}

/* --- completion --------------------------------------------------------- */

/* the options of a command (-1: of all), as words */
static void
opt_words(FILE *f, int cmd)
{
	for (int o = 0; o < NOPTS; o++) {
		if (cmd >= 0 && !(opts[o].cmds & B(cmd)))
			continue;
		if (opts[o].sh)
			fprintf(f, " -%c", opts[o].sh);
		if (opts[o].lng)
			fprintf(f, " --%s", opts[o].lng);
	}
}

static void
bash(FILE *f)
{
	fputs("# bash completion for addonmake, made by `addonmake completion bash` from the\n"
	      "# tables of its --help; eval \"$(addonmake completion bash)\" in ~/.bashrc\n"
	      "_addonmake() {\n"
	      "\tlocal cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
	      "\tlocal cmd= opts i\n"
	      "\tfor ((i = 1; i < COMP_CWORD; i++)); do\n"
	      "\t\tcase ${COMP_WORDS[i]} in\n", f);
	/* options whose value is the next word: skipped when looking for the
	 * command */
	fputs("\t\t", f);
	int first = 1;
	for (int o = 0; o < NOPTS; o++)
		if (opts[o].arg) {
			if (opts[o].sh)
				fprintf(f, "%s-%c", first ? "" : "|", opts[o].sh), first = 0;
			if (opts[o].lng)
				fprintf(f, "%s--%s", first ? "" : "|", opts[o].lng), first = 0;
		}
	fputs(") ((i++)) ;;\n\t\t-*) ;;\n\t\t*) cmd=${COMP_WORDS[i]}; break ;;\n\t\tesac\n"
	      "\tdone\n\tcase $prev in\n", f);
	for (int v = V_DIR; v <= V_WORD; v++) {
		first = 1;
		fputs("\t", f);
		for (int o = 0; o < NOPTS; o++)
			if (opts[o].arg && opts[o].value == v) {
				if (opts[o].sh)
					fprintf(f, "%s-%c", first ? "" : "|", opts[o].sh), first = 0;
				if (opts[o].lng)
					fprintf(f, "%s--%s", first ? "" : "|", opts[o].lng), first = 0;
			}
		fprintf(f, ") COMPREPLY=(%s); return ;;\n",
			v == V_DIR ? "$(compgen -d -- \"$cur\")"
			: v == V_FILE ? "$(compgen -f -- \"$cur\")" : "");
	}
	fputs("\tesac\n\tcase $cmd in\n", f);
	for (int c = 0; c < NCMDS; c++) {
		fprintf(f, "\t%s) opts=\"", cmds[c].name);
		opt_words(f, c);
		fputs("\" ;;\n", f);
	}
	fputs("\t*) opts=\"", f);
	opt_words(f, CMD_SYNC);
	fputs("\" ;;\n\tesac\n"
	      "\tif [[ $cur == -* ]]; then\n"
	      "\t\tCOMPREPLY=($(compgen -W \"$opts\" -- \"$cur\"))\n"
	      "\t\treturn\n\tfi\n\tcase $cmd in\n\t'') COMPREPLY=($(compgen -W \"", f);
	for (int c = 0; c < NCMDS; c++)
		fprintf(f, "%s%s", c ? " " : "", cmds[c].name);
	fputs("\" -- \"$cur\")) ;;\n\thelp) COMPREPLY=($(compgen -W \"", f);
	for (int c = 0; c < NCMDS; c++)
		fprintf(f, "%s%s", c ? " " : "", cmds[c].name);
	fputs("\" -- \"$cur\")) ;;\n"
	      "\tcompletion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")) ;;\n"
	      "\t*) COMPREPLY=() ;;\n\tesac\n}\n"
	      "complete -F _addonmake addonmake\n", f);
}

/* a help text inside a zsh _arguments or _describe spec, itself in
 * single quotes: [ ] : escaped as zsh reads them, ' closed and reopened */
static void
zsh_text(FILE *f, const char *s)
{
	for (; *s; s++)
		if (*s == '[' || *s == ']' || *s == ':')
			fprintf(f, "\\%c", *s);
		else if (*s == '\'')
			fputs("'\\''", f);
		else
			fputc(*s, f);
}

static void
zsh_opt(FILE *f, const struct option *o)
{
	const char *action = o->value == V_DIR ? ":dir:_files -/" : o->value == V_FILE ? ":file:_files"
			     : o->arg ? ":value: " : "";
	if (o->sh && o->lng)
		fprintf(f, "\t\t'(-%c --%s)'{-%c,--%s}'[", o->sh, o->lng, o->sh, o->lng);
	else if (o->sh) /* -c may be given again */
		fprintf(f, "\t\t'%s-%c[", o->sh == 'c' ? "*" : "", o->sh);
	else
		fprintf(f, "\t\t'--%s[", o->lng);
	zsh_text(f, o->help);
	fprintf(f, "]%s'", action);
}

static void
zsh(FILE *f)
{
	fputs("#compdef addonmake\n"
	      "# zsh completion for addonmake, made by `addonmake completion zsh` from the\n"
	      "# tables of its --help; put it in a directory of fpath as _addonmake\n"
	      "_addonmake() {\n"
	      "\tlocal cmd i\n"
	      "\tfor ((i = 2; i < CURRENT; i++)); do\n"
	      "\t\tcase $words[i] in\n\t\t", f);
	for (int c = 0; c < NCMDS; c++)
		fprintf(f, "%s%s", c ? "|" : "", cmds[c].name);
	fputs(") cmd=$words[i]; break ;;\n\t\tesac\n\tdone\n"
	      "\tlocal -a commands\n\tcommands=(\n", f);
	for (int c = 0; c < NCMDS; c++) {
		fprintf(f, "\t\t'%s:", cmds[c].name);
		zsh_text(f, cmds[c].summary);
		fputs("'\n", f);
	}
	fputs("\t)\n\tcase $cmd in\n", f);
	for (int c = -1; c < NCMDS; c++) {
		fprintf(f, "\t%s)\n\t\t_arguments -s \\\n", c < 0 ? "''" : cmds[c].name);
		for (int o = 0; o < NOPTS; o++)
			if (opts[o].cmds & B(c < 0 ? CMD_SYNC : c)) {
				zsh_opt(f, &opts[o]);
				fputs(" \\\n", f);
			}
		if (c < 0)
			fputs("\t\t'1:command:{_describe command commands}' \\\n", f);
		else if (c == CMD_HELP)
			fputs("\t\t'1:command:{_describe command commands}' \\\n", f);
		else if (c == CMD_COMPLETION)
			fputs("\t\t'1:shell:(bash zsh)' \\\n", f);
		fputs("\t\t'*:layer: '\n\t\t;;\n", f);
	}
	fputs("\tesac\n}\n_addonmake \"$@\"\n", f);
}

int
cli_completion(FILE *f, const char *shell)
{
	if (strcmp(shell, "bash") == 0)
		bash(f);
	else if (strcmp(shell, "zsh") == 0)
		zsh(f);
	else
		return usage_err("completion knows bash and zsh, not \"%s\"", shell);
	return 0;
}
