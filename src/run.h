/* run: the options of one run, the output it prints, and the executor that
 * applies a planned cluster tier by tier and prunes removed layers. */
#ifndef RUN_H
#define RUN_H

#include <stdio.h>
#include "plan.h"
#include "target/target.h"

struct run_opts {
	int jobs;        /* -j: layers of a tier at once; 0 = all */
	int clusters_at_once; /* -J: clusters at once; 0: the default (8) */
	int keep_going;  /* -k: go on with the next cluster after a failure */
	int dry_run;     /* -n */
	int force;       /* -B */
	int explain;     /* --explain */
	int prune;       /* --prune */
	int drift;       /* --drift */
	int json;        /* --json */
	int verbose, quiet;
	int wait_lock;
	int detailed_exitcode;
	int all_layers;  /* --all (diff) */
	const char *shard; /* --shard I/N, or NULL */
	int chunk;       /* --chunk N (clusters), 0: one matrix */
	const char *summary; /* --summary FILE, or NULL */
	int offline;     /* --offline */
	int refresh;     /* --refresh */
	int force_conflicts; /* --force-conflicts */
	int64_t started_ms;  /* when the run began (now_ms), for the summary */
};

/* output: a ninja-style [done/total] line on a terminal, one line per event
 * otherwise, JSON Lines with --json */
struct out {
	FILE *f;
	int tty, json, quiet, verbose;
	int color;     /* a terminal, and NO_COLOR is not set */
	int done, total;
	int line_open; /* a status line is on the terminal */
	const struct strset *secret; /* never printed (NULL: nothing) */
	/* what the run's events came to, for out_summary */
	int nready, nfailed, ninterrupted, npruned;
	/* -J with more than one cluster: the clusters' progress, for the
	 * status line */
	int fleet, cl_done, cl_running, cl_failed, cl_waiting;
	pthread_mutex_t mu; /* held by each function here */
};
void out_init(struct out *o, FILE *f, const struct run_opts *ro);
/* an event of one layer; detail may be NULL. "waiting" only updates the
 * status line on a terminal. */
void out_event(struct out *o, const char *event, const char *cluster,
	       const char *layer, long long order, const char *detail);
/* a plain message line (clears the status line first) */
void out_msg(struct out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void out_finish(struct out *o);
/* n more layers done (the [done/total] of the status line) */
void out_done(struct out *o, int n);
/* how many clusters are done, running, failed and waiting, for the status
 * line on a terminal */
void out_fleet(struct out *o, int done, int running, int failed, int waiting);
/* the run's closing line, "addonmake: 6 applied, 1 failed, 2 not started
 * in 12.3 s" (planned: the layers it meant to apply or prune); nothing
 * with --json, nor with -q when nothing failed */
void out_summary(struct out *o, int planned, int64_t started_ms);

/* exit codes */
enum { EXIT_DONE = 0, EXIT_FAILED = 1, EXIT_USAGE = 2, EXIT_WORK = 3,
       EXIT_INT = 130, EXIT_TERM = 143 };

/* a cluster's target, open for the whole run */
struct rtarget {
	const struct cluster *c;
	struct target_ctx tc;
	const struct target_ops *ops;
};

/* one cluster's run (run_cluster, prune_cluster), its caller's: with -J
 * several are under way at once, each in a thread of its own */
struct crun {
	const char *failed_layer; /* the first layer that failed, or NULL */
	struct buf failed_why;    /* and why */
	int nready, npruned;      /* layers ready, pruned */
	int applying;  /* its layers started and not yet past apply (r->mu) */
	struct waitq slot; /* layers waiting for applying to drop (r->mu) */
	int halted;    /* it stopped after a tier: another cluster failed */
	/* run_cluster's: the fibers of its layers, on its thread; in
	 * r->active while it runs */
	struct sched *sched;
	struct crun *next;
};

struct runner {
	const struct run_opts *ro;
	struct out *out;
	struct store *st;
	struct procs ps;
	struct pool pool;    /* the layers' workers' threads */
	pthread_mutex_t mu;
	struct waitq sleepers; /* layers between checks wait for stop */
	struct crun *active;   /* the clusters being run (their scheds) */
	int stop;            /* signal number that stopped the run, or 0 */
	int halt;            /* a cluster failed (without -k): the others stop after their tier */
	struct rtarget **tg; /* targets opened so far (runner_target) */
	size_t ntg;
	/* taken one cluster at a time: opening a target, writing the local
	 * state (LMDB grows its map only with no other transaction), loading
	 * a tier's content (the workspace's downloads and arena) */
	pthread_mutex_t tg_mu, st_mu, load_mu;
};

/* wakes the clusters being run to look at r->stop and r->halt (r->mu
 * held) */
void runner_wake(struct runner *r);
/* sets up signal handling (SIGINT/SIGTERM stop the run) */
void runner_init(struct runner *r, const struct run_opts *ro, struct out *o,
		 struct store *st);
/* c's target, opened (connected) on first use and kept until
 * runner_close: 0, or an exit code (the error said) */
int runner_target(struct runner *r, struct workspace *w, struct cluster *c,
		  struct target_ctx **tc, const struct target_ops **ops);
/* closes the targets and ends the pool's threads (once, at the end) */
void runner_close(struct runner *r);
/* records puts of tc's cluster: where its target keeps the records with
 * the cluster, there first, then in the local store with the mark the
 * cluster gave. 0, or -1 (the error said) */
int runner_record(struct runner *r, const struct target_ops *ops, const struct target_ctx *tc,
		  const struct store_put *puts, size_t n);
/* applies the dirty layers of c, what happened in cr (zeroed by the
 * caller, freed with crun_free); EXIT_DONE (cr->halted: stopped after a
 * tier because r->halt was set), EXIT_FAILED or EXIT_INT/TERM. Several
 * clusters may run at once, each on a thread of its own */
int run_cluster(struct runner *r, struct workspace *w, struct cluster *c, struct crun *cr);
/* deletes c's removed layers, highest order first */
int prune_cluster(struct runner *r, struct workspace *w, struct cluster *c, struct crun *cr);
void crun_free(struct crun *cr);
/* loads the content of the layers of ls[0..n) that do not have it, into a
 * (one parse per profile; one cluster at a time), printing what loading
 * said; those it loaded are moved to the front of ls and counted, for
 * run_unload, which forgets their content (a is the caller's to free) */
size_t run_load(struct runner *r, struct workspace *w, struct cluster *c, struct layer **ls,
		size_t n, struct arena *a);
void run_unload(struct layer **ls, size_t n);

#endif
