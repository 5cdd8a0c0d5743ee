/* http: libcurl's set-up and the handle options all of addonmake's HTTP
 * users share (http.h). */
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "http.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;

static void
setup(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
http_init(void)
{
	pthread_once(&once, setup);
}

/* libcurl has OpenSSL free a connection's read and write buffers
 * whenever they are empty (SSL_MODE_RELEASE_BUFFERS), so every TLS record
 * cost a malloc and a free of 17 KiB: 3,000 of them for the 640 requests
 * of a 500-object sync over HTTP/2. Kept, a connection holds 34 KiB. */
static CURLcode
keep_tls_buffers(CURL *h, void *ssl_ctx, void *u)
{
	(void)h;
	(void)u;
	http_ssl_ctx_ctrl_fn ctrl = http_openssl_ctx_ctrl();
	if (ctrl)
		ctrl(ssl_ctx, SSL_CTRL_CLEAR_MODE, SSL_MODE_RELEASE_BUFFERS, NULL);
	return CURLE_OK;
}

CURL *
http_handle(void)
{
	http_init();
	CURL *h = curl_easy_init();
	if (!h)
		return NULL;
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, HTTP_USER_AGENT);
	if (http_openssl_ctx_ctrl())
		curl_easy_setopt(h, CURLOPT_SSL_CTX_FUNCTION, keep_tls_buffers);
	return h;
}

void
http_tls(CURL *h, const char *ca_file, const char *ca_pem, size_t ca_len, int insecure)
{
	if (ca_file)
		curl_easy_setopt(h, CURLOPT_CAINFO, ca_file);
	if (ca_pem && ca_len) {
		struct curl_blob b = {(void *)ca_pem, ca_len, CURL_BLOB_COPY};
		curl_easy_setopt(h, CURLOPT_CAINFO_BLOB, &b);
	}
	if (insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
}

void
http_client_cert(CURL *h, const char *cert, size_t cert_len, const char *key, size_t key_len)
{
	struct curl_blob c = {(void *)cert, cert_len, CURL_BLOB_COPY};
	struct curl_blob k = {(void *)key, key_len, CURL_BLOB_COPY};
	curl_easy_setopt(h, CURLOPT_SSLCERT_BLOB, &c);
	curl_easy_setopt(h, CURLOPT_SSLCERTTYPE, "PEM");
	curl_easy_setopt(h, CURLOPT_SSLKEY_BLOB, &k);
	curl_easy_setopt(h, CURLOPT_SSLKEYTYPE, "PEM");
}

void
http_basic_auth(CURL *h, const char *user, const char *password)
{
	curl_easy_setopt(h, CURLOPT_USERNAME, user);
	curl_easy_setopt(h, CURLOPT_PASSWORD, password ? password : "");
}

char *
http_header_value(const char *p, size_t n, const char *name)
{
	size_t nl = strlen(name);
	if (n <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
		return NULL;
	const char *v = p + nl + 1;
	size_t vl = n - nl - 1;
	while (vl && (*v == ' ' || *v == '\t'))
		v++, vl--;
	while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ' ||
		      v[vl - 1] == '\t'))
		vl--;
	return xstrndup(v, vl);
}

long
http_retry_after_ms(int secs)
{
	if (secs <= 0)
		return 0;
	return secs > HTTP_RETRY_AFTER_MAX_S ? HTTP_RETRY_AFTER_MAX_S * 1000L : secs * 1000L;
}
