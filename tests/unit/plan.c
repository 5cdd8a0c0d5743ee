/* unit tests of planning: the readiness schedule and every dirtiness
 * reason of DESIGN §6, against a real LMDB store. */
#include <criterion/criterion.h>
#include <string.h>
#include "../../src/plan.h"
#include "../testutil.h"

Test(schedule, doubles_from_one_second_capped_at_interval)
{
	int64_t want[] = {1000, 2000, 4000, 8000, 16000, 32000, 64000, 120000, 120000};
	for (int k = 0; k < 9; k++)
		cr_assert_eq(ready_delay_ms(k, 120000), want[k], "k=%d", k);
	cr_assert_eq(ready_delay_ms(0, 300), 300);
	cr_assert_eq(ready_delay_ms(5, 300), 300);
}

struct fx {
	struct tws t;
	struct workspace w;
	struct diag d;
	struct store *st;
	struct buf err;
};

static void
load(struct fx *f, int replicas)
{
	tws_put(&f->t, "addonmake.yaml",
		"clusters:\n  - name: dev\n    target: {render: {dir: out}}\n"
		"    profiles: [p.yaml]\n    variables: {replicas: \"%d\"}\n", replicas);
	tws_put(&f->t, "p.yaml",
		"metadata: {name: p}\nspec:\n  variables: [{name: replicas, defaultValue: \"1\"}]\n"
		"  template:\n    packs:\n"
		"      - {name: crds, type: manifest, values: \"pack: {spectrocloud.com/install-priority: '-1'}\",\n"
		"         manifests: [{name: m, content: 'kind: CustomResourceDefinition'}]}\n"
		"      - {name: a, type: manifest, manifests: [{name: m, content: 'replicas: {{.spectro.var.replicas}}'}]}\n"
		"      - {name: b, type: manifest, manifests: [{name: m, content: 'kind: B'}]}\n"
		"      - {name: c, type: manifest, values: \"pack: {spectrocloud.com/install-priority: '5'}\",\n"
		"         manifests: [{name: m, content: 'kind: C'}]}\n");
	char path[512];
	snprintf(path, sizeof(path), "%s/addonmake.yaml", f->t.dir);
	memset(&f->w, 0, sizeof(f->w));
	cr_assert_eq(ws_load(&f->w, path, &f->d), 0);
	cr_assert_eq(cluster_compile(&f->w, &f->w.clusters[0], NULL, &f->d), 0);
}

static struct layer *
L(struct fx *f, const char *id)
{
	long i = graph_find(&f->w.clusters[0].g, id);
	cr_assert_geq(i, 0, "%s", id);
	return f->w.clusters[0].g.nodes[i].data;
}

static void
plan(struct fx *f, int force)
{
	struct plan_opts o = {.force = force};
	cr_assert_eq(plan_cluster(f->st, &f->w.clusters[0], &o, &f->w.a, &f->err), 0, "%s", f->err.s);
}

static void
record_all(struct fx *f, int status)
{
	struct cluster *c = &f->w.clusters[0];
	for (size_t i = 0; i < c->nlayers; i++) {
		struct layer_rec r = {0};
		r.hash = c->layers[i]->hash;
		r.order = c->layers[i]->order;
		r.status = status;
		struct store_put p = {c->layers[i]->id, &r};
		cr_assert_eq(store_write(f->st, "dev", &p, 1, &f->err), 0);
	}
}

static void
setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	tws_init(&f->t);
	load(f, 1);
	char sd[512];
	snprintf(sd, sizeof(sd), "%s/state", f->t.dir);
	cr_assert_eq(store_open(&f->st, sd, 0, &f->err), 0);
}

static void
teardown(struct fx *f)
{
	store_close(f->st);
	ws_free(&f->w);
	diag_free(&f->d);
	buf_free(&f->err);
	tws_free(&f->t);
}

Test(plan, reasons_in_order)
{
	struct fx f;
	setup(&f);
	plan(&f, 0);
	cr_assert_str_eq(L(&f, "p/a")->plan.reason, "new layer");
	record_all(&f, LS_READY);
	plan(&f, 0);
	cr_assert_eq(plan_count_dirty(&f.w.clusters[0]), 0);
	plan(&f, 1);
	cr_assert_str_eq(L(&f, "p/crds")->plan.reason, "forced");
	/* -B is why every layer is applied, though an earlier tier is dirty
	 * too: --explain says forced */
	cr_assert_str_eq(L(&f, "p/b")->plan.reason, "forced");
	cr_assert_str_eq(L(&f, "p/c")->plan.reason, "forced");
	/* a changed variable: only the layer that uses it, plus later tiers */
	ws_free(&f.w);
	load(&f, 2);
	plan(&f, 0);
	cr_assert_str_eq(L(&f, "p/a")->plan.reason, "content changed");
	cr_assert(!L(&f, "p/b")->plan.dirty, "same tier, unchanged: not re-applied");
	cr_assert(!L(&f, "p/crds")->plan.dirty, "earlier tier: not re-applied");
	cr_assert_str_eq(L(&f, "p/c")->plan.reason, "earlier tier changed: p/a (order 0)");
	cr_assert_eq(plan_count_dirty(&f.w.clusters[0]), 2);
	teardown(&f);
}

Test(plan, unfinished_statuses)
{
	struct fx f;
	setup(&f);
	record_all(&f, LS_READY);
	struct layer_rec r = {0};
	r.hash = L(&f, "p/b")->hash;
	r.status = LS_FAILED;
	struct store_put p = {"p/b", &r};
	cr_assert_eq(store_write(f.st, "dev", &p, 1, &f.err), 0);
	plan(&f, 0);
	cr_assert_str_eq(L(&f, "p/b")->plan.reason, "last apply failed");
	cr_assert_str_eq(L(&f, "p/c")->plan.reason, "earlier tier changed: p/b (order 0)");
	cr_assert(!L(&f, "p/a")->plan.dirty);
	r.status = LS_INTERRUPTED;
	cr_assert_eq(store_write(f.st, "dev", &p, 1, &f.err), 0);
	plan(&f, 0);
	cr_assert_str_eq(L(&f, "p/b")->plan.reason, "last apply interrupted");
	r.status = LS_PENDING;
	cr_assert_eq(store_write(f.st, "dev", &p, 1, &f.err), 0);
	plan(&f, 0);
	cr_assert_str_eq(L(&f, "p/b")->plan.reason, "pending from an interrupted run");
	teardown(&f);
}

Test(plan, removed_layers_highest_order_first)
{
	struct fx f;
	setup(&f);
	struct layer_rec r = {0};
	r.status = LS_READY;
	r.order = 3;
	struct store_put p1 = {"old/low", &r};
	cr_assert_eq(store_write(f.st, "dev", &p1, 1, &f.err), 0);
	r.order = 30;
	struct store_put p2 = {"old/high", &r};
	cr_assert_eq(store_write(f.st, "dev", &p2, 1, &f.err), 0);
	plan(&f, 0);
	cr_assert_eq(f.w.clusters[0].nremoved, 2);
	cr_assert_str_eq(f.w.clusters[0].removed[0].id, "old/high");
	cr_assert_str_eq(f.w.clusters[0].removed[1].id, "old/low");
	teardown(&f);
}

Test(plan, named_layers_and_what_follows)
{
	struct fx f;
	setup(&f);
	char *only[] = {"p/b", NULL};
	struct plan_opts o = {.only = only};
	cr_assert_eq(plan_cluster(f.st, &f.w.clusters[0], &o, &f.w.a, &f.err), 0);
	cr_assert(L(&f, "p/b")->plan.dirty);
	cr_assert(!L(&f, "p/a")->plan.dirty, "not named, same tier");
	cr_assert(!L(&f, "p/crds")->plan.dirty, "not named, earlier tier");
	cr_assert(L(&f, "p/c")->plan.dirty, "a later tier follows a named dirty layer");
	teardown(&f);
}
