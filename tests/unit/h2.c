/* unit tests of src/h2/: requests and answers over TLS to nghttpd (Debian's
 * nghttp2-server, a real HTTP/2 server), from several threads at once;
 * TLS verification; and the faults: a server that goes away, one that
 * does not speak HTTP/2, one that never answers (the last two small
 * Python TLS servers). Each test skips when what it needs is not here. */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../../src/h2/h2.h"

/* a directory with a certificate for 127.0.0.1 (c.pem, its key k.pem),
 * served files and the servers' scripts */
struct site {
	char dir[64];
	char port[16];
	pid_t srv;
	struct buf ca;
};

static void
sh(const char *fmt, const char *dir)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), fmt, dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

static void
site_init(struct site *s)
{
	memset(s, 0, sizeof(*s));
	if (h2_unavailable())
		cr_skip_test("%s", h2_unavailable());
	if (system("command -v openssl >/dev/null 2>&1") != 0)
		cr_skip_test("openssl is not here to make a certificate");
	snprintf(s->dir, sizeof(s->dir), "/tmp/addonmake-h2-XXXXXX");
	cr_assert_not_null(mkdtemp(s->dir));
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout k.pem -out c.pem >/dev/null 2>&1",
		 s->dir);
	cr_assert_eq(system(cmd), 0, "openssl cannot make a certificate");
	snprintf(cmd, sizeof(cmd), "%s/c.pem", s->dir);
	FILE *f = fopen(cmd, "r");
	cr_assert_not_null(f);
	char b[4096];
	size_t n = fread(b, 1, sizeof(b), f);
	fclose(f);
	buf_add(&s->ca, b, n);
}

/* a free loopback port (taken by the server soon after) */
static void
free_port(struct site *s)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t l = sizeof(a);
	cr_assert(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
		  getsockname(fd, (struct sockaddr *)&a, &l) == 0);
	snprintf(s->port, sizeof(s->port), "%d", ntohs(a.sin_port));
	close(fd);
}

/* waits until something listens on s->port */
static int
listening(struct site *s)
{
	for (int i = 0; i < 100; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(s->port))};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
		close(fd);
		if (ok)
			return 1;
		struct timespec t = {0, 50000000};
		nanosleep(&t, NULL);
	}
	return 0;
}

/* in a server's child: it dies with the test (an assertion that fails
 * ends the test before site_free), and its output goes nowhere, so that
 * no pipe of the test's is held open by it */
static void
server_child(void)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!freopen("/dev/null", "w", stdout) || !freopen("/dev/null", "w", stderr))
		_exit(127);
}

/* nghttpd serving s->dir/www on s->port */
static void
nghttpd(struct site *s)
{
	if (system("command -v nghttpd >/dev/null 2>&1") != 0)
		cr_skip_test("nghttpd is not here (Debian package nghttp2-server)");
	sh("mkdir -p %s/www && printf hello > %s/www/hello && head -c 4194304 /dev/urandom > "
	   "%s/www/big",
	   s->dir);
	free_port(s);
	s->srv = fork();
	if (s->srv == 0) {
		char www[128], key[128], cert[128];
		snprintf(www, sizeof(www), "%s/www", s->dir);
		snprintf(key, sizeof(key), "%s/k.pem", s->dir);
		snprintf(cert, sizeof(cert), "%s/c.pem", s->dir);
		server_child();
		execlp("nghttpd", "nghttpd", "-a", "127.0.0.1", "-d", www, "--echo-upload", s->port,
		       key, cert, (char *)NULL);
		_exit(127);
	}
	cr_assert(listening(s), "nghttpd did not start on port %s", s->port);
}

/* a Python TLS server on s->port: alpn its protocols (Python list);
 * then, for each connection, it sends what send says (bytes) and keeps
 * the connection open without reading */
static void
pyserver(struct site *s, const char *alpn, const char *send)
{
	char path[128], cmd[1024];
	snprintf(path, sizeof(path), "%s/srv.py", s->dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fprintf(f,
		"import socket, ssl, sys, time\n"
		"c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
		"c.load_cert_chain('%s/c.pem', '%s/k.pem')\n"
		"c.set_alpn_protocols(%s)\n"
		"l = socket.create_server(('127.0.0.1', int(sys.argv[1])))\n"
		"held = []\n"
		"while True:\n"
		"    try:\n"
		"        t = c.wrap_socket(l.accept()[0], server_side=True)\n"
		"        t.sendall(%s)\n"
		"        held.append(t)\n"
		"    except OSError:\n"
		"        pass  # the test's probe, or a client that gave up\n",
		s->dir, s->dir, alpn, send);
	fclose(f);
	free_port(s);
	s->srv = fork();
	if (s->srv == 0) {
		server_child();
		snprintf(cmd, sizeof(cmd), "exec python3 %s %s", path, s->port);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (!listening(s))
		cr_skip_test("python3 is not here to serve TLS");
}

static void
site_stop(struct site *s)
{
	if (s->srv > 0) {
		kill(s->srv, SIGKILL);
		waitpid(s->srv, NULL, 0);
		s->srv = 0;
	}
}

static void
site_free(struct site *s)
{
	site_stop(s);
	sh("rm -rf %s", s->dir);
	buf_free(&s->ca);
}

static struct h2_conn *
connect_ok(struct site *s)
{
	struct h2_tls t = {.host = "127.0.0.1", .port = s->port, .ca = s->ca.s, .ca_len = s->ca.len};
	struct h2_conn *c = NULL;
	struct buf why = {0};
	enum h2_fail fail;
	int rc = h2_connect(&t, now_ms() + 10000, &c, &fail, &why);
	cr_assert_eq(rc, 0, "%s", why.s);
	buf_free(&why);
	return c;
}

/* h2_connect's failure: its why (the caller frees it) */
static char *
connect_fails(struct h2_tls *t, enum h2_fail *fail)
{
	struct h2_conn *c = NULL;
	struct buf why = {0};
	cr_assert_eq(h2_connect(t, now_ms() + 10000, &c, fail, &why), -1);
	cr_assert_null(c);
	cr_assert_not_null(why.s);
	return why.s;
}

static int
collect(void *u, const char *p, size_t n)
{
	buf_add(u, p, n);
	return 0;
}

/* a request for path with its body into *got */
static struct h2_req
req(const char *method, const char *path, struct buf *got)
{
	return (struct h2_req){.method = method, .path = path, .authority = "127.0.0.1",
			       .deadline = now_ms() + 10000, .on_data = collect, .u = got};
}

Test(h2, a_request_gets_its_answer_and_a_large_one_comes_whole)
{
	struct site s;
	site_init(&s);
	nghttpd(&s);
	struct h2_conn *c = connect_ok(&s);
	struct buf a = {0}, b = {0}, m = {0};
	struct h2_req ra = req("GET", "/hello", &a), rb = req("GET", "/big", &b),
		      rm = req("GET", "/missing", &m);
	struct h2_req *q[] = {&ra, &rb, &rm};
	h2_run(c, q, 3, NULL);
	cr_assert_eq(ra.err, H2_OK, "%s", ra.why.s);
	cr_assert_eq(ra.status, 200);
	cr_assert_eq(a.len, 5);
	cr_assert_eq(memcmp(a.s, "hello", 5), 0);
	/* 4 MiB, more than a stream's default window of 64 KiB */
	cr_assert_eq(rb.err, H2_OK, "%s", rb.why.s);
	cr_assert_eq(b.len, 4194304);
	cr_assert_eq(rm.status, 404);
	cr_assert(h2_usable(c));
	h2_close(c);
	buf_free(&a), buf_free(&b), buf_free(&m);
	site_free(&s);
}

Test(h2, a_body_is_sent_with_its_headers)
{
	struct site s;
	site_init(&s);
	nghttpd(&s);
	struct h2_conn *c = connect_ok(&s);
	struct buf got = {0};
	static const char *const hdr[] = {"content-type", "text/plain"};
	struct h2_req r = req("PUT", "/hello", &got);
	r.hdr = hdr, r.nhdr = 1, r.body = "the body", r.len = 8;
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_OK, "%s", r.why.s);
	cr_assert_eq(r.status, 200);
	/* --echo-upload: what was sent comes back */
	cr_assert_eq(got.len, 8);
	cr_assert_eq(memcmp(got.s, "the body", 8), 0);
	h2_close(c);
	buf_free(&got);
	site_free(&s);
}

struct many {
	struct h2_conn *c;
	int ok;
};

static void *
ten_requests(void *u)
{
	struct many *m = u;
	struct buf got[10] = {{0}};
	struct h2_req r[10], *q[10];
	for (int i = 0; i < 10; i++) {
		r[i] = req("GET", "/hello", &got[i]);
		q[i] = &r[i];
	}
	h2_run(m->c, q, 10, NULL);
	for (int i = 0; i < 10; i++) {
		m->ok += r[i].err == H2_OK && r[i].status == 200 && got[i].len == 5;
		buf_free(&got[i]);
		buf_free(&r[i].why);
	}
	return NULL;
}

/* threads share the connection: one drives it for all at a time */
Test(h2, requests_from_several_threads_share_the_connection)
{
	struct site s;
	site_init(&s);
	nghttpd(&s);
	struct many m[4];
	pthread_t t[4];
	struct h2_conn *c = connect_ok(&s);
	for (int i = 0; i < 4; i++) {
		m[i] = (struct many){.c = c};
		cr_assert_eq(pthread_create(&t[i], NULL, ten_requests, &m[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(m[i].ok, 10, "thread %d: %d of 10 answered", i, m[i].ok);
	}
	h2_close(c);
	site_free(&s);
}

static int
stop_at_once(void *u, const char *p, size_t n)
{
	(void)p, (void)n;
	++*(int *)u;
	return 1;
}

Test(h2, on_data_stops_its_request_and_the_connection_goes_on)
{
	struct site s;
	site_init(&s);
	nghttpd(&s);
	struct h2_conn *c = connect_ok(&s);
	int calls = 0;
	struct buf got = {0};
	struct h2_req r = req("GET", "/big", NULL), r2 = req("GET", "/hello", &got);
	r.on_data = stop_at_once, r.u = &calls;
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_ESTOPPED);
	cr_assert_eq(calls, 1, "on_data called %d times after it asked to stop", calls);
	q = &r2;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r2.err, H2_OK, "%s", r2.why.s);
	cr_assert_eq(got.len, 5);
	h2_close(c);
	buf_free(&got);
	site_free(&s);
}

Test(h2, a_server_that_goes_away_fails_the_requests_and_the_connection)
{
	struct site s;
	site_init(&s);
	nghttpd(&s);
	struct h2_conn *c = connect_ok(&s);
	site_stop(&s);
	struct h2_req r = req("GET", "/hello", NULL);
	r.on_data = NULL;
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_ECONN);
	/* closed, or reset when the request came after the server had gone */
	cr_assert(r.why.s && (strstr(r.why.s, "closed") || strstr(r.why.s, "reset")), "%s",
		  r.why.s);
	cr_assert_not(h2_usable(c));
	/* later requests end at once, with the same reason */
	char *first = strdup(r.why.s);
	buf_free(&r.why);
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_ECONN);
	cr_assert_str_eq(r.why.s, first);
	free(first);
	buf_free(&r.why);
	h2_close(c);
	site_free(&s);
}

Test(h2, tls_is_verified_against_the_ca_and_the_address)
{
	struct site s;
	site_init(&s);
	nghttpd(&s);
	enum h2_fail fail;
	/* a CA that did not sign the server's certificate */
	char cmd[512];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=other "
		 "-keyout ok.pem -out oc.pem >/dev/null 2>&1",
		 s.dir);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/oc.pem", s.dir);
	FILE *f = fopen(cmd, "r");
	char other[4096];
	size_t n = fread(other, 1, sizeof(other), f);
	fclose(f);
	struct h2_tls t = {.host = "127.0.0.1", .port = s.port, .ca = other, .ca_len = n};
	char *why = connect_fails(&t, &fail);
	cr_assert(strstr(why, "SSL certificate problem"), "%s", why);
	cr_assert_eq(fail, H2_FAIL_TLS);
	free(why);
	/* the right CA, another name than the certificate's */
	t = (struct h2_tls){.host = "127.0.0.1", .port = s.port, .name = "other.example",
			    .ca = s.ca.s, .ca_len = s.ca.len};
	why = connect_fails(&t, &fail);
	cr_assert(strstr(why, "SSL certificate problem"), "%s", why);
	free(why);
	/* a CA that is no PEM at all */
	t = (struct h2_tls){.host = "127.0.0.1", .port = s.port, .ca = "nope", .ca_len = 4};
	why = connect_fails(&t, &fail);
	cr_assert(strstr(why, "no PEM certificate"), "%s", why);
	free(why);
	/* no verification asked for */
	t = (struct h2_tls){.host = "127.0.0.1", .port = s.port, .ca = other, .ca_len = n,
			    .insecure = 1};
	struct h2_conn *c = NULL;
	struct buf b = {0};
	cr_assert_eq(h2_connect(&t, now_ms() + 10000, &c, &fail, &b), 0, "%s", b.s);
	h2_close(c);
	site_free(&s);
}

Test(h2, a_server_without_http2_or_none_at_all_is_told_apart)
{
	struct site s;
	site_init(&s);
	pyserver(&s, "['http/1.1']", "b''");
	enum h2_fail fail;
	struct h2_tls t = {.host = "127.0.0.1", .port = s.port, .ca = s.ca.s, .ca_len = s.ca.len};
	char *why = connect_fails(&t, &fail);
	cr_assert_eq(fail, H2_FAIL_NOT_H2, "%s", why);
	cr_assert(strstr(why, "does not speak HTTP/2"), "%s", why);
	free(why);
	site_stop(&s);
	/* nothing listens there now */
	why = connect_fails(&t, &fail);
	cr_assert_eq(fail, H2_FAIL_UNREACHED);
	cr_assert(strstr(why, "cannot connect to 127.0.0.1 port"), "%s", why);
	cr_assert(strstr(why, "refused"), "%s", why);
	free(why);
	site_free(&s);
}

/* a server that takes the connection and never answers TLS is not
 * reached: a caller tells it from a TLS failure, where another client may
 * fare better */
Test(h2, a_server_silent_until_the_deadline_is_unreached)
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	cr_assert(bind(l, (struct sockaddr *)&a, al) == 0 && listen(l, 4) == 0 &&
		  getsockname(l, (struct sockaddr *)&a, &al) == 0);
	char port[8];
	snprintf(port, sizeof(port), "%d", ntohs(a.sin_port));
	/* the kernel completes the TCP handshake; nobody accepts */
	struct h2_tls t = {.host = "127.0.0.1", .port = port};
	struct h2_conn *c = NULL;
	struct buf why = {0};
	enum h2_fail fail = H2_FAIL_NONE;
	cr_assert_eq(h2_connect(&t, now_ms() + 300, &c, &fail, &why), -1);
	cr_assert_eq(fail, H2_FAIL_UNREACHED, "%s", why.s);
	cr_assert(strstr(why.s, "the TLS handshake with 127.0.0.1 timed out"), "%s", why.s);
	buf_free(&why);
	close(l);
}

/* a server that sends its SETTINGS and never answers */
Test(h2, a_request_ends_at_its_deadline)
{
	struct site s;
	site_init(&s);
	pyserver(&s, "['h2']", "bytes([0, 0, 0, 4, 0, 0, 0, 0, 0])");
	struct h2_conn *c = connect_ok(&s);
	int64_t t0 = now_ms();
	struct h2_req r = req("GET", "/", NULL);
	r.on_data = NULL;
	r.deadline = t0 + 300;
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_ETIMEDOUT);
	cr_assert_geq(now_ms() - t0, 300);
	buf_free(&r.why);
	/* and a cancel ends one too */
	int cancel = 1;
	r = req("GET", "/", NULL);
	r.on_data = NULL;
	h2_run(c, &q, 1, &cancel);
	cr_assert_eq(r.err, H2_ESTOPPED);
	buf_free(&r.why);
	h2_close(c);
	site_free(&s);
}

/* HTTP/1.1 over plain TCP (h1.c), against a server of the test's own: it
 * answers each request by its path, each connection on a thread of its
 * own, and counts the connections it accepted */
struct h1srv {
	int l;
	char port[8];
	int conns;
	pthread_t t;
};

/* the whole request on fd (head, and body by its content-length) into
 * req: 0, or -1 at its end */
static int
h1srv_request(int fd, struct buf *req)
{
	buf_clear(req);
	char b[4096];
	size_t head = 0, want = 0;
	for (;;) {
		if (req->s && !head) {
			char *e = strstr(req->s, "\r\n\r\n");
			if (e) {
				head = (size_t)(e - req->s) + 4;
				char *cl = strcasestr(req->s, "content-length: ");
				want = head + (cl && cl < e ? strtoul(cl + 16, NULL, 10) : 0);
			}
		}
		if (head && req->len >= want)
			return 0;
		ssize_t n = read(fd, b, sizeof(b));
		if (n <= 0)
			return -1;
		buf_add(req, b, (size_t)n);
	}
}

/* the answer to req (in a): 1 when the connection closes after it */
static int
h1srv_answer(const struct buf *req, struct buf *a)
{
	buf_clear(a);
	const char *path = strchr(req->s, ' ') + 1;
#define IS(p) (strncmp(path, p " ", strlen(p) + 1) == 0)
	if (IS("/len"))
		buf_adds(a, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
	else if (IS("/chunked"))
		buf_adds(a, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nRetry-After:  3 \r\n\r\n"
			 "3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nTrailer: t\r\n\r\n");
	else if (IS("/interim"))
		buf_adds(a, "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok");
	else if (IS("/nobody"))
		buf_adds(a, "HTTP/1.1 204 No Content\r\n\r\n");
	else if (IS("/echo"))
		buf_printf(a, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s", req->len, req->s);
	else if (IS("/big")) {
		buf_printf(a, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 300000);
		for (int i = 0; i < 300000; i++)
			buf_add(a, "x", 1);
	} else if (IS("/bye")) /* a close the client is not told of */
		return buf_adds(a, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nbye"), 1;
	else if (IS("/toclose"))
		return buf_adds(a, "HTTP/1.0 200 OK\r\n\r\nuntil the end"), 1;
	else if (IS("/cut"))
		return buf_adds(a, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf"), 1;
	else if (IS("/junk"))
		buf_adds(a, "SSH-2.0-OpenSSH_9.2\r\n\r\n");
	/* /silent: nothing */
#undef IS
	return 0;
}

/* one connection, on a thread of its own */
static void *
h1srv_conn(void *u)
{
	int fd = (int)(intptr_t)u;
	struct buf req = {0}, a = {0};
	int bye = 0;
	while (!bye && h1srv_request(fd, &req) == 0) {
		bye = h1srv_answer(&req, &a);
		if (a.len && write(fd, a.s, a.len) < 0)
			break;
	}
	close(fd);
	buf_free(&req);
	buf_free(&a);
	return NULL;
}

static void *
h1srv_main(void *u)
{
	struct h1srv *s = u;
	int fd;
	while ((fd = accept(s->l, NULL, NULL)) >= 0) {
		__atomic_add_fetch(&s->conns, 1, __ATOMIC_SEQ_CST);
		pthread_t t;
		if (pthread_create(&t, NULL, h1srv_conn, (void *)(intptr_t)fd) == 0)
			pthread_detach(t);
		else
			close(fd);
	}
	return NULL;
}

static void
h1srv_start(struct h1srv *s)
{
	memset(s, 0, sizeof(*s));
	s->l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	cr_assert(bind(s->l, (struct sockaddr *)&a, al) == 0 && listen(s->l, 16) == 0 &&
		  getsockname(s->l, (struct sockaddr *)&a, &al) == 0);
	snprintf(s->port, sizeof(s->port), "%d", ntohs(a.sin_port));
	cr_assert_eq(pthread_create(&s->t, NULL, h1srv_main, s), 0);
}

static void
h1srv_stop(struct h1srv *s)
{
	shutdown(s->l, SHUT_RDWR);
	close(s->l);
	pthread_join(s->t, NULL);
}

static struct h2_conn *
h1_connect_ok(struct h1srv *s)
{
	struct h2_conn *c = NULL;
	struct buf why = {0};
	cr_assert_eq(h2_connect_plain("127.0.0.1", s->port, now_ms() + 10000, &c, &why), 0, "%s",
		     why.s);
	cr_assert_not_null(c);
	return c;
}

/* one request on c: its body into got (cleared first) */
static struct h2_req
h1_one(struct h2_conn *c, const char *method, const char *path, struct buf *got)
{
	buf_clear(got);
	struct h2_req r = req(method, path, got);
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	return r;
}

static void
retry_after(void *u, const char *name, size_t nl, const char *val, size_t vl)
{
	if (nl == 11 && strcmp(name, "retry-after") == 0 && vl == strlen(val))
		*(int *)u = atoi(val);
}

Test(h1, answers_of_every_framing_come_whole_on_one_kept_connection)
{
	struct h1srv s;
	h1srv_start(&s);
	struct h2_conn *c = h1_connect_ok(&s);
	cr_assert_eq(h2_room(c), 8);
	struct buf got = {0};
	struct h2_req r = h1_one(c, "GET", "/len", &got);
	cr_assert(r.err == H2_OK && r.status == 200 && strcmp(got.s, "hello") == 0, "%d %s", r.err,
		  r.why.s);
	/* chunked, with a chunk extension and a trailer; its headers to the
	 * caller, names in lower case and values trimmed */
	int ra = 0;
	buf_clear(&got);
	r = req("GET", "/chunked", &got);
	r.on_header = retry_after;
	r.u = &ra;
	r.on_data = NULL;
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	cr_assert(r.err == H2_OK && r.status == 200 && ra == 3, "%d %d %d", r.err, r.status, ra);
	r.on_data = collect, r.u = &got, r.on_header = NULL;
	h2_run(c, &q, 1, NULL);
	cr_assert_str_eq(got.s, "hello");
	/* an interim answer, then the real one */
	r = h1_one(c, "POST", "/interim", &got);
	cr_assert(r.err == H2_OK && r.status == 201 && strcmp(got.s, "ok") == 0, "%d %d", r.err,
		  r.status);
	r = h1_one(c, "DELETE", "/nobody", &got);
	cr_assert(r.err == H2_OK && r.status == 204 && !got.len, "%d %d", r.err, r.status);
	r = h1_one(c, "GET", "/big", &got);
	cr_assert(r.err == H2_OK && got.len == 300000, "%d %zu", r.err, got.len);
	/* all of them on the first connection */
	cr_assert_eq(__atomic_load_n(&s.conns, __ATOMIC_SEQ_CST), 1);
	/* a body that ends with the connection */
	r = h1_one(c, "GET", "/toclose", &got);
	cr_assert(r.err == H2_OK && r.status == 200 && strcmp(got.s, "until the end") == 0, "%d %s",
		  r.err, r.why.s);
	buf_free(&got);
	h2_close(c);
	h1srv_stop(&s);
}

Test(h1, a_request_goes_with_its_host_and_body)
{
	struct h1srv s;
	h1srv_start(&s);
	struct h2_conn *c = h1_connect_ok(&s);
	struct buf got = {0};
	const char *hdr[] = {"content-type", "application/apply-patch+yaml"};
	struct h2_req r = req("PATCH", "/echo", &got);
	r.authority = "example.test:8001";
	r.hdr = hdr, r.nhdr = 1;
	r.body = "{\"a\": 1}", r.len = 8;
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_OK, "%s", r.why.s);
	cr_assert_str_eq(got.s, "PATCH /echo HTTP/1.1\r\nhost: example.test:8001\r\n"
				"content-type: application/apply-patch+yaml\r\ncontent-length: 8\r\n\r\n"
				"{\"a\": 1}");
	/* a GET has no length */
	r = h1_one(c, "GET", "/echo", &got);
	cr_assert_str_eq(got.s, "GET /echo HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n");
	/* a body larger than the socket takes at once goes whole */
	size_t big = 8u << 20;
	char *body = malloc(big);
	for (size_t i = 0; i < big; i++)
		body[i] = (char)('a' + i % 26);
	buf_clear(&got);
	r = req("PUT", "/echo", &got);
	r.body = body, r.len = big;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_OK, "%s", r.why.s);
	const char *head = "PUT /echo HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 8388608\r\n\r\n";
	cr_assert_eq(got.len, strlen(head) + big);
	cr_assert(memcmp(got.s, head, strlen(head)) == 0 &&
		  memcmp(got.s + strlen(head), body, big) == 0);
	free(body);
	buf_free(&got);
	h2_close(c);
	h1srv_stop(&s);
}

/* a kept socket the server closed while idle: the request goes again on a
 * new one, unseen by the caller; an answer cut short fails */
Test(h1, a_socket_closed_while_idle_is_replaced_and_a_cut_answer_fails)
{
	struct h1srv s;
	h1srv_start(&s);
	struct h2_conn *c = h1_connect_ok(&s);
	struct buf got = {0};
	struct h2_req r = h1_one(c, "GET", "/bye", &got);
	cr_assert(r.err == H2_OK && strcmp(got.s, "bye") == 0);
	struct timespec ts = {0, 50000000}; /* the close has come */
	nanosleep(&ts, NULL);
	r = h1_one(c, "GET", "/len", &got);
	cr_assert(r.err == H2_OK && strcmp(got.s, "hello") == 0, "%d %s", r.err, r.why.s);
	cr_assert_eq(__atomic_load_n(&s.conns, __ATOMIC_SEQ_CST), 2);
	r = h1_one(c, "GET", "/cut", &got);
	cr_assert_eq(r.err, H2_ECONN);
	cr_assert_str_eq(r.why.s, "the server closed the connection before its answer ended");
	buf_free(&r.why);
	/* and the next request has a socket again */
	r = h1_one(c, "GET", "/len", &got);
	cr_assert(r.err == H2_OK && strcmp(got.s, "hello") == 0, "%d %s", r.err, r.why.s);
	buf_free(&got);
	h2_close(c);
	h1srv_stop(&s);
}

Test(h1, what_is_not_http_or_never_comes_fails_the_request)
{
	struct h1srv s;
	h1srv_start(&s);
	struct h2_conn *c = h1_connect_ok(&s);
	struct buf got = {0};
	struct h2_req r = h1_one(c, "GET", "/junk", &got);
	cr_assert_eq(r.err, H2_ECONN);
	cr_assert_str_eq(r.why.s, "the server's answer is not HTTP");
	buf_free(&r.why);
	buf_clear(&got);
	r = req("GET", "/silent", &got);
	r.deadline = now_ms() + 300;
	struct h2_req *q = &r;
	h2_run(c, &q, 1, NULL);
	cr_assert_eq(r.err, H2_ETIMEDOUT);
	buf_free(&r.why);
	int stop = 1;
	r = req("GET", "/len", &got);
	h2_run(c, &q, 1, &stop);
	cr_assert_eq(r.err, H2_ESTOPPED);
	buf_free(&r.why);
	buf_free(&got);
	h2_close(c);
	h1srv_stop(&s);
	/* nothing listens there now */
	struct buf why = {0};
	cr_assert_eq(h2_connect_plain("127.0.0.1", s.port, now_ms() + 10000, &c, &why), -1);
	cr_assert(strstr(why.s, "cannot connect to 127.0.0.1 port") && strstr(why.s, "refused"),
		  "%s", why.s);
	buf_free(&why);
}

struct lasting {
	struct h2_conn *c;
	int ended;
};

static void *
nine_silent(void *u)
{
	struct lasting *l = u;
	struct h2_req r[9], *q[9];
	struct buf got = {0};
	for (int i = 0; i < 9; i++) {
		r[i] = req("GET", "/silent", &got);
		r[i].deadline = now_ms() + 5000;
		q[i] = &r[i];
	}
	h2_run(l->c, q, 9, NULL);
	for (int i = 0; i < 9; i++)
		buf_free(&r[i].why);
	buf_free(&got);
	__atomic_store_n(&l->ended, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

/* requests that last (watches) hold up none after them, past the room a
 * caller is told of: each has a socket of its own */
Test(h1, lasting_requests_hold_up_none_after_them)
{
	struct h1srv s;
	h1srv_start(&s);
	struct h2_conn *c = h1_connect_ok(&s);
	struct lasting l = {.c = c};
	pthread_t t;
	cr_assert_eq(pthread_create(&t, NULL, nine_silent, &l), 0);
	while (__atomic_load_n(&s.conns, __ATOMIC_SEQ_CST) < 9) {
		struct timespec ts = {0, 10000000};
		nanosleep(&ts, NULL);
	}
	struct buf got = {0};
	struct h2_req r = h1_one(c, "GET", "/len", &got);
	cr_assert(r.err == H2_OK && strcmp(got.s, "hello") == 0, "%d %s", r.err, r.why.s);
	cr_assert_eq(__atomic_load_n(&l.ended, __ATOMIC_SEQ_CST), 0,
		     "the answer waited for the lasting requests to end");
	cr_assert_eq(__atomic_load_n(&s.conns, __ATOMIC_SEQ_CST), 10);
	pthread_join(t, NULL);
	buf_free(&got);
	h2_close(c);
	h1srv_stop(&s);
}
