/* tgz: unpacks a chart archive (gzip'd tar) into a directory, the way
 * Helm's loader does it safely: the first path component is stripped,
 * absolute paths and ".." are refused, and sizes are capped (100 MiB in
 * all, 5 MiB a file, 10,000 entries). Understands ustar, pax path records
 * and GNU long names. */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "fetch.h"

#define TGZ_MAX_TOTAL (100L << 20)
#define TGZ_MAX_FILE (5L << 20)
#define TGZ_MAX_ENTRIES 10000

static int
gunzip(const char *p, size_t n, struct buf *out, struct buf *err)
{
	z_stream z;
	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		buf_adds(err, "cannot start gunzip");
		return -1;
	}
	z.next_in = (unsigned char *)p;
	z.avail_in = (uInt)n;
	int rc;
	do {
		if (out->cap - out->len < 65536 + 1) {
			out->cap = out->cap ? out->cap * 2 : 1 << 20;
			out->s = xrealloc(out->s, out->cap);
		}
		z.next_out = (unsigned char *)out->s + out->len;
		z.avail_out = (uInt)(out->cap - out->len - 1);
		rc = inflate(&z, Z_NO_FLUSH);
		out->len = (size_t)((char *)z.next_out - out->s);
		if (out->len > (size_t)TGZ_MAX_TOTAL + 1024 * 1024) {
			inflateEnd(&z);
			buf_adds(err, "the archive unpacks to more than 100 MiB");
			return -1;
		}
	} while (rc == Z_OK);
	inflateEnd(&z);
	if (rc != Z_STREAM_END) {
		buf_printf(err, "not a valid gzip archive (%s)", z.msg ? z.msg : "truncated");
		return -1;
	}
	out->s[out->len] = 0;
	return 0;
}

static long
octal(const char *p, size_t n)
{
	long v = 0;
	for (size_t i = 0; i < n && p[i]; i++) {
		if (p[i] == ' ')
			continue;
		if (p[i] < '0' || p[i] > '7')
			return -1;
		v = v * 8 + (p[i] - '0');
	}
	return v;
}

/* "chart/templates/x.yaml" → "templates/x.yaml"; NULL when unsafe */
static const char *
safe_rel(const char *name)
{
	if (name[0] == '/')
		return NULL;
	const char *s = strchr(name, '/');
	if (!s)
		return ""; /* the top directory itself */
	s++;
	for (const char *c = s; *c;) {
		const char *e = strchr(c, '/');
		size_t l = e ? (size_t)(e - c) : strlen(c);
		if (l == 2 && c[0] == '.' && c[1] == '.')
			return NULL;
		c += l + (e ? 1 : 0);
	}
	return s;
}

/* the name a long-name entry ('L', GNU) or pax header ('x': its path=
 * record) gives the next entry, or NULL */
static char *
long_name(char type, const char *body, long size)
{
	if (type == 'L')
		return xstrndup(body, (size_t)size);
	/* pax records: "LEN path=VALUE\n" */
	const char *pp = memmem(body, (size_t)size, " path=", 6);
	const char *e = pp ? memchr(pp, '\n', (size_t)(body + size - pp)) : NULL;
	return e ? xstrndup(pp + 6, (size_t)(e - pp - 6)) : NULL;
}

/* writes one directory ('5') or regular file under dir; 0, or -1 with err */
static int
write_entry(const char *dir, const char *rel, char type, const char *body, long size,
	    struct buf *err)
{
	struct buf path = {0};
	buf_printf(&path, "%s/%s", dir, rel);
	int e;
	if (type == '5') {
		e = file_mkdirs(path.s, 0755);
	} else {
		char *slash = strrchr(path.s, '/');
		*slash = 0;
		e = file_mkdirs(path.s, 0755);
		*slash = '/';
		if (!e)
			e = file_write_replace(path.s, body, (size_t)size, 0);
	}
	if (e)
		buf_printf(err, "cannot write %s: %s", path.s, strerror(e));
	buf_free(&path);
	return e ? -1 : 0;
}

/* one entry of the archive (its header h, its name): refused when there
 * are too many, its path is unsafe or it is too large; links and devices
 * are skipped, the rest written under dir; 0, or -1 with err */
static int
unpack_entry(const char *h, const char *name, long size, const char *dir, int *entries,
	     long *total, struct buf *err)
{
	char type = h[156];
	if (++*entries > TGZ_MAX_ENTRIES) {
		buf_printf(err, "the archive has more than %d entries", TGZ_MAX_ENTRIES);
		return -1;
	}
	const char *rel = safe_rel(name);
	if (!rel) {
		buf_printf(err, "the archive holds an unsafe path \"%s\"", name);
		return -1;
	}
	if (type != '0' && type != '\0' && type != '5')
		return 0; /* links and devices are not part of a chart */
	if (size > TGZ_MAX_FILE) {
		buf_printf(err, "%s is larger than 5 MiB", name);
		return -1;
	}
	if ((*total += size) > TGZ_MAX_TOTAL) {
		buf_adds(err, "the archive unpacks to more than 100 MiB");
		return -1;
	}
	return *rel ? write_entry(dir, rel, type, h + 512, size, err) : 0;
}

int
tgz_unpack(const char *data, size_t len, const char *dir, struct buf *err)
{
	struct buf tar = {0};
	if (gunzip(data, len, &tar, err)) {
		buf_free(&tar);
		return -1;
	}
	int rc = 0, entries = 0;
	char *longname = NULL;
	long total = 0;
	for (size_t off = 0; off + 512 <= tar.len && !rc;) {
		const char *h = tar.s + off;
		if (!h[0]) /* the end: two zero blocks */
			break;
		long size = octal(h + 124, 12);
		if (size < 0 || (size_t)size > tar.len - off - 512) {
			buf_adds(err, "a tar header is corrupt or the archive is truncated");
			rc = -1;
			break;
		}
		char type = h[156];
		off += 512 + (((size_t)size + 511) & ~(size_t)511);
		if (type == 'L' || type == 'x') {
			free(longname);
			longname = long_name(type, h + 512, size);
			continue;
		}
		if (type == 'g')
			continue;
		char name[512];
		if (longname)
			snprintf(name, sizeof(name), "%s", longname);
		else if (h[345])
			snprintf(name, sizeof(name), "%.155s/%.100s", h + 345, h);
		else
			snprintf(name, sizeof(name), "%.100s", h);
		free(longname);
		longname = NULL;
		rc = unpack_entry(h, name, size, dir, &entries, &total, err);
	}
	free(longname);
	buf_free(&tar);
	return rc;
}
