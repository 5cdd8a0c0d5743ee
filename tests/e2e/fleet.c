/* e2e fleet: the clusters of a workspace as a fleet — `addonmake clusters`
 * as a CI matrix, and --shard I/N: every cluster in exactly one shard,
 * shards balanced by layers, the same split whatever order the workspace
 * lists the clusters in. */
#include <stdio.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

#define NCL 23

/* NCL render clusters c00..c22; cluster i has a profile of (i * 7) % 11 + 1
 * layers; listed in reverse with rev */
static void
fleet_ws(struct tws *t, int rev)
{
	struct buf ws = {0};
	buf_adds(&ws, "clusters:\n");
	for (int k = 0; k < NCL; k++) {
		int i = rev ? NCL - 1 - k : k;
		buf_printf(&ws, "  - {name: c%02d, target: {render: {dir: out/c%02d}}, profiles: [p%02d.yaml]}\n",
			   i, i, i);
		struct buf p = {0};
		buf_printf(&p, "metadata: {name: p%02d}\nspec:\n  template:\n    packs:\n", i);
		for (int l = 0; l < (i * 7) % 11 + 1; l++)
			buf_printf(&p, "      - {name: l%d, type: manifest, manifests: [{name: m, content: "
				   "\"kind: ConfigMap\"}]}\n", l);
		char f[16];
		snprintf(f, sizeof(f), "p%02d.yaml", i);
		tws_put(t, f, "%s", p.s);
		buf_free(&p);
	}
	tws_put(t, "addonmake.yaml", "%s", ws.s);
	buf_free(&ws);
}

static int
layers_of(int i)
{
	return (i * 7) % 11 + 1;
}

Test(fleet, clusters_is_a_ci_matrix_in_chunks)
{
	struct tws t;
	tws_init(&t);
	fleet_ws(&t, 0);
	struct res r = am(&t, "clusters --json");
	assert_code(r, 0);
	const char *head = "{\"include\":[{\"cluster\":\"c00\",\"target\":\"render\",\"layers\":1,"
			   "\"profiles\":[\"p00.yaml\"]},{\"cluster\":\"c01\",";
	cr_assert(!strncmp(r.out, head, strlen(head)), "%s", r.out);
	/* one line, for a job's output and fromJSON */
	cr_assert(strchr(r.out, '\n') == r.out + strlen(r.out) - 1, "%s", r.out);
	res_free(&r);
	r = am(&t, "clusters --json --chunk 10");
	assert_code(r, 0);
	/* 23 in chunks of 10: 10, 10, 3 */
	cr_assert_eq(count_of(r.out, "{\"include\":["), 3, "%s", r.out);
	cr_assert(r.out[0] == '[' && strstr(r.out, "\"c09\"") < strstr(r.out, "]},{\"include\":[{\"cluster\":\"c10\""),
		  "%s", r.out);
	res_free(&r);
	r = am(&t, "clusters");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "CLUSTER ") && strstr(r.out, "\nc03 ") && strstr(r.out, " render ") &&
		  strstr(r.out, "p22.yaml\n"), "%s", r.out);
	res_free(&r);
	r = am(&t, "clusters --chunk 0");
	assert_code(r, 2);
	res_free(&r);
	r = am(&t, "clusters --shard 3/3");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "--shard 3/3: the index must be a number from 0 to 2"), "%s", r.err);
	res_free(&r);
	r = am(&t, "clusters --shard auto/3");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "JOB_COMPLETION_INDEX is not set"), "%s", r.err);
	res_free(&r);
	r = am_sh(&t, "env JOB_COMPLETION_INDEX=2 ", "clusters --json --shard auto/3");
	struct res s = am(&t, "clusters --json --shard 2/3");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, s.out);
	res_free(&r);
	res_free(&s);
	tws_free(&t);
}

/* the shards of N, for N from 1 to NCL + 2: disjoint, together the whole
 * fleet, no two further apart in layers than the largest cluster, and
 * the same when the workspace lists the clusters the other way round */
Test(fleet, shards_cover_the_fleet_once_balanced_and_stable)
{
	struct tws t;
	tws_init(&t);
	fleet_ws(&t, 0);
	int maxw = 0;
	for (int i = 0; i < NCL; i++)
		maxw = layers_of(i) > maxw ? layers_of(i) : maxw;
	for (int n = 1; n <= NCL + 2; n++) {
		int seen[NCL] = {0}, lo = 1 << 30, hi = 0;
		char *outs[NCL + 2];
		for (int i = 0; i < n; i++) {
			struct res r = am(&t, "clusters --json --shard %d/%d", i, n);
			assert_code(r, 0);
			int load = 0;
			for (int c = 0; c < NCL; c++) {
				char name[32];
				snprintf(name, sizeof(name), "\"cluster\":\"c%02d\"", c);
				if (strstr(r.out, name)) {
					seen[c]++;
					load += layers_of(c);
				}
			}
			lo = load < lo ? load : lo;
			hi = load > hi ? load : hi;
			outs[i] = strdup(r.out);
			res_free(&r);
		}
		for (int c = 0; c < NCL; c++)
			cr_assert_eq(seen[c], 1, "N=%d: cluster c%02d is in %d shards", n, c, seen[c]);
		cr_assert(hi - lo <= maxw, "N=%d: shards of %d to %d layers", n, lo, hi);
		if (n == 4 || n == 7) {
			fleet_ws(&t, 1);
			for (int i = 0; i < n; i++) {
				struct res r = am(&t, "clusters --json --shard %d/%d", i, n);
				/* the same clusters (listed in the workspace's order) */
				for (int c = 0; c < NCL; c++) {
					char name[32];
					snprintf(name, sizeof(name), "\"cluster\":\"c%02d\"", c);
					cr_assert_eq(!strstr(r.out, name), !strstr(outs[i], name),
						     "N=%d shard %d differs with the clusters reversed", n, i);
				}
				res_free(&r);
			}
			fleet_ws(&t, 0);
		}
		for (int i = 0; i < n; i++)
			free(outs[i]);
	}
	tws_free(&t);
}

/* syncs each of n shards in t (each must succeed): the layers made ready */
static int
sync_shards(struct tws *t, int n)
{
	int ready = 0;
	for (int i = 0; i < n; i++) {
		struct res r = am(t, "sync --shard %d/%d", i, n);
		assert_code(r, 0);
		ready += count_lines(r.out, ": ready ");
		res_free(&r);
	}
	return ready;
}

/* a sync of each shard syncs exactly its clusters; together, all */
Test(fleet, syncing_every_shard_syncs_every_cluster_once)
{
	struct tws t;
	tws_init(&t);
	fleet_ws(&t, 0);
	int total = sync_shards(&t, 3);
	int want = 0;
	for (int c = 0; c < NCL; c++)
		want += layers_of(c);
	cr_assert_eq(total, want);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	tws_free(&t);
}

/* clusters a, b, c, d: render targets, except c, whose apply fails on its
 * layer x (exec: exit 3) */
static void
outcome_ws(struct tws *t)
{
	tws_put(t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: x, type: manifest, manifests: [{name: m, content: \"kind: ConfigMap\"}]}\n");
	tws_put(t, "addonmake.yaml", "clusters:\n"
		"  - {name: a, target: {render: {dir: out/a}}, profiles: [p.yaml]}\n"
		"  - {name: b, target: {render: {dir: out/b}}, profiles: [p.yaml]}\n"
		"  - {name: c, target: {exec: {apply: [sh, -c, 'echo broken >&2; exit 3']}}, profiles: [p.yaml]}\n"
		"  - {name: d, target: {render: {dir: out/d}}, profiles: [p.yaml]}\n");
}

/* whether the summary document names each of a, b, c, d exactly once,
 * with these outcomes */
static void
assert_summary(struct tws *t, const char *const *want)
{
	char *s = tws_get(t, "s.json");
	cr_assert(s, "no summary file");
	const char *names[] = {"a", "b", "c", "d"};
	for (int i = 0; i < 4; i++) {
		char row[64];
		snprintf(row, sizeof(row), "{\"cluster\":\"%s\",\"outcome\":\"%s\"", names[i], want[i]);
		cr_assert(strstr(s, row), "cluster %s is not %s:\n%s", names[i], want[i], s);
		snprintf(row, sizeof(row), "{\"cluster\":\"%s\",", names[i]);
		int n = count_of(s, row);
		cr_assert_eq(n, 1, "cluster %s %d times:\n%s", names[i], n, s);
	}
	cr_assert_eq(count_lines(s, "\"cluster\":"), 1, "%s", s); /* one line */
	free(s);
}

/* every run ends with one line a cluster (and the same in --summary FILE
 * and --json): synced, no work, failed at its layer, not started; exit 1
 * when a cluster did not sync */
Test(fleet, the_summary_names_every_cluster_once_in_every_outcome)
{
	struct tws t;
	tws_init(&t);
	outcome_ws(&t);
	/* b is synced already: no work */
	struct res r = am(&t, "sync -c b");
	assert_code(r, 0);
	res_free(&r);
	r = am(&t, "sync -J 1 --summary s.json");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "addonmake: a: synced (1 applied)\naddonmake: b: no work\n"
			 "addonmake: c: failed at p/x: ") &&
		  strstr(r.out, "\naddonmake: d: not started (a cluster failed; -k goes on)\n"), "%s", r.out);
	res_free(&r);
	assert_summary(&t, (const char *const[]){"synced", "no work", "failed", "not started"});
	/* with -k, d goes on; a and b have no work */
	r = am(&t, "sync -k --summary s.json --json");
	assert_code(r, 1);
	cr_assert_eq(count_lines(r.out, "{\"event\":\"cluster\","), 4, "%s", r.out);
	cr_assert(strstr(r.out, "{\"event\":\"cluster\",\"cluster\":\"c\",\"outcome\":\"failed\","
			 "\"applied\":0,\"pruned\":0,\"layer\":\"p/x\",\"why\":\""), "%s", r.out);
	res_free(&r);
	assert_summary(&t, (const char *const[]){"no work", "no work", "failed", "synced"});
	/* all well: exit 0, one line says it */
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - {name: a, target: {render: {dir: out/a}}, profiles: [p.yaml]}\n"
		"  - {name: b, target: {render: {dir: out/b}}, profiles: [p.yaml]}\n"
		"  - {name: c, target: {render: {dir: out/c}}, profiles: [p.yaml]}\n"
		"  - {name: d, target: {render: {dir: out/d}}, profiles: [p.yaml]}\n");
	r = am(&t, "sync --summary s.json");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "addonmake: c: synced (1 applied)\n"), "%s", r.out);
	res_free(&r);
	assert_summary(&t, (const char *const[]){"no work", "no work", "synced", "no work"});
	r = am(&t, "sync --summary s.json");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	assert_summary(&t, (const char *const[]){"no work", "no work", "no work", "no work"});
	/* a summary that cannot be written is an error */
	r = am(&t, "sync --summary nodir/s.json");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "cannot write the summary nodir/s.json"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}

/* samples/fleet/gen makes a fleet workspace that clusters lists and two
 * shards sync whole */
Test(fleet, the_generated_sample_fleet_syncs_in_shards)
{
	struct tws t;
	tws_init(&t);
	cr_assert_eq(tws_sh(&t, "'%s/samples/fleet/gen' 9 . > /dev/null", getenv("ADDONMAKE_SRC")), 0);
	struct res r = am(&t, "clusters --json");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "{\"cluster\":\"edge-008\",\"target\":\"render\",\"layers\":2,"), "%s", r.out);
	res_free(&r);
	/* 1 + 8 + 4 + 11 + 7 + 3 + 10 + 6 + 2 layers */
	cr_assert_eq(sync_shards(&t, 2), 52);
	tws_free(&t);
}

/* -J: clusters at once. Three clusters whose first layer waits for the
 * file go: all three are waiting together (one after another, the first
 * would wait alone); dev then fails at its second tier while lab and prod
 * are in theirs, and without -k they finish that tier and stop, their
 * later layers left for the next run; the summary names each once */
Test(fleet, clusters_sync_at_once_and_a_failure_stops_the_others_after_their_tier)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: a, type: manifest, values: \"pack: {spectrocloud.com/install-priority: \\\"0\\\"}\",\n"
		"         manifests: [{name: m, content: \"kind: ConfigMap\"}]}\n"
		"      - {name: b, type: manifest, values: \"pack: {spectrocloud.com/install-priority: \\\"10\\\"}\",\n"
		"         manifests: [{name: m, content: \"kind: ConfigMap\"}]}\n"
		"      - {name: c, type: manifest, values: \"pack: {spectrocloud.com/install-priority: \\\"20\\\"}\",\n"
		"         manifests: [{name: m, content: \"kind: ConfigMap\"}]}\n");
	const char *gate = "    layers:\n      p/a: {readiness: {interval: 100ms, checks: "
			   "[{command: [sh, -c, 'test -e go || { echo no go; exit 1; }']}]}}\n";
	const char *slow = "    layers:\n      p/b: {readiness: {interval: 100ms, checks: "
			   "[{command: [sh, -c, 'test -e go2 || { echo no go2; exit 1; }']}]}}\n";
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - name: dev\n    target: {exec: {apply: [sh, -c, 'test $ADDONMAKE_LAYER != p/b']}}\n"
		"    profiles: [p.yaml]\n%s"
		"  - name: lab\n    target: {render: {dir: out/lab}}\n    profiles: [p.yaml]\n%s"
		"  - name: prod\n    target: {render: {dir: out/prod}}\n    profiles: [p.yaml]\n%s",
		gate, slow, slow);
	pid_t pid = am_bg(&t, "sync -J 3 --summary s.json");
	/* the three clusters' first layers wait together */
	for (int i = 0; i < 200; i++) {
		char *out = tws_get(&t, "bg.out");
		int waiting = out && strstr(out, "dev: waiting p/a") && strstr(out, "lab: waiting p/b") &&
			      strstr(out, "prod: waiting p/b");
		free(out);
		if (waiting)
			break;
		nanosleep(&(struct timespec){0, 50000000L}, NULL);
	}
	char *out = tws_get(&t, "bg.out");
	cr_assert(out && strstr(out, "dev: waiting p/a") && strstr(out, "lab: waiting p/b") &&
		  strstr(out, "prod: waiting p/b"), "not all at once:\n%s", out);
	free(out);
	/* dev's first tier is ready; its second fails while lab and prod wait */
	cr_assert_eq(tws_sh(&t, "touch go"), 0);
	for (int i = 0; i < 200; i++) {
		out = tws_get(&t, "bg.out");
		int failed = out && strstr(out, "dev: layer p/b failed");
		free(out);
		if (failed)
			break;
		nanosleep(&(struct timespec){0, 50000000L}, NULL);
	}
	cr_assert_eq(tws_sh(&t, "touch go2"), 0);
	int st;
	waitpid(pid, &st, 0);
	out = tws_get(&t, "bg.out");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "exit %d\n%s", WEXITSTATUS(st), out);
	cr_assert(strstr(out, "addonmake: dev: failed at p/b: ") &&
		  strstr(out, "addonmake: lab: stopped (2 applied) (after a tier: a cluster failed; -k "
			      "goes on)\n") &&
		  strstr(out, "addonmake: prod: stopped (2 applied)"), "%s", out);
	/* lab and prod finished the tier they were in, and went no further */
	cr_assert(tws_exists(&t, "out/lab/p00010_p+b.yaml") && !tws_exists(&t, "out/lab/p00020_p+c.yaml"),
		  "%s", out);
	free(out);
	char *s = tws_get(&t, "s.json");
	for (const char *n = "dev\0lab\0prod\0"; *n; n += strlen(n) + 1) {
		char row[64];
		snprintf(row, sizeof(row), "{\"cluster\":\"%s\",", n);
		int k = count_of(s, row);
		cr_assert_eq(k, 1, "%s %d times:\n%s", n, k, s);
	}
	cr_assert(strstr(s, "{\"cluster\":\"lab\",\"outcome\":\"stopped\""), "%s", s);
	free(s);
	/* the next run applies what was left: c of lab and prod */
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - {name: dev, target: {exec: {apply: ['true']}}, profiles: [p.yaml]}\n"
		"  - {name: lab, target: {render: {dir: out/lab}}, profiles: [p.yaml]}\n"
		"  - {name: prod, target: {render: {dir: out/prod}}, profiles: [p.yaml]}\n");
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "addonmake: lab: synced (1 applied)\n") &&
		  strstr(r.out, "addonmake: prod: synced (1 applied)\n"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* Ctrl-C with -J: the running clusters are interrupted, the waiting one
 * never starts, and the summary still names each cluster once */
Test(fleet, an_interrupted_fleet_names_every_cluster_once)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: a, type: manifest, manifests: [{name: m, content: \"kind: ConfigMap\"}]}\n");
	const char *gate = "    layers:\n      p/a: {readiness: {interval: 100ms, checks: "
			   "[{command: [sh, -c, 'test -e go || { echo no go; exit 1; }']}]}}\n";
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - name: a\n    target: {render: {dir: out/a}}\n    profiles: [p.yaml]\n%s"
		"  - name: b\n    target: {render: {dir: out/b}}\n    profiles: [p.yaml]\n%s"
		"  - name: c\n    target: {render: {dir: out/c}}\n    profiles: [p.yaml]\n",
		gate, gate);
	pid_t pid = am_bg(&t, "sync -J 2 --summary s.json");
	for (int i = 0; i < 200; i++) {
		char *out = tws_get(&t, "bg.out");
		int both = out && strstr(out, "a: waiting p/a") && strstr(out, "b: waiting p/a");
		free(out);
		if (both)
			break;
		nanosleep(&(struct timespec){0, 50000000L}, NULL);
	}
	kill(pid, SIGINT);
	int st;
	waitpid(pid, &st, 0);
	char *out = tws_get(&t, "bg.out");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 130, "exit %d\n%s", WEXITSTATUS(st), out);
	cr_assert(strstr(out, "addonmake: a: failed: interrupted\n") &&
		  strstr(out, "addonmake: b: failed: interrupted\n") &&
		  strstr(out, "addonmake: c: not started (interrupted)\n"), "%s", out);
	free(out);
	char *s = tws_get(&t, "s.json");
	for (const char *n = "a\0b\0c\0"; *n; n += 2) {
		char row[32];
		snprintf(row, sizeof(row), "{\"cluster\":\"%s\",", n);
		int k = count_of(s, row);
		cr_assert_eq(k, 1, "%s %d times:\n%s", n, k, s);
	}
	free(s);
	tws_free(&t);
}
