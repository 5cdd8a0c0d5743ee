/* dlcache: downloads kept under the state directory by their SHA-256, and
 * the fetch records (ETag and digest by URL) that let a run revalidate an
 * index with If-None-Match, or skip the network for a pinned version. A
 * download enters the cache only after its digest was checked, and is
 * checked again when read. */
#include <openssl/evp.h>
#include <string.h>
#include "fetch.h"

void
sha256_hex(const char *p, size_t n, char out[65])
{
	unsigned char md[32];
	unsigned int len = 0;
	EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

char *
dl_path(struct fetcher *fx, const char *hex)
{
	return arena_printf(fx->a, "%s/cache/sha256/%s", fx->state, hex);
}

int
dl_get(struct fetcher *fx, const char *hex, struct buf *out)
{
	if (!hex || strlen(hex) != 64)
		return -1;
	buf_clear(out);
	if (file_read(dl_path(fx, hex), out))
		return -1;
	char got[65];
	sha256_hex(out->s, out->len, got);
	return strcmp(got, hex) == 0 ? 0 : -1;
}

int
dl_put(struct fetcher *fx, const char *hex, const char *p, size_t n)
{
	char *dir = arena_printf(fx->a, "%s/cache/sha256", fx->state);
	int e = file_mkdirs(dir, 0755);
	return e ? e : file_write_atomic(dl_path(fx, hex), p, n);
}

int
fetch_rec_get(struct fetcher *fx, const char *key, const char **etag,
	      const char **digest)
{
	*etag = *digest = NULL;
	for (size_t i = fx->nfetched; i-- > 0;)
		if (strcmp(fx->fetched[i].key, key) == 0) {
			*etag = fx->fetched[i].etag;
			*digest = fx->fetched[i].digest;
			return 0;
		}
	if (!fx->st)
		return 1;
	char *v;
	size_t n;
	struct buf err = {0};
	int rc = store_get_blob(fx->st, STORE_FETCH, key, &v, &n, fx->a, &err);
	buf_free(&err);
	if (rc)
		return 1;
	/* "ETAG\nDIGEST" */
	char *nl = memchr(v, '\n', n);
	if (!nl)
		return 1;
	*nl = 0;
	*etag = *v ? v : NULL;
	*digest = nl + 1;
	return 0;
}

void
fetch_rec_put(struct fetcher *fx, const char *key, const char *etag,
	      const char *digest)
{
	if (fx->nfetched == fx->capfetched) {
		fx->capfetched = fx->capfetched ? fx->capfetched * 2 : 8;
		fx->fetched = xrealloc(fx->fetched, fx->capfetched * sizeof(*fx->fetched));
	}
	fx->fetched[fx->nfetched++] = (struct fetch_rec){arena_strdup(fx->a, key),
		etag ? arena_strdup(fx->a, etag) : NULL, arena_strdup(fx->a, digest)};
}
