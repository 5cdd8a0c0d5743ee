/* fuzz: what the fuzz targets share. Each target is one file defining
 * LLVMFuzzerTestOneInput over one parser of outside input; tests/fuzz/run
 * builds them with libFuzzer and the sanitizers and runs them. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include "../../src/load/load.h"

/* the input as a file (for loaders that read one), in a directory made
 * once per process; returns its path */
const char *fuzz_file(const uint8_t *data, size_t n, const char *name);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

#endif
