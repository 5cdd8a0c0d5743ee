/* oci: pulls one artifact from an OCI registry (distribution spec v2):
 * the manifest of repo:tag, then the blob of its first layer whose media
 * type is accepted, verified against the digest the manifest gives. A 401
 * with a Bearer challenge is answered by fetching a token from the realm
 * (with the registry's basic credentials, if any). Tags hold "_" where a
 * version has "+". Blobs go through the download cache; a pinned tag
 * already pulled costs no request. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "fetch.h"

/* value of key="..." in a WWW-Authenticate challenge */
static char *
challenge(const char *h, const char *key, struct arena *a)
{
	size_t kl = strlen(key);
	for (const char *p = h; (p = strstr(p, key)); p++) {
		if ((p == h || p[-1] == ' ' || p[-1] == ',') && p[kl] == '=' && p[kl + 1] == '"') {
			const char *s = p + kl + 2, *e = strchr(s, '"');
			return e ? arena_strndup(a, s, (size_t)(e - s)) : NULL;
		}
	}
	return NULL;
}

/* the bearer token a 401 challenge asks for */
static char *
get_token(struct fetcher *fx, struct arena *a, struct registry *r, const char *www, struct buf *err)
{
	if (!www || strncasecmp(www, "Bearer ", 7) != 0) {
		buf_adds(err, "the registry answered 401 without a Bearer challenge (check the credentials)");
		return NULL;
	}
	char *realm = challenge(www, "realm", a), *service = challenge(www, "service", a);
	char *scope = challenge(www, "scope", a);
	if (!realm) {
		buf_adds(err, "the registry's Bearer challenge has no realm");
		return NULL;
	}
	char *url = arena_printf(a, "%s%s%s%s%s%s", realm, strchr(realm, '?') ? "&" : "?",
				 service ? "service=" : "", service ? service : "",
				 scope ? "&scope=" : "", scope ? scope : "");
	/* the token endpoint takes basic credentials, not a token */
	struct registry basic = *r;
	basic.token = basic.token_env = NULL;
	struct fetch f = {.url = url, .reg = &basic, .etag = NULL, .accept = "application/json",
			  .bearer = NULL};
	struct fetched got;
	char *tok = NULL;
	if (fetch_url(&f, &got, err) == 0) {
		if (got.code != 200) {
			char *shown = url_shown(realm);
			buf_printf(err, "the token service %s answered %ld (check the registry's credentials)",
				   shown, got.code);
			free(shown);
		} else {
			struct dorigin o = doc_file_origin("token");
			struct dnode *root;
			if (!doc_parse_first(a, got.body.s, got.body.len, &o, &root, NULL)) {
				const char *t = doc_str(doc_get(root, "token"));
				if (!t)
					t = doc_str(doc_get(root, "access_token"));
				tok = t ? arena_strdup(a, t) : NULL;
			}
			if (!tok)
				buf_adds(err, "the token service's answer has no token");
		}
	}
	fetched_free(&got);
	return tok;
}

/* GET with the token dance; the token is kept for the next request */
static int
oci_get(struct fetcher *fx, struct arena *a, struct registry *r, const char *url, const char *accept,
	char **token, struct fetched *got, struct buf *err)
{
	for (int round = 0; round < 2; round++) {
		struct fetch f = {.url = url, .reg = r, .etag = NULL, .accept = accept,
				  .bearer = *token};
		if (fetch_url(&f, got, err))
			return -1;
		if (got->code != 401 || round || *token)
			break;
		*token = get_token(fx, a, r, got->www_auth, err);
		fetched_free(got);
		if (!*token)
			return -1;
	}
	if (got->code != 200) {
		char *shown = url_shown(url);
		buf_printf(err, "GET %s: HTTP %ld%s", shown, got->code,
			   got->code == 401 || got->code == 403 ? " (check the registry's credentials)"
			   : got->code == 404 ? " (no such artifact)" : "");
		free(shown);
		return -1;
	}
	return 0;
}

/* a small document of the registry (a manifest, a tag list): asked for
 * once a run and kept in the download cache, so a second compile pass
 * reads it from there; hex receives its SHA-256 */
static int
oci_doc(struct fetcher *fx, struct arena *a, struct registry *r, const char *url, const char *accept,
	char **token, struct buf *body, char hex[65], struct buf *err)
{
	const char *merr, *mhex = dl_memo_get(fx, url, &merr);
	if (merr) {
		buf_adds(err, merr);
		return -1;
	}
	if (mhex && dl_get(fx, mhex, body) == 0) {
		snprintf(hex, 65, "%s", mhex);
		return 0;
	}
	struct fetched got;
	if (oci_get(fx, a, r, url, accept, token, &got, err)) {
		dl_memo_put(fx, url, NULL, err->s);
		fetched_free(&got);
		return -1;
	}
	sha256_hex(got.body.s, got.body.len, hex);
	buf_clear(body);
	buf_add(body, got.body.s, got.body.len);
	if (dl_put(fx, hex, got.body.s, got.body.len) == 0)
		dl_memo_put(fx, url, hex, NULL);
	fetched_free(&got);
	return 0;
}

/* host[:port] of oci://host[:port][/base] */
static char *
oci_host(struct arena *a, const struct registry *r)
{
	const char *hostpath = r->url + 6;
	const char *slash = strchr(hostpath, '/');
	return arena_strndup(a, hostpath, slash ? (size_t)(slash - hostpath) : strlen(hostpath));
}

const char *
oci_layer_digest(const struct dnode *manifest, const char *const *media)
{
	const struct dnode *layers = doc_get(manifest, "layers");
	const char *digest = NULL;
	for (size_t i = 0; layers && layers->kind == D_SEQ && i < layers->n && !digest; i++) {
		const char *mt = doc_str(doc_get(layers->items[i], "mediaType"));
		for (const char *const *m = media; mt && *m && !digest; m++)
			if (strcmp(mt, *m) == 0)
				digest = doc_str(doc_get(layers->items[i], "digest"));
	}
	if (!digest || strncmp(digest, "sha256:", 7) || strlen(digest) != 71)
		return NULL;
	for (const char *p = digest + 7; *p; p++)
		if (!strchr("0123456789abcdef", *p))
			return NULL; /* it names a file of the cache */
	return digest;
}

int
oci_resolve(struct fetcher *fx, struct arena *a, struct registry *r, const char *repo, const char *constraint,
	    const char **version, struct buf *err)
{
	char *host = oci_host(a, r);
	const char *key = arena_printf(a, "tags:%s/%s", host, repo);
	struct buf body = {0};
	if (fx->offline) {
		const char *e, *d;
		if (fetch_rec_get(fx, key, &e, &d) || dl_get(fx, d, &body)) {
			buf_printf(err, "--offline, and the tag list of %s/%s is not in the download cache",
				   host, repo);
			buf_free(&body);
			return -1;
		}
	} else {
		char *url = arena_printf(a, "%s://%s/v2/%s/tags/list", r->insecure_http ? "http" : "https",
					 host, repo);
		char *token = NULL;
		char hex[65];
		if (oci_doc(fx, a, r, url, "application/json", &token, &body, hex, err)) {
			buf_free(&body);
			return -1;
		}
		fetch_rec_put(fx, key, NULL, hex);
	}
	struct dorigin o = doc_file_origin(key);
	struct dnode *root = NULL;
	doc_parse_first(a, body.s, body.len, &o, &root, NULL);
	buf_free(&body);
	struct dnode *tags = doc_get(root, "tags");
	size_t n = tags && tags->kind == D_SEQ ? tags->n : 0;
	const char **vs = arena_alloc(a, (n + 1) * sizeof(*vs));
	for (size_t i = 0; i < n; i++) {
		const char *t = doc_str(tags->items[i]);
		char *v = t ? arena_strdup(a, t) : NULL;
		for (char *p = v; p && *p; p++)
			if (*p == '_')
				*p = '+';
		vs[i] = v;
	}
	int bad, k = semver_pick(vs, n, constraint, &bad);
	if (k >= 0) {
		*version = vs[k];
		return 0;
	}
	if (bad) {
		buf_printf(err, "\"%s\" is neither a version nor a constraint (such as 1.2.3, ~1.2, ^1, "
			   ">=1.0 <2.0)", constraint);
	} else {
		buf_printf(err, "%s/%s has no tag matching \"%s\" (it has ", host, repo, constraint);
		for (size_t i = 0; i < n && i < 5; i++)
			buf_printf(err, "%s%s", i ? ", " : "", vs[i] ? vs[i] : "?");
		buf_printf(err, "%s)", n == 0 ? "none" : n > 5 ? ", …" : "");
	}
	return 1;
}

int
oci_pull(struct fetcher *fx, struct arena *a, struct registry *r, const char *repo, const char *version,
	 const char *const *media, struct buf *blob, char *hex, struct buf *err)
{
	char *host = oci_host(a, r);
	char *tag = arena_strdup(a, version);
	for (char *p = tag; *p; p++)
		if (*p == '+')
			*p = '_';
	char *pin = arena_printf(a, "oci:%s/%s:%s", host, repo, tag);
	const char *pe, *pd;
	if (!fx->refresh && fetch_rec_get(fx, pin, &pe, &pd) == 0 && dl_get(fx, pd, blob) == 0) {
		snprintf(hex, 65, "%s", pd);
		return 0;
	}
	if (fx->offline) {
		buf_printf(err, "--offline, and %s/%s:%s is not in the download cache", host, repo, tag);
		return -1;
	}
	const char *scheme = r->insecure_http ? "http" : "https";
	char *murl = arena_printf(a, "%s://%s/v2/%s/manifests/%s", scheme, host, repo, tag);
	char *token = NULL;
	struct buf mbody = {0};
	char mhex[65];
	if (oci_doc(fx, a, r, murl, "application/vnd.oci.image.manifest.v1+json", &token, &mbody,
		    mhex, err)) {
		buf_free(&mbody);
		return -1;
	}
	struct dorigin o = doc_file_origin(murl);
	struct dnode *manifest = NULL;
	doc_parse_first(a, mbody.s, mbody.len, &o, &manifest, NULL);
	buf_free(&mbody);
	const char *digest = oci_layer_digest(manifest, media);
	if (!digest) {
		buf_printf(err, "%s/%s:%s: the manifest has no layer of type %s", host, repo, tag, media[0]);
		return -1;
	}
	const char *want = digest + 7;
	if (dl_get(fx, want, blob) != 0) {
		char *burl = arena_printf(a, "%s://%s/v2/%s/blobs/%s", scheme, host, repo, digest);
		struct fetch f = {.url = burl, .reg = r, .etag = NULL, .accept = NULL,
				  .bearer = token};
		char h[65];
		int rc = dl_fetch(fx, &f, want, "blob", "manifest", h, err);
		if (rc)
			return rc;
		if (dl_get(fx, want, blob) != 0) {
			buf_printf(err, "%s vanished from the download cache", dl_path(fx, want));
			return -1;
		}
	}
	fetch_rec_put(fx, pin, NULL, want);
	snprintf(hex, 65, "%s", want);
	return 0;
}
