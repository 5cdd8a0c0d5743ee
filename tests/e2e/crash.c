/* e2e crash safety: SIGKILL in the middle of a tier, Ctrl-C between tiers,
 * and a second run while one holds the workspace. */
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "e2e.h"

/* with the file `block`, layer p/c (tier 10) waits until `go` exists */
static void
nap(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static const char *block_c =
	"if [ -f block ] && [ \"$ADDONMAKE_LAYER\" = p/c ]; then touch c-started; while [ ! -f go ]; do sleep 0.05; done; fi; ";

Test(crash, sigkill_mid_tier_leaves_exactly_the_unfinished_layers)
{
	struct tws t;
	tws_init(&t);
	struct res r;
	/* p/b hangs in tier 0 */
	fx_exec_ws(&t, "if [ \"$ADDONMAKE_LAYER\" = p/b ]; then touch b-started; sleep 30; fi; ", NULL);
	pid_t pid = am_bg(&t, "");
	cr_assert(wait_file(&t, "b-started", 10000), "p/b never started");
	/* p/a of the same tier finishes; wait for its record, then kill */
	for (int i = 0; i < 200; i++) {
		char *log = tws_get(&t, "log");
		int done = log && strstr(log, "end p/a");
		free(log);
		if (done)
			break;
		nap(20);
	}
	nap(200);
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	r = am(&t, "plan --json");
	assert_code(r, 0);
	cr_assert_str_eq(r.out,
		"{\"cluster\":\"dev\",\"layer\":\"p/b\",\"order\":0,\"action\":\"apply\",\"reason\":\"pending from an interrupted run\"}\n"
		"{\"cluster\":\"dev\",\"layer\":\"p/c\",\"order\":10,\"action\":\"apply\",\"reason\":\"pending from an interrupted run\"}\n");
	res_free(&r);
	tws_free(&t);
}

/* the run pid, stopped while p/c (order 10) waited on the file `go`:
 * it exits with code, says p/c was interrupted, leaves no process behind,
 * and the next run applies p/c alone */
static void
assert_stopped_at_c(struct tws *t, pid_t pid, int code)
{
	int st;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st), "killed by signal %d", WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	cr_assert_eq(WEXITSTATUS(st), code);
	char *out = tws_get(t, "bg.out");
	cr_assert(strstr(out, "interrupted p/c"), "%s", out);
	free(out);
	/* the child's process group is gone: nothing waits on `go` any more */
	cr_assert(!tws_procs(t, 0), "a child process was left behind");
	struct res r = am(t, "plan --json");
	cr_assert_str_eq(r.out,
		"{\"cluster\":\"dev\",\"layer\":\"p/c\",\"order\":10,\"action\":\"apply\",\"reason\":\"last apply interrupted\"}\n");
	res_free(&r);
	tws_put(t, "go", "\n");
	r = am(t, "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": apply "), 1, "%s", r.out);
	res_free(&r);
}

Test(crash, ctrl_c_stops_children_and_records_the_interrupted_layer)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, block_c, NULL);
	tws_put(&t, "block", "\n");
	pid_t pid = am_bg(&t, "");
	cr_assert(wait_file(&t, "c-started", 10000), "p/c never started");
	kill(pid, SIGINT);
	assert_stopped_at_c(&t, pid, 130);
	tws_free(&t);
}

/* SIGTERM, as a CI job's timeout sends it, while a readiness check of
 * p/c runs: exit 143, the check's process is gone, p/c is interrupted and
 * the next run applies it again */
Test(crash, sigterm_during_a_readiness_check_stops_it_and_exits_143)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL,
		   "    layers:\n"
		   "      p/c:\n"
		   "        readiness:\n"
		   "          checks:\n"
		   "            - command: [sh, -c, 'touch checking; while [ ! -e go ]; do sleep 0.1; done']\n");
	pid_t pid = am_bg(&t, "");
	cr_assert(wait_file(&t, "checking", 10000), "the check of p/c never ran");
	kill(pid, SIGTERM);
	assert_stopped_at_c(&t, pid, 143);
	tws_free(&t);
}

Test(crash, sigkill_between_tiers_reapplies_the_later_tiers)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, block_c, NULL);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	/* change p/b (tier 0); kill the run while tier 10 runs: p/c is due
	 * only because an earlier tier changed */
	fx_profile(&t, "two", NULL);
	tws_put(&t, "block", "\n");
	tws_rm(&t, "log");
	pid_t pid = am_bg(&t, "");
	cr_assert(wait_file(&t, "c-started", 10000), "p/c never started");
	kill(-pid, SIGKILL);
	waitpid(pid, NULL, 0);
	char *log = tws_get(&t, "log");
	cr_assert_eq(count_eq(log, "end p/b"), 1, "%s", log);
	cr_assert_eq(count_eq(log, "start p/a"), 0, "%s", log);
	free(log);
	r = am(&t, "plan --json");
	cr_assert_str_eq(r.out,
		"{\"cluster\":\"dev\",\"layer\":\"p/c\",\"order\":10,\"action\":\"apply\",\"reason\":\"pending from an interrupted run\"}\n");
	res_free(&r);
	tws_free(&t);
}

Test(crash, a_second_run_fails_at_once_while_one_holds_the_workspace)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, block_c, NULL);
	tws_put(&t, "block", "\n");
	pid_t pid = am_bg(&t, "");
	cr_assert(wait_file(&t, "c-started", 10000));
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	char want[128];
	snprintf(want, sizeof(want), "another addonmake (pid %ld) is running in this workspace", (long)pid);
	cr_assert(strstr(r.err, want), "%s", r.err);
	res_free(&r);
	/* read-only commands still work */
	r = am(&t, "status");
	assert_code(r, 0);
	res_free(&r);
	tws_put(&t, "go", "\n");
	int st;
	waitpid(pid, &st, 0);
	cr_assert_eq(WEXITSTATUS(st), 0);
	tws_free(&t);
}
