/* cli: the command line. One table of commands and one of options, which
 * the parser, `--help`, `addonmake help COMMAND` and the bash and zsh
 * completion scripts all read, so none of them can say what another does
 * not do. */
#ifndef CLI_H
#define CLI_H

#include <stdio.h>
#include "run.h"

enum {
	CMD_SYNC, CMD_PLAN, CMD_GRAPH, CMD_STATUS, CMD_PRUNE, CMD_CLEAN, CMD_UNLOCK, CMD_STATE, CMD_DIFF, CMD_CLUSTERS,
	CMD_HELP, CMD_VERSION, CMD_COMPLETION, NCMDS
};

struct cli {
	int cmd;                  /* CMD_* */
	const char *dir, *file, *state;
	char **clusters, **args;  /* owned arrays, NULL-terminated; args: the
				   * LAYERs, help's COMMAND, completion's SHELL */
	size_t ncl, nargs;
};

#define VERSION "0.2.0"

/* parses argv into c and ro: 0 to go on, 1 when it is done (help or
 * version printed), -1 on a usage error (printed, with the way to help) */
int cli_parse(int argc, char **argv, struct run_opts *ro, struct cli *c);
void cli_free(struct cli *c);
/* the help of a command (-1: of addonmake) */
void cli_help(FILE *f, int cmd);
/* a completion script for shell ("bash" or "zsh"): 0, or -1 (printed) */
int cli_completion(FILE *f, const char *shell);
/* the name of a command */
const char *cli_name(int cmd);
/* runs a command of a workspace (sync to unlock) */
struct cmd_ctx;
int cli_run(struct cmd_ctx *x, int cmd);

#endif
