/* discovery: apiVersion + kind -> resource and scope, from the legacy
 * per-group-version documents (/api/v1, /apis/G/V), asked once per
 * group-version and run, and asked again once when a kind is missing (a
 * CRD may have been established since). */
#include <stdlib.h>
#include <string.h>
#include "internal.h"

struct gvres {
	size_t n;
	struct kube_res *v;
};

/* GET the group-version's resource list (k->dmu held) */
static int
fetch_gv(struct kube *k, const char *gv, struct gvres **out, struct buf *err)
{
	struct buf path = {0};
	buf_printf(&path, "%s%s", strchr(gv, '/') ? "/apis/" : "/api/", gv);
	struct kube_resp r;
	int rc = kube_call(k, "GET", path.s, NULL, NULL, NULL, 0, &r, err);
	struct gvres *g = arena_alloc(&k->da, sizeof(*g));
	memset(g, 0, sizeof(*g));
	if (rc == 0 && r.code == 200) {
		struct arena a = {0};
		const struct dnode *res = doc_get(kube_json(&a, &r), "resources");
		size_t n = res && res->kind == D_SEQ ? res->n : 0;
		g->v = arena_alloc(&k->da, (n ? n : 1) * sizeof(*g->v));
		const char *slash = strchr(gv, '/');
		const char *group = slash ? arena_strndup(&k->da, gv, (size_t)(slash - gv)) : "";
		const char *version = arena_strdup(&k->da, slash ? slash + 1 : gv);
		for (size_t i = 0; i < n; i++) {
			const char *name = doc_str(doc_get(res->items[i], "name"));
			const char *kind = doc_str(doc_get(res->items[i], "kind"));
			const char *nsd = doc_str(doc_get(res->items[i], "namespaced"));
			if (!name || !kind || strchr(name, '/'))
				continue;
			g->v[g->n++] = (struct kube_res){group, version, arena_strdup(&k->da, name),
							 arena_strdup(&k->da, kind),
							 nsd && strcmp(nsd, "true") == 0};
		}
		arena_free(&a);
	} else if (rc == 0 && r.code != 404) {
		kube_error(k, path.s, &r, err);
		rc = -1;
	}
	kube_resp_free(&r);
	buf_free(&path);
	if (rc < 0)
		return -1;
	*out = g;
	return 0;
}

int
kube_resource(struct kube *k, const char *api_version, const char *kind,
	      struct kube_res *out, struct buf *err)
{
	pthread_mutex_lock(&k->dmu);
	int rc = 1;
	for (int pass = 0; pass < 2; pass++) {
		/* keys live in k->da; the set does not copy them */
		char *key = NULL;
		for (size_t i = 0; i < k->ngvkeys && !key; i++)
			if (strcmp(k->gvkeys[i], api_version) == 0)
				key = k->gvkeys[i];
		if (!key) {
			key = arena_strdup(&k->da, api_version);
			k->gvkeys = xrealloc(k->gvkeys, (k->ngvkeys + 1) * sizeof(*k->gvkeys));
			k->gvkeys[k->ngvkeys++] = key;
		}
		int added;
		void **slot = strset_slot(&k->gvs, key, &added);
		int fetched = 0;
		if (!*slot) {
			struct gvres *g;
			if (fetch_gv(k, api_version, &g, err) < 0) {
				rc = -1;
				break;
			}
			*slot = g;
			fetched = 1;
		}
		const struct gvres *g = *slot;
		for (size_t i = 0; i < g->n; i++)
			if (strcmp(g->v[i].kind, kind) == 0) {
				*out = g->v[i];
				rc = 0;
				break;
			}
		if (rc == 0 || fetched)
			break;
		*slot = NULL; /* cached and missing: ask once more */
	}
	pthread_mutex_unlock(&k->dmu);
	return rc;
}

void
kube_forget(struct kube *k, const char *group)
{
	size_t gl = strlen(group);
	pthread_mutex_lock(&k->dmu);
	for (size_t i = 0; i < k->ngvkeys; i++) {
		const char *key = k->gvkeys[i];
		if (strncmp(key, group, gl) == 0 && key[gl] == '/') {
			int added;
			*strset_slot(&k->gvs, key, &added) = NULL;
		}
	}
	pthread_mutex_unlock(&k->dmu);
}

void
kube_path(struct buf *b, const struct kube_res *r, const char *ns, const char *name)
{
	if (*r->group)
		buf_printf(b, "/apis/%s/%s", r->group, r->version);
	else
		buf_printf(b, "/api/%s", r->version);
	if (r->namespaced && ns)
		buf_printf(b, "/namespaces/%s", ns);
	buf_printf(b, "/%s", r->resource);
	if (name)
		buf_printf(b, "/%s", name);
}
