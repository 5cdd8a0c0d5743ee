/* applied: see target.h. The rules are the kube target's (DESIGN §8); a
 * rendered layer follows them without a server, from a table of the
 * built-in cluster-scoped kinds and the layer's own CRDs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "target.h"

int
applied_builtin_group(const char *g)
{
	static const char *const groups[] = {
		"", "apps", "batch", "policy", "autoscaling", "extensions", "networking.k8s.io",
		"storage.k8s.io", "rbac.authorization.k8s.io", "apiextensions.k8s.io",
		"admissionregistration.k8s.io", "scheduling.k8s.io", "coordination.k8s.io",
		"discovery.k8s.io", "node.k8s.io", "certificates.k8s.io", "events.k8s.io",
		"flowcontrol.apiserver.k8s.io", "apiregistration.k8s.io", "resource.k8s.io",
		"authentication.k8s.io", "authorization.k8s.io", NULL};
	for (const char *const *p = groups; *p; p++)
		if (strcmp(*p, g) == 0)
			return 1;
	return 0;
}

int
applied_category(const char *group, const char *kind)
{
	if (!applied_builtin_group(group))
		return CAT_CUSTOM;
	if (!*group && strcmp(kind, "Namespace") == 0)
		return CAT_NAMESPACE;
	if (strcmp(kind, "CustomResourceDefinition") == 0)
		return CAT_CRD;
	if ((!*group && strcmp(kind, "ServiceAccount") == 0) ||
	    strcmp(group, "rbac.authorization.k8s.io") == 0)
		return CAT_RBAC;
	if (!*group && (strcmp(kind, "ConfigMap") == 0 || strcmp(kind, "Secret") == 0))
		return CAT_CONFIG;
	return CAT_REST;
}

const char *
applied_group(struct arena *a, const char *api)
{
	const char *slash = strchr(api, '/');
	return slash ? arena_strndup(a, api, (size_t)(slash - api)) : "";
}

void
applied_layer_label(char out[17], const char *cluster, const char *id)
{
	XXH3_state_t *s = XXH3_createState();
	XXH3_64bits_reset(s);
	XXH3_64bits_update(s, cluster, strlen(cluster) + 1);
	XXH3_64bits_update(s, id, strlen(id));
	snprintf(out, 17, "%016llx", (unsigned long long)XXH3_64bits_digest(s));
	XXH3_freeState(s);
}

static struct dnode *
pair_map(struct arena *a, const char *const *kv, size_t n)
{
	struct dnode *m = doc_new(a, D_MAP, n);
	for (size_t i = 0; i < n; i++) {
		m->items[2 * i] = doc_scalar(a, kv[2 * i], DS_PLAIN);
		m->items[2 * i + 1] = doc_scalar(a, kv[2 * i + 1], DS_QUOTED);
	}
	return m;
}

struct dnode *
applied_object(struct arena *a, const char *cluster, const struct layer *l,
	       const struct dnode *doc, const char *ns)
{
	char label[17], hex[33], order[24];
	applied_layer_label(label, cluster, l->id);
	hash_hex(&l->hash, hex);
	snprintf(order, sizeof(order), "%lld", (long long)l->order);
	const char *labels[] = {"app.kubernetes.io/managed-by", "addonmake",
				"addonmake.io/layer", label};
	/* hash and order: what `state rebuild` makes a lost record from */
	const char *ann[] = {"addonmake.io/cluster", cluster, "addonmake.io/layer", l->id,
			     "addonmake.io/hash", hex, "addonmake.io/order", order};
	const char *mns = doc_str(doc_path(doc, "metadata.namespace"));
	if (mns && *mns)
		ns = NULL; /* its own, left as written */
	size_t nmd = ns ? 3 : 2;
	struct dnode *md = doc_new(a, D_MAP, nmd);
	md->items[0] = doc_scalar(a, "labels", DS_PLAIN);
	md->items[1] = pair_map(a, labels, 2);
	md->items[2] = doc_scalar(a, "annotations", DS_PLAIN);
	md->items[3] = pair_map(a, ann, 4);
	if (ns) {
		md->items[4] = doc_scalar(a, "namespace", DS_PLAIN);
		md->items[5] = doc_scalar(a, ns, DS_QUOTED);
	}
	struct dnode *over = doc_new(a, D_MAP, 1);
	over->items[0] = doc_scalar(a, "metadata", DS_PLAIN);
	over->items[1] = md;
	return doc_merge(a, (struct dnode *)doc, over);
}

struct dnode *
applied_namespace(struct arena *a, const char *ns)
{
	struct dnode *doc = doc_new(a, D_MAP, 3);
	doc->items[0] = doc_scalar(a, "apiVersion", DS_PLAIN);
	doc->items[1] = doc_scalar(a, "v1", DS_PLAIN);
	doc->items[2] = doc_scalar(a, "kind", DS_PLAIN);
	doc->items[3] = doc_scalar(a, "Namespace", DS_PLAIN);
	doc->items[4] = doc_scalar(a, "metadata", DS_PLAIN);
	doc->items[5] = doc_new(a, D_MAP, 1);
	doc->items[5]->items[0] = doc_scalar(a, "name", DS_PLAIN);
	doc->items[5]->items[1] = doc_scalar(a, ns, DS_QUOTED);
	return doc;
}

int
applied_system_namespace(const char *ns)
{
	static const char *const sys[] = {"default", "kube-system", "kube-public",
					  "kube-node-lease", NULL};
	for (const char *const *p = sys; *p; p++)
		if (strcmp(ns, *p) == 0)
			return 1;
	return 0;
}

int
applied_cluster_scoped(const char *group, const char *kind, struct dnode *const *docs,
		       size_t n)
{
	/* group/Kind of every cluster-scoped kind Kubernetes serves */
	static const char *const kinds[] = {
		"/Namespace", "/Node", "/PersistentVolume", "/ComponentStatus",
		"rbac.authorization.k8s.io/ClusterRole", "rbac.authorization.k8s.io/ClusterRoleBinding",
		"apiextensions.k8s.io/CustomResourceDefinition",
		"storage.k8s.io/StorageClass", "storage.k8s.io/CSIDriver", "storage.k8s.io/CSINode",
		"storage.k8s.io/VolumeAttachment",
		"admissionregistration.k8s.io/ValidatingWebhookConfiguration",
		"admissionregistration.k8s.io/MutatingWebhookConfiguration",
		"admissionregistration.k8s.io/ValidatingAdmissionPolicy",
		"admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
		"admissionregistration.k8s.io/MutatingAdmissionPolicy",
		"admissionregistration.k8s.io/MutatingAdmissionPolicyBinding",
		"scheduling.k8s.io/PriorityClass", "networking.k8s.io/IngressClass",
		"networking.k8s.io/IPAddress", "networking.k8s.io/ServiceCIDR",
		"node.k8s.io/RuntimeClass", "policy/PodSecurityPolicy",
		"extensions/PodSecurityPolicy",
		"certificates.k8s.io/CertificateSigningRequest",
		"certificates.k8s.io/ClusterTrustBundle",
		"flowcontrol.apiserver.k8s.io/FlowSchema",
		"flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
		"apiregistration.k8s.io/APIService", "resource.k8s.io/DeviceClass",
		"resource.k8s.io/ResourceSlice", "authentication.k8s.io/TokenReview",
		"authentication.k8s.io/SelfSubjectReview",
		"authorization.k8s.io/SubjectAccessReview",
		"authorization.k8s.io/SelfSubjectAccessReview",
		"authorization.k8s.io/SelfSubjectRulesReview", NULL};
	size_t gl = strlen(group);
	for (const char *const *p = kinds; *p; p++)
		if (strncmp(*p, group, gl) == 0 && (*p)[gl] == '/' && strcmp(*p + gl + 1, kind) == 0)
			return 1;
	for (size_t i = 0; i < n; i++) {
		const struct dnode *d = docs[i];
		const char *k = doc_str(doc_get(d, "kind"));
		if (!k || strcmp(k, "CustomResourceDefinition") != 0)
			continue;
		const char *g = doc_str(doc_path(d, "spec.group"));
		const char *dk = doc_str(doc_path(d, "spec.names.kind"));
		const char *scope = doc_str(doc_path(d, "spec.scope"));
		if (g && dk && scope && strcmp(g, group) == 0 && strcmp(dk, kind) == 0)
			return strcmp(scope, "Cluster") == 0;
	}
	return 0;
}

/* a document on its way into the rendered stream */
struct rdoc {
	const struct dnode *doc;
	int cat;
	size_t seq;
};

static int
by_category(const void *a, const void *b)
{
	const struct rdoc *x = a, *y = b;
	if (x->cat != y->cat)
		return x->cat - y->cat;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void
emit(struct buf *out, const struct dnode *d)
{
	buf_adds(out, "---\n");
	doc_emit(out, d);
}

void
applied_render(const struct cluster *c, const struct layer *l, struct buf *out)
{
	struct arena a = {0};
	buf_add(out, "", 0);
	/* helm installs a helm layer on the kube target: no labels of ours,
	 * helm's order */
	int helm = l->chart.release && strcmp(l->type, "helm") == 0;
	struct rdoc *v = xcalloc(l->body->ndocs + 1, sizeof(*v));
	int has_ns = 0;
	for (size_t i = 0; i < l->body->ndocs; i++) {
		const struct dnode *d = l->body->docs[i];
		const char *api = doc_str(doc_get(d, "apiVersion"));
		const char *kind = doc_str(doc_get(d, "kind"));
		const char *name = doc_str(doc_path(d, "metadata.name"));
		v[i] = (struct rdoc){d, CAT_REST, i};
		if (!api || !*api || !kind || !*kind || !name || !*name)
			continue; /* not an object: as it is */
		const char *group = applied_group(&a, api);
		const char *ns = applied_cluster_scoped(group, kind, l->body->docs, l->body->ndocs) ? NULL : l->ns;
		has_ns |= !*group && strcmp(kind, "Namespace") == 0 && strcmp(name, l->ns) == 0;
		if (helm) {
			const char *mns = doc_str(doc_path(d, "metadata.namespace"));
			if (ns && !(mns && *mns)) {
				struct dnode *md = doc_new(&a, D_MAP, 1), *over = doc_new(&a, D_MAP, 1);
				md->items[0] = doc_scalar(&a, "namespace", DS_PLAIN);
				md->items[1] = doc_scalar(&a, ns, DS_QUOTED);
				over->items[0] = doc_scalar(&a, "metadata", DS_PLAIN);
				over->items[1] = md;
				v[i].doc = doc_merge(&a, (struct dnode *)d, over);
			}
			continue;
		}
		v[i].cat = applied_category(group, kind);
		v[i].doc = applied_object(&a, c->name, l, d, ns);
	}
	if (!has_ns && !applied_system_namespace(l->ns))
		emit(out, applied_object(&a, c->name, l, applied_namespace(&a, l->ns), NULL));
	if (!helm && l->body->ndocs)
		qsort(v, l->body->ndocs, sizeof(*v), by_category);
	for (size_t i = 0; i < l->body->ndocs; i++)
		emit(out, v[i].doc);
	free(v);
	arena_free(&a);
}
