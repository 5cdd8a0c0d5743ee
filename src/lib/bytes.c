/* bytes: the big-endian integers and length-prefixed strings that the
 * state's records are made of. A reader never reads past its end: it sets
 * bad and returns zeros, so a truncated record is refused, not guessed at. */
#include <string.h>
#include "lib.h"

void
put_be(struct buf *b, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		buf_addc(b, (char)((v >> (8 * i)) & 0xff));
}

void
put_str(struct buf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	put_bytes(b, s, n);
}

void
put_bytes(struct buf *b, const char *s, size_t n)
{
	put_be(b, n, 4);
	buf_add(b, s ? s : "", n);
}

uint64_t
get_be(struct reader *r, int bytes)
{
	uint64_t v = 0;
	if (r->bad || r->n - r->off < (size_t)bytes) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < bytes; i++)
		v = v << 8 | r->p[r->off++];
	return v;
}

const char *
get_str(struct reader *r, struct arena *a, size_t *len)
{
	size_t n = (size_t)get_be(r, 4);
	if (r->bad || n > r->n - r->off) {
		r->bad = 1;
		n = 0;
	}
	const char *s = arena_strndup(a, (const char *)r->p + r->off, n);
	r->off += n;
	if (len)
		*len = n;
	return s;
}
