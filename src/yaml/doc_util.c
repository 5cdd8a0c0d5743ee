/* doc_util: lookups, construction, merging, YAML emission and comparison of trees. */
#include <string.h>
#include <yaml.h>
#include "doc.h"

struct dnode *
doc_get(const struct dnode *m, const char *key)
{
	if (!m || m->kind != D_MAP)
		return NULL;
	size_t kl = strlen(key);
	/* the last occurrence wins, as in most YAML loaders */
	for (size_t i = m->n; i-- > 0;) {
		const struct dnode *k = m->items[2 * i];
		if (k->kind == D_SCALAR && k->len == kl && memcmp(k->s, key, kl) == 0)
			return m->items[2 * i + 1];
	}
	return NULL;
}

const char *
doc_str(const struct dnode *n)
{
	return n && n->kind == D_SCALAR ? n->s : NULL;
}

int
doc_is_null(const struct dnode *n)
{
	if (!n)
		return 1;
	if (n->kind != D_SCALAR || n->style != DS_PLAIN)
		return 0;
	return n->len == 0 || strcmp(n->s, "~") == 0 || strcmp(n->s, "null") == 0 ||
	       strcmp(n->s, "Null") == 0 || strcmp(n->s, "NULL") == 0;
}

struct dnode *
doc_new(struct arena *a, int kind, size_t n)
{
	struct dnode *d = arena_alloc(a, sizeof(*d));
	d->kind = (unsigned char)kind;
	d->n = n;
	size_t slots = kind == D_MAP ? 2 * n : n;
	d->items = arena_alloc(a, (slots ? slots : 1) * sizeof(*d->items));
	return d;
}

struct dnode *
doc_scalar(struct arena *a, const char *s, int style)
{
	struct dnode *d = arena_alloc(a, sizeof(*d));
	d->kind = D_SCALAR;
	d->style = (unsigned char)style;
	d->len = strlen(s);
	d->s = arena_strndup(a, s, d->len);
	return d;
}

struct dnode *
doc_merge(struct arena *a, struct dnode *base, struct dnode *over)
{
	if (!over || doc_is_null(over))
		return base;
	if (!base || base->kind != D_MAP || over->kind != D_MAP)
		return over;
	struct dnode *m = doc_new(a, D_MAP, base->n + over->n);
	size_t n = 0;
	for (size_t i = 0; i < base->n; i++) {
		struct dnode *k = base->items[2 * i];
		struct dnode *v = base->items[2 * i + 1];
		if (k->kind == D_SCALAR) {
			struct dnode *ov = doc_get(over, k->s);
			if (ov)
				v = doc_merge(a, v, ov);
		}
		m->items[2 * n] = k;
		m->items[2 * n + 1] = v;
		n++;
	}
	for (size_t i = 0; i < over->n; i++) {
		struct dnode *k = over->items[2 * i];
		if (k->kind == D_SCALAR && doc_get(base, k->s))
			continue;
		m->items[2 * n] = k;
		m->items[2 * n + 1] = over->items[2 * i + 1];
		n++;
	}
	m->n = n;
	m->line = over->line;
	m->col = over->col;
	return m;
}

struct dnode *
doc_path(const struct dnode *root, const char *path)
{
	const struct dnode *n = root;
	char key[256];
	while (n && *path) {
		const char *dot = strchr(path, '.');
		size_t l = dot ? (size_t)(dot - path) : strlen(path);
		if (l >= sizeof(key))
			return NULL;
		memcpy(key, path, l);
		key[l] = 0;
		n = doc_get(n, key);
		path += l + (dot ? 1 : 0);
	}
	return (struct dnode *)n;
}

static int
emit_write(void *data, unsigned char *buffer, size_t size)
{
	buf_add(data, buffer, size);
	return 1;
}

static int
emit_node(yaml_emitter_t *e, const struct dnode *n, int depth)
{
	yaml_event_t ev;
	if (depth > 512)
		return 0;
	if (!n) { /* a value left out (a template's root without .Spectro) */
		yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)"null", 4, 1, 0,
					     YAML_PLAIN_SCALAR_STYLE);
		return yaml_emitter_emit(e, &ev);
	}
	switch (n->kind) {
	case D_SCALAR: {
		yaml_scalar_style_t st = YAML_PLAIN_SCALAR_STYLE;
		if (n->style == DS_QUOTED)
			st = memchr(n->s, '\n', n->len) ? YAML_LITERAL_SCALAR_STYLE
							: YAML_DOUBLE_QUOTED_SCALAR_STYLE;
		yaml_scalar_event_initialize(&ev, NULL, NULL,
					     (yaml_char_t *)n->s, (int)n->len,
					     n->style == DS_PLAIN, n->style != DS_PLAIN, st);
		return yaml_emitter_emit(e, &ev);
	}
	case D_SEQ:
		yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
						     YAML_BLOCK_SEQUENCE_STYLE);
		if (!yaml_emitter_emit(e, &ev))
			return 0;
		for (size_t i = 0; i < n->n; i++)
			if (!emit_node(e, n->items[i], depth + 1))
				return 0;
		yaml_sequence_end_event_initialize(&ev);
		return yaml_emitter_emit(e, &ev);
	default:
		yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
						    YAML_BLOCK_MAPPING_STYLE);
		if (!yaml_emitter_emit(e, &ev))
			return 0;
		for (size_t i = 0; i < 2 * n->n; i++)
			if (!emit_node(e, n->items[i], depth + 1))
				return 0;
		yaml_mapping_end_event_initialize(&ev);
		return yaml_emitter_emit(e, &ev);
	}
}

int
doc_emit(struct buf *out, const struct dnode *n)
{
	yaml_emitter_t e;
	yaml_event_t ev;
	int ok;
	yaml_emitter_initialize(&e);
	yaml_emitter_set_output(&e, emit_write, out);
	yaml_emitter_set_unicode(&e, 1);
	yaml_emitter_set_width(&e, -1);
	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	ok = yaml_emitter_emit(&e, &ev);
	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1);
	ok = ok && yaml_emitter_emit(&e, &ev);
	ok = ok && emit_node(&e, n, 0);
	yaml_document_end_event_initialize(&ev, 1);
	ok = ok && yaml_emitter_emit(&e, &ev);
	yaml_stream_end_event_initialize(&ev);
	ok = ok && yaml_emitter_emit(&e, &ev);
	ok = ok && yaml_emitter_flush(&e);
	yaml_emitter_delete(&e);
	return ok ? 0 : -1;
}

static int
scalar_eq(const struct dnode *a, const struct dnode *b)
{
	return a->len == b->len && a->style == b->style && memcmp(a->s, b->s, a->len) == 0;
}

static void
paths_walk(const struct dnode *a, const struct dnode *b, struct buf *path,
	   void (*fn)(void *u, const char *path), void *u)
{
	size_t at = path->len;
	if (!a || !b || a->kind != b->kind) {
		if (a || b)
			fn(u, path->s ? path->s : "");
		return;
	}
	if (a->kind == D_SCALAR) {
		if (!scalar_eq(a, b))
			fn(u, path->s ? path->s : "");
		return;
	}
	if (a->kind == D_SEQ) {
		size_t n = a->n > b->n ? a->n : b->n;
		for (size_t i = 0; i < n; i++) {
			buf_printf(path, "[%zu]", i);
			paths_walk(i < a->n ? a->items[i] : NULL, i < b->n ? b->items[i] : NULL, path, fn,
				   u);
			path->len = at;
			path->s[at] = 0;
		}
		return;
	}
	/* maps: a's keys in a's order, then the keys only b has */
	for (int side = 0; side < 2; side++) {
		const struct dnode *m = side ? b : a, *o = side ? a : b;
		for (size_t i = 0; i < m->n; i++) {
			const char *k = m->items[2 * i]->s;
			const struct dnode *ov = doc_get(o, k);
			if (side && ov)
				continue;
			buf_printf(path, "%s%s", at ? "." : "", k);
			paths_walk(side ? NULL : m->items[2 * i + 1], side ? m->items[2 * i + 1] : ov,
				   path, fn, u);
			path->len = at;
			if (path->s)
				path->s[at] = 0;
		}
	}
}

void
doc_diff_paths(const struct dnode *a, const struct dnode *b,
	       void (*fn)(void *u, const char *path), void *u)
{
	struct buf path = {0};
	buf_add(&path, "", 0);
	paths_walk(a, b, &path, fn, u);
	buf_free(&path);
}
