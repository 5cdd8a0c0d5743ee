/* pack_archive: a pack that comes as an archive of its directory — from an
 * http(s):// pack registry (URL/<name>-<version>.tar.gz) or as a Palette
 * OCI pack (<base>/spectro-packs/archive/<name>:<version>) — unpacked once
 * per digest into <state>/cache/packs/<sha256>, through a temporary
 * directory renamed into place, so a half-unpacked pack is never used. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fetch.h"

/* the archive from an http(s):// registry: 0 with hex when it is in the
 * download cache (and in blob when it was read from there), 1 when
 * queued, -1 with err. A pinned version fetched once costs no request
 * again (--refresh fetches it again). */
static int
http_pack(struct fetcher *fx, struct arena *a, const struct registry *r, const char *name,
	  const char *version, struct buf *blob, char hex[65], struct buf *err)
{
	size_t n = strlen(r->url);
	const char *url = arena_printf(a, "%.*s/%s-%s.tar.gz", (int)(n && r->url[n - 1] == '/' ? n - 1 : n),
				       r->url, name, version);
	const char *key = arena_printf(a, "pack:%s|%s|%s", r->url, name, version);
	const char *etag, *digest;
	int have = fetch_rec_get(fx, key, &etag, &digest) == 0 && dl_get(fx, digest, blob) == 0;
	if (have && (!fx->refresh || fx->offline)) {
		snprintf(hex, 65, "%s", digest);
		return 0;
	}
	buf_clear(blob);
	struct fetch f = {.url = url, .reg = r, .etag = NULL, .accept = NULL, .bearer = NULL};
	int rc = dl_fetch(fx, &f, NULL, "pack archive", NULL, hex, err);
	if (rc == 0)
		fetch_rec_put(fx, key, NULL, hex);
	return rc;
}

const char *
pack_archive_dir(struct fetcher *fx, struct arena *a, struct registry *r, const char *name,
		 const char *version, struct buf *err)
{
	static const char *const media[] = {"application/vnd.oci.image.layer.v1.tar+gzip",
					    "application/vnd.oci.image.layer.v1.tar",
					    "application/tar+gzip", NULL};
	struct buf blob = {0};
	char hex[65];
	int rc;
	if (strncmp(r->url, "oci://", 6) == 0) {
		const char *base = strchr(r->url + 6, '/');
		const char *repo = arena_printf(a, "%s%sspectro-packs/archive/%s",
						base ? base + 1 : "", base ? "/" : "", name);
		rc = oci_pull(fx, a, r, repo, version, media, &blob, hex, err);
	} else {
		rc = http_pack(fx, a, r, name, version, &blob, hex, err);
	}
	if (rc) {
		buf_free(&blob);
		return NULL;
	}
	const char *dir = arena_printf(a, "%s/cache/packs/%s", fx->state, hex);
	struct stat st;
	if (stat(dir, &st) != 0) {
		char *tmp = arena_printf(a, "%s.tmp.%ld", dir, (long)getpid());
		file_rmtree(tmp);
		/* the archive was read already unless it was just downloaded */
		if ((!blob.len && dl_get(fx, hex, &blob)) || tgz_unpack(blob.s, blob.len, tmp, err) ||
		    rename(tmp, dir) != 0) {
			if (!err->len)
				buf_printf(err, "cannot unpack into %s: %s", dir, strerror(errno));
			file_rmtree(tmp);
			buf_free(&blob);
			return NULL;
		}
	}
	buf_free(&blob);
	return dir;
}
