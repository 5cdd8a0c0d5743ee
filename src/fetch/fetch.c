/* fetch: HTTP(S) GETs with libcurl's multi interface (a batch runs up to
 * FETCH_PARALLEL at once), as a registry client needs them —
 * connect and stall timeouts, redirects, proxies from the environment
 * (libcurl's default), TLS verified unless the registry says otherwise,
 * basic or bearer credentials (from addonmake.yaml or the environment,
 * never printed), a size cap, and bounded retries with backoff on resets,
 * timeouts, 429 and 5xx (Retry-After honoured up to HTTP_RETRY_AFTER_MAX_S). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../http/http.h"
#include "fetch.h"

#define FETCH_MAX (256L << 20)
#define FETCH_TRIES 4
#define FETCH_PARALLEL 8 /* transfers at once */

struct sink {
	struct buf *body;
	struct fetched *out;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	struct sink *s = u;
	if (s->body->len + sz * n > (size_t)FETCH_MAX)
		return 0; /* aborts the transfer */
	buf_add(s->body, p, sz * n);
	return sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *u)
{
	struct sink *s = u;
	char *v;
	if ((v = http_header_value(p, sz * n, "ETag"))) {
		free(s->out->etag);
		s->out->etag = v;
	} else if ((v = http_header_value(p, sz * n, "WWW-Authenticate"))) {
		free(s->out->www_auth);
		s->out->www_auth = v;
	} else if ((v = http_header_value(p, sz * n, "Retry-After"))) {
		s->out->retry_after = atoi(v);
		free(v);
	}
	return sz * n;
}

/* a URL as it may be shown: user:password@ removed */
char *
url_shown(const char *url)
{
	const char *s = strstr(url, "://");
	const char *at = s ? strchr(s + 3, '@') : NULL;
	const char *slash = s ? strchr(s + 3, '/') : NULL;
	if (!at || (slash && at > slash))
		return xstrdup(url);
	struct buf b = {0};
	buf_add(&b, url, (size_t)(s + 3 - url));
	buf_adds(&b, at + 1);
	return b.s;
}

static const char *
secret(const char *value, const char *env)
{
	if (env && *env) {
		const char *v = getenv(env);
		if (v && *v)
			return v;
	}
	return value;
}

/* one transfer of a batch, with its retries */
struct xfer {
	const struct fetch *f;
	struct fetched *out;
	struct buf *err;
	CURL *h;
	struct curl_slist *hdr;
	struct buf auth; /* holds a secret while the transfer runs */
	struct sink sk;
	char ebuf[CURL_ERROR_SIZE];
	int tries, done;
	int64_t due; /* when the next try may start */
};

static void
add_header(struct curl_slist **hdr, const char *name, const char *value)
{
	struct buf b = {0};
	buf_printf(&b, "%s: %s", name, value);
	*hdr = curl_slist_append(*hdr, b.s);
	buf_free(&b);
}

static CURL *
xfer_start(struct xfer *x)
{
	const struct fetch *f = x->f;
	CURL *h = http_handle();
	x->sk = (struct sink){&x->out->body, x->out};
	x->ebuf[0] = 0;
	x->hdr = NULL;
	buf_clear(&x->out->body);
	x->out->retry_after = 0;
	curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	curl_easy_setopt(h, CURLOPT_URL, f->url);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
	const struct registry *r = f->reg;
	long quiet = r && r->timeout_ms ? (long)r->timeout_ms : 30000L;
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, quiet < 10000L ? quiet : 10000L);
	/* a transfer that receives nothing for that long ends (and is tried
	 * again): a stalled server, not a slow large download */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (quiet + 999) / 1000);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->sk);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x->sk);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->ebuf);
	if (r)
		http_tls(h, r->ca, NULL, 0, r->insecure);
	const char *token = f->bearer ? f->bearer : r ? secret(r->token, r->token_env) : NULL;
	if (token) {
		buf_printf(&x->auth, "Bearer %s", token);
		add_header(&x->hdr, "Authorization", x->auth.s);
	} else if (r && r->username) {
		http_basic_auth(h, r->username, secret(r->password, r->password_env));
	}
	if (f->etag)
		add_header(&x->hdr, "If-None-Match", f->etag);
	if (f->accept)
		add_header(&x->hdr, "Accept", f->accept);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdr);
	x->tries++;
	return x->h = h;
}

/* a finished try: done, or due again after a backoff */
static void
xfer_finish(struct xfer *x, CURLcode cc)
{
	long code = 0;
	curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &code);
	curl_slist_free_all(x->hdr);
	/* the secret goes (zeroed) before anything is printed */
	if (x->auth.s)
		memset(x->auth.s, 0, x->auth.len);
	buf_free(&x->auth);
	x->out->code = code;
	char *shown = url_shown(x->f->url);
	int transient = 0;
	buf_clear(x->err);
	if (cc == CURLE_WRITE_ERROR) {
		buf_printf(x->err, "GET %s: the answer is larger than 256 MiB", shown);
	} else if (cc != CURLE_OK) {
		buf_printf(x->err, "GET %s: %s", shown, x->ebuf[0] ? x->ebuf : curl_easy_strerror(cc));
		transient = cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_URL_MALFORMAT &&
			    cc != CURLE_PEER_FAILED_VERIFICATION && cc != CURLE_SSL_CACERT_BADFILE &&
			    cc != CURLE_TOO_MANY_REDIRECTS;
	} else if (code == 429 || code >= 500) {
		buf_printf(x->err, "GET %s: HTTP %ld", shown, code);
		transient = 1;
	}
	free(shown);
	x->h = NULL;
	if (!x->err->len) {
		x->done = 1; /* an answer (any but 429 and 5xx) */
	} else if (!transient || x->tries == FETCH_TRIES) {
		x->done = -1;
		if (x->tries > 1)
			buf_printf(x->err, " (after %d tries)", x->tries);
		if (cc == CURLE_OPERATION_TIMEDOUT)
			buf_adds(x->err, "; a registry's timeout: says how long a request may stay silent");
	} else {
		long wait = 250L << (x->tries - 1);
		if (x->out->retry_after > 0)
			wait = http_retry_after_ms(x->out->retry_after);
		x->due = now_ms() + wait;
	}
}

int
fetch_all(const struct fetch *fs, struct fetched *outs, struct buf *errs, size_t n)
{
	const char *nocurl = http_unavailable();
	if (nocurl) {
		for (size_t i = 0; i < n; i++) {
			memset(&outs[i], 0, sizeof(outs[i]));
			buf_clear(&errs[i]);
			buf_adds(&errs[i], nocurl);
		}
		return (int)n;
	}
	http_init();
	struct xfer *xs = xcalloc(n ? n : 1, sizeof(*xs));
	for (size_t i = 0; i < n; i++) {
		memset(&outs[i], 0, sizeof(outs[i]));
		xs[i] = (struct xfer){.f = &fs[i], .out = &outs[i], .err = &errs[i]};
	}
	CURLM *m = curl_multi_init();
	size_t left = n, running = 0;
	while (left) {
		int64_t now = now_ms(), wait = 1000;
		for (size_t i = 0; i < n; i++) {
			struct xfer *x = &xs[i];
			if (x->done || x->h)
				continue;
			if (x->due <= now && running < FETCH_PARALLEL) {
				curl_multi_add_handle(m, xfer_start(x));
				running++;
			} else if (x->due > now && x->due - now < wait) {
				wait = x->due - now;
			}
		}
		int still;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int q;
		while ((msg = curl_multi_info_read(m, &q))) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			CURL *h = msg->easy_handle;
			CURLcode cc = msg->data.result;
			char *priv;
			curl_easy_getinfo(h, CURLINFO_PRIVATE, &priv);
			struct xfer *x = (struct xfer *)(void *)priv;
			curl_multi_remove_handle(m, h);
			xfer_finish(x, cc);
			curl_easy_cleanup(h);
			running--;
			if (x->done)
				left--;
			wait = 0; /* another may start now */
		}
		if (left && wait)
			curl_multi_poll(m, NULL, 0, (int)wait, NULL);
	}
	curl_multi_cleanup(m);
	int failed = 0;
	for (size_t i = 0; i < n; i++) {
		if (xs[i].done < 0)
			failed++;
		else
			buf_clear(&errs[i]);
	}
	free(xs);
	return failed;
}

int
fetch_url(const struct fetch *f, struct fetched *out, struct buf *err)
{
	return fetch_all(f, out, err, 1) ? -1 : 0;
}

void
fetched_free(struct fetched *f)
{
	buf_free(&f->body);
	free(f->etag);
	free(f->www_auth);
	memset(f, 0, sizeof(*f));
}
