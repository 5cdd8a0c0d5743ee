/* e2e sync: tier order, no-ops, incremental re-application, prune, the
 * graph, and the quickstart sample. */
#include <stdio.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

/* index of the first line equal to want, or -1 */
static int
line_of(const char *log, const char *want)
{
	int i = 0;
	for (const char *s = log; s && *s; i++) {
		const char *nl = strchr(s, '\n');
		size_t len = nl ? (size_t)(nl - s) : strlen(s);
		char *line = strndup(s, len);
		int hit = strcmp(line, want) == 0;
		free(line);
		if (hit)
			return i;
		s += len + (nl ? 1 : 0);
	}
	return -1;
}

/* index of the line equal to want, which must be in the log (a missing
 * line is -1, which every "before" comparison would let pass) */
static int
must_line(const char *log, const char *want)
{
	int i = line_of(log, want);
	cr_assert_geq(i, 0, "no line \"%s\" in the log:\n%s", want, log);
	return i;
}

Test(sync, tiers_run_lowest_first_and_wait_for_the_whole_tier)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, "sleep 0.3; ", NULL);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	char *log = tws_get(&t, "log");
	cr_assert_not_null(log);
	int crds_end = must_line(log, "end p/crds");
	int a_start = must_line(log, "start p/a"), b_start = must_line(log, "start p/b");
	int a_end = must_line(log, "end p/a"), b_end = must_line(log, "end p/b");
	int c_start = must_line(log, "start p/c");
	cr_assert_lt(crds_end, a_start, "%s", log);
	cr_assert_lt(crds_end, b_start, "%s", log);
	cr_assert_lt(a_end, c_start, "tier 10 started before tier 0 was ready:\n%s", log);
	cr_assert_lt(b_end, c_start, "tier 10 started before tier 0 was ready:\n%s", log);
	/* the two layers of tier 0 ran together */
	cr_assert_lt(a_start, b_end, "%s", log);
	cr_assert_lt(b_start, a_end, "%s", log);
	/* the layer's rendered content reached the command on stdin */
	char *applied = tws_get(&t, "applied-p_a");
	cr_assert(strstr(applied, "replicas: 1"), "%s", applied);
	free(applied);
	free(log);
	res_free(&r);
	tws_free(&t);
}

Test(sync, second_run_is_a_noop_that_writes_nothing)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r;
	char *before = fx_snapshot(&t);
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	char *after = fx_snapshot(&t);
	cr_assert_str_eq(before, after, "a no-op run wrote files");
	free(before);
	free(after);
	res_free(&r);
	tws_free(&t);
}

Test(sync, comment_and_reindent_edits_are_noops)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r;
	/* a comment inside values, and the value re-indented in flow style */
	fx_profile(&t, "one   # a comment that changes nothing", NULL);
	r = am(&t, "plan --json");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "");
	res_free(&r);
	r = am(&t, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	/* re-indent: every line nested at 10+ spaces moves right by 2, the
	 * values block and the manifest block scalars included */
	cr_assert_eq(tws_sh(&t, "sed -i 's/^          /            /' p.yaml"), 0);
	char *p = tws_get(&t, "p.yaml");
	cr_assert(strstr(p, "\n            pack:\n"), "the edit re-indented nothing:\n%s", p);
	free(p);
	r = am(&t, "plan --json");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "");
	res_free(&r);
	tws_free(&t);
}

Test(sync, a_value_change_reapplies_the_layer_and_later_tiers_only)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, NULL);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	fx_profile(&t, "two", NULL);
	r = am(&t, "plan --json");
	assert_code(r, 0);
	cr_assert_str_eq(r.out,
		"{\"cluster\":\"dev\",\"layer\":\"p/b\",\"order\":0,\"action\":\"apply\",\"reason\":\"content changed\"}\n"
		"{\"cluster\":\"dev\",\"layer\":\"p/c\",\"order\":10,\"action\":\"apply\",\"reason\":\"earlier tier changed: p/b (order 0)\"}\n");
	res_free(&r);
	r = am(&t, "plan --detailed-exitcode");
	assert_code(r, 3);
	res_free(&r);
	tws_rm(&t, "log");
	r = am(&t, "sync");
	assert_code(r, 0);
	char *log = tws_get(&t, "log");
	cr_assert_eq(count_lines(log, "start "), 2, "%s", log);
	cr_assert_eq(count_eq(log, "start p/b"), 1);
	cr_assert_eq(count_eq(log, "start p/c"), 1);
	free(log);
	res_free(&r);
	tws_free(&t);
}

Test(sync, a_changed_variable_reapplies_only_its_users)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, "    variables: {replicas: \"2\"}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	fx_exec_ws(&t, NULL, "    variables: {replicas: \"3\"}\n");
	r = am(&t, "plan --json");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, "\"action\":\"apply\""), 2, "%s", r.out);
	cr_assert(strstr(r.out, "\"layer\":\"p/a\",\"order\":0,\"action\":\"apply\",\"reason\":\"content changed\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"layer\":\"p/c\""), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(sync, prune_deletes_removed_layers_highest_order_first)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, NULL);
	fx_profile(&t, "one",
		   "      - {name: x5, type: manifest, values: \"pack: {spectrocloud.com/install-priority: '5'}\", manifests: [{name: m, content: 'kind: X'}]}\n"
		   "      - {name: x20, type: manifest, values: \"pack: {spectrocloud.com/install-priority: '20'}\", manifests: [{name: m, content: 'kind: X'}]}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	fx_profile(&t, "one", NULL);
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	cr_assert(strstr(r.err, "2 layers are no longer in the profiles"), "%s", r.err);
	res_free(&r);
	r = am(&t, "plan --prune --json");
	cr_assert(strstr(r.out, "{\"cluster\":\"dev\",\"layer\":\"p/x20\",\"order\":20,\"action\":\"prune\""), "%s", r.out);
	res_free(&r);
	/* without --prune, plan --json lists them too, as removed: a CI bot
	 * sees them; there is still no work for --detailed-exitcode */
	r = am(&t, "plan --json --detailed-exitcode");
	assert_code(r, 0);
	cr_assert_str_eq(r.out,
			 "{\"cluster\":\"dev\",\"layer\":\"p/x20\",\"order\":20,\"action\":\"removed\","
			 "\"reason\":\"removed from the profiles; --prune (or addonmake prune) deletes it\"}\n"
			 "{\"cluster\":\"dev\",\"layer\":\"p/x5\",\"order\":5,\"action\":\"removed\","
			 "\"reason\":\"removed from the profiles; --prune (or addonmake prune) deletes it\"}\n");
	res_free(&r);
	tws_rm(&t, "log");
	r = am(&t, "prune");
	assert_code(r, 0);
	char *log = tws_get(&t, "log");
	cr_assert_str_eq(log, "delete p/x20 20\ndelete p/x5 5\n");
	free(log);
	res_free(&r);
	r = am(&t, "prune");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	tws_free(&t);
}

Test(sync, prune_removes_rendered_files)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	fx_profile(&t, "one", "      - {name: extra, type: manifest, manifests: [{name: m, content: 'kind: X'}]}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert(tws_exists(&t, "out/p00000_p+extra.yaml"));
	fx_profile(&t, "one", NULL);
	r = am(&t, "--prune");
	assert_code(r, 0);
	cr_assert(!tws_exists(&t, "out/p00000_p+extra.yaml"), "the pruned layer's file is still there");
	cr_assert(tws_exists(&t, "out/p00000_p+b.yaml"));
	res_free(&r);
	r = am(&t, "status --json");
	cr_assert_eq(count_lines(r.out, "p/extra"), 0, "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(sync, render_output_is_deterministic_yaml)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	char *b = tws_get(&t, "out/p00000_p+b.yaml");
	/* the line that names the layer, its hash (a hash that changes
	 * re-applies every layer of every user: it must not, unless the
	 * layer did) and the hash of the text after it; the layer's
	 * namespace first; a document that is not an object (no apiVersion,
	 * no name) as it is */
	cr_assert_str_eq(b, "# addonmake: hash=6fc6656870c1254f9ab429e47068797a "
			    "body=ac823c7f8edee28eff29bd706d3d6629 order=0 type=manifest layer=p/b\n"
			    "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"bee\"\n"
			    "  labels:\n    app.kubernetes.io/managed-by: \"addonmake\"\n"
			    "    addonmake.io/layer: \"a1b40806bb510093\"\n  annotations:\n"
			    "    addonmake.io/cluster: \"dev\"\n    addonmake.io/layer: \"p/b\"\n"
			    "    addonmake.io/hash: \"6fc6656870c1254f9ab429e47068797a\"\n"
			    "    addonmake.io/order: \"0\"\n"
			    "---\nkind: ConfigMap\ndata:\n  k: v\n");
	free(b);
	char *a = tws_get(&t, "out/p00000_p+a.yaml");
	const char *nl = strchr(a, '\n');
	cr_assert(!strncmp(a, "# addonmake: hash=", 18) && nl && strstr(a, " layer=p/a\n") == nl - 10, "%s",
		  a);
	cr_assert_str_eq(nl + 1, "---\nkind: Deployment\nspec:\n  replicas: 1\n");
	free(a);
	cr_assert(tws_exists(&t, "out/n99990_p+crds.yaml"));
	cr_assert(tws_exists(&t, "out/p00010_p+c.yaml"));
	tws_free(&t);
}

Test(sync, graph_renders_with_graphviz_without_warnings)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	struct res r = am(&t, "graph > g.dot && dot -Tsvg g.dot -o g.svg");
	assert_code(r, 0);
	cr_assert_str_eq(r.err, "", "dot warned: %s", r.err);
	char *dot = tws_get(&t, "g.dot");
	cr_assert(strstr(dot, "label=\"install order -10\""), "%s", dot);
	cr_assert(strstr(dot, "label=\"install order 10\""), "%s", dot);
	/* each node: name, type, profile and state; a legend of the states */
	cr_assert(strstr(dot, "[label=\"b\\nmanifest\\nprofile p\\nnew\", style=filled, "
			      "fillcolor=\"#bbdefb\"]"), "%s", dot);
	cr_assert(strstr(dot, "subgraph cluster__legend {\n    label=\"legend\";\n"), "%s", dot);
	const char *states[] = {"up to date", "dirty", "failed", "new", "removed"};
	for (int i = 0; i < 5; i++) {
		char want[60];
		snprintf(want, sizeof(want), "\"legend/%d\" [label=\"%s\"", i + 1, states[i]);
		cr_assert(strstr(dot, want), "no %s in the legend:\n%s", states[i], dot);
	}
	char *svg = tws_get(&t, "g.svg");
	cr_assert(svg && strstr(svg, "<svg"));
	free(dot);
	free(svg);
	res_free(&r);
	tws_free(&t);
}

/* graph --json: the graph of DESIGN §3 — layers, a barrier per tier, and
 * the edges between them (O(layers), not O(layers²)) */
Test(sync, graph_as_json_lines)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	fx_profile(&t, "two", NULL);
	struct res r = am(&t, "graph --json");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, "{\"kind\":\"tier\",\"cluster\":\"dev\""), 3, "%s", r.out);
	cr_assert_eq(count_lines(r.out, "{\"kind\":\"layer\""), 4, "%s", r.out);
	/* 4 layer→barrier edges, barrier -10 → a and b, barrier 0 → c */
	cr_assert_eq(count_lines(r.out, "{\"kind\":\"edge\""), 7, "%s", r.out);
	cr_assert(strstr(r.out, "{\"kind\":\"layer\",\"cluster\":\"dev\",\"id\":\"p/b\",\"name\":\"b\","
			      "\"profile\":\"p\",\"type\":\"manifest\",\"version\":null,\"order\":0,"
			      "\"state\":\"dirty\"}\n"), "%s", r.out);
	cr_assert(strstr(r.out, "{\"kind\":\"edge\",\"cluster\":\"dev\",\"from\":\"tier 0\",\"to\":\"p/c\"}\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "{\"kind\":\"edge\",\"cluster\":\"dev\",\"from\":\"p/c\",\"to\":\"tier 10\"}\n"),
		  "%s", r.out);
	/* every line is JSON */
	res_free(&r);
	r = am(&t, "graph --json | python3 -c 'import json,sys; [json.loads(l) for l in sys.stdin]'");
	assert_code(r, 0);
	res_free(&r);
	tws_free(&t);
}

/* status: columns that line up whatever the characters of the names, and
 * a changed layer's applied and new hash */
Test(sync, status_columns_line_up_and_show_both_hashes)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	fx_profile(&t, "one", "      - {name: café, type: manifest, manifests: [{name: m, content: 'kind: X'}]}\n"
			      "      - {name: 日本, type: manifest, manifests: [{name: m, content: 'kind: X'}]}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	fx_profile(&t, "two", "      - {name: café, type: manifest, manifests: [{name: m, content: 'kind: X'}]}\n"
			      "      - {name: 日本, type: manifest, manifests: [{name: m, content: 'kind: X'}]}\n");
	r = am(&t, "status");
	assert_code(r, 0);
	/* where TYPE and LAST APPLIED begin, on the screen: the same on every line */
	/* the table, then a line for the cluster: its layers by state */
	cr_assert(strstr(r.out, "\naddonmake: dev: 6 applied, 0 pending, 0 failed, 2 to apply\n"), "%s",
		  r.out);
	int type_col = -1, n = 0;
	for (char *line = strtok(r.out, "\n"); line && strncmp(line, "addonmake: ", 11);
	     line = strtok(NULL, "\n"), n++) {
		const char *p = strstr(line, n ? "manifest" : "TYPE");
		cr_assert(p, "%s", line);
		char pre[300];
		snprintf(pre, sizeof(pre), "%.*s", (int)(p - line), line);
		if (type_col < 0)
			type_col = text_width(pre);
		cr_assert_eq(text_width(pre), type_col, "misaligned: %s", line);
		if (strstr(line, "p/b "))
			cr_assert(strstr(line, " dirty ") && strstr(line, " → "), "%s", line);
		else if (n)
			cr_assert(!strstr(line, " → "), "%s", line);
	}
	cr_assert_eq(n, 7);
	res_free(&r);
	tws_free(&t);
}

Test(sync, quickstart_sample_runs)
{
	struct tws t;
	tws_init(&t);
	cr_assert_eq(tws_sh(&t, "cp -r '%s/samples/quickstart/.' . && rm -rf out .addonmake", getenv("ADDONMAKE_SRC")), 0);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": ready "), 4, "%s", r.out);
	res_free(&r);
	char *g = tws_get(&t, "out/dev/p00000_platform+greeter.yaml");
	cr_assert(strstr(g, "message: \"hello from dev\""), "%s", g);
	cr_assert(strstr(g, "replicas: 2"), "%s", g);
	free(g);
	char *s = tws_get(&t, "out/dev/p00010_apps+shop.yaml");
	cr_assert(strstr(s, "host: shop.dev.example"), "%s", s);
	cr_assert(strstr(s, "cluster: dev"), "%s", s);
	free(s);
	r = am(&t, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	tws_free(&t);
}

Test(sync, jobs_limit_runs_a_tier_one_layer_at_a_time)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, "sleep 0.2; ", NULL);
	struct res r = am(&t, "-j 1");
	assert_code(r, 0);
	char *log = tws_get(&t, "log");
	/* with -j 1 the two layers of tier 0 never overlap */
	cr_assert_not_null(log);
	int a_start = must_line(log, "start p/a"), a_end = must_line(log, "end p/a");
	int b_start = must_line(log, "start p/b"), b_end = must_line(log, "end p/b");
	cr_assert(a_end < b_start || b_end < a_start, "tier 0 ran two layers at once:\n%s", log);
	free(log);
	res_free(&r);
	tws_free(&t);
}

Test(sync, stat_cache_skips_unchanged_files_and_sees_every_edit)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	/* a layer whose manifest is a separate file, and a pack */
	fx_profile(&t, "one",
		   "      - {name: filed, type: manifest, manifests: [{name: m, file: m/cm.yaml}]}\n"
		   "      - {name: greeter, type: spectro, version: 1.0.0, registry: {metadata: {name: Local}}}\n");
	tws_put(&t, "m/cm.yaml", "kind: ConfigMap\ndata: {v: \"1\"}\n");
	tws_put(&t, "packs/greeter-1.0.0/pack.json", "{\"name\": \"greeter\", \"version\": \"1.0.0\", \"kubeManifests\": [\"manifests/g.yaml\"]}\n");
	tws_put(&t, "packs/greeter-1.0.0/values.yaml", "manifests:\n  g:\n    msg: hello\n");
	tws_put(&t, "packs/greeter-1.0.0/manifests/g.yaml", "kind: ConfigMap\ndata: {msg: \"{{ .Values.msg }}\"}\n");
	tws_put(&t, "addonmake.yaml",
		"registries: [{name: Local, kind: pack, url: file://packs}]\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	struct res r = am(&t, "-v");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "addonmake: dev: compiling (no stat cache yet)"), "%s", r.err);
	res_free(&r);
	r = am(&t, "-v");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	cr_assert(strstr(r.err, "addonmake: dev: layers taken from the stat cache (5 files unchanged)"), "%s", r.err);
	res_free(&r);
	/* each kind of input file is watched */
	const char *edits[][2] = {
		{"m/cm.yaml", "kind: ConfigMap\ndata: {v: \"2\"}\n"},
		{"packs/greeter-1.0.0/values.yaml", "manifests:\n  g:\n    msg: bonjour\n"},
		{"packs/greeter-1.0.0/manifests/g.yaml", "kind: ConfigMap\ndata: {msg: \"{{ .Values.msg }}!\"}\n"},
	};
	const char *layer[] = {"p/filed", "p/greeter", "p/greeter"};
	for (int i = 0; i < 3; i++) {
		tws_put(&t, edits[i][0], "%s", edits[i][1]);
		r = am(&t, "plan --json -v");
		char want[256];
		snprintf(want, sizeof(want), "addonmake: dev: compiling (%s changed)", edits[i][0]);
		cr_assert(strstr(r.err, want), "%s", r.err);
		snprintf(want, sizeof(want), "\"layer\":\"%s\",\"order\":0,\"action\":\"apply\",\"reason\":\"content changed\"", layer[i]);
		cr_assert(strstr(r.out, want), "edit %d not seen: %s", i, r.out);
		res_free(&r);
		r = am(&t, "-q");
		assert_code(r, 0);
		res_free(&r);
	}
	char *g = tws_get(&t, "out/p00000_p+greeter.yaml");
	cr_assert(strstr(g, "msg: \"bonjour!\""), "%s", g);
	free(g);
	/* a changed variable in the workspace file is seen too */
	tws_put(&t, "addonmake.yaml",
		"registries: [{name: Local, kind: pack, url: file://packs}]\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml], variables: {replicas: \"7\"}}\n");
	r = am(&t, "plan --json -v");
	cr_assert(strstr(r.err, "compiling (its configuration in the workspace file changed)"), "%s", r.err);
	cr_assert(strstr(r.out, "\"layer\":\"p/a\""), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(sync, values_can_refer_to_another_packs_values)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml",
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [base.yaml, app.yaml]}\n");
	tws_put(&t, "base.yaml", "metadata: {name: base}\nspec:\n  template:\n    packs:\n"
		"      - name: db\n        type: manifest\n        values: |\n          service:\n            port: 5432\n"
		"        manifests: [{name: m, content: 'kind: Service'}]\n");
	tws_put(&t, "app.yaml", "metadata: {name: app}\nspec:\n  template:\n    packs:\n"
		"      - name: web\n        type: manifest\n        values: |\n"
		"          pack: {spectrocloud.com/install-priority: \"5\"}\n"
		"          dbport: \"{{.spectro.pack.db.service.port}}\"\n"
		"        manifests: [{name: m, content: 'kind: ConfigMap'}]\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	/* the referenced value reaches the layer's hash: changing it
	 * re-applies the referring layer */
	tws_put(&t, "base.yaml", "metadata: {name: base}\nspec:\n  template:\n    packs:\n"
		"      - name: db\n        type: manifest\n        values: |\n          service:\n            port: 6543\n"
		"        manifests: [{name: m, content: 'kind: Service'}]\n");
	r = am(&t, "plan --json");
	cr_assert(strstr(r.out, "\"layer\":\"base/db\",\"order\":0,\"action\":\"apply\",\"reason\":\"content changed\""), "%s", r.out);
	cr_assert(strstr(r.out, "\"layer\":\"app/web\",\"order\":5,\"action\":\"apply\",\"reason\":\"content changed\""), "%s", r.out);
	res_free(&r);
	r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	r = am(&t, "plan --json");
	cr_assert_str_eq(r.out, "");
	res_free(&r);
	tws_put(&t, "app.yaml", "metadata: {name: app}\nspec:\n  template:\n    packs:\n"
		"      - name: web\n        type: manifest\n        values: |\n"
		"          dbport: \"{{.spectro.pack.nosuch.port}}\"\n");
	r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "app.yaml:8:20: error: unknown pack \"nosuch\""), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

Test(sync, real_manifest_packs_render)
{
	const char *data = shared_data();
	if (!data)
		cr_skip_test("../shared/data is not here");
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml",
		"registries: [{name: Palette Registry, kind: pack, url: \"file://%s/packs\"}]\n"
		"clusters:\n  - name: dev\n    target: {render: {dir: out}}\n    profiles: [p.yaml]\n"
		"    macros: {apiServer: \"api.dev.example:6443\"}\n", data);
	tws_put(&t, "p.yaml", "metadata: {name: real}\nspec:\n  template:\n    packs:\n"
		"      - {name: hello-universe, type: oci, version: 1.3.1, registry: {metadata: {name: Palette Registry}}}\n"
		"      - {name: permission-manager, type: oci, version: 1.0.0, registry: {metadata: {name: Palette Registry}}}\n"
		"      - {name: tekton-chains, type: oci, version: 0.12.0, registry: {metadata: {name: Palette Registry}}}\n"
		"      - name: external-snapshotter\n        type: oci\n        version: 4.0.1\n"
		"        registry: {metadata: {name: Palette Registry}}\n"
		"        values: |\n          manifests:\n            vsclass: {isDefaultClass: false}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	/* the published vsclass.yaml opens an if it never closes */
	cr_assert(strstr(r.err, "external-snapshotter-4.0.1/manifests/vsclass.yaml:6:5: warning: {{ if }} has no {{ end }}"), "%s", r.err);
	res_free(&r);
	char *h = tws_get(&t, "out/p00000_real+hello-universe.yaml");
	cr_assert(strstr(h, "kind: Deployment") && strstr(h, "replicas: 1") &&
		  strstr(h, "image: ghcr.io/spectrocloud/hello-universe:1.3.2") &&
		  strstr(h, "namespace: hello-universe"), "%s", h);
	cr_assert(!strstr(h, "hello-universe-api"), "apiEnabled is false: no API objects\n%s", h);
	free(h);
	char *p = tws_get(&t, "out/p00000_real+permission-manager.yaml");
	cr_assert(strstr(p, "value: \"dev\""), "the cluster name from .Spectro.cluster");
	cr_assert(strstr(p, "value: \"https://api.dev.example:6443\""), "printf over .Spectro.apiServer");
	free(p);
	char *e = tws_get(&t, "out/p00000_real+external-snapshotter.yaml");
	cr_assert(strstr(e, "kind: VolumeSnapshotClass\nmetadata:\n  name: \"spectro-vsclass\"\n"), "%s", e);
	cr_assert_geq(count_lines(e, "kind: CustomResourceDefinition"), 3);
	free(e);
	cr_assert(tws_exists(&t, "out/p00000_real+tekton-chains.yaml"));
	/* with the pack's default values, its stray "{- end}" text is reported
	 * where it is */
	tws_put(&t, "p.yaml", "metadata: {name: real}\nspec:\n  template:\n    packs:\n"
		"      - {name: external-snapshotter, type: oci, version: 4.0.1, registry: {metadata: {name: Palette Registry}}}\n");
	r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "external-snapshotter-4.0.1/manifests/vsclass.yaml:8:1: error: malformed YAML"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

/* profiles past 2 MiB in all are not kept loaded: each tier loads its
 * layers again. Both ways apply the same, and an edit is seen. */
Test(sync, a_large_workspace_is_loaded_again_per_tier_with_the_same_result)
{
	struct tws small, large;
	tws_init(&small);
	tws_init(&large);
	fx_render_ws(&small);
	fx_render_ws(&large);
	char *p = tws_get(&large, "p.yaml");
	size_t n = 2200000;
	char *pad = malloc(n + 1);
	memset(pad, 'x', n);
	pad[0] = '#';
	pad[n] = 0;
	tws_put(&large, "p.yaml", "%s%s\n", p, pad);
	free(pad);
	free(p);
	struct res rs = am(&small, "sync"), rl = am(&large, "sync");
	assert_code(rs, 0);
	assert_code(rl, 0);
	/* the layers of a tier finish in any order */
	cr_assert_eq(count_lines(rl.out, ": ready "), 4, "%s", rl.out);
	cr_assert_eq(count_lines(rs.out, ": ready "), 4, "%s", rs.out);
	const char *files[] = {"out/n99990_p+crds.yaml", "out/p00000_p+a.yaml", "out/p00000_p+b.yaml",
			       "out/p00010_p+c.yaml"};
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		char *a = tws_get(&small, files[i]), *b = tws_get(&large, files[i]);
		cr_assert(a && b, "%s is missing", files[i]);
		cr_assert_str_eq(b, a, "%s differs", files[i]);
		free(a);
		free(b);
	}
	res_free(&rs);
	res_free(&rl);
	/* b's value changes: b and the tier after it are applied again */
	p = tws_get(&large, "p.yaml");
	char *at = strstr(p, "setting: one");
	cr_assert(at);
	memcpy(at, "setting: two", 12);
	tws_put(&large, "p.yaml", "%s", p);
	free(p);
	rl = am(&large, "sync");
	assert_code(rl, 0);
	cr_assert_eq(count_lines(rl.out, ": ready "), 2, "%s", rl.out);
	cr_assert(strstr(rl.out, "ready p/b (order 0)") && strstr(rl.out, "ready p/c (order 10)"), "%s",
		  rl.out);
	res_free(&rl);
	tws_free(&small);
	tws_free(&large);
}
