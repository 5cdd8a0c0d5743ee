/* h1: HTTP/1.1 over plain TCP, for a server reached without TLS (the
 * stand-in, `kubectl proxy`), behind the same requests and the same
 * driving as HTTP/2 (run.c): a "connection" here is a pool of sockets,
 * one request on each at a time. Every request handed in gets a socket at
 * once — an idle kept one, else a new one — as a watch lasting minutes
 * must not hold up the requests after it; the callers bound how many are
 * in flight. Up to H1_KEEP idle sockets are kept for the next requests.
 * libcurl had cost as much CPU for these requests as all of addonmake's
 * own work (tests/bench/kube).
 *
 * An answer's body is given to on_data as it comes, whether its length is
 * told, it is chunked or it ends with the connection. A kept socket that
 * the server closed while it was idle (the first read of the answer finds
 * it closed) sends its request again on a new socket, once; any other
 * failure ends the request alone, and its socket is closed. */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "internal.h"

/* a header line (or a chunk's size line) longer than this is no answer
 * of a real server */
#define H1_LINE_MAX (64 << 10)

enum h1_state { H1_STATUS, H1_HEADERS, H1_BODY, H1_CHUNK_SIZE, H1_CHUNK_DATA, H1_CHUNK_END,
		H1_TRAILER, H1_TO_CLOSE };

struct h1_sock {
	int fd;            /* -1: not open */
	struct h2_req *r;  /* the request on it; NULL: idle */
	int reused;        /* an answer came on it before this request */
	struct buf head;   /* the request line and headers */
	size_t hoff, boff; /* how much of head and of the body has gone */
	enum h1_state st;
	uint64_t left;     /* bytes left of the body or the chunk */
	int framing;       /* what the headers said of the body: H1_BODY (a
			    * length, in left), H1_CHUNK_SIZE, else 0 */
	int keep;          /* the socket serves again after this answer */
	int got;           /* a byte of this answer came */
	struct buf line;   /* a line not yet ended */
};

/* the requests an HTTP/1.1 server is handed at once (h2_room), as many
 * as the Kubernetes client has in flight; and the idle sockets kept for
 * the next requests: those and the client's watches */
#define H1_ROOM 8
#define H1_KEEP 24

struct h1_pool {
	char *host, *port;
	struct h1_sock **s; /* each allocated once, never moved */
	size_t ns;
	struct h2_req *wait, **tail; /* handed in, not yet on a socket */
	struct pollfd *pf;  /* nap's, for s and the wake */
	struct h1_sock **of;
	char in[65536];
};

static void
sock_close(struct h1_sock *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->r = NULL;
	s->reused = 0;
}

/* r goes out on s: its request line and headers in s->head */
static void
sock_start(struct h1_sock *s, struct h2_req *r)
{
	s->r = r;
	s->hoff = s->boff = 0;
	s->st = H1_STATUS;
	s->left = 0;
	s->framing = 0;
	s->keep = 1;
	s->got = 0;
	buf_clear(&s->line);
	buf_clear(&s->head);
	buf_printf(&s->head, "%s %s HTTP/1.1\r\nhost: %s\r\n", r->method, r->path, r->authority);
	for (size_t i = 0; i < r->nhdr; i++)
		buf_printf(&s->head, "%s: %s\r\n", r->hdr[2 * i], r->hdr[2 * i + 1]);
	if (r->body || strcmp(r->method, "GET") != 0)
		buf_printf(&s->head, "content-length: %zu\r\n", r->body ? r->len : 0);
	buf_adds(&s->head, "\r\n");
}

/* s's request ended (err, why); s kept for the next when its answer
 * ended as the protocol allows, else closed */
static void
sock_end(struct h2_conn *c, struct h1_sock *s, enum h2_err err, const char *why)
{
	struct h2_req *r = s->r;
	int keep = err == H2_OK && s->keep && s->hoff == s->head.len &&
		   s->boff == (r->body ? r->len : 0);
	size_t idle = 0;
	for (size_t i = 0; keep && i < c->h1->ns; i++)
		idle += c->h1->s[i]->fd >= 0 && !c->h1->s[i]->r;
	if (keep && idle < H1_KEEP) {
		s->r = NULL;
		s->reused = 1;
	} else {
		sock_close(s);
	}
	h2_finish(c, r, err, why);
}

/* an answer's header: what it says of the body, and to the caller */
static void
header(struct h1_sock *s, char *name, char *val)
{
	for (char *p = name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (strcmp(name, "content-length") == 0 && s->framing != H1_CHUNK_SIZE)
		s->left = strtoull(val, NULL, 10), s->framing = H1_BODY;
	else if (strcmp(name, "transfer-encoding") == 0 && strcasestr(val, "chunked"))
		s->framing = H1_CHUNK_SIZE;
	else if (strcmp(name, "connection") == 0 && strcasestr(val, "close"))
		s->keep = 0;
	if (s->r->on_header)
		s->r->on_header(s->r->u, name, strlen(name), val, strlen(val));
}

/* the status line: 0, or -1 when it is none */
static int
status_line(struct h1_sock *s, const char *l)
{
	if (strncmp(l, "HTTP/1.", 7) != 0 || !l[7] || l[8] != ' ')
		return -1;
	s->r->status = atoi(l + 9);
	if (l[7] == '0')
		s->keep = 0;
	s->st = H1_HEADERS;
	return s->r->status >= 100 ? 0 : -1;
}

/* the headers ended: 1 when the answer has no body, else 0 and s in the
 * state that reads it */
static int
headers_end(struct h1_sock *s)
{
	int st = s->r->status;
	if (st >= 100 && st < 200) { /* an interim answer: the real one follows */
		s->st = H1_STATUS;
		s->r->status = 0;
		s->framing = 0;
		return 0;
	}
	if (strcmp(s->r->method, "HEAD") == 0 || st == 204 || st == 304)
		return 1;
	s->st = s->framing ? (enum h1_state)s->framing : H1_TO_CLOSE;
	if (!s->framing) /* neither a length nor chunks: the body ends with the connection */
		s->keep = 0;
	return s->st == H1_BODY && !s->left;
}

/* one line of the answer (its CR LF cut): 1 when the answer ended, 0,
 * or -1 when it is not HTTP */
static int
line(struct h1_sock *s, char *l)
{
	switch (s->st) {
	case H1_STATUS:
		return status_line(s, l);
	case H1_CHUNK_SIZE: {
		char *end;
		s->left = strtoull(l, &end, 16);
		if (end == l)
			return -1;
		s->st = s->left ? H1_CHUNK_DATA : H1_TRAILER;
		return 0;
	}
	case H1_CHUNK_END:
		s->st = H1_CHUNK_SIZE;
		return *l ? -1 : 0;
	case H1_TRAILER:
		return !*l;
	default: /* the headers */
		if (!*l)
			return headers_end(s);
		char *colon = strchr(l, ':');
		if (!colon)
			return -1;
		*colon = 0;
		char *v = colon + 1;
		v += strspn(v, " \t");
		size_t vl = strlen(v);
		while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
			v[--vl] = 0;
		header(s, l, v);
		return 0;
	}
}

/* what came for s's answer: 1 when it ended, 0 for more, -1 with why
 * (H2_ESTOPPED in *err when on_data asked to stop) */
static int
feed(struct h1_sock *s, const char *p, size_t n, enum h2_err *err, const char **why)
{
	struct h2_req *r = s->r;
	while (n) {
		if (s->st == H1_BODY || s->st == H1_CHUNK_DATA || s->st == H1_TO_CLOSE) {
			size_t take = s->st == H1_TO_CLOSE || s->left > n ? n : (size_t)s->left;
			if (r->on_data && r->on_data(r->u, p, take) != 0) {
				*err = H2_ESTOPPED;
				return -1;
			}
			p += take, n -= take;
			if (s->st == H1_TO_CLOSE)
				continue;
			s->left -= take;
			if (!s->left && s->st == H1_BODY)
				return 1;
			if (!s->left)
				s->st = H1_CHUNK_END;
			continue;
		}
		const char *nl = memchr(p, '\n', n);
		size_t k = nl ? (size_t)(nl - p) + 1 : n;
		if (s->line.len + k > H1_LINE_MAX) {
			*why = "the server's answer has a line longer than 64 KiB";
			return -1;
		}
		buf_add(&s->line, p, k);
		p += k, n -= k;
		if (!nl)
			return 0;
		s->line.len -= s->line.len > 1 && s->line.s[s->line.len - 2] == '\r' ? 2 : 1;
		s->line.s[s->line.len] = 0;
		int rc = line(s, s->line.s);
		buf_clear(&s->line);
		if (rc) {
			if (rc < 0)
				*why = "the server's answer is not HTTP";
			return rc;
		}
	}
	return 0;
}

/* r goes back to the front of those waiting (its socket died idle) */
static void
requeue(struct h1_pool *p, struct h2_req *r)
{
	r->next = p->wait;
	p->wait = r;
	if (p->tail == &p->wait)
		p->tail = &r->next;
}

/* the socket s closed or failed while doing (e: errno, 0 for a close) */
static void
sock_lost(struct h2_conn *c, struct h1_sock *s, const char *doing, int e)
{
	struct h2_req *r = s->r;
	if (s->st == H1_TO_CLOSE && !e) {
		sock_end(c, s, H2_OK, NULL);
		return;
	}
	if (s->reused && !s->got && !r->id) {
		r->id = 1; /* once */
		sock_close(s);
		requeue(c->h1, r);
		return;
	}
	struct buf why = {0};
	if (e)
		buf_printf(&why, "%s the server: %s", doing, strerror(e));
	else
		buf_adds(&why, s->got ? "the server closed the connection before its answer ended"
				      : "the server closed the connection without an answer");
	sock_end(c, s, H2_ECONN, why.s);
	buf_free(&why);
}

/* the request of s, written as far as the socket takes it: 0, or -1
 * when the connection failed (its request ended) */
static int
sock_write(struct h2_conn *c, struct h1_sock *s)
{
	struct h2_req *r = s->r;
	size_t blen = r->body ? r->len : 0;
	while (s->hoff < s->head.len || s->boff < blen) {
		struct iovec v[2] = {
			{s->head.s + s->hoff, s->head.len - s->hoff},
			{(char *)(r->body ? r->body + s->boff : NULL), blen - s->boff},
		};
		struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
		ssize_t w = sendmsg(s->fd, &m, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (w < 0) {
			sock_lost(c, s, "writing to", errno);
			return -1;
		}
		size_t h = (size_t)w < v[0].iov_len ? (size_t)w : v[0].iov_len;
		s->hoff += h;
		s->boff += (size_t)w - h;
	}
	return 0;
}

/* what has come on s, read and parsed */
static void
sock_read(struct h2_conn *c, struct h1_sock *s)
{
	struct h1_pool *p = c->h1;
	while (s->r) {
		ssize_t n = recv(s->fd, p->in, sizeof(p->in), 0);
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n <= 0) {
			sock_lost(c, s, "reading from", n < 0 ? errno : 0);
			return;
		}
		s->got = 1;
		enum h2_err err = H2_ECONN;
		const char *why = NULL;
		int rc = feed(s, p->in, (size_t)n, &err, &why);
		if (rc > 0)
			sock_end(c, s, H2_OK, NULL);
		else if (rc < 0)
			sock_end(c, s, err, err == H2_ESTOPPED ? NULL : why);
		if (rc || (size_t)n < sizeof(p->in))
			return;
	}
}

/* a socket for the next request: an idle one, else a closed one (to
 * connect), else a new one */
static struct h1_sock *
free_sock(struct h1_pool *p)
{
	struct h1_sock *closed = NULL;
	for (size_t i = 0; i < p->ns; i++) {
		if (p->s[i]->fd >= 0 && !p->s[i]->r)
			return p->s[i];
		if (p->s[i]->fd < 0 && !closed)
			closed = p->s[i];
	}
	if (closed)
		return closed;
	p->s = xrealloc(p->s, (p->ns + 1) * sizeof(*p->s));
	p->pf = xrealloc(p->pf, (p->ns + 2) * sizeof(*p->pf));
	p->of = xrealloc(p->of, (p->ns + 1) * sizeof(*p->of));
	struct h1_sock *s = xcalloc(1, sizeof(*s));
	s->fd = -1;
	return p->s[p->ns++] = s;
}

/* the requests handed in, each on a socket and going out */
static void
assign(struct h2_conn *c)
{
	struct h1_pool *p = c->h1;
	while (p->wait) {
		struct h1_sock *s = free_sock(p);
		struct h2_req *r = p->wait;
		p->wait = r->next;
		if (!p->wait)
			p->tail = &p->wait;
		if (s->fd < 0) {
			struct buf why = {0};
			s->fd = h2_tcp_connect(p->host, p->port, now_ms() + 10000, &why);
			if (s->fd < 0) {
				h2_finish(c, r, H2_ECONN, why.s);
				buf_free(&why);
				continue;
			}
		}
		sock_start(s, r);
		sock_write(c, s);
	}
}

/* requests past their deadline or cancelled, ended (every request is on
 * a socket after assign); the time to the nearest deadline (at most
 * H2_NAP_MS) */
static int
expire(struct h2_conn *c)
{
	struct h1_pool *p = c->h1;
	int64_t now = now_ms(), nap = H2_NAP_MS;
	for (size_t i = 0; i < p->ns; i++) {
		struct h2_req *r = p->s[i]->r;
		if (!r)
			continue;
		int stop = r->cancel && __atomic_load_n(r->cancel, __ATOMIC_RELAXED);
		if (!stop && now < r->deadline) {
			nap = r->deadline - now < nap ? r->deadline - now : nap;
			continue;
		}
		sock_close(p->s[i]);
		h2_finish(c, r, stop ? H2_ESTOPPED : H2_ETIMEDOUT,
			  stop ? "interrupted" : "no answer before the deadline");
	}
	return (int)nap;
}

int
h1_turn(void *u, void *in)
{
	struct h2_conn *c = u;
	struct h1_pool *p = c->h1;
	for (struct h2_req *r = in, *next; r; r = next) {
		next = r->next;
		r->next = NULL;
		*p->tail = r;
		p->tail = &r->next;
	}
	assign(c);
	return expire(c);
}

void
h1_nap(void *u, int ms)
{
	struct h2_conn *c = u;
	struct h1_pool *p = c->h1;
	struct pollfd *f = p->pf;
	struct h1_sock **of = p->of;
	nfds_t n = 0;
	for (size_t i = 0; i < p->ns; i++) {
		struct h1_sock *s = p->s[i];
		if (!s->r)
			continue;
		int out = s->hoff < s->head.len || s->boff < (s->r->body ? s->r->len : 0);
		of[n] = s;
		f[n++] = (struct pollfd){.fd = s->fd, .events = POLLIN | (out ? POLLOUT : 0)};
	}
	f[n] = (struct pollfd){.fd = c->wake, .events = POLLIN};
	if (poll(f, n + 1, ms) <= 0)
		return;
	if (f[n].revents) {
		uint64_t v;
		if (read(c->wake, &v, sizeof(v)) < 0 && errno != EAGAIN)
			return;
	}
	for (nfds_t i = 0; i < n; i++) {
		if ((f[i].revents & POLLOUT) && sock_write(c, of[i]) < 0)
			continue;
		if (f[i].revents & (POLLIN | POLLHUP | POLLERR))
			sock_read(c, of[i]);
	}
}

int
h1_open(struct h2_conn *c, const char *host, const char *port, int64_t deadline,
	struct buf *why)
{
	struct h1_pool *p = xcalloc(1, sizeof(*p));
	c->h1 = p;
	p->host = xstrdup(host);
	p->port = xstrdup(port);
	p->tail = &p->wait;
	/* the first socket now: a server that cannot be reached is said so
	 * before any request is handed in */
	struct h1_sock *s = free_sock(p);
	s->fd = h2_tcp_connect(host, port, deadline, why);
	c->max_streams = H1_ROOM;
	c->settings = 1;
	return s->fd < 0 ? -1 : 0;
}

void
h1_free(struct h1_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->ns; i++) {
		sock_close(p->s[i]);
		buf_free(&p->s[i]->head);
		buf_free(&p->s[i]->line);
		free(p->s[i]);
	}
	free(p->s);
	free(p->pf);
	free(p->of);
	free(p->host);
	free(p->port);
	free(p);
}
