/* unit tests of src/fetch: versions, archives, OCI digests and the
 * download cache */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/fetch/fetch.h"
#include "../testutil.h"

Test(semver, compare_and_constraints)
{
	cr_assert_lt(semver_cmp("1.2.3", "1.10.0"), 0);
	cr_assert_lt(semver_cmp("1.2.3-rc.1", "1.2.3"), 0);
	cr_assert_eq(semver_cmp("v2.0.0", "2.0.0"), 0);
	struct { const char *c, *v; int want; } t[] = {
		{"1.2.3", "1.2.3", 1}, {"1.2.3", "1.2.4", 0},
		{">=1.2", "1.10.0", 1}, {">=1.2 <2.0", "2.0.0", 0}, {">= 1.2, < 2", "1.9.9", 1},
		{"~1.2", "1.2.9", 1}, {"~1.2", "1.3.0", 0}, {"~1.2.3", "1.2.2", 0},
		{"^1.2.3", "1.9.0", 1}, {"^1.2.3", "2.0.0", 0}, {"^0.2.3", "0.3.0", 0}, {"^0.2.3", "0.2.9", 1},
		{"1.x", "1.7.0", 1}, {"1.x", "2.0.0", 0}, {"1.2.x", "1.2.7", 1}, {"*", "9.9.9", 1},
		{"<1.0 || >=3", "3.1.0", 1}, {"<1.0 || >=3", "2.0.0", 0},
		{">=1.0", "1.5.0-beta.1", 0}, /* pre-releases only by exact version */
		{"!=1.2.3", "1.2.4", 1},
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		cr_assert_eq(semver_match(t[i].c, t[i].v), t[i].want, "%s vs %s", t[i].c, t[i].v);
	cr_assert_eq(semver_match("latest please", "1.0.0"), -1);
	/* numbers no version has are refused, not overflowed (found by fuzzing) */
	cr_assert_eq(semver_match("^88888888888888888888888881.0", "2.0.0"), -1);
	cr_assert_eq(semver_match("^1", "99999999999999999999.0.0"), 0);
}

static int
sh(const char *fmt, const char *dir)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir, dir);
	return system(cmd);
}

Test(tgz, unpacks_charts_and_refuses_unsafe_archives)
{
	struct tws t;
	tws_init(&t);
	tws_put(&t, "src/mychart/Chart.yaml", "name: mychart\nversion: 1.0.0\n");
	tws_put(&t, "src/mychart/templates/cm.yaml", "kind: ConfigMap\n");
	cr_assert_eq(sh("cd '%s/src' && tar czf ../ok.tgz mychart", t.dir), 0);
	struct buf b = {0}, err = {0};
	char path[600], out[600];
	snprintf(path, sizeof(path), "%s/ok.tgz", t.dir);
	snprintf(out, sizeof(out), "%s/out", t.dir);
	cr_assert_eq(file_read(path, &b), 0);
	cr_assert_eq(tgz_unpack(b.s, b.len, out, &err), 0, "%s", err.s);
	char *c = tws_get(&t, "out/templates/cm.yaml");
	cr_assert_str_eq(c, "kind: ConfigMap\n");
	free(c);
	cr_assert(tws_exists(&t, "out/Chart.yaml"), "the top directory is stripped");
	/* a path that climbs out, and an absolute path */
	tws_put(&t, "outside.txt", "untouched\n");
	cr_assert_eq(sh("cd '%s/src' && tar czPf ../bad.tgz mychart/../../outside.txt && "
			"cd '%s/src' && tar czPf ../abs.tgz '%s/src/mychart/Chart.yaml'", t.dir), 0);
	const char *bad[] = {"bad.tgz", "abs.tgz"};
	for (int i = 0; i < 2; i++) {
		buf_clear(&b);
		buf_clear(&err);
		snprintf(path, sizeof(path), "%s/%s", t.dir, bad[i]);
		cr_assert_eq(file_read(path, &b), 0);
		cr_assert_neq(tgz_unpack(b.s, b.len, out, &err), 0, "%s accepted", bad[i]);
		cr_assert(strstr(err.s, "unsafe path"), "%s", err.s);
	}
	char *o = tws_get(&t, "outside.txt");
	cr_assert_str_eq(o, "untouched\n");
	free(o);
	/* truncated */
	snprintf(path, sizeof(path), "%s/ok.tgz", t.dir);
	buf_clear(&b);
	buf_clear(&err);
	cr_assert_eq(file_read(path, &b), 0);
	cr_assert_neq(tgz_unpack(b.s, b.len / 2, out, &err), 0);
	cr_assert(strstr(err.s, "gzip") || strstr(err.s, "truncated"), "%s", err.s);
	buf_free(&b);
	buf_free(&err);
	tws_free(&t);
}

/* the digest of an OCI manifest names a file of the download cache: only
 * sha256 and 64 hex digits are taken */
Test(oci, layer_digest_is_a_sha256_of_the_accepted_media_type)
{
	struct arena a = {0};
	static const char *const media[] = {"application/tar+gzip", NULL};
	const char *hex = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char text[600];
	struct dnode *m;
	snprintf(text, sizeof(text), "{\"layers\": [{\"mediaType\": \"text/plain\", \"digest\": \"x\"},"
		 " {\"mediaType\": \"application/tar+gzip\", \"digest\": \"%s\"}]}", hex);
	cr_assert_eq(doc_parse_json(&a, text, strlen(text), &m), 0);
	cr_assert_str_eq(oci_layer_digest(m, media), hex);
	const char *bad[] = {"sha256:../../../../../../../../../../../../../../../../../../../etc/x12",
			     "sha512:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			     "sha256:0123"};
	for (int i = 0; i < 3; i++) {
		snprintf(text, sizeof(text), "{\"layers\": [{\"mediaType\": \"application/tar+gzip\", "
			 "\"digest\": \"%s\"}]}", bad[i]);
		cr_assert_eq(doc_parse_json(&a, text, strlen(text), &m), 0);
		cr_assert_null(oci_layer_digest(m, media), "%s", bad[i]);
	}
	arena_free(&a);
}

/* the download cache gives back only what hashes to its name, and the
 * records of this run are found before the state's */
Test(dlcache, a_file_that_does_not_hash_to_its_name_is_not_used)
{
	struct tws t;
	tws_init(&t);
	struct arena a = {0};
	struct fetcher fx = {.a = &a, .state = t.dir};
	char hex[65];
	sha256_hex("chart", 5, hex);
	cr_assert_eq(dl_put(&fx, hex, "chart", 5), 0);
	struct buf b = {0};
	cr_assert_eq(dl_get(&fx, hex, &b), 0);
	cr_assert_str_eq(b.s, "chart");
	char rel[100];
	snprintf(rel, sizeof(rel), "cache/sha256/%s", hex);
	tws_put(&t, rel, "chart, changed on disk");
	cr_assert_eq(dl_get(&fx, hex, &b), -1, "a changed file was used");
	cr_assert_eq(dl_get(&fx, "../../etc/passwd", &b), -1);
	const char *etag, *digest;
	cr_assert_eq(fetch_rec_get(&fx, "index:u", &etag, &digest), 1, "no state, no record");
	fetch_rec_put(&fx, "index:u", "\"e1\"", hex);
	fetch_rec_put(&fx, "index:u", NULL, "ff");
	cr_assert_eq(fetch_rec_get(&fx, "index:u", &etag, &digest), 0);
	cr_assert_null(etag, "the newest record wins");
	cr_assert_str_eq(digest, "ff");
	buf_free(&b);
	fetcher_free(&fx);
	cr_assert_eq(fx.nfetched, 0);
	arena_free(&a);
	tws_free(&t);
}
