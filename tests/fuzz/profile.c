/* profile: a Palette profile export (YAML or JSON) as profile_load reads
 * it, then each pack entry's values through variable substitution and
 * parsing, as compiling does. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *path = fuzz_file(data, n, "profile.yaml");
	struct arena a = {0};
	struct diag d = {0};
	struct profile p = {0};
	struct ldctx lc = {NULL, &a, NULL, &d, NULL};
	if (profile_load(&lc, path, NULL, &p) == 0) {
		struct subst_ctx sc = {"dev", p.name, p.version, p.variables, NULL, NULL, NULL, NULL,
				       NULL, NULL};
		for (size_t i = 0; i < p.npacks; i++)
			profile_values(&a, &p, doc_get(p.packs[i], "values"), &sc, &d);
	}
	diag_free(&d);
	arena_free(&a);
	return 0;
}
