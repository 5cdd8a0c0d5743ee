/* unit tests of src/lib/: durations, buffers, the arena, atomic writes,
 * udiff, the pool, the relay, fibers. */
#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "../../src/lib/lib.h"

/* the duration a form parses to (asserting it parses) */
static int64_t
dur(const char *s)
{
	int64_t ms = -7;
	cr_assert_eq(duration_parse(s, &ms), 0, "%s", s);
	return ms;
}

Test(duration, parses_kubernetes_forms)
{
	cr_assert_eq(dur("500ms"), 500);
	cr_assert_eq(dur("90s"), 90000);
	cr_assert_eq(dur("2m"), 120000);
	cr_assert_eq(dur("1h30m"), 5400000);
	cr_assert_eq(dur("1m30s"), 90000);
	cr_assert_eq(dur("0"), 0);
}

/* lib's convention: 0, or a positive errno value, and *ms untouched */
Test(duration, refuses_malformed_with_a_positive_errno)
{
	const char *bad[] = {"", "10", "1.5s", "ten", "5x", "-1s"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int64_t ms = 42;
		cr_assert_eq(duration_parse(bad[i], &ms), EINVAL, "%s", bad[i]);
		cr_assert_eq(ms, 42);
	}
	int64_t ms = 42;
	cr_assert_eq(duration_parse("99999999999s", &ms), ERANGE);
}

Test(duration, formats_back)
{
	struct buf b = {0};
	duration_format(&b, 90000);
	cr_assert_str_eq(b.s, "1m30s");
	buf_clear(&b);
	duration_format(&b, 300);
	cr_assert_str_eq(b.s, "300ms");
	buf_clear(&b);
	duration_format(&b, 3600000);
	cr_assert_str_eq(b.s, "1h");
	buf_clear(&b);
	duration_format(&b, 0);
	cr_assert_str_eq(b.s, "0s");
	buf_clear(&b);
	duration_format(&b, 1200);
	cr_assert_str_eq(b.s, "1.2s");
	buf_clear(&b);
	duration_format(&b, 1050);
	cr_assert_str_eq(b.s, "1.05s");
	buf_free(&b);
}

Test(buf, printf_appends_and_terminates)
{
	struct buf b = {0};
	for (int i = 0; i < 1000; i++)
		buf_printf(&b, "%d,", i);
	cr_assert_eq(strlen(b.s), b.len);
	cr_assert(strncmp(b.s, "0,1,2,", 6) == 0);
	cr_assert(strstr(b.s, "999,") != NULL);
	buf_free(&b);
}

Test(arena, keeps_many_allocations_apart)
{
	struct arena a = {0};
	char *p[2000];
	for (int i = 0; i < 2000; i++)
		p[i] = arena_printf(&a, "item-%d", i);
	for (int i = 0; i < 2000; i++) {
		char want[32];
		snprintf(want, sizeof(want), "item-%d", i);
		cr_assert_str_eq(p[i], want);
	}
	char *big = arena_alloc(&a, 200000);
	memset(big, 1, 200000);
	cr_assert_str_eq(p[0], "item-0");
	arena_free(&a);
}

Test(diag, prints_like_a_compiler)
{
	struct diag d = {0};
	diag_add(&d, DIAG_ERROR, "p.yaml", 14, 9, "install-priority \"%s\" is not an integer", "ten");
	diag_add(&d, DIAG_WARNING, "p.yaml", 3, 1, "skipped");
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	diag_print(&d, f);
	fclose(f);
	cr_assert_str_eq(out, "p.yaml:14:9: error: install-priority \"ten\" is not an integer\n"
			      "p.yaml:3:1: warning: skipped\n");
	cr_assert_eq(d.nerr, 1);
	free(out);
	diag_free(&d);
}

Test(file, atomic_write_replaces_and_leaves_no_temp)
{
	char dir[] = "/tmp/am-lib-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/a/b/out.yaml", dir);
	char sub[256];
	snprintf(sub, sizeof(sub), "%s/a/b", dir);
	cr_assert_eq(file_mkdirs(sub, 0755), 0);
	cr_assert_eq(file_write_atomic(path, "one", 3), 0);
	cr_assert_eq(file_write_atomic(path, "two!", 4), 0);
	struct buf b = {0};
	cr_assert_eq(file_read(path, &b), 0);
	cr_assert_str_eq(b.s, "two!");
	buf_free(&b);
	char cmd[512];
	snprintf(cmd, sizeof(cmd), "test $(ls -A %s | wc -l) -eq 1", sub);
	cr_assert_eq(system(cmd), 0, "a temporary file was left behind");
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	system(cmd);
}

Test(file, atomic_write_into_missing_dir_fails_cleanly)
{
	cr_assert_eq(file_write_atomic("/nonexistent-dir/x/out.yaml", "x", 1), ENOENT);
}

/* lib's convention: a failure is a positive errno value, which a caller
 * testing `< 0` would take for success */
Test(file, read_errors_are_positive_errno_values)
{
	struct buf b = {0};
	cr_assert_eq(file_read("/nonexistent-dir/x.yaml", &b), ENOENT);
	cr_assert_eq(file_read("/", &b), EISDIR);
	cr_assert_eq(file_read("/etc/hostname/x", &b), ENOTDIR);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(file_mkdirs("/etc/hostname/x", 0755), ENOTDIR);
	buf_free(&b);
}

Test(path, join_and_dir)
{
	struct arena a = {0};
	cr_assert_str_eq(path_join(&a, "ws", "profiles/a.yaml"), "ws/profiles/a.yaml");
	cr_assert_str_eq(path_join(&a, ".", "a.yaml"), "a.yaml");
	cr_assert_str_eq(path_join(&a, "ws", "/abs/a.yaml"), "/abs/a.yaml");
	cr_assert_str_eq(path_join(&a, "ws", "./a.yaml"), "ws/a.yaml");
	cr_assert_str_eq(path_join(&a, "profiles", "../manifests/x.yaml"), "manifests/x.yaml");
	cr_assert_str_eq(path_join(&a, "a/b", "../../c"), "c");
	cr_assert_str_eq(path_join(&a, "a", "../../c"), "../c");
	cr_assert_str_eq(path_join(&a, "..", "../c"), "../../c");
	cr_assert_str_eq(path_join(&a, "/x/y", "../z//w/./v"), "/x/z/w/v");
	cr_assert_str_eq(path_join(&a, "a", ".."), ".");
	cr_assert_str_eq(path_join(&a, ".", "./"), ".");
	cr_assert_str_eq(path_dir(&a, "ws/profiles/a.yaml"), "ws/profiles");
	cr_assert_str_eq(path_dir(&a, "a.yaml"), ".");
	arena_free(&a);
}

Test(buf, redact_replaces_every_secret_and_leaves_short_ones)
{
	struct strset sec = {0};
	int added;
	strset_slot(&sec, "hunter2", &added);
	strset_slot(&sec, "sens", &added); /* inside "(sensitive)" itself */
	strset_slot(&sec, "abc", &added);  /* too short to hide */
	struct buf b = {0};
	buf_adds(&b, "pw hunter2, again hunter2; sens; abc");
	buf_redact(&b, &sec);
	cr_assert_str_eq(b.s, "pw (sensitive), again (sensitive); (sensitive); abc");
	buf_redact(&b, NULL);
	cr_assert_str_eq(b.s, "pw (sensitive), again (sensitive); (sensitive); abc");
	buf_free(&b);
	strset_free(&sec);
}

Test(near, the_nearest_known_name_within_a_few_edits)
{
	const char *known[] = {"dev", "prod", "staging", "replicas"};
	cr_assert_str_eq(near_word("deb", known, 4), "dev");
	cr_assert_str_eq(near_word("rpod", known, 4), "prod");  /* a swap is one edit */
	cr_assert_str_eq(near_word("replcias", known, 4), "replicas");
	cr_assert_str_eq(near_word("stagin", known, 4), "staging");
	cr_assert_null(near_word("production", known, 4));
	cr_assert_null(near_word("x", known, 0));
	struct buf b = {0};
	near_hint(&b, "deb", known, 2, "clusters");
	cr_assert_str_eq(b.s, "; did you mean dev? (clusters: dev, prod)");
	buf_free(&b);
}

/* proc_run keeps lib's convention: 0, else a positive errno value —
 * ETIMEDOUT past the deadline, ECANCELED once the run stops; a program
 * that cannot be started is exit status 127 with the reason */
Test(proc, outcomes_are_zero_or_a_positive_errno)
{
	struct procs ps;
	procs_init(&ps);
	struct buf out = {0}, errtext = {0};
	int status;
	char *slow[] = {"sleep", "5", NULL};
	struct proc_spec sp = {slow, NULL, NULL, NULL, 0, now_ms() + 100, NULL};
	cr_assert_eq(proc_run(&ps, &sp, &out, &status), ETIMEDOUT);
	cr_assert_eq(status, 128 + SIGKILL);
	char *none[] = {"addonmake-no-such-program", NULL};
	struct proc_spec sn = {none, NULL, NULL, NULL, 0, 0, NULL};
	buf_clear(&out);
	cr_assert_eq(proc_run(&ps, &sn, &out, &status), 0);
	cr_assert_eq(status, 127);
	cr_assert(strstr(out.s, "cannot run addonmake-no-such-program: "), "%s", out.s);
	setenv("TMPDIR", "/nonexistent-addonmake-dir", 1);
	char *echo[] = {"echo", "hi", NULL};
	cr_assert_eq(proc_run_split(&ps, echo, NULL, 0, &out, &status, &errtext), ENOENT);
	cr_assert(strstr(errtext.s, "cannot make a temporary file in /nonexistent-addonmake-dir: "),
		  "%s", errtext.s);
	unsetenv("TMPDIR");
	procs_stop(&ps);
	buf_clear(&out);
	cr_assert_eq(proc_run(&ps, &sp, &out, &status), ECANCELED);
	buf_free(&out);
	buf_free(&errtext);
	pthread_mutex_destroy(&ps.mu);
}

/* the hunks of udiff applied to a, as patch(1) would: b, or NULL when a
 * hunk does not fit a (its context or removed lines are not a's) */
static char *
patched(const char *a, const char *hunks)
{
	struct buf out = {0};
	const char *p = hunks, *ap = a;
	size_t aline = 1;
	while (*p) {
		unsigned long start, len = 1;
		if (sscanf(p, "@@ -%lu,%lu", &start, &len) < 1)
			return NULL;
		if (len == 0)
			start++; /* an empty range names the line before */
		for (; aline < start; aline++) { /* lines between hunks */
			const char *nl = strchr(ap, '\n');
			size_t n = nl ? (size_t)(nl - ap) + 1 : strlen(ap);
			buf_add(&out, ap, n);
			ap += n;
		}
		p = strchr(p, '\n') + 1;
		while (*p && *p != '@') {
			const char *nl = strchr(p, '\n');
			size_t n = (size_t)(nl - p); /* without the tag, with the newline */
			if (*p == ' ' || *p == '-') {
				if (strncmp(ap, p + 1, n) != 0)
					return NULL;
				ap += n;
				aline++;
			}
			if (*p == ' ' || *p == '+')
				buf_add(&out, p + 1, n);
			p = nl + 1;
		}
	}
	buf_adds(&out, ap);
	return out.s ? out.s : xstrndup("", 0);
}

Test(udiff, writes_hunks_as_diff_u_does)
{
	struct buf b = {0};
	cr_assert_eq(udiff(&b, "a\nb\n", "a\nb\n", 0), 0);
	cr_assert_eq(b.len, 0);
	cr_assert_eq(udiff(&b, "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", 0), 1);
	cr_assert_str_eq(b.s, "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n");
	buf_clear(&b);
	/* a new object: everything added; an empty range names line 0 */
	udiff(&b, "", "kind: X\nmetadata: {}\n", 0);
	cr_assert_str_eq(b.s, "@@ -0,0 +1,2 @@\n+kind: X\n+metadata: {}\n");
	buf_clear(&b);
	udiff(&b, "kind: X\n", NULL, 0);
	cr_assert_str_eq(b.s, "@@ -1 +0,0 @@\n-kind: X\n");
	buf_clear(&b);
	/* changes far apart: two hunks */
	udiff(&b, "a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n", "A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n", 0);
	cr_assert_str_eq(b.s, "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-b\n+B\n");
	buf_clear(&b);
	/* colour for a terminal */
	udiff(&b, "x\n", "y\n", 1);
	cr_assert_str_eq(b.s, "\033[36m@@ -1 +1 @@\033[0m\n\033[31m-x\033[0m\n\033[32m+y\033[0m\n");
	buf_free(&b);
}

/* on many random pairs of texts the hunks turn a into b */
Test(udiff, hunks_applied_make_the_second_text)
{
	unsigned seed = 7;
	for (int round = 0; round < 2000; round++) {
		char a[400] = "", b[400] = "";
		for (int t = 0; t < 2; t++) {
			char *s = t ? b : a;
			int n = (int)((seed = seed * 1103515245 + 12345) >> 16) % 25;
			for (int i = 0; i < n; i++) {
				seed = seed * 1103515245 + 12345;
				char l[8];
				snprintf(l, sizeof(l), "%c\n", 'a' + (int)((seed >> 16) % 5));
				strcat(s, l);
			}
		}
		struct buf h = {0};
		int d = udiff(&h, a, b, 0);
		cr_assert_eq(d, strcmp(a, b) != 0, "%s\n--\n%s", a, b);
		char *got = patched(a, h.s ? h.s : "");
		cr_assert(got, "hunks that do not fit:\n%s\n--\n%s\n--\n%s", a, b, h.s);
		cr_assert_str_eq(got, b, "a:\n%s\nhunks:\n%s", a, h.s);
		free(got);
		buf_free(&h);
	}
}

/* a library that is not there, or lacks a name, says which and what to
 * install; one that has them gives their addresses */
Test(lazy, names_what_is_missing_and_what_to_install)
{
	void *fn[2] = {0};
	struct buf why = {0};
	const char *names[] = {"strlen", "no_such_function_here"};
	cr_assert_eq(lazy_open("libnothere.so.9", "libnothere9", names, fn, 1, &why), ELIBACC);
	cr_assert(strstr(why.s, "libnothere.so.9 cannot be loaded (") &&
		  strstr(why.s, "): install it (Debian package libnothere9)"), "%s", why.s);
	buf_clear(&why);
	cr_assert_eq(lazy_open("libc.so.6", "libc6", names, fn, 2, &why), ELIBBAD);
	cr_assert_str_eq(why.s, "libc.so.6 has no no_such_function_here: it is older than "
				"addonmake needs (Debian package libc6)");
	buf_clear(&why);
	cr_assert_eq(lazy_open("libc.so.6", "libc6", names, fn, 1, &why), 0);
	cr_assert_eq(((size_t(*)(const char *))fn[0])("four"), 4);
	cr_assert_eq(why.len, 0);
	buf_free(&why);
}

/* what the tasks of a pool test share: a gate they wait at until it is
 * open (so that tasks are known to run at once), the count of those that
 * ran, and the pool */
struct gate {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int open, ran;
	struct pool p;
};

/* a task that counts itself and the thread it ran on */
struct ptask {
	struct pool_task t;
	struct gate *g;
	pthread_t on;
};

static void
ptask_fn(void *u)
{
	struct ptask *k = u;
	struct gate *g = k->g;
	pthread_mutex_lock(&g->mu);
	while (!g->open)
		pthread_cond_wait(&g->cv, &g->mu);
	k->on = pthread_self();
	g->ran++;
	pthread_cond_broadcast(&g->cv);
	pthread_mutex_unlock(&g->mu);
}

static void
gate_init(struct gate *g, int open)
{
	*g = (struct gate){.open = open};
	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->cv, NULL);
	pool_init(&g->p);
}

/* task k handed to the gate's pool */
static void
gate_run(struct gate *g, struct ptask *k)
{
	*k = (struct ptask){.t = {.fn = ptask_fn, .arg = k}, .g = g};
	cr_assert_eq(pool_run(&g->p, &k->t), 0);
}

/* waits (up to 5 s) until n of the pool's threads are running a task */
static void
pool_busy(struct pool *p, size_t n)
{
	size_t busy = 0;
	for (int k = 0; k < 5000; k++) {
		pthread_mutex_lock(&p->mu);
		busy = p->busy;
		pthread_mutex_unlock(&p->mu);
		if (busy == n)
			return;
		nanosleep(&(struct timespec){0, 1000000}, NULL);
	}
	cr_assert_eq(busy, n);
}

/* one after the other, tasks take the thread the first one started */
Test(pool, a_thread_is_kept_for_the_next_task)
{
	struct gate g;
	gate_init(&g, 1);
	struct ptask ts[20];
	for (int i = 0; i < 20; i++) {
		gate_run(&g, &ts[i]);
		pthread_mutex_lock(&g.mu);
		while (g.ran < i + 1)
			pthread_cond_wait(&g.cv, &g.mu);
		pthread_mutex_unlock(&g.mu);
		/* back in the queue's wait before the next comes */
		pool_busy(&g.p, 0);
	}
	cr_assert_eq(g.p.nthreads, 1);
	for (int i = 1; i < 20; i++)
		cr_assert(pthread_equal(ts[i].on, ts[0].on), "task %d ran on another thread", i);
	pool_free(&g.p);
}

/* tasks that wait at once each get a thread, and pool_free waits for
 * them to end */
Test(pool, tasks_at_once_each_get_a_thread_and_free_waits_for_them)
{
	struct gate g;
	gate_init(&g, 0);
	struct ptask ts[5];
	for (int i = 0; i < 5; i++)
		gate_run(&g, &ts[i]);
	cr_assert_eq(g.p.nthreads, 5);
	/* each of them waiting on a thread of its own */
	pool_busy(&g.p, 5);
	pthread_mutex_lock(&g.mu);
	g.open = 1;
	pthread_cond_broadcast(&g.cv);
	pthread_mutex_unlock(&g.mu);
	pool_free(&g.p);
	cr_assert_eq(g.ran, 5);
	for (int i = 0; i < 5; i++)
		for (int k = i + 1; k < 5; k++)
			cr_assert(!pthread_equal(ts[i].on, ts[k].on), "tasks %d and %d shared a thread",
				  i, k);
}

/* a loop for relay: items handed in are done at the next turn (with
 * delay, at the first turn delay ms after); who turned it is recorded */
struct fitem {
	struct relay_wait *w;
	int done;
	int64_t due;
	struct fitem *next;
};

struct fake {
	pthread_mutex_t mu;
	struct relay r;
	struct fitem *queue;
	struct fitem *held; /* taken, not yet due */
	int delay;
	pthread_t turner;
	int turns;
	int hold; /* the first turn waits until this many callers wait */
};

static size_t
waiting(struct fake *f)
{
	size_t n = 0;
	for (struct relay_wait *w = f->r.waiting; w; w = w->next)
		n++;
	return n;
}

static void *
f_take(void *u)
{
	struct fake *f = u;
	struct fitem *in = f->queue;
	f->queue = NULL;
	return in;
}

static int
f_pending(void *u)
{
	return ((struct fake *)u)->queue != NULL;
}

static void
f_nap(void *u, int ms)
{
	(void)u;
	struct timespec t = {0, ms * 1000000L};
	nanosleep(&t, NULL);
}

static int
f_turn(void *u, void *in)
{
	struct fake *f = u;
	pthread_mutex_lock(&f->mu);
	while (f->hold && waiting(f) < (size_t)f->hold) {
		pthread_mutex_unlock(&f->mu);
		f_nap(f, 1);
		pthread_mutex_lock(&f->mu);
	}
	f->hold = 0;
	f->turner = pthread_self();
	f->turns++;
	int64_t now = now_ms();
	for (struct fitem *it = in, *next; it; it = next) {
		next = it->next;
		it->next = f->held;
		f->held = it;
		if (!it->due)
			it->due = now + f->delay;
	}
	for (struct fitem **p = &f->held, *it; (it = *p);) {
		if (it->due > now) {
			p = &it->next;
			continue;
		}
		*p = it->next;
		it->done++;
		relay_done(it->w);
	}
	pthread_mutex_unlock(&f->mu);
	return 1;
}

static void
f_wake(void *u)
{
	(void)u;
}

static void
fake_init(struct fake *f)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->mu, NULL);
	f->r = (struct relay){.mu = &f->mu, .u = f, .take = f_take, .pending = f_pending,
			      .turn = f_turn, .nap = f_nap, .wake = f_wake};
}

/* hands n items in and waits for them: how many were done once each */
static int
hand_in(struct fake *f, int n)
{
	struct fitem it[8];
	struct relay_wait w = {.left = (size_t)n};
	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < n; i++) {
		it[i] = (struct fitem){.w = &w, .next = f->queue};
		f->queue = &it[i];
	}
	relay_run(&f->r, &w);
	pthread_mutex_unlock(&f->mu);
	int once = 0;
	for (int i = 0; i < n; i++)
		once += it[i].done == 1;
	return once;
}

Test(relay, a_lone_caller_drives_its_work_itself)
{
	struct fake f;
	fake_init(&f);
	cr_assert_eq(hand_in(&f, 5), 5);
	cr_assert(pthread_equal(f.turner, pthread_self()), "another thread turned the loop");
	cr_assert_eq(f.turns, 1);
	cr_assert_null(f.r.waiting);
	cr_assert_eq(f.r.driving, 0);
}

static void *
rounds(void *u)
{
	struct fake *f = u;
	long ok = 0;
	for (int i = 0; i < 200; i++)
		ok += hand_in(f, 1 + i % 8) == 1 + i % 8;
	return (void *)ok;
}

/* callers at once: each one's work is done once, and every caller
 * returns (the driver hands the driving on when its own is done) */
Test(relay, callers_at_once_take_turns_and_each_gets_its_work_done)
{
	struct fake f;
	fake_init(&f);
	pthread_t t[4];
	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, rounds, &f), 0);
	for (int i = 0; i < 4; i++) {
		void *ok;
		pthread_join(t[i], &ok);
		cr_assert_eq((long)ok, 200, "thread %d: %ld of 200 rounds done", i, (long)ok);
	}
	cr_assert_null(f.r.waiting);
}

static void *
one_item(void *u)
{
	return (void *)(long)hand_in(u, 1);
}

/* the driver's own work is done while another caller's waits in the
 * queue: the driving passes to that caller, who would otherwise sleep
 * for ever */
Test(relay, the_driver_hands_the_driving_on_when_its_own_is_done, .timeout = 20)
{
	struct fake f;
	fake_init(&f);
	f.hold = 2; /* the first turn, the driver's, goes on once both wait */
	pthread_t a, b;
	cr_assert_eq(pthread_create(&a, NULL, one_item, &f), 0);
	struct timespec t = {0, 20000000};
	nanosleep(&t, NULL); /* a drives first */
	cr_assert_eq(pthread_create(&b, NULL, one_item, &f), 0);
	void *ra, *rb;
	pthread_join(a, &ra);
	pthread_join(b, &rb);
	cr_assert_eq((long)ra, 1);
	cr_assert_eq((long)rb, 1);
	cr_assert(pthread_equal(f.turner, b), "the last turn was not b's: it was not handed on");
}

/* fibers: what each of a test's fibers did, in the order done */
struct frec {
	pthread_mutex_t mu;
	struct waitq q;
	struct sched *s;
	char log[64];
	int n, go, ended;
	int want;    /* fibers to end before sched_run is interrupted */
	int64_t took; /* a nap's length */
	pthread_t thread[8];
	struct fake *f;  /* a relay the fibers share */
	struct hold *h;
};

static struct frec *fr_of; /* the test's, for the fibers */

static void
fr_note(char c)
{
	fr_of->log[fr_of->n] = c;
	fr_of->thread[fr_of->n % 8] = pthread_self();
	fr_of->n++;
}

static void
fr_end(void)
{
	if (++fr_of->ended == fr_of->want)
		sched_interrupt(fr_of->s);
}

static void
yields_twice(void *arg)
{
	char c = (char)(long)arg;
	for (int i = 0; i < 3; i++) {
		fr_note(c);
		if (i < 2)
			fiber_yield(0);
	}
	fr_end();
}

static void
fr_setup(struct frec *r, int want)
{
	memset(r, 0, sizeof(*r));
	r->want = want;
	pthread_mutex_init(&r->mu, NULL);
	r->s = sched_new();
	fr_of = r;
}

/* three fibers that yield run in turn, on the thread that runs the
 * scheduler, and sched_run returns when interrupted */
Test(fiber, fibers_take_turns_on_the_calling_thread, .timeout = 10)
{
	struct frec r;
	fr_setup(&r, 3);
	for (long c = 'a'; c <= 'c'; c++)
		cr_assert_eq(sched_spawn(r.s, yields_twice, (void *)c), 0);
	cr_assert_null(fiber_self());
	sched_run(r.s, 0);
	r.log[r.n] = 0;
	cr_assert_str_eq(r.log, "abcabcabc");
	for (int i = 0; i < 8; i++)
		cr_assert(pthread_equal(r.thread[i], pthread_self()), "a fiber ran on another thread");
	cr_assert_null(fiber_self());
	sched_free(r.s);
}

static void
waits_for_go(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&fr_of->mu);
	while (!fr_of->go)
		waitq_wait(&fr_of->q, &fr_of->mu, 0);
	fr_note('w');
	pthread_mutex_unlock(&fr_of->mu);
	fr_end();
}

static void *
says_go(void *u)
{
	struct frec *r = u;
	struct timespec t = {0, 30 * 1000000L};
	nanosleep(&t, NULL);
	pthread_mutex_lock(&r->mu);
	r->go = 1;
	waitq_wake_all(&r->q);
	pthread_mutex_unlock(&r->mu);
	return NULL;
}

/* a fiber parked on a waitq runs again when another thread wakes it, and
 * the scheduler, with nothing to run meanwhile, sleeps until then */
Test(fiber, a_parked_fiber_is_woken_from_another_thread, .timeout = 10)
{
	struct frec r;
	fr_setup(&r, 1);
	cr_assert_eq(sched_spawn(r.s, waits_for_go, NULL), 0);
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, says_go, &r), 0);
	sched_run(r.s, 0);
	pthread_join(t, NULL);
	cr_assert_eq(r.n, 1);
	cr_assert(r.go, "the fiber went on before it was told");
	cr_assert_null(r.q.head);
	sched_free(r.s);
}

static void
naps(void *arg)
{
	int64_t t0 = now_ms();
	fiber_nap(t0 + (long)arg);
	fr_of->took = now_ms() - t0;
	fr_end();
}

/* a nap ends at its time, not before, and a wait with a time ends then
 * without a wake, leaving the waitq as it was */
Test(fiber, a_nap_and_a_timed_wait_end_by_themselves, .timeout = 10)
{
	struct frec r;
	fr_setup(&r, 1);
	cr_assert_eq(sched_spawn(r.s, naps, (void *)40L), 0);
	sched_run(r.s, 0);
	cr_assert_geq(r.took, 40);
	pthread_mutex_lock(&r.mu);
	int64_t t0 = now_ms();
	waitq_wait(&r.q, &r.mu, t0 + 30);
	cr_assert_geq(now_ms() - t0, 30);
	pthread_mutex_unlock(&r.mu);
	cr_assert_null(r.q.head);
	sched_free(r.s);
}

static void
relays(void *arg)
{
	int n = (int)(long)arg;
	for (int i = 0; i < 20; i++)
		if (hand_in(fr_of->f, n) == n)
			fr_of->go++;
	fr_note('r');
	fr_end();
}

/* fibers share one relay: each one's work is done once, on the one
 * thread, with no thread to hand the driving to; while the work takes
 * time, the driver naps in the loop's poll rather than the fibers
 * passing the driving to and fro */
Test(fiber, fibers_share_a_relay_on_one_thread, .timeout = 10)
{
	struct frec r;
	struct fake f;
	fr_setup(&r, 3);
	fake_init(&f);
	f.delay = 3;
	r.f = &f;
	for (long n = 1; n <= 3; n++)
		cr_assert_eq(sched_spawn(r.s, relays, (void *)n), 0);
	sched_run(r.s, 0);
	cr_assert_eq(r.go, 60, "%d of 60 rounds done", r.go);
	/* 20 rounds of 3 ms, a turn after each nap of 1 ms: about a hundred
	 * turns; fibers passing the driving to and fro without a nap make
	 * tens of thousands */
	cr_assert_lt(f.turns, 2000, "%d turns", f.turns);
	cr_assert(pthread_equal(f.turner, pthread_self()), "another thread turned the loop");
	cr_assert_null(f.r.waiting);
	cr_assert_eq(f.r.driving, 0);
	cr_assert_null(f.r.fiber);
	sched_free(r.s);
}

static void
holds_across_a_nap(void *arg)
{
	(void)arg;
	hold_take(fr_of->h);
	fr_note('h');
	fiber_nap(now_ms() + 20);
	fr_note('g');
	hold_give(fr_of->h);
}

/* the scheduler's home thread, outside any fiber, waits for a hold a
 * parked fiber keeps: the wait runs the fiber meanwhile, where a blocked
 * thread would wait for ever */
Test(fiber, a_wait_of_the_home_thread_runs_its_fibers, .timeout = 10)
{
	struct frec r;
	struct hold h;
	fr_setup(&r, 1);
	hold_init(&h);
	r.h = &h;
	cr_assert_eq(sched_spawn(r.s, holds_across_a_nap, NULL), 0);
	sched_home(r.s);
	sched_run(r.s, now_ms() + 5); /* the fiber takes the hold and naps */
	cr_assert_eq(r.n, 1);
	hold_take(&h);
	fr_note('m');
	hold_give(&h);
	sched_home(NULL);
	r.log[r.n] = 0;
	cr_assert_str_eq(r.log, "hgm");
	hold_destroy(&h);
	sched_free(r.s);
}
