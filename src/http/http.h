/* http: what addonmake's libcurl users share — the registry fetcher
 * (src/fetch.c), the Kubernetes client (src/kube/) and http readiness
 * checks (src/check.c): libcurl's global set-up, once; the options every
 * handle has; TLS and basic credentials; a response header's value; the
 * cap on a server's Retry-After. Each user keeps its own transfers,
 * timeouts and retry policy, which differ on purpose. */
#ifndef HTTP_H
#define HTTP_H

#include <curl/curl.h>
#include "../lib/lib.h"

/* what addonmake says it is to servers */
#define HTTP_USER_AGENT "addonmake/0.2"
/* a server's Retry-After is honoured up to this many seconds: a run
 * waits, but not for as long as a busy server may ask */
#define HTTP_RETRY_AFTER_MAX_S 5

/* sets libcurl (and its TLS library) up, once, safely from any thread;
 * http_handle calls it. Set up on first use: most runs never need it. */
void http_init(void);
/* NULL when libcurl is there; else why it is not (and what to install).
 * libcurl is loaded on first use (curl_lazy.c), so a machine without it
 * runs every command that sends no request; one that does asks here
 * first and reports this. */
const char *http_unavailable(void);
/* OpenSSL's SSL_CTX_ctrl where libcurl's TLS library is OpenSSL (it is
 * taken from there), else NULL */
typedef long (*http_ssl_ctx_ctrl_fn)(void *ctx, int cmd, long larg, void *parg);
http_ssl_ctx_ctrl_fn http_openssl_ctx_ctrl(void);
/* a new easy handle with what every request of addonmake has (no signals,
 * as threads use it; the user agent; OpenSSL's buffers kept for the
 * connection's life), or NULL when libcurl cannot make one */
CURL *http_handle(void);
/* TLS of h: verified against ca_file (a PEM file) or ca_pem (PEM text of
 * ca_len bytes) when given, else the system's CAs; insecure turns
 * verification off (a registry's insecureSkipVerify, a kubeconfig's
 * insecure-skip-tls-verify) */
void http_tls(CURL *h, const char *ca_file, const char *ca_pem, size_t ca_len, int insecure);
/* a client certificate and its key, both PEM text (copied) */
void http_client_cert(CURL *h, const char *cert, size_t cert_len, const char *key,
		      size_t key_len);
/* basic credentials (a NULL password is an empty one) */
void http_basic_auth(CURL *h, const char *user, const char *password);
/* the value of header name (any case) if the header line p of n bytes is
 * that header, trimmed, allocated (the caller frees it); else NULL */
char *http_header_value(const char *p, size_t n, const char *name);
/* the wait a Retry-After of secs seconds asks for, in ms, capped at
 * HTTP_RETRY_AFTER_MAX_S */
long http_retry_after_ms(int secs);

#endif
