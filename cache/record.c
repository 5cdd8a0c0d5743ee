/* record: the byte layout of one layer record (version 1):
 *   u8 version, 16 hash, i64 order, u8 status, i64 started, i64 finished,
 *   u32 count, then four u32-length-prefixed strings: type, namespace,
 *   version, inventory. Integers are big endian. A record of another
 *   version, or one whose lengths overrun, is refused, never guessed at. */
#include <string.h>
#include "cache.h"

#define REC_VERSION 1

static void
put_u(struct buf *b, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		buf_addc(b, (char)((v >> (8 * i)) & 0xff));
}

static void
put_s(struct buf *b, const char *s, size_t n)
{
	put_u(b, n, 4);
	buf_add(b, s, n);
}

void
layer_rec_encode(struct buf *out, const struct layer_rec *r)
{
	buf_addc(out, REC_VERSION);
	buf_add(out, r->hash.b, 16);
	put_u(out, (uint64_t)r->order, 8);
	buf_addc(out, (char)r->status);
	put_u(out, (uint64_t)r->started, 8);
	put_u(out, (uint64_t)r->finished, 8);
	put_u(out, r->count, 4);
	put_s(out, r->type ? r->type : "", r->type ? strlen(r->type) : 0);
	put_s(out, r->ns ? r->ns : "", r->ns ? strlen(r->ns) : 0);
	put_s(out, r->version ? r->version : "", r->version ? strlen(r->version) : 0);
	put_s(out, r->inventory ? r->inventory : "", r->inventory ? r->ninventory : 0);
}

struct rd {
	const unsigned char *p;
	size_t n, off;
	int bad;
};

static uint64_t
get_u(struct rd *r, int bytes)
{
	uint64_t v = 0;
	if (r->off + (size_t)bytes > r->n) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->off++];
	return v;
}

static const char *
get_s(struct rd *r, size_t *len, struct arena *a)
{
	size_t n = (size_t)get_u(r, 4);
	if (r->bad || n > r->n - r->off) {
		r->bad = 1;
		return "";
	}
	const char *s = arena_strndup(a, (const char *)r->p + r->off, n);
	r->off += n;
	if (len)
		*len = n;
	return s;
}

int
layer_rec_decode(const void *p, size_t n, struct layer_rec *out,
		 struct arena *a)
{
	struct rd r = {p, n, 0, 0};
	memset(out, 0, sizeof(*out));
	if (get_u(&r, 1) != REC_VERSION || r.bad)
		return -1;
	if (r.n - r.off < 16)
		return -1;
	memcpy(out->hash.b, r.p + r.off, 16);
	r.off += 16;
	out->order = (int64_t)get_u(&r, 8);
	out->status = (int)get_u(&r, 1);
	out->started = (int64_t)get_u(&r, 8);
	out->finished = (int64_t)get_u(&r, 8);
	out->count = (uint32_t)get_u(&r, 4);
	out->type = get_s(&r, NULL, a);
	out->ns = get_s(&r, NULL, a);
	out->version = get_s(&r, NULL, a);
	out->inventory = get_s(&r, &out->ninventory, a);
	if (r.bad || r.off != r.n || out->status < LS_PENDING ||
	    out->status > LS_INTERRUPTED)
		return -1;
	return 0;
}
