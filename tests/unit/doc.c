/* unit tests of doc/: parsing with positions, embedded text, merging,
 * emission. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../../doc/doc.h"

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

Test(doc, block_scalar_maps_to_outer_lines)
{
	const char *src = "values: |\n  pack:\n    x: [\n";
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *r = parse1(&a, src, &d);
	struct dnode *v = doc_get(r, "values");
	struct dorigin o;
	dorigin_of_scalar(&o, "p.yaml", src, v);
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
