/* json: API server answers — objects (kstatus reads them), Status errors
 * (kube_error turns them into messages) — and OCI manifests (the layer
 * they name), through addonmake's own JSON parser. */
#include <stdlib.h>
#include "../../src/kube/kube.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t n)
{
	struct arena a = {0};
	struct dnode *root;
	struct buf why = {0};
	int ok = doc_parse_json(&a, (const char *)data, n, &root) == 0;
	/* leaving members out never changes what is JSON */
	struct dnode *lean;
	if (ok != (doc_parse_json_skip(&a, (const char *)data, n, "metadata", &lean) == 0))
		abort();
	if (ok) {
		kube_kstatus(root, 0, &why);
		doc_str(doc_path(root, "metadata.name"));
		/* as an OCI manifest */
		static const char *const media[] = {"application/vnd.oci.image.layer.v1.tar+gzip",
						    "application/tar+gzip", NULL};
		oci_layer_digest(root, media);
	}
	/* a Status error, whatever the answer's code */
	static struct kube *k;
	if (!k) {
		struct kube_cfg cfg = {0};
		cfg.server = xstrdup("https://127.0.0.1:1");
		cfg.where = xstrdup("fuzz");
		cfg.cred = xstrdup("token of user fuzz");
		k = kube_open(&cfg, NULL, NULL, NULL);
	}
	struct kube_resp r = {n ? 400 + data[0] % 200 : 500, {0}};
	buf_add(&r.body, (const char *)data, n);
	buf_clear(&why);
	kube_error(k, "apply ConfigMap default/x", &r, &why);
	kube_resp_free(&r);
	buf_free(&why);
	arena_free(&a);
	return 0;
}
