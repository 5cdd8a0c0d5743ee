/* store: the LMDB state database <state>/state.mdb (MDB_NOSUBDIR) with the
 * named databases `layers`, `meta` (the schema version, and each cluster's
 * mark: what its records were last read from), `files` and `fetch`. Every write is its own transaction,
 * so what finished is on disk before the next layer starts. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cache.h"

#define SCHEMA_VERSION "1"

struct store {
	MDB_env *env;
	MDB_dbi layers, meta, files, fetch;
	MDB_txn *rtxn; /* the open read transaction, if any */
	int readonly, empty;
	char *path;
};

const char *
layer_status_name(int st)
{
	switch (st) {
	case LS_PENDING: return "pending";
	case LS_APPLIED: return "applied";
	case LS_READY: return "ready";
	case LS_FAILED: return "failed";
	case LS_INTERRUPTED: return "interrupted";
	}
	return "unknown";
}

int
store_path_exists(const char *dir)
{
	struct buf p = {0};
	struct stat st;
	buf_printf(&p, "%s/state.mdb", dir);
	int r = stat(p.s, &st) == 0;
	buf_free(&p);
	return r;
}

static void
lmdb_err(struct buf *err, const char *path, const char *what, int rc)
{
	buf_printf(err, "%s: %s: %s", path, what, mdb_strerror(rc));
	if (rc == MDB_INVALID || rc == MDB_CORRUPTED || rc == MDB_VERSION_MISMATCH)
		buf_adds(err, "; the state is unreadable: run 'addonmake clean' to start afresh");
	else if (rc == EACCES || rc == EPERM || rc == EROFS)
		buf_adds(err, "; addonmake must be able to write its state files");
}

/* 64 MiB, grown by doubling when full. ADDONMAKE_TEST_MAP_SIZE (bytes) is
 * a test hook: a map of a few pages lets an end-to-end test fill it */
static size_t
initial_map(void)
{
	const char *t = getenv("ADDONMAKE_TEST_MAP_SIZE");
	char *end;
	unsigned long long v = t ? strtoull(t, &end, 10) : 0;
	return t && *t && !*end && v >= 4096 ? (size_t)v : (size_t)64 << 20;
}

/* the LMDB environment of s->path; 0, or -1 with err */
static int
env_open(struct store *s, struct buf *err)
{
	int rc;
	if ((rc = mdb_env_create(&s->env)) ||
	    (rc = mdb_env_set_maxdbs(s->env, 8)) ||
	    (rc = mdb_env_set_mapsize(s->env, initial_map()))) {
		lmdb_err(err, s->path, "cannot set up LMDB", rc);
		return -1;
	}
	/* MDB_NOMETASYNC: one flush to disk per commit, not two. A crash of
	 * the process loses nothing committed; a crash of the machine may
	 * undo the last commit (the state stays consistent), and its layers
	 * are then applied again, as after a kill within the commit delay */
	rc = mdb_env_open(s->env, s->path,
			  MDB_NOSUBDIR | MDB_NOTLS | MDB_NOMETASYNC | (s->readonly ? MDB_RDONLY : 0),
			  0644);
	if (rc) {
		lmdb_err(err, s->path, "cannot open the state", rc);
		return -1;
	}
	return 0;
}

/* the schema version in meta: written into a new state, else it must be
 * this one's; an LMDB code, or -1 with err when it is another version */
static int
schema_check(struct store *s, MDB_txn *t, struct buf *err)
{
	MDB_val k = {7, "version"}, v;
	int rc = mdb_get(t, s->meta, &k, &v);
	if (rc == MDB_NOTFOUND && !s->readonly) {
		v.mv_data = SCHEMA_VERSION;
		v.mv_size = 1;
		return mdb_put(t, s->meta, &k, &v, 0);
	}
	if (rc == MDB_NOTFOUND)
		return 0;
	if (rc == 0 && (v.mv_size != 1 || memcmp(v.mv_data, SCHEMA_VERSION, 1))) {
		buf_printf(err, "%s: the state has schema version %.*s, this addonmake reads %s; "
			   "run 'addonmake clean' to start afresh", s->path,
			   (int)(v.mv_size > 8 ? 8 : v.mv_size), (char *)v.mv_data,
			   SCHEMA_VERSION);
		return -1;
	}
	return rc;
}

/* the tables, opened (made when writable) and the schema checked, in one
 * committed transaction; 0, 1 when a read-only state has no tables yet,
 * or -1 with err */
static int
tables_open(struct store *s, struct buf *err)
{
	MDB_txn *t;
	int rc;
	if ((rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &t))) {
		lmdb_err(err, s->path, "cannot read the state", rc);
		return -1;
	}
	unsigned flags = s->readonly ? 0 : MDB_CREATE;
	rc = mdb_dbi_open(t, "layers", flags, &s->layers);
	if (!rc)
		rc = mdb_dbi_open(t, "meta", flags, &s->meta);
	if (!rc)
		rc = mdb_dbi_open(t, "files", flags, &s->files);
	if (!rc)
		rc = mdb_dbi_open(t, "fetch", flags, &s->fetch);
	if (rc) {
		mdb_txn_abort(t);
		if (rc == MDB_NOTFOUND && s->readonly)
			return 1;
		lmdb_err(err, s->path, "cannot open the state tables", rc);
		return -1;
	}
	if ((rc = schema_check(s, t, err))) {
		mdb_txn_abort(t);
		if (rc > 0 || rc < -1) /* an LMDB code, not a version said in err */
			lmdb_err(err, s->path, "cannot read the state", rc);
		return -1;
	}
	/* commit even when read-only: handles opened in an aborted
	 * transaction are closed with it */
	if ((rc = mdb_txn_commit(t))) {
		lmdb_err(err, s->path, "cannot write the state", rc);
		return -1;
	}
	return 0;
}

int
store_open(struct store **out, const char *dir, int readonly, struct buf *err)
{
	struct store *s = xcalloc(1, sizeof(*s));
	struct buf p = {0};
	int rc;
	buf_printf(&p, "%s/state.mdb", dir);
	s->path = p.s;
	s->readonly = readonly;
	*out = s;
	if (readonly && !store_path_exists(dir)) {
		s->empty = 1;
		return 0;
	}
	if (!readonly && (rc = file_mkdirs(dir, 0755))) {
		buf_printf(err, "%s: cannot create the state directory: %s", dir, strerror(rc));
	} else if (env_open(s, err) == 0 && (rc = tables_open(s, err)) >= 0) {
		if (rc == 1) {
			mdb_env_close(s->env);
			s->env = NULL;
			s->empty = 1;
		}
		return 0;
	}
	store_close(s);
	*out = NULL;
	return -1;
}

void
store_close(struct store *s)
{
	if (!s)
		return;
	store_read_end(s);
	if (s->env)
		mdb_env_close(s->env);
	free(s->path);
	free(s);
}

int
store_read_begin(struct store *s, struct buf *err)
{
	if (s->empty || s->rtxn)
		return 0;
	int rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	if (rc) {
		s->rtxn = NULL;
		lmdb_err(err, s->path, "cannot read the state", rc);
		return -1;
	}
	return 0;
}

void
store_read_end(struct store *s)
{
	if (s->rtxn)
		mdb_txn_abort(s->rtxn);
	s->rtxn = NULL;
}

static void
make_key(struct buf *k, const char *cluster, const char *id)
{
	buf_clear(k);
	buf_add(k, cluster, strlen(cluster) + 1);
	if (id)
		buf_adds(k, id);
}

static int
get_in(MDB_txn *t, struct store *s, const char *cluster, const char *id,
       struct layer_rec *r, struct arena *a, struct buf *err)
{
	struct buf k = {0};
	make_key(&k, cluster, id);
	MDB_val key = {k.len, k.s}, v;
	int rc = mdb_get(t, s->layers, &key, &v);
	buf_free(&k);
	if (rc == MDB_NOTFOUND)
		return 1;
	if (rc) {
		lmdb_err(err, s->path, "cannot read the state", rc);
		return -1;
	}
	if (layer_rec_decode(v.mv_data, v.mv_size, r, a)) {
		buf_printf(err, "%s: the record of %s/%s is corrupt or of an unknown version; "
			   "run 'addonmake clean -c %s' to forget it", s->path, cluster, id, cluster);
		return -1;
	}
	return 0;
}

int
store_get_layer(struct store *s, const char *cluster, const char *id,
		struct layer_rec *r, struct arena *a, struct buf *err)
{
	if (s->empty)
		return 1;
	if (s->rtxn)
		return get_in(s->rtxn, s, cluster, id, r, a, err);
	if (store_read_begin(s, err))
		return -1;
	int rc = get_in(s->rtxn, s, cluster, id, r, a, err);
	store_read_end(s);
	return rc;
}

int
store_each_layer(struct store *s, const char *cluster, store_each_fn fn,
		 void *ctx, struct arena *a, struct buf *err)
{
	if (s->empty)
		return 0;
	int own = !s->rtxn;
	if (own && store_read_begin(s, err))
		return -1;
	MDB_cursor *c;
	int rc = mdb_cursor_open(s->rtxn, s->layers, &c);
	if (rc) {
		lmdb_err(err, s->path, "cannot read the state", rc);
		if (own)
			store_read_end(s);
		return -1;
	}
	struct buf k = {0};
	make_key(&k, cluster, NULL);
	size_t plen = k.len;
	MDB_val key = {k.len, k.s}, v;
	int ret = 0;
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		if (key.mv_size < plen || memcmp(key.mv_data, k.s, plen))
			break;
		char *id = arena_strndup(a, (char *)key.mv_data + plen, key.mv_size - plen);
		struct layer_rec r;
		if (layer_rec_decode(v.mv_data, v.mv_size, &r, a)) {
			buf_printf(err, "%s: the record of %s/%s is corrupt or of an unknown version; "
				   "run 'addonmake clean -c %s' to forget it", s->path, cluster, id, cluster);
			ret = -1;
			break;
		}
		fn(ctx, id, &r);
	}
	mdb_cursor_close(c);
	buf_free(&k);
	if (own)
		store_read_end(s);
	return ret;
}

/* runs fn in a write transaction, growing the map when it is full */
static int
write_txn(struct store *s, int (*fn)(MDB_txn *, struct store *, void *),
	  void *ctx, struct buf *err)
{
	if (s->readonly || s->empty) {
		buf_printf(err, "%s: the state is open read-only", s->path);
		return -1;
	}
	for (int tries = 0; tries < 16; tries++) {
		MDB_txn *t;
		int rc = mdb_txn_begin(s->env, NULL, 0, &t);
		if (rc) {
			lmdb_err(err, s->path, "cannot write the state", rc);
			return -1;
		}
		rc = fn(t, s, ctx);
		if (!rc)
			rc = mdb_txn_commit(t);
		else
			mdb_txn_abort(t);
		if (rc == MDB_MAP_FULL) {
			MDB_envinfo info;
			mdb_env_info(s->env, &info);
			rc = mdb_env_set_mapsize(s->env, info.me_mapsize * 2);
			if (rc) {
				lmdb_err(err, s->path, "cannot grow the state", rc);
				return -1;
			}
			continue;
		}
		if (rc) {
			lmdb_err(err, s->path, "cannot write the state", rc);
			return -1;
		}
		return 0;
	}
	buf_printf(err, "%s: the state cannot grow any further", s->path);
	return -1;
}

struct put_ctx {
	const char *cluster;
	const struct store_put *puts;
	size_t n;
	int replace;
	const char *mark; /* NULL: left as it is */
	size_t nmark;
};

static int clear_layers(MDB_txn *t, struct store *s, const char *cluster);

/* a blob to write (p NULL: delete it) */
struct blob_ctx {
	int table;
	const char *cluster;
	const void *p;
	size_t n;
};
static int do_blob(MDB_txn *t, struct store *s, void *vctx);

static int
do_puts(MDB_txn *t, struct store *s, void *vctx)
{
	struct put_ctx *c = vctx;
	struct buf k = {0}, v = {0};
	int rc = c->replace ? clear_layers(t, s, c->cluster) : 0;
	if (!rc && c->mark) {
		/* an empty mark is none */
		struct blob_ctx b = {.table = STORE_MARK, .cluster = c->cluster,
				     .p = c->nmark ? c->mark : NULL, .n = c->nmark};
		rc = do_blob(t, s, &b);
	}
	for (size_t i = 0; i < c->n && !rc; i++) {
		make_key(&k, c->cluster, c->puts[i].id);
		MDB_val key = {k.len, k.s};
		if (!c->puts[i].rec) {
			rc = mdb_del(t, s->layers, &key, NULL);
			if (rc == MDB_NOTFOUND)
				rc = 0;
			continue;
		}
		buf_clear(&v);
		layer_rec_encode(&v, c->puts[i].rec);
		MDB_val val = {v.len, v.s};
		rc = mdb_put(t, s->layers, &key, &val, 0);
	}
	buf_free(&k);
	buf_free(&v);
	return rc;
}

int
store_write(struct store *s, const char *cluster, const struct store_put *puts,
	    size_t n, struct buf *err)
{
	return store_write_marked(s, cluster, puts, n, 0, NULL, 0, err);
}

int
store_write_marked(struct store *s, const char *cluster, const struct store_put *puts,
		   size_t n, int replace, const char *mark, size_t nmark, struct buf *err)
{
	struct put_ctx c = {.cluster = cluster, .puts = puts, .n = n, .replace = replace,
			     .mark = mark, .nmark = nmark};
	return write_txn(s, do_puts, &c, err);
}

/* the snapshot and the mark go with the records: a mark left behind
 * would vouch for records that are gone */
static int
do_clear(MDB_txn *t, struct store *s, void *vctx)
{
	const char *cluster = vctx;
	MDB_val sk = {strlen(cluster), (void *)cluster};
	int drc = mdb_del(t, s->files, &sk, NULL);
	if (drc && drc != MDB_NOTFOUND)
		return drc;
	struct blob_ctx b = {.table = STORE_MARK, .cluster = cluster};
	if ((drc = do_blob(t, s, &b)))
		return drc;
	return clear_layers(t, s, cluster);
}

static int
clear_layers(MDB_txn *t, struct store *s, const char *cluster)
{
	MDB_cursor *c;
	int rc = mdb_cursor_open(t, s->layers, &c);
	if (rc)
		return rc;
	struct buf k = {0};
	make_key(&k, cluster, NULL);
	MDB_val key = {k.len, k.s}, v;
	for (rc = mdb_cursor_get(c, &key, &v, MDB_SET_RANGE); rc == 0;
	     rc = mdb_cursor_get(c, &key, &v, MDB_NEXT)) {
		if (key.mv_size < k.len || memcmp(key.mv_data, k.s, k.len))
			break;
		if ((rc = mdb_cursor_del(c, 0)))
			break;
	}
	mdb_cursor_close(c);
	buf_free(&k);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

int
store_clear_cluster(struct store *s, const char *cluster, struct buf *err)
{
	return write_txn(s, do_clear, (void *)cluster, err);
}

/* a blob's table and key: a mark lives in meta under "mark/" and the
 * cluster's name, apart from the schema's key "version" */
static MDB_dbi
blob_key(struct store *s, int table, const char *name, struct buf *k)
{
	buf_clear(k);
	if (table == STORE_MARK)
		buf_adds(k, "mark/");
	buf_adds(k, name);
	return table == STORE_FETCH ? s->fetch : table == STORE_MARK ? s->meta : s->files;
}

int
store_get_blob(struct store *s, int table, const char *cluster, char **p, size_t *n,
	       struct arena *a, struct buf *err)
{
	if (s->empty)
		return 1;
	int own = !s->rtxn;
	if (own && store_read_begin(s, err))
		return -1;
	struct buf k = {0};
	MDB_dbi dbi = blob_key(s, table, cluster, &k);
	MDB_val key = {k.len, k.s}, v;
	int rc = mdb_get(s->rtxn, dbi, &key, &v);
	buf_free(&k);
	if (rc == 0) {
		*p = arena_alloc(a, v.mv_size + 1);
		memcpy(*p, v.mv_data, v.mv_size);
		*n = v.mv_size;
	} else if (rc != MDB_NOTFOUND) {
		lmdb_err(err, s->path, "cannot read the state", rc);
	}
	if (own)
		store_read_end(s);
	return rc == 0 ? 0 : rc == MDB_NOTFOUND ? 1 : -1;
}


static int
do_blob(MDB_txn *t, struct store *s, void *vctx)
{
	struct blob_ctx *c = vctx;
	struct buf k = {0};
	MDB_dbi dbi = blob_key(s, c->table, c->cluster, &k);
	MDB_val key = {k.len, k.s};
	int rc;
	if (!c->p) {
		rc = mdb_del(t, dbi, &key, NULL);
		rc = rc == MDB_NOTFOUND ? 0 : rc;
	} else {
		MDB_val v = {c->n, (void *)c->p};
		rc = mdb_put(t, dbi, &key, &v, 0);
	}
	buf_free(&k);
	return rc;
}

int
store_put_blob(struct store *s, int table, const char *cluster, const void *p, size_t n,
	       struct buf *err)
{
	struct blob_ctx c = {.table = table, .cluster = cluster, .p = p, .n = n};
	return write_txn(s, do_blob, &c, err);
}
