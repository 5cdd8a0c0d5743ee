/* yaml: profiles, values and index files as libyaml reads them (YAML and
 * JSON), then what every loader does with a tree: merge, canonical
 * encoding for the hash, and emission as the render target writes it. */
#include "../../cache/cache.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a = {0};
	struct diag d = {0};
	struct dnode **docs;
	size_t ndocs;
	struct dorigin o = {"input", 1, 1, 0, 1};
	if (doc_parse(&a, (const char *)data, n, &o, &docs, &ndocs, &d) == 0) {
		struct buf b = {0};
		for (size_t i = 0; i < ndocs; i++) {
			struct dnode *m = doc_merge(&a, docs[0], docs[i]);
			canon_node(&b, m);
			buf_clear(&b);
			doc_emit(&b, docs[i]);
			buf_clear(&b);
			doc_emit_json(&b, docs[i]);
			buf_clear(&b);
		}
		buf_free(&b);
	}
	diag_free(&d);
	arena_free(&a);
	return 0;
}
