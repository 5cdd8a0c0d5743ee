/* helm_repo: the two things addonmake asks of an http(s):// Helm
 * repository — its index.yaml, revalidated with If-None-Match once a run
 * and kept in the download cache (offline, the last one fetched), and a
 * chart archive with the digest the index gives, checked before it enters
 * the cache. Which chart and version to take is the loader's business. */
#include <stdlib.h>
#include <string.h>
#include "fetch.h"

const char *
helm_url_resolve(struct arena *a, const char *repo, const char *u)
{
	if (strstr(u, "://"))
		return u;
	if (u[0] == '/') {
		const char *s = strstr(repo, "://");
		const char *slash = s ? strchr(s + 3, '/') : NULL;
		size_t n = slash ? (size_t)(slash - repo) : strlen(repo);
		return arena_printf(a, "%.*s%s", (int)n, repo, u);
	}
	size_t n = strlen(repo);
	return arena_printf(a, "%.*s/%s", (int)(n && repo[n - 1] == '/' ? n - 1 : n), repo, u);
}

/* a fresh index (200) into the cache and the records; 0 */
static int
index_keep(struct fetcher *fx, const char *key, const char *iurl, struct fetched *got,
	   struct buf *body)
{
	char hex[65];
	sha256_hex(got->body.s, got->body.len, hex);
	buf_clear(body);
	buf_add(body, got->body.s, got->body.len);
	if (!dl_put(fx, hex, got->body.s, got->body.len)) {
		fetch_rec_put(fx, key, got->etag, hex);
		dl_memo_put(fx, iurl, hex, NULL);
	}
	return 0;
}

int
helm_index_get(struct fetcher *fx, struct arena *a, const struct registry *r,
	       const char *iurl, struct buf *body, struct buf *err)
{
	char *key = arena_printf(a, "index:%s", iurl);
	const char *etag, *digest;
	const char *merr, *mhex = dl_memo_get(fx, iurl, &merr);
	if (merr) {
		buf_adds(err, merr);
		return -1;
	}
	if (mhex && dl_get(fx, mhex, body) == 0)
		return 0; /* revalidated once a run */
	int have = fetch_rec_get(fx, key, &etag, &digest) == 0 && dl_get(fx, digest, body) == 0;
	if (fx->offline) {
		if (have)
			return 0;
		char *shown = url_shown(iurl);
		buf_printf(err, "--offline, and %s is not in the download cache (run once without "
			   "--offline)", shown);
		free(shown);
		return -1;
	}
	struct fetch f = {.url = iurl, .reg = r, .etag = have ? etag : NULL, .accept = NULL,
			  .bearer = NULL};
	struct fetched got;
	int rc = fetch_url(&f, &got, err);
	if (rc == 0 && got.code == 304 && have)
		dl_memo_put(fx, iurl, digest, NULL);
	else if (rc == 0 && got.code == 200)
		index_keep(fx, key, iurl, &got, body);
	else {
		if (rc == 0) {
			char *shown = url_shown(iurl);
			buf_printf(err, "GET %s: HTTP %ld%s", shown, got.code,
				   got.code == 401 || got.code == 403 ? " (check the registry's credentials)"
				   : "");
			free(shown);
		}
		dl_memo_put(fx, iurl, NULL, err->s);
		rc = -1;
	}
	fetched_free(&got);
	return rc;
}

int
helm_chart_get(struct fetcher *fx, const struct registry *r, const char *url,
	       const char *want, struct buf *tgz, struct buf *err)
{
	if (want && dl_get(fx, want, tgz) == 0)
		return 0;
	struct fetch f = {.url = url, .reg = r, .etag = NULL, .accept = NULL, .bearer = NULL};
	char hex[65];
	int rc = dl_fetch(fx, &f, want, "chart", "index", hex, err);
	if (rc == 0 && dl_get(fx, hex, tgz) != 0) {
		buf_printf(err, "%s vanished from the download cache", dl_path(fx, hex));
		rc = -1;
	}
	return rc;
}
