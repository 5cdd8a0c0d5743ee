/* semver: versions and the constraints Helm users write (1.2.3, >=1.2 <2,
 * ~1.2, ^1.2.3, 1.x, *, a || b), enough to pick the newest chart version a
 * layer asks for. Pre-releases match only an exact version. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "fetch.h"

#define SV_MAX 1000000000L

struct sv {
	long n[3];
	int given;       /* how many of n were written (for 1.x, ~1.2) */
	const char *pre; /* after '-', up to '+'; "" when none */
	size_t npre;
};

static int
sv_parse(const char *s, struct sv *v)
{
	memset(v, 0, sizeof(*v));
	v->pre = "";
	if (*s == 'v' || *s == 'V')
		s++;
	for (int i = 0; i < 3; i++) {
		if (*s == 'x' || *s == 'X' || *s == '*') {
			s++;
			break;
		}
		if (!isdigit((unsigned char)*s))
			return i ? 0 : -1;
		v->n[i] = strtol(s, (char **)&s, 10);
		if (v->n[i] > SV_MAX || v->n[i] < 0)
			return -1; /* no version has such numbers; ^N would overflow */
		v->given = i + 1;
		if (*s != '.')
			break;
		s++;
	}
	if (*s == '-') {
		v->pre = ++s;
		while (*s && *s != '+' && !isspace((unsigned char)*s))
			s++;
		v->npre = (size_t)(s - v->pre);
	}
	if (*s == '+')
		while (*s && !isspace((unsigned char)*s))
			s++;
	return *s ? -1 : 0;
}

static int
sv_cmp(const struct sv *a, const struct sv *b)
{
	for (int i = 0; i < 3; i++)
		if (a->n[i] != b->n[i])
			return a->n[i] < b->n[i] ? -1 : 1;
	if (!a->npre || !b->npre)
		return a->npre ? -1 : b->npre ? 1 : 0;
	size_t n = a->npre < b->npre ? a->npre : b->npre;
	int c = memcmp(a->pre, b->pre, n);
	return c ? c : a->npre < b->npre ? -1 : a->npre > b->npre;
}

int
semver_cmp(const char *a, const char *b)
{
	struct sv x, y;
	if (sv_parse(a, &x) || sv_parse(b, &y))
		return strcmp(a, b);
	return sv_cmp(&x, &y);
}

/* one term: ">=1.2", "~1.2", "^1", "1.x", "1.2.3" */
static int
term_ok(const char *t, const struct sv *v)
{
	char op[3] = "";
	size_t k = 0;
	while (k < 2 && strchr("<>=!~^", t[k]))
		op[k] = t[k], k++;
	op[k] = 0;
	struct sv c;
	if (sv_parse(t + k, &c))
		return -1;
	struct sv hi = c;
	int d = sv_cmp(v, &c);
	if (!strcmp(op, ">"))
		return d > 0;
	if (!strcmp(op, ">="))
		return d >= 0;
	if (!strcmp(op, "<"))
		return d < 0;
	if (!strcmp(op, "<="))
		return d <= 0;
	if (!strcmp(op, "!="))
		return d != 0;
	if (!strcmp(op, "~") || !strcmp(op, "^") || (!op[0] || !strcmp(op, "=")) ) {
		if ((!op[0] || !strcmp(op, "=")) && c.given == 3)
			return d == 0;
		/* a range [c, hi) */
		memset(hi.n, 0, sizeof(hi.n));
		hi.pre = "";
		hi.npre = 0;
		if (!strcmp(op, "^")) {
			int first = c.n[0] ? 0 : c.n[1] || c.given < 3 ? 1 : 2;
			if (c.given <= first)
				first = c.given ? c.given - 1 : 0;
			for (int i = 0; i < first; i++)
				hi.n[i] = c.n[i];
			hi.n[first] = c.n[first] + 1;
		} else {
			/* ~1.2.3 and 1.2.x: bump the last given but one (at least major) */
			int last = c.given >= 2 ? 1 : 0;
			if (!op[0] || !strcmp(op, "="))
				last = c.given ? c.given - 1 : -1;
			if (last < 0)
				return 1; /* "*" */
			for (int i = 0; i < last; i++)
				hi.n[i] = c.n[i];
			hi.n[last] = c.n[last] + 1;
		}
		return d >= 0 && sv_cmp(v, &hi) < 0;
	}
	return -1;
}

int
semver_match(const char *constraint, const char *version)
{
	struct sv v;
	if (sv_parse(version, &v))
		return 0;
	if (v.npre)
		return 0; /* pre-releases only by exact version */
	const char *s = constraint;
	for (;;) {
		/* one || alternative: every term must hold */
		const char *alt_end = strstr(s, "||");
		size_t len = alt_end ? (size_t)(alt_end - s) : strlen(s);
		char *alt = xstrndup(s, len);
		int ok = 1, any = 0;
		char *save = NULL;
		for (char *t = strtok_r(alt, " ,", &save); t; t = strtok_r(NULL, " ,", &save)) {
			/* ">= 1.2": an operator alone joins the next word */
			char buf[128];
			if (strspn(t, "<>=!~^") == strlen(t)) {
				char *nx = strtok_r(NULL, " ,", &save);
				snprintf(buf, sizeof(buf), "%s%s", t, nx ? nx : "");
				t = buf;
			}
			int r = !strcmp(t, "*") ? 1 : term_ok(t, &v);
			if (r < 0) {
				free(alt);
				return -1;
			}
			ok &= r;
			any = 1;
		}
		free(alt);
		if (any && ok)
			return 1;
		if (!alt_end)
			return 0;
		s = alt_end + 2;
	}
}

int
semver_pick(const char *const *versions, size_t n, const char *want, int *bad_constraint)
{
	int best = -1;
	*bad_constraint = 0;
	for (size_t i = 0; i < n; i++)
		if (versions[i] && strcmp(versions[i], want) == 0)
			return (int)i;
	for (size_t i = 0; i < n; i++) {
		if (!versions[i])
			continue;
		int m = semver_match(want, versions[i]);
		if (m < 0) {
			*bad_constraint = 1;
			return -1;
		}
		if (m && (best < 0 || semver_cmp(versions[i], versions[best]) > 0))
			best = (int)i;
	}
	return best;
}

int
semver_pinned(const char *v)
{
	int dots = 0;
	for (const char *s = v; *s; s++) {
		if (*s == '.')
			dots++;
		else if (!isdigit((unsigned char)*s) && *s != '-' && *s != '+' && !isalpha((unsigned char)*s))
			return 0;
	}
	return dots == 2 && isdigit((unsigned char)v[0]);
}
