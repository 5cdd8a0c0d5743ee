/* fetch: one HTTP(S) GET with libcurl, as a registry client needs it —
 * connect and stall timeouts, redirects, proxies from the environment
 * (libcurl's default), TLS verified unless the registry says otherwise,
 * basic or bearer credentials (from addonmake.yaml or the environment,
 * never printed), a size cap, and bounded retries with backoff on resets,
 * timeouts, 429 and 5xx (Retry-After honoured up to 5 s). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "model.h"

#define FETCH_MAX (256L << 20)
#define FETCH_TRIES 4

/* curl (and the TLS library under it) is set up on first use only: most
 * runs never need it */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
fetch_init(void)
{
	pthread_once(&once, setup);
}

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

static char *
header_value(char *p, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl + 1 || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
		return NULL;
	char *v = p + nl + 1;
	size_t vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
		vl--;
	return xstrndup(v, vl);
}

static size_t
on_header(char *p, size_t sz, size_t n, void *u)
{
	struct sink *s = u;
	char *v;
	if ((v = header_value(p, sz * n, "ETag"))) {
		free(s->out->etag);
		s->out->etag = v;
	} else if ((v = header_value(p, sz * n, "WWW-Authenticate"))) {
		free(s->out->www_auth);
		s->out->www_auth = v;
	} else if ((v = header_value(p, sz * n, "Retry-After"))) {
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

static void
nap_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
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

int
fetch_url(const struct fetch *f, struct fetched *out, struct buf *err)
{
	fetch_init();
	memset(out, 0, sizeof(*out));
	char *shown = url_shown(f->url);
	int rc = -1, tries = 0;
	for (int attempt = 0; attempt < FETCH_TRIES; attempt++) {
		tries = attempt + 1;
		CURL *h = curl_easy_init();
		struct curl_slist *hdr = NULL;
		char ebuf[CURL_ERROR_SIZE] = "";
		struct sink sk = {&out->body, out};
		buf_clear(&out->body);
		out->retry_after = 0;
		curl_easy_setopt(h, CURLOPT_URL, f->url);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);   /* a stalled */
		curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);   /* transfer ends */
		curl_easy_setopt(h, CURLOPT_USERAGENT, "addonmake/0.1");
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
		curl_easy_setopt(h, CURLOPT_WRITEDATA, &sk);
		curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
		curl_easy_setopt(h, CURLOPT_HEADERDATA, &sk);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
		const struct registry *r = f->reg;
		if (r && r->ca)
			curl_easy_setopt(h, CURLOPT_CAINFO, r->ca);
		if (r && r->insecure) {
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		struct buf ah = {0};
		const char *token = f->bearer ? f->bearer : r ? secret(r->token, r->token_env) : NULL;
		if (token) {
			buf_printf(&ah, "Authorization: Bearer %s", token);
			hdr = curl_slist_append(hdr, ah.s);
		} else if (r && r->username) {
			curl_easy_setopt(h, CURLOPT_USERNAME, r->username);
			const char *pw = secret(r->password, r->password_env);
			curl_easy_setopt(h, CURLOPT_PASSWORD, pw ? pw : "");
		}
		if (f->etag) {
			struct buf b = {0};
			buf_printf(&b, "If-None-Match: %s", f->etag);
			hdr = curl_slist_append(hdr, b.s);
			buf_free(&b);
		}
		if (f->accept) {
			struct buf b = {0};
			buf_printf(&b, "Accept: %s", f->accept);
			hdr = curl_slist_append(hdr, b.s);
			buf_free(&b);
		}
		curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
		CURLcode cc = curl_easy_perform(h);
		long code = 0;
		curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
		curl_slist_free_all(hdr);
		buf_free(&ah); /* held a secret: gone before anything is printed */
		curl_easy_cleanup(h);
		out->code = code;
		int transient;
		buf_clear(err);
		if (cc == CURLE_WRITE_ERROR) {
			buf_printf(err, "GET %s: the answer is larger than 256 MiB", shown);
			break;
		} else if (cc != CURLE_OK) {
			buf_printf(err, "GET %s: %s", shown, ebuf[0] ? ebuf : curl_easy_strerror(cc));
			transient = cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_URL_MALFORMAT &&
				    cc != CURLE_PEER_FAILED_VERIFICATION && cc != CURLE_SSL_CACERT_BADFILE;
		} else if (code == 429 || code >= 500) {
			buf_printf(err, "GET %s: HTTP %ld", shown, code);
			transient = 1;
		} else {
			rc = 0;
			break;
		}
		if (!transient || attempt + 1 == FETCH_TRIES)
			break;
		long wait = 250L << attempt;
		if (out->retry_after > 0)
			wait = out->retry_after > 5 ? 5000 : out->retry_after * 1000L;
		nap_ms(wait);
	}
	if (rc == 0)
		buf_clear(err);
	else if (tries > 1)
		buf_printf(err, " (after %d tries)", tries);
	free(shown);
	return rc;
}

void
fetched_free(struct fetched *f)
{
	buf_free(&f->body);
	free(f->etag);
	free(f->www_auth);
	memset(f, 0, sizeof(*f));
}
