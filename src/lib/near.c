/* near: for a name nobody defined, the defined one it was probably meant
 * to be (the smallest edit distance, a few edits at most) and the list of
 * those defined, for messages. */
#include <stdlib.h>
#include <string.h>
#include "lib.h"

/* Levenshtein distance, adjacent swaps counting one (a typo's usual
 * shapes), capped: anything above cap is cap + 1 */
static size_t
distance(const char *a, const char *b, size_t cap)
{
	size_t n = strlen(a), m = strlen(b);
	if ((n > m ? n - m : m - n) > cap)
		return cap + 1;
	size_t *prev2 = xcalloc(m + 1, sizeof(size_t)), *prev = xcalloc(m + 1, sizeof(size_t));
	size_t *cur = xcalloc(m + 1, sizeof(size_t));
	for (size_t j = 0; j <= m; j++)
		prev[j] = j;
	for (size_t i = 1; i <= n; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= m; j++) {
			size_t d = prev[j - 1] + (a[i - 1] != b[j - 1]);
			if (prev[j] + 1 < d)
				d = prev[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    prev2[j - 2] + 1 < d)
				d = prev2[j - 2] + 1;
			cur[j] = d;
		}
		size_t *t = prev2;
		prev2 = prev;
		prev = cur;
		cur = t;
	}
	size_t d = prev[m];
	free(prev2);
	free(prev);
	free(cur);
	return d > cap ? cap + 1 : d;
}

const char *
near_word(const char *word, const char *const *known, size_t n)
{
	/* a third of the word, at least one edit and at most three */
	size_t cap = strlen(word) / 3;
	cap = cap < 1 ? 1 : cap > 3 ? 3 : cap;
	const char *best = NULL;
	size_t bd = cap + 1;
	for (size_t i = 0; i < n; i++) {
		size_t d = distance(word, known[i], cap);
		if (d < bd) {
			bd = d;
			best = known[i];
		}
	}
	return best;
}

void
near_hint(struct buf *out, const char *word, const char *const *known, size_t n,
	  const char *what)
{
	const char *best = near_word(word, known, n);
	if (best)
		buf_printf(out, "; did you mean %s?", best);
	if (!n) {
		buf_printf(out, " (there are no %s)", what);
		return;
	}
	if (n > 12) {
		buf_printf(out, " (%zu %s)", n, what);
		return;
	}
	buf_printf(out, " (%s: ", what);
	for (size_t i = 0; i < n; i++)
		buf_printf(out, "%s%s", i ? ", " : "", known[i]);
	buf_addc(out, ')');
}
