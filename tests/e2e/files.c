/* e2e files: every file a user can name — in addonmake.yaml, in a profile,
 * in a kubeconfig — that is missing, a directory or unreadable gives one
 * clear error, "FILE: cannot read WHAT: REASON", and an exit code a script
 * can rely on (2 bad input, 1 a target that cannot be reached); and no
 * file of a workspace, removed or emptied, makes a command die of a
 * signal. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

enum spoil { MISSING, A_DIRECTORY, UNREADABLE };
static const char *const reason[] = {"No such file or directory", "Is a directory",
				     "Permission denied"};

/* the shell text before the binary that makes mode-000 files unreadable:
 * nothing for a user, and for root a bounding set without the capabilities
 * that read any file */
static const char *
unpriv(void)
{
	if (geteuid() != 0)
		return "";
	if (system("setpriv --bounding-set=-dac_override,-dac_read_search true 2>/dev/null") != 0)
		cr_skip_test("root cannot drop CAP_DAC_OVERRIDE here (setpriv): no file is "
			     "unreadable to it");
	return "setpriv --bounding-set=-dac_override,-dac_read_search ";
}

static void
spoil(struct tws *t, const char *rel, enum spoil how)
{
	if (how == MISSING)
		cr_assert_eq(tws_sh(t, "rm -rf '%s'", rel), 0);
	else if (how == A_DIRECTORY)
		cr_assert_eq(tws_sh(t, "rm -rf '%s' && mkdir '%s'", rel, rel), 0);
	else
		cr_assert_eq(tws_sh(t, "chmod 000 '%s'", rel), 0);
}

/* runs args with rel spoiled: the exit code, and the one message that
 * names rel (in stdout or stderr) containing what */
static void
expect_cannot_read(struct tws *t, const char *env, const char *args, const char *rel,
		   enum spoil how, int code, const char *what)
{
	spoil(t, rel, how);
	char pre[600];
	snprintf(pre, sizeof(pre), "%s%s%s", env ? "env " : "", env ? env : "",
		 how == UNREADABLE ? unpriv() : "");
	struct res r = am_sh(t, pre, "%s", args);
	assert_code(r, code);
	char want[400];
	snprintf(want, sizeof(want), "%s: cannot read %s: %s", rel, what, reason[how]);
	int n = count_lines(r.out, want) + count_lines(r.err, want);
	cr_assert_eq(n, 1, "want one line with \"%s\"\nstdout:\n%s\nstderr:\n%s", want, r.out, r.err);
	res_free(&r);
}

/* a kube target whose kubeconfig kc names a CA, a client certificate and
 * key, and a token file; the server is never reached (nothing listens) */
static void
kube_ws(struct tws *t)
{
	tws_put(t, "addonmake.yaml",
		"clusters:\n"
		"  - {name: dev, target: {kube: {kubeconfig: kc}}, profiles: [p.yaml]}\n");
	tws_put(t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: a, type: manifest, manifests: [{name: m, content: "
		"\"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c}\\n\"}]}\n");
	tws_put(t, "kc",
		"apiVersion: v1\nkind: Config\ncurrent-context: test\n"
		"clusters:\n- name: test\n"
		"  cluster: {server: \"https://127.0.0.1:1\", certificate-authority: pki/ca.crt}\n"
		"users:\n- name: me\n"
		"  user: {client-certificate: pki/me.crt, client-key: pki/me.key, tokenFile: pki/token}\n"
		"contexts:\n- name: test\n  context: {cluster: test, user: me}\n");
	tws_put(t, "pki/ca.crt", "ca\n");
	tws_put(t, "pki/me.crt", "cert\n");
	tws_put(t, "pki/me.key", "key\n");
	tws_put(t, "pki/token", "abc\n");
}

struct named {
	const char *rel, *what;
};
static const struct named kc_files[] = {
	{"kc", "the kubeconfig"},
	{"pki/ca.crt", "the certificate-authority of cluster test"},
	{"pki/me.crt", "the client-certificate of user me"},
	{"pki/me.key", "the client-key of user me"},
	{"pki/token", "the tokenFile of user me"},
};

static void
kubeconfig_files(enum spoil how)
{
	for (size_t i = 0; i < sizeof(kc_files) / sizeof(*kc_files); i++) {
		struct tws t;
		tws_init(&t);
		kube_ws(&t);
		/* a target that cannot be reached fails the run (exit 1) */
		expect_cannot_read(&t, NULL, "sync", kc_files[i].rel, how, 1, kc_files[i].what);
		tws_free(&t);
	}
}

Test(files, kubeconfig_files_missing) { kubeconfig_files(MISSING); }
Test(files, kubeconfig_files_that_are_directories) { kubeconfig_files(A_DIRECTORY); }
Test(files, kubeconfig_files_unreadable) { kubeconfig_files(UNREADABLE); }

/* the service account's files of the in-cluster configuration */
static void
in_cluster_files(enum spoil how)
{
	const struct named sa[] = {
		{"sa/ca.crt", "the service account's CA certificate"},
		{"sa/token", "the service account's token"},
	};
	for (size_t i = 0; i < 2; i++) {
		struct tws t;
		tws_init(&t);
		kube_ws(&t);
		tws_put(&t, "addonmake.yaml",
			"clusters:\n  - {name: dev, target: {kube: {}}, profiles: [p.yaml]}\n");
		tws_put(&t, "sa/ca.crt", "ca\n");
		tws_put(&t, "sa/token", "abc\n");
		tws_put(&t, "home/.keep", "%s", "");
		char env[1200];
		snprintf(env, sizeof(env), "-u KUBECONFIG HOME='%s/home' KUBERNETES_SERVICE_HOST=127.0.0.1 "
			 "KUBERNETES_SERVICE_PORT=1 ADDONMAKE_SERVICEACCOUNT_DIR=sa ", t.dir);
		expect_cannot_read(&t, env, "sync", sa[i].rel, how, 1, sa[i].what);
		tws_free(&t);
	}
}

Test(files, in_cluster_files_missing) { in_cluster_files(MISSING); }
Test(files, in_cluster_files_that_are_directories) { in_cluster_files(A_DIRECTORY); }
Test(files, in_cluster_files_unreadable) { in_cluster_files(UNREADABLE); }

/* what addonmake.yaml names: a profile, a registry's CA file and file://
 * directory (checked when a layer uses the registry); and what a profile
 * names: a manifest file. Bad input: exit 2, at the position that names
 * the file (for a registry, the layer that uses it), nothing compiled. */
static void
workspace_files(enum spoil how)
{
	const struct named ws[] = {
		{"ca.pem", "the CA file of registry charts"},
		{"packs", "the directory of registry packs"},
		{"p.yaml", "the profile"},
		{"m.yaml", "the manifest file"},
	};
	for (size_t i = 0; i < sizeof(ws) / sizeof(*ws); i++) {
		/* a directory that is a directory is no fault */
		if (how == A_DIRECTORY && strcmp(ws[i].rel, "packs") == 0)
			continue;
		struct tws t;
		tws_init(&t);
		tws_put(&t, "addonmake.yaml",
			"registries:\n"
			"  - {name: charts, kind: helm, url: \"https://127.0.0.1:1/charts\", ca: ca.pem}\n"
			"  - {name: packs, kind: pack, url: \"file://packs\"}\n"
			"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml, h.yaml]}\n");
		tws_put(&t, "ca.pem", "ca\n");
		tws_put(&t, "packs/g-1.0.0/pack.json", "{\"name\": \"g\", \"version\": \"1.0.0\"}\n");
		tws_put(&t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
			"      - {name: a, type: manifest, manifests: [{name: m, file: m.yaml}]}\n"
			"      - {name: g, type: spectro, version: 1.0.0, registry: {metadata: {name: packs}}}\n");
		tws_put(&t, "h.yaml", "metadata: {name: h}\nspec:\n  template:\n    packs:\n"
			"      - {name: c, type: helm, version: 1.0.0, registry: {metadata: {name: charts}}}\n");
		tws_put(&t, "m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
		/* offline: the chart of h.yaml fails without a request (and
		 * is the only error when nothing is spoiled) */
		if (i == 0) {
			struct res r = am(&t, "plan --offline");
			assert_code(r, 1);
			cr_assert(!strstr(r.err, "cannot read"), "%s", r.err);
			res_free(&r);
		}
		expect_cannot_read(&t, NULL, "plan --offline", ws[i].rel, how, 2, ws[i].what);
		cr_assert(!tws_exists(&t, ".addonmake/state.mdb"));
		tws_free(&t);
	}
}

Test(files, workspace_files_missing) { workspace_files(MISSING); }
Test(files, workspace_files_that_are_directories) { workspace_files(A_DIRECTORY); }
Test(files, workspace_files_unreadable) { workspace_files(UNREADABLE); }

/* a file where a directory is named */
Test(files, a_registry_directory_that_is_a_file)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml",
		"registries: [{name: packs, kind: pack, url: \"file://packs\"}]\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	tws_put(&t, "packs", "not a directory\n");
	tws_put(&t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: g, type: spectro, version: 1.0.0, registry: {metadata: {name: packs}}}\n");
	struct res r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "p.yaml:5:9: error: packs: cannot read the directory of registry "
				"packs: Not a directory"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

/* an exec credential plugin that is not there */
Test(files, an_exec_plugin_that_is_not_there)
{
	struct tws t;
	tws_init(&t);
	kube_ws(&t);
	tws_put(&t, "kc",
		"apiVersion: v1\nkind: Config\ncurrent-context: test\n"
		"clusters:\n- name: test\n  cluster: {server: \"http://127.0.0.1:1\"}\n"
		"users:\n- name: me\n"
		"  user: {exec: {apiVersion: client.authentication.k8s.io/v1, command: ./bin/nope}}\n"
		"contexts:\n- name: test\n  context: {cluster: test, user: me}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	/* the first request, for the cluster's records, needs the credential */
	cr_assert(strstr(r.err, "error: cluster dev: the exec credential plugin bin/nope failed: "
			 "bin/nope could not be run (is it installed?)"), "%s\n%s", r.out, r.err);
	res_free(&r);
	tws_free(&t);
}

/* a workspace that names every kind of file: a JSON and a YAML profile, a
 * manifest file, a pack from a file:// registry, a chart from a file://
 * Helm repository (rendered by a stand-in helm in the workspace), and three
 * clusters — render, exec, kube (the stand-in API server at port, with a
 * token file) — synced once, so that the state, the download cache and
 * the rendered files exist too */
static void
every_file_ws(struct tws *t, int port)
{
	tws_put(t, "addonmake.yaml",
		"registries:\n"
		"  - {name: packs, kind: pack, url: file://registry}\n"
		"  - {name: charts, kind: helm, url: file://repo}\n"
		"defaults: {readiness: {interval: 1s, timeout: 5s}}\n"
		"clusters:\n"
		"  - {name: r, target: {render: {dir: out}}, profiles: [p.yaml, q.json, h.yaml]}\n"
		"  - name: x\n"
		"    target: {exec: {apply: [sh, -c, 'cat >/dev/null'], delete: ['true']}}\n"
		"    profiles: [p.yaml]\n"
		"  - {name: k, target: {kube: {kubeconfig: kc}}, profiles: [p.yaml, q.json]}\n");
	tws_put(t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: a, type: manifest, manifests: [{name: m, file: manifests/m.yaml}]}\n"
		"      - name: greeter\n        type: spectro\n        version: 1.0.0\n"
		"        registry: {metadata: {name: packs}}\n"
		"        values: |\n          pack: {spectrocloud.com/install-priority: \"5\"}\n");
	tws_put(t, "q.json", "{\"metadata\": {\"name\": \"q\"}, \"spec\": {\"template\": {\"packs\": ["
		"{\"name\": \"b\", \"type\": \"manifest\", \"values\": \"pack:\\n  namespace: bee\\n\", "
		"\"manifests\": [{\"name\": \"m\", \"content\": \"apiVersion: v1\\nkind: ConfigMap\\n"
		"metadata: {name: b}\\n\"}]}]}}}\n");
	tws_put(t, "h.yaml", "metadata: {name: h}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: 1.0.0, registry: {metadata: {name: charts}}}\n");
	tws_put(t, "manifests/m.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n");
	tws_put(t, "registry/greeter-1.0.0/pack.json",
		"{\"name\": \"greeter\", \"version\": \"1.0.0\", \"kubeManifests\": [\"manifests/g.yaml\"]}\n");
	tws_put(t, "registry/greeter-1.0.0/values.yaml", "manifests:\n  g: {message: hi}\n");
	tws_put(t, "registry/greeter-1.0.0/manifests/g.yaml",
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: g}\ndata: {m: \"{{ .Values.message }}\"}\n");
	const char *vers[] = {"1.0.0"};
	fx_chart_repo(t, vers, 1, NULL);
	tws_put(t, "helm", "#!/bin/sh\nprintf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: %%s}\\n' \"$2\"\n");
	cr_assert_eq(tws_sh(t, "chmod +x helm && rm -rf src sum"), 0);
	tws_put(t, "kc",
		"apiVersion: v1\nkind: Config\ncurrent-context: test\n"
		"clusters:\n- name: test\n  cluster: {server: \"http://127.0.0.1:%d\"}\n"
		"users:\n- name: me\n  user: {tokenFile: token}\n"
		"contexts:\n- name: test\n  context: {cluster: test, user: me}\n", port);
	tws_put(t, "token", "abc\n");
}

/* a process that died of a signal, or a sanitizer's report */
static int
crashed(const struct res *r)
{
	return (r->code != 0 && r->code != 1 && r->code != 2 && r->code != 3) ||
	       strstr(r->err, "Assertion") || strstr(r->err, "Sanitizer") ||
	       strstr(r->err, "runtime error");
}

Test(files, no_file_of_a_workspace_removed_or_emptied_crashes_a_command, .timeout = 600)
{
	struct tws t;
	tws_init(&t);
	int port;
	pid_t srv = srv_start_script("kubeapi.py", "", &port);
	if (!srv)
		cr_skip_test("python3 is not here to run the test API server");
	every_file_ws(&t, port);
	char env[700];
	snprintf(env, sizeof(env), "env ADDONMAKE_HELM='%s/helm' ", t.dir);
	struct res r = am_sh(&t, env, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert(tws_exists(&t, ".addonmake/state.mdb") && tws_exists(&t, "repo/index.yaml"));
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "cd '%s' && find . -type f | sort", t.dir);
	char *files = sh_out(cmd);
	int nfiles = 0;
	static const char *const cmds[] = {"plan", "graph", "status", "sync", "sync -B", "prune",
					   "clean"};
	for (char *line = strtok(files, "\n"); line; line = strtok(NULL, "\n")) {
		for (int how = 0; how < 2; how++) {
			/* each case in a copy of the synced workspace */
			struct tws c;
			tws_init(&c);
			cr_assert_eq(tws_sh(&c, "cp -a '%s'/. . && %s '%s'", t.dir,
					    how ? "truncate -s 0" : "rm -f", line), 0);
			char cenv[700];
			snprintf(cenv, sizeof(cenv), "env ADDONMAKE_HELM='%s/helm' ", c.dir);
			for (size_t k = 0; k < sizeof(cmds) / sizeof(*cmds); k++) {
				r = am_sh(&c, cenv, "%s", cmds[k]);
				cr_assert(!crashed(&r), "%s %s, then addonmake %s: exit %d\nstdout:\n%s\nstderr:\n%s",
					  how ? "emptied" : "removed", line, cmds[k], r.code, r.out, r.err);
				res_free(&r);
			}
			tws_free(&c);
		}
		nfiles++;
	}
	cr_assert_gt(nfiles, 15, "the workspace had only %d files", nfiles);
	free(files);
	srv_stop(srv);
	tws_free(&t);
}
