/* run: requests on a connection. Callers hand theirs in and take turns
 * driving the connection for everyone's (src/lib/relay.c). A turn of the
 * driver gives what was handed in to
 * nghttp2, writes every frame waiting in one TLS write, ends what is past
 * its deadline or cancelled, and reads whatever TLS records have come;
 * it sleeps in poll only when OpenSSL holds nothing unread. */
#define _GNU_SOURCE
#include <errno.h>
#include <openssl/err.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "internal.h"

void
h2_finish(struct h2_conn *c, struct h2_req *r, enum h2_err err, const char *why)
{
	if (r->done)
		return;
	if (c->s && r->id > 0)
		F(nghttp2_session_set_stream_user_data)(c->s, r->id, NULL);
	for (struct h2_req **p = &c->active; *p; p = &(*p)->next)
		if (*p == r) {
			*p = r->next;
			break;
		}
	r->err = err;
	if (why)
		buf_adds(&r->why, why);
	pthread_mutex_lock(&c->mu);
	r->done = 1;
	c->outstanding--;
	relay_done(r->w);
	pthread_mutex_unlock(&c->mu);
}

/* the connection has failed: every request on it ends with why */
static void
fail(struct h2_conn *c, const char *fmt, const char *arg)
{
	pthread_mutex_lock(&c->mu);
	if (!c->failed)
		buf_printf(&c->fail_why, fmt, arg);
	c->failed = 1;
	pthread_mutex_unlock(&c->mu);
	while (c->active)
		h2_finish(c, c->active, H2_ECONN, c->fail_why.s);
}

static ssize_t
read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t n, uint32_t *flags,
	  nghttp2_data_source *src, void *u)
{
	(void)s, (void)id, (void)u;
	struct h2_req *r = src->ptr;
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
on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t nl,
	  const uint8_t *val, size_t vl, uint8_t flags, void *u)
{
	(void)flags, (void)u;
	struct h2_req *r = F(nghttp2_session_get_stream_user_data)(s, f->hd.stream_id);
	if (!r)
		return 0;
	if (nl == 7 && memcmp(name, ":status", 7) == 0)
		r->status = atoi((const char *)val);
	else if (r->on_header)
		r->on_header(r->u, (const char *)name, nl, (const char *)val, vl);
	return 0;
}

static int
on_chunk(nghttp2_session *s, uint8_t flags, int32_t id, const uint8_t *p, size_t n, void *u)
{
	(void)flags;
	struct h2_req *r = F(nghttp2_session_get_stream_user_data)(s, id);
	if (r && r->on_data && r->on_data(r->u, (const char *)p, n) != 0) {
		F(nghttp2_submit_rst_stream)(s, NGHTTP2_FLAG_NONE, id, NGHTTP2_CANCEL);
		h2_finish(u, r, H2_ESTOPPED, NULL);
	}
	return 0;
}

static int
on_close(nghttp2_session *s, int32_t id, uint32_t code, void *u)
{
	struct h2_req *r = F(nghttp2_session_get_stream_user_data)(s, id);
	if (!r)
		return 0;
	struct buf why = {0};
	if (code != NGHTTP2_NO_ERROR)
		buf_printf(&why, "the server reset the stream (%s)",
			   F(nghttp2_http2_strerror)(code));
	else if (!r->status)
		buf_adds(&why, "the stream ended without an answer");
	h2_finish(u, r, why.len ? (code ? H2_ERESET : H2_ECONN) : H2_OK, why.s);
	buf_free(&why);
	return 0;
}

static int
on_frame(nghttp2_session *s, const nghttp2_frame *f, void *u)
{
	struct h2_conn *c = u;
	if (f->hd.type == NGHTTP2_GOAWAY) {
		pthread_mutex_lock(&c->mu);
		c->goaway = 1;
		pthread_mutex_unlock(&c->mu);
	} else if (f->hd.type == NGHTTP2_SETTINGS && !(f->hd.flags & NGHTTP2_FLAG_ACK)) {
		uint32_t max = F(nghttp2_session_get_remote_settings)(
			s, NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS);
		pthread_mutex_lock(&c->mu);
		c->settings = 1;
		c->max_streams = max;
		pthread_mutex_unlock(&c->mu);
	}
	return 0;
}

void
h2_callbacks(nghttp2_session_callbacks *cb)
{
	F(nghttp2_session_callbacks_set_on_header_callback)(cb, on_header);
	F(nghttp2_session_callbacks_set_on_data_chunk_recv_callback)(cb, on_chunk);
	F(nghttp2_session_callbacks_set_on_stream_close_callback)(cb, on_close);
	F(nghttp2_session_callbacks_set_on_frame_recv_callback)(cb, on_frame);
}

/* r to the session (or ended, when the connection takes no more) */
static void
submit(struct h2_conn *c, struct h2_req *r, int closed)
{
	if (closed) {
		h2_finish(c, r, H2_ECONN, c->fail_why.len ? c->fail_why.s
						       : "the server is closing the connection");
		return;
	}
	nghttp2_nv nv[4 + 16];
	size_t n = 0;
#define NV(k, v, vl) \
	nv[n++] = (nghttp2_nv){(uint8_t *)(k), (uint8_t *)(v), strlen(k), (vl), NGHTTP2_NV_FLAG_NONE}
	NV(":method", r->method, strlen(r->method));
	NV(":scheme", "https", 5);
	NV(":authority", r->authority, strlen(r->authority));
	NV(":path", r->path, strlen(r->path));
	for (size_t i = 0; i < r->nhdr && n < sizeof(nv) / sizeof(nv[0]); i++)
		NV(r->hdr[2 * i], r->hdr[2 * i + 1], strlen(r->hdr[2 * i + 1]));
#undef NV
	nghttp2_data_provider body = {.source.ptr = r, .read_callback = read_body};
	r->id = F(nghttp2_submit_request)(c->s, NULL, nv, n, r->body ? &body : NULL, r);
	if (r->id < 0) {
		h2_finish(c, r, H2_ECONN, F(nghttp2_strerror)(r->id));
		return;
	}
	r->next = c->active;
	c->active = r;
}

/* every frame waiting, written (what the socket did not take stays for
 * the next turn): 0, or -1 when the connection failed */
static int
flush(struct h2_conn *c)
{
	for (;;) {
		while (c->outoff < c->outn) {
			int n = F(SSL_write)(c->ssl, c->out + c->outoff, (int)(c->outn - c->outoff));
			if (n > 0) {
				c->outoff += (size_t)n;
				continue;
			}
			int e = F(SSL_get_error)(c->ssl, n);
			if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
				return 0;
			ERR_clear_error();
			fail(c, "writing to the server: %s", strerror(errno ? errno : EPIPE));
			return -1;
		}
		c->outn = c->outoff = 0;
		const uint8_t *d;
		ssize_t n;
		while ((n = F(nghttp2_session_mem_send)(c->s, &d)) > 0) {
			if (c->outn + (size_t)n > c->outcap) {
				c->outcap = (c->outn + (size_t)n) * 2;
				c->out = xrealloc(c->out, c->outcap);
			}
			memcpy(c->out + c->outn, d, (size_t)n);
			c->outn += (size_t)n;
		}
		if (n < 0) {
			fail(c, "HTTP/2: %s", F(nghttp2_strerror)((int)n));
			return -1;
		}
		if (!c->outn)
			return 0;
	}
}

/* whatever has come, read and given to nghttp2: 0, or -1 when the
 * connection failed or closed */
static int
fill(struct h2_conn *c)
{
	for (;;) {
		int n = F(SSL_read)(c->ssl, c->in, (int)sizeof(c->in));
		if (n > 0) {
			ssize_t m = F(nghttp2_session_mem_recv)(c->s, c->in, (size_t)n);
			if (m < 0) {
				fail(c, "HTTP/2: %s", F(nghttp2_strerror)((int)m));
				return -1;
			}
			continue;
		}
		int e = F(SSL_get_error)(c->ssl, n);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		int errnum = errno;
		ERR_clear_error();
		if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && !errnum))
			fail(c, "%s", "the server closed the connection");
		else
			fail(c, "reading from the server: %s",
			     e == SSL_ERROR_SYSCALL ? strerror(errnum) : "TLS error");
		return -1;
	}
}

/* requests past their deadline or cancelled, ended; the time to the
 * nearest deadline (at most H2_NAP_MS) */
static int
expire(struct h2_conn *c)
{
	int64_t now = now_ms(), nap = H2_NAP_MS;
	for (struct h2_req *r = c->active, *next; r; r = next) {
		next = r->next;
		int stop = r->cancel && __atomic_load_n(r->cancel, __ATOMIC_RELAXED);
		if (stop || now >= r->deadline) {
			F(nghttp2_submit_rst_stream)(c->s, NGHTTP2_FLAG_NONE, r->id, NGHTTP2_CANCEL);
			h2_finish(c, r, stop ? H2_ESTOPPED : H2_ETIMEDOUT,
			       stop ? "interrupted" : "no answer before the deadline");
		} else if (r->deadline - now < nap) {
			nap = r->deadline - now;
		}
	}
	return (int)nap;
}

/* the requests handed in so far (c->mu held) */
static void *
take(void *u)
{
	struct h2_conn *c = u;
	struct h2_req *in = c->queue;
	c->queue = NULL;
	c->closed = c->failed || c->goaway;
	return in;
}

static int
pending(void *u)
{
	return ((struct h2_conn *)u)->queue != NULL;
}

/* one turn of the driver (c->mu not held): in is what take gave */
static int
turn(void *u, void *in)
{
	struct h2_conn *c = u;
	for (struct h2_req *r = in, *next; r; r = next) {
		next = r->next;
		submit(c, r, c->closed);
	}
	if (!c->failed && flush(c) == 0 && F(SSL_has_pending)(c->ssl) && fill(c) == 0)
		flush(c);
	return expire(c);
}

/* a wait in poll for the socket or a wake, then what came read */
static void
nap(void *u, int ms)
{
	struct h2_conn *c = u;
	if (c->failed)
		ms = 0;
	struct pollfd p[2] = {
		{.fd = c->fd, .events = POLLIN | (c->outoff < c->outn ? POLLOUT : 0)},
		{.fd = c->wake, .events = POLLIN},
	};
	if (poll(p, c->failed ? 1 : 2, ms) <= 0)
		return;
	if (p[1].revents) {
		uint64_t v;
		if (read(c->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return;
	}
	if (!c->failed && p[0].revents && fill(c) == 0)
		flush(c);
}

int
h2_preface(struct h2_conn *c, int64_t deadline, struct buf *why)
{
	/* nobody else has c yet: no lock is needed to read what on_frame sets */
	while (!c->failed && !c->settings && flush(c) == 0) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			buf_adds(why, "the server sent no HTTP/2 settings in time");
			return -1;
		}
		if (F(SSL_has_pending)(c->ssl))
			fill(c);
		else
			nap(c, (int)(left > 1000 ? 1000 : left));
	}
	if (c->failed)
		buf_adds(why, c->fail_why.s);
	return c->failed ? -1 : 0;
}

/* the driver asleep in nap is woken (with c->mu held or not: a write to
 * an eventfd needs no lock); were the write to fail, it wakes within
 * H2_NAP_MS anyway */
static void
wake(void *u)
{
	uint64_t one = 1;
	if (write(((struct h2_conn *)u)->wake, &one, sizeof(one)) < 0)
		return;
}

void
h2_relay_init(struct h2_conn *c)
{
	c->relay = (struct relay){.mu = &c->mu, .u = c, .take = take, .pending = pending,
				  .turn = c->h1 ? h1_turn : turn, .nap = c->h1 ? h1_nap : nap,
				  .wake = wake};
}

void
h2_run(struct h2_conn *c, struct h2_req *const *r, size_t n, const int *cancel)
{
	struct relay_wait w = {.left = n};
	pthread_mutex_lock(&c->mu);
	for (size_t i = n; i-- > 0;) {
		/* what the caller reads, cleared; what h2_run keeps, set */
		struct h2_req *q = r[i];
		q->status = 0, q->err = H2_OK, q->why = (struct buf){0};
		q->off = 0, q->id = 0, q->done = 0;
		q->cancel = cancel, q->w = &w, q->next = c->queue;
		c->queue = q;
	}
	c->outstanding += n;
	relay_run(&c->relay, &w);
	pthread_mutex_unlock(&c->mu);
}
