/* load: the workspace as addonmake understands it after loading — clusters,
 * registries, layers with their resolved content — and the loaders that
 * build it. Everything is allocated in the workspace's arena and lives for
 * one run. */
#ifndef LOAD_H
#define LOAD_H

#include <stdint.h>
#include "../../cache/cache.h"
#include "../yaml/doc.h"
#include "../../graph/graph.h"
#include "../lib/lib.h"

struct pos {
	const char *file;
	int line, col;
};

struct registry {
	const char *name, *uid, *kind, *url;
	/* credentials: from the file or from the named environment variables;
	 * never printed */
	const char *username, *password, *password_env, *token, *token_env;
	const char *ca;          /* PEM file, relative to the workspace */
	int insecure;            /* insecureSkipVerify */
	int insecure_http;       /* plainHTTP: an oci:// registry without TLS */
	int64_t timeout_ms;      /* a request silent this long is ended; 0: 30 s */
	struct pos at;
};

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

struct layer_opts {
	const char *id;
	struct pos at;
	int has_interval, has_timeout;
	struct readiness r;
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
};

/* A layer's metadata (ids, order, hash, readiness) lives in the workspace
 * arena for the whole run. Its content (values, documents) lives in a
 * content arena only while it is needed: while hashing, and again while its
 * tier is applied (layer_load_content). */
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
	int content;          /* values/docs are loaded */
	struct dnode *values; /* merged values */
	struct dnode **docs;  /* manifest documents, in order */
	size_t ndocs;
	const char **docfiles; /* which file each document came from */
	size_t capdocs;
	const char *pack_dir;  /* pack layers: the resolved directory */
	const char *digest;    /* helm layers: the chart's SHA-256 */
	const char *helm_yaml; /* helm layers: what helm rendered, kept for the run */
	const char *chart_file; /* helm layers: the verified .tgz (download cache) */
	const char *release;   /* helm layers: the release name */
	struct dnode *pack_json;
	struct hash128 hash;
	struct readiness r;
	const char *label;
	/* filled in by planning */
	int has_rec;
	struct layer_rec rec;
	int dirty;
	const char *reason;
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
	struct deps deps;    /* the files it was compiled from, when fresh */
	struct diag warnings; /* what compiling it warned about */
	struct target_cfg target;
	const char **profiles;
	struct pos *profile_at;
	size_t nprofiles;
	struct dnode *variables, *macros;
	struct layer_opts *lopts;
	size_t nlopts;
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

struct fetch_rec {
	const char *key, *etag, *digest;
};

struct workspace {
	struct arena a;
	int offline;       /* --offline: the download cache only */
	int refresh;       /* --refresh: ask the registries again */
	int quiet;         /* -q: no progress lines */
	struct store *st;  /* the state, read-only while loading */
	struct fetch_rec *fetched; /* records to write with the state */
	size_t nfetched, capfetched;
	/* downloads (dlqueue.c): with defer set, queued for dl_run instead of
	 * made; memo holds this run's outcome by URL */
	int defer;
	struct dl_item *queue;
	size_t nqueue, capqueue;
	struct strset memo;
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
	const char *src;       /* the file's text */
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

/* fetch: one GET (DESIGN §2.4 downloads); 0 with any HTTP answer but 429
 * and 5xx, -1 with err after the retries */
struct fetch {
	const char *url;
	const struct registry *reg; /* credentials and TLS, or NULL */
	const char *etag;           /* If-None-Match */
	const char *accept;
	const char *bearer;         /* a token instead of the registry's */
};
struct fetched {
	long code;
	struct buf body;
	char *etag, *www_auth;
	int retry_after;
};
int fetch_url(const struct fetch *f, struct fetched *out, struct buf *err);
/* n GETs at once (each retried as fetch_url's); outs[i] and errs[i] as
 * fetch_url's out and err; the number that failed */
int fetch_all(const struct fetch *fs, struct fetched *outs, struct buf *errs, size_t n);
void fetched_free(struct fetched *f);
/* a URL without its user:password@, for messages */
char *url_shown(const char *url);

/* the download cache: <state>/cache/sha256/<hex>, written only after the
 * content was verified; a file whose content does not hash to its name is
 * not used */
int dl_get(struct workspace *w, const char *hex, struct buf *out);
int dl_put(struct workspace *w, const char *hex, const char *p, size_t n);
/* where the download cache keeps hex (in w's arena) */
char *dl_path(struct workspace *w, const char *hex);
void sha256_hex(const char *p, size_t n, char out[65]);
/* the verified download of f (want: the SHA-256 it must have, or NULL;
 * what/by name the file and what gave want, for the mismatch message): 0
 * with hex when it is in the download cache, 1 when w->defer queued it,
 * -1 with err. Asks no server twice for one URL in a run. */
int dl_fetch(struct workspace *w, const struct fetch *f, const char *want,
	     const char *what, const char *by, char hex[65], struct buf *err);
/* fetches the queued downloads at once into the cache, saying so on
 * stderr for who (a cluster's name; NULL: quiet); the number that failed
 * (their errors wait in the memo for dl_fetch) */
int dl_run(struct workspace *w, const char *who);
/* this run's outcome for url: the SHA-256 of what it gave (in the cache),
 * else NULL and *err why, or NULL with *err NULL when not asked yet */
const char *dl_memo_get(struct workspace *w, const char *url, const char **err);
void dl_memo_put(struct workspace *w, const char *url, const char *hex, const char *err);
/* what was fetched, by key (index:URL, chart:REPO|NAME|VERSION): read from
 * the state's fetch table; new records wait in w->fetched until the state
 * is written */
int fetch_rec_get(struct workspace *w, const char *key, const char **etag,
		  const char **digest);
void fetch_rec_put(struct workspace *w, const char *key, const char *etag,
		   const char *digest);

/* pulls repo:version from r (oci://host[/base]): the blob of the first
 * layer with one of the media types (NULL-terminated), digest-checked and
 * cached; hex receives its SHA-256 */
int oci_pull(struct ldctx *lc, struct registry *r, const char *repo,
	     const char *version, const char *const *media, struct buf *blob,
	     char *hex, struct buf *err);

/* the "sha256:<64 hex>" digest of a manifest's first layer with one of the
 * media types (NULL-terminated), or NULL */
const char *oci_layer_digest(const struct dnode *manifest, const char *const *media);
/* the tag of repo in r that constraint picks (newest matching; tags hold
 * "_" for "+"), from the registry's tag list (its first page): 0 with
 * *version, -1 with err when the registry failed, 1 with err when no tag
 * matches or constraint is not one */
int oci_resolve(struct ldctx *lc, struct registry *r, const char *repo,
		const char *constraint, const char **version, struct buf *err);

/* the workspace registry a profile's registry.metadata names (name or uid) */
struct registry *registry_find(struct workspace *w, struct dnode *meta);
/* whether layer l can use r: its file:// directory and its CA file (ca:)
 * must be readable. Checked when a layer uses the registry, not when the
 * workspace loads: an empty registry directory is not even in Git. 0, or
 * -1 with the error at the layer's position in d */
int registry_check(struct ldctx *lc, const struct registry *r, const struct layer *l,
		   const char *profile_file);
/* a helm layer: resolves its chart in a file:// Helm repository (index,
 * version or constraint, SHA-256 digest) and renders it with the helm
 * binary into l's documents */
int helm_layer(struct ldctx *lc, struct layer *l, struct dnode *regmeta,
	       const char *profile_file);
/* the helm binary: ADDONMAKE_HELM, else helm on PATH; NULL when there is
 * none */
const char *helm_binary(struct arena *a);
/* the values a chart of l is rendered or installed with: charts.<chart> of
 * its values, as YAML (empty when there are none) */
void helm_values(const struct layer *l, const char *chart, struct buf *out);
/* renders the charts a pack.json lists (charts/x.tgz) into l's documents */
int pack_charts(struct ldctx *lc, struct layer *l, const char *profile_file);
/* semver: compare two versions; does version satisfy constraint (1, 0, or
 * -1 for a constraint that cannot be read) */
int semver_cmp(const char *a, const char *b);
int semver_match(const char *constraint, const char *version);
/* the index of the version to use for want: an exact match, else the
 * newest matching it as a constraint; -1 when none (NULL entries are
 * skipped), with *bad_constraint set when want is not a constraint */
int semver_pick(const char *const *versions, size_t n, const char *want, int *bad_constraint);
/* unpacks a chart .tgz into dir, safely (DESIGN §2.4); 0 or -1 with err */
int tgz_unpack(const char *data, size_t len, const char *dir, struct buf *err);

/* resolves a pack layer's content from a file:// registry */
int pack_resolve(struct ldctx *lc, struct layer *l, struct dnode *regmeta,
		 const char *profile_file, struct dnode **base,
		 const char **base_file);
/* renders a pack's kubeManifests with .Values from l->values */
int pack_manifests(struct ldctx *lc, struct layer *l);
/* appends the documents of a rendered text to the layer */
int layer_add_docs(struct arena *a, struct layer *l, const char *file,
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
