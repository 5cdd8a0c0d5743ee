/* e2e faults: a damaged state file and a disk that will not take a
 * rendered layer give clear errors and lose nothing — never a crash, never
 * a half-written file — and `addonmake clean` always recovers. */
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

static void
flip(struct tws *t, const char *rel, long off, int n)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/%s", t->dir, rel);
	FILE *f = fopen(p, "r+b");
	cr_assert_not_null(f);
	unsigned char b[64];
	fseek(f, off, SEEK_SET);
	size_t got = fread(b, 1, (size_t)n, f);
	for (size_t i = 0; i < got; i++)
		b[i] ^= 0xA5;
	fseek(f, off, SEEK_SET);
	fwrite(b, 1, got, f);
	fclose(f);
}

static void
assert_damage_is_reported(const struct res *r, const char *how, long off)
{
	cr_assert(r->code == 0 || r->code == 1, "`%s` with bytes flipped at %ld: exit %d\n%s", how,
		  off, r->code, r->err);
	if (r->code == 1)
		cr_assert(strstr(r->err, ".addonmake/state.mdb") && strstr(r->err, "addonmake clean"),
			  "`%s` with bytes flipped at %ld:\n%s", how, off, r->err);
}

/* the way out an error named: `addonmake ARGS` (clean, clean -c dev),
 * after which a sync makes the records of the four layers from the
 * rendered files (intact: nothing to apply), and then, with the files
 * gone, applies them again */
static void
recover_with(struct tws *t, const char *args)
{
	struct res r = am(t, "%s", args);
	assert_code(r, 0);
	res_free(&r);
	r = am(t, "-v sync");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "dev: 4 layer records read from its rendered files"), "%s", r.err);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	cr_assert_eq(tws_sh(t, "rm -r out"), 0);
	r = am(t, "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": ready "), 4, "%s", r.out);
	res_free(&r);
}

Test(faults, a_damaged_state_file_is_an_error_never_a_crash)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r;
	char *good = tws_get(&t, ".addonmake/state.mdb");
	char p[700];
	snprintf(p, sizeof(p), "%s/.addonmake/state.mdb", t.dir);
	struct stat st;
	cr_assert_eq(stat(p, &st), 0);
	int damaged = 0;
	/* every page's header and a piece of its middle */
	for (long off = 0; off < st.st_size; off += 2048) {
		cr_assert_eq(file_write_atomic(p, good, (size_t)st.st_size), 0);
		flip(&t, ".addonmake/state.mdb", off, 64);
		const char *modes[] = {"status", "plan --json", "sync -n"};
		for (int i = 0; i < 3; i++) {
			r = am(&t, "%s", modes[i]);
			assert_damage_is_reported(&r, modes[i], off);
			damaged += r.code == 1;
			res_free(&r);
		}
	}
	cr_assert(damaged > 0, "no flipped byte was noticed: the test flips nothing that matters");
	/* cut short: the exact message */
	cr_assert_eq(truncate(p, st.st_size / 2), 0);
	r = am(&t, "status");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "addonmake: error: .addonmake/state.mdb is damaged: ") &&
		  strstr(r.err, "; run 'addonmake clean' to start afresh (the next sync applies every "
				"layer again)\n"), "%s", r.err);
	res_free(&r);
	recover_with(&t, "clean");
	free(good);
	tws_free(&t);
}

/* a layer "big" whose ConfigMap has n entries of 100 bytes */
static void
big_layer(struct tws *t, int n)
{
	struct buf b = {0};
	buf_adds(&b, "      - name: big\n        type: manifest\n        manifests:\n"
		     "          - name: m\n            content: |\n"
		     "              kind: ConfigMap\n              metadata: {name: big}\n"
		     "              data:\n");
	for (int i = 0; i < n; i++)
		buf_printf(&b, "                k%d: \"%0100d\"\n", i, i);
	fx_profile(t, "1", b.s);
	buf_free(&b);
}

Test(faults, a_full_disk_keeps_the_old_rendered_file_and_records_the_failure)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	big_layer(&t, 10);
	struct res r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *before = tws_get(&t, "out/p00000_p+big.yaml");
	cr_assert_not_null(before);
	/* it grows past what the file-size limit lets be written (150 KiB; the state stays smaller) */
	big_layer(&t, 2000);
	r = am_sh(&t, "ulimit -f 150; ", "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "addonmake: dev: layer p/big failed: cannot write out/p00000_p+big.yaml: "
				"File too large"), "%s\n%s", r.out, r.err);
	res_free(&r);
	char *after = tws_get(&t, "out/p00000_p+big.yaml");
	cr_assert_str_eq(after, before, "the rendered file is not the old one");
	free(after);
	r = am(&t, "plan");
	cr_assert(strstr(r.out, "p/big") && strstr(r.out, "last apply failed"), "%s", r.out);
	res_free(&r);
	r = am_sh(&t, "test -z \"$(ls out | grep tmp)\" && ", "status");
	assert_code(r, 0); /* and no temporary file was left behind */
	res_free(&r);
	/* with room again, it is applied */
	r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	after = tws_get(&t, "out/p00000_p+big.yaml");
	cr_assert(strlen(after) > 200000, "%zu bytes", strlen(after));
	free(after);
	free(before);
	tws_free(&t);
}

/* chattr +i: read-only even for root, who runs CI; 0 when it cannot be
 * used here (another file system, no e2fsprogs) */
static int
immutable(struct tws *t, const char *rel, int on)
{
	return tws_sh(t, "chattr %ci '%s' 2>/dev/null", on ? '+' : '-', rel) == 0;
}

Test(faults, a_read_only_output_directory_fails_the_layer_and_keeps_the_old_file)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r;
	char *before = tws_get(&t, "out/p00000_p+b.yaml");
	fx_profile(&t, "changed", NULL);
	if (!immutable(&t, "out", 1)) {
		free(before);
		tws_free(&t);
		cr_skip_test("chattr +i does not work here");
	}
	r = am(&t, "sync");
	immutable(&t, "out", 0);
	assert_code(r, 1);
	cr_assert(strstr(r.out, "addonmake: dev: layer p/b failed: cannot write out/p00000_p+b.yaml: "
				"Operation not permitted"), "%s", r.out);
	res_free(&r);
	char *after = tws_get(&t, "out/p00000_p+b.yaml");
	cr_assert_str_eq(after, before);
	free(after);
	free(before);
	r = am(&t, "plan");
	cr_assert(strstr(r.out, "p/b") && strstr(r.out, "last apply failed"), "%s", r.out);
	res_free(&r);
	/* a state file that cannot be written: a clear error, nothing applied */
	cr_assert(immutable(&t, ".addonmake/state.mdb", 1));
	r = am(&t, "sync");
	immutable(&t, ".addonmake/state.mdb", 0);
	assert_code(r, 1);
	cr_assert_str_eq(r.err, "addonmake: error: .addonmake/state.mdb: cannot open the state: "
				"Operation not permitted; addonmake must be able to write its state "
				"files\n");
	res_free(&r);
	r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	tws_free(&t);
}

/* a state directory nothing can be created in: a first run fails before
 * anything is applied and says where it must write; once the state is
 * there, its files are all a run writes in that directory */
Test(faults, a_read_only_state_directory_is_a_clear_error_before_anything_is_applied)
{
	struct tws t;
	tws_init(&t);
	fx_render_ws(&t);
	char p[700];
	snprintf(p, sizeof(p), "%s/.addonmake", t.dir);
	cr_assert_eq(mkdir(p, 0755), 0);
	if (!immutable(&t, ".addonmake", 1)) {
		tws_free(&t);
		cr_skip_test("chattr +i does not work here");
	}
	struct res r = am(&t, "sync");
	int out = tws_exists(&t, "out");
	immutable(&t, ".addonmake", 0);
	assert_code(r, 1);
	cr_assert_str_eq(r.err, "addonmake: error: .addonmake/lock: cannot open the lock file: "
				"Operation not permitted; addonmake keeps its state in .addonmake and "
				"must be able to write there\n");
	cr_assert_str_eq(r.out, "");
	cr_assert(!out, "a layer was applied");
	res_free(&r);
	r = am(&t, "sync");
	assert_code(r, 0);
	res_free(&r);
	/* the state exists: a change is applied and recorded in place */
	fx_profile(&t, "changed", NULL);
	cr_assert(immutable(&t, ".addonmake", 1));
	r = am(&t, "sync");
	struct res st = am(&t, "status");
	immutable(&t, ".addonmake", 0);
	assert_code(r, 0);
	cr_assert(strstr(r.out, "ready p/b"), "%s", r.out);
	assert_code(st, 0);
	cr_assert_eq(count_lines(st.out, "up to date"), 4, "%s", st.out);
	res_free(&st);
	res_free(&r);
	tws_free(&t);
}

/* replaces the byte after every `after` in rel with b (LMDB keeps older
 * copies of a page until they are reused) */
static void
patch_after(struct tws *t, const char *rel, const char *after, size_t alen, char b)
{
	char p[700];
	snprintf(p, sizeof(p), "%s/%s", t->dir, rel);
	struct buf d = {0};
	cr_assert_eq(file_read(p, &d), 0);
	int n = 0;
	for (size_t i = 0; i + alen < d.len; i++)
		if (memcmp(d.s + i, after, alen) == 0) {
			d.s[i + alen] = b;
			n++;
		}
	cr_assert(n > 0, "no %s in %s", after, rel);
	cr_assert_eq(file_write_atomic(p, d.s, d.len), 0);
	buf_free(&d);
}

Test(faults, records_and_a_state_of_an_unknown_version_are_refused_with_the_way_out)
{
	struct tws t;
	tws_init(&t);
	fx_render_synced(&t);
	struct res r;
	/* a layer record written by a future addonmake: its version byte
	 * follows the key in LMDB's leaf node, after the key's size (7) */
	patch_after(&t, ".addonmake/state.mdb", "\7\0dev\0p/b", 9, 0x7f);
	r = am(&t, "status");
	assert_code(r, 1);
	cr_assert_str_eq(r.err, "addonmake: error: .addonmake/state.mdb: the record of dev/p/b is corrupt "
				"or of an unknown version; run 'addonmake clean -c dev' to forget it\n");
	res_free(&r);
	recover_with(&t, "clean -c dev");
	/* a whole state of another schema */
	patch_after(&t, ".addonmake/state.mdb", "version", 7, '9');
	r = am(&t, "plan");
	assert_code(r, 1);
	cr_assert_str_eq(r.err, "addonmake: error: .addonmake/state.mdb: the state has schema version 9, "
				"this addonmake reads 1; run 'addonmake clean' to start afresh\n");
	res_free(&r);
	recover_with(&t, "clean");
	tws_free(&t);
}

/* MDB_MAP_FULL: a state map of 64 KiB (the test hook; the real one starts
 * at 64 MiB) fills up during the first sync of 300 layers; the map grows,
 * nothing fails, every layer is recorded once */
Test(faults, a_full_state_map_grows_and_the_run_goes_on)
{
	struct tws t;
	tws_init(&t);
	struct buf p = {0};
	buf_adds(&p, "metadata: {name: p}\nspec:\n  template:\n    packs:\n");
	for (int i = 0; i < 300; i++)
		buf_printf(&p, "      - {name: layer-with-a-long-name-%03d, type: manifest, "
			       "manifests: [{name: m, content: 'kind: ConfigMap'}]}\n", i);
	tws_put(&t, "p.yaml", "%s", p.s);
	buf_free(&p);
	tws_put(&t, "addonmake.yaml", "clusters:\n  - name: dev\n    target: {render: {dir: out}}\n"
				      "    profiles: [p.yaml]\n");
	const char *tiny = "ADDONMAKE_TEST_MAP_SIZE=65536 ";
	struct res r = am_sh(&t, tiny, "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": ready "), 300, "%s", r.err);
	cr_assert_str_eq(r.err, "");
	res_free(&r);
	struct stat st;
	char path[700];
	snprintf(path, sizeof(path), "%s/.addonmake/state.mdb", t.dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert(st.st_size > 65536, "the map did not have to grow: %lld bytes",
		  (long long)st.st_size);
	r = am_sh(&t, tiny, "status");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, "up to date"), 300, "%s", r.out);
	res_free(&r);
	r = am_sh(&t, tiny, "sync");
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n");
	res_free(&r);
	tws_free(&t);
}
