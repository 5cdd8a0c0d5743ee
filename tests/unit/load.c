/* unit tests of loading: addonmake.yaml, Palette exports (the real ones in
 * ../shared/data when present), {{.spectro.*}} substitution, pack .Values
 * templates, compile errors with positions. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/load/load.h"
#include "../../src/lib/lib.h"
#include "../testutil.h"

static const char *
data_file(const char *rel)
{
	static char path[2048];
	const char *d = shared_data();
	if (!d)
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", d, rel);
	return path;
}

static int
count_warnings(const struct diag *d, const char *needle)
{
	int n = 0;
	for (size_t i = 0; i < d->n; i++)
		if (d->msg[i].severity == DIAG_WARNING && strstr(d->msg[i].text, needle))
			n++;
	return n;
}

Test(real_exports, mcp_profiles_keep_addons_and_warn_once_per_infra_layer)
{
	const char *names[] = {"profiles/get-started-palette-mcp-aws.json",
			       "profiles/get-started-palette-mcp-azure.json"};
	for (int k = 0; k < 2; k++) {
		const char *f = data_file(names[k]);
		if (!f)
			cr_skip_test("../shared/data is not here");
		struct arena a = {0};
		struct diag d = {0};
		struct profile p;
		struct ldctx lc = {NULL, &a, NULL, &d, NULL};
		cr_assert_eq(profile_load(&lc, f, NULL, &p), 0);
		cr_assert_eq(d.nerr, 0);
		cr_assert_eq(p.npacks, 2);
		cr_assert_str_eq(doc_str(doc_get(p.packs[0], "name")), "hello-universe");
		cr_assert_str_eq(doc_str(doc_get(p.packs[1], "name")), "cost-analyzer");
		cr_assert_eq(d.n, 4, "one warning per infrastructure layer, got %zu", d.n);
		cr_assert_eq(count_warnings(&d, "skipping os layer"), 1);
		cr_assert_eq(count_warnings(&d, "skipping k8s layer"), 1);
		cr_assert_eq(count_warnings(&d, "skipping cni layer"), 1);
		cr_assert_eq(count_warnings(&d, "skipping csi layer"), 1);
		cr_assert_gt(d.msg[0].line, 0);
		/* install orders: "0" given, and the default 0 */
		struct subst_ctx sc = {"dev", p.name, p.version, p.variables, NULL, NULL, NULL, NULL, NULL, NULL};
		for (size_t i = 0; i < p.npacks; i++) {
			struct dnode *v = profile_values(&a, &p, doc_get(p.packs[i], "values"), &sc, &d);
			cr_assert_not_null(v);
			int64_t order = 0;
			struct dnode *n = doc_path(v, "pack");
			n = doc_get(n, "spectrocloud.com/install-priority");
			if (n)
				cr_assert_eq(parse_order(n, &order), 0);
			cr_assert_eq(order, 0);
		}
		cr_assert_eq(d.nerr, 0);
		arena_free(&a);
		diag_free(&d);
	}
}

Test(real_exports, template_profiles_take_the_variable_default)
{
	const char *names[] = {"profiles/cluster-template-profile-aws.json",
			       "profiles/cluster-template-profile-azure.json"};
	for (int k = 0; k < 2; k++) {
		const char *f = data_file(names[k]);
		if (!f)
			cr_skip_test("../shared/data is not here");
		struct arena a = {0};
		struct diag d = {0};
		struct profile p;
		struct ldctx lc = {NULL, &a, NULL, &d, NULL};
		cr_assert_eq(profile_load(&lc, f, NULL, &p), 0);
		cr_assert_eq(p.npacks, 1);
		struct subst_ctx sc = {"dev", p.name, p.version, p.variables, NULL, NULL, NULL, NULL, NULL, NULL};
		struct dnode *v = profile_values(&a, &p, doc_get(p.packs[0], "values"), &sc, &d);
		cr_assert_not_null(v);
		cr_assert_eq(d.nerr, 0);
		struct dnode *r = doc_path(v, "manifests.hello-universe.replicas");
		cr_assert_str_eq(doc_str(r), "1");
		cr_assert_eq(r->style, DS_QUOTED, "the export quotes the placeholder");
		/* a cluster value wins over the default */
		struct arena b = {0};
		struct dorigin o = {"x", 1, 1, 0, 1};
		struct dnode **docs;
		size_t n;
		doc_parse(&b, "app_replicas: \"3\"", 17, &o, &docs, &n, &d);
		sc.vars = docs[0];
		v = profile_values(&a, &p, doc_get(p.packs[0], "values"), &sc, &d);
		cr_assert_str_eq(doc_str(doc_path(v, "manifests.hello-universe.replicas")), "3");
		arena_free(&a);
		arena_free(&b);
		diag_free(&d);
	}
}

static int
subst(const char *in, struct buf *out, struct diag *d, struct dnode *vars)
{
	struct subst_ctx sc = {"dev", "prof", "1.2.0", NULL, vars, NULL, NULL, NULL, NULL, NULL};
	struct dorigin o = {"p.yaml", 5, 3, 2, 1};
	buf_clear(out);
	return subst_text(&sc, in, strlen(in), &o, out, d);
}

Test(subst, system_names_pipelines_and_foreign_placeholders)
{
	struct buf out = {0};
	struct diag d = {0};
	cr_assert_eq(subst("name: {{ .spectro.system.cluster.name }}-{{.spectro.system.clusterprofile.name}}", &out, &d, NULL), 0);
	cr_assert_str_eq(out.s, "name: dev-prof");
	cr_assert_eq(subst("v: {{.spectro.system.clusterprofile.version | quote}}", &out, &d, NULL), 0);
	cr_assert_str_eq(out.s, "v: \"1.2.0\"");
	cr_assert_eq(subst("v: {{.spectro.var.nope | default \"x\" | upper}}", &out, &d, NULL), 0);
	cr_assert_str_eq(out.s, "v: X");
	/* not ours: left alone */
	cr_assert_eq(subst("msg: '{{ $labels.instance }}'", &out, &d, NULL), 0);
	cr_assert_str_eq(out.s, "msg: '{{ $labels.instance }}'");
	cr_assert_eq(d.nerr, 0);
	buf_free(&out);
}

Test(subst, unknown_names_are_errors_with_positions)
{
	struct buf out = {0};
	struct diag d = {0};
	cr_assert_neq(subst("a: 1\nb: {{.spectro.var.missing}}\n", &out, &d, NULL), 0);
	cr_assert_eq(d.nerr, 1);
	cr_assert_str_eq(d.msg[0].file, "p.yaml");
	cr_assert_eq(d.msg[0].line, 6);
	cr_assert_eq(d.msg[0].col, 6);
	cr_assert(strstr(d.msg[0].text, "unknown variable \"missing\""), "%s", d.msg[0].text);
	cr_assert_neq(subst("{{.spectro.macro.m}} {{.spectro.var.x | trunc 3}}", &out, &d, NULL), 0);
	cr_assert_eq(d.nerr, 3, "every error is reported");
	cr_assert(strstr(d.msg[2].text, "trunc"), "%s", d.msg[2].text);
	buf_free(&out);
	diag_free(&d);
}

Test(tmpl, values_lookups_and_trim_markers)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dorigin o = {"v", 1, 1, 0, 1};
	struct dnode **docs;
	size_t n;
	const char *vals = "namespace: hello\nport: 8080\nnested: {image: x:1}\n";
	doc_parse(&a, vals, strlen(vals), &o, &docs, &n, &d);
	struct buf out = {0};
	const char *t = "ns: {{ .Values.namespace }}\nport: {{- .Values.port }}\nimg: {{ .Values.nested.image -}}   \nmissing: '{{ .Values.nope }}'\n";
	cr_assert_eq(tmpl_render(t, strlen(t), docs[0], NULL, "m.yaml", &a, &out, &d), 0);
	cr_assert_str_eq(out.s, "ns: hello\nport:8080\nimg: x:1missing: ''\n");
	buf_free(&out);
	arena_free(&a);
}

Test(tmpl, unsupported_actions_name_file_and_line)
{
	struct diag d = {0};
	struct buf out = {0};
	struct arena a = {0};
	const char *t = "a: 1\n{{ include \"x\" . }}\nb: {{ .Values.x | trunc 3 }}\n{{ template \"y\" }}\n";
	cr_assert_neq(tmpl_render(t, strlen(t), NULL, NULL, "pack/manifests/m.yaml", &a, &out, &d), 0);
	cr_assert_eq(d.nerr, 3);
	cr_assert_str_eq(d.msg[0].file, "pack/manifests/m.yaml");
	cr_assert_eq(d.msg[0].line, 2);
	cr_assert(strstr(d.msg[0].text, "the template function \"include\" is not supported"), "%s", d.msg[0].text);
	cr_assert_eq(d.msg[1].line, 3);
	cr_assert(strstr(d.msg[1].text, "\"trunc\""), "%s", d.msg[1].text);
	cr_assert_eq(d.msg[2].line, 4);
	cr_assert(strstr(d.msg[2].text, "{{ template }} is not supported"), "%s", d.msg[2].text);
	buf_free(&out);
	diag_free(&d);
	arena_free(&a);
}

Test(order, integers_only)
{
	struct arena a = {0};
	int64_t v;
	cr_assert_eq(parse_order(doc_scalar(&a, "10", DS_QUOTED), &v), 0);
	cr_assert_eq(v, 10);
	cr_assert_eq(parse_order(doc_scalar(&a, "-5", DS_PLAIN), &v), 0);
	cr_assert_eq(v, -5);
	cr_assert_neq(parse_order(doc_scalar(&a, "ten", DS_QUOTED), &v), 0);
	cr_assert_neq(parse_order(doc_scalar(&a, "1.5", DS_PLAIN), &v), 0);
	cr_assert_neq(parse_order(doc_scalar(&a, "", DS_PLAIN), &v), 0);
	cr_assert_neq(parse_order(doc_scalar(&a, "99999999999999999999", DS_PLAIN), &v), 0);
	cr_assert(valid_dns_label("cert-manager"));
	cr_assert(!valid_dns_label("Cert"));
	cr_assert(!valid_dns_label("-x"));
	arena_free(&a);
}

static const char *ws_head =
	"registries:\n  - {name: Local, kind: pack, url: file://packs}\n"
	"clusters:\n  - name: dev\n    target: {render: {dir: out}}\n";

Test(workspace, kube_state_and_its_namespace_are_checked)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml",
		"clusters:\n"
		"  - {name: a, target: {kube: {state: cluster, stateNamespace: ops}}}\n"
		"  - {name: b, target: {kube: {}}}\n"
		"  - name: c\n    target: {kube: {state: remote, stateNamespace: Ops_1}}\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/addonmake.yaml", t.dir);
	struct workspace w = {0};
	struct diag d = {0};
	cr_assert_neq(ws_load(&w, path, &d), 0);
	cr_assert_eq(d.nerr, 2, "%s", d.n ? d.msg[0].text : "");
	cr_assert(strstr(d.msg[0].text, "state must be cluster or local, not \"remote\""), "%s",
		  d.msg[0].text);
	cr_assert(d.msg[0].line == 5 && d.msg[0].col == 28, "%d:%d", d.msg[0].line, d.msg[0].col);
	cr_assert(strstr(d.msg[1].text, "stateNamespace must be a namespace's name"), "%s",
		  d.msg[1].text);
	cr_assert(!w.clusters[0].target.state_local);
	cr_assert_str_eq(w.clusters[0].target.state_ns, "ops");
	cr_assert(!w.clusters[1].target.state_local, "the records are in the cluster by default");
	cr_assert_str_eq(w.clusters[1].target.state_ns, "addonmake-system");
	ws_free(&w);
	diag_free(&d);
	tws_free(&t);
}

Test(workspace, unknown_keys_and_bad_durations)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "stat: x\nclusters:\n  - name: dev\n    target: {render: {dri: out}}\n"
		"    layers:\n      p/l: {readiness: {timeout: 5 minutes}}\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/addonmake.yaml", t.dir);
	struct workspace w = {0};
	struct diag d = {0};
	cr_assert_neq(ws_load(&w, path, &d), 0);
	cr_assert_geq(d.nerr, 3);
	cr_assert(strstr(d.msg[0].text, "unknown key \"stat\""), "%s", d.msg[0].text);
	cr_assert_eq(d.msg[0].line, 1);
	cr_assert_eq(d.msg[0].col, 1);
	int dri = 0, dur = 0;
	for (size_t i = 0; i < d.n; i++) {
		dri |= strstr(d.msg[i].text, "unknown key \"dri\"") != NULL;
		dur |= strstr(d.msg[i].text, "is not a duration") != NULL;
	}
	cr_assert(dri && dur);
	ws_free(&w);
	diag_free(&d);
	tws_free(&t);
}

/* drift settings: a flag that is not true/false, drift on a target that
 * has none, a manager list that is not a list — each at its position;
 * good ones read */
Test(workspace, drift_settings_are_checked_where_written)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - name: a\n    target: {kube: {}}\n    drift: maybe\n"
		"  - name: b\n    target: {render: {dir: out}}\n    drift: true\n"
		"  - name: c\n    target: {kube: {}}\n    ignoreManagers: hpa\n"
		"    layers: {p/l: {ignoreManagers: {a: b}}}\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/addonmake.yaml", t.dir);
	struct workspace w = {0};
	struct diag d = {0};
	cr_assert_neq(ws_load(&w, path, &d), 0);
	const char *want[][3] = {{"4", "12", "drift must be true or false, not \"maybe\""},
				 {"7", "12", "drift: true needs the kube target"},
				 {"10", "21", "ignoreManagers must be a list"},
				 {"11", "36", "ignoreManagers must be a list"}};
	for (size_t k = 0; k < 4; k++) {
		int found = 0;
		for (size_t i = 0; i < d.n; i++)
			found |= d.msg[i].line == atoi(want[k][0]) && d.msg[i].col == atoi(want[k][1]) &&
				 strstr(d.msg[i].text, want[k][2]) != NULL;
		cr_assert(found, "no %s:%s: %s", want[k][0], want[k][1], want[k][2]);
	}
	ws_free(&w);
	diag_free(&d);
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - name: a\n    target: {kube: {}}\n    drift: true\n    ignoreManagers: [hpa, keda]\n"
		"    layers: {p/l: {ignoreManagers: [vpa]}}\n");
	struct workspace w2 = {0};
	struct diag d2 = {0};
	ws_load(&w2, path, &d2);
	cr_assert_eq(w2.nclusters, 1);
	const struct cluster *c = &w2.clusters[0];
	cr_assert(c->drift);
	cr_assert_eq(c->nignore_managers, 2);
	cr_assert_str_eq(c->ignore_managers[1], "keda");
	cr_assert_eq(c->nlopts, 1);
	cr_assert_str_eq(c->lopts[0].ignore_managers[0], "vpa");
	ws_free(&w2);
	diag_free(&d2);
	tws_free(&t);
}

Test(workspace, compiles_tiers_across_profiles)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "%s    profiles: [a.yaml, b.json]\n", ws_head);
	tws_put(&t, "a.yaml", "metadata: {name: a}\nspec:\n  template:\n    packs:\n"
		"      - name: one\n        type: manifest\n        values: |\n          pack:\n            spectrocloud.com/install-priority: \"10\"\n"
		"        manifests: [{name: m, content: 'kind: ConfigMap'}]\n"
		"      - name: two\n        type: manifest\n        manifests: [{name: m, content: 'kind: Secret'}]\n");
	tws_put(&t, "b.json", "{\"metadata\": {\"name\": \"b\"}, \"spec\": {\"template\": {\"packs\": ["
		"{\"name\": \"three\", \"type\": \"manifest\", \"values\": \"pack:\\n  spectrocloud.com/install-priority: -5\\n\","
		" \"manifests\": [{\"name\": \"m\", \"content\": \"kind: Pod\"}]}]}}}\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/addonmake.yaml", t.dir);
	struct workspace w = {0};
	struct diag d = {0};
	cr_assert_eq(ws_load(&w, path, &d), 0);
	cr_assert_eq(cluster_compile(&w, &w.clusters[0], NULL, &d), 0);
	diag_print(&d, stderr);
	struct graph *g = &w.clusters[0].g;
	cr_assert_eq(g->ntiers, 3);
	cr_assert_str_eq(g->nodes[0].id, "b/three");
	cr_assert_eq(g->nodes[0].order, -5);
	cr_assert_str_eq(g->nodes[1].id, "a/two");
	cr_assert_str_eq(g->nodes[2].id, "a/one");
	ws_free(&w);
	diag_free(&d);
	tws_free(&t);
}

/* the executor's way to a layer's content: the same steps as compile, so
 * the same documents and hash; a layer whose entry now holds another is
 * refused */
Test(workspace, content_loads_again_as_compiled)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml", "%s    profiles: [a.yaml]\n", ws_head);
	const char *prof = "metadata: {name: a}\nspec:\n  template:\n    packs:\n"
		"      - name: one\n        type: manifest\n"
		"        manifests: [{name: m, content: \"kind: ConfigMap\\n---\\nkind: Secret\"}]\n"
		"      - name: two\n        type: manifest\n        manifests: [{name: m, content: 'kind: Pod'}]\n";
	tws_put(&t, "a.yaml", "%s", prof);
	char path[512];
	snprintf(path, sizeof(path), "%s/addonmake.yaml", t.dir);
	struct workspace w = {0};
	struct diag d = {0};
	cr_assert_eq(ws_load(&w, path, &d), 0);
	struct cluster *c = &w.clusters[0];
	cr_assert_eq(cluster_compile(&w, c, NULL, &d), 0);
	cr_assert_eq(c->nlayers, 2);
	struct layer *one = c->layers[0];
	cr_assert_str_eq(one->id, "a/one");
	cr_assert_not_null(one->body);
	cr_assert_eq(one->body->ndocs, 2);
	struct hash128 h = one->hash;
	one->body = NULL; /* as the executor finds a layer after compile */
	struct arena a = {0};
	cr_assert_eq(layer_load_content(&w, c, &one, 1, &a, &d), 0);
	cr_assert_not_null(one->body);
	cr_assert_eq(one->body->ndocs, 2);
	cr_assert_str_eq(doc_str(doc_get(one->body->docs[1], "kind")), "Secret");
	cr_assert(memcmp(&h, &one->hash, sizeof(h)) == 0, "the hash changed");
	arena_free(&a);
	/* the entry now holds another layer */
	one->body = NULL;
	tws_put(&t, "a.yaml", "metadata: {name: a}\nspec:\n  template:\n    packs:\n"
		"      - name: two\n        type: manifest\n        manifests: [{name: m, content: 'kind: Pod'}]\n");
	cr_assert_eq(layer_load_content(&w, c, &one, 1, &a, &d), -1);
	cr_assert_null(one->body);
	cr_assert_eq(d.nerr, 1);
	cr_assert(strstr(d.msg[d.n - 1].text, "layer a/one is no longer where it was"), "%s",
		  d.msg[d.n - 1].text);
	arena_free(&a);
	ws_free(&w);
	diag_free(&d);
	tws_free(&t);
}

/* renders t with the given values (YAML text); returns the output */
static char *
render(const char *vals, const char *t, struct diag *d)
{
	static struct arena a;
	struct dorigin o = {"v", 1, 1, 0, 1};
	struct dnode **docs = NULL;
	size_t n = 0;
	doc_parse(&a, vals, strlen(vals), &o, &docs, &n, d);
	struct dnode *sp = doc_new(&a, D_MAP, 1);
	sp->items[0] = doc_scalar(&a, "cluster", DS_PLAIN);
	sp->items[1] = doc_scalar(&a, "dev", DS_QUOTED);
	struct buf out = {0};
	int rc = tmpl_render(t, strlen(t), n ? docs[0] : NULL, sp, "m.yaml", &a, &out, d);
	char *s = strdup(rc ? "(failed)" : out.s);
	buf_free(&out);
	return s;
}

#define RENDERS(vals, tmpl, want) do { \
		struct diag d_ = {0}; \
		char *got_ = render(vals, tmpl, &d_); \
		diag_print(&d_, stderr); \
		cr_assert_eq(d_.nerr, 0); \
		cr_assert_str_eq(got_, want); \
		free(got_); \
		diag_free(&d_); \
	} while (0)

Test(tmpl, conditionals)
{
	RENDERS("on: true\noff: false\nname: x\n",
		"{{ if .Values.on }}A{{ end }}{{ if .Values.off }}B{{ else }}C{{ end }}"
		"{{ if not .Values.on }}D{{ else if eq .Values.name \"x\" }}E{{ else }}F{{ end }}"
		"{{ if and .Values.on .Values.name }}G{{ end }}{{ if or .Values.off .Values.nope }}H{{ end }}"
		"{{ if ne .Values.name \"y\" }}I{{ end }}",
		"ACEGI");
	/* "false" as a quoted string is a non-empty string: true, as in Go */
	RENDERS("s: \"false\"\n", "{{ if .Values.s }}yes{{ end }}", "yes");
}

Test(tmpl, range_over_lists_and_maps_in_key_order)
{
	RENDERS("l: [a, b]\nm: {zeta: 1, alpha: 2}\n",
		"{{ range .Values.l }}[{{ . }}]{{ end }}"
		"{{ range $k, $v := .Values.m }}{{ $k }}={{ $v }};{{ end }}"
		"{{ range $i, $x := .Values.l }}{{ $i }}:{{ $x }} {{ end }}"
		"{{ range .Values.none }}x{{ else }}empty{{ end }}",
		"[a][b]alpha=2;zeta=1;0:a 1:b empty");
}

Test(tmpl, trimming_variables_with_and_root)
{
	RENDERS("ing: {path: /x, hosts: [h1, h2]}\nns: web\n",
		"hosts:\n"
		"{{- $p := .Values.ing.path }}\n"
		"{{- range .Values.ing.hosts }}\n"
		"  - host: {{ . | quote }}\n"
		"    path: {{ $p }}\n"
		"    ns: {{ $.Values.ns }}\n"
		"{{- end }}\n"
		"{{ with .Values.ing }}first: {{ .path }}{{ end }}\n",
		"hosts:\n  - host: \"h1\"\n    path: /x\n    ns: web\n  - host: \"h2\"\n    path: /x\n    ns: web\nfirst: /x\n");
}

Test(tmpl, functions)
{
	RENDERS("s: \" Hi \"\nm: {a: 1, b: [x]}\nhost: api.example\n",
		"{{ .Values.s | trim | upper }}|{{ .Values.s | lower | quote }}|"
		"{{ .Values.nope | default \"d\" }}|{{ default \"d\" .Values.host }}|"
		"{{ printf \"%s:%d\" .Values.host 443 }}|{{ if hasPrefix \"https://\" .Values.host }}x{{ else }}{{ printf \"%s%s\" \"https://\" .Values.host | quote }}{{ end }}|"
		"{{ .Spectro.cluster }}|{{ toYaml .Values.m | nindent 2 }}|{{ \"a\\nb\" | indent 3 }}",
		"HI|\" hi \"|d|api.example|api.example:443|\"https://api.example\"|dev|\n  a: 1\n  b:\n  - x|   a\n   b");
}

Test(tmpl, missing_values_are_empty_and_quote_of_nothing_is_empty)
{
	RENDERS("a: {}\n", "[{{ .Values.a.b.c }}][{{ .Values.x | quote }}]", "[][]");
}

Test(tmpl, unclosed_block_at_the_end_is_closed_with_a_warning)
{
	struct diag d = {0};
	char *got = render("on: true\n", "x\n{{- if .Values.on }}\ny\n", &d);
	cr_assert_eq(d.nerr, 0);
	cr_assert_eq(d.n, 1);
	cr_assert_eq(d.msg[0].severity, DIAG_WARNING);
	cr_assert_eq(d.msg[0].line, 2);
	cr_assert(strstr(d.msg[0].text, "{{ if }} has no {{ end }}"), "%s", d.msg[0].text);
	cr_assert_str_eq(got, "x\ny\n");
	free(got);
	diag_free(&d);
	/* a stray end is an error */
	got = render("", "a{{ end }}", &d);
	cr_assert_eq(d.nerr, 1);
	cr_assert(strstr(d.msg[0].text, "{{ end }} without a matching"), "%s", d.msg[0].text);
	free(got);
	diag_free(&d);
}

/* a pack without values and a cluster without macros leave the root's
 * .Values and .Spectro empty: toYaml of the root says null for them */
Test(tmpl, to_yaml_of_a_root_with_nothing_in_it)
{
	struct diag d = {0};
	struct buf out = {0};
	struct arena a = {0};
	const char *t = "{{ toYaml $ }}";
	cr_assert_eq(tmpl_render(t, strlen(t), NULL, NULL, "m.yaml", &a, &out, &d), 0);
	cr_assert_str_eq(out.s, "Values: null\nSpectro: null");
	buf_free(&out);
	diag_free(&d);
	arena_free(&a);
}

/* a template comes from a pack: work that multiplies (a range in a range,
 * text doubled by printf, a wide indent) or nests without end is refused
 * with the place it went over, instead of eating the machine */
static void
refused(const char *vals, const char *t, int line, const char *what)
{
	struct diag d = {0};
	char *got = render(vals, t, &d);
	cr_assert_str_eq(got, "(failed)");
	cr_assert_eq(d.nerr, 1, "%zu errors", d.nerr);
	cr_assert_eq(d.msg[0].line, line, "line %d: %s", d.msg[0].line, d.msg[0].text);
	cr_assert(strstr(d.msg[0].text, what), "%s", d.msg[0].text);
	free(got);
	diag_free(&d);
}

Test(tmpl, work_and_nesting_are_bounded)
{
	const char *ten = "l: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]\n";
	refused(ten, "a\n{{ range .Values.l }}{{ range $.Values.l }}{{ range $.Values.l }}"
		"{{ range $.Values.l }}{{ range $.Values.l }}{{ range $.Values.l }}{{ range $.Values.l }}"
		"{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}{{ end }}\n",
		2, "runs more than a million actions");
	struct buf t = {0};
	buf_adds(&t, "{{ $x := \"0123456789abcdef\" }}\n");
	for (int i = 0; i < 30; i++)
		buf_adds(&t, "{{ $x = printf \"%s%s\" $x $x }}\n");
	refused("", t.s, 22, "makes more than 64 MiB of text"); /* made in all: 32 MiB, after 16 MiB, ... */
	refused("", "x: {{ indent 2000000000 \"y\" }}\n", 1, "makes more than 64 MiB of text");
	buf_clear(&t);
	for (int i = 0; i < 150; i++)
		buf_adds(&t, "{{ if true }}\n");
	refused("", t.s, 101, "nested more than 100 deep");
	buf_clear(&t);
	buf_adds(&t, "{{ ");
	for (int i = 0; i < 20000; i++)
		buf_adds(&t, "(");
	buf_adds(&t, " }}");
	refused("", t.s, 1, "nested more than 100 deep");
	/* deep enough for any real pack still renders */
	buf_clear(&t);
	for (int i = 0; i < 99; i++)
		buf_adds(&t, "{{ if true }}");
	buf_adds(&t, "deep");
	for (int i = 0; i < 99; i++)
		buf_adds(&t, "{{ end }}");
	RENDERS("", t.s, "deep");
	buf_free(&t);
}

/* a renderer's output is data: kept whole when stderr goes apart (helm
 * template of a big chart), its tail only when it is shown in a message */
Test(proc, output_is_kept_whole_when_stderr_goes_apart)
{
	struct procs ps;
	procs_init(&ps);
	char *argv[] = {"sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line-$i-of-some-length; i=$((i+1)); done",
			NULL};
	struct proc_spec sp = {argv, NULL, NULL, NULL, 0, 0, "/dev/null"};
	struct buf out = {0};
	int status;
	cr_assert_eq(proc_run(&ps, &sp, &out, &status), 0);
	cr_assert_eq(status, 0);
	cr_assert(out.len > 40000 && strncmp(out.s, "line-0-", 7) == 0, "%zu bytes: %.20s", out.len, out.s);
	cr_assert(strstr(out.s, "line-1999-of-some-length\n"));
	buf_clear(&out);
	sp.err_path = NULL;
	cr_assert_eq(proc_run(&ps, &sp, &out, &status), 0);
	cr_assert(out.len < 40000 && strstr(out.s, "line-1999-"), "%zu", out.len);
	buf_free(&out);
	pthread_mutex_destroy(&ps.mu);
}
