/* record: the byte layout of one layer record (version 1):
 *   u8 version, 16 hash, i64 order, u8 status, i64 started, i64 finished,
 *   u32 count, then four u32-length-prefixed strings: type, namespace,
 *   version, inventory. Integers are big endian. A record of another
 *   version, or one whose lengths overrun, is refused, never guessed at. */
#include <string.h>
#include "cache.h"

#define REC_VERSION 1

void
layer_rec_encode(struct buf *out, const struct layer_rec *r)
{
	buf_addc(out, REC_VERSION);
	buf_add(out, r->hash.b, 16);
	put_be(out, (uint64_t)r->order, 8);
	buf_addc(out, (char)r->status);
	put_be(out, (uint64_t)r->started, 8);
	put_be(out, (uint64_t)r->finished, 8);
	put_be(out, r->count, 4);
	put_str(out, r->type);
	put_str(out, r->ns);
	put_str(out, r->version);
	put_bytes(out, r->inventory, r->inventory ? r->ninventory : 0);
}

int
layer_rec_decode(const void *p, size_t n, struct layer_rec *out,
		 struct arena *a)
{
	struct reader r = {.p = p, .n = n, .off = 0, .bad = 0};
	memset(out, 0, sizeof(*out));
	if (get_be(&r, 1) != REC_VERSION || r.bad)
		return -1;
	if (r.n - r.off < 16)
		return -1;
	memcpy(out->hash.b, r.p + r.off, 16);
	r.off += 16;
	out->order = (int64_t)get_be(&r, 8);
	out->status = (int)get_be(&r, 1);
	out->started = (int64_t)get_be(&r, 8);
	out->finished = (int64_t)get_be(&r, 8);
	out->count = (uint32_t)get_be(&r, 4);
	out->type = get_str(&r, a, NULL);
	out->ns = get_str(&r, a, NULL);
	out->version = get_str(&r, a, NULL);
	out->inventory = get_str(&r, a, &out->ninventory);
	if (r.bad || r.off != r.n || out->status < LS_PENDING ||
	    out->status > LS_INTERRUPTED)
		return -1;
	return 0;
}
