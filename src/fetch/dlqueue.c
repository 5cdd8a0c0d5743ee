/* dlqueue: the downloads of a compile, made at once. Compiling a cluster
 * is a first pass in which a chart, blob or pack archive missing from the
 * download cache is queued instead of fetched; dl_run then fetches the
 * whole queue in parallel and the cluster is compiled again, finding
 * everything in the cache (DESIGN §3). What a run fetched or failed to
 * fetch is remembered by URL, so the second pass asks no server again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fetch.h"

struct dl_item {
	struct fetch f;
	const char *want, *what, *by;
};

/* this run's outcome for a URL: the SHA-256 of what is in the download
 * cache, or why there is nothing */
struct dl_memo {
	const char *hex, *err;
};

const char *
dl_memo_get(struct fetcher *fx, const char *url, const char **err)
{
	struct dl_memo *m = strset_get(&fx->memo, url);
	*err = m ? m->err : NULL;
	return m ? m->hex : NULL;
}

void
dl_memo_put(struct fetcher *fx, const char *url, const char *hex, const char *err)
{
	int added;
	const char *key = arena_strdup(fx->a, url);
	void **slot = strset_slot(&fx->memo, key, &added);
	struct dl_memo *m = arena_alloc(fx->a, sizeof(*m));
	m->hex = hex ? arena_strdup(fx->a, hex) : NULL;
	m->err = err ? arena_strdup(fx->a, err) : NULL;
	*slot = m;
}

/* an answer → the download cache, checked against want; 0 with hex */
static int
store(struct fetcher *fx, const struct dl_item *it, int rc, struct fetched *got,
      struct buf *err, char hex[65])
{
	char *shown = url_shown(it->f.url);
	if (rc == 0 && got->code != 200)
		buf_printf(err, "GET %s: HTTP %ld%s", shown, got->code,
			   got->code == 401 || got->code == 403 ? " (check the registry's credentials)"
			   : got->code == 404 ? " (not found)" : "");
	if (rc == 0 && got->code == 200) {
		sha256_hex(got->body.s, got->body.len, hex);
		if (it->want && strcmp(hex, it->want) != 0)
			buf_printf(err, "GET %s: the %s's SHA-256 is %s, but the %s says %s; "
				   "nothing was cached", shown, it->what, hex, it->by, it->want);
		else if (dl_put(fx, hex, got->body.s, got->body.len))
			buf_printf(err, "cannot write the download cache under %s", fx->state);
		else
			rc = 1;
	}
	free(shown);
	dl_memo_put(fx, it->f.url, rc == 1 ? hex : NULL, rc == 1 ? NULL : err->s);
	return rc == 1 ? 0 : -1;
}

int
dl_fetch(struct fetcher *fx, const struct fetch *f, const char *want, const char *what,
	 const char *by, char hex[65], struct buf *err)
{
	const char *merr;
	const char *mhex = dl_memo_get(fx, f->url, &merr);
	if (mhex || merr) {
		if (merr) {
			buf_adds(err, merr);
			return -1;
		}
		snprintf(hex, 65, "%s", mhex);
		return 0;
	}
	if (fx->offline) {
		char *shown = url_shown(f->url);
		buf_printf(err, "--offline, and %s is not in the download cache", shown);
		free(shown);
		return -1;
	}
	struct dl_item it = {.f = *f, .want = want, .what = what, .by = by};
	if (fx->defer) {
		struct arena *a = fx->a;
		it.f.url = arena_strdup(a, f->url);
		it.f.accept = f->accept ? arena_strdup(a, f->accept) : NULL;
		it.f.bearer = f->bearer ? arena_strdup(a, f->bearer) : NULL;
		it.f.etag = NULL;
		it.want = want ? arena_strdup(a, want) : NULL;
		if (fx->nqueue == fx->capqueue) {
			fx->capqueue = fx->capqueue ? 2 * fx->capqueue : 8;
			fx->queue = xrealloc(fx->queue, fx->capqueue * sizeof(*fx->queue));
		}
		fx->queue[fx->nqueue++] = it;
		return 1;
	}
	struct fetched got;
	int rc = fetch_url(f, &got, err);
	rc = store(fx, &it, rc, &got, err, hex);
	fetched_free(&got);
	return rc;
}

int
dl_run(struct fetcher *fx, const char *who)
{
	size_t n = fx->nqueue;
	if (!n)
		return 0;
	/* a URL queued twice (two layers, one chart) is fetched once */
	struct fetch *fs = xcalloc(n, sizeof(*fs));
	struct dl_item **its = xcalloc(n, sizeof(*its));
	struct strset seen = {0};
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		int added;
		strset_slot(&seen, fx->queue[i].f.url, &added);
		if (added) {
			its[k] = &fx->queue[i];
			fs[k++] = fx->queue[i].f;
		}
	}
	strset_free(&seen);
	if (who) /* a progress line: large charts take a while */
		fprintf(stderr, "addonmake: %s: downloading %zu archive%s\n", who, k, k == 1 ? "" : "s");
	struct fetched *got = xcalloc(k, sizeof(*got));
	struct buf *errs = xcalloc(k, sizeof(*errs));
	fetch_all(fs, got, errs, k);
	int failed = 0;
	for (size_t i = 0; i < k; i++) {
		char hex[65];
		int rc = errs[i].len ? -1 : 0;
		if (store(fx, its[i], rc, &got[i], &errs[i], hex))
			failed++;
		fetched_free(&got[i]);
		buf_free(&errs[i]);
	}
	free(got);
	free(errs);
	free(its);
	free(fs);
	fx->nqueue = 0;
	return failed;
}

void
fetcher_free(struct fetcher *fx)
{
	free(fx->fetched);
	free(fx->queue);
	strset_free(&fx->memo);
	*fx = (struct fetcher){.a = fx->a, .state = fx->state};
}
