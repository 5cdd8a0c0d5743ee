/* e2e command line: help, version, usage errors, dry run, status, clean,
 * cluster selection, LAYER arguments. */
#define _GNU_SOURCE /* strchrnul */
#include <stdio.h>
#include "e2e.h"

Test(cli, help_and_version)
{
	struct tws t;
	tws_init(&t);
	struct res r = am(&t, "--help");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "usage: addonmake [COMMAND] [options] [LAYER...]"));
	cr_assert(strstr(r.out, "3 plan --detailed-exitcode found work"));
	/* an option of some commands says which */
	cr_assert(strstr(r.out, "  -J N                 at most N clusters at once (default 8; 1: one after\n"
				"                       another) [sync]\n"), "%s", r.out);
	res_free(&r);
	const char *versions[] = {"--version", "version", "plan --version"};
	for (int i = 0; i < 3; i++) {
		r = am(&t, "%s", versions[i]);
		assert_code(r, 0);
		cr_assert_str_eq(r.out, "addonmake 0.2.0\n");
		res_free(&r);
	}
	tws_free(&t);
}

/* each command's help, three ways to ask for it, names exactly the options
 * the command takes: each one it lists is accepted, each other one is
 * refused (exit 2, naming it) */
Test(cli, each_command_has_its_help_and_takes_what_it_says)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	static const char *const cmds[] = {"sync", "plan", "graph", "status", "prune", "clean"};
	static const char *const all[] = {"-C .", "-f addonmake.yaml", "-c dev", "--state .addonmake",
					  "-j 1", "-k", "-n", "-B", "-v", "-q", "--explain",
					  "--prune", "--json", "--detailed-exitcode", "--wait-lock",
					  "--offline", "--refresh", "--force-conflicts"};
	for (size_t c = 0; c < sizeof(cmds) / sizeof(*cmds); c++) {
		struct res h = am(&t, "help %s", cmds[c]);
		assert_code(h, 0);
		char want[100];
		snprintf(want, sizeof(want), "usage: addonmake %s [options]", cmds[c]);
		cr_assert(strncmp(h.out, want, strlen(want)) == 0, "%s", h.out);
		const char *how[] = {"%s --help", "%s -h", "-h %s"};
		for (int k = 0; k < 3; k++) {
			char args[100];
			snprintf(args, sizeof(args), how[k], cmds[c]);
			struct res r = am(&t, "%s", args);
			assert_code(r, 0);
			cr_assert_str_eq(r.out, h.out, "addonmake %s", args);
			res_free(&r);
		}
		for (size_t o = 0; o < sizeof(all) / sizeof(*all); o++) {
			char name[40], line[60];
			snprintf(name, sizeof(name), "%s", all[o]);
			*strchrnul(name, ' ') = 0;
			snprintf(line, sizeof(line), "\n  %s ", name);
			int listed = strstr(h.out, line) != NULL;
			/* -n keeps every run from changing anything */
			struct res r = am(&t, "%s %s -n", cmds[c], all[o]);
			if (listed)
				cr_assert_neq(r.code, 2, "%s lists %s but refused it:\n%s", cmds[c], name, r.err);
			else
				cr_assert(r.code == 2 && strstr(r.err, "takes no"),
					  "%s does not list %s but took it: exit %d\n%s", cmds[c], name,
					  r.code, r.err);
			res_free(&r);
		}
		res_free(&h);
	}
	struct res r = am(&t, "status --prune");
	assert_code(r, 2);
	cr_assert_str_eq(r.err, "addonmake: status takes no --prune\n"
				"Run 'addonmake help status' for its options.\n");
	res_free(&r);
	r = am(&t, "help nope");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "help takes one COMMAND of: sync, plan"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

/* bash completion from the same table: commands, a command's options (and
 * not another's), directories after -C */
Test(cli, bash_completion)
{
	struct tws t;
	tws_init(&t);
	cr_assert_eq(tws_sh(&t, "mkdir sub && '%s' completion bash > comp.bash", getenv("ADDONMAKE_BIN")), 0);
	tws_put(&t, "t.sh",
		". ./comp.bash\n"
		"c() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _addonmake; echo \"${COMPREPLY[*]}\"; }\n"
		"c addonmake pl\nc addonmake plan --d\nc addonmake status --d\nc addonmake -C s\n"
		"c addonmake help pr\nc addonmake completion z\nc addonmake -c dev sync -\n");
	/* status takes no --detailed-exitcode: the third line is empty */
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "cd '%s' && bash t.sh", t.dir);
	char *out = sh_out(cmd);
	cr_assert_str_eq(out, "plan\n--drift --detailed-exitcode\n\nsub\nprune\nzsh\n"
			      "-C -f -c --state -j -J -k -n -B -v -q --explain --prune --drift --json --shard "
			      "--summary "
			      "--wait-lock "
			      "--offline --refresh --force-conflicts -h --help --version\n", "%s", out);
	free(out);
	tws_free(&t);
}

Test(cli, zsh_completion_is_a_zsh_script)
{
	if (system("command -v zsh >/dev/null 2>&1") != 0)
		cr_skip_test("zsh is not installed (Debian package zsh)");
	struct tws t;
	tws_init(&t);
	cr_assert_eq(tws_sh(&t, "'%s' completion zsh > _addonmake && zsh -n _addonmake",
			    getenv("ADDONMAKE_BIN")), 0);
	char *z = tws_get(&t, "_addonmake");
	cr_assert(strncmp(z, "#compdef addonmake\n", 19) == 0);
	cr_assert(strstr(z, "'--detailed-exitcode[exit 3 when there is work to do]'"), "%s", z);
	cr_assert(strstr(z, "default\\: every cluster"), "%s", z);
	free(z);
	struct res r = am(&t, "completion fish");
	assert_code(r, 2);
	res_free(&r);
	tws_free(&t);
}

/* the man page: mandoc finds nothing to say, and it documents every
 * command and option of the help */
Test(cli, man_page_lints_and_names_every_option)
{
	if (system("command -v mandoc >/dev/null 2>&1") != 0)
		cr_skip_test("mandoc is not installed (Debian package mandoc)");
	struct tws t;
	tws_init(&t);
	const char *src = getenv("ADDONMAKE_SRC");
	cr_assert_eq(tws_sh(&t, "mandoc -Tlint -W warning '%s/src/addonmake.1' > lint 2>&1", src), 0,
		     "%s", tws_get(&t, "lint"));
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "cat '%s/src/addonmake.1'", src);
	char *man = sh_out(cmd);
	struct res h = am(&t, "--help");
	/* "  -C DIR", "  --state DIR", "  -h, --help" lines; "  sync  " */
	int n = 0;
	for (char *line = strtok(h.out, "\n"); line; line = strtok(NULL, "\n")) {
		char want[80] = "";
		if (strncmp(line, "  --", 4) == 0)
			snprintf(want, sizeof(want), "Fl -%.*s", (int)strcspn(line + 4, " ,"), line + 4);
		else if (strncmp(line, "  -", 3) == 0)
			snprintf(want, sizeof(want), "Fl %c", line[3]);
		else if (strncmp(line, "  ", 2) == 0 && line[2] >= 'a' && line[2] <= 'z')
			snprintf(want, sizeof(want), "Cm %.*s", (int)strcspn(line + 2, " "), line + 2);
		if (!*want)
			continue;
		cr_assert(strstr(man, want), "the man page has no \"%s\" (%s)", want, line);
		n++;
	}
	cr_assert_geq(n, 28, "only %d commands and options in --help", n);
	res_free(&h);
	free(man);
	tws_free(&t);
}

/* ninja install's script: the binary, the man page, both completions */
Test(cli, install_puts_binary_man_page_and_completions)
{
	struct tws t;
	tws_init(&t);
	const char *src = getenv("ADDONMAKE_SRC");
	cr_assert_eq(tws_sh(&t, "DESTDIR=\"$PWD/root\" PREFIX=/usr '%s/src/install.sh' '%s' '%s/src/addonmake.1' >/dev/null",
			    src, getenv("ADDONMAKE_BIN"), src), 0);
	const char *files[] = {"root/usr/bin/addonmake", "root/usr/share/man/man1/addonmake.1",
			       "root/usr/share/bash-completion/completions/addonmake",
			       "root/usr/share/zsh/site-functions/_addonmake"};
	for (int i = 0; i < 4; i++)
		cr_assert(tws_exists(&t, files[i]), "%s", files[i]);
	char *b = tws_get(&t, files[2]);
	cr_assert(strstr(b, "complete -F _addonmake addonmake"), "%s", b);
	free(b);
	cr_assert_eq(tws_sh(&t, "root/usr/bin/addonmake version | grep -q '^addonmake '"), 0);
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
	cr_assert_eq(tws_sh(&t, "rm -r out"), 0); /* else the records are made from them */
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
	/* the rendered files are intact: the records are made from them */
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
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
	/* one cluster after another (-J 1) */
	struct res r = am(&t, "sync -J 1");
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
	cr_assert_eq(tws_sh(&t, "rm -r out"), 0); /* else the new state is made from them */
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
	r = am_sh(&t, env, "--state=elsewhere -v plan");
	cr_assert(strstr(r.err, "dev: 4 layer records read from its rendered files"), "%s", r.err);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	cr_assert(tws_exists(&t, "elsewhere/state.mdb"));
	/* ~user is not guessed at */
	tws_put(&t, "addonmake.yaml", "state: ~bob/st\nclusters:\n"
		"  - {name: dev, target: {render: {dir: out}}, profiles: [~/p.yaml]}\n");
	r = am_sh(&t, env, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "addonmake.yaml:1:8: error: ~bob/st: only ~ and ~/ are expanded"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

/* the real API server's source is fetched from where the machine's own apt
 * sources say Debian is (deb822 or one-line, enabled, the release's suite
 * with main): the repository names no mirror */
Test(cli, the_api_server_source_comes_from_the_apt_sources)
{
	if (system(". /etc/os-release && test -n \"$VERSION_CODENAME\"") != 0)
		cr_skip_test("/etc/os-release names no release");
	struct tws t;
	tws_init(&t);
	const char *src = getenv("ADDONMAKE_SRC");
	cr_assert_eq(tws_sh(&t, ". /etc/os-release && c=$VERSION_CODENAME && mkdir -p one/sources.list.d "
			    "deb822/sources.list.d none/sources.list.d && "
			    "printf 'deb http://x.example/debian %%s-updates main\\n"
			    "deb [arch=amd64 signed-by=/k.gpg] http://y.example/debian %%s main contrib\\n' $c $c "
			    "> one/sources.list && "
			    "printf 'Types: deb\\nURIs: http://off.example/debian\\nSuites: %%s\\nComponents: main\\n"
			    "Enabled: no\\n\\nTypes: deb\\nURIs: http://z.example/debian\\nSuites: %%s %%s-updates\\n"
			    "Components: main\\n' $c $c $c > deb822/sources.list.d/d.sources"), 0);
	const char *cases[][2] = {
		{"one", "http://y.example/debian /k.gpg\n"},
		{"deb822", "http://z.example/debian /usr/share/keyrings/debian-archive-keyring.gpg\n"},
		{"none", "build-apiserver: skipped: the machine's apt sources have no entry for"},
	};
	for (int i = 0; i < 3; i++) {
		char cmd[1200];
		snprintf(cmd, sizeof(cmd), "APT_ETC='%s/%s' '%s/tests/servers/build-apiserver' --source",
			 t.dir, cases[i][0], src);
		char *out = sh_out(cmd);
		cr_assert(strncmp(out, cases[i][1], strlen(cases[i][1])) == 0, "%s: %s", cases[i][0], out);
		free(out);
	}
	tws_free(&t);
}

/* no file of the repository names a package mirror's host (the before-stop
 * hook's rule): scripts take it from the machine's configuration */
Test(cli, the_repository_names_no_package_mirror)
{
	const char *src = getenv("ADDONMAKE_SRC");
	char cmd[1200];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && { git ls-files 2>/dev/null || find . -type f -not -path './build/*'; } | "
		 "while read -r f; do [ -f \"$f\" ] && grep -HnE "
		 "'^ *URIs: *https?://|^ *deb(-src)? +(\\[[^]]*\\] +)?https?://' \"$f\"; done; true", src);
	char *out = sh_out(cmd);
	cr_assert_str_eq(out, "", "a mirror named in the repository:\n%s", out);
	free(out);
	/* the documents explain addonmake with what the repository holds: no
	 * folder of notes that a clone does not have */
	snprintf(cmd, sizeof(cmd), "cd '%s' && grep -n 'notes/' README.md DESIGN.md samples/*.md samples/*/*.md; true",
		 src);
	out = sh_out(cmd);
	cr_assert_str_eq(out, "", "%s", out);
	free(out);
}

/* the check script tests/NAME passes on the source tree, saying nothing */
static void
check_passes_on_the_tree(const char *name)
{
	const char *src = getenv("ADDONMAKE_SRC");
	char cmd[2000];
	snprintf(cmd, sizeof(cmd), "'%s/tests/%s' '%s' 2>&1; echo \"exit $?\"", src, name, src);
	char *out = sh_out(cmd);
	cr_assert_str_eq(out, "exit 0\n", "tests/%s: %s", name, out);
	free(out);
}

/* the modules are layered (DESIGN §11): the tree as it is passes, and a
 * lower module including a higher one is named with its line */
Test(cli, a_module_includes_only_the_modules_below_it)
{
	const char *src = getenv("ADDONMAKE_SRC");
	char cmd[2000];
	check_passes_on_the_tree("layering");
	char *out;
	struct tws t;
	tws_init(&t);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && cp -r '%s/src' '%s/graph' '%s/cache' . && "
		 "printf '#include \"../src/run.h\"\\n' >> cache/lock.c && "
		 "printf '#include \"../kube/kube.h\"\\n' >> src/yaml/doc_util.c && "
		 "printf '#include \"../target/target.h\"\\n' >> src/load/tgz.c && "
		 "'%s/tests/layering' . 2>&1; echo \"exit $?\"", t.dir, src, src, src, src);
	out = sh_out(cmd);
	cr_assert(strstr(out, "cache/lock.c:"), "%s", out);
	cr_assert(strstr(out, ": cache includes ../src/run.h (module src)\n"), "%s", out);
	cr_assert(strstr(out, ": src/yaml includes ../kube/kube.h (module src/kube)\n"), "%s", out);
	cr_assert(strstr(out, ": src/load includes ../target/target.h (module src/target)\n"), "%s", out);
	cr_assert(strstr(out, "exit 1\n"), "%s", out);
	free(out);
	tws_free(&t);
}

/* the code's shape (DESIGN §11): functions of at most 80 lines, no struct
 * initialized by position with more than three fields; the tree passes,
 * and a long function and a positional initializer are named */
Test(cli, functions_are_short_and_structs_named)
{
	const char *src = getenv("ADDONMAKE_SRC");
	if (system("python3 -c '' >/dev/null 2>&1") != 0)
		cr_skip_test("python3 is not here to run tests/shape");
	char cmd[2400];
	check_passes_on_the_tree("shape");
	char *out;
	struct tws t;
	tws_init(&t);
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && mkdir -p src graph cache && "
		 "{ printf 'static int\\nlong_one(void)\\n{\\n'; i=0; while [ $i -lt 79 ]; do "
		 "echo '\\tx++;'; i=$((i+1)); done; printf '}\\n'; "
		 "printf 'static void\\nf(void)\\n{\\n\\tstruct pos p = {a, 1, 2, 3};\\n}\\n'; } > src/x.c && "
		 "'%s/tests/shape' . 2>&1; echo \"exit $?\"", t.dir, src);
	out = sh_out(cmd);
	cr_assert(strstr(out, "src/x.c:2: function long_one is 81 lines (at most 80: cut it into steps)\n"),
		  "%s", out);
	cr_assert(strstr(out, "src/x.c:87: a struct initialized by position with more than three "
			      "fields"), "%s", out);
	cr_assert(strstr(out, "exit 1\n"), "%s", out);
	free(out);
	tws_free(&t);
}

/* run-tests counts skipped tests from the TAP report (Criterion's summary
 * does not count them) and says each reason once; a stand-in for a test
 * binary writes the report */
Test(cli, run_tests_counts_skips_and_says_why_once)
{
	struct tws t;
	tws_init(&t);
	const char *src = getenv("ADDONMAKE_SRC");
	tws_put(&t, "suite",
		"#!/bin/sh\nfor a; do case $a in --tap=*) tap=${a#--tap=} ;; esac; done\n"
		"printf 'TAP version 13\\n1..5\\n"
		"ok - s::a  # SKIP no real kube-apiserver: skip: no Go here\\n\\n"
		"ok - s::b  # SKIP no real kube-apiserver: skip: no Go here\\n"
		"ok - s::c  # SKIP the real API server cannot inject faults\\n"
		"ok - s::d\\n' > \"$tap\"\n"
		"echo '[====] Synthesis: Tested: 1 | Passing: 1 | Failing: 0 | Crashing: 0'\n");
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "cd '%s' && chmod +x suite && '%s/tests/run-tests' ./suite; echo \"exit $?\"",
		 t.dir, src);
	char *out = sh_out(cmd);
	/* five planned, four reported: the fifth died unreported, a failure */
	cr_assert(strstr(out, "run-tests: suite: 2 skipped: no real kube-apiserver: skip: no Go here\n"
			      "run-tests: suite: 1 skipped: the real API server cannot inject faults\n"
			      "tests: 1 passed, 1 failed, 3 skipped\nexit 1\n"), "%s", out);
	free(out);
	tws_free(&t);
}

/* state takes one verb, and rebuilds only records that live in a cluster */
Test(cli, state_rebuild_is_for_records_in_a_cluster)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	struct res r = am(&t, "state -c dev");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "state takes one verb: rebuild"), "%s", r.err);
	res_free(&r);
	r = am(&t, "state rebuild -c dev");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "dev: its records are not kept in the cluster"), "%s", r.err);
	res_free(&r);
	cr_assert(!tws_exists(&t, ".addonmake/state.mdb"));
	tws_free(&t);
}
