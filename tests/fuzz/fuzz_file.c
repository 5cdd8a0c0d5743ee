/* fuzz_file: the input of a run as a file, for targets whose parser reads
 * a path. One directory per process, reused by every input. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "fuzz.h"

static char dir[64];

static void
cleanup(void)
{
	file_rmtree(dir);
}

const char *
fuzz_file(const uint8_t *data, size_t n, const char *name)
{
	static char path[128];
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/addonmake-fuzz-XXXXXX");
		if (!mkdtemp(dir))
			abort();
		atexit(cleanup);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (file_write_atomic(path, (const char *)data, n))
		abort();
	return path;
}
