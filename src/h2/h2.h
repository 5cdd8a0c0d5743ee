/* h2: addonmake's own HTTP client for one server: HTTP/2 over TLS, on
 * nghttp2 and OpenSSL, both loaded on first use (as libcurl is,
 * src/http/curl_lazy.c), and HTTP/1.1 over plain TCP (h1.c), which needs
 * neither, behind the same requests and driving. What libcurl 7.88
 * costs for many small requests on one HTTP/2 connection — two reads a
 * TLS record, a write a frame, a zero-timeout poll of every transfer after
 * every wake — is what this client does not do: every frame waiting to go
 * out leaves in one TLS write, TLS records are read ahead, and the socket
 * is polled only when OpenSSL holds nothing unread (tests/bench/h2_floor.c
 * measures the difference).
 *
 * A connection serves several callers at once, threads or fibers
 * (src/lib/fiber.c): each hands its requests in with h2_run; one of them
 * at a time drives the connection for all, the others wait until theirs
 * have ended (as src/kube/loop.c does with libcurl's multi handle). Knows
 * nothing of Kubernetes. */
#ifndef H2_H
#define H2_H

#include <stdint.h>
#include "../lib/lib.h"

/* NULL when nghttp2 and OpenSSL can be loaded; else why not (and what to
 * install). Loads them the first time. */
const char *h2_unavailable(void);

/* where to connect and how to trust the server */
struct h2_tls {
	const char *host, *port; /* host: a name, an IPv4 or IPv6 address */
	const char *name;        /* verified (and sent as SNI) instead of host */
	const char *ca;          /* PEM text, or NULL for the system's CAs */
	size_t ca_len;
	const char *cert, *key;  /* client certificate and key, PEM text */
	size_t cert_len, key_len;
	int insecure;            /* no verification at all */
};

/* how a request ended besides an answer */
enum h2_err {
	H2_OK,
	H2_ECONN,     /* the connection failed or closed (why says how) */
	H2_ERESET,    /* the server reset the stream */
	H2_ETIMEDOUT, /* the request's deadline passed */
	H2_ESTOPPED,  /* its on_data asked to stop, or the run was cancelled */
};

struct h2_conn;

/* where h2_connect failed, for the caller to choose what next */
enum h2_fail {
	H2_FAIL_NONE,
	/* no TCP connection, or no TLS answer by the deadline: another client
	 * would wait and fail the same way */
	H2_FAIL_UNREACHED,
	/* TLS failed with the server's answer (its certificate, say), or
	 * nothing could be set up here */
	H2_FAIL_TLS,
	/* TLS worked but the server did not choose HTTP/2: a client that
	 * speaks HTTP/1.1 is wanted there */
	H2_FAIL_NOT_H2,
};

/* opens a connection: 0 with *c, or -1 with why and *fail */
int h2_connect(const struct h2_tls *t, int64_t deadline_ms, struct h2_conn **c,
	       enum h2_fail *fail, struct buf *why);
/* opens HTTP/1.1 over plain TCP to host:port (a server reached without
 * TLS) behind the same requests: a socket for each request in flight,
 * kept alive for the next. 0 with *c, or -1 with why when the first
 * socket cannot be connected. */
int h2_connect_plain(const char *host, const char *port, int64_t deadline_ms,
		     struct h2_conn **c, struct buf *why);
/* closes c (no h2_run may be running on it) */
void h2_close(struct h2_conn *c);
/* whether c takes new requests: not failed, no GOAWAY from the server */
int h2_usable(struct h2_conn *c);
/* how many more requests c takes at once before they wait for streams
 * (the server's limit of concurrent streams, less those in flight) */
size_t h2_room(struct h2_conn *c);

/* one request; the caller sets the first part and reads the last */
struct h2_req {
	const char *method, *path, *authority;
	const char *const *hdr; /* lower-case name, value, name, value... */
	size_t nhdr;            /* pairs */
	const char *body;       /* NULL: none */
	size_t len;
	int64_t deadline;       /* now_ms() after which it ends with H2_ETIMEDOUT */
	/* each response header but the status; each piece of the body: a
	 * non-zero return stops the request (H2_ESTOPPED) */
	void (*on_header)(void *u, const char *name, size_t nl, const char *val, size_t vl);
	int (*on_data)(void *u, const char *p, size_t n);
	void *u;
	int status;             /* the answer's, 0 without one */
	enum h2_err err;
	struct buf why;         /* for err, in words (freed by the caller) */
	/* h2_run's */
	size_t off;
	int32_t id;
	int done;
	const int *cancel;
	struct relay_wait *w;
	struct h2_req *next;
};

/* runs the n requests on c and returns when each has ended (answered in
 * full, or err set); cancel, when non-NULL and non-zero, stops them */
void h2_run(struct h2_conn *c, struct h2_req *const *r, size_t n, const int *cancel);

#endif
