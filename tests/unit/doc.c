/* unit tests of src/yaml/: parsing with positions, embedded text, merging,
 * emission. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/yaml/doc.h"

static struct dnode *
parse1(struct arena *a, const char *text, struct diag *d)
{
	struct dnode **docs;
	size_t n;
	struct dorigin o = {"t.yaml", 1, 1, 0, 1};
	if (doc_parse(a, text, strlen(text), &o, &docs, &n, d) || n < 1)
		return NULL;
	return docs[0];
}

Test(doc, positions_are_one_based)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, "a: 1\nb:\n  c: \"x\"\n", &d);
	cr_assert_not_null(r);
	struct dnode *c = doc_path(r, "b.c");
	cr_assert_str_eq(doc_str(c), "x");
	cr_assert_eq(c->line, 3);
	cr_assert_eq(c->col, 6);
	cr_assert_eq(c->style, DS_QUOTED);
	cr_assert_eq(doc_get(r, "a")->style, DS_PLAIN);
	arena_free(&a);
	diag_free(&d);
}

Test(doc, json_is_read_too)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, "{\"a\": {\"b\": [1, \"2\"]}}", &d);
	cr_assert_not_null(r);
	struct dnode *b = doc_path(r, "a.b");
	cr_assert_eq(b->kind, D_SEQ);
	cr_assert_eq(b->n, 2);
	cr_assert_eq(b->items[0]->style, DS_PLAIN);
	cr_assert_eq(b->items[1]->style, DS_QUOTED);
	arena_free(&a);
}

Test(doc, syntax_error_has_position)
{
	struct arena a = {0};
	struct diag d = {0};
	cr_assert_null(parse1(&a, "a: 1\nb: [1, 2\nc: 3\n", &d));
	cr_assert_eq(d.nerr, 1);
	cr_assert_str_eq(d.msg[0].file, "t.yaml");
	cr_assert_gt(d.msg[0].line, 1);
	cr_assert(strstr(d.msg[0].text, "malformed YAML") != NULL);
	arena_free(&a);
	diag_free(&d);
}

/* one text serves lookups in any order: a lookup before the last one
 * starts again from the top */
Test(doc, scalar_origins_in_any_order_from_one_text)
{
	const char *src = "a: |\n  one\nb: |\n\n    two\nc: 'x'\n";
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, src, &d);
	struct dtext t = {.s = src};
	struct dorigin o;
	const char *keys[] = {"b", "a", "c", "b"};
	int line[] = {5, 2, 6, 5}, indent[] = {4, 2, 0, 4}, col[] = {5, 3, 5, 5};
	for (int i = 0; i < 4; i++) {
		dorigin_of_scalar(&o, "p.yaml", &t, doc_get(r, keys[i]));
		cr_assert_eq(o.line, line[i], "%s: line %d", keys[i], o.line);
		cr_assert_eq(o.indent, indent[i], "%s: indent %d", keys[i], o.indent);
		cr_assert_eq(o.col, col[i], "%s: col %d", keys[i], o.col);
	}
	arena_free(&a);
	diag_free(&d);
}

Test(doc, block_scalar_maps_to_outer_lines)
{
	const char *src = "values: |\n  pack:\n    x: [\n";
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, src, &d);
	struct dnode *v = doc_get(r, "values");
	struct dorigin o;
	struct dtext t = {.s = src};
	dorigin_of_scalar(&o, "p.yaml", &t, v);
	cr_assert_eq(o.line, 2);
	cr_assert_eq(o.indent, 2);
	struct dnode **docs;
	size_t n;
	cr_assert_neq(doc_parse(&a, v->s, v->len, &o, &docs, &n, &d), 0);
	cr_assert_str_eq(d.msg[0].file, "p.yaml");
	cr_assert_geq(d.msg[0].line, 3, "error line %d should be in the outer file", d.msg[0].line);
	arena_free(&a);
	diag_free(&d);
}

Test(doc, aliases_share_the_anchor)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, "a: &x {k: v}\nb: *x\n", &d);
	cr_assert_eq(doc_get(r, "a"), doc_get(r, "b"));
	cr_assert_null(parse1(&a, "b: *nope\n", &d));
	arena_free(&a);
	diag_free(&d);
}

/* a "billion laughs" document: nine levels of nine aliases each */
static char *
laughs(int levels)
{
	struct buf b = {0};
	buf_adds(&b, "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
	for (int i = 1; i < levels; i++) {
		buf_printf(&b, "l%d: &l%d [", i, i);
		for (int j = 0; j < 9; j++)
			buf_printf(&b, "%s*l%d", j ? ", " : "", i - 1);
		buf_adds(&b, "]\n");
	}
	return b.s;
}

Test(doc, aliases_are_bounded_by_what_they_expand_to)
{
	struct arena a = {0};
	struct diag d = {0};
	/* 9^6 (531441) and less: a large but honest document */
	char *ok = laughs(6);
	cr_assert_not_null(parse1(&a, ok, &d));
	free(ok);
	char *bomb = laughs(9);
	cr_assert_null(parse1(&a, bomb, &d));
	free(bomb);
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(d.msg[0].text, "aliases expand the document to more than 1000000 nodes "
					"(at *l5); write the values out instead");
	cr_assert_eq(d.msg[0].line, 7);
	/* an alias inside its own anchor would make a cycle */
	cr_assert_null(parse1(&a, "a: &x [1, *x]\n", &d));
	cr_assert_str_eq(d.msg[1].text, "alias *x refers to a node that contains it");
	cr_assert_eq(d.msg[1].col, 11);
	arena_free(&a);
	diag_free(&d);
}

Test(doc, nesting_is_bounded)
{
	struct arena a = {0};
	struct diag d = {0};
	struct buf b = {0};
	for (int i = 0; i < 256; i++)
		buf_addc(&b, '[');
	for (int i = 0; i < 256; i++)
		buf_addc(&b, ']');
	cr_assert_not_null(parse1(&a, b.s, &d));
	buf_clear(&b);
	for (int i = 0; i < 300; i++)
		buf_addc(&b, '[');
	cr_assert_null(parse1(&a, b.s, &d));
	cr_assert_eq(d.n, 1);
	cr_assert_str_eq(d.msg[0].text, "the document nests deeper than 256 levels");
	cr_assert_eq(d.msg[0].col, 257); /* the 257th level */
	buf_free(&b);
	arena_free(&a);
	diag_free(&d);
}

Test(doc, merge_maps_key_by_key_lists_replaced)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *base = parse1(&a, "a: {x: 1, y: 2}\nl: [1, 2]\nkeep: k\n", &d);
	struct dnode *over = parse1(&a, "a: {y: 3, z: 4}\nl: [9]\n", &d);
	struct dnode *m = doc_merge(&a, base, over);
	cr_assert_str_eq(doc_str(doc_path(m, "a.x")), "1");
	cr_assert_str_eq(doc_str(doc_path(m, "a.y")), "3");
	cr_assert_str_eq(doc_str(doc_path(m, "a.z")), "4");
	cr_assert_eq(doc_get(m, "l")->n, 1);
	cr_assert_str_eq(doc_str(doc_get(m, "keep")), "k");
	arena_free(&a);
}

Test(doc, emit_is_deterministic_and_keeps_types)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, "# comment\nb: \"1\"\na:   [x, 'y']\nt: |\n  two\n  lines\n", &d);
	struct buf out = {0};
	cr_assert_eq(doc_emit(&out, r), 0);
	cr_assert_str_eq(out.s, "b: \"1\"\na:\n- x\n- \"y\"\nt: |\n  two\n  lines\n");
	arena_free(&a);
	buf_free(&out);
}

Test(doc, null_detection)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, "a: ~\nb: null\nc:\nd: \"\"\n", &d);
	cr_assert(doc_is_null(doc_get(r, "a")));
	cr_assert(doc_is_null(doc_get(r, "b")));
	cr_assert(doc_is_null(doc_get(r, "c")));
	cr_assert(!doc_is_null(doc_get(r, "d")));
	arena_free(&a);
}

Test(doc, parse_first_does_not_need_the_text_afterwards)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dorigin o = {"t.yaml", 1, 1, 0, 1};
	char *text = strdup("a: {b: hello}\n---\nsecond: 2\n");
	struct dnode *root;
	cr_assert_eq(doc_parse_first(&a, text, strlen(text), &o, &root, &d), 0);
	memset(text, 'x', strlen(text));
	free(text);
	cr_assert_str_eq(doc_str(doc_path(root, "a.b")), "hello");
	cr_assert_null(doc_get(root, "second"), "only the first document");
	cr_assert_eq(doc_parse_first(&a, "", 0, &o, &root, &d), 0);
	cr_assert_null(root);
	/* errors go to d, or nowhere with NULL */
	cr_assert_eq(doc_parse_first(&a, "a: [", 4, &o, &root, NULL), -1);
	cr_assert_eq(d.nerr, 0);
	cr_assert_eq(doc_parse_first(&a, "a: [", 4, &o, &root, &d), -1);
	cr_assert_eq(d.nerr, 1);
	diag_free(&d);
	arena_free(&a);
}

/* the same tree, kind by kind, style by style, text by text, position by
 * position */
static void
same_tree(const struct dnode *x, const struct dnode *y, const char *where)
{
	cr_assert(x && y, "%s: a node is missing", where);
	cr_assert_eq(x->kind, y->kind, "%s: kind", where);
	cr_assert_eq(x->line, y->line, "%s: line %d vs %d", where, x->line, y->line);
	cr_assert_eq(x->col, y->col, "%s: col %d vs %d (%s)", where, x->col, y->col, x->s ? x->s : "");
	if (x->kind == D_SCALAR) {
		cr_assert_eq(x->style, y->style, "%s: style of %s", where, x->s);
		cr_assert_eq(x->len, y->len, "%s: %s vs %s", where, x->s, y->s);
		cr_assert(memcmp(x->s, y->s, x->len) == 0, "%s: %s vs %s", where, x->s, y->s);
		return;
	}
	cr_assert_eq(x->n, y->n, "%s: %zu items vs %zu", where, x->n, y->n);
	for (size_t i = 0; i < (x->kind == D_MAP ? 2 * x->n : x->n); i++)
		same_tree(x->items[i], y->items[i], where);
}

Test(doc, json_parser_makes_what_libyaml_makes)
{
	const char *texts[] = {
		"{\"kind\": \"Deployment\", \"metadata\": {\"name\": \"web\", \"generation\": 2, "
		"\"labels\": {}}, \"spec\": {\"replicas\": 1, \"paused\": false, \"x\": null, "
		"\"f\": -1.5e3, \"list\": [1, \"1\", true, [], [{}]]}}",
		"{\n  \"a\": [\n    {\"b\": \"c\"},\n    \"d\"\n  ],\n  \"e\": \"caf\\u00e9 \\\"q\\\" \\\\ \\/ \\n\\t\"\n}\n",
		"[]", "\"just a string\"", "42",
		"{\"tab\": \"a\\tb\"}",
		"[0, -0, 10, -0.5, 1e5, 1E-5, 2.5e+3]",
		/* more items than the parser keeps on its stack */
		"[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,"
		"31,32,33,34,35,36,37,38,39,40]",
	};
	for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); i++) {
		struct arena a = {0};
		struct dnode *j = NULL, *y = NULL;
		cr_assert_eq(doc_parse_json(&a, texts[i], strlen(texts[i]), &j), 0, "%s", texts[i]);
		cr_assert_eq(doc_parse_first(&a, texts[i], strlen(texts[i]), NULL, &y, NULL), 0, "libyaml: %s", texts[i]);
		same_tree(j, y, texts[i]);
		arena_free(&a);
	}
}

/* a character outside the BMP as a surrogate pair (which libyaml refuses) */
Test(doc, json_parser_joins_surrogate_pairs)
{
	const char *t = "{\"emoji\": \"\\ud83d\\ude00\", \"lone\": \"\\ud83d!\"}";
	struct arena a = {0};
	struct dnode *j;
	cr_assert_eq(doc_parse_json(&a, t, strlen(t), &j), 0);
	cr_assert_str_eq(doc_str(doc_get(j, "emoji")), "\xf0\x9f\x98\x80");
	cr_assert_str_eq(doc_str(doc_get(j, "lone")), "\xef\xbf\xbd!");
	arena_free(&a);
}

Test(doc, json_parser_refuses_what_is_not_json)
{
	const char *bad[] = {"", "{", "{\"a\" 1}", "{\"a\": 1,}", "[1 2]", "\"open", "tru", "nul",
			     "{\"a\": 1} x", "{a: 1}", "\"\\x\"", "\"\\u12\"", "-", "[\"a\nb\"]", "1.2.3",
			     /* numbers as RFC 8259 writes them, not as strtod reads them */
			     "01", "1.", ".5", "+1", "1e", "-x", "0x10", "[1e+]"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct arena a = {0};
		struct dnode *j = (struct dnode *)1;
		cr_assert_eq(doc_parse_json(&a, bad[i], strlen(bad[i]), &j), -1, "accepted: %s", bad[i]);
		cr_assert_null(j);
		arena_free(&a);
	}
	/* nesting is bounded (a hostile answer cannot exhaust the stack) */
	struct buf deep = {0};
	for (int i = 0; i < 300; i++)
		buf_addc(&deep, '[');
	for (int i = 0; i < 300; i++)
		buf_addc(&deep, ']');
	struct arena a = {0};
	struct dnode *j;
	cr_assert_eq(doc_parse_json(&a, deep.s, deep.len, &j), -1);
	buf_clear(&deep);
	for (int i = 0; i < 200; i++)
		buf_addc(&deep, '[');
	for (int i = 0; i < 200; i++)
		buf_addc(&deep, ']');
	cr_assert_eq(doc_parse_json(&a, deep.s, deep.len, &j), 0);
	buf_free(&deep);
	arena_free(&a);
}

/* members left out by name, at any depth: the rest is what the full parse
 * gives; what is left out must still be JSON */
Test(doc, json_parser_leaves_out_named_members)
{
	const char *t = "{\"metadata\": {\"name\": \"a\", \"managedFields\": [{\"manager\": \"x\", "
			"\"fieldsV1\": {\"f:data\": {\".\": {}}}, \"n\": -1.5e3, \"s\": \"\\u00e9\\n\"}]}, "
			"\"data\": {\"k\": \"v\", \"managedFields\": null}}";
	const char *want = "{\"metadata\": {\"name\": \"a\"}, \"data\": {\"k\": \"v\"}}";
	struct arena a = {0};
	struct dnode *j, *w;
	cr_assert_eq(doc_parse_json_skip(&a, t, strlen(t), "managedFields", &j), 0);
	cr_assert_eq(doc_parse_json(&a, want, strlen(want), &w), 0);
	struct buf bj = {0}, bw = {0};
	doc_emit_json(&bj, j);
	doc_emit_json(&bw, w);
	cr_assert_str_eq(bj.s, bw.s);
	buf_free(&bj);
	buf_free(&bw);
	const char *bad[] = {"{\"managedFields\": [1,]}", "{\"managedFields\": \"\\uZZZZ\"}",
			     "{\"managedFields\": {\"a\" 1}}", "{\"managedFields\": tru}",
			     "{\"managedFields\": 01}", "{\"managedFields\": \"open}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		j = (struct dnode *)1;
		cr_assert_eq(doc_parse_json_skip(&a, bad[i], strlen(bad[i]), "managedFields", &j), -1,
			     "accepted: %s", bad[i]);
		cr_assert_null(j);
	}
	arena_free(&a);
}

/* a document that must parse */
static struct dnode *
one(struct arena *a, const char *text)
{
	struct diag d = {0};
	struct dnode *n = parse1(a, text, &d);
	cr_assert(n, "%s", text);
	diag_free(&d);
	return n;
}

static void
add_path(void *u, const char *p)
{
	buf_printf(u, "%s;", p);
}

/* the deepest paths that differ: a changed value, a key on one side, an
 * item past the other's end; a scalar's type counts ("1" is not 1) */
Test(doc, diff_paths_name_what_changed)
{
	struct arena a = {0};
	struct dnode *x = one(&a, "kind: D\nspec: {replicas: 1, keep: k, tpl: {c: [{i: a}, {i: b}]}}\n"
				  "data: {gone: 1}\n");
	struct dnode *y = one(&a, "kind: D\nspec: {replicas: 2, keep: k, tpl: {c: [{i: a}, {i: B}, "
				  "{i: c}]}, new: \"1\"}\ndata: {}\n");
	struct buf b = {0};
	doc_diff_paths(x, y, add_path, &b);
	cr_assert_str_eq(b.s, "spec.replicas;spec.tpl.c[1].i;spec.tpl.c[2];spec.new;data.gone;");
	buf_clear(&b);
	doc_diff_paths(x, x, add_path, &b);
	cr_assert(!b.s || !*b.s, "%s", b.s);
	doc_diff_paths(one(&a, "v: 1\n"), one(&a, "v: \"1\"\n"), add_path, &b);
	cr_assert_str_eq(b.s, "v;");
	buf_clear(&b);
	doc_diff_paths(NULL, x, add_path, &b);
	cr_assert_str_eq(b.s, ";");
	buf_free(&b);
	arena_free(&a);
}
