/* set: a set of strings (open addressing, FNV-1a). The strings are not
 * copied: they must outlive the set. */
#include <stdlib.h>
#include <string.h>
#include "lib.h"

static uint64_t
fnv(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static void
grow(struct strset *st)
{
	size_t cap = st->cap ? st->cap * 2 : 64;
	const char **k = xcalloc(cap, sizeof(*k));
	void **v = xcalloc(cap, sizeof(*v));
	for (size_t i = 0; i < st->cap; i++) {
		if (!st->keys[i])
			continue;
		size_t j = fnv(st->keys[i]) & (cap - 1);
		while (k[j])
			j = (j + 1) & (cap - 1);
		k[j] = st->keys[i];
		v[j] = st->vals[i];
	}
	free(st->keys);
	free(st->vals);
	st->keys = k;
	st->vals = v;
	st->cap = cap;
}

void **
strset_slot(struct strset *st, const char *key, int *added)
{
	if ((st->n + 1) * 2 > st->cap)
		grow(st);
	size_t j = fnv(key) & (st->cap - 1);
	while (st->keys[j]) {
		if (strcmp(st->keys[j], key) == 0) {
			*added = 0;
			return &st->vals[j];
		}
		j = (j + 1) & (st->cap - 1);
	}
	st->keys[j] = key;
	st->n++;
	*added = 1;
	return &st->vals[j];
}

void *
strset_get(const struct strset *st, const char *key)
{
	if (!st->cap)
		return NULL;
	size_t j = fnv(key) & (st->cap - 1);
	while (st->keys[j]) {
		if (strcmp(st->keys[j], key) == 0)
			return st->vals[j];
		j = (j + 1) & (st->cap - 1);
	}
	return NULL;
}

void
strset_free(struct strset *st)
{
	free(st->keys);
	free(st->vals);
	memset(st, 0, sizeof(*st));
}

void
buf_redact(struct buf *b, const struct strset *secret)
{
	if (!secret || !secret->n || !b->s)
		return;
	/* one pass over the original text, the longest secret first where
	 * several start at one place: a replacement is never searched again */
	struct buf o = {0};
	int hit = 0;
	for (const char *p = b->s; *p;) {
		size_t best = 0;
		for (size_t i = 0; i < secret->cap; i++) {
			const char *k = secret->keys[i];
			size_t kl = k ? strlen(k) : 0;
			if (kl >= 4 && kl > best && strncmp(p, k, kl) == 0)
				best = kl;
		}
		if (best) {
			buf_adds(&o, "(sensitive)");
			p += best;
			hit = 1;
		} else {
			buf_addc(&o, *p++);
		}
	}
	if (hit) {
		buf_free(b);
		*b = o;
	} else {
		buf_free(&o);
	}
}
