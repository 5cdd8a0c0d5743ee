/* h2_floor: what an HTTP/2 client of its own would cost for the kube
 * benchmark's requests on the real API server. Sends the same server-side
 * apply PATCHes as curl_floor (LAYERS x OBJECTS ConfigMaps), 8 streams at
 * once on one TLS connection, with nghttp2 and OpenSSL and no libcurl:
 * every frame waiting to go out is sent in one TLS write, and a read takes
 * whatever TLS records have come (read-ahead; poll only when OpenSSL holds
 * nothing unread, SSL_has_pending).
 * tests/bench/kube builds and times it as a reference, where nghttp2's
 * headers are installed; it is not a part of addonmake.
 *
 *   h2_floor PORT CA_FILE TOKEN PREFIX LAYERS OBJECTS
 *
 * Objects go to namespace default, named PREFIX-LAYER-OBJECT. */
#include <nghttp2/nghttp2.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define INFLIGHT 8

struct floor {
	SSL *ssl;
	nghttp2_session *s;
	const char *prefix, *auth;
	int no, total, sent, done, failed;
	/* frames nghttp2 has produced, sent in one SSL_write a turn */
	unsigned char out[65536];
	size_t outn;
};

/* one stream's request: its path and body, read by the data provider */
struct req {
	char path[256], body[512];
	size_t len, off;
	int status;
};

static ssize_t
on_send(nghttp2_session *s, const uint8_t *data, size_t n, int flags, void *u)
{
	(void)s, (void)flags;
	struct floor *f = u;
	if (n > sizeof(f->out) - f->outn)
		return f->outn ? NGHTTP2_ERR_WOULDBLOCK : NGHTTP2_ERR_CALLBACK_FAILURE;
	memcpy(f->out + f->outn, data, n);
	f->outn += n;
	return (ssize_t)n;
}

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t n, uint32_t *flags,
	  nghttp2_data_source *src, void *u)
{
	(void)s, (void)id, (void)u;
	struct req *r = src->ptr;
	size_t left = r->len - r->off;
	if (n > left)
		n = left;
	memcpy(buf, r->body + r->off, n);
	r->off += n;
	if (r->off == r->len)
		*flags |= NGHTTP2_DATA_FLAG_EOF;
	return (ssize_t)n;
}

static int
on_header(nghttp2_session *s, const nghttp2_frame *fr, const uint8_t *name, size_t nl,
	  const uint8_t *value, size_t vl, uint8_t flags, void *u)
{
	(void)fr, (void)flags, (void)u, (void)vl;
	struct req *r = nghttp2_session_get_stream_user_data(s, fr->hd.stream_id);
	if (r && nl == 7 && !memcmp(name, ":status", 7))
		r->status = atoi((const char *)value);
	return 0;
}

static int
on_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *data, size_t n,
	 void *u)
{
	(void)s, (void)flags, (void)id, (void)data, (void)n, (void)u;
	return 0; /* the answer is discarded, as curl_floor does */
}

static void submit(struct floor *f);

static int
on_close(nghttp2_session *s, int32_t id, uint32_t code, void *u)
{
	struct floor *f = u;
	struct req *r = nghttp2_session_get_stream_user_data(s, id);
	if (!r)
		return 0;
	if (code || r->status < 200 || r->status >= 300) {
		fprintf(stderr, "h2_floor: %s: status %d, error %u\n", r->path, r->status, code);
		f->failed = 1;
	}
	free(r);
	f->done++;
	submit(f);
	return 0;
}

/* the next object's PATCH, if any is left */
static void
submit(struct floor *f)
{
	if (f->sent >= f->total)
		return;
	struct req *r = calloc(1, sizeof(*r));
	if (!r) {
		f->failed = 1;
		return;
	}
	int i = f->sent++, l = i / f->no, o = i % f->no;
	snprintf(r->path, sizeof(r->path),
		 "/api/v1/namespaces/default/configmaps/%s-%d-%d?fieldManager=floor&force=true",
		 f->prefix, l, o);
	r->len = (size_t)snprintf(
		r->body, sizeof(r->body),
		"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s-%d-%d\","
		"\"namespace\":\"default\"},\"data\":{\"layer\":\"%d\",\"index\":\"%d\","
		"\"text\":\"some value of a setting\"}}",
		f->prefix, l, o, l, o);
#define NV(n, v) {(uint8_t *)(n), (uint8_t *)(v), sizeof(n) - 1, strlen(v), NGHTTP2_NV_FLAG_NONE}
	nghttp2_nv hdr[] = {
		NV(":method", "PATCH"),
		NV(":scheme", "https"),
		NV(":authority", "127.0.0.1"),
		NV(":path", r->path),
		NV("content-type", "application/apply-patch+yaml"),
		NV("authorization", f->auth),
		NV("accept", "application/json"),
	};
	nghttp2_data_provider body = {.source.ptr = r, .read_callback = read_body};
	if (nghttp2_submit_request(f->s, NULL, hdr, sizeof(hdr) / sizeof(hdr[0]), &body, r) < 0) {
		free(r);
		f->failed = 1;
	}
}

/* what nghttp2 has to send, in one TLS write; 0, or -1 on an error */
static int
flush(struct floor *f)
{
	for (;;) {
		int rv = nghttp2_session_send(f->s);
		if (rv && rv != NGHTTP2_ERR_WOULDBLOCK)
			return -1;
		if (!f->outn)
			return 0;
		if (SSL_write(f->ssl, f->out, (int)f->outn) <= 0)
			return -1;
		f->outn = 0;
	}
}

static SSL *
tls_connect(int port, const char *ca)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return NULL;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx || SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1)
		return NULL;
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_read_ahead(ctx, 1);
	static const unsigned char alpn[] = "\x02h2";
	SSL_CTX_set_alpn_protos(ctx, alpn, sizeof(alpn) - 1);
	SSL *ssl = SSL_new(ctx);
	SSL_CTX_free(ctx);
	if (!ssl)
		return NULL;
	X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), "127.0.0.1");
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		return NULL;
	}
	const unsigned char *got;
	unsigned len;
	SSL_get0_alpn_selected(ssl, &got, &len);
	if (len != 2 || memcmp(got, "h2", 2)) {
		fprintf(stderr, "h2_floor: the server does not speak HTTP/2\n");
		return NULL;
	}
	return ssl;
}

int
main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: h2_floor PORT CA_FILE TOKEN PREFIX LAYERS OBJECTS\n");
		return 2;
	}
	static struct floor f;
	char auth[256];
	snprintf(auth, sizeof(auth), "Bearer %s", argv[3]);
	f.auth = auth;
	f.prefix = argv[4];
	f.no = atoi(argv[6]);
	f.total = atoi(argv[5]) * f.no;
	f.ssl = tls_connect(atoi(argv[1]), argv[2]);
	if (!f.ssl) {
		fprintf(stderr, "h2_floor: cannot connect\n");
		return 1;
	}
	nghttp2_session_callbacks *cb;
	nghttp2_session_callbacks_new(&cb);
	nghttp2_session_callbacks_set_send_callback(cb, on_send);
	nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
	nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, on_chunk);
	nghttp2_session_callbacks_set_on_stream_close_callback(cb, on_close);
	nghttp2_session_client_new(&f.s, cb, &f);
	nghttp2_session_callbacks_del(cb);
	nghttp2_submit_settings(f.s, NGHTTP2_FLAG_NONE, NULL, 0);
	for (int k = 0; k < INFLIGHT; k++)
		submit(&f);
	static unsigned char in[65536];
	while (f.done < f.total && !f.failed) {
		if (flush(&f) < 0)
			break;
		if (!SSL_has_pending(f.ssl)) {
			struct pollfd p = {.fd = SSL_get_fd(f.ssl), .events = POLLIN};
			if (poll(&p, 1, 10000) <= 0)
				break;
		}
		int n = SSL_read(f.ssl, in, sizeof(in));
		if (n <= 0) {
			if (SSL_get_error(f.ssl, n) == SSL_ERROR_WANT_READ)
				continue;
			break;
		}
		if (nghttp2_session_mem_recv(f.s, in, (size_t)n) < 0)
			break;
	}
	int ok = f.done == f.total && !f.failed;
	if (!ok)
		fprintf(stderr, "h2_floor: %d of %d requests done\n", f.done, f.total);
	nghttp2_session_del(f.s);
	SSL_free(f.ssl);
	return !ok;
}
