/* tmpl: a pack manifest template, rendered with a few values, as the
 * pack loader renders kubeManifests. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode *values = NULL;
	struct dorigin o = {"values", 1, 1, 0, 1};
	static const char vals[] = "a: {b: 1, c: [x, y]}\nname: demo\nenabled: true\nlist: [1, 2, 3]\n";
	doc_parse_first(&a, vals, sizeof(vals) - 1, &o, &values, NULL);
	struct buf out = {0};
	tmpl_render((const char *)data, n, values, NULL, "template.yaml", &a, &out, &d);
	buf_free(&out);
	diag_free(&d);
	arena_free(&a);
	return 0;
}
