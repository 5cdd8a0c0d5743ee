/* store_check: whether a state file can be read without crashing. LMDB
 * trusts its file: a damaged page number sends it past the end of the map
 * (SIGBUS) or into garbage (SIGSEGV). So before a run uses the state, a
 * child process opens it as a reader and touches every record of every
 * table and the free list; if the child dies, the state is damaged and the
 * run says so, instead of dying the same way. Cheap: a fork, and one pass
 * over the pages of the tables. */
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "cache.h"

/* exit status of the child when LMDB itself reports the damage */
#define CHECK_DAMAGED 3

/* a value's first and last byte: a damaged overflow page number puts it
 * outside the file, and those are where that shows */
static unsigned
touch(const MDB_val *v)
{
	const unsigned char *p = v->mv_data;
	return v->mv_size ? (unsigned)p[0] + p[v->mv_size - 1] : 0;
}

/* every record of one table; an LMDB error code */
static int
walk(MDB_txn *t, MDB_dbi dbi, volatile unsigned *sum)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(t, dbi, &c);
	if (rc)
		return rc;
	MDB_val k, v;
	while ((rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0)
		*sum += touch(&k) + touch(&v);
	mdb_cursor_close(c);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int
check_child(const char *path)
{
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi main;
	volatile unsigned sum = 0;
	int rc = mdb_env_create(&env);
	if (!rc)
		rc = mdb_env_set_maxdbs(env, 8);
	if (!rc)
		rc = mdb_env_set_mapsize(env, (size_t)64 << 20);
	if (!rc)
		rc = mdb_env_open(env, path, MDB_NOSUBDIR | MDB_NOTLS | MDB_RDONLY, 0644);
	if (!rc)
		rc = mdb_txn_begin(env, NULL, MDB_RDONLY, &t);
	if (rc)
		return rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_PAGE_NOTFOUND
			       ? CHECK_DAMAGED : 0; /* other errors: the parent reports them */
	rc = walk(t, 0, &sum); /* the free list */
	if (!rc)
		rc = mdb_dbi_open(t, NULL, 0, &main);
	MDB_cursor *c = NULL;
	if (!rc)
		rc = mdb_cursor_open(t, main, &c);
	MDB_val k, v;
	while (!rc && (rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) == 0) {
		/* the main table names the others */
		char name[64];
		MDB_dbi dbi;
		if (k.mv_size == 0 || k.mv_size >= sizeof(name))
			return CHECK_DAMAGED;
		memcpy(name, k.mv_data, k.mv_size);
		name[k.mv_size] = 0;
		if ((rc = mdb_dbi_open(t, name, 0, &dbi)) == 0)
			rc = walk(t, dbi, &sum);
	}
	if (rc == MDB_NOTFOUND)
		rc = 0;
	return rc ? CHECK_DAMAGED : 0;
}

int
store_check(const char *dir, struct buf *err)
{
	if (!store_path_exists(dir))
		return 0;
	struct buf p = {0};
	buf_printf(&p, "%s/state.mdb", dir);
	const char *path = p.s;
	int rc = 0;
	pid_t pid = fork();
	if (pid == 0) {
		/* quiet: a sanitizer's report of the crash is not for the user */
		int null = open("/dev/null", O_WRONLY);
		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		_exit(check_child(path));
	}
	int st = 0;
	/* no fork or no wait: no check rather than no run */
	while (pid > 0 && waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			pid = -1;
	if (pid > 0 && !(WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
		if (WIFSIGNALED(st))
			buf_printf(err, "%s is damaged: reading it crashed a check (%s); ", path,
				   strsignal(WTERMSIG(st)));
		else
			buf_printf(err, "%s is damaged: LMDB refuses its pages; ", path);
		buf_adds(err, "run 'addonmake clean' to start afresh (the next sync applies every "
			      "layer again)");
		rc = -1;
	}
	buf_free(&p);
	return rc;
}
