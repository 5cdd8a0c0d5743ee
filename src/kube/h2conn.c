/* h2conn: the connections of a cluster on addonmake's own client
 * (src/h2/), which costs a third of libcurl's CPU and a sixth of its
 * system calls for the same requests (tests/bench/kube): HTTP/2 for an
 * https server that chooses it, HTTP/1.1 for an http one, either reached
 * with no proxy. Anything else (an https server that does not offer
 * HTTP/2 or whose TLS fails, a proxy from the environment, basic
 * credentials) goes by libcurl, which then reports its own errors. A
 * server that cannot be reached at all (no TCP connection, no TLS answer
 * in time) is not tried by libcurl too, which would only wait as long
 * again: the request fails in the client's own words, and its next try
 * connects again. An HTTP/2 connection that fails or that the server
 * closes (GOAWAY) is kept until the end of the run, for the requests
 * still on it, and the next request makes a new one; so does a new client
 * certificate from an exec plugin. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include "../http/http.h"
#include "internal.h"

void
kube_host_port(const char *url, struct buf *host, struct buf *port)
{
	const char *p = strstr(url, "://");
	p = p ? p + 3 : url;
	const char *end = p + strcspn(p, "/");
	const char *colon = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		colon = rb && rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
	} else {
		colon = memchr(p, ':', (size_t)(end - p));
	}
	buf_add(host, p, (size_t)((colon ? colon : end) - p));
	if (colon)
		buf_add(port, colon + 1, (size_t)(end - colon - 1));
	else
		buf_adds(port, strncmp(url, "http://", 7) == 0 ? "80" : "443");
}

/* whether this cluster's requests may go by addonmake's own client at
 * all */
static int
eligible(const struct kube_cfg *c)
{
	int tls = strncmp(c->server, "https://", 8) == 0;
	if ((!tls && strncmp(c->server, "http://", 7) != 0) || (c->username && !c->token))
		return 0;
	/* libcurl honours these (http_proxy in lower case only); the own
	 * client has no proxy */
	const char *proxy[] = {tls ? "https_proxy" : "http_proxy", tls ? "HTTPS_PROXY" : NULL,
			       "all_proxy", "ALL_PROXY"};
	for (size_t i = 0; i < sizeof(proxy) / sizeof(proxy[0]); i++) {
		const char *v = proxy[i] ? getenv(proxy[i]) : NULL;
		if (v && *v)
			return 0;
	}
	return !tls || h2_unavailable() == NULL;
}

int
kube_needs_curl(const struct kube_cfg *cfg)
{
	return !eligible(cfg);
}

void
kube_preload(const struct kube_cfg *cfg)
{
	/* eligible loads the HTTP/2 client's libraries for an https server */
	if (!eligible(cfg))
		http_init();
}

/* the TLS connection of an https server (host and port as connected to) */
static int
tls_open(struct kube *k, const char *host, const char *port, struct h2_conn **h,
	 enum h2_fail *fail, struct buf *why)
{
	const struct kube_cfg *c = &k->cfg;
	pthread_mutex_lock(&k->mu);
	const struct buf *cert = k->exec_cert.len ? &k->exec_cert : &c->cert;
	const struct buf *key = k->exec_key.len ? &k->exec_key : &c->key;
	struct h2_tls t = {.host = host, .port = port, .name = c->tls_server_name,
			   .ca = c->ca.s, .ca_len = c->ca.len, .insecure = c->insecure};
	if (cert->len && key->len) {
		t.cert = cert->s, t.cert_len = cert->len;
		t.key = key->s, t.key_len = key->len;
	}
	/* an exec plugin's certificate may change: the connections are made
	 * again then */
	unsigned gen = k->exec_cert.len ? k->cred_gen : 0;
	pthread_mutex_unlock(&k->mu);
	int rc = h2_connect(&t, now_ms() + 10000, h, fail, why);
	if (rc == 0) {
		k->h2_cert_gen = gen;
		pthread_mutex_lock(&k->mu);
		k->limit = POOL_MAX; /* streams cost no connection */
		pthread_mutex_unlock(&k->mu);
	}
	return rc;
}

/* a new connection for k (k->h2mu held, k->mu not): 0, or -1 with
 * *fail and why. A server reached without TLS gets HTTP/1.1's sockets,
 * which fail only as unreached. */
static int
h2_open(struct kube *k, enum h2_fail *fail, struct buf *why)
{
	const struct kube_cfg *c = &k->cfg;
	struct buf host = {0}, port = {0};
	kube_host_port(c->server, &host, &port);
	int plain = strncmp(c->server, "http://", 7) == 0;
	if (!k->h2_authority.len) /* as the URL has it: an IPv6 address in brackets */
		buf_printf(&k->h2_authority, "%s:%s",
			   c->tls_server_name && !plain ? c->tls_server_name : host.s, port.s);
	/* an IPv6 address without its brackets, to connect to */
	if (host.len > 1 && host.s[0] == '[') {
		memmove(host.s, host.s + 1, host.len - 2);
		host.len -= 2;
		host.s[host.len] = 0;
	}
	struct h2_conn *h = NULL;
	k->h2_plain = plain;
	*fail = H2_FAIL_UNREACHED;
	int rc = plain ? h2_connect_plain(host.s, port.s, now_ms() + 10000, &h, why)
		       : tls_open(k, host.s, port.s, &h, fail, why);
	if (rc == 0)
		k->h2[k->nh2++] = h;
	buf_free(&host);
	buf_free(&port);
	return rc;
}

/* connection i, retired: kept for the requests still on it */
static void
retire(struct kube *k, size_t i)
{
	k->h2_old = xrealloc(k->h2_old, (k->nh2_old + 1) * sizeof(*k->h2_old));
	k->h2_old[k->nh2_old++] = k->h2[i];
	k->h2[i] = k->h2[--k->nh2];
}

/* the connection with the most room (k->h2mu held), or -1 */
static int
roomiest(struct kube *k, size_t *room)
{
	int best = -1;
	*room = 0;
	for (size_t i = 0; i < k->nh2; i++) {
		size_t r = h2_room(k->h2[i]);
		if (best < 0 || r > *room)
			best = (int)i, *room = r;
	}
	return best;
}

struct h2_conn *
kube_h2(struct kube *k, size_t *room, struct buf *down)
{
	pthread_mutex_lock(&k->h2mu);
	if (!k->h2_tried)
		k->h2_off = !eligible(&k->cfg);
	k->h2_tried = 1;
	pthread_mutex_lock(&k->mu);
	unsigned gen = k->cred_gen;
	pthread_mutex_unlock(&k->mu);
	for (size_t i = k->nh2; i-- > 0;)
		if (!h2_usable(k->h2[i]) || (k->h2_cert_gen && k->h2_cert_gen != gen))
			retire(k, i);
	int best = roomiest(k, room);
	/* a server's first connection failing sends it to libcurl, unless
	 * the server could not be reached at all: libcurl would only wait
	 * for it again, as long */
	enum h2_fail fail = H2_FAIL_NONE;
	if (!k->h2_off && (best < 0 || (!*room && !k->h2_plain)) && k->nh2 < KUBE_H2_CONNS) {
		struct buf why = {0};
		const char *nocurl = NULL;
		if (h2_open(k, &fail, &why) == 0)
			best = roomiest(k, room);
		else if (fail == H2_FAIL_UNREACHED && best < 0)
			buf_adds(down, why.s); /* else a connection there serves */
		else if (!k->nh2 && (nocurl = http_unavailable()))
			buf_printf(down, "%s; libcurl, which would serve it instead: %s", why.s, nocurl);
		else if (!k->nh2)
			k->h2_off = 1;
		buf_free(&why);
	}
	struct h2_conn *h = k->h2_off || best < 0 ? NULL : k->h2[best];
	pthread_mutex_unlock(&k->h2mu);
	if (*room < 1)
		*room = 1;
	return h;
}

void
kube_h2_close(struct kube *k)
{
	for (size_t i = 0; i < k->nh2; i++)
		h2_close(k->h2[i]);
	for (size_t i = 0; i < k->nh2_old; i++)
		h2_close(k->h2_old[i]);
	free(k->h2_old);
	buf_free(&k->h2_authority);
}
