/* e2e errors: bad input exits 2 with file:line:col and a message naming
 * the culprit, and touches neither the state nor the output directory. */
#include <stdio.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

/* a good first sync, then the broken edit; returns the failing run */
static struct res
broken(struct tws *t, void (*edit)(struct tws *))
{
	fx_render_ws(t);
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - {name: ok, type: manifest, manifests: [{name: m, content: 'kind: Q'}]}\n");
	tws_put(t, "addonmake.yaml",
		"registries:\n  - {name: Local, kind: pack, url: file://packs}\n"
		"clusters:\n  - name: dev\n    target: {render: {dir: out}}\n    profiles: [p.yaml, q.yaml]\n");
	tws_put(t, "packs/.keep", "%s", ""); /* the registry, with no pack */
	struct res r = am(t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *before = fx_snapshot(t);
	edit(t);
	/* the edit itself changed input files; compare only state and output */
	char *mid = fx_snapshot(t);
	r = am(t, "sync");
	char *after = fx_snapshot(t);
	cr_assert_str_eq(mid, after, "a failed run wrote files");
	(void)before;
	free(before);
	free(mid);
	free(after);
	return r;
}

static void
expect(struct res *r, const char *where, const char *msg)
{
	assert_code(*r, 2);
	cr_assert(strstr(r->err, where), "no position %s in:\n%s", where, r->err);
	cr_assert(strstr(r->err, msg), "no \"%s\" in:\n%s", msg, r->err);
	cr_assert(strstr(r->err, "nothing was applied") || strstr(r->err, "error"), "%s", r->err);
	res_free(r);
}

static void
e_yaml(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs: [\n");
}
Test(errors, malformed_yaml)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_yaml);
	expect(&r, "q.yaml:5:", "malformed YAML");
	tws_free(&t);
}

static void
e_laughs(struct tws *t)
{
	struct buf b = {0};
	buf_adds(&b, "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		     "      - name: ok\n        type: manifest\n        values:\n"
		     "          l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i < 9; i++) {
		buf_printf(&b, "          l%d: &l%d [", i, i);
		for (int j = 0; j < 9; j++)
			buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
		buf_adds(&b, "]\n");
	}
	buf_adds(&b, "        manifests: [{name: m, content: 'kind: Q'}]\n");
	tws_put(t, "q.yaml", "%s", b.s);
	buf_free(&b);
}
Test(errors, billion_laughs)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_laughs);
	expect(&r, "q.yaml:14:", "error: aliases expand the document to more than 1000000 nodes "
				"(at *l5); write the values out instead");
	tws_free(&t);
}

/* 300 levels of flow sequences in a layer's values */
static void
e_deep(struct tws *t)
{
	char deep[700];
	memset(deep, '[', 300);
	memset(deep + 300, ']', 300);
	deep[600] = 0;
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - {name: ok, type: manifest, manifests: [{name: m, content: 'kind: Q'}]}\n"
		"      - {name: deep, type: manifest, values: \"%s\", manifests: [{name: m, content: 'kind: Q'}]}\n",
		deep);
}
Test(errors, nesting_deeper_than_256_levels)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_deep);
	cr_assert_str_eq(r.err, "q.yaml:6:303: error: the document nests deeper than 256 levels\n"
				"addonmake: 1 error; nothing was applied.\n");
	expect(&r, "q.yaml:6:303", "the document nests deeper than 256 levels");
	tws_free(&t);
}

static void
e_json(struct tws *t)
{
	tws_put(t, "q.yaml", "{\"metadata\": {\"name\": \"q\"},\n \"spec\": {\"template\": {\"packs\": [}\n}}\n");
}
Test(errors, malformed_json)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_json);
	expect(&r, "q.yaml:2:", "malformed YAML");
	tws_free(&t);
}

static void
e_order(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - name: ok\n        type: manifest\n        values: |\n          pack:\n"
		"            spectrocloud.com/install-priority: \"ten\"\n"
		"        manifests: [{name: m, content: 'kind: Q'}]\n");
}
Test(errors, non_integer_install_order)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_order);
	expect(&r, "q.yaml:9:48:", "install-priority \"ten\" of pack \"ok\" is not an integer");
	tws_free(&t);
}

static void
e_order_float(struct tws *t)
{
	tws_put(t, "q.yaml", "{\"metadata\": {\"name\": \"q\"}, \"spec\": {\"template\": {\"packs\": [\n"
		"  {\"name\": \"ok\", \"type\": \"manifest\", \"values\": \"pack:\\n  spectrocloud.com/install-priority: 1.5\"}]}}}\n");
}
Test(errors, fractional_install_order_in_json)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_order_float);
	expect(&r, "q.yaml:2:", "install-priority \"1.5\"");
	tws_free(&t);
}

static void
e_dup(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - {name: ok, type: manifest, manifests: [{name: m, content: 'kind: Q'}]}\n"
		"      - {name: ok, type: manifest, manifests: [{name: m, content: 'kind: R'}]}\n");
}
Test(errors, duplicate_layer)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_dup);
	cr_assert(strstr(r.err, "already defined at q.yaml:5:9"), "names both places: %s", r.err);
	expect(&r, "q.yaml:6:9:", "duplicate layer q/ok: already defined at");
	tws_free(&t);
}

static void
e_twoprofiles(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: ok, type: manifest, manifests: [{name: m, content: 'kind: Q'}]}\n");
}
Test(errors, two_profiles_with_one_name)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_twoprofiles);
	expect(&r, "q.yaml:1:1:", "two profiles of cluster dev are named \"p\"");
	tws_free(&t);
}

static void
e_var(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - name: ok\n        type: manifest\n        manifests:\n          - name: m\n"
		"            content: |\n              kind: Q\n              x: {{.spectro.var.nosuch}}\n");
}
Test(errors, unknown_variable)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_var);
	expect(&r, "q.yaml:11:18:", "unknown variable \"nosuch\"");
	tws_free(&t);
}

static void
e_file(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - {name: ok, type: manifest, manifests: [{name: m, file: manifests/gone.yaml}]}\n");
}
Test(errors, missing_manifest_file)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_file);
	cr_assert(strstr(r.err, "manifests/gone.yaml"), "%s", r.err);
	expect(&r, "q.yaml:5:", "manifests/gone.yaml: cannot read the manifest file: No such file or directory");
	tws_free(&t);
}

static void
e_key(struct tws *t)
{
	tws_put(t, "addonmake.yaml",
		"registries:\n  - {name: Local, kind: pack, url: file://packs}\n"
		"clusters:\n  - name: dev\n    target: {render: {dir: out}}\n    profiles: [p.yaml, q.yaml]\n"
		"    varaibles: {a: b}\n");
}
Test(errors, unknown_key_in_workspace_file)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_key);
	expect(&r, "addonmake.yaml:7:5:", "unknown key \"varaibles\" in a cluster");
	tws_free(&t);
}

static void
e_pack(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - name: nginx\n        type: spectro\n        version: 1.0.0\n"
		"        registry: {metadata: {name: Local}}\n");
}
Test(errors, unknown_pack)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_pack);
	expect(&r, "q.yaml:5:9:", "unknown pack \"nginx\" version 1.0.0 in registry \"Local\"");
	tws_free(&t);
}

static void
e_registry(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - name: nginx\n        type: spectro\n        version: 1.0.0\n"
		"        registry: {metadata: {name: Elsewhere}}\n");
}
Test(errors, unknown_registry)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_registry);
	expect(&r, "q.yaml:5:9:", "unknown registry \"Elsewhere\"");
	tws_free(&t);
}

static void
e_many(struct tws *t)
{
	tws_put(t, "q.yaml", "metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - {name: one, type: manifest, manifests: [{name: m, content: 'x: {{.spectro.var.u1}}'}]}\n"
		"      - {name: two, type: manifest, manifests: [{name: m, content: 'x: {{.spectro.macro.u2}}'}]}\n");
}
Test(errors, every_error_is_reported)
{
	struct tws t;
	tws_init(&t);
	struct res r = broken(&t, e_many);
	cr_assert(strstr(r.err, "\"u1\"") && strstr(r.err, "\"u2\""), "%s", r.err);
	expect(&r, "q.yaml:6:", "2 errors; nothing was applied");
	tws_free(&t);
}

/* a file past the 64 MiB limit is refused before it is read (a sparse
 * file: nothing is written) */
Test(errors, a_file_past_the_size_limit)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	tws_put(&t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: x, type: manifest, manifests: [{name: m, file: big.yaml}]}\n");
	cr_assert_eq(tws_sh(&t, "truncate -s 65M big.yaml"), 0);
	struct res r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert_str_eq(r.err, "p.yaml:5:63: error: big.yaml: cannot read the manifest file: File too large\n"
				"addonmake: 1 error; nothing was applied.\n");
	res_free(&r);
	tws_free(&t);
}

/* messages people meet in their first hour */

Test(errors, a_tab_says_it_is_a_tab)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n\t- name: dev\n");
	struct res r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert_str_eq(r.err, "addonmake.yaml:2:1: error: malformed YAML: a tab here; YAML indents "
				"with spaces only\n");
	res_free(&r);
	/* inside a manifest of a profile: the position in the profile */
	tws_put(&t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	tws_put(&t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - name: a\n        type: manifest\n        manifests:\n          - name: m\n"
		"            content: |\n              kind: X\n              data:\n              \tk: v\n");
	r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "p.yaml:12:15: error: malformed YAML: a tab here; YAML indents with spaces only\n"),
		  "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

Test(errors, a_cluster_without_layers_warns)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - {name: dev, target: {render: {dir: out}}}\n"
		"  - {name: lab, target: {render: {dir: lab}}, profiles: [infra.yaml]}\n");
	tws_put(&t, "infra.yaml", "metadata: {name: infra}\nspec:\n  template:\n    type: infra\n    packs:\n"
		"      - {name: ubuntu, layer: os, type: spectro}\n");
	struct res r = am(&t, "plan");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "addonmake.yaml:2:5: warning: cluster dev has no layers: it names no "
				"profiles (profiles:)\n"), "%s", r.err);
	cr_assert(strstr(r.err, "addonmake.yaml:3:5: warning: cluster lab has no layers: its profiles "
				"have no add-on layers"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

Test(errors, a_profile_listed_twice_is_one_error_naming_both)
{
	struct tws t;
	tws_init(&t);
	fx_profile(&t, "one", NULL);
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml, ./p.yaml]}\n");
	struct res r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert_str_eq(r.err, "addonmake.yaml:2:66: error: profile ./p.yaml is listed twice for "
				"cluster dev (first at addonmake.yaml:2:58)\n");
	res_free(&r);
	tws_free(&t);
}

Test(errors, unknown_names_suggest_the_nearest)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	struct res r = am(&t, "plan -c deb");
	assert_code(r, 2);
	cr_assert_str_eq(r.err, "addonmake: error: addonmake.yaml has no cluster \"deb\"; did you mean "
				"dev? (clusters: dev)\n");
	res_free(&r);
	r = am(&t, "plan p/crd");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "unknown layer \"p/crd\"; did you mean p/crds? (layers: p/crds, p/a, "
				"p/b, p/c)"), "%s", r.err);
	res_free(&r);
	/* far from every name: no guess, the list */
	r = am(&t, "plan -c production");
	cr_assert(strstr(r.err, "has no cluster \"production\" (clusters: dev)"), "%s", r.err);
	res_free(&r);
	cr_assert_eq(tws_sh(&t, "sed -i 's/spectro.var.replicas/spectro.var.replcias/' p.yaml"), 0);
	r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "unknown variable \"replcias\"; did you mean replicas? (variables: "
				"replicas)"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

/* the profile p.yaml (layer p/a, one ConfigMap) and the kubeconfig kc of
 * a server that cannot be reached (127.0.0.1:1) */
static void
unreachable_kube(struct tws *t)
{
	tws_put(t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: a, type: manifest, manifests: [{name: m, content: \"apiVersion: v1\\nkind: "
		"ConfigMap\\nmetadata: {name: c}\\n\"}]}\n");
	tws_put(t, "kc", "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		"clusters: [{name: t, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
		"users: [{name: u, user: {token: abc}}]\ncontexts: [{name: t, context: {cluster: t, user: u}}]\n");
}

/* a server that cannot be reached is not the manifest's fault: no
 * position of it in the message, and the server named */
Test(errors, a_connection_failure_names_the_server_not_a_manifest)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {kube: {kubeconfig: kc}}, profiles: [p.yaml]}\n");
	unreachable_kube(&t);
	/* the first request reads the cluster's records */
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "addonmake: error: cluster dev: GET http://127.0.0.1:1/api/v1/namespaces/"
			 "addonmake-system/configmaps/addonmake-"), "%s", r.err);
	cr_assert(!strstr(r.out, "p.yaml:") && !strstr(r.err, "p.yaml:") && !strstr(r.out, "apply"),
		  "%s%s", r.out, r.err);
	res_free(&r);
	/* with the records on disk, the first is the layer's discovery */
	tws_put(&t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {kube: {kubeconfig: kc, state: local}}, "
		"profiles: [p.yaml]}\n");
	r = am(&t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "addonmake: dev: layer p/a failed: GET http://127.0.0.1:1/api: "), "%s", r.out);
	cr_assert(!strstr(r.out, "p.yaml:"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* an https server that cannot be reached is tried by addonmake's own
 * HTTP/2 client only, its error in that client's words: libcurl, tried
 * after it, would wait for the server again (as long again where it is
 * silent rather than refusing) */
Test(errors, an_unreachable_https_server_is_waited_for_once_a_try)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {kube: {kubeconfig: kc}}, profiles: [p.yaml]}\n");
	unreachable_kube(&t);
	char *kc = tws_get(&t, "kc");
	char *at = strstr(kc, "http://");
	cr_assert_not_null(at);
	struct buf b = {0};
	buf_printf(&b, "%.*shttps://%s", (int)(at - kc), kc, at + 7);
	tws_put(&t, "kc", b.s);
	struct res r = am(&t, "plan");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "cluster dev: GET https://127.0.0.1:1/api/v1/namespaces/addonmake-system/"
			 "configmaps/addonmake-"), "%s", r.err);
	cr_assert(strstr(r.err, ": cannot connect to 127.0.0.1 port 1: Connection refused (after 5 tries)"),
		  "%s", r.err);
	res_free(&r);
	buf_free(&b);
	free(kc);
	tws_free(&t);
}

/* -B is the reason for every layer, an earlier tier's change or not */
Test(errors, forced_says_forced)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r = am(&t, "-B --explain");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": forced"), 4, "%s", r.out);
	cr_assert(!strstr(r.out, "earlier tier"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* a cluster whose records cannot be read fails at its turn, as a cluster
 * that fails to apply does: without -k (and one cluster at a time) the clusters after it are not
 * started, with -k they are synced; plan shows what it can and exits 1 */
Test(errors, an_unreachable_cluster_fails_alone_and_k_goes_on)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - {name: dev, target: {kube: {kubeconfig: kc}}, profiles: [p.yaml]}\n"
		"  - {name: lab, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	unreachable_kube(&t);
	struct res r = am(&t, "plan");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "lab: apply p/a (order 0): new layer") && !strstr(r.out, "dev: apply") &&
		  !strstr(r.out, "no work to do") && strstr(r.err, "error: cluster dev: GET "),
		  "%s%s", r.out, r.err);
	res_free(&r);
	r = am(&t, "sync -J 1");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "addonmake: lab: not started (a cluster failed; -k goes on)") &&
		  !strstr(r.out, "no work to do"), "%s%s", r.out, r.err);
	char *ls = tws_get(&t, "out/p00000_p+a.yaml");
	cr_assert_null(ls, "lab was synced after dev failed, without -k");
	res_free(&r);
	r = am(&t, "sync -k");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "error: cluster dev: GET ") && strstr(r.out, "lab: ready p/a"), "%s%s",
		  r.out, r.err);
	ls = tws_get(&t, "out/p00000_p+a.yaml");
	cr_assert_not_null(ls, "-k did not go on with lab");
	free(ls);
	res_free(&r);
	tws_free(&t);
}

/* diff of a cluster that cannot be reached is an error (1), not "no
 * differences" (0) nor "differences" (3); a target with nothing to
 * compare with is bad usage (2) */
Test(errors, diff_tells_an_error_from_no_differences)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {kube: {kubeconfig: kc}}, profiles: [p.yaml]}\n");
	unreachable_kube(&t);
	struct res r = am(&t, "diff");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "addonmake: error: cluster dev: GET http://127.0.0.1:1/"), "%s", r.err);
	cr_assert(!strstr(r.out, "no differences"), "%s", r.out);
	res_free(&r);
	tws_put(&t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {exec: {apply: [cat]}}, "
		"profiles: [p.yaml]}\n");
	r = am(&t, "diff");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "dev: the exec target has nothing to compare with"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}
