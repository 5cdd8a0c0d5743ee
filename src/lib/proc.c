/* proc: posix_spawnp with a pipe for stdin and one for stdout+stderr,
 * pumped with poll(2) so a child that writes a lot while we feed it never
 * deadlocks. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "lib.h"

extern char **environ;

#define OUT_KEEP 16384

void
procs_init(struct procs *ps)
{
	memset(ps, 0, sizeof(*ps));
	pthread_mutex_init(&ps->mu, NULL);
}

void
procs_stop(struct procs *ps)
{
	pthread_mutex_lock(&ps->mu);
	ps->stopping = 1;
	for (int i = 0; i < PROC_MAX; i++)
		if (ps->pids[i] > 0)
			kill(-ps->pids[i], SIGTERM);
	pthread_mutex_unlock(&ps->mu);
}

void
procs_kill_async(struct procs *ps)
{
	for (int i = 0; i < PROC_MAX; i++) {
		pid_t pid = ps->pids[i];
		if (pid > 0)
			kill(-pid, SIGTERM);
	}
	char copy[PROC_TMP_MAX][PROC_TMP_LEN];
	char *argv[PROC_TMP_MAX + 4] = {"rm", "-rf", "--"};
	int n = 3;
	for (int i = 0; i < PROC_TMP_MAX; i++) {
		if (!__atomic_load_n(&ps->tmp_whole[i], __ATOMIC_ACQUIRE))
			continue;
		memcpy(copy[i], ps->tmp[i], PROC_TMP_LEN);
		copy[i][PROC_TMP_LEN - 1] = 0;
		/* only a name of ours: never a path torn by a slot being
		 * reused at this very moment */
		const char *base = strrchr(copy[i], '/');
		if (base && strncmp(base, "/addonmake-", 11) == 0)
			argv[n++] = copy[i];
	}
	argv[n] = NULL;
	if (n == 3)
		return;
	char *envp[] = {NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execve("/bin/rm", argv, envp);
		_exit(127);
	}
	while (pid > 0 && waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

int
procs_tmp_add(struct procs *ps, const char *path)
{
	size_t n = strlen(path);
	if (n >= PROC_TMP_LEN)
		return -1;
	int slot = -1;
	pthread_mutex_lock(&ps->mu);
	for (int i = 0; i < PROC_TMP_MAX && slot < 0; i++)
		if (!ps->tmp_used[i]) {
			ps->tmp_used[i] = 1;
			slot = i;
		}
	pthread_mutex_unlock(&ps->mu);
	if (slot >= 0) {
		memcpy(ps->tmp[slot], path, n + 1);
		__atomic_store_n(&ps->tmp_whole[slot], 1, __ATOMIC_RELEASE);
	}
	return slot;
}

void
procs_tmp_done(struct procs *ps, int slot)
{
	if (slot < 0)
		return;
	__atomic_store_n(&ps->tmp_whole[slot], 0, __ATOMIC_RELEASE);
	pthread_mutex_lock(&ps->mu);
	ps->tmp_used[slot] = 0;
	pthread_mutex_unlock(&ps->mu);
}

static int
reg(struct procs *ps, pid_t pid)
{
	pthread_mutex_lock(&ps->mu);
	for (int i = 0; i < PROC_MAX; i++)
		if (ps->pids[i] == 0) {
			ps->pids[i] = pid;
			pthread_mutex_unlock(&ps->mu);
			return i;
		}
	pthread_mutex_unlock(&ps->mu);
	return -1;
}

static void
unreg(struct procs *ps, int slot)
{
	if (slot < 0)
		return;
	pthread_mutex_lock(&ps->mu);
	ps->pids[slot] = 0;
	pthread_mutex_unlock(&ps->mu);
}

/* output that is data (stderr apart) is kept whole; output that is only
 * shown in messages keeps its tail */
static void
keep(struct buf *out, const char *p, size_t n, int whole)
{
	buf_add(out, p, n);
	if (!whole && out->len > 2 * OUT_KEEP) {
		memmove(out->s, out->s + out->len - OUT_KEEP, OUT_KEEP);
		out->len = OUT_KEEP;
		out->s[out->len] = 0;
	}
}

/* the child's environment: ours, with the spec's NAME=VALUE entries first
 * and overriding inherited ones of the same name (the array is the
 * caller's to free; its strings are borrowed) */
static char **
child_env(char *const *extra)
{
	size_t nenv = 0, nextra = 0;
	while (environ[nenv])
		nenv++;
	while (extra && extra[nextra])
		nextra++;
	char **envp = xcalloc(nenv + nextra + 1, sizeof(*envp));
	size_t k = 0;
	for (size_t i = 0; i < nextra; i++)
		envp[k++] = extra[i];
	for (size_t i = 0; i < nenv; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t nl = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int dup = 0;
		for (size_t j = 0; j < nextra && !dup; j++)
			dup = strncmp(extra[j], environ[i], nl) == 0 && extra[j][nl] == '=';
		if (!dup)
			envp[k++] = environ[i];
	}
	return envp;
}

/* starts the child in a process group of its own, stdin from in, stdout
 * (and stderr, unless err_path) to out, default signal handling and an
 * empty mask; 0 with *pid, or an errno value (ECANCELED when the run is
 * stopping: nothing is started then) */
static int
spawn(struct procs *ps, const struct proc_spec *sp, int in, int out, pid_t *pid)
{
	pthread_mutex_lock(&ps->mu);
	int stopping = ps->stopping;
	pthread_mutex_unlock(&ps->mu);
	if (stopping)
		return ECANCELED;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in, 0);
	posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (sp->err_path)
		posix_spawn_file_actions_addopen(&fa, 2, sp->err_path,
						 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	else
		posix_spawn_file_actions_adddup2(&fa, out, 2);
	if (sp->cwd)
		posix_spawn_file_actions_addchdir_np(&fa, sp->cwd);
	posix_spawnattr_init(&at);
	sigset_t none, def;
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	sigemptyset(&def);
	sigaddset(&def, SIGINT);
	sigaddset(&def, SIGTERM);
	sigaddset(&def, SIGPIPE);
	posix_spawnattr_setsigdefault(&at, &def);
	posix_spawnattr_setpgroup(&at, 0);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK |
					      POSIX_SPAWN_SETSIGDEF);
	char **envp = child_env(sp->env);
	int err = posix_spawnp(pid, sp->argv[0], &fa, &at, sp->argv, envp);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return err;
}

/* feeds the child's stdin from the spec (wfd, or -1) and reads its output
 * into out until it closes it; past the deadline the child's group is
 * killed and ETIMEDOUT returned, else 0 */
static int
pump(const struct proc_spec *sp, pid_t pid, int wfd, int rfd, struct buf *out)
{
	size_t off = 0;
	int killed = 0, rc = 0;
	char tmp[8192];
	if (wfd >= 0)
		fcntl(wfd, F_SETFL, O_NONBLOCK);
	if (wfd >= 0 && !sp->inlen) {
		close(wfd);
		wfd = -1;
	}
	for (;;) {
		struct pollfd pf[2] = {{rfd, POLLIN, 0}, {wfd, POLLOUT, 0}};
		int wait = 200;
		if (sp->deadline) {
			int64_t left = sp->deadline - now_ms();
			if (left <= 0 && !killed) {
				kill(-pid, SIGKILL);
				killed = 1;
				rc = ETIMEDOUT;
			}
			if (left < wait)
				wait = left < 0 ? 0 : (int)left;
		}
		int n = poll(pf, wfd >= 0 ? 2 : 1, killed ? 200 : wait);
		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (wfd >= 0 && (pf[1].revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = write(wfd, sp->in + off, sp->inlen - off);
			if (w > 0)
				off += (size_t)w;
			if (w < 0 && errno != EAGAIN && errno != EINTR)
				off = sp->inlen; /* the child closed stdin: fine */
			if (off >= sp->inlen) {
				close(wfd);
				wfd = -1;
			}
		}
		if (pf[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t r = read(rfd, tmp, sizeof(tmp));
			if (r > 0)
				keep(out, tmp, (size_t)r, sp->err_path != NULL);
			else if (r == 0 || (errno != EINTR && errno != EAGAIN))
				break;
		}
	}
	if (wfd >= 0)
		close(wfd);
	return rc;
}

/* waits for the child and ends what it left in its group; its exit code,
 * or 128 + the signal that killed it */
static int
reap(pid_t pid)
{
	int st, status = 127;
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	kill(-pid, SIGKILL);
	if (WIFEXITED(st))
		status = WEXITSTATUS(st);
	else if (WIFSIGNALED(st))
		status = 128 + WTERMSIG(st);
	return status;
}

int
proc_run(struct procs *ps, const struct proc_spec *sp, struct buf *out,
	 int *status)
{
	int in[2], op[2];
	*status = 127;
	buf_add(out, "", 0);
	if (pipe2(in, O_CLOEXEC) < 0) {
		buf_printf(out, "cannot run %s: %s", sp->argv[0], strerror(errno));
		return 0;
	}
	if (pipe2(op, O_CLOEXEC) < 0) {
		buf_printf(out, "cannot run %s: %s", sp->argv[0], strerror(errno));
		close(in[0]);
		close(in[1]);
		return 0;
	}
	pid_t pid = -1;
	int err = spawn(ps, sp, in[0], op[1], &pid);
	close(in[0]);
	close(op[1]);
	if (err) {
		close(in[1]);
		close(op[0]);
		if (err != ECANCELED)
			buf_printf(out, "cannot run %s: %s", sp->argv[0], strerror(err));
		return err == ECANCELED ? ECANCELED : 0;
	}
	int slot = reg(ps, pid);
	pthread_mutex_lock(&ps->mu);
	if (ps->stopping)
		kill(-pid, SIGTERM);
	pthread_mutex_unlock(&ps->mu);
	int rc = pump(sp, pid, in[1], op[0], out);
	close(op[0]);
	*status = reap(pid);
	unreg(ps, slot);
	pthread_mutex_lock(&ps->mu);
	if (ps->stopping)
		rc = ECANCELED;
	pthread_mutex_unlock(&ps->mu);
	return rc;
}

int
proc_run_split(struct procs *ps, char *const *argv, char *const *env, int64_t deadline,
	       struct buf *out, int *status, struct buf *errtext)
{
	const char *tmp = getenv("TMPDIR");
	struct buf path = {0};
	buf_printf(&path, "%s/addonmake-stderr-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(path.s);
	*status = 127;
	if (fd < 0) {
		int e = errno;
		buf_printf(errtext, "cannot make a temporary file in %s: %s", tmp && *tmp ? tmp : "/tmp",
			   strerror(e));
		buf_free(&path);
		return e;
	}
	close(fd);
	int slot = procs_tmp_add(ps, path.s);
	struct proc_spec sp = {.argv = argv, .env = env, .cwd = NULL, .in = NULL, .inlen = 0,
			       .deadline = deadline, .err_path = path.s};
	int rc = proc_run(ps, &sp, out, status);
	int e = file_read(path.s, errtext);
	if (e)
		buf_printf(errtext, "(its error output could not be read back from %s: %s)", path.s,
			   strerror(e));
	unlink(path.s);
	procs_tmp_done(ps, slot);
	buf_free(&path);
	while (errtext->len && strchr(" \t\r\n", errtext->s[errtext->len - 1]))
		errtext->s[--errtext->len] = 0;
	return rc;
}
