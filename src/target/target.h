/* target: where a cluster's layers go. Every target implements the same
 * few operations, and the executor drives them without knowing which
 * target it has: render (files), exec (the user's commands) and kube (an
 * API server). */
#ifndef TARGET_H
#define TARGET_H

#include "../load/load.h"

struct target_ctx {
	const struct workspace *w;
	const struct cluster *c;
	struct procs *ps;
	void *priv;          /* what open made: lives until close */
	int force_conflicts; /* --force-conflicts */
	/* set by the executor while apply holds one of the target's
	 * apply_slots: see target_slot */
	void (*slot)(const struct target_ctx *t, int release);
	void *slot_u;
	/* with -v, where a target notes what it ran and what that printed
	 * (the executor prints it when the layer is done), else NULL */
	struct buf *note;
};

/* for a target's apply: steps out of its apply slot before a long wait
 * that sends nothing (release 1: a helm run, CRDs becoming Established),
 * so that another layer may apply meanwhile, and back in after (release
 * 0: waits for a free slot) */
void target_slot(const struct target_ctx *t, int release);

/* what a target that keeps the layer records with the cluster read there
 * (state_pull) */
struct state_got {
	int same;     /* the local records are the cluster's: nothing else read */
	int changed;  /* the local records were another cluster's: dropped */
	struct store_put *puts; /* else the cluster's records, in the arena */
	size_t n;
	struct buf mark;        /* and the mark to keep with them */
	const char *from;       /* where they were read, for -v ("the cluster") */
	const char *last;       /* who wrote them last and when, or NULL */
};

/* what diff compares: one object (or file) as it is and as apply would
 * leave it. live/want: the text to show of each side, NULL where there is
 * none (to be created, to be deleted), made by the target (the kube
 * target: the objects as the server answers, without what the server
 * owns, and no Secret value); live_doc/want_doc the trees where there are
 * (for the paths of --json); why, not NULL: not compared, and why */
struct diff_item {
	const char *kind, *ns, *name; /* ns "" for cluster-scoped; a file: kind "file" */
	const char *live, *want;
	const struct dnode *live_doc, *want_doc;
	const char *why;
};
typedef void (*diff_fn)(void *u, const struct diff_item *d);
/* loads layer l's content into l->body (for as long as the caller keeps
 * it): 0, or -1 (said) */
typedef int (*layer_load_fn)(void *u, struct layer *l);

/* results of apply/ready/remove */
enum { T_OK = 0, T_NOTREADY = 1, T_FAILED = -1, T_STOPPED = -2 };

struct target_ops {
	const char *kind;
	/* applies the rendered layer; inv receives what remove needs later
	 * (also when apply fails: what it did apply must not be forgotten) */
	int (*apply)(const struct target_ctx *t, const struct layer *l,
		     const char *text, size_t len, struct buf *inv, struct buf *err);
	/* the target's own readiness check (besides the layer's checks); inv
	 * is what apply returned */
	int (*ready)(const struct target_ctx *t, const struct layer *l,
		     const char *text, size_t len, const struct buf *inv,
		     struct buf *why);
	/* optional: after ready said not ready, waits until what it found
	 * not ready may have changed (a watch), or until the monotonic time
	 * until (ms): 1 changed (check again), 0 until came, -1 the target
	 * cannot tell (the executor checks on its schedule) */
	int (*await)(const struct target_ctx *t, const struct layer *l, int64_t until);
	/* deletes a removed layer from what its record remembers */
	int (*remove)(const struct target_ctx *t, const char *id,
		      const struct layer_rec *r, struct buf *err);
	/* optional: makes everything applied so far durable; called before
	 * finished layers are recorded, so one flush serves many layers */
	int (*flush)(const struct target_ctx *t, struct buf *err);
	/* optional: connects once per cluster and run (sets t->priv) */
	int (*open)(struct target_ctx *t, struct buf *err);
	/* optional: starts, in the background (lazy_preload), what open and
	 * the first requests to cluster c will need, so that it overlaps
	 * compiling; called before the layers compile in a run that will open
	 * the target */
	void (*warm)(const struct cluster *c);
	void (*close)(struct target_ctx *t);
	/* optional: at most this many layers in apply at once (readiness
	 * checks are not counted); 0 is no limit beyond -j */
	int apply_slots;
	/* apply, ready and await wait only for requests, by src/lib's waits
	 * (waitq, relay, fiber_nap): the executor runs the target's layers
	 * as fibers of one thread, unless blocks says a layer's run a
	 * command (whose wait holds up the thread) */
	int fibers;
	int (*blocks)(const struct layer *l);
	/* the target applies the layer's documents (layer.docs) and never
	 * reads the rendered text: apply and ready get NULL, 0 */
	int docs_only;
	/* optional: whether what apply left for a clean layer is still as it
	 * left it, from the record and a stat, without reading anything:
	 * NULL, or why the layer must be applied again ("output missing") */
	const char *(*outdated)(const struct cluster *c, const struct layer *l,
				const struct layer_rec *r);
	/* optional: the target keeps the layer records with the cluster (the
	 * kube target: objects in the cluster), and the local records are a
	 * cache of them. state_on says whether this cluster's do (a target
	 * setting may keep them local). state_pull, before a plan: mark is
	 * the one kept with the local records (NULL: none); got says whether
	 * they are the cluster's, else holds the cluster's. state_push, before
	 * the local commit of puts: writes them to the cluster, and mark
	 * receives the mark to commit with them. 0, or -1 with err. */
	int (*state_on)(const struct cluster *c);
	int (*state_pull)(const struct target_ctx *t, const char *mark, size_t nmark,
			  struct arena *a, struct state_got *got, struct buf *err);
	int (*state_push)(const struct target_ctx *t, const struct store_put *puts, size_t n,
			  struct buf *mark, struct buf *err);
	/* optional, with the above: the lock on the cluster's records that
	 * keeps runs on other machines out while this one writes them, held
	 * until close. state_lock: 0 taken (note may say whose it took
	 * over), 1 held by another (err says by whom, since when; with wait
	 * it waits instead), -1 with err. state_unlock releases whoever holds
	 * it (note says whom), for a person after a run that is gone. */
	int (*state_lock)(const struct target_ctx *t, int wait, struct buf *note, struct buf *err);
	int (*state_unlock)(const struct target_ctx *t, struct buf *note, struct buf *err);
	/* optional, with the above: the records of every layer that has
	 * objects in the cluster, made from what those objects say (got->puts;
	 * note says what could not be told), for records that were lost. 0,
	 * or -1 with err */
	int (*state_rebuild)(const struct target_ctx *t, struct arena *a, struct state_got *got,
			     struct buf *note, struct buf *err);
	/* optional: whether the cluster still holds what the last apply of
	 * each clean layer ls[i] left there (its record in ls[i]->plan.rec):
	 * why[i] NULL, or what changed ("drifted: …", "deleted: …");
	 * skipped receives a line for each changed field that is not drift
	 * (another manager trusted with it, an ignore rule). A value the
	 * target does not keep a hash of (a Secret's) is compared with the
	 * layer's content, which load loads. Reads only. 0, or -1 with err */
	int (*drift)(const struct target_ctx *t, struct layer **ls, size_t n, const char **why,
		     struct buf *skipped, layer_load_fn load, void *lu, struct arena *a,
		     struct buf *err);
	/* optional: what applying layer l (text as apply gets it) would change,
	 * or, l NULL, what pruning the removed layer id (its record rec)
	 * would delete; each object to fn, in the order apply takes them,
	 * changing nothing. 0, or -1 with err (nothing could be compared) */
	int (*diff)(const struct target_ctx *t, const struct layer *l, const char *id,
		    const struct layer_rec *rec, const char *text, size_t len, diff_fn fn, void *u,
		    struct buf *err);
};

extern const struct target_ops target_render;
extern const struct target_ops target_exec;
extern const struct target_ops target_kube;
/* the ops for a cluster, or NULL (with err) when the target is not built */
const struct target_ops *target_for(const struct cluster *c, struct buf *err);
/* the ops of c's target when it keeps c's records with the cluster
 * (state_on), else NULL */
const struct target_ops *target_state(const struct cluster *c);
/* target_for and open: 0, or -1 with err */
int target_open(struct target_ctx *t, const struct target_ops **ops, struct buf *err);
void target_close(struct target_ctx *t, const struct target_ops *ops);

/* runs helm with args (NULL-terminated; args[0] the verb), --namespace ns
 * and the target's kubeconfig and context; out receives stdout. 0; -1
 * with err (helm's stderr); -2 when the run is stopping */
int helm_run(const struct target_ctx *t, const char *const *args, const char *ns,
	     struct buf *out, struct buf *err);

/* the environment a layer's commands run with (ADDONMAKE_*) */
char **target_env(struct arena *a, const struct cluster *c, const char *id,
		  const char *ns, long long order, const char *type);

/* one declared readiness check: T_OK, T_NOTREADY (why says what), or
 * T_STOPPED */
int check_run(const struct check *k, struct procs *ps, const char *cwd,
	      char **env, int64_t deadline, struct buf *why);

/* applied (applied.c): a layer's objects as addonmake applies them — the order of kinds
 * within a layer, the labels and annotations that name the layer, the
 * namespace an object without one gets, the layer's own Namespace. The
 * kube target applies exactly this; the render and exec targets write it,
 * so that `kubectl apply -f` of rendered files stores what the kube target
 * would store. */
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
/* the object doc as applied by layer l: labelled
 * app.kubernetes.io/managed-by and addonmake.io/layer, annotated
 * addonmake.io/cluster, addonmake.io/layer, addonmake.io/hash and
 * addonmake.io/order; with ns (NULL: cluster-scoped) as its namespace when
 * it names none (a namespace it names is left as written) */
struct dnode *applied_object(struct arena *a, const char *cluster, const struct layer *l,
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
