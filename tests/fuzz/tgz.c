/* tgz: a chart or pack archive (tar, gzip) unpacked as downloads are. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	static char dir[64];
	if (!dir[0])
		snprintf(dir, sizeof(dir), "/tmp/addonmake-fuzz-tgz-%ld", (long)getpid());
	struct buf err = {0};
	tgz_unpack((const char *)data, n, dir, &err);
	file_rmtree(dir);
	buf_free(&err);
	return 0;
}
