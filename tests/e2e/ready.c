/* e2e readiness: the backoff schedule until the timeout, failure reports,
 * no later tier after a failure, and what the next run re-applies. */
#include <stdio.h>
#include "e2e.h"

static const char *failing_b =
	"    layers:\n"
	"      p/b:\n"
	"        readiness:\n"
	"          interval: 300ms\n"
	"          timeout: 1200ms\n"
	"          checks:\n"
	"            - command: [sh, -c, 'echo check >> checks; echo \"endpoint not up\"; exit 1']\n";

Test(ready, failing_check_is_retried_on_schedule_then_fails_the_run)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, failing_b);
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	/* checks at 0, 0.3, 0.6, 0.9 and a last one at the 1.2 s timeout */
	char *checks = tws_get(&t, "checks");
	cr_assert_eq(count_lines(checks, "check"), 5, "checks run:\n%s", checks);
	free(checks);
	cr_assert(strstr(r.out, "addonmake: dev: layer p/b failed: not ready after 1.2s (timeout): "
				"command: sh -c echo check >> checks; echo \"endpoint not up\"; exit 1: exit 1: endpoint not up"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "1 layer of later tiers not started"), "%s", r.out);
	char *log = tws_get(&t, "log");
	cr_assert_eq(count_eq(log, "start p/c"), 0, "a later tier started:\n%s", log);
	cr_assert_eq(count_eq(log, "end p/a"), 1, "the other layer of the tier finished");
	free(log);
	res_free(&r);
	/* the next run re-applies the failed layer and what follows it */
	r = am(&t, "plan --json");
	cr_assert_str_eq(r.out,
		"{\"cluster\":\"dev\",\"layer\":\"p/b\",\"order\":0,\"action\":\"apply\",\"reason\":\"last apply failed\"}\n"
		"{\"cluster\":\"dev\",\"layer\":\"p/c\",\"order\":10,\"action\":\"apply\",\"reason\":\"pending from an interrupted run\"}\n");
	res_free(&r);
	r = am(&t, "status");
	cr_assert(strstr(r.out, "failed"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* layer p/b of the exec workspace with the readiness settings given and a
 * check that says "warming up" twice, then passes (its runs counted in n) */
static void
third_check_passes(struct tws *t, const char *settings)
{
	char layers[800];
	snprintf(layers, sizeof(layers),
		 "    layers:\n      p/b:\n        readiness:\n%s          checks:\n"
		 "            - command: [sh, -c, 'n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; "
		 "test $n -ge 2 || { echo \"warming up\"; exit 1; }']\n", settings);
	fx_exec_ws(t, NULL, layers);
}

Test(ready, waiting_is_reported_with_the_next_check)
{
	struct tws t;
	tws_init(&t);
	third_check_passes(&t, "          interval: 200ms\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "dev: waiting p/b (order 0): command: sh -c"), "%s", r.out);
	/* how long it has waited, of the layer's timeout (15m, the default) */
	cr_assert(strstr(r.out, "exit 1: warming up (waited 0s of 15m), next check in 200ms"), "%s", r.out);
	cr_assert(strstr(r.out, "exit 1: warming up (waited 200ms of 15m), next check in 200ms"), "%s",
		  r.out);
	char *n = tws_get(&t, "n");
	cr_assert_str_eq(n, "3\n");
	free(n);
	cr_assert(strstr(r.out, "ready p/b"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* the schedule (0 s, 1 s, then the 10 s interval) is cut at the timeout:
 * the last check runs at 1.8 s, not after it, and passing there is
 * ready; the check passes on its third run */
Test(ready, the_last_check_runs_at_the_timeout_and_counts)
{
	struct tws t;
	tws_init(&t);
	third_check_passes(&t, "          interval: 10s\n          timeout: 1800ms\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "exit 1: warming up (waited 0s of 1.8s), next check in 1s"), "%s", r.out);
	cr_assert(strstr(r.out, "exit 1: warming up (waited 1s of 1.8s), next check in 800ms"), "%s",
		  r.out);
	char *n = tws_get(&t, "n");
	cr_assert_str_eq(n, "3\n");
	free(n);
	cr_assert(strstr(r.out, "ready p/b"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(ready, http_check_that_cannot_connect_fails_the_layer)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL,
		   "    layers:\n"
		   "      p/crds:\n"
		   "        readiness:\n"
		   "          timeout: 500ms\n"
		   "          interval: 200ms\n"
		   "          checks: [{http: {url: \"http://127.0.0.1:9/health\", expect: 200}}]\n");
	/* the dynamic loader says what it loads: libcurl, when the first
	 * request is sent, not at start */
	struct res r = am_env(&t, "LD_DEBUG=files", "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "layer p/crds failed: not ready after 500ms (timeout): GET http://127.0.0.1:9/health"),
		  "%s", r.out);
	cr_assert(strstr(r.err, "file=libcurl.so.4 [0];  dynamically loaded by"), "%s", r.err);
	char *log = tws_get(&t, "log");
	cr_assert_eq(count_eq(log, "start p/a"), 0, "tier 0 started after tier -10 failed");
	free(log);
	res_free(&r);
	tws_free(&t);
}

/* a run that sends no request never loads libcurl and the thirty
 * libraries it brings (about 3 ms a process): a sync of the exec target, its
 * no-op and a plan */
Test(ready, a_run_that_sends_no_request_never_loads_libcurl)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, NULL);
	const char *cmds[] = {"sync", "sync", "plan"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
		struct res r = am_env(&t, "LD_DEBUG=files", "%s", cmds[i]);
		assert_code(r, 0);
		cr_assert(strstr(r.err, "file=libyaml-0.so.2 [0];  needed by"), "%s", r.err);
		cr_assert(!strstr(r.err, "libcurl"), "%s loaded libcurl:\n%s", cmds[i], r.err);
		res_free(&r);
	}
	tws_free(&t);
}

Test(ready, exec_target_check_applies_to_every_layer)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml",
		"clusters:\n  - name: dev\n    target:\n      exec:\n"
		"        apply: [sh, -c, 'cat >/dev/null']\n"
		"        check: [sh, -c, 'echo \"$ADDONMAKE_LAYER\" >> checked']\n"
		"    profiles: [p.yaml]\n");
	fx_profile(&t, "one", NULL);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	char *c = tws_get(&t, "checked");
	cr_assert_eq(count_lines(c, "p/"), 4, "%s", c);
	free(c);
	res_free(&r);
	tws_free(&t);
}

Test(ready, failing_apply_command_reports_its_output)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml",
		"clusters:\n  - name: dev\n    target:\n      exec:\n"
		"        apply: [sh, -c, 'cat >/dev/null; test \"$ADDONMAKE_LAYER\" != p/a || { echo \"quota exceeded\" >&2; exit 3; }']\n"
		"    profiles: [p.yaml]\n");
	fx_profile(&t, "one", NULL);
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "layer p/a failed: apply command sh exited with status 3:\nquota exceeded"), "%s", r.out);
	res_free(&r);
	r = am(&t, "plan --json");
	cr_assert_eq(count_lines(r.out, "apply"), 2, "%s", r.out);
	res_free(&r);
	tws_free(&t);
}
