/* width: how many terminal columns a UTF-8 text takes, without the locale
 * (a run's output must not change with LANG): East Asian wide characters
 * and emoji take two, combining marks none, escape sequences none, others
 * one. Bytes that are not UTF-8 count one each. */
#include "lib.h"

static int
wide(unsigned cp)
{
	return (cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
	       (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	       (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	       (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) ||
	       (cp >= 0x1f900 && cp <= 0x1f9ff) || (cp >= 0x20000 && cp <= 0x3fffd);
}

static int
combining(unsigned cp)
{
	return (cp >= 0x300 && cp <= 0x36f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	       (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	       (cp >= 0xfe20 && cp <= 0xfe2f) || cp == 0x200b || cp == 0x200d;
}

size_t
text_char(const char *s, int *width)
{
	const unsigned char *p = (const unsigned char *)s;
	if (p[0] == 033) { /* an escape sequence: up to its final letter */
		size_t n = 1;
		while (p[n] && !((p[n] >= 'A' && p[n] <= 'Z') || (p[n] >= 'a' && p[n] <= 'z')))
			n++;
		*width = 0;
		return p[n] ? n + 1 : n;
	}
	size_t n = p[0] < 0x80 ? 1 : (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
		 : (p[0] & 0xf8) == 0xf0 ? 4 : 0;
	unsigned cp = n == 1 ? p[0] : n == 2 ? p[0] & 0x1f : n == 3 ? p[0] & 0x0f : p[0] & 0x07;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			n = 0;
			break;
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (!n) { /* not UTF-8: a byte is a column */
		*width = 1;
		return 1;
	}
	*width = combining(cp) ? 0 : wide(cp) ? 2 : 1;
	return n;
}

int
text_width(const char *s)
{
	int w = 0, cw;
	while (*s) {
		s += text_char(s, &cw);
		w += cw;
	}
	return w;
}

void
buf_pad(struct buf *b, const char *s, int width)
{
	buf_adds(b, s);
	for (int w = text_width(s); w < width; w++)
		buf_addc(b, ' ');
}
