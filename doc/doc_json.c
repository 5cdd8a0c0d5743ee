/* doc_json: a tree as JSON, the way Kubernetes clients send YAML manifests
 * (sigs.k8s.io/yaml over go-yaml v2): a plain scalar is typed by YAML 1.1's
 * rules — null, booleans (yes/no/on/off too), integers (0x, 0o, leading-0
 * octal, underscores), floats — and anything quoted is a string. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "doc.h"

void
doc_json_str(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (c == '\r')
			buf_adds(b, "\\r");
		else if (c < 0x20 || c == 0x7f)
			buf_printf(b, "\\u%04x", c);
		else
			buf_addc(b, (char)c);
	}
	buf_addc(b, '"');
}

static int
one_of(const char *s, const char *const *v)
{
	for (; *v; v++)
		if (strcmp(s, *v) == 0)
			return 1;
	return 0;
}

/* a JSON number as written (RFC 8259 grammar) */
static int
json_number(const char *s)
{
	const char *p = s;
	if (*p == '-')
		p++;
	if (*p == '0')
		p++;
	else if (*p >= '1' && *p <= '9')
		while (*p >= '0' && *p <= '9')
			p++;
	else
		return 0;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		if (*p == '+' || *p == '-')
			p++;
		if (!(*p >= '0' && *p <= '9'))
			return 0;
		while (*p >= '0' && *p <= '9')
			p++;
	}
	return *p == 0;
}

static void
plain_scalar(struct buf *b, const char *s)
{
	static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
					  "on", "On", "ON", NULL};
	static const char *const no[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
					 "off", "Off", "OFF", NULL};
	static const char *const null[] = {"", "~", "null", "Null", "NULL", NULL};
	if (one_of(s, null)) {
		buf_adds(b, "null");
		return;
	}
	if (one_of(s, yes) || one_of(s, no)) {
		buf_adds(b, one_of(s, yes) ? "true" : "false");
		return;
	}
	if (json_number(s)) {
		buf_adds(b, s);
		return;
	}
	/* YAML 1.1 spellings JSON lacks: +1, 0x1f, 0o17, 017, 1_000, 1., .5 */
	char t[64];
	size_t n = 0;
	for (const char *p = s; *p && n < sizeof(t) - 1; p++)
		if (*p != '_')
			t[n++] = *p;
	t[n] = 0;
	if (n && n < sizeof(t) - 1 && strchr("+-.0123456789", t[0])) {
		char *end;
		const char *u = t[0] == '+' ? t + 1 : t;
		errno = 0;
		if (u[0] == '0' && u[1] == 'o') {
			long long v = strtoll(u + 2, &end, 8);
			if (!*end && end != u + 2 && !errno) {
				buf_printf(b, "%lld", v);
				return;
			}
		}
		errno = 0;
		long long v = strtoll(u, &end, 0);
		if (!*end && end != u && !errno && strspn(u, "-+0123456789abcdefABCDEFxX") == strlen(u)) {
			buf_printf(b, "%lld", v);
			return;
		}
		errno = 0;
		double d = strtod(u, &end);
		if (!*end && end != u && !errno && isfinite(d) &&
		    strspn(u, "-+.0123456789eE") == strlen(u)) {
			buf_printf(b, "%.17g", d);
			return;
		}
	}
	doc_json_str(b, s);
}

void
doc_emit_json(struct buf *b, const struct dnode *n)
{
	if (!n) {
		buf_adds(b, "null");
		return;
	}
	switch (n->kind) {
	case D_SCALAR:
		if (n->style == DS_PLAIN)
			plain_scalar(b, n->s);
		else
			doc_json_str(b, n->s);
		return;
	case D_SEQ:
		buf_addc(b, '[');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				buf_addc(b, ',');
			doc_emit_json(b, n->items[i]);
		}
		buf_addc(b, ']');
		return;
	case D_MAP:
		buf_addc(b, '{');
		for (size_t i = 0; i < n->n; i++) {
			if (i)
				buf_addc(b, ',');
			const struct dnode *k = n->items[2 * i];
			doc_json_str(b, k->kind == D_SCALAR ? k->s : "");
			buf_addc(b, ':');
			doc_emit_json(b, n->items[2 * i + 1]);
		}
		buf_addc(b, '}');
		return;
	}
}
