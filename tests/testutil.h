/* testutil: temporary workspaces for tests, and running the built
 * ./addonmake in them. */
#ifndef TESTUTIL_H
#define TESTUTIL_H

#include <sys/types.h>

struct tws {
	char dir[256];
};

/* a fresh directory under $TMPDIR (or /tmp) */
void tws_init(struct tws *w);
/* writes a file (creating directories), printf-style content */
void tws_put(struct tws *w, const char *rel, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* a file's content (malloc'd), or NULL when missing */
char *tws_get(struct tws *w, const char *rel);
int tws_exists(struct tws *w, const char *rel);
void tws_rm(struct tws *w, const char *rel);
/* whether a process runs in the workspace (its cwd is inside); with
 * kill_them, SIGKILLs them */
int tws_procs(struct tws *w, int kill_them);
/* runs a shell command (printf-style) in the workspace: its exit status,
 * or -1 when it did not exit */
int tws_sh(struct tws *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* removes the directory and everything in it, ending stray processes */
void tws_free(struct tws *w);

/* ../shared/data of the source tree, or NULL when it is not there */
const char *shared_data(void);

struct res {
	int code;
	char *out, *err;
};
/* runs `addonmake ARGS` with -C the workspace; ARGS go through sh */
struct res am(struct tws *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* the same with NAME=VALUE... (for env(1)) in its environment */
struct res am_env(struct tws *w, const char *env, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* the same with shell text before the binary ("ulimit -f 64; ") */
struct res am_sh(struct tws *w, const char *pre, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void res_free(struct res *r);
/* runs `addonmake ARGS` (through sh, env: NAME=VALUE... for env(1) or "")
 * on a pseudo-terminal cols wide: what it wrote to the terminal (stdout
 * and stderr together, \r\n as the terminal got it) in out */
struct res am_tty(struct tws *w, int cols, const char *env, const char *args);
/* starts addonmake in the background (its own process group) */
pid_t am_bg(struct tws *w, const char *args);
/* waits until a file exists (at most ms); 1 when it does */
int wait_file(struct tws *w, const char *rel, int ms);
/* lines of s that contain needle */
int count_lines(const char *s, const char *needle);
/* lines of s equal to line */
int count_eq(const char *s, const char *line);
/* how many times needle stands in s (overlapping ones too) */
int count_of(const char *s, const char *needle);

/* the loopback registry server (tests/servers/registry.py) serving root;
 * extra: more arguments. Returns its pid and sets *port; 0 when python3
 * is not there. */
pid_t srv_start(const char *root, const char *extra, int *port);
/* the same for another script of tests/servers/, with its arguments */
pid_t srv_start_script(const char *script, const char *args, int *port);
void srv_stop(pid_t pid);
/* what a shell command prints on stdout (malloc'd) */
char *sh_out(const char *cmd);
/* GET http://127.0.0.1:port/path with curl(1): the body (malloc'd) */
char *srv_get(int port, const char *path);

#endif
