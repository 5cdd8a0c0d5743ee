/* cmd: the subcommands, each given a loaded, compiled workspace and the
 * selected clusters. Each returns an exit code. */
#ifndef CMD_H
#define CMD_H

#include "run.h"

struct cmd_ctx {
	struct workspace *w;
	struct store *st;    /* the state; opened read-only by main */
	struct cluster **cl; /* selected clusters */
	size_t ncl;
	struct run_opts *ro;
	char **only;         /* LAYER arguments, or NULL */
	int all;             /* no -c: every cluster of the workspace */
};

/* every selected cluster from its snapshot when that still holds, else
 * compiled from the files; errors and warnings go to d */
int load_clusters(struct cmd_ctx *x, struct diag *d);
int cmd_sync(struct cmd_ctx *x);
int cmd_plan(struct cmd_ctx *x);
int cmd_graph(struct cmd_ctx *x);
int cmd_status(struct cmd_ctx *x);
int cmd_prune(struct cmd_ctx *x);
int cmd_clean(struct cmd_ctx *x);

#endif
