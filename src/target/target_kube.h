/* target_kube.h: what the files of the kube target share (private to
 * src/target; the target's interface is target_kube in target.h). */
#ifndef TARGET_KUBE_H
#define TARGET_KUBE_H

#include "../kube/kube.h"
#include "target.h"

/* OBJ_HELM: the release's, deleted by helm; OBJ_KEEP: helm leaves it
 * (helm.sh/resource-policy: keep) */
enum { OBJ_CREATED = 1, OBJ_LAYER_NS = 2, OBJ_CURRENT = 4, OBJ_HELM = 8, OBJ_KEEP = 16 };

/* the head of the cluster's records, as this run last saw it
 * (target_kube_state.c) */
struct khead {
	int read;       /* asked for this run */
	int exists;
	char uid[64], rv[32], identity[64];
	long long serial;
	char writer[256], written[40]; /* who wrote it last, and when ("" unknown) */
};

/* the lease on the cluster's records, while this run holds it
 * (target_kube_lease.c); its fields are under kt.mu once held */
struct klease {
	const struct cluster *c;
	int held, lost, stop, thread, seconds;
	char rv[32], holder[256], acquired[40];
	long long transitions;
	pthread_t th;
	pthread_cond_t cv;
};

struct kt {
	struct kube *k;
	struct khead head;
	struct klease lease;
	int state_ns_made; /* the state namespace was made (or found) this run */
	pthread_mutex_t mu;
	struct strset failing; /* layer id -> consecutive Failed checks */
	/* layer id -> what its last readiness check found not ready, to
	 * watch (a string in a: the collection's path, a tab, the query),
	 * or NULL */
	struct strset watching;
	struct strset ns_seen; /* namespaces seen to exist in this run */
	struct arena a;
};

/* one object of an inventory; with the fields its apply set (JSON
 * pointers) and the hash of each one's value in the apply's answer (0:
 * none), for drift: none for helm's objects and older records */
struct iobj {
	const char *path, *api, *kind, *ns, *name, *uid;
	unsigned flags;
	size_t nf;
	const char **fptr;
	uint64_t *fhash;
};

/* an object of the layer on its way to the server */
struct obj {
	const struct dnode *doc;
	const char *file, *api, *kind, *name, *ns;
	int line, col, cat, resolved;
	size_t seq; /* its place among the layer's documents */
	struct kube_res res;
};

/* the objects a layer applied, for its inventory */
struct applied {
	struct iobj *v;
	size_t n, cap;
};

/* the inventory of a layer's record: the helm release ("ns/name", or "")
 * and the objects; tk_inv_get reads one into a, -1 when it is not ours */
void tk_inv_put(struct buf *b, const char *release, const struct iobj *v, size_t n);
int tk_inv_get(const char *p, size_t len, struct arena *a, const char **release,
	       struct iobj **out, size_t *n);
/* "Deployment addons/web" */
void tk_obj_name(struct buf *b, const char *kind, const char *ns, const char *name);
/* whether the run is stopping (Ctrl-C) */
int tk_stopping(const struct target_ctx *t);
/* GET an object: 1 with it in *live, 0 when it is gone, -1 on error */
int tk_get_obj(struct kt *kt, const char *path, struct arena *a, struct dnode **live,
	       struct buf *err);

/* target_kube_apply.c */
/* the body of an apply of o (layer l's), as JSON, and as a tree (in a) */
const struct dnode *tk_body(struct arena *a, const struct target_ctx *t, const struct layer *l,
			    const struct obj *o, struct buf *out);
/* whether inventory entry a is the object of that group (of api), kind,
 * namespace ("" cluster-scoped) and name, at whatever version */
int tk_same_obj(const struct iobj *a, const char *api, const char *kind, const char *ns,
		const char *name);
/* the layer's objects, each resolved to its resource where it can be (one
 * of a CRD of the layer not yet there is not), in the order apply takes
 * them; T_OK or T_FAILED with err */
int tk_layer_objects(struct kt *kt, const struct layer *l, const char *dns, struct obj **objs,
		     size_t *n, struct buf *err);
void tk_applied_push(struct applied *ap, struct iobj io);
void tk_applied_add(struct applied *ap, struct arena *a, const char *path, const struct obj *o,
		    const char *uid, unsigned flags);
/* resolves an object's resource; T_OK, T_NOTREADY (a CRD among objs will
 * define it; with final set, T_FAILED instead), T_FAILED */
int tk_resolve(struct kt *kt, struct obj *o, const struct obj *objs, size_t n, const char *dns,
	       int final, struct buf *err);
int tk_apply(const struct target_ctx *t, const struct layer *l, const char *text, size_t len,
	     struct buf *inv, struct buf *err);

/* target_kube_helm.c */
/* whether helm installs layer l (a helm layer with a release) */
int tk_helm_layer(const struct layer *l);
int tk_helm_apply(const struct target_ctx *t, struct kt *kt, const struct layer *l,
		  const char *ns, struct applied *ap, struct arena *a, struct buf *err);
int tk_helm_uninstall(const struct target_ctx *t, const char *rel, struct buf *err);

/* target_kube_ready.c */
/* target_ops.await: a watch of what the layer's last check waited for */
int tk_await(const struct target_ctx *t, const struct layer *l, int64_t until);
int tk_ready(const struct target_ctx *t, const struct layer *l, const char *text, size_t len,
	     const struct buf *inv, struct buf *why);

/* target_kube_state.c: the layer records kept in the cluster */
int tk_state_on(const struct cluster *c);
int tk_state_pull(const struct target_ctx *t, const char *mark, size_t nmark, struct arena *a,
		  struct state_got *got, struct buf *err);
int tk_state_push(const struct target_ctx *t, const struct store_put *puts, size_t n,
		  struct buf *mark, struct buf *err);

/* the name of a state object of c in the state namespace: its head and
 * its lease (id NULL: addonmake-<c>, c being 16 hex digits of XXH3 of its
 * name, also the label value that finds its records) or the record of
 * layer id (addonmake-<c>-<l>, l the layer's label) */
#define TK_STATE_NAME 44
void tk_state_name(char out[TK_STATE_NAME], const struct cluster *c, const char *id);

/* the state namespace, made when missing */
int tk_state_namespace(const struct target_ctx *t, struct buf *err);

/* target_kube_lease.c: the lock on the cluster's records */
int tk_state_lock(const struct target_ctx *t, int wait, struct buf *note, struct buf *err);
int tk_state_unlock(const struct target_ctx *t, struct buf *note, struct buf *err);
/* who this run is, as a lease's holder and a head's writer: the host, the
 * pid and the CI job where there is one */
void tk_holder_of(char out[256]);
/* now as a MicroTime ("2026-01-02T03:04:05.000006Z") */
void tk_micro_now(char out[40]);
/* whether the lease held was taken over (it could not be renewed in time) */
int tk_lease_lost(struct kt *kt);
/* stops renewing the lease and releases it (when held) */
void tk_lease_release(struct kt *kt);

/* target_kube_rebuild.c: the records made from the objects in the cluster */
int tk_state_rebuild(const struct target_ctx *t, struct arena *a, struct state_got *got,
		     struct buf *note, struct buf *err);

/* what is recorded for a Secret's data key instead of its value's hash:
 * that it is there (even: never a value's hash, which is odd) */
#define TK_SECRET_HELD 4
/* target_kube_fields.c: the fields apply set in an object (sent, the
 * body), into io, with their values' hashes in the server's answer */
void tk_fields(struct arena *a, const struct dnode *sent, const struct dnode *answer,
	       struct iobj *io);
/* the hash of the value at JSON pointer ptr of object live, made as
 * tk_fields made recorded: equal when the field is as apply left it */
uint64_t tk_field_hash(const struct dnode *live, const char *ptr, uint64_t recorded);
/* the field manager that holds the field at ptr of live (its
 * managedFields), other than addonmake's apply, or NULL */
const char *tk_field_owner(const struct dnode *live, const char *ptr);

/* target_kube_drift.c */
int tk_drift(const struct target_ctx *t, struct layer **ls, size_t n, const char **why,
	     struct buf *skipped, layer_load_fn load, void *lu, struct arena *a, struct buf *err);

/* target_kube_diff.c */
int tk_diff(const struct target_ctx *t, const struct layer *l, const char *id,
	    const struct layer_rec *rec, const char *text, size_t len, diff_fn fn, void *u,
	    struct buf *err);

/* target_kube_remove.c */
int tk_delete_obj(struct kt *kt, const struct iobj *o, struct buf *err);
int tk_deletable(const struct iobj *o);
int tk_remove(const struct target_ctx *t, const char *id, const struct layer_rec *rec,
	      struct buf *err);

#endif
