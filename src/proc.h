/* proc: child processes without a shell. Each child gets its own process
 * group, recorded in a registry so that Ctrl-C can stop every child of the
 * run and none is left behind. */
#ifndef PROC_H
#define PROC_H

#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>
#include "../lib/lib.h"

#define PROC_MAX 256
#define PROC_TMP_MAX 16
#define PROC_TMP_LEN 512

struct procs {
	pthread_mutex_t mu;
	pid_t pids[PROC_MAX];
	int stopping;
	/* temporary files and directories the children use, for
	 * procs_kill_async to remove: a slot's path is whole while its flag
	 * is set (atomics, not the lock: a signal handler reads them) */
	char tmp[PROC_TMP_MAX][PROC_TMP_LEN];
	int tmp_whole[PROC_TMP_MAX];
	int tmp_used[PROC_TMP_MAX]; /* under mu */
};

void procs_init(struct procs *ps);
/* SIGTERM to every running child's group; later spawns fail */
void procs_stop(struct procs *ps);
/* the same from a signal handler, which then ends the process: kill(2) to
 * every child's group (one that ends meanwhile is at worst sent a signal
 * it no longer needs), then `rm -rf` of the registered temporary paths
 * (fork and execve are async-signal-safe; a directory tree cannot be
 * walked in a handler) */
void procs_kill_async(struct procs *ps);
/* registers a temporary path (a name made by mkdtemp/mkstemp) that a
 * signal should not leave behind; returns its slot, or -1 when there is
 * no room (the path is then only removed by its owner) */
int procs_tmp_add(struct procs *ps, const char *path);
/* the owner removed the path: forget it (slot -1 is ignored) */
void procs_tmp_done(struct procs *ps, int slot);

struct proc_spec {
	char *const *argv;
	char *const *env;   /* extra NAME=VALUE entries, NULL-terminated */
	const char *cwd;
	const char *in;     /* written to stdin, then closed */
	size_t inlen;
	int64_t deadline;   /* now_ms() value after which the child is killed; 0 none */
	const char *err_path; /* stderr goes to this file instead of out */
};

/* runs to completion; *status is the exit code, 128+signal when killed, or
 * 127 when the program could not be started. out receives stdout, all of
 * it, when err_path is set; else stdout and stderr, the last 16 KiB.
 * Returns 0; -1 past the deadline; -2 when the run is stopping (Ctrl-C). */
int proc_run(struct procs *ps, const struct proc_spec *sp, struct buf *out,
	     int *status);
/* proc_run of argv with env (may be NULL) and stderr kept apart: it goes
 * to a private temporary file under TMPDIR (else /tmp), read back into
 * errtext with trailing white space trimmed; out receives all of stdout.
 * Returns as proc_run, or -3 (errtext says why) when no temporary file
 * could be made. */
int proc_run_split(struct procs *ps, char *const *argv, char *const *env, int64_t deadline,
		   struct buf *out, int *status, struct buf *errtext);

#endif
