/* render_name: the file a layer renders to, DIR/<key>_<profile>+<layer>.yaml.
 * Two layers never share a name: the key is a function of the install order
 * alone and has a fixed width, and the profile and layer names are escaped
 * injectively (every byte but [A-Za-z0-9._-] as %XX, the separator '+'
 * included), so "team_a" + "ingress" and "team" + "a_ingress" stay apart,
 * and so do "café" and "cafè". The key sorts in install order under ls(1), sort(1) and kubectl
 * apply -f DIR, in any locale, and never starts with '-': 'n' for a
 * negative order, 'p' for the others, then five digits — the order itself
 * (p00010 is 10), or 100000 plus it (n99975 is -25), so that -31 sorts
 * before -25. */
#include <string.h>
#include <xxhash.h>
#include "load.h"

/* NAME_MAX of every file system addonmake writes to */
#define NAME_LIMIT 255

static void
escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		int keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_';
		if (keep)
			buf_addc(b, (char)c);
		else
			buf_printf(b, "%%%02X", c);
	}
}

void
render_name(struct buf *out, int64_t order, const char *profile, const char *name)
{
	struct buf b = {0};
	if (order < 0)
		buf_printf(&b, "n%05lld_", (long long)(ORDER_LIMIT + 1 + order));
	else
		buf_printf(&b, "p%05lld_", (long long)order);
	escaped(&b, profile);
	buf_addc(&b, '+');
	escaped(&b, name);
	if (b.len + 5 > NAME_LIMIT) {
		/* too long for a file name: cut, and a hash of what was cut
		 * keeps it apart ('~' is never part of an escaped name) */
		struct buf id = {0};
		buf_printf(&id, "%s/%s", profile, name);
		b.len = NAME_LIMIT - 5 - 17;
		b.s[b.len] = 0;
		buf_printf(&b, "~%016llx", (unsigned long long)XXH3_64bits(id.s, id.len));
		buf_free(&id);
	}
	buf_adds(&b, ".yaml");
	buf_add(out, b.s, b.len);
	buf_free(&b);
}

/* ASCII case folded: the name a case-insensitive file system sees */
static char *
folded(struct arena *a, const char *s)
{
	char *f = arena_strdup(a, s);
	for (char *p = f; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return f;
}

int
render_names_check(const struct cluster *c, struct diag *d)
{
	struct arena a = {0};
	struct strset seen = {0};
	int nerr = d->nerr;
	for (size_t i = 0; i < c->nlayers; i++) {
		const struct layer *l = c->layers[i];
		struct buf b = {0};
		render_name(&b, l->order, l->profile, l->name);
		int added;
		void **slot = strset_slot(&seen, folded(&a, b.s), &added);
		if (added) {
			*slot = (void *)l;
		} else {
			const struct layer *o = *slot;
			diag_add(d, DIAG_ERROR, l->at.file, l->at.line, l->at.col,
				 "layers %s and %s (%s:%d:%d) would render to files whose names differ "
				 "only in case (%s), which a checkout on macOS or Windows keeps one of; "
				 "give one a pack.spectrocloud.com/display-name", o->id, l->id,
				 o->at.file, o->at.line, o->at.col, b.s);
		}
		buf_free(&b);
	}
	strset_free(&seen);
	arena_free(&a);
	return d->nerr > nerr ? -1 : 0;
}
