/* fetch: what comes from registries — HTTP(S) GETs with retries, the
 * download cache (verified by SHA-256) and the queue that makes a compile's
 * downloads at once, the fetch records that let a run revalidate or skip
 * the network, OCI pulls, semantic versions, and safe unpacking of chart
 * archives. It knows nothing of profiles, layers or clusters: the loaders
 * above it decide what to fetch and what it means. */
#ifndef FETCH_H
#define FETCH_H

#include <stdint.h>
#include "../../cache/cache.h"
#include "../lib/lib.h"
#include "../yaml/doc.h"

/* a registry of addonmake.yaml: where packs, charts or artifacts come
 * from, with the credentials and TLS settings to ask it with */
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

struct fetch_rec {
	const char *key, *etag, *digest;
};

/* what the fetching of one run shares: the download cache's place, the
 * run's mode, the records to write with the state, the queue and what
 * this run already asked. Strings it keeps live in *a (the run's arena);
 * fetcher_free frees the rest. */
struct dl_item;
struct fetcher {
	struct arena *a;
	const char *state; /* the state directory: downloads go under cache/ */
	int offline;       /* --offline: the download cache only */
	int refresh;       /* --refresh: ask the registries again */
	struct store *st;  /* the state, for fetch records; NULL: none yet */
	struct fetch_rec *fetched; /* records to write with the state */
	size_t nfetched, capfetched;
	/* with defer set, downloads are queued for dl_run instead of made;
	 * memo holds this run's outcome by URL */
	int defer;
	struct dl_item *queue;
	size_t nqueue, capqueue;
	struct strset memo;
};
void fetcher_free(struct fetcher *fx);

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
int dl_get(struct fetcher *fx, const char *hex, struct buf *out);
int dl_put(struct fetcher *fx, const char *hex, const char *p, size_t n);
/* where the download cache keeps hex (in fx's arena) */
char *dl_path(struct fetcher *fx, const char *hex);
void sha256_hex(const char *p, size_t n, char out[65]);
/* the verified download of f (want: the SHA-256 it must have, or NULL;
 * what/by name the file and what gave want, for the mismatch message): 0
 * with hex when it is in the download cache, 1 when fx->defer queued it,
 * -1 with err (offline, without asking). Asks no server twice for one URL
 * in a run. */
int dl_fetch(struct fetcher *fx, const struct fetch *f, const char *want,
	     const char *what, const char *by, char hex[65], struct buf *err);
/* fetches the queued downloads at once into the cache, saying so on
 * stderr for who (a cluster's name; NULL: quiet); the number that failed
 * (their errors wait in the memo for dl_fetch) */
int dl_run(struct fetcher *fx, const char *who);
/* this run's outcome for url: the SHA-256 of what it gave (in the cache),
 * else NULL and *err why, or NULL with *err NULL when not asked yet */
const char *dl_memo_get(struct fetcher *fx, const char *url, const char **err);
void dl_memo_put(struct fetcher *fx, const char *url, const char *hex, const char *err);
/* what was fetched, by key (index:URL, chart:REPO|NAME|VERSION): read from
 * the state's fetch table; new records wait in fx->fetched until the state
 * is written */
int fetch_rec_get(struct fetcher *fx, const char *key, const char **etag,
		  const char **digest);
void fetch_rec_put(struct fetcher *fx, const char *key, const char *etag,
		   const char *digest);

/* pulls repo:version from r (oci://host[/base]): the blob of the first
 * layer with one of the media types (NULL-terminated), digest-checked and
 * cached; hex receives its SHA-256 */
int oci_pull(struct fetcher *fx, struct arena *a, struct registry *r, const char *repo,
	     const char *version, const char *const *media, struct buf *blob,
	     char *hex, struct buf *err);

/* the "sha256:<64 hex>" digest of a manifest's first layer with one of the
 * media types (NULL-terminated), or NULL */
const char *oci_layer_digest(const struct dnode *manifest, const char *const *media);
/* the tag of repo in r that constraint picks (newest matching; tags hold
 * "_" for "+"), from the registry's tag list (its first page): 0 with
 * *version, -1 with err when the registry failed, 1 with err when no tag
 * matches or constraint is not one */
int oci_resolve(struct fetcher *fx, struct arena *a, struct registry *r, const char *repo,
		const char *constraint, const char **version, struct buf *err);

/* semver: compare two versions; does version satisfy constraint (1, 0, or
 * -1 for a constraint that cannot be read) */
int semver_cmp(const char *a, const char *b);
int semver_match(const char *constraint, const char *version);
/* the index of the version to use for want: an exact match, else the
 * newest matching it as a constraint; -1 when none (NULL entries are
 * skipped), with *bad_constraint set when want is not a constraint */
int semver_pick(const char *const *versions, size_t n, const char *want, int *bad_constraint);
/* "1.2.3" (a version, not a constraint): once cached, it needs no request */
int semver_pinned(const char *v);
/* unpacks a chart .tgz into dir, safely (DESIGN §2.4); 0 or -1 with err */
int tgz_unpack(const char *data, size_t len, const char *dir, struct buf *err);


/* Helm repositories over http(s): a chart URL of an index, resolved
 * against the repository's URL */
const char *helm_url_resolve(struct arena *a, const char *repo, const char *u);
/* the index at iurl into body: revalidated once a run (If-None-Match),
 * kept in the download cache, offline the last one fetched; 0, or -1 with
 * err */
int helm_index_get(struct fetcher *fx, struct arena *a, const struct registry *r,
		   const char *iurl, struct buf *body, struct buf *err);
/* the chart archive at url with SHA-256 want (NULL: not known) into tgz:
 * from the cache, else fetched and checked first; 0, 1 when queued
 * (fx->defer), or -1 with err */
int helm_chart_get(struct fetcher *fx, const struct registry *r, const char *url,
		   const char *want, struct buf *tgz, struct buf *err);

/* the unpacked directory of pack name at version from r, an http(s):// or
 * oci:// pack registry (in a's memory); NULL with err, or with err empty
 * when the download was queued */
const char *pack_archive_dir(struct fetcher *fx, struct arena *a, struct registry *r,
			     const char *name, const char *version, struct buf *err);

#endif
