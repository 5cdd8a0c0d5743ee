/* workspace: addonmake.yaml as ws_load reads it. */
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *path = fuzz_file(data, n, "addonmake.yaml");
	struct workspace w = {0};
	struct diag d = {0};
	ws_load(&w, path, &d);
	ws_free(&w);
	diag_free(&d);
	return 0;
}
