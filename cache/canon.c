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

/* scratch space per nesting depth, reused by every map at that depth */
struct scratch {
	struct buf keys;
	struct entry *e;
	size_t cap;
};

struct canon {
	struct scratch **s; /* by depth; each slot stays where it is */
	size_t n;
};

static void
canon_rec(struct canon *cx, struct buf *out, const struct dnode *n, size_t depth)
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
			canon_rec(cx, out, n->items[i], depth + 1);
		break;
	case D_MAP: {
		buf_addc(out, 'm');
		put_len(out, n->n);
		if (depth >= cx->n) {
			size_t nn = depth + 8;
			cx->s = xrealloc(cx->s, nn * sizeof(*cx->s));
			for (size_t i = cx->n; i < nn; i++)
				cx->s[i] = xcalloc(1, sizeof(**cx->s));
			cx->n = nn;
		}
		/* keys are encoded into the scratch buffer of this depth,
		 * sorted by their bytes, then copied out with their values */
		struct scratch *sc = cx->s[depth];
		if (sc->cap < n->n) {
			sc->cap = n->n * 2;
			sc->e = xrealloc(sc->e, sc->cap * sizeof(*sc->e));
		}
		struct entry *e = sc->e;
		buf_clear(&sc->keys);
		for (size_t i = 0; i < n->n; i++) {
			e[i].off = sc->keys.len;
			canon_rec(cx, &sc->keys, n->items[2 * i], depth + 1);
			e[i].len = sc->keys.len - e[i].off;
			e[i].idx = i;
		}
		if (n->n > 1)
			qsort_r(e, n->n, sizeof(*e), entry_cmp, sc->keys.s);
		for (size_t i = 0; i < n->n; i++) {
			/* deeper levels use their own scratch: this one holds */
			buf_add(out, sc->keys.s + e[i].off, e[i].len);
			canon_rec(cx, out, n->items[2 * e[i].idx + 1], depth + 1);
		}
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
	struct canon cx = {0};
	canon_rec(&cx, out, n, 0);
	for (size_t i = 0; i < cx.n; i++) {
		buf_free(&cx.s[i]->keys);
		free(cx.s[i]->e);
		free(cx.s[i]);
	}
	free(cx.s);
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

int
hash_parse_hex(const char *s, struct hash128 *h)
{
	for (int i = 0; i < 32; i++) {
		char c = s[i];
		int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		h->b[i / 2] = (unsigned char)(i % 2 ? (h->b[i / 2] << 4) | v : v);
	}
	return s[32] ? -1 : 0;
}
