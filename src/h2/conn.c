/* conn: a connection made — TCP to the first address of the host that
 * answers, TLS verified as the kubeconfig says (its CA or the system's,
 * the host's name or address or tls-server-name, a client certificate),
 * HTTP/2 chosen by ALPN — and its nghttp2 session set up. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include "internal.h"

/* a stream's and the connection's receive window: a LIST of a few MiB
 * comes without waiting for window updates */
#define H2_WINDOW (16 << 20)

/* waits for fd to be ready for ev until deadline: 1, or 0 when it passed */
static int
wait_fd(int fd, short ev, int64_t deadline)
{
	for (;;) {
		int64_t left = deadline - now_ms();
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = fd, .events = ev};
		int n = poll(&p, 1, left > 1000 ? 1000 : (int)left);
		if (n > 0)
			return 1;
		if (n < 0 && errno != EINTR)
			return 1; /* the next call on fd says what is wrong */
	}
}

int
h2_tcp_connect(const char *host, const char *port, int64_t deadline, struct buf *why)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
	struct addrinfo *ai = NULL;
	int e = getaddrinfo(host, port, &hints, &ai);
	if (e) {
		buf_printf(why, "cannot resolve %s: %s", host, gai_strerror(e));
		return -1;
	}
	int fd = -1, err = 0;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			err = errno;
			continue;
		}
		if (connect(fd, a->ai_addr, a->ai_addrlen) < 0 && errno == EINPROGRESS) {
			socklen_t l = sizeof(err);
			if (!wait_fd(fd, POLLOUT, deadline))
				err = ETIMEDOUT;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l) < 0)
				err = errno;
		} else {
			err = errno == EINPROGRESS ? 0 : errno;
		}
		if (err) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		buf_printf(why, "cannot connect to %s port %s: %s", host, port, strerror(err));
		return -1;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

/* OpenSSL's last error in words, after what */
static void
ossl_why(struct buf *why, const char *what)
{
	unsigned long e = ERR_get_error();
	char s[256];
	ERR_error_string_n(e, s, sizeof(s));
	buf_printf(why, "%s: %s", what, e ? s : "no reason given");
	ERR_clear_error();
}

/* the certificates of PEM text into the CA store: 0, or -1 with why */
static int
add_cas(SSL_CTX *ctx, const char *pem, size_t len, struct buf *why)
{
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	X509_STORE *st = F(SSL_CTX_get_cert_store)(ctx);
	int n = 0;
	X509 *x;
	while (b && (x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
		X509_STORE_add_cert(st, x);
		X509_free(x);
		n++;
	}
	BIO_free(b);
	ERR_clear_error(); /* the end of the text reads as an error */
	if (!n)
		buf_adds(why, "the certificate authority holds no PEM certificate");
	return n ? 0 : -1;
}

/* the client certificate (and its chain) and key: 0, or -1 with why */
static int
use_cert(SSL_CTX *ctx, const struct h2_tls *t, struct buf *why)
{
	BIO *b = BIO_new_mem_buf(t->cert, (int)t->cert_len);
	X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
	int ok = x && F(SSL_CTX_use_certificate)(ctx, x) == 1;
	X509_free(x);
	while (ok && (x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
		if (F(SSL_CTX_ctrl)(ctx, SSL_CTRL_EXTRA_CHAIN_CERT, 0, x) != 1)
			X509_free(x);
	BIO_free(b);
	ERR_clear_error();
	if (!ok) {
		ossl_why(why, "the client certificate cannot be used");
		return -1;
	}
	b = BIO_new_mem_buf(t->key, (int)t->key_len);
	EVP_PKEY *k = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	ok = k && F(SSL_CTX_use_PrivateKey)(ctx, k) == 1 && F(SSL_CTX_check_private_key)(ctx) == 1;
	EVP_PKEY_free(k);
	BIO_free(b);
	if (!ok)
		ossl_why(why, "the client key cannot be used");
	return ok ? 0 : -1;
}

static SSL_CTX *
tls_ctx(const struct h2_tls *t, struct buf *why)
{
	SSL_CTX *ctx = F(SSL_CTX_new)(F(TLS_client_method)());
	if (!ctx) {
		ossl_why(why, "TLS cannot be set up");
		return NULL;
	}
	F(SSL_CTX_ctrl)(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION, NULL);
	/* writes may be partial on a full socket; reads take every record
	 * that has come (SSL_has_pending then says so) */
	F(SSL_CTX_ctrl)(ctx, SSL_CTRL_MODE,
			SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER, NULL);
	F(SSL_CTX_ctrl)(ctx, SSL_CTRL_SET_READ_AHEAD, 1, NULL);
	static const unsigned char alpn[] = "\x02h2";
	F(SSL_CTX_set_alpn_protos)(ctx, alpn, sizeof(alpn) - 1);
	F(SSL_CTX_set_verify)(ctx, t->insecure ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
	int rc = 0;
	if (!t->insecure && t->ca && t->ca_len)
		rc = add_cas(ctx, t->ca, t->ca_len, why);
	else if (!t->insecure && F(SSL_CTX_set_default_verify_paths)(ctx) != 1)
		rc = -1, ossl_why(why, "the system's certificate authorities cannot be read");
	if (rc == 0 && t->cert && t->cert_len && t->key && t->key_len)
		rc = use_cert(ctx, t, why);
	if (rc < 0) {
		F(SSL_CTX_free)(ctx);
		return NULL;
	}
	return ctx;
}

/* the socket under TLS, written with MSG_NOSIGNAL: a server that has
 * gone away is an error to report, not a SIGPIPE that ends the process */
static int
bio_write(BIO *b, const char *p, int n)
{
	BIO_clear_retry_flags(b);
	ssize_t w = send((int)(intptr_t)BIO_get_data(b), p, (size_t)n, MSG_NOSIGNAL);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_write(b);
	return (int)w;
}

static int
bio_read(BIO *b, char *p, int n)
{
	BIO_clear_retry_flags(b);
	ssize_t r = recv((int)(intptr_t)BIO_get_data(b), p, (size_t)n, 0);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		BIO_set_retry_read(b);
	return (int)r;
}

static long
bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	(void)b, (void)num, (void)ptr;
	return cmd == BIO_CTRL_FLUSH;
}

static pthread_once_t bio_once = PTHREAD_ONCE_INIT;
static BIO_METHOD *bio_method;

static void
bio_setup(void)
{
	bio_method = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "addonmake socket");
	if (bio_method) {
		BIO_meth_set_write(bio_method, bio_write);
		BIO_meth_set_read(bio_method, bio_read);
		BIO_meth_set_ctrl(bio_method, bio_ctrl);
	}
}

/* a BIO over fd, or NULL */
static BIO *
socket_bio(int fd)
{
	pthread_once(&bio_once, bio_setup);
	BIO *b = bio_method ? BIO_new(bio_method) : NULL;
	if (b) {
		BIO_set_data(b, (void *)(intptr_t)fd);
		BIO_set_init(b, 1);
	}
	return b;
}

/* the name or address the certificate must be for, and SNI for a name */
static void
tls_peer(SSL *ssl, const char *name)
{
	X509_VERIFY_PARAM *p = F(SSL_get0_param)(ssl);
	unsigned char a[16];
	if (inet_pton(AF_INET, name, a) == 1 || inet_pton(AF_INET6, name, a) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(p, name);
		return;
	}
	X509_VERIFY_PARAM_set1_host(p, name, 0);
	F(SSL_ctrl)(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, (void *)name);
}

/* the TLS handshake on c->fd: 0, or -1 with why */
static int
handshake(struct h2_conn *c, const struct h2_tls *t, int64_t deadline, struct buf *why)
{
	c->ssl = F(SSL_new)(c->ctx);
	BIO *b = c->ssl ? socket_bio(c->fd) : NULL;
	if (!b) {
		ossl_why(why, "TLS cannot be set up");
		return -1;
	}
	F(SSL_set_bio)(c->ssl, b, b);
	if (!t->insecure)
		tls_peer(c->ssl, t->name ? t->name : t->host);
	for (;;) {
		int r = F(SSL_connect)(c->ssl);
		if (r == 1)
			return 0;
		int e = F(SSL_get_error)(c->ssl, r);
		if ((e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) &&
		    wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline))
			continue;
		long v = F(SSL_get_verify_result)(c->ssl);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			buf_printf(why, "the TLS handshake with %s timed out", t->host);
		else if (v != X509_V_OK)
			buf_printf(why, "SSL certificate problem: %s", X509_verify_cert_error_string(v));
		else
			ossl_why(why, "the TLS handshake failed");
		return -1;
	}
}

static int
session_new(struct h2_conn *c)
{
	nghttp2_session_callbacks *cb;
	if (F(nghttp2_session_callbacks_new)(&cb) != 0)
		return -1;
	h2_callbacks(cb);
	int rc = F(nghttp2_session_client_new)(&c->s, cb, c);
	F(nghttp2_session_callbacks_del)(cb);
	if (rc != 0)
		return -1;
	nghttp2_settings_entry set[] = {
		{NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
		{NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, H2_WINDOW},
	};
	if (F(nghttp2_submit_settings)(c->s, NGHTTP2_FLAG_NONE, set, 2) != 0 ||
	    F(nghttp2_session_set_local_window_size)(c->s, NGHTTP2_FLAG_NONE, 0, H2_WINDOW) != 0)
		return -1;
	return 0;
}

int
h2_connect(const struct h2_tls *t, int64_t deadline, struct h2_conn **out, enum h2_fail *fail,
	   struct buf *why)
{
	*out = NULL;
	*fail = H2_FAIL_TLS;
	const char *no = h2_unavailable();
	if (no) {
		buf_adds(why, no);
		return -1;
	}
	struct h2_conn *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	h2_relay_init(c);
	c->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	c->fd = h2_tcp_connect(t->host, t->port, deadline, why);
	int rc = c->wake < 0 || c->fd < 0 ? -1 : 0;
	if (c->wake < 0 && c->fd >= 0)
		buf_printf(why, "eventfd: %s", strerror(errno));
	else if (c->fd < 0)
		*fail = H2_FAIL_UNREACHED;
	if (rc == 0 && (!(c->ctx = tls_ctx(t, why)) || handshake(c, t, deadline, why) < 0))
		rc = -1;
	if (rc == 0) {
		const unsigned char *p = NULL;
		unsigned n = 0;
		F(SSL_get0_alpn_selected)(c->ssl, &p, &n);
		if (n != 2 || memcmp(p, "h2", 2) != 0) {
			*fail = H2_FAIL_NOT_H2;
			buf_printf(why, "%s does not speak HTTP/2", t->host);
			rc = -1;
		}
	}
	if (rc == 0 && session_new(c) < 0) {
		buf_adds(why, "HTTP/2 cannot be set up (no memory)");
		rc = -1;
	}
	if (rc == 0)
		rc = h2_preface(c, deadline, why);
	/* a server silent until the deadline is no better reached otherwise */
	if (rc < 0 && *fail == H2_FAIL_TLS && now_ms() >= deadline)
		*fail = H2_FAIL_UNREACHED;
	if (rc < 0) {
		h2_close(c);
		return -1;
	}
	*out = c;
	*fail = H2_FAIL_NONE;
	return 0;
}

int
h2_connect_plain(const char *host, const char *port, int64_t deadline, struct h2_conn **out,
		 struct buf *why)
{
	struct h2_conn *c = xcalloc(1, sizeof(*c));
	pthread_mutex_init(&c->mu, NULL);
	c->fd = -1;
	c->wake = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	int rc = c->wake < 0 ? -1 : h1_open(c, host, port, deadline, why);
	if (c->wake < 0)
		buf_printf(why, "eventfd: %s", strerror(errno));
	h2_relay_init(c);
	if (rc < 0) {
		h2_close(c);
		c = NULL;
	}
	*out = c;
	return rc;
}

void
h2_close(struct h2_conn *c)
{
	if (!c)
		return;
	h1_free(c->h1);
	if (c->s)
		F(nghttp2_session_del)(c->s);
	if (c->ssl)
		F(SSL_free)(c->ssl);
	if (c->ctx)
		F(SSL_CTX_free)(c->ctx);
	if (c->fd >= 0)
		close(c->fd);
	if (c->wake >= 0)
		close(c->wake);
	free(c->out);
	buf_free(&c->fail_why);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

int
h2_usable(struct h2_conn *c)
{
	pthread_mutex_lock(&c->mu);
	int ok = !c->failed && !c->goaway;
	pthread_mutex_unlock(&c->mu);
	return ok;
}

size_t
h2_room(struct h2_conn *c)
{
	pthread_mutex_lock(&c->mu);
	size_t room = c->outstanding < c->max_streams ? c->max_streams - c->outstanding : 0;
	pthread_mutex_unlock(&c->mu);
	return room;
}
