/* udiff: a unified diff of two texts, line by line, with three lines of
 * context, as `diff -u` writes its hunks. The lines both texts begin and
 * end with are taken off first; what is left is compared by longest common
 * subsequence when it is small (objects and rendered files are), else
 * shown as replaced whole: a correct diff, if not the shortest. */
#include <stdlib.h>
#include <string.h>
#include "lib.h"

#define CONTEXT 3
#define MAX_CELLS (4u << 20) /* 16 MiB of table at most */

struct line {
	const char *s;
	size_t n; /* with its newline, when it has one */
};

static size_t
split(const char *t, struct line **out)
{
	size_t n = 0, cap = 16;
	struct line *v = xcalloc(cap, sizeof(*v));
	while (t && *t) {
		const char *nl = strchr(t, '\n');
		size_t len = nl ? (size_t)(nl - t) + 1 : strlen(t);
		if (n == cap)
			v = xrealloc(v, (cap *= 2) * sizeof(*v));
		v[n++] = (struct line){t, len};
		t += len;
	}
	*out = v;
	return n;
}

static int
same(const struct line *a, const struct line *b)
{
	return a->n == b->n && memcmp(a->s, b->s, a->n) == 0;
}

/* the edit script: ' ' both, '-' a only, '+' b only; with the line */
struct op {
	char tag;
	const struct line *l;
};

/* the middle a[0..m) against b[0..n), appended to ops */
static void
middle(const struct line *a, size_t m, const struct line *b, size_t n, struct op *ops, size_t *k)
{
	if ((size_t)(m + 1) * (n + 1) > MAX_CELLS) {
		for (size_t i = 0; i < m; i++)
			ops[(*k)++] = (struct op){'-', &a[i]};
		for (size_t j = 0; j < n; j++)
			ops[(*k)++] = (struct op){'+', &b[j]};
		return;
	}
	/* L[i][j]: the longest common subsequence of a[i..) and b[j..) */
	unsigned *L = xcalloc((m + 1) * (n + 1), sizeof(*L));
#define AT(i, j) L[(i) * (n + 1) + (j)]
	for (size_t i = m; i-- > 0;)
		for (size_t j = n; j-- > 0;)
			AT(i, j) = same(&a[i], &b[j]) ? AT(i + 1, j + 1) + 1
				 : AT(i + 1, j) >= AT(i, j + 1) ? AT(i + 1, j) : AT(i, j + 1);
	size_t i = 0, j = 0;
	while (i < m || j < n) {
		if (i < m && j < n && same(&a[i], &b[j])) {
			ops[(*k)++] = (struct op){' ', &a[i]};
			i++, j++;
		} else if (j == n || (i < m && AT(i + 1, j) >= AT(i, j + 1))) {
			ops[(*k)++] = (struct op){'-', &a[i++]};
		} else {
			ops[(*k)++] = (struct op){'+', &b[j++]};
		}
	}
#undef AT
	free(L);
}

static void
range(struct buf *out, size_t start, size_t len)
{
	/* diff -u: an empty range names the line before it */
	if (len == 1)
		buf_printf(out, "%zu", start);
	else
		buf_printf(out, "%zu,%zu", len ? start : start - 1, len);
}

static void
hunk(struct buf *out, const struct op *ops, size_t from, size_t to, size_t aline, size_t bline,
     int color)
{
	size_t na = 0, nb = 0;
	for (size_t i = from; i < to; i++) {
		na += ops[i].tag != '+';
		nb += ops[i].tag != '-';
	}
	buf_adds(out, color ? "\033[36m@@ -" : "@@ -");
	range(out, aline, na);
	buf_adds(out, " +");
	range(out, bline, nb);
	buf_adds(out, color ? " @@\033[0m\n" : " @@\n");
	for (size_t i = from; i < to; i++) {
		const struct line *l = ops[i].l;
		int nl = l->n && l->s[l->n - 1] == '\n';
		if (color && ops[i].tag != ' ')
			buf_adds(out, ops[i].tag == '-' ? "\033[31m" : "\033[32m");
		buf_addc(out, ops[i].tag);
		buf_add(out, l->s, l->n - (size_t)nl);
		if (color && ops[i].tag != ' ')
			buf_adds(out, "\033[0m");
		buf_addc(out, '\n');
		if (!nl)
			buf_adds(out, "\\ No newline at end of file\n");
	}
}

int
udiff(struct buf *out, const char *a, const char *b, int color)
{
	struct line *la, *lb;
	size_t na = split(a, &la), nb = split(b, &lb);
	size_t p = 0, s = 0;
	while (p < na && p < nb && same(&la[p], &lb[p]))
		p++;
	while (s < na - p && s < nb - p && same(&la[na - 1 - s], &lb[nb - 1 - s]))
		s++;
	int differ = p != na || p != nb;
	if (differ) {
		struct op *ops = xcalloc(na + nb + 1, sizeof(*ops));
		size_t k = 0;
		for (size_t i = 0; i < p; i++)
			ops[k++] = (struct op){' ', &la[i]};
		middle(la + p, na - p - s, lb + p, nb - p - s, ops, &k);
		for (size_t i = na - s; i < na; i++)
			ops[k++] = (struct op){' ', &la[i]};
		/* hunks: changes less than 2 * CONTEXT lines apart share one */
		size_t aline = 1, bline = 1, i = 0;
		while (i < k) {
			size_t first = i;
			while (first < k && ops[first].tag == ' ')
				first++;
			if (first == k)
				break;
			size_t from = first > CONTEXT ? first - CONTEXT : 0;
			if (from < i)
				from = i;
			for (size_t j = i; j < from; j++)
				aline += ops[j].tag != '+', bline += ops[j].tag != '-';
			size_t last = first, j = first;
			while (j < k) {
				if (ops[j].tag != ' ')
					last = j;
				else if (j - last > 2 * CONTEXT)
					break;
				j++;
			}
			size_t to = last + 1 + CONTEXT < k ? last + 1 + CONTEXT : k;
			hunk(out, ops, from, to, aline, bline, color);
			for (size_t q = from; q < to; q++)
				aline += ops[q].tag != '+', bline += ops[q].tag != '-';
			i = to;
		}
		free(ops);
	}
	free(la);
	free(lb);
	return differ;
}
