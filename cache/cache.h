/* cache: what addonmake remembers between runs — the canonical encoding and
 * XXH3-128 hash of a layer, the LMDB state store with one versioned record
 * per layer, and the lock that keeps one run per workspace. It knows nothing
 * of profiles, targets or Kubernetes: records carry an opaque inventory that
 * the caller's target defines. */
#ifndef CACHE_H
#define CACHE_H

#include <stdint.h>
#include "../src/yaml/doc.h"
#include "../src/lib/lib.h"

/* canonical encoding: maps with keys sorted, comments and layout gone, a
 * scalar's plain/quoted style kept (it changes the scalar's type) */
void canon_node(struct buf *out, const struct dnode *n);
/* one named field of a hash input, so fields cannot run into each other */
void canon_field(struct buf *out, const char *name, const char *val, size_t len);

struct hash128 {
	unsigned char b[16]; /* big endian, as XXH128_canonical_t */
};
void hash_bytes(const void *p, size_t n, struct hash128 *h);
void hash_hex(const struct hash128 *h, char out[33]);
/* the 32 lowercase hex digits of hash_hex (nothing after them) into h: 0,
 * or -1 when s is not that */
int hash_parse_hex(const char *s, struct hash128 *h);

enum layer_status {
	LS_PENDING = 1,
	LS_APPLIED,
	LS_READY,
	LS_FAILED,
	LS_INTERRUPTED,
};
const char *layer_status_name(int st);

struct layer_rec {
	struct hash128 hash;
	int64_t order;
	int status;
	int64_t started, finished; /* seconds since the epoch, 0 when unknown */
	uint32_t count;            /* how many times it was applied */
	const char *type, *ns, *version;
	const char *inventory;     /* target-defined bytes */
	size_t ninventory;
};

/* whether dir's state file (when there is one) can be read without
 * crashing (a child process reads all of it): 0, or -1 with err saying it
 * is damaged and how to recover. Run before the first store_open of a
 * process. */
int store_check(const char *dir, struct buf *err);

struct store;
/* opens <dir>/state.mdb; with readonly and no state yet, *s is an empty
 * store that answers "absent" to every lookup and writes nothing */
int store_open(struct store **s, const char *dir, int readonly, struct buf *err);
void store_close(struct store *s);
int store_path_exists(const char *dir);

/* one read transaction for a whole plan */
int store_read_begin(struct store *s, struct buf *err);
void store_read_end(struct store *s);
/* 0 found, 1 absent, -1 corrupt/unknown version (err says which) */
int store_get_layer(struct store *s, const char *cluster, const char *id,
		    struct layer_rec *r, struct arena *a, struct buf *err);
/* every recorded layer of a cluster, in key order */
typedef void (*store_each_fn)(void *ctx, const char *id,
			      const struct layer_rec *r);
int store_each_layer(struct store *s, const char *cluster, store_each_fn fn,
		     void *ctx, struct arena *a, struct buf *err);

/* writes: each call is one write transaction, committed before it returns;
 * a full map is grown and the transaction retried */
struct store_put {
	const char *id;
	const struct layer_rec *rec; /* NULL: delete the record */
};
int store_write(struct store *s, const char *cluster,
		const struct store_put *puts, size_t n, struct buf *err);
/* store_write, and in the same transaction: with replace, the cluster's
 * other records are deleted first; a mark (not NULL) replaces the
 * cluster's mark, bytes its caller defines that say what the records were
 * last read from (get it with store_get_blob(STORE_MARK)); an empty one
 * deletes it */
int store_write_marked(struct store *s, const char *cluster, const struct store_put *puts,
		       size_t n, int replace, const char *mark, size_t nmark, struct buf *err);
/* forgets a cluster's records, snapshot and mark */
int store_clear_cluster(struct store *s, const char *cluster, struct buf *err);

/* blobs whose bytes the caller defines, by key, in one of two tables:
 * STORE_FILES, the stat cache (one snapshot per cluster: what it was
 * compiled from and to), STORE_FETCH (downloads: ETag and digest by
 * URL) and STORE_MARK (by cluster: see store_write_marked). Get copies
 * into a: 0 found, 1 absent, -1 error. Put with p NULL
 * deletes. */
enum { STORE_FILES, STORE_FETCH, STORE_MARK };
int store_get_blob(struct store *s, int table, const char *key, char **p,
		   size_t *n, struct arena *a, struct buf *err);
int store_put_blob(struct store *s, int table, const char *key, const void *p,
		   size_t n, struct buf *err);

/* encodes/decodes one record (exposed for tests) */
void layer_rec_encode(struct buf *out, const struct layer_rec *r);
int layer_rec_decode(const void *p, size_t n, struct layer_rec *r,
		     struct arena *a);

/* the workspace lock: 0 taken, 1 held by another process (*pid set), -1
 * error. With wait, blocks until it is free. The lock is released when the
 * process exits or with run_unlock. */
int run_lock(const char *dir, int wait, long *pid, int *fd, struct buf *err);
void run_unlock(int fd);

#endif
