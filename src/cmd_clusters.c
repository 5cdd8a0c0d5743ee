/* cmd_clusters: `addonmake clusters` — the clusters of the workspace (of a
 * shard, of -c) with target, profiles and layers, as a table or as the
 * matrix of a CI engine (GitHub Actions' {"include": [...]}, in chunks of
 * at most --chunk N). Nothing is fetched or compiled: profiles are only
 * parsed, to count their layers. */
#include <stdlib.h>
#include <string.h>
#include "cmd.h"
#include "fleet.h"

static void
entry_json(struct buf *b, const struct cluster *c, const char *target, size_t layers)
{
	buf_adds(b, "{\"cluster\":");
	doc_json_str(b, c->name);
	buf_adds(b, ",\"target\":");
	doc_json_str(b, target);
	buf_printf(b, ",\"layers\":%zu,\"profiles\":[", layers);
	for (size_t k = 0; k < c->nprofiles; k++) {
		if (k)
			buf_addc(b, ',');
		doc_json_str(b, c->profiles[k]);
	}
	buf_adds(b, "]}");
}

int
cmd_clusters(struct cmd_ctx *x)
{
	struct buf out = {0}, err = {0};
	size_t chunk = x->ro->chunk ? (size_t)x->ro->chunk : x->ncl + 1;
	if (x->ro->json && x->ro->chunk)
		buf_addc(&out, '[');
	else if (!x->ro->json)
		buf_printf(&out, "%-24s %-7s %6s  %s\n", "CLUSTER", "TARGET", "LAYERS", "PROFILES");
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		const struct target_ops *ops = target_for(c, &err);
		const char *target = ops ? ops->kind : "none";
		size_t layers = fleet_layers(x->w, c);
		if (!x->ro->json) {
			buf_printf(&out, "%-24s %-7s %6zu ", c->name, target, layers);
			for (size_t k = 0; k < c->nprofiles; k++)
				buf_printf(&out, " %s", c->profiles[k]);
			buf_addc(&out, '\n');
			continue;
		}
		if (i % chunk == 0)
			buf_adds(&out, i ? "]},{\"include\":[" : "{\"include\":[");
		else
			buf_addc(&out, ',');
		entry_json(&out, c, target, layers);
	}
	if (x->ro->json) {
		buf_adds(&out, x->ncl ? "]}" : "{\"include\":[]}");
		buf_adds(&out, x->ro->chunk ? "]\n" : "\n");
	}
	fwrite(out.s, 1, out.len, stdout);
	buf_free(&out);
	buf_free(&err);
	return EXIT_DONE;
}
