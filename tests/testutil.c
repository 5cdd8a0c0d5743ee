/* testutil: see testutil.h. Test code may use the shell: the product may
 * not. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pty.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "testutil.h"

void
tws_init(struct tws *w)
{
	const char *t = getenv("TMPDIR");
	snprintf(w->dir, sizeof(w->dir), "%s/addonmake-test-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(w->dir)) {
		perror("mkdtemp");
		abort();
	}
}

static void
mkparents(const char *path)
{
	char *p = strdup(path);
	for (char *s = p + 1; *s; s++)
		if (*s == '/') {
			*s = 0;
			mkdir(p, 0755);
			*s = '/';
		}
	free(p);
}

void
tws_put(struct tws *w, const char *rel, const char *fmt, ...)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", w->dir, rel);
	mkparents(path);
	FILE *f = fopen(path, "w");
	if (!f) {
		perror(path);
		abort();
	}
	va_list ap;
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fclose(f);
}

int
tws_sh(struct tws *w, const char *fmt, ...)
{
	char cmd[4096];
	int n = snprintf(cmd, sizeof(cmd), "cd '%s' && ", w->dir);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(cmd + n, sizeof(cmd) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0 || (size_t)m >= sizeof(cmd) - (size_t)n)
		abort(); /* a test's command does not fit: make the buffer larger */
	int st = system(cmd);
	return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t r;
	while ((r = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n < 2) {
			cap *= 2;
			s = realloc(s, cap);
		}
	}
	s[n] = 0;
	fclose(f);
	return s;
}

char *
tws_get(struct tws *w, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", w->dir, rel);
	return slurp(path);
}

int
tws_exists(struct tws *w, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", w->dir, rel);
	return access(path, F_OK) == 0;
}

void
tws_rm(struct tws *w, const char *rel)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", w->dir, rel);
	unlink(path);
}

int
tws_procs(struct tws *w, int kill_them)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "n=0; for p in /proc/[0-9]*; do case \"$(readlink $p/cwd 2>/dev/null)\" in "
		 "'%s'|'%s'/*) n=$((n+1)); %s ;; esac; done; exit $((n > 0))",
		 w->dir, w->dir, kill_them ? "kill -9 ${p#/proc/} 2>/dev/null" : ":");
	int st = system(cmd);
	return WIFEXITED(st) && WEXITSTATUS(st) == 1;
}

void
tws_free(struct tws *w)
{
	char cmd[600];
	/* a test that SIGKILLs addonmake orphans its children: end them */
	tws_procs(w, 1);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", w->dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", w->dir);
}

const char *
shared_data(void)
{
	static char path[1024];
	const char *e = getenv("ADDONMAKE_SHARED_DATA");
	if (e && *e)
		snprintf(path, sizeof(path), "%s", e);
	else
		snprintf(path, sizeof(path), "%s/../shared/data",
			 getenv("ADDONMAKE_SRC") ? getenv("ADDONMAKE_SRC") : ".");
	char probe[1100];
	snprintf(probe, sizeof(probe), "%s/SOURCES.md", path);
	return access(probe, R_OK) == 0 ? path : NULL;
}

static const char *
bin(void)
{
	const char *b = getenv("ADDONMAKE_BIN");
	return b && *b ? b : "./addonmake";
}

/* runs `cd DIR && PRE'addonmake' ARGS` with a shell */
static struct res
am_run(struct tws *w, const char *pre, const char *args)
{
	char cmd[8192], o[600], e[600];
	snprintf(o, sizeof(o), "%s.out", w->dir);
	snprintf(e, sizeof(e), "%s.err", w->dir);
	snprintf(cmd, sizeof(cmd), "cd '%s' && %s'%s' %s >'%s' 2>'%s' </dev/null", w->dir,
		 pre, bin(), args, o, e);
	int st = system(cmd);
	struct res r;
	r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r.out = slurp(o);
	r.err = slurp(e);
	unlink(o);
	unlink(e);
	if (!r.out)
		r.out = strdup("");
	if (!r.err)
		r.err = strdup("");
	return r;
}

struct res
am(struct tws *w, const char *fmt, ...)
{
	char args[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return am_run(w, "", args);
}

struct res
am_env(struct tws *w, const char *env, const char *fmt, ...)
{
	char args[4096], e[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(e, sizeof(e), "env %s ", env);
	return am_run(w, e, args);
}

struct res
am_sh(struct tws *w, const char *pre, const char *fmt, ...)
{
	char args[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	return am_run(w, pre, args);
}

void
res_free(struct res *r)
{
	free(r->out);
	free(r->err);
}

pid_t
am_bg(struct tws *w, const char *args)
{
	pid_t pid = fork();
	if (pid == 0) {
		setpgid(0, 0);
		char cmd[4096];
		snprintf(cmd, sizeof(cmd), "cd '%s' && exec '%s' %s >'%s/bg.out' 2>'%s/bg.err' </dev/null",
			 w->dir, bin(), args, w->dir, w->dir);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return pid;
}

int
wait_file(struct tws *w, const char *rel, int ms)
{
	for (int i = 0; i < ms / 10; i++) {
		if (tws_exists(w, rel))
			return 1;
		struct timespec ts = {0, 10 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return tws_exists(w, rel);
}

int
count_lines(const char *s, const char *needle)
{
	int n = 0;
	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		char *line = strndup(s, len);
		if (strstr(line, needle))
			n++;
		free(line);
		s += len + (nl ? 1 : 0);
	}
	return n;
}

int
count_eq(const char *s, const char *want)
{
	int n = 0;
	while (s && *s) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		n += len == strlen(want) && strncmp(s, want, len) == 0;
		s += len + (nl ? 1 : 0);
	}
	return n;
}

int
count_of(const char *s, const char *needle)
{
	int n = 0;
	for (const char *p = s; p && (p = strstr(p, needle)); p++)
		n++;
	return n;
}

pid_t
srv_start(const char *root, const char *extra, int *port)
{
	char args[3000];
	snprintf(args, sizeof(args), "'%s' %s", root, extra ? extra : "");
	return srv_start_script("registry.py", args, port);
}

pid_t
srv_start_script(const char *script, const char *args, int *port)
{
	int p[2];
	if (pipe(p) < 0)
		return 0;
	pid_t pid = fork();
	if (pid == 0) {
		dup2(p[1], 1);
		close(p[0]);
		close(p[1]);
		char path[1200];
		snprintf(path, sizeof(path), "%s/tests/servers/%s",
			 getenv("ADDONMAKE_SRC") ? getenv("ADDONMAKE_SRC") : ".", script);
		char cmd[4400];
		/* stderr away from the test's: a pipe held open by a server
		 * would keep whoever reads the test's output waiting */
		snprintf(cmd, sizeof(cmd), "exec python3 '%s' %s 2>/dev/null", path, args);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	/* the first line is the port; read all of it before closing */
	char line[32] = {0};
	size_t got = 0;
	while (got < sizeof(line) - 1 && !strchr(line, '\n')) {
		ssize_t n = read(p[0], line + got, sizeof(line) - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(p[0]);
	*port = atoi(line);
	if (!*port) {
		srv_stop(pid);
		return 0;
	}
	return pid;
}

void
srv_stop(pid_t pid)
{
	if (pid > 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
	}
}

char *
srv_get(int port, const char *path)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "curl -s 'http://127.0.0.1:%d%s'", port, path);
	return sh_out(cmd);
}

char *
sh_out(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	if (!f)
		return strdup("");
	size_t cap = 4096, n = 0;
	char *s = malloc(cap);
	size_t got;
	while ((got = fread(s + n, 1, cap - n - 1, f)) > 0) {
		n += got;
		if (cap - n - 1 == 0)
			s = realloc(s, cap *= 2);
	}
	s[n] = 0;
	pclose(f);
	return s;
}

struct res
am_tty(struct tws *w, int cols, const char *env, const char *args)
{
	struct winsize ws = {.ws_row = 24, .ws_col = (unsigned short)cols};
	int fd;
	char cmd[4096];
	snprintf(cmd, sizeof(cmd), "cd '%s' && exec env TERM=xterm %s '%s' %s", w->dir, env, bin(),
		 args);
	pid_t pid = forkpty(&fd, NULL, NULL, &ws);
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	struct res r = {-1, NULL, strdup("")};
	size_t cap = 4096, n = 0;
	r.out = malloc(cap);
	for (;;) {
		if (cap - n < 1024)
			r.out = realloc(r.out, cap *= 2);
		ssize_t k = read(fd, r.out + n, cap - n - 1);
		if (k <= 0)
			break; /* EIO once the child has gone */
		n += (size_t)k;
	}
	r.out[n] = 0;
	close(fd);
	int st;
	waitpid(pid, &st, 0);
	r.code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	return r;
}
