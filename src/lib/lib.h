/* lib: the small pieces every module uses — growable buffers, an arena for
 * data that lives as long as one run, diagnostics with positions, files
 * written atomically. Nothing here knows about profiles or Kubernetes.
 *
 * Errors, for every function here: one that can fail returns int, 0 when
 * it worked, else a positive errno value saying why (strerror(3) words it).
 * Never -1, never a negative value: test the result with `if (e)`; a test
 * `< 0` is always a mistake (it is never true). Functions that cannot fail
 * return void or what they made (allocation dies on exhaustion). */
#ifndef LIB_H
#define LIB_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

/* allocation that dies on exhaustion: callers never see NULL */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t sz);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);

/* growable byte buffer; s is always NUL-terminated after any add */
struct buf {
	char *s;
	size_t len, cap;
};
void buf_add(struct buf *b, const void *p, size_t n);
void buf_addc(struct buf *b, char c);
void buf_adds(struct buf *b, const char *s);
void buf_printf(struct buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);
void buf_clear(struct buf *b);
void buf_free(struct buf *b);

/* opens the shared library soname (of Debian package package, named in
 * the message) and sets fns[i] to the address of names[i], for i < n;
 * ELIBACC when it cannot be opened, ELIBBAD when it lacks a name, and why
 * says which and what to install */
int lazy_open(const char *soname, const char *package, const char *const *names, void **fns,
	      size_t n, struct buf *why);
/* runs fn(arg) on a thread of its own, so that loading what a run will
 * need (libcurl's thirty libraries, about 4 ms) overlaps other work; one
 * at a time (a second call while one runs does nothing), and without a
 * thread nothing is started: the first use loads as before.
 * lazy_preload_end waits for it (before exit, which must not unload what
 * it is loading). */
void lazy_preload(void (*fn)(void *), void *arg);
void lazy_preload_end(void);

/* arena: many small allocations freed together at the end of a run */
struct arena {
	struct arena_blk *blk;
};
void *arena_alloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
char *arena_printf(struct arena *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void arena_free(struct arena *a);

/* a place in a file a user wrote, for messages (lines and columns from 1) */
struct pos {
	const char *file;
	int line, col;
};

/* diagnostics: collected, then printed like a compiler does */
enum { DIAG_ERROR, DIAG_WARNING };
struct diag_msg {
	int severity;
	char *file;
	int line, col;
	char *text;
};
struct diag {
	struct diag_msg *msg;
	size_t n, cap;
	int nerr;
	int nremote; /* errors of a remote server, not of the input */
	const struct strset *secret; /* texts no message may show, or NULL */
};
void diag_add(struct diag *d, int severity, const char *file, int line,
	      int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void diag_vadd(struct diag *d, int severity, const char *file, int line,
	       int col, const char *fmt, va_list ap);
/* prints "file:line:col: error: text", one a line */
void diag_print(const struct diag *d, FILE *f);
void diag_free(struct diag *d);
/* forgets the messages after the first n */
void diag_truncate(struct diag *d, size_t n);

/* records: big-endian integers, strings with a u32 length */
void put_be(struct buf *b, uint64_t v, int bytes);
void put_str(struct buf *b, const char *s);
void put_bytes(struct buf *b, const char *s, size_t n);
struct reader {
	const unsigned char *p;
	size_t n, off;
	int bad; /* set on reading past the end */
};
uint64_t get_be(struct reader *r, int bytes);
/* a copy in a (NUL-terminated); *len may be NULL */
const char *get_str(struct reader *r, struct arena *a, size_t *len);

/* a map from strings to pointers; keys are not copied */
struct strset {
	const char **keys;
	void **vals;
	size_t n, cap;
};
/* the value slot of key, inserting it (value NULL) when absent; *added
 * says which */
void **strset_slot(struct strset *s, const char *key, int *added);
/* the value of key, or NULL */
void *strset_get(const struct strset *s, const char *key);
void strset_free(struct strset *s);
/* replaces in b every occurrence of a key of secret (NULL: none) with
 * "(sensitive)"; keys shorter than 4 bytes are left, as they would hide
 * ordinary words */
void buf_redact(struct buf *b, const struct strset *secret);

#define LIB_CHECK __attribute__((warn_unused_result))

/* a unified diff of texts a and b (either may be "" or NULL) appended to
 * out: hunks with three lines of context, as diff -u writes them (no
 * header), coloured for a terminal with color; 1 when they differ */
int udiff(struct buf *out, const char *a, const char *b, int color);

/* files */
/* reads a whole file; 0 or an errno value (EISDIR for a directory) */
LIB_CHECK int file_read(const char *path, struct buf *out);
struct stat;
/* the same, and the stat of what was read (taken before reading, so a
 * later change shows as a different mtime next time) */
LIB_CHECK int file_read_st(const char *path, struct buf *out, struct stat *st);
/* writes via a temporary file in the same directory and rename(2), so a
 * reader sees the old or the new content, never half; 0 or an errno value.
 * With durable, the data is fsync'd before the rename; without, the caller
 * makes it durable later (syncfs) before relying on it. */
LIB_CHECK int file_write_atomic(const char *path, const void *data, size_t len);
LIB_CHECK int file_write_replace(const char *path, const void *data, size_t len, int durable);
/* mkdir -p; 0 or an errno value */
LIB_CHECK int file_mkdirs(const char *path, int mode);
/* rm -rf, without following symbolic links; 0 or an errno value (callers
 * that only clean up may ignore it) */
int file_rmtree(const char *path);
/* joins dir and a relative path; an absolute path is returned as is */
char *path_join(struct arena *a, const char *dir, const char *rel);
/* the directory part of a path ("." when there is none) */
char *path_dir(struct arena *a, const char *path);
/* path with a leading "~" or "~/" made $HOME (in a; other paths as they
 * are) into *out: 0, ENOENT when HOME is not set, EINVAL for "~user" */
LIB_CHECK int path_home(struct arena *a, const char *path, const char **out);

/* names: the one of known nearest a misspelt word (a few edits), or NULL;
 * near_hint appends "; did you mean X?" when there is one, then the known
 * names, "(clusters: dev, prod)", or how many there are when many */
const char *near_word(const char *word, const char *const *known, size_t n);
void near_hint(struct buf *out, const char *word, const char *const *known, size_t n,
	       const char *what);

/* terminal columns (width.c, no locale): text_width of a UTF-8 text
 * (wide characters two, combining marks and escape sequences none);
 * text_char the length in bytes of the character at s and its width;
 * buf_pad appends s and spaces up to width columns */
int text_width(const char *s);
size_t text_char(const char *s, int *width);
void buf_pad(struct buf *b, const char *s, int width);

/* time */
int64_t now_ms(void);   /* monotonic */
int64_t wall_secs(void);

/* durations: "500ms", "90s", "2m", "1h30m", "0" into *ms; 0, or EINVAL
 * when malformed, ERANGE when too large */
LIB_CHECK int duration_parse(const char *s, int64_t *ms);
/* formats milliseconds the same way ("1m30s", "500ms") */
void duration_format(struct buf *b, int64_t ms);


/* pool (pool.c): threads kept for the next task; one is started when a
 * task comes and none is idle. A task is its submitter's: it must live
 * until its fn begins, and fn may free it. */
struct pool_task {
	void (*fn)(void *arg);
	void *arg;
	struct pool_task *next; /* the queue's */
};
struct pool_thread;
struct pool {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct pool_task *head, **tail; /* waiting for a thread */
	size_t queued, busy, nthreads;
	struct pool_thread *threads;
	int quit;
};
void pool_init(struct pool *p);
/* runs t->fn(t->arg) on a thread of the pool: 0, or -1 when no thread
 * could be started and the pool has none (t is not run) */
int pool_run(struct pool *p, struct pool_task *t);
/* waits for the tasks queued and running, then ends the threads */
void pool_free(struct pool *p);

/* fiber (fiber.c): work of many layers on one thread. sched_run runs a
 * scheduler's fibers on the calling thread; a fiber runs until it waits
 * (waitq_wait, relay_run, fiber_nap), parks, and the next one runs. */
struct fiber;
struct sched;
struct sched *sched_new(void);
/* no fiber of s may be alive */
void sched_free(struct sched *s);
/* fn(arg) as a new fiber of s, runnable: 0, or ENOMEM (not started) */
LIB_CHECK int sched_spawn(struct sched *s, void (*fn)(void *), void *arg);
/* runs s's fibers on this thread until sched_interrupt or the monotonic
 * time until (0: no end), sleeping while none can run */
void sched_run(struct sched *s, int64_t until);
/* this thread runs s (NULL: none): its waits outside a fiber (waitq_wait,
 * fiber_nap) run s's fibers meanwhile, since those may hold what it
 * waits for */
void sched_home(struct sched *s);
/* from any thread: sched_run returns soon (after the fiber running) */
void sched_interrupt(struct sched *s);
/* the fiber this thread is running, NULL on a plain thread */
struct fiber *fiber_self(void);
/* from any thread: a parked f runs again */
void fiber_wake(struct fiber *f);
/* the running fiber: parks until fiber_wake or until (0: none); mu, when
 * not NULL, is held by the caller, released while parked and taken again */
void fiber_park(pthread_mutex_t *mu, int64_t until);
/* the running fiber: lets the others that can run go first; driver: it
 * drives an event loop, and goes on doing so when it runs again */
void fiber_yield(int driver);
/* the running fiber, before it sleeps in an event loop's poll of at most
 * ms: how long it may (0: not at all, yield instead: a fiber that is not
 * driving a loop can run, or sched_run is due to return), with wake(u) to
 * end the poll early (called from any thread, without the loop's lock);
 * fiber_nap_end after the poll */
int fiber_nap_begin(int ms, void (*wake)(void *), void *u);
void fiber_nap_end(void);
/* sleeps until the monotonic time until: a fiber parks, a thread sleeps */
void fiber_nap(int64_t until);
/* waitq: who waits for a change made under a caller's mutex */
struct waiter {
	pthread_cond_t cv; /* a thread's */
	struct fiber *f;   /* or a fiber's */
	struct sched *home; /* or its home thread's, outside its fibers */
	int woken;
	struct waiter *next;
};
struct waitq {
	struct waiter *head;
};
/* with *mu held: sleeps until woken or until (monotonic, 0: none), and
 * returns with *mu held; callers check their condition again */
void waitq_wait(struct waitq *q, pthread_mutex_t *mu, int64_t until);
/* with the waiters' mutex held: the longest waiting, or every waiter */
void waitq_wake_one(struct waitq *q);
void waitq_wake_all(struct waitq *q);

/* hold: a lock its holder may keep across waits for requests (a fiber
 * parks holding it, and the fibers wanting it park too, where a mutex
 * would block their thread for good) */
struct hold {
	pthread_mutex_t mu;
	int held;
	struct waitq q;
};
void hold_init(struct hold *h);
void hold_destroy(struct hold *h);
void hold_take(struct hold *h);
void hold_give(struct hold *h);

/* relay (relay.c): callers sharing one event loop take turns driving it;
 * the owner supplies what a turn and a nap are. All under *mu. Callers
 * may be threads or fibers (a fiber driving yields to the others after
 * each turn that left them something to do). */
struct relay_wait {
	struct waitq q;
	size_t left; /* the caller's work not yet done */
	struct relay_wait *next;
};
struct relay {
	pthread_mutex_t *mu; /* the owner's lock */
	void *u;             /* the owner, given to each function */
	/* the work handed in so far, taken (mu held); whether any is
	 * waiting (mu held); one turn of the loop over what take gave (mu
	 * not held), returning how long its nap may be, in ms; a sleep
	 * until something happens or that time passes (mu not held); a wake
	 * of a driver asleep in nap (from any thread, with or without mu:
	 * it takes no lock) */
	void *(*take)(void *u);
	int (*pending)(void *u);
	int (*turn)(void *u, void *in);
	void (*nap)(void *u, int ms);
	void (*wake)(void *u);
	struct relay_wait *waiting;
	int driving, polling;
	struct fiber *fiber; /* the fiber driving, also while it has yielded */
};
/* with *r->mu held and w->left set (the work handed in): drives r or
 * sleeps until w's work is done (relay_done for each piece), and returns
 * with *r->mu held */
void relay_run(struct relay *r, struct relay_wait *w);
/* one piece of w's work is done (*r->mu held) */
void relay_done(struct relay_wait *w);

/* proc (proc.c): child processes without a shell. Each child gets its own process
 * group, recorded in a registry so that Ctrl-C can stop every child of the
 * run and none is left behind. */
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
 * 127 when the program could not be started (out says why). out receives
 * stdout, all of it, when err_path is set; else stdout and stderr, the
 * last 16 KiB. Returns 0; ETIMEDOUT past the deadline (the child is
 * killed); ECANCELED when the run is stopping (Ctrl-C). */
int proc_run(struct procs *ps, const struct proc_spec *sp, struct buf *out,
	     int *status);
/* proc_run of argv with env (may be NULL) and stderr kept apart: it goes
 * to a private temporary file under TMPDIR (else /tmp), read back into
 * errtext with trailing white space trimmed; out receives all of stdout.
 * Returns as proc_run, or another errno value (errtext says why) when no
 * temporary file could be made. */
int proc_run_split(struct procs *ps, char *const *argv, char *const *env, int64_t deadline,
		   struct buf *out, int *status, struct buf *errtext);

#endif
