/* client: requests to one API server. A request takes a slot (a batch
 * takes as many as are free) and goes by addonmake's HTTP/2 client where
 * the server speaks HTTP/2 (h2conn.c), else with an easy handle from a
 * small pool on the server's event loop (loop.c), whose one multi handle
 * keeps a few HTTP/1.1 connections alive; the handles share TLS
 * sessions. Credentials (a token, a token file, an exec plugin's token
 * or certificate) are fetched once and refreshed on a 401. */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "../http/http.h"
#include "internal.h"

#define KUBE_TRIES 5

static void
conn_free(struct kube_conn *c)
{
	curl_easy_cleanup(c->h);
	curl_slist_free_all(c->hdr);
}

static void
sh_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
	(void)h, (void)a;
	struct kube *k = u;
	pthread_mutex_lock(&k->shmu[d]);
}

static void
sh_unlock(CURL *h, curl_lock_data d, void *u)
{
	(void)h;
	struct kube *k = u;
	pthread_mutex_unlock(&k->shmu[d]);
}

struct kube *
kube_open(struct kube_cfg *cfg, kube_exec_fn run, void *u, const int *cancel)
{
	struct kube *k = xcalloc(1, sizeof(*k));
	k->cfg = *cfg;
	memset(cfg, 0, sizeof(*cfg));
	k->run = run;
	k->run_u = u;
	k->cancel = cancel;
	k->limit = KUBE_MAX_INFLIGHT;
	pthread_mutex_init(&k->mu, NULL);
	hold_init(&k->dmu);
	pthread_mutex_init(&k->h2mu, NULL);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&k->shmu[i], NULL);
	return k;
}

/* what libcurl's handles of k share (DNS, TLS sessions), made with the
 * first: a server served by addonmake's own client never loads libcurl */
static CURLSH *
share_of(struct kube *k)
{
	pthread_mutex_lock(&k->mu);
	if (!k->sh && (k->sh = curl_share_init())) {
		curl_share_setopt(k->sh, CURLSHOPT_LOCKFUNC, sh_lock);
		curl_share_setopt(k->sh, CURLSHOPT_UNLOCKFUNC, sh_unlock);
		curl_share_setopt(k->sh, CURLSHOPT_USERDATA, k);
		curl_share_setopt(k->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
		curl_share_setopt(k->sh, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	}
	CURLSH *sh = k->sh;
	pthread_mutex_unlock(&k->mu);
	return sh;
}

void
kube_close(struct kube *k)
{
	if (!k)
		return;
	loop_stop(k);
	kube_h2_close(k);
	pthread_mutex_destroy(&k->h2mu);
	for (int i = 0; i < k->npool; i++)
		conn_free(&k->pool[i]);
	if (k->sh)
		curl_share_cleanup(k->sh);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&k->shmu[i]);
	free(k->bearer);
	buf_free(&k->exec_cert);
	if (k->exec_key.s)
		memset(k->exec_key.s, 0, k->exec_key.len);
	buf_free(&k->exec_key);
	kube_config_free(&k->cfg);
	strset_free(&k->gvs);
	free(k->gvkeys);
	arena_free(&k->da);
	pthread_mutex_destroy(&k->mu);
	hold_destroy(&k->dmu);
	free(k);
}

const struct kube_cfg *
kube_cfg_of(const struct kube *k)
{
	return &k->cfg;
}

long
kube_requests(struct kube *k)
{
	pthread_mutex_lock(&k->mu);
	long n = k->nreq;
	pthread_mutex_unlock(&k->mu);
	return n;
}

static int
cancelled(const struct kube *k)
{
	return k->cancel && __atomic_load_n(k->cancel, __ATOMIC_RELAXED);
}

/* the exec plugin's ExecCredential: a token, or a client certificate */
static int
run_exec(struct kube *k, struct buf *err)
{
	struct buf out = {0}, perr = {0};
	if (!k->run || k->run(k->run_u, k->cfg.exec_argv, k->cfg.exec_env, &out, &perr) < 0) {
		buf_printf(err, "the exec credential plugin %s failed: %s", k->cfg.exec_argv[0],
			   perr.s ? perr.s : "it could not be run");
		buf_free(&out);
		buf_free(&perr);
		return -1;
	}
	buf_free(&perr);
	struct arena a = {0};
	struct dnode *root = NULL;
	int rc = -1;
	if (doc_parse_first(&a, out.s ? out.s : "", out.len, NULL, &root, NULL) < 0 || !root) {
		buf_printf(err, "the exec credential plugin %s printed no ExecCredential JSON",
			   k->cfg.exec_argv[0]);
		goto done;
	}
	const struct dnode *st = doc_get(root, "status");
	const char *tok = doc_str(doc_get(st, "token"));
	const char *cert = doc_str(doc_get(st, "clientCertificateData"));
	const char *key = doc_str(doc_get(st, "clientKeyData"));
	if (!(tok && *tok) && !(cert && key)) {
		buf_printf(err, "the exec credential plugin %s gave neither status.token nor "
			   "status.clientCertificateData and clientKeyData", k->cfg.exec_argv[0]);
		goto done;
	}
	free(k->bearer);
	k->bearer = tok && *tok ? xstrdup(tok) : NULL;
	buf_clear(&k->exec_cert);
	buf_clear(&k->exec_key);
	if (cert && key) {
		buf_adds(&k->exec_cert, cert);
		buf_adds(&k->exec_key, key);
	}
	const char *exp = doc_str(doc_get(st, "expirationTimestamp"));
	k->bearer_exp = exp ? kube_rfc3339(exp) : 0;
	k->cred_gen++;
	rc = 0;
done:
	if (out.s)
		memset(out.s, 0, out.len); /* it held a secret */
	buf_free(&out);
	arena_free(&a);
	return rc;
}

/* makes the credential current (k->mu held): 0, or -1 with err */
static int
credential(struct kube *k, int refresh, struct buf *err)
{
	if (k->cfg.exec_argv) {
		int expired = k->bearer_exp && wall_secs() >= k->bearer_exp - 10;
		if (refresh || expired || (!k->bearer && !k->exec_cert.len))
			return run_exec(k, err);
		return 0;
	}
	if (k->cfg.token_file && !k->cfg.token && (refresh || !k->bearer)) {
		struct buf t = {0};
		int e = file_read(k->cfg.token_file, &t);
		if (e) {
			buf_printf(err, "%s: cannot read the token file: %s", k->cfg.token_file,
				   strerror(e));
			buf_free(&t);
			return -1;
		}
		size_t n = t.len;
		while (n && (t.s[n - 1] == '\n' || t.s[n - 1] == '\r' || t.s[n - 1] == ' '))
			n--;
		free(k->bearer);
		k->bearer = xstrndup(t.s, n);
		k->cred_gen++;
		memset(t.s, 0, t.len);
		buf_free(&t);
	}
	return 0;
}

/* the most of an answer addonmake reads: a real object list or discovery
 * document is a few MiB at most */
#define ANSWER_MAX (64u << 20)

struct sink {
	const struct kube *k;
	struct kube_resp *r;
	int retry_after;
	int too_big;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *u)
{
	struct sink *s = u;
	if (s->r->body.len + sz * n > ANSWER_MAX) {
		s->too_big = 1;
		return 0;
	}
	buf_add(&s->r->body, p, sz * n);
	return sz * n;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *u)
{
	struct sink *s = u;
	char *v = http_header_value(p, sz * n, "Retry-After");
	if (v)
		s->retry_after = atoi(v);
	free(v);
	return sz * n;
}

static int
on_progress(void *u, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
	(void)a, (void)b, (void)c, (void)d;
	return cancelled(((struct sink *)u)->k);
}

/* a handle with what every request to this server shares; a pooled
 * handle keeps it, and each request sets only its own options */
static CURL *
handle_new(struct kube *k)
{
	CURL *h = http_handle();
	const struct kube_cfg *c = &k->cfg;
	curl_easy_setopt(h, CURLOPT_SHARE, share_of(k));
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 120000L);
	curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	/* a request made while the first connection is being made waits
	 * for it, to be a stream of it, rather than open another */
	curl_easy_setopt(h, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	/* refused from its Content-Length, before any of it is read */
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)ANSWER_MAX);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
	http_tls(h, NULL, c->ca.s, c->ca.len, c->insecure);
	if (c->username && !c->token)
		http_basic_auth(h, c->username, c->password);
	return h;
}

/* a request slot: waits for one when block, else none (0) when every
 * slot is taken; 1 with it, and with a libcurl handle in *c when curl (the
 * HTTP/2 client needs none) */
static int
take_handle(struct kube *k, int block, struct kube_conn *c, int curl)
{
	*c = (struct kube_conn){0};
	pthread_mutex_lock(&k->mu);
	while (block && k->inflight >= k->limit)
		waitq_wait(&k->slot, &k->mu, 0);
	if (k->inflight >= k->limit) {
		pthread_mutex_unlock(&k->mu);
		return 0;
	}
	k->inflight++;
	if (curl && k->npool)
		*c = k->pool[--k->npool];
	k->nreq++;
	pthread_mutex_unlock(&k->mu);
	if (curl && !c->h)
		c->h = handle_new(k);
	return 1;
}

/* c back in the pool; h2: its answer came by HTTP/2, where more requests
 * cost no connection, only streams of the one */
static void
give_handle(struct kube *k, struct kube_conn *c, int h2)
{
	pthread_mutex_lock(&k->mu);
	if (h2)
		k->limit = POOL_MAX;
	int kept = c->h && k->npool < POOL_MAX;
	if (kept)
		k->pool[k->npool++] = *c;
	k->inflight--;
	waitq_wake_one(&k->slot);
	pthread_mutex_unlock(&k->mu);
	if (!kept && c->h)
		conn_free(c);
}

/* a transfer being made: what its handle points to until it ends; by
 * the HTTP/2 client (no handle), its request and headers */
struct xfer {
	struct kube_conn conn;
	struct sink sk;
	char ebuf[CURL_ERROR_SIZE];
	unsigned cred_gen;
	struct curl_slist *ct;
	struct buf target, host, port, cto;
	struct h2_req h2;
	const char *hdr[8];
	struct buf authz;
};

/* the outcome of one try: t 0 with an answer, -1 with e (transient set
 * when another try may help) */
struct try {
	int t, retry_after, transient;
	struct buf e;
	unsigned cred_gen; /* the credential it was sent with */
};

static void
h2_on_header(void *u, const char *name, size_t nl, const char *val, size_t vl)
{
	(void)vl;
	if (nl == 11 && strcmp(name, "retry-after") == 0)
		((struct sink *)u)->retry_after = atoi(val);
}

static int
h2_on_data(void *u, const char *p, size_t n)
{
	return on_body((char *)p, 1, n, u) != n;
}

/* sets x's request up for the HTTP/2 client (its answer into x->sk) */
static void
xfer_setup_h2(struct kube *k, struct xfer *x, const char *method, const char *url,
	      const char *ctype, const char *accept, const char *body, size_t len)
{
	size_t n = 0;
	x->hdr[n++] = "accept";
	x->hdr[n++] = accept;
	pthread_mutex_lock(&k->mu);
	const char *tok = k->cfg.token ? k->cfg.token : k->bearer;
	if (tok)
		buf_printf(&x->authz, "Bearer %s", tok);
	x->cred_gen = k->cred_gen;
	pthread_mutex_unlock(&k->mu);
	if (x->authz.len) {
		x->hdr[n++] = "authorization";
		x->hdr[n++] = x->authz.s;
	}
	if (ctype) {
		x->hdr[n++] = "content-type";
		x->hdr[n++] = ctype;
	}
	x->hdr[n++] = "user-agent";
	x->hdr[n++] = HTTP_USER_AGENT;
	/* the path with the server's own, if it has one (a proxy's
	 * /k8s/clusters/NAME) */
	const char *path = strchr(strstr(url, "://") + 3, '/');
	x->h2 = (struct h2_req){.method = method, .path = path ? path : "/",
				.authority = k->h2_authority.s, .hdr = x->hdr, .nhdr = n / 2,
				.body = body, .len = len, .deadline = now_ms() + 120000,
				.on_header = h2_on_header, .on_data = h2_on_data, .u = &x->sk};
}

/* sets x up for one request (its answer into r): x->conn's handle, or
 * without one the HTTP/2 client's request */
static void
xfer_setup(struct kube *k, struct xfer *x, const char *method, const char *url,
	   const char *ctype, const char *accept, const char *body, size_t len,
	   struct kube_resp *r)
{
	CURL *h = x->conn.h;
	x->sk = (struct sink){.k = k, .r = r, .retry_after = 0, .too_big = 0};
	x->ebuf[0] = 0;
	if (!h) {
		xfer_setup_h2(k, x, method, url, ctype, accept, body, len);
		return;
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->sk);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, &x->sk);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, &x->sk);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->ebuf);
	if (body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	} else {
		curl_easy_setopt(h, CURLOPT_HTTPGET, 1L); /* no body of an earlier request */
	}
	const struct kube_cfg *c = &k->cfg;
	if (c->tls_server_name) {
		/* verify the certificate (and send SNI) for tls-server-name while
		 * connecting to the server's address */
		kube_host_port(c->server, &x->host, &x->port);
		const char *rest = strstr(url, "://");
		rest = rest ? rest + 3 : url;
		rest += strcspn(rest, "/");
		buf_printf(&x->target, "https://%s:%s%s", c->tls_server_name, x->port.s, rest);
		buf_printf(&x->cto, "%s:%s:%s:%s", c->tls_server_name, x->port.s, x->host.s,
			   x->port.s);
		x->ct = curl_slist_append(NULL, x->cto.s);
		curl_easy_setopt(h, CURLOPT_CONNECT_TO, x->ct);
		curl_easy_setopt(h, CURLOPT_URL, x->target.s);
	} else {
		curl_easy_setopt(h, CURLOPT_URL, url);
	}
	char key[sizeof(x->conn.key)];
	int n = snprintf(key, sizeof(key), "%s\n%s", accept, ctype ? ctype : "");
	if (n < 0 || (size_t)n >= sizeof(key))
		key[0] = 0; /* not kept: built again next time */
	pthread_mutex_lock(&k->mu);
	const struct buf *cert = k->exec_cert.len ? &k->exec_cert : &c->cert;
	const struct buf *ckey = k->exec_key.len ? &k->exec_key : &c->key;
	if (cert->len && ckey->len && !(x->conn.cert_set && x->conn.cert_gen == k->cred_gen)) {
		http_client_cert(h, cert->s, cert->len, ckey->s, ckey->len);
		x->conn.cert_set = 1;
		x->conn.cert_gen = k->cred_gen;
	}
	x->cred_gen = k->cred_gen;
	/* the handle's headers serve again for the same kind of request with
	 * the same credential: no list built for each request */
	if (!key[0] || !x->conn.hdr || x->conn.gen != k->cred_gen ||
	    strcmp(x->conn.key, key) != 0) {
		curl_slist_free_all(x->conn.hdr);
		struct buf b = {0};
		buf_printf(&b, "Accept: %s", accept);
		struct curl_slist *l = curl_slist_append(NULL, b.s);
		const char *tok = c->token ? c->token : k->bearer;
		if (tok) {
			buf_clear(&b);
			buf_printf(&b, "Authorization: Bearer %s", tok);
			l = curl_slist_append(l, b.s);
		}
		if (ctype) {
			buf_clear(&b);
			buf_printf(&b, "Content-Type: %s", ctype);
			l = curl_slist_append(l, b.s);
		}
		if (b.s)
			memset(b.s, 0, b.cap); /* it held a secret */
		buf_free(&b);
		x->conn.hdr = l;
		x->conn.gen = k->cred_gen;
		memcpy(x->conn.key, key, sizeof(key));
	}
	pthread_mutex_unlock(&k->mu);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->conn.hdr);
}

/* what xfer_setup made for x, freed; x's handle keeps none of it */
static void
xfer_clean(struct xfer *x)
{
	CURL *h = x->conn.h;
	if (x->authz.s)
		memset(x->authz.s, 0, x->authz.cap); /* it held a secret */
	buf_free(&x->authz);
	buf_free(&x->h2.why);
	if (!h)
		return;
	curl_easy_setopt(h, CURLOPT_CONNECT_TO, NULL);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
	curl_slist_free_all(x->ct);
	buf_free(&x->target);
	buf_free(&x->host);
	buf_free(&x->port);
	buf_free(&x->cto);
}

/* whether an answer with this status may be different on another try */
static int
code_transient(long code)
{
	return code == 429 || code == 502 || code == 503 || code == 504 || code == 500;
}

static void
too_big(struct buf *e)
{
	buf_printf(e, "the server's answer is larger than %u MiB, the most addonmake reads",
		   ANSWER_MAX >> 20);
}

/* after x's request by the HTTP/2 client ended: its outcome */
static void
xfer_finish_h2(struct kube *k, struct xfer *x, struct kube_resp *r, struct try *out)
{
	*out = (struct try){.t = 0, .retry_after = x->sk.retry_after, .cred_gen = x->cred_gen};
	r->code = x->h2.status;
	if (x->h2.err == H2_OK)
		out->transient = code_transient(r->code);
	else if (x->sk.too_big)
		too_big(&out->e);
	else if (x->h2.err == H2_ESTOPPED)
		buf_adds(&out->e, "interrupted");
	else /* the connection failed, the stream was reset, the deadline passed */
		buf_adds(&out->e, x->h2.why.s ? x->h2.why.s : "failed"), out->transient = 1;
	if (x->h2.err != H2_OK)
		out->t = -1;
	xfer_clean(x);
	give_handle(k, &x->conn, !k->h2_plain);
}

/* after x's transfer ended with cc: its outcome, and the handle back in
 * the pool */
static void
xfer_finish(struct kube *k, struct xfer *x, CURLcode cc, struct kube_resp *r,
	    struct try *out)
{
	long code = 0, version = 0;
	curl_easy_getinfo(x->conn.h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_getinfo(x->conn.h, CURLINFO_HTTP_VERSION, &version);
	xfer_clean(x);
	give_handle(k, &x->conn, version == CURL_HTTP_VERSION_2_0);
	*out = (struct try){.t = 0, .retry_after = x->sk.retry_after, .cred_gen = x->cred_gen};
	r->code = code;
	if (cc == CURLE_OK) {
		out->transient = code_transient(code);
		return;
	}
	out->t = -1;
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		buf_adds(&out->e, "interrupted");
		return;
	}
	if (x->sk.too_big || cc == CURLE_FILESIZE_EXCEEDED) {
		too_big(&out->e);
		return;
	}
	buf_printf(&out->e, "%s", x->ebuf[0] ? x->ebuf : curl_easy_strerror(cc));
	out->transient = cc != CURLE_UNSUPPORTED_PROTOCOL && cc != CURLE_URL_MALFORMAT &&
			 cc != CURLE_PEER_FAILED_VERIFICATION && cc != CURLE_SSL_CACERT_BADFILE &&
			 cc != CURLE_SSL_CERTPROBLEM && cc != CURLE_WRITE_ERROR &&
			 cc != CURLE_SSL_CONNECT_ERROR;
}

/* runs the m transfers set up in x together, on hc (the HTTP/2 client)
 * or else on the event loop: tr[j] is the outcome of x[j], whose handle
 * is back in the pool */
static void
run_xfers(struct kube *k, struct h2_conn *hc, struct xfer *x, size_t m,
	  struct kube_resp *const *r, struct try *tr)
{
	if (hc) {
		struct h2_req *q[POOL_MAX] = {0};
		for (size_t j = 0; j < m; j++)
			q[j] = &x[j].h2;
		h2_run(hc, q, m, k->cancel);
		for (size_t j = 0; j < m; j++)
			xfer_finish_h2(k, &x[j], r[j], &tr[j]);
		return;
	}
	CURLcode cc[POOL_MAX];
	CURL *h[POOL_MAX] = {0};
	for (size_t j = 0; j < m; j++)
		h[j] = x[j].conn.h;
	loop_run(k, h, m, cc);
	for (size_t j = 0; j < m; j++)
		xfer_finish(k, &x[j], cc[j], r[j], &tr[j]);
}

/* the outcome of a try that found the server unreachable (down: why) */
static void
unreached(const struct buf *down, struct try *out)
{
	*out = (struct try){.t = -1, .transient = 1};
	buf_adds(&out->e, down->s);
}

/* one try of a request */
static void
try_once(struct kube *k, const char *method, const char *url, const char *ctype,
	 const char *accept, const char *body, size_t len, struct kube_resp *r,
	 struct try *out)
{
	struct xfer x = {0};
	size_t room;
	struct buf down = {0};
	struct h2_conn *hc = kube_h2(k, &room, &down);
	if (down.len) {
		unreached(&down, out);
		buf_free(&down);
		return;
	}
	take_handle(k, 1, &x.conn, !hc);
	xfer_setup(k, &x, method, url, ctype, accept, body, len, r);
	run_xfers(k, hc, &x, 1, &r, out);
}

static void
nap_ms(const struct kube *k, long ms)
{
	for (long t = 0; t < ms && !cancelled(k); t += 50)
		fiber_nap(now_ms() + (ms - t < 50 ? ms - t : 50));
}

/* the tries of one request, from its first (given when first is not
 * NULL: a batch made it) to an answer that is not transient or the last */
static int
settle(struct kube *k, const char *method, const char *path, const char *url,
       const char *ctype, const char *accept, const char *body, size_t len,
       struct kube_resp *r, struct try *first, struct buf *err)
{
	int rc = -1, refreshed = 0;
	for (int attempt = 0; attempt < KUBE_TRIES; attempt++) {
		struct try tr;
		if (first) {
			tr = *first;
			first = NULL;
		} else {
			buf_clear(&r->body);
			try_once(k, method, url, ctype, accept, body, len, r, &tr);
		}
		if (tr.t == 0 && r->code == 401 && !refreshed &&
		    (k->cfg.exec_argv || (k->cfg.token_file && !k->cfg.token))) {
			/* the credential may have expired: fetch it again, once,
			 * unless another request (of the same batch, say) has
			 * fetched one since this try was sent */
			refreshed = 1;
			pthread_mutex_lock(&k->mu);
			int c2 = tr.cred_gen == k->cred_gen ? credential(k, 1, err) : 0;
			pthread_mutex_unlock(&k->mu);
			buf_free(&tr.e);
			if (c2 < 0)
				break;
			attempt--;
			continue;
		}
		if (tr.t == 0 && !tr.transient) {
			buf_free(&tr.e);
			rc = 0;
			break;
		}
		buf_clear(err);
		if (tr.t == 0)
			buf_printf(err, "%s %s: HTTP %ld", method, path, r->code);
		else /* no answer: which server did not give one */
			buf_printf(err, "%s %s%s: %s", method, k->cfg.server, path,
				   tr.e.s ? tr.e.s : "failed");
		buf_free(&tr.e);
		if (!tr.transient || cancelled(k) || attempt + 1 == KUBE_TRIES) {
			if (tr.t == 0 && attempt + 1 == KUBE_TRIES)
				rc = 0; /* the last answer, for the caller to report */
			if (attempt)
				buf_printf(err, " (after %d tries)", attempt + 1);
			break;
		}
		long wait = 250L << attempt;
		if (tr.retry_after > 0 || (tr.t == 0 && tr.retry_after == 0 && r->code == 429))
			wait = http_retry_after_ms(tr.retry_after);
		nap_ms(k, wait ? wait : 100);
	}
	if (rc == 0)
		buf_clear(err);
	return rc;
}

static void
url_of(const struct kube *k, struct buf *url, const char *path, const char *query)
{
	buf_printf(url, "%s%s%s%s", k->cfg.server, path, query && *query ? "?" : "",
		   query ? query : "");
}

/* the credential current before a request: 0, or -1 with err */
static int
ready_credential(struct kube *k, struct buf *err)
{
	pthread_mutex_lock(&k->mu);
	int cred = credential(k, 0, err);
	pthread_mutex_unlock(&k->mu);
	return cred;
}

int
kube_call(struct kube *k, const char *method, const char *path, const char *query,
	  const char *ctype, const char *body, size_t len, struct kube_resp *r,
	  struct buf *err)
{
	return kube_call_accept(k, method, path, query, ctype, "application/json", body, len, r,
				err);
}

int
kube_call_accept(struct kube *k, const char *method, const char *path, const char *query,
		 const char *ctype, const char *accept, const char *body, size_t len,
		 struct kube_resp *r, struct buf *err)
{
	memset(r, 0, sizeof(*r));
	if (ready_credential(k, err) < 0)
		return -1;
	struct buf url = {0};
	url_of(k, &url, path, query);
	int rc = settle(k, method, path, url.s, ctype, accept, body, len, r, NULL, err);
	buf_free(&url);
	return rc;
}

void
kube_call_all(struct kube *k, struct kube_req *q, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		memset(&q[i].r, 0, sizeof(q[i].r));
		q[i].err = (struct buf){0};
		q[i].rc = -1;
	}
	struct buf cerr = {0};
	if (ready_credential(k, &cerr) < 0) {
		for (size_t i = 0; i < n; i++)
			buf_adds(&q[i].err, cerr.s);
		buf_free(&cerr);
		return;
	}
	struct xfer x[POOL_MAX];
	struct buf url[POOL_MAX];
	struct kube_resp *resp[POOL_MAX];
	struct try tr[POOL_MAX];
	for (size_t done = 0; done < n;) {
		/* one slot at least, and as many more as are free (and as the
		 * HTTP/2 connection has streams for) */
		size_t room;
		struct buf down = {0};
		struct h2_conn *hc = kube_h2(k, &room, &down);
		size_t m = 0;
		while (done + m < n && m < POOL_MAX && (!hc || m < room)) {
			if (down.len) {
				unreached(&down, &tr[m++]);
				continue;
			}
			/* cleared one at a time: the whole array is 20 KiB */
			memset(&x[m], 0, sizeof(x[m]));
			if (!take_handle(k, m == 0, &x[m].conn, !hc))
				break;
			m++;
		}
		for (size_t j = 0; j < m; j++) {
			struct kube_req *r = &q[done + j];
			url[j] = (struct buf){0};
			url_of(k, &url[j], r->path, r->query);
			if (!down.len)
				xfer_setup(k, &x[j], r->method, url[j].s, r->ctype,
					   "application/json", r->body, r->len, &r->r);
			resp[j] = &r->r;
		}
		if (!down.len)
			run_xfers(k, hc, x, m, resp, tr);
		buf_free(&down);
		for (size_t j = 0; j < m; j++) {
			struct kube_req *r = &q[done + j];
			r->rc = settle(k, r->method, r->path, url[j].s, r->ctype, "application/json",
				       r->body, r->len, &r->r, &tr[j], &r->err);
			buf_free(&url[j]);
		}
		done += m;
	}
}

void
kube_resp_free(struct kube_resp *r)
{
	buf_free(&r->body);
	memset(r, 0, sizeof(*r));
}

struct dnode *
kube_json(struct arena *a, const struct kube_resp *r)
{
	struct dnode *root = NULL;
	if (!r->body.len)
		return NULL;
	/* managedFields, often most of an object, is never read here */
	if (doc_parse_json_skip(a, r->body.s, r->body.len, "managedFields", &root) == 0)
		return root;
	/* not JSON (a proxy's page, say): what libyaml makes of it */
	if (doc_parse_first(a, r->body.s, r->body.len, NULL, &root, NULL) < 0)
		return NULL;
	return root;
}

void
kube_error(struct kube *k, const char *what, const struct kube_resp *r, struct buf *err)
{
	struct arena a = {0};
	struct dnode *st = kube_json(&a, r);
	const char *kind = doc_str(doc_get(st, "kind"));
	int is_status = kind && strcmp(kind, "Status") == 0;
	const char *msg = is_status ? doc_str(doc_get(st, "message")) : NULL;
	const char *reason = is_status ? doc_str(doc_get(st, "reason")) : NULL;
	const struct dnode *details = doc_get(st, "details");
	const struct dnode *causes = doc_get(details, "causes");
	buf_printf(err, "%s: ", what);
	int conflict = 0;
	for (size_t i = 0; causes && causes->kind == D_SEQ && i < causes->n; i++) {
		const char *cr = doc_str(doc_get(causes->items[i], "reason"));
		if (cr && strcmp(cr, "FieldManagerConflict") == 0)
			conflict = 1;
	}
	if (r->code == 409 && conflict) {
		buf_adds(err, "conflict: fields owned by another field manager:");
		for (size_t i = 0; i < causes->n; i++) {
			const char *f = doc_str(doc_get(causes->items[i], "field"));
			const char *m = doc_str(doc_get(causes->items[i], "message"));
			buf_printf(err, " %s (%s)%s", f ? f : "?", m ? m : "?",
				   i + 1 < causes->n ? ";" : "");
		}
		buf_adds(err, "; run with --force-conflicts to take them over, or remove them "
			      "from the manifest");
	} else if (r->code == 401) {
		buf_printf(err, "unauthorized (HTTP 401): the server did not accept %s (%s)",
			   k->cfg.cred ? k->cfg.cred : "the credential", k->cfg.where);
	} else if (r->code == 403) {
		buf_printf(err, "forbidden (HTTP 403): %s; used %s (%s)", msg ? msg : "access denied",
			   k->cfg.cred ? k->cfg.cred : "no credential", k->cfg.where);
	} else if (r->code == 404 && !is_status) {
		buf_adds(err, "the server has no such resource (HTTP 404; is the API group served, "
			      "or its CRD installed?)");
	} else if (r->code == 404 && details &&
		   doc_str(doc_get(details, "kind")) &&
		   strcmp(doc_str(doc_get(details, "kind")), "namespaces") == 0 && what &&
		   msg && strstr(msg, "namespaces \"")) {
		buf_printf(err, "namespace %s does not exist (HTTP 404): create it in an earlier "
			   "layer, or give the layer that namespace",
			   doc_str(doc_get(details, "name")) ? doc_str(doc_get(details, "name")) : "?");
	} else if (r->code == 415) {
		buf_adds(err, "the server does not support server-side apply (HTTP 415)");
	} else {
		buf_printf(err, "%s (HTTP %ld%s%s)", msg ? msg : "the request failed", r->code,
			   reason ? ", " : "", reason ? reason : "");
		for (size_t i = 0; causes && causes->kind == D_SEQ && i < causes->n; i++) {
			const char *f = doc_str(doc_get(causes->items[i], "field"));
			const char *m = doc_str(doc_get(causes->items[i], "message"));
			if (msg && m && f && strstr(msg, m))
				continue; /* already said */
			buf_printf(err, "; %s%s%s", f ? f : "", f ? ": " : "", m ? m : "");
		}
	}
	arena_free(&a);
}

/* a watch's stream: events, one JSON object a line */
struct watch_sink {
	struct buf line;
	int event;      /* an ADDED, MODIFIED or DELETED came */
	struct buf error; /* an ERROR event's object */
};

static size_t
on_watch(char *p, size_t sz, size_t n, void *u)
{
	struct watch_sink *w = u;
	buf_add(&w->line, p, sz * n);
	char *nl;
	while (!w->event && !w->error.len && (nl = memchr(w->line.s, '\n', w->line.len))) {
		size_t len = (size_t)(nl - w->line.s);
		struct arena a = {0};
		struct dnode *ev = NULL;
		if (doc_parse_json_skip(&a, w->line.s, len, "managedFields", &ev) == 0 && ev) {
			const char *type = doc_str(doc_get(ev, "type"));
			if (type && strcmp(type, "ERROR") == 0)
				buf_add(&w->error, w->line.s, len);
			else if (type && strcmp(type, "BOOKMARK") != 0)
				w->event = 1;
		}
		arena_free(&a);
		memmove(w->line.s, nl + 1, w->line.len - len - 1);
		w->line.len -= len + 1;
	}
	if (w->line.len > ANSWER_MAX)
		buf_adds(&w->error, "an event larger than the most addonmake reads");
	/* the first event (or an error) is what the watch was for: ending the
	 * transfer here ends the stream (CURLE_WRITE_ERROR) */
	return w->event || w->error.len ? 0 : sz * n;
}

static int
h2_on_watch(void *u, const char *p, size_t n)
{
	return on_watch((char *)p, 1, n, u) != n;
}

/* x's watch on the HTTP/2 client, for left ms: how libcurl would have
 * ended it, and the status in *code */
static CURLcode
watch_h2(struct kube *k, struct h2_conn *hc, struct xfer *x, struct watch_sink *w, int64_t left,
	 long *code)
{
	x->h2.on_data = h2_on_watch;
	x->h2.u = w;
	x->h2.deadline = now_ms() + left;
	struct h2_req *q = &x->h2;
	h2_run(hc, &q, 1, k->cancel);
	*code = x->h2.status;
	if (x->h2.why.s)
		snprintf(x->ebuf, sizeof(x->ebuf), "%s", x->h2.why.s);
	return x->h2.err == H2_OK	  ? CURLE_OK
	       : x->h2.err == H2_ETIMEDOUT ? CURLE_OPERATION_TIMEDOUT
	       : x->h2.err == H2_ESTOPPED  ? CURLE_ABORTED_BY_CALLBACK
					   : CURLE_RECV_ERROR;
}

int
kube_watch(struct kube *k, const char *path, const char *query, int64_t until,
	   struct buf *err)
{
	int64_t left = until - now_ms();
	if (left <= 0)
		return 0;
	if (ready_credential(k, err) < 0)
		return -1;
	struct buf url = {0};
	url_of(k, &url, path, query);
	struct xfer x = {0};
	struct kube_resp r = {0};
	struct watch_sink w = {0};
	/* a handle of its own, outside the slots: a watch lasts, and the
	 * requests of other layers go on meanwhile */
	size_t room;
	struct buf down = {0};
	struct h2_conn *hc = kube_h2(k, &room, &down);
	if (down.len) {
		buf_printf(err, "the watch of %s%s failed: %s", k->cfg.server, path, down.s);
		buf_free(&down);
		buf_free(&url);
		return -1;
	}
	x.conn.h = hc ? NULL : handle_new(k);
	xfer_setup(k, &x, "GET", url.s, NULL, "application/json", NULL, 0, &r);
	pthread_mutex_lock(&k->mu);
	k->nreq++;
	pthread_mutex_unlock(&k->mu);
	CURLcode cc;
	long code = 0;
	if (hc) {
		cc = watch_h2(k, hc, &x, &w, left, &code);
	} else {
		curl_easy_setopt(x.conn.h, CURLOPT_WRITEFUNCTION, on_watch);
		curl_easy_setopt(x.conn.h, CURLOPT_WRITEDATA, &w);
		curl_easy_setopt(x.conn.h, CURLOPT_TIMEOUT_MS, (long)left);
		loop_run(k, &x.conn.h, 1, &cc);
		curl_easy_getinfo(x.conn.h, CURLINFO_RESPONSE_CODE, &code);
	}
	int rc;
	if (w.event) {
		rc = 1;
	} else if (w.error.len) {
		buf_printf(err, "the watch of %s ended with an error: %.*s", path,
			   (int)(w.error.len > 300 ? 300 : w.error.len), w.error.s);
		rc = -1;
	} else if (cc == CURLE_OPERATION_TIMEDOUT && code == 200) {
		rc = 0;
	} else if (cc == CURLE_OK && code == 200) {
		buf_printf(err, "the server ended the watch of %s", path);
		rc = -1;
	} else if (code && code != 200) {
		r.code = code;
		r.body = w.line;
		w.line = (struct buf){0};
		kube_error(k, path, &r, err);
		rc = -1;
	} else {
		buf_printf(err, "the watch of %s%s failed: %s", k->cfg.server, path,
			   x.ebuf[0] ? x.ebuf : curl_easy_strerror(cc));
		rc = cc == CURLE_ABORTED_BY_CALLBACK || cc == CURLE_OPERATION_TIMEDOUT ? 0 : -1;
	}
	xfer_clean(&x);
	if (x.conn.h)
		conn_free(&x.conn);
	buf_free(&url);
	buf_free(&w.line);
	buf_free(&w.error);
	kube_resp_free(&r);
	return rc;
}
