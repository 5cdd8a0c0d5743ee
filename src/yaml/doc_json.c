/* doc_json: JSON in and out. Out: a tree as JSON, the way Kubernetes clients send YAML manifests
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
	while (s && *s) {
		/* most strings need no escape: add them in runs */
		size_t n = 0;
		while (s[n] && s[n] != '"' && s[n] != '\\' && (unsigned char)s[n] >= 0x20 &&
		       s[n] != 0x7f)
			n++;
		buf_add(b, s, n);
		s += n;
		unsigned char c = (unsigned char)*s;
		if (!c)
			break;
		s++;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (c == '\r')
			buf_adds(b, "\\r");
		else
			buf_printf(b, "\\u%04x", c);
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

/* whether the n bytes at s are a JSON number (RFC 8259 grammar) */
static int
json_number_n(const char *s, size_t n)
{
	size_t i = 0;
#define DIGIT(k) ((k) < n && s[k] >= '0' && s[k] <= '9')
	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0')
		i++;
	else if (DIGIT(i) && s[i] != '0')
		while (DIGIT(i))
			i++;
	else
		return 0;
	if (i < n && s[i] == '.') {
		i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (!DIGIT(i))
			return 0;
		while (DIGIT(i))
			i++;
	}
#undef DIGIT
	return i == n;
}

static int
json_number(const char *s)
{
	return json_number_n(s, strlen(s));
}

static void
plain_scalar(struct buf *b, const char *s)
{
	static const char *const yes[] = {"y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE",
					  "on", "On", "ON", NULL};
	static const char *const no[] = {"n", "N", "no", "No", "NO", "false", "False", "FALSE",
					 "off", "Off", "OFF", NULL};
	static const char *const null[] = {"", "~", "null", "Null", "NULL", NULL};
	if (*s && !strchr("~yYnNtTfFoO+-.0123456789", *s)) {
		doc_json_str(b, s); /* none of the words or numbers below */
		return;
	}
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

/* reading JSON (API server answers): a parser of its own, because libyaml
 * reading the same text costs several times more, and every apply answer
 * is read. Strings become quoted scalars, numbers, true, false and null
 * plain ones, as libyaml would make them; nesting is bounded. */
#define JSON_DEPTH 256

struct jp {
	struct arena *a;
	const char *p, *end, *line_start;
	int line, bad;
	const char *skip; /* members of this name are checked, not built */
};

static void
jp_ws(struct jp *j)
{
	for (; j->p < j->end; j->p++) {
		if (*j->p == '\n') {
			j->line++;
			j->line_start = j->p + 1;
		} else if (*j->p != ' ' && *j->p != '\t' && *j->p != '\r') {
			break;
		}
	}
}

static struct dnode *
jp_node(struct jp *j, int kind)
{
	struct dnode *d = arena_alloc(j->a, sizeof(*d));
	memset(d, 0, sizeof(*d));
	d->kind = (unsigned char)kind;
	d->line = j->line;
	d->col = (int)(j->p - j->line_start) + 1;
	return d;
}

static int
hex4(const char *p, unsigned *out)
{
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		char c = p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	*out = v;
	return 0;
}

static void
utf8(struct buf *b, unsigned c)
{
	if (c < 0x80) {
		buf_addc(b, (char)c);
	} else if (c < 0x800) {
		buf_addc(b, (char)(0xc0 | (c >> 6)));
		buf_addc(b, (char)(0x80 | (c & 0x3f)));
	} else if (c < 0x10000) {
		buf_addc(b, (char)(0xe0 | (c >> 12)));
		buf_addc(b, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_addc(b, (char)(0x80 | (c & 0x3f)));
	} else {
		buf_addc(b, (char)(0xf0 | (c >> 18)));
		buf_addc(b, (char)(0x80 | ((c >> 12) & 0x3f)));
		buf_addc(b, (char)(0x80 | ((c >> 6) & 0x3f)));
		buf_addc(b, (char)(0x80 | (c & 0x3f)));
	}
}

/* a string at j->p (the opening quote) into a quoted scalar */
static struct dnode *
jp_string(struct jp *j, struct buf *tmp)
{
	struct dnode *d = jp_node(j, D_SCALAR);
	d->style = DS_QUOTED;
	const char *s = ++j->p;
	while (j->p < j->end && *j->p != '"' && *j->p != '\\' && (unsigned char)*j->p >= 0x20)
		j->p++;
	if (j->p < j->end && *j->p == '"') { /* the common case: no escapes */
		d->len = (size_t)(j->p - s);
		d->s = arena_strndup(j->a, s, d->len);
		j->p++;
		return d;
	}
	buf_clear(tmp);
	buf_add(tmp, s, (size_t)(j->p - s));
	while (j->p < j->end && *j->p != '"') {
		unsigned char c = (unsigned char)*j->p;
		if (c < 0x20) {
			j->bad = 1;
			return NULL;
		}
		if (c != '\\') {
			buf_addc(tmp, (char)c);
			j->p++;
			continue;
		}
		if (j->end - j->p < 2) {
			j->bad = 1;
			return NULL;
		}
		char e = j->p[1];
		j->p += 2;
		const char *simple = strchr("\"\\/bfnrt", e);
		if (e && simple) {
			buf_addc(tmp, "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"]);
			continue;
		}
		unsigned u, lo;
		if (e != 'u' || j->end - j->p < 4 || hex4(j->p, &u)) {
			j->bad = 1;
			return NULL;
		}
		j->p += 4;
		if (u >= 0xd800 && u < 0xdc00 && j->end - j->p >= 6 && j->p[0] == '\\' &&
		    j->p[1] == 'u' && !hex4(j->p + 2, &lo) && lo >= 0xdc00 && lo < 0xe000) {
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
			j->p += 6;
		} else if (u >= 0xd800 && u < 0xe000) {
			u = 0xfffd; /* a lone surrogate */
		}
		utf8(tmp, u);
	}
	if (j->p >= j->end) {
		j->bad = 1;
		return NULL;
	}
	j->p++;
	d->len = tmp->len;
	d->s = arena_strndup(j->a, tmp->s ? tmp->s : "", tmp->len);
	return d;
}

static struct dnode *jp_value(struct jp *j, struct buf *tmp, int depth);

static int
jp_fail(struct jp *j)
{
	j->bad = 1;
	return -1;
}

/* after an item of a container: 1 when another follows (past its
 * comma), 0 when the container closes (past close), -1 when neither */
static int
jp_next(struct jp *j, char close)
{
	jp_ws(j);
	if (j->p < j->end && (*j->p == ',' || *j->p == close))
		return *j->p++ == ',';
	return jp_fail(j);
}

/* a number, true, false or null at j->p, checked by its class: its
 * length (j->p moved past it), or 0 when it is none of them */
static size_t
jp_scalar(struct jp *j)
{
	const char *s = j->p;
	while (j->p < j->end && (strchr("+-.eE", *j->p) || (*j->p >= '0' && *j->p <= '9') ||
				 (*j->p >= 'a' && *j->p <= 'z')))
		j->p++;
	size_t len = (size_t)(j->p - s);
	int word = len && s[0] >= 'a' && s[0] <= 'z';
	if (!len || (word ? !((len == 4 && !memcmp(s, "true", 4)) ||
			      (len == 5 && !memcmp(s, "false", 5)) ||
			      (len == 4 && !memcmp(s, "null", 4)))
			  : !json_number_n(s, len))) {
		j->bad = 1;
		return 0;
	}
	return len;
}

/* passes over one value without building it, its syntax checked; -1 when
 * it is not JSON */
static int
jp_skip(struct jp *j, int depth)
{
	jp_ws(j);
	if (j->p >= j->end || depth > JSON_DEPTH)
		return jp_fail(j);
	char c = *j->p;
	if (c == '"') {
		for (j->p++; j->p < j->end && *j->p != '"'; j->p++) {
			if ((unsigned char)*j->p < 0x20)
				return jp_fail(j);
			if (*j->p != '\\')
				continue;
			unsigned u;
			if (++j->p >= j->end || !*j->p || !strchr("\"\\/bfnrtu", *j->p) ||
			    (*j->p == 'u' && (j->end - j->p < 5 || hex4(j->p + 1, &u))))
				return jp_fail(j);
		}
		if (j->p >= j->end)
			return jp_fail(j);
		j->p++;
		return 0;
	}
	if (c != '{' && c != '[')
		return jp_scalar(j) ? 0 : -1;
	char close = c == '{' ? '}' : ']';
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		return 0;
	}
	for (;;) {
		if (c == '{') {
			jp_ws(j);
			if (j->p >= j->end || *j->p != '"' || jp_skip(j, depth + 1))
				break;
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':')
				break;
			j->p++;
		}
		if (jp_skip(j, depth + 1))
			break;
		int more = jp_next(j, close);
		if (more <= 0)
			return more;
	}
	return jp_fail(j);
}

/* the items of an array or object, kept in a growing list, then copied
 * into the arena */
static struct dnode *
jp_container(struct jp *j, struct buf *tmp, int depth)
{
	int is_map = *j->p == '{';
	char close = is_map ? '}' : ']';
	struct dnode *d = jp_node(j, is_map ? D_MAP : D_SEQ);
	/* most containers are small: their items go on the stack */
	struct dnode *small[32], **v = small;
	size_t n = 0, cap = sizeof(small) / sizeof(*small);
	j->p++;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
	} else {
		for (;;) {
			if (n + 2 > cap) {
				cap *= 2;
				if (v == small) {
					v = xcalloc(cap, sizeof(*v));
					memcpy(v, small, n * sizeof(*v));
				} else {
					v = xrealloc(v, cap * sizeof(*v));
				}
			}
			jp_ws(j);
			if (is_map) {
				if (j->p >= j->end || *j->p != '"')
					break;
				v[n++] = jp_string(j, tmp);
				jp_ws(j);
				if (j->bad || j->p >= j->end || *j->p != ':')
					break;
				j->p++;
				jp_ws(j);
			}
			if (is_map && j->skip && strcmp(v[n - 1]->s, j->skip) == 0) {
				n--;
				if (jp_skip(j, depth + 1))
					break;
			} else if (!(v[n++] = jp_value(j, tmp, depth + 1))) {
				break;
			}
			int more = jp_next(j, close);
			if (more > 0)
				continue;
			if (more == 0) {
				d->n = is_map ? n / 2 : n;
				d->items = arena_alloc(j->a, (n ? n : 1) * sizeof(*v));
				if (n)
					memcpy(d->items, v, n * sizeof(*v));
				if (v != small)
					free(v);
				return d;
			}
			break;
		}
		j->bad = 1;
		if (v != small)
			free(v);
		return NULL;
	}
	d->items = arena_alloc(j->a, sizeof(*v));
	return d;
}

static struct dnode *
jp_value(struct jp *j, struct buf *tmp, int depth)
{
	jp_ws(j);
	if (j->p >= j->end || depth > JSON_DEPTH) {
		j->bad = 1;
		return NULL;
	}
	char c = *j->p;
	if (c == '{' || c == '[')
		return jp_container(j, tmp, depth);
	if (c == '"')
		return jp_string(j, tmp);
	const char *s = j->p;
	size_t len = jp_scalar(j);
	if (!len)
		return NULL;
	j->p = s;
	struct dnode *d = jp_node(j, D_SCALAR);
	j->p = s + len;
	d->style = DS_PLAIN;
	d->len = len;
	d->s = arena_strndup(j->a, s, len);
	return d;
}

int
doc_parse_json(struct arena *a, const char *text, size_t len, struct dnode **root)
{
	return doc_parse_json_skip(a, text, len, NULL, root);
}

int
doc_parse_json_skip(struct arena *a, const char *text, size_t len, const char *skip,
		    struct dnode **root)
{
	struct jp j = {.a = a, .p = text, .end = text + len, .line_start = text, .line = 1, .bad = 0,
		       .skip = skip};
	struct buf tmp = {0};
	*root = jp_value(&j, &tmp, 0);
	buf_free(&tmp);
	jp_ws(&j);
	if (j.bad || !*root || j.p != j.end) {
		*root = NULL;
		return -1;
	}
	return 0;
}
