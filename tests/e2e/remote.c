/* e2e remote content: helm layers from a Helm repository over HTTP, served
 * by tests/servers/registry.py on loopback — request counts, ETag
 * revalidation, digest checks, retries, --offline, --refresh, credentials. */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

struct rfx {
	struct tws t;
	pid_t srv;
	int port;
};

static void
fake_helm(struct tws *t)
{
	tws_put(t, "fakehelm",
		"#!/bin/sh\n"
		"ver=$(sed -n 's/^version: //p' \"$3/Chart.yaml\"); desc=$(sed -n 's/^description: //p' \"$3/Chart.yaml\")\n"
		"printf -- '---\\nkind: ConfigMap\\nmetadata: {name: %%s}\\ndata: {version: \"%%s\", description: \"%%s\"}\\n' \"$2\" \"$ver\" \"$desc\"\n");
	char p[600];
	snprintf(p, sizeof(p), "%s/fakehelm", t->dir);
	chmod(p, 0755);
	setenv("ADDONMAKE_HELM", p, 1);
}

/* srv/charts/: index.yaml (relative URLs) and mychart 1.0.0 */
static void
publish(struct rfx *f, const char *desc)
{
	tws_put(&f->t, "src/mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 1.0.0\ndescription: %s\n", desc);
	cr_assert_eq(tws_sh(&f->t, "cd src && mkdir -p ../srv/charts && tar czf ../srv/charts/mychart-1.0.0.tgz mychart"
			   " && sha256sum ../srv/charts/mychart-1.0.0.tgz | cut -c1-64 > ../sum"), 0);
	char *sum = tws_get(&f->t, "sum");
	sum[64] = 0;
	tws_put(&f->t, "srv/charts/index.yaml",
		"apiVersion: v1\nentries:\n  mychart:\n  - name: mychart\n    version: 1.0.0\n"
		"    digest: %s\n    urls: [mychart-1.0.0.tgz]\n", sum);
	free(sum);
}

static void
setup(struct rfx *f, const char *version, const char *srv_extra, const char *reg_extra)
{
	tws_init(&f->t);
	fake_helm(&f->t);
	publish(f, "first");
	char root[600];
	snprintf(root, sizeof(root), "%s/srv", f->t.dir);
	f->srv = srv_start(root, srv_extra, &f->port);
	if (!f->srv)
		cr_skip_test("python3 is not here to run the test registry");
	tws_put(&f->t, "addonmake.yaml",
		"registries:\n  - {name: charts, kind: helm, url: \"http://127.0.0.1:%d/charts\"%s}\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n",
		f->port, reg_extra ? reg_extra : "");
	tws_put(&f->t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: \"%s\", registry: {metadata: {name: charts}}}\n",
		version);
}

static int
served(struct rfx *f, const char *path)
{
	char q[600];
	snprintf(q, sizeof(q), path ? "/__count?path=%s" : "/__count", path ? path : "");
	char *s = srv_get(f->port, q);
	int n = atoi(s);
	free(s);
	return n;
}

/* the next n requests of path fail as mode says; extra: more of the
 * query (&ms=, &to=) or NULL */
static void
fault(struct rfx *f, const char *path, const char *mode, int n, const char *extra)
{
	char q[900];
	snprintf(q, sizeof(q), "/__fault?path=%s&mode=%s&n=%d%s", path, mode, n, extra ? extra : "");
	free(srv_get(f->port, q));
}

/* the chart the layer rendered is the one described so */
static void
assert_rendered(struct rfx *f, const char *file, const char *desc)
{
	char *out = tws_get(&f->t, file), want[200];
	snprintf(want, sizeof(want), "description: \"%s\"", desc);
	cr_assert(out && strstr(out, want), "%s: %s", file, out ? out : "(no file)");
	free(out);
}

static void
teardown(struct rfx *f)
{
	srv_stop(f->srv);
	tws_free(&f->t);
}

Test(remote, helm_repo_over_http_and_a_second_sync_makes_no_request)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/index.yaml"), 1);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 1);
	assert_rendered(&f, "out/p00000_apps+mychart.yaml", "first");
	r = am(&f.t, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	cr_assert_eq(served(&f, NULL), 2, "the second sync made requests");
	/* recompiling (the profile changed) a pinned, cached version: still none */
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: \"1.0.0\", registry: {metadata: {name: charts}},\n"
		"         values: \"charts: {mychart: {a: 1}}\"}\n");
	r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, NULL), 2, "a pinned version in the cache needs no request");
	teardown(&f);
}

/* a file of the download cache is checked against its name each time it
 * is used: one changed on disk is fetched again, never rendered */
Test(remote, a_cached_download_that_changed_on_disk_is_fetched_again)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 1);
	cr_assert_eq(tws_sh(&f.t, "cd src && sed -i 's/first/tampered/' mychart/Chart.yaml && "
			    "tar czf ../bad.tgz mychart && cd .. && "
			    "test -f .addonmake/cache/sha256/$(cat sum) && "
			    "cp bad.tgz .addonmake/cache/sha256/$(cat sum)"), 0);
	/* force a compile: the profile changes, the chart does not */
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: \"1.0.0\", registry: {metadata: {name: charts}},\n"
		"         values: \"charts: {mychart: {a: 1}}\"}\n");
	r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 2, "the changed cache file was used");
	assert_rendered(&f, "out/p00000_apps+mychart.yaml", "first");
	cr_assert_eq(tws_sh(&f.t, "cd .addonmake/cache/sha256 && test \"$(sha256sum $(cat ../../../sum) | "
			    "cut -c1-64)\" = \"$(cat ../../../sum)\""), 0, "the cache file was not repaired");
	teardown(&f);
}

Test(remote, a_republished_chart_is_refetched_with_refresh_and_reapplied)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	publish(&f, "second");
	r = am(&f.t, "--refresh -v");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "compiling (--refresh)"), "%s", r.err);
	cr_assert(strstr(r.out, "ready apps/mychart"), "%s", r.out);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/index.yaml"), 2);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 2);
	assert_rendered(&f, "out/p00000_apps+mychart.yaml", "second");
	/* an unchanged index is revalidated with its ETag: 304, nothing else */
	r = am(&f.t, "--refresh");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/index.yaml"), 3);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 2);
	teardown(&f);
}

Test(remote, a_wrong_digest_fails_and_caches_nothing)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	fault(&f, "/charts/mychart-1.0.0.tgz", "corrupt", 10, NULL);
	struct res r = am(&f.t, "sync");
	assert_code(r, 1);
	char want[256];
	snprintf(want, sizeof(want), "helm layer apps/mychart: GET http://127.0.0.1:%d/charts/mychart-1.0.0.tgz: the chart's SHA-256 is ", f.port);
	cr_assert(strstr(r.err, want), "%s", r.err);
	cr_assert(strstr(r.err, ", but the index says ") && strstr(r.err, "nothing was cached"), "%s", r.err);
	res_free(&r);
	cr_assert_eq(tws_sh(&f.t, "test $(ls .addonmake/cache/sha256 | wc -l) -eq 1"), 0, "only the index is in the cache");
	cr_assert(!tws_exists(&f.t, "out"));
	teardown(&f);
}

/* a chart past the 256 MiB download cap (a sparse file): refused once the
 * cap is reached, not retried, nothing cached */
Test(remote, a_download_past_the_size_cap_is_refused)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	cr_assert_eq(tws_sh(&f.t, "truncate -s 257M srv/charts/mychart-1.0.0.tgz"), 0);
	struct res r = am(&f.t, "sync");
	assert_code(r, 1);
	char want[300];
	snprintf(want, sizeof(want), "helm layer apps/mychart: GET http://127.0.0.1:%d/charts/"
		 "mychart-1.0.0.tgz: the answer is larger than 256 MiB\n", f.port);
	cr_assert(strstr(r.err, want), "%s", r.err);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 1);
	cr_assert_eq(tws_sh(&f.t, "test $(ls .addonmake/cache/sha256 | wc -l) -eq 1"), 0, "only the index is in the cache");
	teardown(&f);
}

Test(remote, five_hundreds_and_truncated_transfers_are_retried)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	fault(&f, "/charts/index.yaml", "500", 2, NULL);
	fault(&f, "/charts/mychart-1.0.0.tgz", "truncate", 1, NULL);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/index.yaml"), 3);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 2);
	/* a server that keeps failing: bounded retries, then a clear error */
	fault(&f, "/charts/index.yaml", "500", 100, NULL);
	r = am(&f.t, "--refresh");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "/charts/index.yaml: HTTP 503 (after 4 tries)"), "%s", r.err);
	res_free(&r);
	teardown(&f);
}

/* a chart moved elsewhere (as release assets and buckets do) is followed;
 * a redirect loop is an error at once, not retried; a proxy named by
 * http_proxy carries every request, to a host that need not resolve */
Test(remote, redirects_are_followed_and_proxies_come_from_the_environment)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	cr_assert_eq(tws_sh(&f.t, "cd srv && mkdir -p mirror && mv charts/mychart-1.0.0.tgz mirror/"), 0);
	fault(&f, "/charts/mychart-1.0.0.tgz", "redirect", 100, "&to=/mirror/mychart-1.0.0.tgz");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 1);
	cr_assert_eq(served(&f, "/mirror/mychart-1.0.0.tgz"), 1);
	assert_rendered(&f, "out/p00000_apps+mychart.yaml", "first");
	/* a loop: curl's limit of 5, named, and no second try */
	fault(&f, "/charts/index.yaml", "redirect", 100, "&to=/charts/index.yaml");
	r = am(&f.t, "plan --refresh");
	assert_code(r, 1);
	char want[300];
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/charts/index.yaml: Maximum (5) redirects followed\n", f.port);
	cr_assert(strstr(r.err, want), "%s\nwant %s", r.err, want);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/index.yaml"), 1 + 6);
	/* through a proxy, with a cold download cache: the registry's host
	 * exists only for the proxy */
	fault(&f, "/charts/index.yaml", "redirect", 0, NULL);
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake/cache"), 0);
	tws_put(&f.t, "addonmake.yaml",
		"registries:\n  - {name: charts, kind: helm, url: \"http://charts.invalid/charts\"}\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	char proxy[64];
	snprintf(proxy, sizeof(proxy), "http://127.0.0.1:%d", f.port);
	setenv("http_proxy", proxy, 1);
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	r = am(&f.t, "sync");
	unsetenv("http_proxy"); /* the test's own requests go straight */
	assert_code(r, 0);
	res_free(&r);
	char *n = srv_get(f.port, "/__proxied");
	cr_assert_eq(atoi(n), 3, "the index, the chart and its new place, through the proxy: %s", n);
	free(n);
	teardown(&f);
}

/* a server that goes silent: the registry's timeout ends the request,
 * which is tried again; one that stays silent is named */
Test(remote, a_silent_server_is_timed_out_and_tried_again)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, ", timeout: 1s");
	fault(&f, "/charts/mychart-1.0.0.tgz", "slow", 1, "&ms=4000");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 2);
	fault(&f, "/charts/index.yaml", "slow", 4, "&ms=4000");
	r = am(&f.t, "plan --refresh");
	assert_code(r, 1);
	char want[300];
	snprintf(want, sizeof(want), "GET http://127.0.0.1:%d/charts/index.yaml: ", f.port);
	cr_assert(strstr(r.err, want) && strstr(r.err, " (after 4 tries); a registry's timeout: says how long a request "
		  "may stay silent\n"), "%s", r.err);
	res_free(&r);
	/* a timeout under a second is refused where it is written */
	tws_put(&f.t, "addonmake.yaml",
		"registries:\n  - {name: charts, kind: helm, url: \"http://127.0.0.1:%d/charts\", timeout: 500ms}\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n", f.port);
	r = am(&f.t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "addonmake.yaml:2:79: error: a registry's timeout must be at least 1s"), "%s", r.err);
	res_free(&r);
	teardown(&f);
}

Test(remote, offline_works_from_a_warm_cache_with_the_server_down)
{
	struct rfx f;
	setup(&f, "~1.0", NULL, NULL);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	srv_stop(f.srv);
	f.srv = 0;
	/* force a compile: the profile changes, the chart does not */
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: \"~1.0\", registry: {metadata: {name: charts}},\n"
		"         values: \"charts: {mychart: {a: 2}}\"}\n");
	r = am(&f.t, "--offline");
	assert_code(r, 0);
	res_free(&r);
	/* a cold cache offline is a clear error (another edit forces a compile) */
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake/cache"), 0);
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: \"~1.0\", registry: {metadata: {name: charts}},\n"
		"         values: \"charts: {mychart: {a: 3}}\"}\n");
	r = am(&f.t, "plan --offline");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "--offline, and http://127.0.0.1:") && strstr(r.err, "is not in the download cache"), "%s", r.err);
	res_free(&r);
	teardown(&f);
}

Test(remote, credentials_come_from_the_environment_and_are_never_printed)
{
	struct rfx f;
	setup(&f, "1.0.0", "--token s3cr3t-t0ken", ", tokenEnv: CHART_TOKEN");
	setenv("CHART_TOKEN", "wr0ng-t0ken", 1);
	struct res r = am(&f.t, "sync -v");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "HTTP 401 (check the registry's credentials)"), "%s", r.err);
	cr_assert(!strstr(r.err, "wr0ng-t0ken") && !strstr(r.out, "wr0ng-t0ken"), "a secret was printed");
	res_free(&r);
	setenv("CHART_TOKEN", "s3cr3t-t0ken", 1);
	r = am(&f.t, "sync -v --json");
	assert_code(r, 0);
	cr_assert(!strstr(r.err, "s3cr3t") && !strstr(r.out, "s3cr3t"), "a secret was printed");
	res_free(&r);
	teardown(&f);
}

/* a pack directory tarred as an http(s):// pack registry serves it:
 * srv/packs/greeter-VERSION.tar.gz */
static void
http_pack_publish(struct rfx *f, const char *version, const char *msg)
{
	tws_put(&f->t, "psrc/greeter/pack.json", "{\"name\": \"greeter\", \"version\": \"%s\", "
		"\"kubeManifests\": [\"manifests/g.yaml\"]}\n", version);
	tws_put(&f->t, "psrc/greeter/values.yaml", "pack: {namespace: greet}\nmanifests:\n  g: {msg: %s}\n", msg);
	tws_put(&f->t, "psrc/greeter/manifests/g.yaml", "kind: ConfigMap\ndata: {msg: {{ .Values.msg | quote }}}\n");
	cr_assert_eq(tws_sh(&f->t, "cd psrc && mkdir -p ../srv/packs && tar czf ../srv/packs/greeter-%s.tar.gz greeter",
			   version), 0);
}

static void
http_pack_setup(struct rfx *f, const char *extra_layers)
{
	setup(f, "1.0.0", NULL, NULL);
	http_pack_publish(f, "1.2.0", "hello-http");
	tws_put(&f->t, "addonmake.yaml",
		"registries:\n  - {name: charts, kind: helm, url: \"http://127.0.0.1:%d/charts\"}\n"
		"  - {name: packs, kind: pack, url: \"http://127.0.0.1:%d/packs/\"}\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n",
		f->port, f->port);
	tws_put(&f->t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: greeter, type: spectro, version: 1.2.0, registry: {metadata: {name: packs}}}\n%s",
		extra_layers);
}

Test(remote, pack_from_an_http_pack_registry)
{
	struct rfx f;
	http_pack_setup(&f, "");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *out = tws_get(&f.t, "out/p00000_apps+greeter.yaml");
	fx_assert_ns_then(out, "greet", "apps/greeter", "---\nkind: ConfigMap\ndata:\n  msg: \"hello-http\"\n");
	free(out);
	cr_assert_eq(served(&f, "/packs/greeter-1.2.0.tar.gz"), 1);
	/* a recompile (the profile changed) of a pinned pack asks nothing */
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: greeter, type: spectro, version: 1.2.0, registry: {metadata: {name: packs}},\n"
		"         values: \"pack: {namespace: other}\"}\n");
	r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(served(&f, NULL), 1, "a pinned pack in the cache needs no request");
	/* republished under the same version: --refresh fetches and re-applies it */
	http_pack_publish(&f, "1.2.0", "hello-again");
	r = am(&f.t, "--refresh");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "ready apps/greeter"), "%s", r.out);
	res_free(&r);
	out = tws_get(&f.t, "out/p00000_apps+greeter.yaml");
	cr_assert(strstr(out, "hello-again"), "%s", out);
	free(out);
	/* a version the registry does not have: exit 1, the URL named */
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: greeter, type: spectro, version: 9.9.9, registry: {metadata: {name: packs}}}\n");
	r = am(&f.t, "plan");
	assert_code(r, 1);
	char want[300];
	snprintf(want, sizeof(want), "p.yaml:5:9: error: pack \"greeter\" 9.9.9: GET "
		 "http://127.0.0.1:%d/packs/greeter-9.9.9.tar.gz: HTTP 404 (not found)", f.port);
	cr_assert(strstr(r.err, want), "%s\nwant %s", r.err, want);
	res_free(&r);
	/* offline with the archive missing: a clear error */
	r = am(&f.t, "plan --offline");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "--offline, and http://127.0.0.1:") &&
		  strstr(r.err, "/packs/greeter-9.9.9.tar.gz is not in the download cache"), "%s", r.err);
	res_free(&r);
	teardown(&f);
}

Test(remote, missing_charts_and_packs_are_downloaded_at_once)
{
	struct rfx f;
	http_pack_setup(&f, "      - {name: other, type: helm, version: 2.0.0, registry: {metadata: {name: charts}}}\n"
			    "      - {name: mychart, type: helm, version: 1.0.0, registry: {metadata: {name: charts}}}\n");
	/* a second chart in the repository */
	tws_put(&f.t, "src/other/Chart.yaml", "apiVersion: v2\nname: other\nversion: 2.0.0\ndescription: two\n");
	cr_assert_eq(tws_sh(&f.t, "cd src && tar czf ../srv/charts/other-2.0.0.tgz other && "
			   "sed -n 's/^    digest: //p' ../srv/charts/index.yaml > ../sum1 && "
			   "sha256sum ../srv/charts/other-2.0.0.tgz | cut -c1-64 > ../sum2"), 0);
	char *s1 = tws_get(&f.t, "sum1"), *s2 = tws_get(&f.t, "sum2");
	s1[64] = s2[64] = 0;
	tws_put(&f.t, "srv/charts/index.yaml",
		"apiVersion: v1\nentries:\n"
		"  mychart:\n  - {name: mychart, version: 1.0.0, digest: %s, urls: [mychart-1.0.0.tgz]}\n"
		"  other:\n  - {name: other, version: 2.0.0, digest: %s, urls: [other-2.0.0.tgz]}\n", s1, s2);
	free(s1);
	free(s2);
	/* each download takes a second: one after the other, they never overlap */
	fault(&f, "/charts/mychart-1.0.0.tgz", "slow", 1, NULL);
	fault(&f, "/charts/other-2.0.0.tgz", "slow", 1, NULL);
	fault(&f, "/packs/greeter-1.2.0.tar.gz", "slow", 1, NULL);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "addonmake: dev: downloading 3 archives\n"), "%s", r.err);
	res_free(&r);
	char *busy = srv_get(f.port, "/__busy");
	cr_assert_eq(atoi(busy), 3, "the three downloads did not overlap (at most %s at once)", busy);
	free(busy);
	/* each asked for once: the index too, though two layers need it */
	cr_assert_eq(served(&f, "/charts/index.yaml"), 1);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 1);
	cr_assert_eq(served(&f, "/charts/other-2.0.0.tgz"), 1);
	cr_assert_eq(served(&f, "/packs/greeter-1.2.0.tar.gz"), 1);
	assert_rendered(&f, "out/p00000_apps+other.yaml", "two");
	cr_assert(tws_exists(&f.t, "out/p00000_apps+mychart.yaml") && tws_exists(&f.t, "out/p00000_apps+greeter.yaml"));
	r = am(&f.t, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	cr_assert_eq(served(&f, NULL), 4, "the second sync made requests");
	teardown(&f);
}

/* Ctrl-C while a chart downloads: the run ends at once as interrupted
 * (130), nothing half-downloaded is left in the cache, no state was
 * written, and the next run downloads the chart whole */
Test(remote, ctrl_c_during_a_download_leaves_nothing_half_done)
{
	struct rfx f;
	setup(&f, "1.0.0", NULL, NULL);
	fault(&f, "/charts/mychart-1.0.0.tgz", "slow", 1, "&ms=20000");
	pid_t pid = am_bg(&f.t, "sync");
	struct timespec nap = {0, 50000000L};
	for (int i = 0; i < 200 && served(&f, "/charts/mychart-1.0.0.tgz") < 1; i++)
		nanosleep(&nap, NULL);
	cr_assert_eq(served(&f, "/charts/mychart-1.0.0.tgz"), 1, "the download never started");
	kill(pid, SIGINT);
	int st;
	waitpid(pid, &st, 0);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	cr_assert_eq(code, 130, "exit %d", code);
	cr_assert_eq(tws_sh(&f.t, "! ls -a .addonmake/cache/sha256 2>/dev/null | grep -q tmp && test ! -e .addonmake/state.mdb"),
		     0, "a partial download or a state was left");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	assert_rendered(&f, "out/p00000_apps+mychart.yaml", "first");
	teardown(&f);
}

/* puts blob (a file of the workspace) into srv/v2/<repo> under tag, with
 * a manifest whose one layer has the media type; returns the blob's hex */
static char *
oci_push(struct rfx *f, const char *repo, const char *tag, const char *file, const char *media)
{
	cr_assert_eq(tws_sh(&f->t, "sha256sum '%s' | cut -c1-64 > sum && mkdir -p 'srv/v2/%s/blobs' 'srv/v2/%s/manifests'"
			   " && cp '%s' \"srv/v2/%s/blobs/sha256:$(cat sum)\"", file, repo, repo, file, repo), 0);
	char *sum = tws_get(&f->t, "sum");
	sum[64] = 0;
	char rel[512];
	snprintf(rel, sizeof(rel), "srv/v2/%s/manifests/%s", repo, tag);
	tws_put(&f->t, rel, "{\"schemaVersion\": 2, \"mediaType\": \"application/vnd.oci.image.manifest.v1+json\","
		" \"config\": {\"mediaType\": \"application/vnd.cncf.helm.config.v1+json\", \"digest\": \"sha256:%s\", \"size\": 2},"
		" \"layers\": [{\"mediaType\": \"%s\", \"digest\": \"sha256:%s\", \"size\": 1}]}\n", sum, media, sum);
	return sum;
}

static void
oci_setup(struct rfx *f, const char *kind, const char *layers)
{
	tws_init(&f->t);
	fake_helm(&f->t);
	char root[600];
	snprintf(root, sizeof(root), "%s/srv", f->t.dir);
	cr_assert_eq(tws_sh(&f->t, "mkdir -p srv"), 0);
	f->srv = srv_start(root, "--oci-token 0ci-t0ken", &f->port);
	if (!f->srv)
		cr_skip_test("python3 is not here to run the test registry");
	tws_put(&f->t, "addonmake.yaml",
		"registries:\n  - {name: ocir, kind: %s, url: \"oci://127.0.0.1:%d/base\", plainHTTP: true}\n"
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n", kind, f->port);
	tws_put(&f->t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n%s", layers);
}

Test(remote, helm_chart_from_an_oci_registry_with_a_bearer_token)
{
	struct rfx f;
	oci_setup(&f, "helm", "      - {name: mychart, type: helm, version: 1.0.0+b7, registry: {metadata: {name: ocir}}}\n");
	tws_put(&f.t, "src/mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: 1.0.0+b7\ndescription: oci\n");
	cr_assert_eq(tws_sh(&f.t, "cd src && tar czf ../chart.tgz mychart"), 0);
	char *sum = oci_push(&f, "base/mychart", "1.0.0_b7", "chart.tgz", "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
	/* the blob lives on another host (a CDN), which gets no token */
	char blob[200], cdn[200], q[600];
	snprintf(blob, sizeof(blob), "/v2/base/mychart/blobs/sha256:%s", sum);
	snprintf(cdn, sizeof(cdn), "/cdn/%s", sum);
	cr_assert_eq(tws_sh(&f.t, "mkdir -p srv/cdn && cp chart.tgz srv/cdn/%s", sum), 0);
	snprintf(q, sizeof(q), "&to=http://localhost:%d%s", f.port, cdn);
	fault(&f, blob, "redirect", 100, q);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	assert_rendered(&f, "out/p00000_apps+mychart.yaml", "oci");
	/* the token dance: a 401, the token, the manifest again, the blob */
	cr_assert_eq(served(&f, "/token"), 1);
	cr_assert_eq(served(&f, "/v2/base/mychart/manifests/1.0.0_b7"), 2);
	cr_assert_eq(served(&f, cdn), 1);
	snprintf(q, sizeof(q), "/__authed?path=%s", blob);
	char *n = srv_get(f.port, q);
	cr_assert_eq(atoi(n), 1, "the registry's blob request carried the token");
	free(n);
	snprintf(q, sizeof(q), "/__authed?path=%s", cdn);
	n = srv_get(f.port, q);
	cr_assert_eq(atoi(n), 0, "the token went to another host");
	free(n);
	free(sum);
	int total = served(&f, NULL);
	r = am(&f.t, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	cr_assert_eq(served(&f, NULL), total, "the second sync made requests");
	teardown(&f);
}

Test(remote, oci_chart_version_constraint_picks_the_newest_matching_tag)
{
	struct rfx f;
	oci_setup(&f, "helm", "      - {name: mychart, type: helm, version: \"^1.0\", registry: {metadata: {name: ocir}}}\n");
	const char *tags[] = {"1.0.0", "1.2.0_b3", "2.0.0"};
	for (int i = 0; i < 3; i++) {
		char ver[32];
		snprintf(ver, sizeof(ver), "%s", tags[i]);
		for (char *p = ver; *p; p++)
			if (*p == '_')
				*p = '+';
		tws_put(&f.t, "src/mychart/Chart.yaml", "apiVersion: v2\nname: mychart\nversion: %s\ndescription: v%s\n", ver, ver);
		cr_assert_eq(tws_sh(&f.t, "cd src && tar czf ../chart-%d.tgz mychart", i), 0);
		char file[32];
		snprintf(file, sizeof(file), "chart-%d.tgz", i);
		free(oci_push(&f, "base/mychart", tags[i], file, "application/vnd.cncf.helm.chart.content.v1.tar+gzip"));
	}
	tws_put(&f.t, "srv/v2/base/mychart/tags/list",
		"{\"name\": \"base/mychart\", \"tags\": [\"1.0.0\", \"1.2.0_b3\", \"2.0.0\"]}\n");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "ready apps/mychart"), "%s", r.out);
	res_free(&r);
	assert_rendered(&f, "out/p00000_apps+mychart.yaml", "v1.2.0+b3");
	cr_assert_eq(served(&f, "/v2/base/mychart/tags/list"), 2, "the tag list, asked once (and once more with the token)");
	cr_assert_eq(served(&f, "/v2/base/mychart/manifests/1.2.0_b3"), 2);
	r = am(&f.t, "graph");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "helm 1.2.0+b3"), "the resolved version is shown: %s", r.out);
	res_free(&r);
	/* no tag matches: an error naming what the registry has */
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: \"~3.1\", registry: {metadata: {name: ocir}}}\n");
	r = am(&f.t, "plan");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "p.yaml:5:9: error: helm layer apps/mychart: 127.0.0.1:") &&
		  strstr(r.err, "/base/mychart has no tag matching \"~3.1\" (it has 1.0.0, 1.2.0+b3, 2.0.0)"),
		  "%s", r.err);
	res_free(&r);
	/* offline, the last tag list fetched is used */
	tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: \"<2\", registry: {metadata: {name: ocir}}}\n");
	srv_stop(f.srv);
	f.srv = 0;
	r = am(&f.t, "plan --offline");
	assert_code(r, 0);
	res_free(&r);
	teardown(&f);
}

Test(remote, palette_pack_from_an_oci_registry)
{
	struct rfx f;
	oci_setup(&f, "pack", "      - {name: greeter, type: oci, version: 1.2.0, registry: {metadata: {name: ocir}}}\n");
	tws_put(&f.t, "src/greeter-1.2.0/pack.json", "{\"name\": \"greeter\", \"version\": \"1.2.0\", \"kubeManifests\": [\"manifests/g.yaml\"]}\n");
	tws_put(&f.t, "src/greeter-1.2.0/values.yaml", "pack: {namespace: greet}\nmanifests:\n  g: {msg: hello-oci}\n");
	tws_put(&f.t, "src/greeter-1.2.0/manifests/g.yaml", "kind: ConfigMap\ndata: {msg: {{ .Values.msg | quote }}}\n");
	cr_assert_eq(tws_sh(&f.t, "cd src && tar czf ../greeter-1.2.0.tar.gz greeter-1.2.0"), 0);
	free(oci_push(&f, "base/spectro-packs/archive/greeter", "1.2.0", "greeter-1.2.0.tar.gz",
		      "application/vnd.oci.image.layer.v1.tar+gzip"));
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *out = tws_get(&f.t, "out/p00000_apps+greeter.yaml");
	fx_assert_ns_then(out, "greet", "apps/greeter", "---\nkind: ConfigMap\ndata:\n  msg: \"hello-oci\"\n");
	free(out);
	int total = served(&f, NULL);
	r = am(&f.t, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	cr_assert_eq(served(&f, NULL), total, "the second sync made requests");
	/* a corrupted blob: the digest check fails, nothing is cached */
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake"), 0);
	char *sum = tws_get(&f.t, "sum");
	sum[64] = 0;
	char path[256];
	snprintf(path, sizeof(path), "/v2/base/spectro-packs/archive/greeter/blobs/sha256:%s", sum);
	free(sum);
	fault(&f, path, "corrupt", 10, NULL);
	r = am(&f.t, "plan");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "the blob's SHA-256 is ") && strstr(r.err, "nothing was cached"), "%s", r.err);
	res_free(&r);
	cr_assert(!tws_exists(&f.t, ".addonmake/cache/packs"), "an unverified pack was unpacked");
	teardown(&f);
}

Test(remote, tls_is_verified_against_the_registrys_ca_or_skipped_on_request)
{
	struct rfx f;
	tws_init(&f.t);
	fake_helm(&f.t);
	publish(&f, "over tls");
	/* a self-signed certificate for 127.0.0.1, made now */
	if (tws_sh(&f.t, "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
		   "-addext subjectAltName=IP:127.0.0.1 -keyout key.pem -out cert.pem >/dev/null 2>&1") != 0)
		cr_skip_test("openssl is not here to make a certificate");
	char root[600], extra[1300];
	snprintf(root, sizeof(root), "%s/srv", f.t.dir);
	snprintf(extra, sizeof(extra), "--tls '%s/cert.pem' '%s/key.pem'", f.t.dir, f.t.dir);
	f.srv = srv_start(root, extra, &f.port);
	if (!f.srv)
		cr_skip_test("python3 is not here to run the test registry");
	const char *variants[] = {"", ", ca: cert.pem", ", insecureSkipVerify: true"};
	int want[] = {1, 0, 0};
	for (int i = 0; i < 3; i++) {
		tws_put(&f.t, "addonmake.yaml",
			"registries:\n  - {name: charts, kind: helm, url: \"https://127.0.0.1:%d/charts\"%s}\n"
			"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n",
			f.port, variants[i]);
		tws_put(&f.t, "p.yaml", "metadata: {name: apps}\nspec:\n  template:\n    packs:\n"
			"      - {name: mychart, type: helm, version: \"1.0.0\", registry: {metadata: {name: charts}}}\n");
		struct res r = am(&f.t, "plan --refresh");
		assert_code(r, want[i]);
		if (want[i])
			cr_assert(strstr(r.err, "certificate"), "the error names the certificate problem: %s", r.err);
		else
			cr_assert(strstr(r.out, "\"apps/mychart\"") || strstr(r.out, "apply apps/mychart"), "%s", r.out);
		res_free(&r);
	}
	teardown(&f);
}
