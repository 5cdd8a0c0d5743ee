/* unit tests of cache/: the canonical encoding and hash (fixed expected
 * values: they must never change), records, the LMDB store, the lock. */
#include <criterion/criterion.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../../cache/cache.h"

static struct dnode *
parse1(struct arena *a, const char *text)
{
	struct dnode **docs;
	size_t n;
	struct diag d = {0};
	struct dorigin o = {"t.yaml", 1, 1, 0, 1};
	cr_assert_eq(doc_parse(a, text, strlen(text), &o, &docs, &n, &d), 0);
	diag_free(&d);
	return docs[0];
}

static void
canon_of(const char *text, struct buf *out)
{
	struct arena a = {0};
	canon_node(out, parse1(&a, text));
	arena_free(&a);
}

Test(canon, exact_bytes)
{
	struct buf b = {0};
	canon_of("{b: 1, a: \"x\"}", &b);
	const char want[] = {'m', 2, 'p', 1, 'a', 'q', 1, 'x', 'p', 1, 'b', 'p', 1, '1'};
	cr_assert_eq(b.len, sizeof(want));
	cr_assert_eq(memcmp(b.s, want, sizeof(want)), 0);
	buf_free(&b);
	canon_of("[x, [y]]", &b);
	const char want2[] = {'l', 2, 'p', 1, 'x', 'l', 1, 'p', 1, 'y'};
	cr_assert_eq(b.len, sizeof(want2));
	cr_assert_eq(memcmp(b.s, want2, sizeof(want2)), 0);
	buf_free(&b);
}

Test(canon, layout_and_comments_do_not_matter)
{
	struct buf x = {0}, y = {0};
	canon_of("# a comment\nb:\n  c: 1\n  d: [1, 2]\na: x\n", &x);
	canon_of("a: x   # trailing\nb: {d: [1,2], c: 1}\n", &y);
	cr_assert_eq(x.len, y.len);
	cr_assert_eq(memcmp(x.s, y.s, x.len), 0);
	buf_free(&x);
	buf_free(&y);
}

Test(canon, quoting_and_values_matter)
{
	struct buf x = {0}, y = {0}, z = {0};
	canon_of("a: 1\n", &x);
	canon_of("a: \"1\"\n", &y);
	canon_of("a: 2\n", &z);
	cr_assert(x.len != y.len || memcmp(x.s, y.s, x.len) != 0);
	cr_assert(x.len != z.len || memcmp(x.s, z.s, x.len) != 0);
	buf_free(&x);
	buf_free(&y);
	buf_free(&z);
}

Test(canon, long_strings_use_multibyte_lengths)
{
	struct arena a = {0};
	char *s = malloc(300 + 16);
	strcpy(s, "a: ");
	memset(s + 3, 'z', 300);
	s[303] = 0;
	struct buf b = {0};
	canon_node(&b, parse1(&a, s));
	/* m 1 p 1 'a' p <300 as LEB128: 0xac 0x02> */
	cr_assert_eq((unsigned char)b.s[5], 'p');
	cr_assert_eq((unsigned char)b.s[6], 0xac);
	cr_assert_eq((unsigned char)b.s[7], 0x02);
	cr_assert_eq(b.len, 8 + 300);
	free(s);
	buf_free(&b);
	arena_free(&a);
}

Test(hash, xxh3_128_fixed_values)
{
	struct hash128 h;
	char hex[33];
	hash_bytes("", 0, &h);
	hash_hex(&h, hex);
	cr_assert_str_eq(hex, "99aa06d3014798d86001c324468d497f");
	hash_bytes("addonmake", 9, &h);
	hash_hex(&h, hex);
	cr_assert_str_eq(hex, "c12649ac4c00322f2190f398e8fbeeef");
	struct buf b = {0};
	canon_of("{b: 1, a: \"x\"}", &b);
	hash_bytes(b.s, b.len, &h);
	hash_hex(&h, hex);
	cr_assert_str_eq(hex, "e5584fa6a229e69c8f207cfc0e0e22eb");
	buf_free(&b);
}

static struct layer_rec
sample_rec(void)
{
	struct layer_rec r = {0};
	for (int i = 0; i < 16; i++)
		r.hash.b[i] = (unsigned char)(i * 17);
	r.order = -10;
	r.status = LS_READY;
	r.started = 1700000000;
	r.finished = 1700000042;
	r.count = 3;
	r.type = "manifest";
	r.ns = "kube-system";
	r.version = "1.2.3";
	r.inventory = "out/dev/n99990_p+l.yaml";
	r.ninventory = strlen(r.inventory);
	return r;
}

Test(record, roundtrip)
{
	struct layer_rec r = sample_rec(), o;
	struct buf b = {0};
	struct arena a = {0};
	layer_rec_encode(&b, &r);
	cr_assert_eq(b.s[0], 1, "version byte");
	cr_assert_eq(layer_rec_decode(b.s, b.len, &o, &a), 0);
	cr_assert_eq(memcmp(o.hash.b, r.hash.b, 16), 0);
	cr_assert_eq(o.order, -10);
	cr_assert_eq(o.status, LS_READY);
	cr_assert_eq(o.finished, 1700000042);
	cr_assert_eq(o.count, 3);
	cr_assert_str_eq(o.ns, "kube-system");
	cr_assert_str_eq(o.inventory, "out/dev/n99990_p+l.yaml");
	buf_free(&b);
	arena_free(&a);
}

Test(record, refuses_unknown_version_and_truncation)
{
	struct layer_rec r = sample_rec(), o;
	struct buf b = {0};
	struct arena a = {0};
	layer_rec_encode(&b, &r);
	for (size_t n = 0; n < b.len; n++)
		cr_assert_neq(layer_rec_decode(b.s, n, &o, &a), 0, "truncated at %zu accepted", n);
	b.s[0] = 2;
	cr_assert_neq(layer_rec_decode(b.s, b.len, &o, &a), 0);
	b.s[0] = 1;
	b.s[1 + 16 + 8] = 99; /* status */
	cr_assert_neq(layer_rec_decode(b.s, b.len, &o, &a), 0);
	buf_free(&b);
	arena_free(&a);
}

static char *
tmpdir(void)
{
	static char dir[64];
	strcpy(dir, "/tmp/am-cache-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	return dir;
}

static void
rmrf(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	system(cmd);
}

Test(store, readonly_without_state_is_empty_and_creates_nothing)
{
	char *dir = tmpdir();
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/state", dir);
	struct store *s;
	struct buf err = {0};
	struct arena a = {0};
	struct layer_rec r;
	cr_assert_eq(store_open(&s, sub, 1, &err), 0);
	cr_assert_eq(store_get_layer(s, "dev", "p/l", &r, &a, &err), 1);
	store_close(s);
	cr_assert_neq(access(sub, F_OK), 0, "a read-only open created the state directory");
	rmrf(dir);
	arena_free(&a);
}

struct seen {
	int n;
	char ids[8][32];
};

static void
each(void *ctx, const char *id, const struct layer_rec *r)
{
	struct seen *s = ctx;
	strcpy(s->ids[s->n++], id);
}

Test(store, put_get_delete_and_per_cluster_listing)
{
	char *dir = tmpdir();
	struct store *s;
	struct buf err = {0};
	struct arena a = {0};
	cr_assert_eq(store_open(&s, dir, 0, &err), 0, "%s", err.s);
	struct layer_rec r = sample_rec(), o;
	struct store_put puts[] = {{"p/a", &r}, {"p/b", &r}};
	cr_assert_eq(store_write(s, "dev", puts, 2, &err), 0);
	cr_assert_eq(store_write(s, "prod", puts, 1, &err), 0);
	cr_assert_eq(store_get_layer(s, "dev", "p/b", &o, &a, &err), 0);
	cr_assert_eq(o.count, 3);
	cr_assert_eq(store_get_layer(s, "dev", "p/c", &o, &a, &err), 1);
	struct seen sn = {0};
	cr_assert_eq(store_each_layer(s, "dev", each, &sn, &a, &err), 0);
	cr_assert_eq(sn.n, 2);
	cr_assert_str_eq(sn.ids[0], "p/a");
	struct store_put del = {"p/a", NULL};
	cr_assert_eq(store_write(s, "dev", &del, 1, &err), 0);
	cr_assert_eq(store_get_layer(s, "dev", "p/a", &o, &a, &err), 1);
	cr_assert_eq(store_clear_cluster(s, "dev", &err), 0);
	cr_assert_eq(store_get_layer(s, "dev", "p/b", &o, &a, &err), 1);
	cr_assert_eq(store_get_layer(s, "prod", "p/a", &o, &a, &err), 0, "clear touched another cluster");
	store_close(s);
	/* what was committed survives reopening */
	cr_assert_eq(store_open(&s, dir, 1, &err), 0);
	cr_assert_eq(store_get_layer(s, "prod", "p/a", &o, &a, &err), 0);
	store_close(s);
	rmrf(dir);
	arena_free(&a);
}

/* a mark goes with the records it vouches for: written in their
 * transaction, replaced (or, empty, deleted) with them, and forgotten by
 * clean with them */
Test(store, a_mark_is_written_replaced_and_cleared_with_the_records)
{
	char *dir = tmpdir();
	struct store *s;
	struct buf err = {0};
	struct arena a = {0};
	cr_assert_eq(store_open(&s, dir, 0, &err), 0, "%s", err.s);
	struct layer_rec r = sample_rec(), o;
	struct store_put puts[] = {{"p/a", &r}, {"p/b", &r}};
	cr_assert_eq(store_write_marked(s, "dev", puts, 2, 0, "u 1 i", 5, &err), 0, "%s", err.s);
	char *m;
	size_t n;
	cr_assert_eq(store_get_blob(s, STORE_MARK, "dev", &m, &n, &a, &err), 0);
	cr_assert(n == 5 && !memcmp(m, "u 1 i", 5));
	cr_assert_eq(store_get_blob(s, STORE_MARK, "prod", &m, &n, &a, &err), 1);
	/* the schema's key in the same table is no cluster's mark */
	cr_assert_eq(store_get_blob(s, STORE_MARK, "version", &m, &n, &a, &err), 1);
	/* replace: p/a alone stays */
	cr_assert_eq(store_write_marked(s, "dev", puts, 1, 1, "u 2 i", 5, &err), 0);
	cr_assert_eq(store_get_layer(s, "dev", "p/b", &o, &a, &err), 1, "replace kept p/b");
	cr_assert_eq(store_get_layer(s, "dev", "p/a", &o, &a, &err), 0);
	cr_assert_eq(store_get_blob(s, STORE_MARK, "dev", &m, &n, &a, &err), 0);
	cr_assert(n == 5 && !memcmp(m, "u 2 i", 5));
	/* a write without a mark leaves it */
	cr_assert_eq(store_write(s, "dev", puts + 1, 1, &err), 0);
	cr_assert_eq(store_get_blob(s, STORE_MARK, "dev", &m, &n, &a, &err), 0);
	/* an empty mark deletes it */
	cr_assert_eq(store_write_marked(s, "dev", NULL, 0, 1, "", 0, &err), 0);
	cr_assert_eq(store_get_blob(s, STORE_MARK, "dev", &m, &n, &a, &err), 1);
	cr_assert_eq(store_get_layer(s, "dev", "p/a", &o, &a, &err), 1);
	cr_assert_eq(store_write_marked(s, "dev", puts, 2, 0, "u 3 i", 5, &err), 0);
	cr_assert_eq(store_clear_cluster(s, "dev", &err), 0);
	cr_assert_eq(store_get_blob(s, STORE_MARK, "dev", &m, &n, &a, &err), 1, "clean kept the mark");
	store_close(s);
	rmrf(dir);
	arena_free(&a);
}

Test(store, grows_the_map_when_full)
{
	char *dir = tmpdir();
	struct store *s;
	struct buf err = {0};
	cr_assert_eq(store_open(&s, dir, 0, &err), 0);
	/* 64 MiB map; write ~100 MiB of records in 1 MiB transactions */
	struct layer_rec r = sample_rec();
	char *inv = malloc(1 << 20);
	memset(inv, 'x', 1 << 20);
	r.inventory = inv;
	r.ninventory = 1 << 20;
	for (int i = 0; i < 100; i++) {
		char id[32];
		snprintf(id, sizeof(id), "p/l%03d", i);
		struct store_put p = {id, &r};
		cr_assert_eq(store_write(s, "dev", &p, 1, &err), 0, "write %d: %s", i, err.s);
	}
	struct arena a = {0};
	struct layer_rec o;
	cr_assert_eq(store_get_layer(s, "dev", "p/l099", &o, &a, &err), 0);
	cr_assert_eq(o.ninventory, (size_t)1 << 20);
	store_close(s);
	free(inv);
	arena_free(&a);
	rmrf(dir);
}

Test(store, corrupt_record_is_an_error_naming_clean)
{
	char *dir = tmpdir();
	char path[128];
	snprintf(path, sizeof(path), "%s/state.mdb", dir);
	struct store *s;
	struct buf err = {0};
	cr_assert_eq(store_open(&s, dir, 0, &err), 0);
	store_close(s);
	/* write a record of an unknown version with LMDB directly */
	MDB_env *env;
	MDB_txn *t;
	MDB_dbi dbi;
	mdb_env_create(&env);
	mdb_env_set_maxdbs(env, 8);
	cr_assert_eq(mdb_env_open(env, path, MDB_NOSUBDIR, 0644), 0);
	mdb_txn_begin(env, NULL, 0, &t);
	mdb_dbi_open(t, "layers", 0, &dbi);
	MDB_val k = {7, "dev\0p/x"}, v = {3, "\x09zz"};
	mdb_put(t, dbi, &k, &v, 0);
	mdb_txn_commit(t);
	mdb_env_close(env);
	struct arena a = {0};
	struct layer_rec o;
	cr_assert_eq(store_open(&s, dir, 1, &err), 0);
	cr_assert_eq(store_get_layer(s, "dev", "p/x", &o, &a, &err), -1);
	cr_assert(strstr(err.s, "corrupt or of an unknown version"), "%s", err.s);
	cr_assert(strstr(err.s, "addonmake clean"), "%s", err.s);
	buf_free(&err);
	store_close(s);
	arena_free(&a);
	rmrf(dir);
}

Test(lock, second_holder_is_refused_with_pid)
{
	char *dir = tmpdir();
	int fd = -1;
	long pid = 0;
	struct buf err = {0};
	cr_assert_eq(run_lock(dir, 0, &pid, &fd, &err), 0);
	int p[2];
	cr_assert_eq(pipe(p), 0);
	pid_t child = fork();
	if (child == 0) {
		int cfd = -1;
		long other = 0;
		struct buf e = {0};
		int rc = run_lock(dir, 0, &other, &cfd, &e);
		char msg[64];
		int n = snprintf(msg, sizeof(msg), "%d %ld", rc, other);
		write(p[1], msg, (size_t)n);
		_exit(0);
	}
	close(p[1]);
	char msg[64] = {0};
	read(p[0], msg, sizeof(msg) - 1);
	waitpid(child, NULL, 0);
	char want[64];
	snprintf(want, sizeof(want), "1 %ld", (long)getpid());
	cr_assert_str_eq(msg, want);
	run_unlock(fd);
	rmrf(dir);
}

Test(canon, mapping_keys_and_deep_nesting)
{
	/* a mapping used as a key, nested deeper than the scratch grows at
	 * once, must encode the same whatever the key order */
	struct buf x = {0}, y = {0};
	canon_of("? {a: {b: {c: {d: {e: {f: {g: {h: {i: 1}}}}}}}}}\n: v\nz: [ {q: 1, p: 2} ]\n", &x);
	canon_of("z: [ {p: 2, q: 1} ]\n? {a: {b: {c: {d: {e: {f: {g: {h: {i: 1}}}}}}}}}\n: v\n", &y);
	cr_assert_eq(x.len, y.len);
	cr_assert_eq(memcmp(x.s, y.s, x.len), 0);
	buf_free(&x);
	buf_free(&y);
}

/* hash_parse_hex reads back exactly what hash_hex wrote, and nothing else */
Test(canon, hash_hex_round_trip)
{
	struct hash128 h, back;
	hash_bytes("abc", 3, &h);
	char hex[33];
	hash_hex(&h, hex);
	cr_assert_eq(hash_parse_hex(hex, &back), 0);
	cr_assert_eq(memcmp(h.b, back.b, 16), 0);
	const char *bad[] = {"", "0123", "0123456789ABCDEF0123456789abcdef",
			     "0123456789abcdef0123456789abcdeg", "0123456789abcdef0123456789abcdef0"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
		cr_assert_eq(hash_parse_hex(bad[i], &back), -1, "%s", bad[i]);
}
