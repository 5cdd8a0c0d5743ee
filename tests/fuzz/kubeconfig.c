/* kubeconfig: a kubeconfig file as the kube target loads it (no
 * KUBECONFIG, no in-cluster files). */
#include "../../src/kube/kube.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	const char *path = fuzz_file(data, n, "kubeconfig");
	struct kube_cfg cfg = {0};
	struct buf err = {0};
	if (kube_config_load(path, NULL, "/nonexistent", &cfg, &err) == 0)
		kube_config_free(&cfg);
	buf_free(&err);
	return 0;
}
