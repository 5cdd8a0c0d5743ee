/* subst: Palette's {{.spectro.*}} placeholders, replaced on the text of
 * values and manifests before they are parsed. Placeholders that are not
 * .spectro.* (a Grafana dashboard's {{ $labels }}) are left as written. An
 * unknown name is an error at its position, never an empty string. */
#include <ctype.h>
#include <string.h>
#include "load.h"

struct pipe {
	int has_default;
	const char *def;
	size_t ndef;
};

static const struct dnode *
profile_var(const struct dnode *vars, const char *name)
{
	for (size_t i = 0; vars && vars->kind == D_SEQ && i < vars->n; i++) {
		const char *n = doc_str(doc_get(vars->items[i], "name"));
		if (n && strcmp(n, name) == 0)
			return vars->items[i];
	}
	return NULL;
}

/* the message for a variable neither the profile nor the cluster has,
 * with the nearest known one */
static const char *
unknown_var(struct arena *tmp, const struct subst_ctx *c, const char *name)
{
	const struct dnode *pv = c->profile_vars, *cv = c->vars;
	size_t np = pv && pv->kind == D_SEQ ? pv->n : 0, nc = cv && cv->kind == D_MAP ? cv->n : 0;
	const char **known = arena_alloc(tmp, (np + nc + 1) * sizeof(*known));
	size_t n = 0;
	for (size_t i = 0; i < np; i++)
		if (doc_str(doc_get(pv->items[i], "name")))
			known[n++] = doc_str(doc_get(pv->items[i], "name"));
	for (size_t i = 0; i < nc; i++)
		if (doc_str(cv->items[2 * i]) && !profile_var(pv, cv->items[2 * i]->s))
			known[n++] = cv->items[2 * i]->s;
	struct buf b = {0};
	buf_printf(&b, "unknown variable \"%s\"", name);
	near_hint(&b, name, known, n, "variables");
	buf_adds(&b, ": declare it in the profile's spec.variables or set it under the "
		     "cluster's variables:");
	const char *s = arena_strdup(tmp, b.s);
	buf_free(&b);
	return s;
}

static int
truthy(const struct dnode *n)
{
	const char *s = doc_str(n);
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0);
}

/* resolves a name; returns the value (or NULL with *why set) */
static const char *
lookup(const struct subst_ctx *c, const char *expr, const char **why,
       struct arena *tmp)
{
	const char *p = expr + strlen(".spectro.");
	if (strncmp(p, "var.", 4) == 0) {
		const char *name = p + 4;
		const char *v = doc_str(doc_get(c->vars, name));
		const struct dnode *pv = profile_var(c->profile_vars, name);
		if (!v && !pv) {
			*why = unknown_var(tmp, c, name);
			return NULL;
		}
		if (!v) {
			const char *def = doc_str(doc_get(pv, "defaultValue"));
			if (def && *def) {
				v = def;
			} else if (truthy(doc_get(pv, "required"))) {
				*why = arena_printf(tmp, "variable \"%s\" is required and has no "
						    "default: set it under the cluster's variables:", name);
				return NULL;
			} else {
				v = "";
			}
		}
		/* Palette masks it; addonmake never prints it (diag, events) */
		if (c->secret && *v && truthy(doc_get(pv, "isSensitive")) &&
		    !strset_get(c->secret, v)) {
			int added;
			*strset_slot(c->secret, arena_strdup(c->secret_a, v), &added) = c->secret;
		}
		return v;
	}
	if (strncmp(p, "macro.", 6) == 0) {
		const char *v = doc_str(doc_get(c->macros, p + 6));
		if (v)
			return v;
		*why = arena_printf(tmp, "unknown macro \"%s\": set it under the cluster's macros:",
				    p + 6);
		return NULL;
	}
	if (strncmp(p, "system.", 7) == 0) {
		const char *s = p + 7;
		if (strcmp(s, "cluster.name") == 0)
			return c->cluster;
		if (strcmp(s, "clusterprofile.name") == 0)
			return c->profile;
		if (strcmp(s, "clusterprofile.version") == 0)
			return c->profile_version;
		const char *v = doc_str(doc_get(c->macros, s));
		if (v)
			return v;
		*why = arena_printf(tmp, "unknown system macro \"%s\": addonmake knows "
				    "cluster.name, clusterprofile.name and clusterprofile.version; "
				    "set others under the cluster's macros:", s);
		return NULL;
	}
	if (strncmp(p, "pack.", 5) == 0) {
		const char *rest = p + 5, *dot = strchr(rest, '.');
		if (!dot) {
			*why = arena_printf(tmp, "\"%s\" needs a value path: "
					    "{{.spectro.pack.PACK.path.to.value}}", expr);
			return NULL;
		}
		char *pack = arena_strndup(tmp, rest, (size_t)(dot - rest));
		struct dnode *vals = c->pack_values ? c->pack_values(c->pack_ctx, pack) : NULL;
		if (!vals) {
			*why = arena_printf(tmp, "unknown pack \"%s\" in %s: no layer of this "
					    "cluster has that name", pack, expr);
			return NULL;
		}
		const char *v = doc_str(doc_path(vals, dot + 1));
		if (!v) {
			*why = arena_printf(tmp, "pack \"%s\" has no scalar value at \"%s\"",
					    pack, dot + 1);
			return NULL;
		}
		return v;
	}
	*why = arena_printf(tmp, "unknown placeholder \"%s\": use .spectro.var, "
			    ".spectro.macro, .spectro.system or .spectro.pack", expr);
	return NULL;
}

static void
quote(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			buf_addc(b, '\\');
		if (*s == '\n') {
			buf_adds(b, "\\n");
			continue;
		}
		buf_addc(b, *s);
	}
	buf_addc(b, '"');
}

/* applies the pipeline after the name; -1 with *why on a refused stage */
static int
pipeline(const char *s, const char *val, struct buf *out, const char **why,
	 struct arena *tmp)
{
	struct buf v = {0};
	buf_adds(&v, val ? val : "");
	int missing = val == NULL;
	while (*s) {
		while (isspace((unsigned char)*s))
			s++;
		if (*s != '|')
			break;
		s++;
		while (isspace((unsigned char)*s))
			s++;
		const char *fn = s;
		while (*s && !isspace((unsigned char)*s) && *s != '|')
			s++;
		size_t fl = (size_t)(s - fn);
		while (isspace((unsigned char)*s))
			s++;
		if (fl == 7 && strncmp(fn, "default", 7) == 0) {
			if (*s != '"') {
				*why = "default needs a quoted argument: | default \"x\"";
				goto fail;
			}
			const char *q = strchr(s + 1, '"');
			if (!q) {
				*why = "unterminated string after default";
				goto fail;
			}
			if (missing || v.len == 0) {
				buf_clear(&v);
				buf_add(&v, s + 1, (size_t)(q - s - 1));
				missing = 0;
			}
			s = q + 1;
		} else if ((fl == 5 && strncmp(fn, "upper", 5) == 0) ||
			   (fl == 5 && strncmp(fn, "lower", 5) == 0)) {
			for (size_t i = 0; i < v.len; i++)
				v.s[i] = (char)(fn[0] == 'u' ? toupper((unsigned char)v.s[i])
							     : tolower((unsigned char)v.s[i]));
		} else if (fl == 5 && strncmp(fn, "quote", 5) == 0) {
			struct buf q = {0};
			quote(&q, v.s ? v.s : "");
			buf_free(&v);
			v = q;
		} else {
			*why = arena_printf(tmp, "the pipeline function \"%.*s\" is not supported "
					    "(addonmake knows default \"x\", upper, lower, quote)",
					    (int)fl, fn);
			goto fail;
		}
	}
	if (*s) {
		*why = "unexpected text after the placeholder's name";
		goto fail;
	}
	if (missing) {
		buf_free(&v);
		return 1;
	}
	buf_add(out, v.s ? v.s : "", v.len);
	buf_free(&v);
	return 0;
fail:
	buf_free(&v);
	return -1;
}

int
subst_text(const struct subst_ctx *c, const char *text, size_t len,
	   const struct dorigin *o, struct buf *out, struct diag *d)
{
	struct arena tmp = {0};
	int line = 1, col = 1, rc = 0;
	const char *end = text + len;
	buf_add(out, "", 0);
	for (const char *p = text; p < end;) {
		p = text_copy_plain(p, end, out, &line, &col);
		if (p >= end)
			break;
		const char *close = NULL;
		for (const char *c2 = p + 2; c2 + 1 < end; c2++)
			if (c2[0] == '}' && c2[1] == '}') {
				close = c2;
				break;
			}
		const char *s = p + 2;
		while (s < (close ? close : end) && isspace((unsigned char)*s))
			s++;
		if (close && (size_t)(close - s) >= 9 && strncmp(s, ".spectro.", 9) == 0) {
			const char *e = s;
			while (e < close && !isspace((unsigned char)*e) && *e != '|')
				e++;
			char *name = arena_strndup(&tmp, s, (size_t)(e - s));
			char *rest = arena_strndup(&tmp, e, (size_t)(close - e));
			const char *why = NULL;
			const char *val = lookup(c, name, &why, &tmp);
			int pr = pipeline(rest, val, out, &why, &tmp);
			if (pr) {
				int fl, fc;
				dorigin_map(o, line, col, &fl, &fc);
				if (pr > 0 && !why)
					why = "unknown name";
				diag_add(d, DIAG_ERROR, o->file, fl, fc, "%s", why);
				rc = -1;
			}
			col += (int)(close + 2 - p);
			p = close + 2;
			continue;
		}
		/* not ours: keep the braces and go on after them */
		buf_add(out, p, 2);
		col += 2;
		p += 2;
	}
	arena_free(&tmp);
	return rc;
}
