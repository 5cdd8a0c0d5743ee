/* index: a Helm repository index.yaml, and the version a constraint
 * picks from it. The first line of the input is the constraint. */
#include <string.h>
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *s = (const char *)data, *nl = memchr(s, '\n', n);
	if (!nl)
		return 0;
	struct arena a = {0};
	char *want = arena_strndup(&a, s, (size_t)(nl - s));
	struct dnode *index = NULL;
	struct dorigin o = {"index.yaml", 2, 1, 0, 1};
	if (doc_parse_first(&a, nl + 1, n - (size_t)(nl + 1 - s), &o, &index, NULL) == 0) {
		struct dnode *entries = doc_get(index, "entries");
		for (size_t i = 0; entries && entries->kind == D_MAP && i < entries->n; i++) {
			struct dnode *vs = entries->items[2 * i + 1];
			if (!vs || vs->kind != D_SEQ)
				continue;
			const char **v = arena_alloc(&a, (vs->n + 1) * sizeof(*v));
			for (size_t j = 0; j < vs->n; j++)
				v[j] = doc_str(doc_get(vs->items[j], "version"));
			int bad;
			semver_pick(v, vs->n, want, &bad);
		}
	}
	arena_free(&a);
	return 0;
}
