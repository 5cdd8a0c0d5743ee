/* load: the workspace as addonmake understands it after loading — clusters,
 * registries, layers with their resolved content — and the loaders that
 * build it. Everything is allocated in the workspace's arena and lives for
 * one run. */
#ifndef LOAD_H
#define LOAD_H

#include <stdint.h>
#include "../../cache/cache.h"
#include "../../graph/graph.h"
#include "../fetch/fetch.h"
#include "../lib/lib.h"
#include "../yaml/doc.h"

enum { CHECK_COMMAND, CHECK_HTTP };
struct check {
	int kind;
	char **argv;     /* command: NULL-terminated */
	const char *url; /* http */
	long expect;
	const char *desc; /* for messages: "command: sh -c ..." */
};

struct readiness {
	int64_t interval_ms, timeout_ms;
	struct check *checks;
	size_t nchecks;
};

/* fields that diff leaves alone: in the objects of kind, name and
 * namespace (NULL: any), the JSON pointers of paths ("/spec/replicas") */
struct ignore_rule {
	const char *kind, *name, *ns;
	const char **paths;
	size_t npaths;
};

struct layer_opts {
	const char *id;
	struct pos at;
	int has_interval, has_timeout;
	struct readiness r;
	struct ignore_rule *ignore;
	size_t nignore;
	/* field managers whose changes are not drift */
	const char **ignore_managers;
	size_t nignore_managers;
	int used;
};


enum { TARGET_RENDER = 1, TARGET_EXEC, TARGET_KUBE };
struct target_cfg {
	int kind;
	const char *dir;               /* render: joined with the workspace dir */
	const char *rawdir;            /* render: as written */
	char **apply, **check, **del;  /* exec */
	const char *kubeconfig, *context; /* kube: as written */
	const char *kubepath;          /* kube: the kubeconfig's path */
	int state_local;               /* kube: state: local (records only on disk) */
	const char *state_ns;          /* kube: stateNamespace, else addonmake-system */
};

/* A layer has three parts, one per lifetime. What compile learns of it
 * (ids, order, hash, readiness, what helm made of its chart) lives in the
 * workspace arena for the whole run. Its content (struct layer_body) lives
 * in a content arena only while it is needed: while compiling and hashing,
 * and again while its tier is applied (layer_load_content). What plan
 * decides (struct layer_plan) is filled in after compiling. */
struct layer_body {
	struct dnode *values;  /* merged values */
	struct dnode **docs;   /* manifest documents, in order */
	const char **docfiles; /* which file each document came from */
	size_t ndocs, capdocs;
	const char *pack_dir;  /* pack layers: the resolved directory */
	struct dnode *pack_json;
};

/* helm and chart-based pack layers: what helm made of the chart, kept
 * for the run, so that helm runs once per layer and run */
struct layer_chart {
	const char *digest;  /* the chart's SHA-256 */
	const char *yaml;    /* what helm template rendered */
	const char *file;    /* the verified .tgz (download cache) */
	const char *release; /* the release name */
};

struct layer_plan {
	int has_rec;          /* rec holds the layer's record */
	struct layer_rec rec;
	int dirty;
	const char *reason;   /* why it is dirty (or clean), for plan */
	/* what changed in the cluster since the layer's last apply (drift,
	 * DESIGN §6), or NULL */
	const char *drift;
};

struct layer {
	const char *id;       /* PROFILE/LAYER */
	const char *profile;  /* profile name */
	const char *name;     /* pack name or display name */
	const char *pack;     /* the pack's own name */
	const char *type;     /* spectro, oci, helm, manifest */
	const char *version;
	const char *ns;
	int64_t order;
	struct pos at;        /* the packs[] entry */
	size_t prof, entry;   /* cluster profile index, index among its add-on packs */
	struct hash128 hash;
	struct readiness r;
	const char *label;
	struct layer_chart chart;
	struct layer_body *body; /* the content, or NULL when it is not loaded */
	struct layer_plan plan;
};

/* the files a cluster's layers were read from, with what stat said then;
 * size -1: the file was absent */
struct dep {
	const char *path;
	int64_t size, mtime_ns, ctime_ns;
	uint64_t ino;
};
struct deps {
	struct dep *v;
	size_t n, cap;
};

struct cluster {
	const char *name;
	struct pos at;
	struct dnode *node;  /* its entry in addonmake.yaml */
	int fresh;           /* compiled from files this run (not from a snapshot) */
	int changed;         /* its local records were another cluster's (dropped) */
	int unreachable;     /* its records in the cluster could not be read (said) */
	const char *last_run; /* who wrote its records in the cluster last, and when */
	struct deps deps;    /* the files it was compiled from, when fresh */
	struct diag warnings; /* what compiling it warned about */
	struct target_cfg target;
	const char **profiles;
	struct pos *profile_at;
	size_t nprofiles;
	struct dnode *variables, *macros;
	struct layer_opts *lopts;
	size_t nlopts;
	size_t npacks_counted; /* its profiles' packs + 1, once counted (fleet_layers), else 0 */
	int drift;           /* drift: true: plan and sync look for drift */
	int drift_checked;   /* this run looked (the layers' plan.drift hold it) */
	const char **ignore_managers; /* field managers whose changes are not drift */
	size_t nignore_managers;
	struct layer **layers;
	size_t nlayers;
	struct graph g;
	/* recorded layers that are no longer in the profiles */
	struct removed *removed;
	size_t nremoved;
};

struct removed {
	const char *id;
	struct layer_rec rec;
};

struct workspace {
	struct arena a;
	int quiet;         /* -q: no progress lines */
	struct fetcher fx; /* downloads: the state's cache, --offline, --refresh */
	/* what must never be printed: values of isSensitive variables */
	struct strset secret;
	/* children of compiling (helm template), or NULL: ended with the run
	 * when it is interrupted before the apply phase */
	struct procs *ps;
	const char *dir;   /* the directory of addonmake.yaml */
	const char *file;  /* addonmake.yaml as given */
	const char *state; /* the state directory */
	struct readiness defaults;
	struct dnode *defaults_node, *regs_node;
	struct registry *regs;
	size_t nregs;
	struct cluster *clusters;
	size_t nclusters;
};

/* addonmake.yaml → workspace (no profiles loaded yet); errors go to d */
int ws_load(struct workspace *w, const char *file, struct diag *d);
void ws_free(struct workspace *w);

/* what every loader needs: where content goes, what was read, errors */
struct ldctx {
	struct workspace *w;
	struct arena *a;    /* content: trees, texts */
	struct deps *deps;  /* NULL: do not record */
	struct diag *d;
	struct dnode *spectro; /* .Spectro of pack templates */
};
/* reads a file, recording it as a dependency; 0 or an errno value */
int ld_read(struct ldctx *lc, const char *path, struct buf *out);

/* loads the profiles of one cluster into c->layers and builds c->g; the
 * files read are appended to deps (may be NULL) */
int cluster_compile(struct workspace *w, struct cluster *c, struct deps *deps,
		    struct diag *d);
/* loads the content of layers (all of cluster c) into arena a, each
 * profile read once; errors go to d and leave that layer unloaded */
int layer_load_content(struct workspace *w, struct cluster *c,
		       struct layer **ls, size_t n, struct arena *a,
		       struct diag *d);
/* the settings addonmake.yaml gives layer id of c, or NULL */
const struct layer_opts *layer_opts_of(const struct cluster *c, const char *id);
/* whether ignore rule g is about the object of kind, namespace (NULL or ""
 * cluster-scoped) and name */
int ignore_rule_names(const struct ignore_rule *g, const char *kind, const char *ns,
		      const char *name);
/* builds c->g from c->layers */
void cluster_graph(struct cluster *c);
/* what the graph shows of a layer: name, type and version, profile */
const char *layer_label(struct arena *a, const struct layer *l);
/* the persistent part of compiling: readiness settings of a layer */
void layer_readiness(struct workspace *w, struct cluster *c, struct layer *l);

/* the stat cache (DESIGN §4): a cluster's snapshot is what it was compiled
 * from (its configuration's hash, each file read with its stat) and what
 * it was compiled to (layer metadata, warnings) */
void snapshot_encode(struct workspace *w, struct cluster *c, struct buf *out);
/* when the snapshot is still true (same configuration, every file stats the
 * same), fills c->layers and c->g from it and returns 0; else 1. why says
 * which, for -v. */
int snapshot_use(struct workspace *w, struct cluster *c, const char *p, size_t n,
		 struct diag *d, struct buf *why);

/* a profile file's add-on layers, before pack content is resolved */
struct subst_ctx;
struct profile {
	const char *file;
	struct dtext *src;     /* the file's text */
	const char *name, *version;
	struct dnode *root;
	struct dnode *variables; /* spec.variables, or NULL */
	struct dnode **packs;  /* addon entries of spec.template.packs */
	size_t npacks;
};
/* named: where the workspace names the file (its read error is reported
 * there), or NULL */
int profile_load(struct ldctx *lc, const char *file, const struct pos *named,
		 struct profile *p);

/* a pack entry's values as a mapping: placeholders substituted, then
 * parsed (positions stay those of the profile file) */
struct dnode *profile_values(struct arena *a, const struct profile *p,
			     struct dnode *v, const struct subst_ctx *sc,
			     struct diag *d);

/* spectro variable substitution ({{.spectro.var.X}} and friends) */
struct subst_ctx {
	const char *cluster, *profile, *profile_version;
	struct dnode *profile_vars; /* spec.variables */
	struct dnode *vars, *macros; /* the cluster's maps */
	/* values of the cluster's other layers, for {{.spectro.pack.P.x}} */
	struct dnode *(*pack_values)(void *ctx, const char *pack);
	void *pack_ctx;
	/* values of isSensitive variables go here (copied into secret_a), or
	 * nowhere when NULL */
	struct strset *secret;
	struct arena *secret_a;
};
int subst_text(const struct subst_ctx *c, const char *text, size_t len,
	       const struct dorigin *o, struct buf *out, struct diag *d);

/* copies text from p up to the next "{{" (or end) into out, counting
 * lines and columns; returns where it stopped */
const char *text_copy_plain(const char *p, const char *end, struct buf *out,
			    int *line, int *col);

/* pack manifests: the subset of Go templates of DESIGN §2.4, with .Values
 * and .Spectro as the root; trees and texts go to a */
int tmpl_render(const char *text, size_t len, const struct dnode *values,
		const struct dnode *spectro, const char *file, struct arena *a,
		struct buf *out, struct diag *d);

/* the workspace registry a profile's registry.metadata names (name or uid) */
struct registry *registry_find(struct workspace *w, struct dnode *meta);
/* whether layer l can use r: its file:// directory and its CA file (ca:)
 * must be readable. Checked when a layer uses the registry, not when the
 * workspace loads: an empty registry directory is not even in Git. 0, or
 * -1 with the error at the layer's position in d */
int registry_check(struct ldctx *lc, const struct registry *r, const struct layer *l,
		   const char *profile_file);
/* a helm layer: resolves its chart in a Helm repository (index, version
 * or constraint, SHA-256 digest) and renders it with the helm binary into
 * l->chart (compile adds the documents of l->chart.yaml) */
int helm_layer(struct ldctx *lc, struct layer *l, struct dnode *regmeta,
	       const char *profile_file);
/* the helm binary: ADDONMAKE_HELM, else helm on PATH; NULL when there is
 * none */
const char *helm_binary(struct arena *a);
/* the values a chart of l is rendered or installed with: charts.<chart> of
 * its values, as YAML (empty when there are none) */
void helm_values(const struct layer *l, const char *chart, struct buf *out);
/* renders the charts a pack.json lists (charts/x.tgz) into l->chart.yaml */
int pack_charts(struct ldctx *lc, struct layer *l, const char *profile_file);
/* resolves a pack layer's content from a file:// registry */
int pack_resolve(struct ldctx *lc, struct layer *l, struct dnode *regmeta,
		 const char *profile_file, struct dnode **base,
		 const char **base_file);
/* the file of a pack that an entry of a pack.json list (charts,
 * kubeManifests) names: a relative path inside the pack, else NULL with
 * the error at the entry */
const char *pack_file(struct ldctx *lc, const struct layer *l, const char *pj,
		      const struct dnode *item, const char *list);
/* a rendered manifest file: its documents are the layer's */
struct rendered {
	const char *file;
	const char *text;
	size_t len;
};
/* renders a pack's kubeManifests with .Values from l's values: one
 * rendered text per file into *out (in lc->a), *n of them */
int pack_manifests(struct ldctx *lc, const struct layer *l, struct rendered **out, size_t *n);
/* appends the documents of a rendered text to a layer's content */
int layer_add_docs(struct arena *a, struct layer_body *b, const char *file,
		   const char *text, size_t len, const struct dorigin *o,
		   struct diag *d);

/* the layer's hash over its canonical encoding (DESIGN §4) */
void layer_hash(const struct cluster *c, struct layer *l);

/* Kubernetes-style namespace names */
int valid_dns_label(const char *s);
/* install orders go from -ORDER_LIMIT to ORDER_LIMIT (Palette documents no
 * bounds; the largest seen is 230) */
#define ORDER_LIMIT 99999
/* install order: "10", 10, "-5"; -1 when not an integer, -2 when out of
 * range */
int parse_order(const struct dnode *n, int64_t *out);

/* the file name (no directory) the render target writes a layer to:
 * unique per layer, sorting in install order (render_name.c) */
void render_name(struct buf *out, int64_t order, const char *profile, const char *name);
/* that no two layers of c would render to names that differ only in case:
 * 0, or -1 with an error naming both layers in d */
int render_names_check(const struct cluster *c, struct diag *d);

#endif
