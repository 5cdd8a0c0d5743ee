/* layer_hash: what goes into a layer's hash (DESIGN §4). It reads the
 * parsed documents that the rendered stream (applied.c) is made of, so
 * whatever the hash ignores (comments, layout) the output ignores too. */
#include <string.h>
#include "load.h"

static void
field(struct buf *b, const char *name, const char *v)
{
	canon_field(b, name, v ? v : "", v ? strlen(v) : 0);
}

void
layer_hash(const struct cluster *c, struct layer *l)
{
	struct buf b = {0};
	char num[32];
	field(&b, "format", "addonmake-layer-1");
	field(&b, "type", l->type);
	field(&b, "id", l->id);
	field(&b, "namespace", l->ns);
	snprintf(num, sizeof(num), "%lld", (long long)l->order);
	field(&b, "order", num);
	field(&b, "pack", l->pack);
	field(&b, "version", l->version);
	field(&b, "pack-dir", l->body->pack_dir ? strrchr(l->body->pack_dir, '/') : NULL);
	if (l->chart.digest) /* absent for other layers: their hashes stay as they were */
		field(&b, "digest", l->chart.digest);
	canon_node(&b, l->body->values);
	for (size_t i = 0; i < l->body->ndocs; i++)
		canon_node(&b, l->body->docs[i]);
	/* the target's identity: moving a cluster to another target re-applies */
	const struct target_cfg *t = &c->target;
	snprintf(num, sizeof(num), "%d", t->kind);
	field(&b, "target", num);
	field(&b, "dir", t->rawdir); /* as written: -C and -f do not change it */
	for (int k = 0; k < 3; k++) {
		char **argv = k == 0 ? t->apply : k == 1 ? t->check : t->del;
		for (char **p = argv; p && *p; p++)
			field(&b, "argv", *p);
		field(&b, "end", "");
	}
	field(&b, "kubeconfig", t->kubeconfig);
	field(&b, "context", t->context);
	/* the rendered text's form (applied.c): a new form is written again
	 * by the render and exec targets, which receive the text */
	if (t->kind != TARGET_KUBE)
		field(&b, "rendered", "2");
	hash_bytes(b.s, b.len, &l->hash);
	buf_free(&b);
}
