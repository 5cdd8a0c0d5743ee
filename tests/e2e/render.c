/* e2e render: the render target's files — one per layer, never shared by
 * two layers, sorting in install order; a file deleted or edited by hand
 * is written again, as ninja rebuilds a missing output. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

/* a manifest layer: name, install order, and a ConfigMap of that name */
static void
layer(struct buf *b, const char *name, const char *order)
{
	buf_printf(b,
		   "      - name: \"%s\"\n        type: manifest\n"
		   "        values: \"pack: {spectrocloud.com/install-priority: '%s'}\"\n"
		   "        manifests: [{name: m, content: \"kind: ConfigMap\\nmetadata: {name: x}\\n"
		   "data: {layer: '%s'}\\n\"}]\n", name, order, name);
}

static void
profile(struct tws *t, const char *file, const char *name, struct buf *packs)
{
	tws_put(t, file, "metadata: {name: \"%s\"}\nspec:\n  template:\n    packs:\n%s", name,
		packs->s ? packs->s : "      []\n");
}

static void
render_ws(struct tws *t, const char *profiles)
{
	tws_put(t, "addonmake.yaml", "clusters:\n  - {name: dev, target: {render: {dir: out}}, "
		"profiles: [%s]}\n", profiles);
}

/* ls of out/ in a locale, one name a line */
static char *
ls_out(struct tws *t, const char *locale)
{
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "cd '%s/out' && LC_ALL=%s ls", t->dir, locale);
	return sh_out(cmd);
}

Test(render, names_never_collide_and_sort_in_install_order)
{
	struct tws t;
	tws_init(&t);
	struct buf a = {0}, b = {0};
	/* team_a/ingress and team/a_ingress; café and cafè */
	layer(&a, "ingress", "0");
	layer(&a, "café", "-25");
	layer(&a, "cafè", "-31");
	layer(&a, "ten", "10");
	layer(&a, "five", "5");
	layer(&a, "last", "99999");
	layer(&a, "first", "-99999");
	layer(&b, "a_ingress", "0");
	profile(&t, "a.yaml", "team_a", &a);
	profile(&t, "b.yaml", "team", &b);
	render_ws(&t, "a.yaml, b.yaml");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	const char *want =
		"n00001_team_a+first.yaml\n"
		"n99969_team_a+caf%C3%A8.yaml\n"
		"n99975_team_a+caf%C3%A9.yaml\n"
		"p00000_team+a_ingress.yaml\n"
		"p00000_team_a+ingress.yaml\n"
		"p00005_team_a+five.yaml\n"
		"p00010_team_a+ten.yaml\n"
		"p99999_team_a+last.yaml\n";
	/* in install order for ls and sort, in the C locale and a UTF-8 one
	 * (whose collation skips punctuation) */
	const char *locales[] = {"C", "C.UTF-8"};
	for (int i = 0; i < 2; i++) {
		char *ls = ls_out(&t, locales[i]);
		cr_assert_str_eq(ls, want, "LC_ALL=%s ls out:\n%s", locales[i], ls);
		free(ls);
	}
	char *sorted = sh_out("printf 'p00010_a+b.yaml\\nn99975_a+b.yaml\\np00005_a+b.yaml\\n"
			      "n99969_a+b.yaml\\n' | LC_ALL=C.UTF-8 sort");
	cr_assert_str_eq(sorted, "n99969_a+b.yaml\nn99975_a+b.yaml\np00005_a+b.yaml\np00010_a+b.yaml\n");
	free(sorted);
	/* each file holds its own layer */
	char *f = tws_get(&t, "out/p00000_team+a_ingress.yaml");
	cr_assert(strstr(f, "layer: \"a_ingress\""), "%s", f);
	free(f);
	f = tws_get(&t, "out/p00000_team_a+ingress.yaml");
	cr_assert(strstr(f, "layer: \"ingress\""), "%s", f);
	free(f);
	/* a rename and a prune leave the other layer's file */
	buf_clear(&b);
	layer(&b, "b_ingress", "0");
	profile(&t, "b.yaml", "team", &b);
	r = am(&t, "sync --prune");
	assert_code(r, 0);
	res_free(&r);
	cr_assert(tws_exists(&t, "out/p00000_team_a+ingress.yaml"), "the survivor's file was deleted");
	cr_assert(tws_exists(&t, "out/p00000_team+b_ingress.yaml"));
	cr_assert(!tws_exists(&t, "out/p00000_team+a_ingress.yaml"));
	r = am(&t, "status");
	cr_assert_eq(count_lines(r.out, "up to date"), 8, "%s", r.out);
	res_free(&r);
	buf_free(&a);
	buf_free(&b);
	tws_free(&t);
}

/* a case-insensitive file system (macOS, Windows) would keep one file */
Test(render, names_that_differ_only_in_case_are_an_error)
{
	struct tws t;
	tws_init(&t);
	struct buf a = {0};
	layer(&a, "Web", "0");
	layer(&a, "web", "0");
	layer(&a, "WEB", "1"); /* another order: another name */
	profile(&t, "a.yaml", "p", &a);
	render_ws(&t, "a.yaml");
	struct res r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "a.yaml:9:9: error: layers p/Web and p/web (a.yaml:5:9) would render "
				"to files whose names differ only in case (p00000_p+web.yaml)"), "%s", r.err);
	cr_assert_eq(count_lines(r.err, "error:"), 1, "%s", r.err);
	res_free(&r);
	buf_free(&a);
	tws_free(&t);
}

Test(render, an_install_order_out_of_range_says_the_range)
{
	struct tws t;
	tws_init(&t);
	struct buf a = {0};
	layer(&a, "big", "100000");
	layer(&a, "small", "-100000");
	layer(&a, "ok", "-99999");
	profile(&t, "a.yaml", "p", &a);
	render_ws(&t, "a.yaml");
	struct res r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "a.yaml:7:60: error: install-priority \"100000\" of pack \"big\" is out of "
				"range (install orders are integers from -99999 to 99999)"), "%s", r.err);
	cr_assert(strstr(r.err, "install-priority \"-100000\" of pack \"small\" is out of range"), "%s", r.err);
	cr_assert_eq(count_lines(r.err, "error:"), 2, "%s", r.err);
	res_free(&r);
	buf_free(&a);
	tws_free(&t);
}

Test(render, two_clusters_cannot_render_into_one_directory)
{
	struct tws t;
	tws_init(&t);
	fx_profile(&t, "one", NULL);
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n"
		"  - {name: lab, target: {render: {dir: ./out/}}, profiles: [p.yaml]}\n");
	struct res r = am(&t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "addonmake.yaml:3:5: error: clusters dev and lab (line 2) both render "
				"into ./out/; give each a dir: of its own"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

/* the apply events of a run, one line each */
static int
applied(const struct res *r)
{
	return count_lines(r->out, ": apply ");
}

Test(render, a_deleted_or_edited_output_is_written_again)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	char *b0 = tws_get(&t, "out/p00000_p+b.yaml");
	tws_rm(&t, "out/p00000_p+b.yaml");
	cr_assert_eq(tws_sh(&t, "echo '# mine' >> out/n99990_p+crds.yaml"), 0);
	struct res r = am(&t, "plan --json");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "{\"cluster\":\"dev\",\"layer\":\"p/b\",\"order\":0,\"action\":\"apply\","
				"\"reason\":\"output missing\"}"), "%s", r.out);
	cr_assert(strstr(r.out, "\"layer\":\"p/crds\",\"order\":-10,\"action\":\"apply\","
				"\"reason\":\"output changed\"}"), "%s", r.out);
	/* nothing changed in their inputs: later tiers stay as they are */
	cr_assert_eq(count_lines(r.out, "\"action\":\"apply\""), 2, "%s", r.out);
	res_free(&r);
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_eq(applied(&r), 2, "%s", r.out);
	res_free(&r);
	char *b1 = tws_get(&t, "out/p00000_p+b.yaml");
	cr_assert_str_eq(b1, b0);
	char *crds = tws_get(&t, "out/n99990_p+crds.yaml");
	cr_assert(!strstr(crds, "# mine"), "%s", crds);
	free(crds);
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	/* a new modification time is a change too (a restored backup, an
	 * editor that wrote the same bytes) */
	cr_assert_eq(tws_sh(&t, "touch -d '2001-01-01' out/p00010_p+c.yaml"), 0);
	r = am(&t, "sync --explain");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "addonmake explain: dev: p/c: output changed"), "%s", r.out);
	cr_assert_eq(applied(&r), 1, "%s", r.out);
	res_free(&r);
	free(b0);
	free(b1);
	tws_free(&t);
}

/* the stat that finds a changed output compares size, modification time
 * and inode: an edit that keeps the time (touch -r) or a copy put in its
 * place with the same size and time (cp -p of a backup) is still seen */
Test(render, an_output_changed_behind_its_time_is_seen)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	/* longer, same time */
	cr_assert_eq(tws_sh(&t, "f=out/p00000_p+b.yaml && touch -r $f ref && echo '# mine' >> $f && "
			    "touch -r ref $f"), 0);
	/* another file, same size and time */
	cr_assert_eq(tws_sh(&t, "f=out/p00010_p+c.yaml && sed 's/c/C/' $f > new && touch -r $f new && "
			    "test $(wc -c < new) = $(wc -c < $f) && mv new $f"), 0);
	struct res r = am(&t, "plan --json");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "{\"cluster\":\"dev\",\"layer\":\"p/b\",\"order\":0,\"action\":\"apply\","
				"\"reason\":\"output changed\"}"), "%s", r.out);
	cr_assert(strstr(r.out, "{\"cluster\":\"dev\",\"layer\":\"p/c\",\"order\":10,\"action\":\"apply\","
				"\"reason\":\"output changed\"}"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* a layer whose install order changes renders under its new name, and
 * its old file goes (else `kubectl apply -f out/` would apply it twice,
 * once in the old order) */
Test(render, a_new_install_order_removes_the_old_file)
{
	struct tws t;
	tws_init(&t);
	struct buf a = {0};
	layer(&a, "web", "5");
	layer(&a, "db", "7");
	profile(&t, "p.yaml", "p", &a);
	render_ws(&t, "p.yaml");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *ls = ls_out(&t, "C");
	cr_assert_str_eq(ls, "p00005_p+web.yaml\np00007_p+db.yaml\n");
	free(ls);
	buf_clear(&a);
	layer(&a, "web", "20");
	layer(&a, "db", "7");
	profile(&t, "p.yaml", "p", &a);
	r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	ls = ls_out(&t, "C");
	cr_assert_str_eq(ls, "p00007_p+db.yaml\np00020_p+web.yaml\n");
	free(ls);
	buf_free(&a);
	tws_free(&t);
}

/* the check of the outputs is a stat: a no-op run reads none of them (an
 * unreadable output does not stop it) */
Test(render, the_output_check_reads_no_file)
{
	if (geteuid() == 0 &&
	    system("setpriv --bounding-set=-dac_override,-dac_read_search true 2>/dev/null") != 0)
		cr_skip_test("root cannot drop CAP_DAC_OVERRIDE here (setpriv)");
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	cr_assert_eq(tws_sh(&t, "chmod 000 out/*.yaml"), 0);
	struct res r = am_sh(&t, geteuid() == 0 ? "setpriv --bounding-set=-dac_override,-dac_read_search " : "",
			     "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	tws_free(&t);
}

/* what the kube target would apply: the layer's Namespace first, then the
 * objects in its order of kinds (CRDs, RBAC, ConfigMaps, the rest, custom
 * resources), each labelled, with the layer's namespace when it is
 * namespaced and names none */
Test(render, files_hold_what_the_kube_target_applies)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "addonmake.yaml",
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	tws_put(&t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - name: web\n        type: manifest\n"
		"        values: \"pack: {namespace: web}\"\n"
		"        manifests:\n          - name: m\n            content: |\n"
		"              apiVersion: example.com/v1\n              kind: Gadget\n"
		"              metadata: {name: g}\n              ---\n"
		"              apiVersion: example.com/v1\n              kind: Widget\n"
		"              metadata: {name: w}\n              ---\n"
		"              apiVersion: apps/v1\n              kind: Deployment\n"
		"              metadata: {name: d}\n              ---\n"
		"              apiVersion: v1\n              kind: ConfigMap\n"
		"              metadata: {name: c, namespace: other}\n              ---\n"
		"              apiVersion: rbac.authorization.k8s.io/v1\n              kind: ClusterRole\n"
		"              metadata: {name: r}\n              ---\n"
		"              apiVersion: apiextensions.k8s.io/v1\n              kind: CustomResourceDefinition\n"
		"              metadata: {name: gadgets.example.com}\n"
		"              spec: {group: example.com, scope: Cluster, names: {kind: Gadget, plural: gadgets}}\n"
		"      - name: own\n        type: manifest\n"
		"        values: \"pack: {namespace: mine}\"\n"
		"        manifests:\n          - name: m\n            content: |\n"
		"              apiVersion: v1\n              kind: ConfigMap\n"
		"              metadata: {name: c}\n              ---\n"
		"              apiVersion: v1\n              kind: Namespace\n"
		"              metadata: {name: mine}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *f = tws_get(&t, "out/p00000_p+web.yaml");
	const char *lab = "  labels:\n    app.kubernetes.io/managed-by: \"addonmake\"\n"
			  "    addonmake.io/layer: \"";
	/* kinds and namespaces, in order, one a document */
	struct buf got = {0};
	for (const char *p = f; (p = strstr(p, "\nkind: ")); p++) {
		const char *e = strchr(p + 7, '\n');
		buf_add(&got, p + 7, (size_t)(e - p - 7));
		const char *next = strstr(p + 1, "\n---");
		const char *ns = strstr(p, "\n  namespace: ");
		if (ns && (!next || ns < next)) {
			const char *ne = strchr(ns + 14, '\n');
			buf_adds(&got, " in ");
			buf_add(&got, ns + 14, (size_t)(ne - ns - 14));
		}
		buf_addc(&got, ';');
		cr_assert(strstr(p, lab) && (!next || strstr(p, lab) < next), "unlabelled: %s", p);
	}
	cr_assert_str_eq(got.s, "Namespace;CustomResourceDefinition;ClusterRole;ConfigMap in other;"
				"Deployment in \"web\";Gadget;Widget in \"web\";", "%s", f);
	free(f);
	/* a layer that applies its Namespace itself has it once */
	f = tws_get(&t, "out/p00000_p+own.yaml");
	cr_assert_eq(count_lines(f, "kind: Namespace"), 1, "%s", f);
	cr_assert(strstr(f, "kind: Namespace\nmetadata:\n  name: mine\n"), "%s", f);
	free(f);
	buf_free(&got);
	tws_free(&t);
}

/* the workspace as a fresh clone of a repository that commits the
 * rendered directory sees it: no state, files of new inodes and times */
static void
fresh_clone(struct tws *t)
{
	cr_assert_eq(tws_sh(t, "rm -r .addonmake && cp -r out o2 && rm -r out && mv o2 out"), 0);
}

/* the rendered files are the truth where there are no records: a fresh
 * clone that has them is a no-op; a file edited by hand, an edit of the
 * profile and a removed layer are seen from there as on the machine that
 * rendered them; a file that is not a layer's is left alone */
Test(render, a_fresh_clone_with_the_rendered_files_is_a_no_op)
{
	struct tws t;
	tws_init(&t);
	struct buf p = {0}, q = {0};
	layer(&p, "a", "0");
	layer(&p, "b", "10");
	buf_adds(&q, p.s);
	layer(&p, "c", "20");
	render_ws(&t, "p.yaml");
	profile(&t, "p.yaml", "p", &p);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	fresh_clone(&t);
	r = am(&t, "-v sync");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "dev: 3 layer records read from its rendered files"), "%s", r.err);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	/* an edited file is not what its first line names: written again */
	fresh_clone(&t);
	cr_assert_eq(tws_sh(&t, "echo '# mine' >> out/p00010_p+b.yaml"), 0);
	tws_put(&t, "out/notes.yaml", "# addonmake: hash=beef\nkind: ConfigMap\n");
	tws_put(&t, "out/mine.yaml", "kind: Secret\n");
	r = am(&t, "sync --explain");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "addonmake explain: dev: p/b: new layer"), "%s", r.out);
	cr_assert(strstr(r.out, "addonmake explain: dev: p/c: earlier tier changed"), "%s", r.out);
	cr_assert_eq(count_lines(r.out, ": ready "), 2, "%s", r.out);
	res_free(&r);
	char *notes = tws_get(&t, "out/notes.yaml"), *mine = tws_get(&t, "out/mine.yaml");
	cr_assert_str_eq(notes, "# addonmake: hash=beef\nkind: ConfigMap\n");
	cr_assert_str_eq(mine, "kind: Secret\n");
	free(notes);
	free(mine);
	/* an edit of the profile: that layer and the tiers after it */
	fresh_clone(&t);
	buf_clear(&p);
	layer(&p, "a", "0");
	layer(&p, "b", "10");
	layer(&p, "c", "20");
	char *edit = strstr(p.s, "data: {layer: 'b'}");
	cr_assert(edit);
	edit[15] = 'B';
	profile(&t, "p.yaml", "p", &p);
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": ready "), 2, "%s", r.out);
	cr_assert(strstr(r.out, "ready p/b") && strstr(r.out, "ready p/c"), "%s", r.out);
	res_free(&r);
	/* a layer removed, pruned from a fresh clone: its file goes, no other */
	fresh_clone(&t);
	profile(&t, "p.yaml", "p", &q);
	r = am(&t, "sync --prune");
	assert_code(r, 0);
	res_free(&r);
	cr_assert(!tws_exists(&t, "out/p00020_p+c.yaml"));
	cr_assert(tws_exists(&t, "out/p00000_p+a.yaml") && tws_exists(&t, "out/p00010_p+b.yaml") &&
		  tws_exists(&t, "out/notes.yaml"));
	r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	buf_free(&p);
	buf_free(&q);
	tws_free(&t);
}

/* diff on the render target: a unified diff of each file as it is against
 * the file a sync would write; a removed layer's file as a deletion;
 * nothing written */
Test(render, diff_compares_the_rendered_files)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r = am(&t, "diff --all");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no differences.\n", "%s", r.err);
	res_free(&r);
	cr_assert_eq(tws_sh(&t, "sed -i 's/defaultValue: \"1\"/defaultValue: \"3\"/; /- name: c$/,$d' p.yaml"), 0);
	char *before = fx_snapshot(&t);
	r = am(&t, "diff");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "dev: p/a (order 0): file out/p00000_p+a.yaml (change)\n--- live\n+++ desired\n"
			 "@@ -1,5 +1,5 @@\n-# addonmake: hash=") &&
		  strstr(r.out, "\n ---\n kind: Deployment\n spec:\n-  replicas: 1\n+  replicas: 3\n"), "%s", r.out);
	cr_assert(strstr(r.out, "dev: p/c (order 10): file out/p00010_p+c.yaml (delete: the layer left the "
			 "profiles; prune deletes it)\n"), "%s", r.out);
	cr_assert(strstr(r.out, "addonmake: 2 objects differ in 2 layers: 0 to create, 1 to change, 1 to "
			 "delete.\n"), "%s", r.out);
	res_free(&r);
	char *after = fx_snapshot(&t);
	cr_assert_str_eq(before, after, "diff wrote");
	free(before);
	free(after);
	tws_free(&t);
}
