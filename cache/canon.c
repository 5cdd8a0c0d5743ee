/* canon: the one canonical encoding of a document, and the layer hash.
 * Format: a tag byte, then a LEB128 length or count, then the body —
 *   'p' plain scalar, 'q' quoted scalar: the bytes;
 *   'l' sequence: the items; 'm' map: key,value pairs, sorted by the bytes
 *   of the encoded key (ties keep source order: the later key wins on load
 *   but both are hashed, so a duplicate key is still a change).
 * The format is frozen: changing it changes every recorded hash. */
#define _GNU_SOURCE /* qsort_r */
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include "cache.h"

static void
put_len(struct buf *out, uint64_t v)
{
	do {
		unsigned char c = v & 0x7f;
		v >>= 7;
		if (v)
			c |= 0x80;
		buf_addc(out, (char)c);
	} while (v);
}

/* a map entry: its encoded key at keys[off, off+len) */
struct entry {
	size_t off, len, idx;
};

static int
entry_cmp(const void *a, const void *b, void *keys)
{
	const struct entry *x = a, *y = b;
	const char *k = keys;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(k + x->off, k + y->off, n);
	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static void
canon_rec(struct buf *out, const struct dnode *n, int depth)
{
	if (depth > 1000)
		return;
	switch (n->kind) {
	case D_SCALAR:
		buf_addc(out, n->style == DS_PLAIN ? 'p' : 'q');
		put_len(out, n->len);
		buf_add(out, n->s, n->len);
		break;
	case D_SEQ:
		buf_addc(out, 'l');
		put_len(out, n->n);
		for (size_t i = 0; i < n->n; i++)
			canon_rec(out, n->items[i], depth + 1);
		break;
	case D_MAP: {
		buf_addc(out, 'm');
		put_len(out, n->n);
		/* keys are encoded into one scratch buffer, sorted by their
		 * bytes, then copied out with their values */
		struct entry one[16], *e = n->n <= 16 ? one : xcalloc(n->n, sizeof(*e));
		struct buf keys = {0};
		for (size_t i = 0; i < n->n; i++) {
			e[i].off = keys.len;
			canon_rec(&keys, n->items[2 * i], depth + 1);
			e[i].len = keys.len - e[i].off;
			e[i].idx = i;
		}
		qsort_r(e, n->n, sizeof(*e), entry_cmp, keys.s);
		for (size_t i = 0; i < n->n; i++) {
			buf_add(out, keys.s + e[i].off, e[i].len);
			canon_rec(out, n->items[2 * e[i].idx + 1], depth + 1);
		}
		buf_free(&keys);
		if (e != one)
			free(e);
		break;
	}
	}
}

void
canon_node(struct buf *out, const struct dnode *n)
{
	if (!n) {
		buf_addc(out, 'n');
		return;
	}
	canon_rec(out, n, 0);
}

void
canon_field(struct buf *out, const char *name, const char *val, size_t len)
{
	buf_addc(out, 'f');
	put_len(out, strlen(name));
	buf_adds(out, name);
	put_len(out, len);
	buf_add(out, val, len);
}

void
hash_bytes(const void *p, size_t n, struct hash128 *h)
{
	XXH128_hash_t x = XXH3_128bits(p, n);
	XXH128_canonical_t c;
	XXH128_canonicalFromHash(&c, x);
	memcpy(h->b, c.digest, 16);
}

void
hash_hex(const struct hash128 *h, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	for (int i = 0; i < 16; i++) {
		out[2 * i] = hex[h->b[i] >> 4];
		out[2 * i + 1] = hex[h->b[i] & 15];
	}
	out[32] = 0;
}
