/* unit tests of src/http/: header values, the Retry-After cap, TLS
 * buffers. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/http/http.h"

Test(http, a_header_value_is_found_in_any_case_and_trimmed)
{
	const char *line = "retry-after: \t 7 \r\n";
	char *v = http_header_value(line, strlen(line), "Retry-After");
	cr_assert_str_eq(v, "7");
	free(v);
	line = "ETag:\"abc\"\r\n";
	v = http_header_value(line, strlen(line), "ETag");
	cr_assert_str_eq(v, "\"abc\"");
	free(v);
	line = "ETag:\r\n";
	v = http_header_value(line, strlen(line), "ETag");
	cr_assert_str_eq(v, "");
	free(v);
	/* another header, or a longer name that starts the same */
	line = "ETags: x\r\n";
	cr_assert_null(http_header_value(line, strlen(line), "ETag"));
	line = "Content-Type: text/plain\r\n";
	cr_assert_null(http_header_value(line, strlen(line), "ETag"));
	cr_assert_null(http_header_value("ETag", 4, "ETag"));
}

Test(http, retry_after_is_honoured_up_to_the_cap)
{
	cr_assert_eq(http_retry_after_ms(0), 0);
	cr_assert_eq(http_retry_after_ms(-3), 0);
	cr_assert_eq(http_retry_after_ms(2), 2000);
	cr_assert_eq(http_retry_after_ms(HTTP_RETRY_AFTER_MAX_S), HTTP_RETRY_AFTER_MAX_S * 1000L);
	cr_assert_eq(http_retry_after_ms(3600), HTTP_RETRY_AFTER_MAX_S * 1000L);
}

Test(http, a_handle_says_who_it_is)
{
	CURL *h = http_handle();
	cr_assert_not_null(h);
	curl_easy_cleanup(h);
	cr_assert(strncmp(HTTP_USER_AGENT, "addonmake/", 10) == 0);
}

/* the mode OpenSSL has for the connection of a transfer under way */
struct tls_seen {
	CURL *h;
	long mode;
	int seen;
};

static size_t
tls_mode(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	struct tls_seen *t = u;
	struct curl_tlssessioninfo *ti = NULL;
	/* libcurl's libssl, already loaded: the test does not link its own */
	void *ssl = dlopen("libssl.so.3", RTLD_NOW | RTLD_NOLOAD);
	long (*ssl_ctrl)(void *, int, long, void *) = NULL;
	if (ssl)
		*(void **)&ssl_ctrl = dlsym(ssl, "SSL_ctrl");
	if (ssl_ctrl && curl_easy_getinfo(t->h, CURLINFO_TLS_SSL_PTR, &ti) == CURLE_OK && ti &&
	    ti->backend == CURLSSLBACKEND_OPENSSL && ti->internals) {
		t->mode = ssl_ctrl(ti->internals, SSL_CTRL_MODE, 0, NULL);
		t->seen = 1;
	}
	if (ssl)
		dlclose(ssl);
	return sz * n;
}

/* libcurl has OpenSSL free a connection's buffers whenever they are
 * empty, a malloc and a free of 17 KiB for every TLS record read; a
 * handle of addonmake's keeps them */
Test(http, a_tls_connection_keeps_its_buffers)
{
	char dir[] = "/tmp/addonmake-http-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 "
		 "-addext subjectAltName=IP:127.0.0.1 -keyout k.pem -out c.pem >/dev/null 2>&1",
		 dir);
	if (system(cmd) != 0)
		cr_skip_test("openssl is not here to make a certificate");
	snprintf(cmd, sizeof(cmd), "%s/srv.py", dir);
	FILE *f = fopen(cmd, "w");
	cr_assert_not_null(f);
	fputs("import http.server, ssl, sys\n"
	      "class H(http.server.BaseHTTPRequestHandler):\n"
	      "    def do_GET(self):\n"
	      "        self.send_response(200)\n"
	      "        self.send_header('Content-Length', '2')\n"
	      "        self.end_headers()\n"
	      "        self.wfile.write(b'ok')\n"
	      "s = http.server.HTTPServer(('127.0.0.1', 0), H)\n"
	      "c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	      "c.load_cert_chain(sys.argv[1] + '/c.pem', sys.argv[1] + '/k.pem')\n"
	      "s.socket = c.wrap_socket(s.socket, server_side=True)\n"
	      "print(s.server_address[1], flush=True)\n"
	      "s.handle_request()\n",
	      f);
	fclose(f);
	snprintf(cmd, sizeof(cmd), "python3 %s/srv.py %s 2>/dev/null", dir, dir);
	FILE *srv = popen(cmd, "r");
	int port = 0;
	if (!srv || fscanf(srv, "%d", &port) != 1)
		cr_skip_test("python3 is not here to serve TLS");
	CURL *h = http_handle();
	cr_assert_not_null(h);
	snprintf(cmd, sizeof(cmd), "%s/c.pem", dir);
	http_tls(h, cmd, NULL, 0, 0);
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", port);
	struct tls_seen t = {.h = h};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, tls_mode);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &t);
	CURLcode cc = curl_easy_perform(h);
	curl_easy_cleanup(h);
	pclose(srv);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
	cr_assert_eq(cc, CURLE_OK, "%s", curl_easy_strerror(cc));
	if (!t.seen)
		cr_skip_test("libcurl's TLS library is not OpenSSL");
	cr_assert_eq(t.mode & SSL_MODE_RELEASE_BUFFERS, 0, "mode %#lx", t.mode);
}
