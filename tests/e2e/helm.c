/* e2e helm layers: charts from a file:// Helm repository, checked against
 * the index's digest and rendered by a stand-in helm binary. */
#include <stdio.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

/* a stand-in for `helm template RELEASE CHART --namespace NS --values F`:
 * records its arguments and renders one ConfigMap from the chart and the
 * values */
static void
fake_helm(struct tws *t)
{
	tws_put(t, "fakehelm",
		"#!/bin/sh\n"
		"echo \"$@\" | sed 's#/[^ ]*/addonmake-chart-[^/]*#TMP#g' >> \"$(dirname \"$0\")/helm-args\"\n"
		"name=$(sed -n 's/^name: //p' \"$3/Chart.yaml\"); ver=$(sed -n 's/^version: //p' \"$3/Chart.yaml\")\n"
		"printf -- '---\\nkind: ConfigMap\\nmetadata: {name: %%s, namespace: %%s}\\ndata:\\n  chart: \"%%s-%%s\"\\n  values: |\\n' \"$2\" \"$5\" \"$name\" \"$ver\"\n"
		"sed 's/^/    /' \"$7\"\n"
		"echo 'a warning on stderr' >&2\n");
	char p[600];
	snprintf(p, sizeof(p), "%s/fakehelm", t->dir);
	chmod(p, 0755);
	setenv("ADDONMAKE_HELM", p, 1);
}

/* a repository in repo/ with mychart 1.0.0 and 1.1.0 (and a 2.0.0-rc) */
static void
repo(struct tws *t, const char *v110_extra)
{
	const char *vers[] = {"1.0.0", "1.1.0", "2.0.0-rc.1"};
	fx_chart_repo(t, vers, 3, v110_extra);
}

static void
ws(struct tws *t, const char *version)
{
	tws_put(t, "addonmake.yaml",
		"registries: [{name: charts, kind: helm, url: file://repo}]\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	tws_put(t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - name: mychart\n        type: helm\n        version: \"%s\"\n"
		"        registry: {metadata: {name: charts}}\n        values: |\n"
		"          pack:\n            namespace: web\n            releaseNameOverride: {mychart: front}\n"
		"          charts:\n            mychart: {replicas: 2}\n", version);
}

/* a TMPDIR of the workspace's own, tmp/, to see what a run leaves in it */
static void
own_tmpdir(struct tws *t)
{
	char tmp[600];
	snprintf(tmp, sizeof(tmp), "%s/tmp", t->dir);
	mkdir(tmp, 0755);
	setenv("TMPDIR", tmp, 1);
}

static int
tmp_is_empty(struct tws *t)
{
	return tws_sh(t, "test -z \"$(ls -A tmp)\"") == 0;
}

Test(helm, chart_from_a_file_repository_rendered_by_helm)
{
	struct tws t;
	tws_init(&t);
	fake_helm(&t);
	repo(&t, NULL);
	ws(&t, "1.0.0");
	own_tmpdir(&t);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *args = tws_get(&t, "helm-args");
	cr_assert_str_eq(args, "template front TMP/chart --namespace web --values TMP/values.yaml --include-crds\n");
	free(args);
	char *out = tws_get(&t, "out/p00000_apps+mychart.yaml");
	/* the layer's Namespace (as the kube target creates it), then what
	 * helm rendered, as it is */
	fx_assert_ns_then(out, "web", "apps/mychart",
			  "---\nkind: ConfigMap\nmetadata:\n  name: front\n  namespace: web\n"
			  "data:\n  chart: \"mychart-1.0.0\"\n  values: |\n    replicas: 2\n");
	free(out);
	cr_assert(tmp_is_empty(&t), "a temporary chart directory was left behind");
	r = am(&t, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	tws_free(&t);
}

Test(helm, a_constraint_takes_the_newest_release_and_a_republished_chart_is_seen)
{
	struct tws t;
	tws_init(&t);
	fake_helm(&t);
	repo(&t, NULL);
	ws(&t, "~1.0 || ^1.1");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *out = tws_get(&t, "out/p00000_apps+mychart.yaml");
	cr_assert(strstr(out, "chart: \"mychart-1.1.0\""), "not 2.0.0-rc.1, a pre-release:\n%s", out);
	free(out);
	/* 1.1.0 republished with other content: a new digest in the index */
	repo(&t, "description: republished\n");
	r = am(&t, "plan --json");
	cr_assert_str_eq(r.out, "{\"cluster\":\"dev\",\"layer\":\"apps/mychart\",\"order\":0,\"action\":\"apply\",\"reason\":\"content changed\"}\n");
	res_free(&r);
	tws_free(&t);
}

Test(helm, digest_mismatch_and_missing_versions_are_errors)
{
	struct tws t;
	tws_init(&t);
	fake_helm(&t);
	repo(&t, NULL);
	ws(&t, "1.0.0");
	/* the archive changed behind the index's back */
	cr_assert_eq(tws_sh(&t, "cp repo/mychart-1.1.0.tgz repo/mychart-1.0.0.tgz"), 0);
	struct res r = am(&t, "sync");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "p.yaml:5:9: error: chart \"mychart\" 1.0.0: repo/mychart-1.0.0.tgz has SHA-256 "), "%s", r.err);
	cr_assert(strstr(r.err, "but the index says "), "%s", r.err);
	cr_assert(!tws_exists(&t, "out"), "nothing was rendered");
	res_free(&r);
	ws(&t, "3.x");
	r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "chart \"mychart\" has no version matching \"3.x\" in \"charts\" (it has 1.0.0, 1.1.0, 2.0.0-rc.1)"), "%s", r.err);
	res_free(&r);
	unsetenv("ADDONMAKE_HELM");
	setenv("PATH", "/usr/bin:/bin", 1);
	ws(&t, "1.1.0");
	r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "rendering a chart needs the helm binary: install helm, or set ADDONMAKE_HELM"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

Test(helm, the_real_repository_index_and_chart_verify)
{
	const char *data = shared_data();
	if (!data)
		cr_skip_test("../shared/data is not here");
	struct tws t;
	tws_init(&t);
	fake_helm(&t);
	tws_put(&t, "addonmake.yaml",
		"registries: [{name: cagriekin, kind: helm, url: \"file://%s/helm\"}]\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n", data);
	tws_put(&t, "p.yaml", "metadata: {name: db}\nspec:\n  template:\n    packs:\n"
		"      - {name: etcd, type: helm, version: 0.1.5, registry: {metadata: {name: cagriekin}},\n"
		"         values: \"pack: {namespace: etcd}\"}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *out = tws_get(&t, "out/p00000_db+etcd.yaml");
	cr_assert(strstr(out, "chart: \"etcd-0.1.5\""), "%s", out);
	free(out);
	tws_free(&t);
}

Test(helm, chart_based_pack_renders_each_chart_once_per_run)
{
	struct tws t;
	tws_init(&t);
	fake_helm(&t);
	repo(&t, NULL);
	cr_assert_eq(tws_sh(&t, "mkdir -p packs/web-1.0.0/charts && cp repo/mychart-1.1.0.tgz packs/web-1.0.0/charts/"), 0);
	tws_put(&t, "packs/web-1.0.0/pack.json", "{\"name\": \"web\", \"version\": \"1.0.0\", \"charts\": [\"charts/mychart-1.1.0.tgz\"]}\n");
	tws_put(&t, "packs/web-1.0.0/values.yaml", "pack:\n  namespace: web\n  spectrocloud.com/install-priority: \"7\"\ncharts:\n  mychart: {replicas: 1}\n");
	tws_put(&t, "addonmake.yaml",
		"registries: [{name: packs, kind: pack, url: file://packs}]\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	tws_put(&t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - name: web\n        type: spectro\n        version: 1.0.0\n        registry: {metadata: {name: packs}}\n"
		"        values: |\n          charts:\n            mychart: {replicas: 4}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *args = tws_get(&t, "helm-args");
	cr_assert_str_eq(args, "template web-mychart TMP/chart --namespace web --values TMP/values.yaml --include-crds\n",
			 "helm runs once, with Palette's default release name");
	free(args);
	char *out = tws_get(&t, "out/p00007_apps+web.yaml");
	cr_assert(strstr(out, "chart: \"mychart-1.1.0\"") && strstr(out, "replicas: 4"),
		  "the layer's values win over the pack's:\n%s", out);
	free(out);
	tws_free(&t);
}

Test(helm, the_real_chart_packs_render)
{
	const char *data = shared_data();
	if (!data)
		cr_skip_test("../shared/data is not here");
	struct tws t;
	tws_init(&t);
	fake_helm(&t);
	tws_put(&t, "addonmake.yaml",
		"registries: [{name: Palette Registry, kind: pack, url: \"file://%s/packs\"}]\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n", data);
	const char *packs[][2] = {{"spegel", "0.7.2"}, {"crossplane", "2.1.4"}, {"kubevious", "1.0.10"},
				  {"fluentbit", "5.0.5"}, {"nvidia-dra-driver", "25.8.1"},
				  {"nvidia-vss-core-nims", "1.0.0"}, {"nvidia-vss-application", "1.0.0"},
				  {"piraeus-operator", "2.9.0"}};
	struct buf p = {0};
	buf_adds(&p, "metadata: {name: real}\nspec:\n  template:\n    packs:\n");
	for (int i = 0; i < 8; i++)
		buf_printf(&p, "      - {name: %s, type: oci, version: %s, registry: {metadata: {name: Palette Registry}}}\n",
			   packs[i][0], packs[i][1]);
	tws_put(&t, "p.yaml", "%s", p.s);
	buf_free(&p);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	/* eleven charts (piraeus-operator has four), each rendered once */
	char *args = tws_get(&t, "helm-args");
	cr_assert_eq(count_lines(args, "template "), 11, "%s", args);
	free(args);
	/* install orders from the packs' own values.yaml */
	cr_assert(tws_exists(&t, "out/p00010_real+nvidia-vss-core-nims.yaml"));
	cr_assert(tws_exists(&t, "out/p00015_real+nvidia-vss-application.yaml"));
	cr_assert(tws_exists(&t, "out/p00025_real+nvidia-dra-driver.yaml"));
	cr_assert(tws_exists(&t, "out/p00000_real+spegel.yaml"));
	char *pi = tws_get(&t, "out/p00000_real+piraeus-operator.yaml");
	cr_assert_eq(count_lines(pi, "kind: ConfigMap"), 4, "%s", pi);
	free(pi);
	tws_free(&t);
}

/* SIGTERM (a CI job's timeout) while helm template runs: the run ends as
 * terminated (143 to a shell), helm goes with it, so do the chart's
 * temporary directory and helm's stderr file, nothing is recorded, and the
 * next run renders the layer */
Test(helm, sigterm_while_helm_template_runs_leaves_no_process)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "slowhelm", "#!/bin/sh\ntouch \"$(dirname \"$0\")/templating\"\nsleep 30\n");
	char p[600];
	snprintf(p, sizeof(p), "%s/slowhelm", t.dir);
	chmod(p, 0755);
	setenv("ADDONMAKE_HELM", p, 1);
	repo(&t, NULL);
	ws(&t, "1.0.0");
	own_tmpdir(&t);
	pid_t pid = am_bg(&t, "sync");
	cr_assert(wait_file(&t, "templating", 10000), "helm template never ran");
	cr_assert_eq(tws_sh(&t, "test \"$(ls tmp | sed 's/-[^-]*$//' | sort | tr '\\n' ' ')\" = "
			   "'addonmake-chart addonmake-stderr '"), 0, "not the two temporary paths expected");
	kill(pid, SIGTERM);
	int st;
	waitpid(pid, &st, 0);
	unsetenv("TMPDIR");
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	cr_assert_eq(code, 143);
	cr_assert(!tws_procs(&t, 0), "helm was left running");
	cr_assert(tmp_is_empty(&t), "a temporary path was left behind");
	cr_assert(!tws_exists(&t, ".addonmake/state.mdb"), "a state was written");
	fake_helm(&t);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert(tws_exists(&t, "out/p00000_apps+mychart.yaml"));
	tws_free(&t);
}

/* a chart archive past a limit (10,000 entries, 5 MiB a file, 100 MiB in
 * all): the layer is an error saying which, nothing is rendered, and no
 * temporary directory stays */
Test(helm, chart_archives_past_the_limits_are_refused)
{
	static const struct {
		const char *make, *msg;
	} cases[] = {
		{"mkdir many && cd many && seq 10001 | xargs touch",
		 "the archive has more than 10000 entries"},
		{"truncate -s 5242881 big", "mychart/big is larger than 5 MiB"},
		{"for i in $(seq 21); do truncate -s 5242880 part$i; done",
		 "the archive unpacks to more than 100 MiB"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		struct tws t;
		tws_init(&t);
		fake_helm(&t);
		own_tmpdir(&t);
		cr_assert_eq(tws_sh(&t, "mkdir -p src/1.0.0/mychart && cd src/1.0.0/mychart && %s", cases[i].make), 0,
			     "%s", cases[i].make);
		const char *vers[] = {"1.0.0"};
		fx_chart_repo(&t, vers, 1, NULL);
		ws(&t, "1.0.0");
		struct res r = am(&t, "sync");
		unsetenv("TMPDIR");
		assert_code(r, 2);
		char want[600];
		snprintf(want, sizeof(want), "p.yaml:5:9: error: helm layer apps/mychart: %s (chart "
			 "mychart)\naddonmake: 1 error; nothing was applied.\n", cases[i].msg);
		cr_assert_str_eq(r.err, want, "case %zu", i);
		cr_assert(!tws_exists(&t, "out/p00000_apps+mychart.yaml"));
		cr_assert(tmp_is_empty(&t), "case %zu left a temporary directory", i);
		res_free(&r);
		tws_free(&t);
	}
}
