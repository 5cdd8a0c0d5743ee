/* e2e command line: help, version, usage errors, dry run, status, clean,
 * cluster selection, LAYER arguments. */
#include <stdio.h>
#include "e2e.h"

Test(cli, help_and_version)
{
	struct tws t;
	tws_init(&t);
	struct res r = am(&t, "--help");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "usage: addonmake [COMMAND]"));
	cr_assert(strstr(r.out, "plan --detailed-exitcode found work"));
	res_free(&r);
	r = am(&t, "--version");
	assert_code(r, 0);
	cr_assert(strncmp(r.out, "addonmake ", 10) == 0);
	res_free(&r);
	tws_free(&t);
}

Test(cli, usage_errors_exit_2)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	struct res r = am(&t, "--bogus");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "unknown option --bogus"));
	res_free(&r);
	r = am(&t, "-j");
	assert_code(r, 2);
	res_free(&r);
	r = am(&t, "-c nope");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "has no cluster \"nope\""), "%s", r.err);
	res_free(&r);
	r = am(&t, "sync p/nope");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "unknown layer \"p/nope\""), "%s", r.err);
	res_free(&r);
	r = am(&t, "-f missing.yaml");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "missing.yaml: error: cannot read the workspace file"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

Test(cli, dry_run_writes_nothing)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	char *before = fx_snapshot(&t);
	struct res r = am(&t, "-n");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": apply "), 4, "%s", r.out);
	char *after = fx_snapshot(&t);
	cr_assert_str_eq(before, after);
	cr_assert(!tws_exists(&t, ".addonmake/state.mdb"));
	free(before);
	free(after);
	res_free(&r);
	tws_free(&t);
}

/* every command honours -n: after a sync, an edit and a removed layer,
 * each one with -n writes no file (the lock file included) and says what
 * it would do */
Test(cli, every_command_honours_dry_run)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	fx_profile(&t, "one", "      - {name: extra, type: manifest, manifests: [{name: m, content: 'kind: X'}]}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	fx_profile(&t, "two", NULL);
	/* a stale stat cache is brought up to date by a real run only */
	char *before = fx_snapshot(&t);
	static const char *const cmds[] = {"sync -n", "plan -n", "graph -n", "status -n",
					   "prune -n", "clean -n", "clean -n -c dev", "-n --prune"};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(*cmds); i++) {
		r = am(&t, "%s", cmds[i]);
		assert_code(r, 0);
		char *after = fx_snapshot(&t);
		cr_assert_str_eq(before, after, "addonmake %s wrote files", cmds[i]);
		free(after);
		if (strcmp(cmds[i], "prune -n") == 0)
			cr_assert_str_eq(r.out, "dev: prune p/extra (order 0): removed from the profiles\n"
						"addonmake: 1 layer to prune.\n");
		if (strcmp(cmds[i], "clean -n") == 0)
			cr_assert_str_eq(r.out, "addonmake: would forget the recorded state of every cluster "
						"(.addonmake/state.mdb).\n");
		if (strcmp(cmds[i], "clean -n -c dev") == 0)
			cr_assert_str_eq(r.out, "addonmake: would forget the recorded state of cluster dev.\n");
		res_free(&r);
	}
	/* the state is still there: prune without -n finds the layer */
	r = am(&t, "prune");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "pruned p/extra"), "%s", r.out);
	res_free(&r);
	free(before);
	tws_free(&t);
}

Test(cli, status_table_and_clean)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	struct res r = am(&t, "status");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, " new "), 4, "%s", r.out);
	res_free(&r);
	r = am(&t, "-q");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "");
	res_free(&r);
	r = am(&t, "status");
	cr_assert_eq(count_lines(r.out, "up to date"), 4, "%s", r.out);
	cr_assert(strstr(r.out, "p/crds") && strstr(r.out, "-10"), "%s", r.out);
	res_free(&r);
	r = am(&t, "clean -c dev");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: forgot the recorded state of cluster dev.\n");
	res_free(&r);
	r = am(&t, "plan");
	cr_assert_eq(count_lines(r.out, "new layer"), 4, "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(cli, clean_recovers_from_an_unreadable_state)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r;
	tws_put(&t, ".addonmake/state.mdb", "this is not an LMDB file, it is garbage of some length.....\n");
	r = am(&t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "state.mdb"), "%s", r.err);
	cr_assert(strstr(r.err, "addonmake clean"), "%s", r.err);
	res_free(&r);
	r = am(&t, "clean");
	assert_code(r, 0);
	res_free(&r);
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": ready "), 4, "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(cli, naming_a_layer_syncs_it_and_what_follows)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, NULL);
	struct res r = am(&t, "p/b");
	assert_code(r, 0);
	char *log = tws_get(&t, "log");
	cr_assert_eq(count_lines(log, "start "), 2, "%s", log);
	cr_assert_eq(count_eq(log, "start p/b"), 1);
	cr_assert_eq(count_eq(log, "start p/c"), 1);
	free(log);
	res_free(&r);
	r = am(&t, "-B --json");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, "\"event\":\"ready\""), 4, "%s", r.out);
	cr_assert(strstr(r.out, "\"event\":\"apply\",\"cluster\":\"dev\",\"layer\":\"p/crds\""), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(cli, clusters_run_one_after_another_and_c_selects)
{
	struct tws t;
	tws_init(&t);
	fx_profile(&t, "one", NULL);
	tws_put(&t, "addonmake.yaml",
		"clusters:\n"
		"  - {name: dev, target: {render: {dir: out/dev}}, profiles: [p.yaml]}\n"
		"  - {name: prod, target: {render: {dir: out/prod}}, profiles: [p.yaml]}\n");
	struct res r = am(&t, "-c prod");
	assert_code(r, 0);
	cr_assert(tws_exists(&t, "out/prod/p00000_p+b.yaml"));
	cr_assert(!tws_exists(&t, "out/dev"));
	res_free(&r);
	r = am(&t, "plan --json");
	cr_assert_eq(count_lines(r.out, "\"cluster\":\"dev\""), 4, "%s", r.out);
	cr_assert_eq(count_lines(r.out, "\"cluster\":\"prod\""), 0, "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* a failed cluster names the clusters it kept from running; -k runs them */
Test(cli, a_failed_cluster_names_those_not_started)
{
	struct tws t;
	tws_init(&t);
	fx_profile(&t, "one", NULL);
	tws_put(&t, "addonmake.yaml",
		"clusters:\n"
		"  - {name: dev, target: {exec: {apply: ['false']}}, profiles: [p.yaml]}\n"
		"  - {name: lab, target: {render: {dir: out/lab}}, profiles: [p.yaml]}\n"
		"  - {name: prod, target: {render: {dir: out/prod}}, profiles: [p.yaml]}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "addonmake: lab: not started (a cluster failed; -k goes on)\n"
				"addonmake: prod: not started (a cluster failed; -k goes on)\n"), "%s", r.out);
	cr_assert(!tws_exists(&t, "out/lab"));
	res_free(&r);
	r = am(&t, "sync -k");
	assert_code(r, 1);
	cr_assert(!strstr(r.out, "not started ("), "%s", r.out);
	cr_assert(tws_exists(&t, "out/lab/p00000_p+b.yaml") && tws_exists(&t, "out/prod/p00000_p+b.yaml"));
	res_free(&r);
	tws_free(&t);
}

/* ~ is the home directory in the workspace file's paths; the state
 * directory can be moved with --state or ADDONMAKE_STATE (in that order,
 * before state:) */
Test(cli, home_and_state_directories)
{
	struct tws t;
	tws_init(&t);
	fx_profile(&t, "one", NULL);
	cr_assert_eq(tws_sh(&t, "mkdir home && mv p.yaml home/"), 0);
	tws_put(&t, "addonmake.yaml", "state: ~/st\nclusters:\n"
		"  - {name: dev, target: {render: {dir: out}}, profiles: [~/p.yaml]}\n");
	char env[700];
	snprintf(env, sizeof(env), "env HOME='%s/home' ", t.dir);
	struct res r = am_sh(&t, env, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert(tws_exists(&t, "home/st/state.mdb"));
	cr_assert(!tws_exists(&t, "~"), "a directory named ~ in the workspace");
	/* ADDONMAKE_STATE, then --state before it */
	snprintf(env, sizeof(env), "env HOME='%s/home' ADDONMAKE_STATE=fromenv ", t.dir);
	r = am_sh(&t, env, "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": apply "), 4, "a new state: all applied\n%s", r.out);
	res_free(&r);
	cr_assert(tws_exists(&t, "fromenv/state.mdb"));
	/* the first state's records (the files were written again since) */
	r = am_sh(&t, env, "--state '~/st' plan");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, "output changed"), 4, "%s", r.out);
	res_free(&r);
	r = am_sh(&t, env, "--state=elsewhere plan");
	cr_assert_eq(count_lines(r.out, "new layer"), 4, "%s", r.out);
	res_free(&r);
	/* ~user is not guessed at */
	tws_put(&t, "addonmake.yaml", "state: ~bob/st\nclusters:\n"
		"  - {name: dev, target: {render: {dir: out}}, profiles: [~/p.yaml]}\n");
	r = am_sh(&t, env, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "addonmake.yaml:1:8: error: ~bob/st: only ~ and ~/ are expanded"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}
