/* internal: what the files of src/h2/ share. libssl and nghttp2 are not
 * linked: their functions are called through h2_fn, filled when they are
 * first needed (lib.c); libcrypto is linked already (digests), so its
 * functions are called directly. OpenSSL's macros that expand to SSL_ctrl
 * or SSL_CTX_ctrl are not used: they would name the linked symbol. */
#ifndef H2_INTERNAL_H
#define H2_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>
#include <openssl/ssl.h>
#include "h2.h"

#define H2_SSL_FNS(X) \
	X(TLS_client_method) X(SSL_CTX_new) X(SSL_CTX_free) X(SSL_CTX_set_verify) \
	X(SSL_CTX_set_default_verify_paths) X(SSL_CTX_get_cert_store) \
	X(SSL_CTX_use_certificate) X(SSL_CTX_use_PrivateKey) X(SSL_CTX_check_private_key) \
	X(SSL_CTX_ctrl) X(SSL_CTX_set_alpn_protos) X(SSL_new) X(SSL_free) X(SSL_set_bio) \
	X(SSL_ctrl) X(SSL_get0_param) X(SSL_connect) X(SSL_get_error) X(SSL_read) \
	X(SSL_write) X(SSL_has_pending) X(SSL_get0_alpn_selected) X(SSL_get_verify_result)

#define H2_NGHTTP2_FNS(X) \
	X(nghttp2_session_callbacks_new) X(nghttp2_session_callbacks_del) \
	X(nghttp2_session_callbacks_set_on_header_callback) \
	X(nghttp2_session_callbacks_set_on_data_chunk_recv_callback) \
	X(nghttp2_session_callbacks_set_on_stream_close_callback) \
	X(nghttp2_session_callbacks_set_on_frame_recv_callback) \
	X(nghttp2_session_client_new) X(nghttp2_session_del) X(nghttp2_submit_settings) \
	X(nghttp2_submit_request) X(nghttp2_session_mem_send) X(nghttp2_session_mem_recv) \
	X(nghttp2_session_get_stream_user_data) X(nghttp2_session_set_stream_user_data) \
	X(nghttp2_session_set_local_window_size) \
	X(nghttp2_submit_rst_stream) X(nghttp2_session_want_read) \
	X(nghttp2_session_want_write) X(nghttp2_strerror) X(nghttp2_http2_strerror) \
	X(nghttp2_session_get_remote_settings)

struct h2_fns {
#define H2_FN_FIELD(n) __typeof__(&n) n;
	H2_SSL_FNS(H2_FN_FIELD)
	H2_NGHTTP2_FNS(H2_FN_FIELD)
#undef H2_FN_FIELD
};

/* filled by h2_unavailable() returning NULL */
extern struct h2_fns h2_fn;
#define F(name) (h2_fn.name)

/* how long a driver sleeps at most: a cancel is seen this soon */
#define H2_NAP_MS 200

struct h1_pool;

struct h2_conn {
	int fd, wake;      /* the socket (-1 for HTTP/1.1); an eventfd that wakes the driver */
	struct h1_pool *h1; /* HTTP/1.1's sockets (h1.c), NULL for HTTP/2 */
	SSL_CTX *ctx;
	SSL *ssl;
	nghttp2_session *s;
	pthread_mutex_t mu; /* what follows up to the driver's own */
	struct h2_req *queue;     /* handed in, not yet given to the session */
	struct relay relay;       /* the callers taking turns driving */
	int failed, goaway;
	struct buf fail_why;      /* why it failed */
	int settings;             /* the server's SETTINGS came */
	size_t max_streams;       /* the server's SETTINGS_MAX_CONCURRENT_STREAMS */
	size_t outstanding;       /* requests handed in and not ended */
	/* the driver's own: whether the connection took no more requests
	 * when it took the queue, frames not yet written, requests in the
	 * session */
	int closed;
	unsigned char *out;
	size_t outn, outoff, outcap;
	struct h2_req *active;
	unsigned char in[32768];
};

/* r has ended (c->mu not held): its caller is told when it was the last
 * of theirs (run.c) */
void h2_finish(struct h2_conn *c, struct h2_req *r, enum h2_err err, const char *why);
/* a TCP connection to host:port (conn.c): the socket, non-blocking, or -1
 * with why */
int h2_tcp_connect(const char *host, const char *port, int64_t deadline, struct buf *why);
/* HTTP/1.1 (h1.c): c's sockets set up and the first connected (0, or -1
 * with why); a turn and a nap of its driver; its sockets freed */
int h1_open(struct h2_conn *c, const char *host, const char *port, int64_t deadline,
	    struct buf *why);
int h1_turn(void *u, void *in);
void h1_nap(void *u, int ms);
void h1_free(struct h1_pool *p);
/* sets the session's callbacks (run.c) */
void h2_callbacks(nghttp2_session_callbacks *cb);
/* sets c->relay up: how c is driven (run.c) */
void h2_relay_init(struct h2_conn *c);
/* sends the client's preface and reads until the server's SETTINGS have
 * come (run.c): 0, or -1 with why */
int h2_preface(struct h2_conn *c, int64_t deadline, struct buf *why);

#endif
