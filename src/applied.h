/* applied: a layer's objects as addonmake applies them — the order of kinds
 * within a layer, the labels and annotations that name the layer, the
 * namespace an object without one gets, the layer's own Namespace. The
 * kube target applies exactly this; the render and exec targets write it,
 * so that `kubectl apply -f` of rendered files stores what the kube target
 * would store. */
#ifndef APPLIED_H
#define APPLIED_H

#include "model.h"

/* where an object goes within its layer: 0 Namespaces, 1 CRDs, 2
 * ServiceAccounts and RBAC, 3 ConfigMaps and Secrets, 4 the rest, 5 custom
 * resources (a group that is not built in) */
enum { CAT_NAMESPACE, CAT_CRD, CAT_RBAC, CAT_CONFIG, CAT_REST, CAT_CUSTOM };
int applied_category(const char *group, const char *kind);
/* the API groups Kubernetes itself serves */
int applied_builtin_group(const char *group);
/* the group of an apiVersion ("" for v1), in a */
const char *applied_group(struct arena *a, const char *api);
/* a label value naming the layer: 16 hex digits of XXH3(cluster, id),
 * since a label value cannot hold a layer id */
void applied_layer_label(char out[17], const char *cluster, const char *id);
/* the object doc as applied: labelled app.kubernetes.io/managed-by and
 * addonmake.io/layer, annotated addonmake.io/cluster and
 * addonmake.io/layer; with ns (NULL: cluster-scoped) as its namespace
 * when it names none (a namespace it names is left as written) */
struct dnode *applied_object(struct arena *a, const char *cluster, const char *id,
			     const struct dnode *doc, const char *ns);
/* a Namespace object named ns (as the manifest of it would be) */
struct dnode *applied_namespace(struct arena *a, const char *ns);
/* default, kube-system, kube-public, kube-node-lease: never created by a
 * layer, never deleted */
int applied_system_namespace(const char *ns);
/* without a server to ask: whether kind of group is cluster-scoped — a
 * built-in cluster-scoped kind, or one that a CRD among docs defines with
 * scope Cluster (other custom kinds are taken as namespaced; the server
 * drops the namespace of a cluster-scoped object) */
int applied_cluster_scoped(const char *group, const char *kind, struct dnode *const *docs,
			   size_t n);
/* the layer's documents as one YAML stream, as the kube target would apply
 * them: the layer's Namespace first (unless it is a system namespace or
 * the layer has it), then its objects in the order of kinds, labelled and
 * with their namespace. A helm layer is installed by helm on the kube
 * target: its objects keep helm's order and get the namespace only.
 * Documents that are not objects (no apiVersion, kind or metadata.name)
 * are written as they are, among the rest. */
void applied_render(const struct cluster *c, const struct layer *l, struct buf *out);

#endif
