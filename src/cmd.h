/* cmd: the subcommands, each given a loaded, compiled workspace and the
 * selected clusters. Each returns an exit code. */
#ifndef CMD_H
#define CMD_H

#include "run.h"

/* how a cluster came out of a run (cmd_summary.c) */
enum { CO_NOWORK, CO_SYNCED, CO_FAILED, CO_LOCKED, CO_SKIPPED, CO_STOPPED };
struct crow {
	int outcome;
	int applied, pruned;
	char *layer, *why; /* the layer that failed; why (its first line) */
};

struct cmd_ctx {
	struct workspace *w;
	struct store *st;    /* the state; opened read-only by main */
	struct cluster **cl; /* selected clusters */
	size_t ncl;
	struct run_opts *ro;
	char **only;         /* LAYER arguments, or NULL */
	int all;             /* no -c: every cluster of the workspace */
	int rw;              /* st is open for writing */
	/* the executor and its output, set up on first use (cmd_runner):
	 * reading a cluster's records before the plan opens its target */
	struct runner run;
	struct out out;
	int run_ready;
	struct crow *rows;   /* per selected cluster (cmd_row), or NULL */
};

/* c's row of the summary (made on first use) */
struct crow *cmd_row(struct cmd_ctx *x, const struct cluster *c);
/* sets c's outcome (layer and why may be NULL; why's first line is kept) */
void cmd_row_set(struct cmd_ctx *x, const struct cluster *c, int outcome, const char *layer,
		 const char *why);
/* the summary: a line a cluster (with lines; not with -q for those that
 * went well), a JSON event a cluster with --json, the document of
 * --summary FILE. 1 when a cluster did not sync, 0 when all did, -1 when
 * the file could not be written (said) */
int cmd_summary(struct cmd_ctx *x, struct out *o, int lines);
void cmd_rows_free(struct cmd_ctx *x);

/* x's executor, set up on first use; cmd_end closes what it opened */
struct runner *cmd_runner(struct cmd_ctx *x);
void cmd_end(struct cmd_ctx *x);

/* every selected cluster from its snapshot when that still holds, else
 * compiled from the files; errors and warnings go to d */
int load_clusters(struct cmd_ctx *x, struct diag *d);
/* brings the local records of every selected cluster whose target keeps
 * them with the cluster up to date, then plans each; soft: a cluster whose
 * records cannot be read is planned from the local ones (warned), else it
 * is marked unreachable with no work. 0, or an exit code (said) */
int cmd_plan_all(struct cmd_ctx *x, int soft);
/* the drift pass (cmd_drift.c): for each selected cluster with --drift or
 * drift: true, once a run, what changed in the cluster under each clean
 * layer, into its plan.drift (a cluster that cannot be asked is marked
 * unreachable, said). 1 when a layer drifted (plan again), else 0 */
int cmd_drift_all(struct cmd_ctx *x);
/* one cluster's part of a sync: its --explain lines, its layers, and with
 * --prune its removed layers; the exit code of it, what happened in cr */
int cmd_sync_one(struct cmd_ctx *x, struct runner *r, struct cluster *c, struct crun *cr);
/* c's row of the summary from how its sync came out (main thread only) */
void cmd_sync_outcome(struct cmd_ctx *x, struct cluster *c, int crc, const struct crun *cr);
/* syncs up to at_once clusters at once (-J, cmd_fleet.c), setting each
 * one's outcome: the first failure's exit code, or EXIT_DONE */
int cmd_sync_fleet(struct cmd_ctx *x, struct runner *r, size_t at_once);
int cmd_sync(struct cmd_ctx *x);
int cmd_plan(struct cmd_ctx *x);
int cmd_graph(struct cmd_ctx *x);
int cmd_status(struct cmd_ctx *x);
int cmd_prune(struct cmd_ctx *x);
int cmd_clean(struct cmd_ctx *x);
int cmd_unlock(struct cmd_ctx *x);
int cmd_state(struct cmd_ctx *x);
int cmd_diff(struct cmd_ctx *x);
int cmd_clusters(struct cmd_ctx *x);

#endif
