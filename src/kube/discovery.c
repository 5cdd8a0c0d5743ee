/* discovery: apiVersion + kind -> resource and scope. First aggregated
 * discovery (apidiscovery.k8s.io/v2, Kubernetes 1.30 and later): every
 * group-version of the server in two requests, /api and /apis. A server
 * that does not offer it answers with its legacy lists, and then each
 * group-version's document (/api/v1, /apis/G/V) is asked once per run. A
 * kind that is missing asks its group-version's document again, once (a
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
			g->v[g->n++] = (struct kube_res){.group = group, .version = version,
							 .resource = arena_strdup(&k->da, name),
							 .kind = arena_strdup(&k->da, kind),
							 .namespaced = nsd && strcmp(nsd, "true") == 0};
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

/* the cache slot of a group-version; keys live in k->da and in gvkeys
 * (for kube_forget), the set does not copy them (k->dmu held) */
static void **
gv_slot(struct kube *k, const char *api_version)
{
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
	return strset_slot(&k->gvs, key, &added);
}

#define AGGREGATED "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

/* one APIGroupDiscoveryList into the cache; 1 when the answer is not one
 * (a server without aggregated discovery sends its legacy list) */
static int
take_aggregated(struct kube *k, const struct dnode *list)
{
	const char *kind = doc_str(doc_get(list, "kind"));
	const struct dnode *items = doc_get(list, "items");
	if (!kind || strcmp(kind, "APIGroupDiscoveryList") != 0 || !items || items->kind != D_SEQ)
		return 1;
	for (size_t i = 0; i < items->n; i++) {
		const char *gname = doc_str(doc_path(items->items[i], "metadata.name"));
		const char *group = arena_strdup(&k->da, gname ? gname : "");
		const struct dnode *vs = doc_get(items->items[i], "versions");
		for (size_t j = 0; vs && vs->kind == D_SEQ && j < vs->n; j++) {
			const char *v = doc_str(doc_get(vs->items[j], "version"));
			const struct dnode *rs = doc_get(vs->items[j], "resources");
			if (!v)
				continue;
			size_t n = rs && rs->kind == D_SEQ ? rs->n : 0;
			struct gvres *g = arena_alloc(&k->da, sizeof(*g));
			g->n = 0;
			g->v = arena_alloc(&k->da, (n ? n : 1) * sizeof(*g->v));
			const char *version = arena_strdup(&k->da, v);
			for (size_t r = 0; r < n; r++) {
				const struct dnode *e = rs->items[r];
				const char *name = doc_str(doc_get(e, "resource"));
				const char *rk = doc_str(doc_path(e, "responseKind.kind"));
				const char *scope = doc_str(doc_get(e, "scope"));
				if (!name || !rk)
					continue;
				g->v[g->n++] = (struct kube_res){.group = group, .version = version,
								 .resource = arena_strdup(&k->da, name),
								 .kind = arena_strdup(&k->da, rk),
								 .namespaced = scope && strcmp(scope, "Namespaced") == 0};
			}
			char *gv = *group ? arena_printf(&k->da, "%s/%s", group, version)
					  : (char *)version;
			*gv_slot(k, gv) = g;
		}
	}
	return 0;
}

/* aggregated discovery, once a run; 0 (whether or not the server offers
 * it: without it the cache stays empty), -1 with err when a request fails */
static int
fetch_aggregated(struct kube *k, struct buf *err)
{
	static const char *const paths[] = {"/api", "/apis"};
	for (int i = 0; i < 2; i++) {
		struct kube_resp r;
		if (kube_call_accept(k, "GET", paths[i], NULL, NULL, AGGREGATED ",application/json",
				     NULL, 0, &r, err) < 0)
			return -1;
		struct arena a = {0};
		int not_offered = r.code != 200 || take_aggregated(k, kube_json(&a, &r));
		arena_free(&a);
		kube_resp_free(&r);
		if (not_offered)
			break;
	}
	return 0;
}

int
kube_resource(struct kube *k, const char *api_version, const char *kind,
	      struct kube_res *out, struct buf *err)
{
	hold_take(&k->dmu);
	int rc = 1;
	if (!k->aggregated_tried) {
		k->aggregated_tried = 1;
		if (fetch_aggregated(k, err) < 0) {
			k->aggregated_tried = 0;
			hold_give(&k->dmu);
			return -1;
		}
	}
	for (int pass = 0; pass < 2; pass++) {
		void **slot = gv_slot(k, api_version);
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
	hold_give(&k->dmu);
	return rc;
}

void
kube_forget(struct kube *k, const char *group)
{
	size_t gl = strlen(group);
	hold_take(&k->dmu);
	for (size_t i = 0; i < k->ngvkeys; i++) {
		const char *key = k->gvkeys[i];
		if (strncmp(key, group, gl) == 0 && key[gl] == '/') {
			int added;
			*strset_slot(&k->gvs, key, &added) = NULL;
		}
	}
	hold_give(&k->dmu);
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

/* whether a discovery entry's verbs hold both */
static int
has_verbs(const struct dnode *verbs, const char *a, const char *b)
{
	int got = 0;
	for (size_t i = 0; verbs && verbs->kind == D_SEQ && i < verbs->n; i++) {
		const char *v = doc_str(verbs->items[i]);
		got |= v && strcmp(v, a) == 0 ? 1 : v && strcmp(v, b) == 0 ? 2 : 0;
	}
	return got == 3;
}

int
kube_listable(struct kube *k, struct arena *a, struct kube_res **out, size_t *nout,
	      struct buf *err)
{
	*out = NULL;
	*nout = 0;
	/* the preferred version of each group: its objects are served under
	 * every version, and listed once is enough */
	struct kube_resp r;
	if (kube_call(k, "GET", "/apis", NULL, NULL, NULL, 0, &r, err) < 0)
		return -1;
	if (r.code != 200) {
		kube_error(k, "/apis", &r, err);
		kube_resp_free(&r);
		return -1;
	}
	const struct dnode *groups = doc_get(kube_json(a, &r), "groups");
	kube_resp_free(&r);
	size_t ng = groups && groups->kind == D_SEQ ? groups->n : 0;
	struct kube_req *q = xcalloc(ng + 1, sizeof(*q));
	const char **gvs = arena_alloc(a, (ng + 1) * sizeof(*gvs));
	size_t n = 0;
	gvs[n++] = "v1";
	for (size_t i = 0; i < ng; i++) {
		const char *gv = doc_str(doc_path(groups->items[i], "preferredVersion.groupVersion"));
		if (gv && strchr(gv, '/'))
			gvs[n++] = gv;
	}
	for (size_t i = 0; i < n; i++)
		q[i] = (struct kube_req){.method = "GET",
					 .path = arena_printf(a, "%s%s", i ? "/apis/" : "/api/", gvs[i])};
	kube_call_all(k, q, n);
	size_t cap = 0;
	int rc = 0;
	for (size_t i = 0; i < n; i++) {
		if (!rc && q[i].rc < 0) {
			buf_printf(err, "%s", q[i].err.s);
			rc = -1;
		} else if (!rc && q[i].r.code != 200 && q[i].r.code != 404 && q[i].r.code != 503) {
			/* 503: an aggregated API whose server is down holds
			 * nothing addonmake can find now; 404: gone since /apis */
			kube_error(k, q[i].path, &q[i].r, err);
			rc = -1;
		} else if (!rc && q[i].r.code == 200) {
			const struct dnode *res = doc_get(kube_json(a, &q[i].r), "resources");
			const char *slash = strchr(gvs[i], '/');
			const char *group = slash ? arena_strndup(a, gvs[i], (size_t)(slash - gvs[i])) : "";
			const char *version = slash ? slash + 1 : gvs[i];
			for (size_t j = 0; res && res->kind == D_SEQ && j < res->n; j++) {
				const struct dnode *e = res->items[j];
				const char *name = doc_str(doc_get(e, "name"));
				const char *kind = doc_str(doc_get(e, "kind"));
				const char *nsd = doc_str(doc_get(e, "namespaced"));
				if (!name || !kind || strchr(name, '/') ||
				    !has_verbs(doc_get(e, "verbs"), "list", "patch"))
					continue;
				if (*nout == cap) {
					cap = cap ? 2 * cap : 64;
					struct kube_res *v = arena_alloc(a, cap * sizeof(*v));
					if (*nout)
						memcpy(v, *out, *nout * sizeof(*v));
					*out = v;
				}
				(*out)[(*nout)++] = (struct kube_res){
					.group = group, .version = version, .resource = name, .kind = kind,
					.namespaced = nsd && strcmp(nsd, "true") == 0};
			}
		}
		kube_resp_free(&q[i].r);
		buf_free(&q[i].err);
	}
	free(q);
	return rc;
}
