/* curl_floor: what libcurl alone costs for the kube benchmark's requests.
 * Sends the 500 server-side apply PATCHes of tests/bench/kube (LAYERS x
 * OBJECTS ConfigMaps) with libcurl's multi interface, 8 at once on reused
 * handles and kept-alive connections, and does nothing else: no parsing,
 * no state. tests/bench/kube builds and times it as a reference.
 *
 *   curl_floor PORT LAYERS OBJECTS                         (the stand-in)
 *   curl_floor PORT LAYERS OBJECTS CA_FILE TOKEN PREFIX    (a real server)
 *
 * Given a CA, the server is reached over TLS (HTTP/2 where it speaks it)
 * with the token, and the objects go to namespace default named
 * PREFIX-LAYER-OBJECT (tests/bench/h2_floor.c's, for comparison). */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>

#define INFLIGHT 8

static size_t
discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p, (void)u;
	return sz * n;
}

/* where the requests go: the stand-in (tls 0) or a real server */
static int port, no, tls;
static const char *prefix = "cm";

/* handle h's request for object i (layer i / no, object i % no) */
static void
next_request(CURL *h, int i, char (*url)[256], char (*body)[512])
{
	int l = i / no, o = i % no;
	snprintf(*url, sizeof(*url),
		 "%s://127.0.0.1:%d/api/v1/namespaces/default/configmaps/%s-%d-%d"
		 "?fieldManager=%s",
		 tls ? "https" : "http", port, prefix, l, o,
		 tls ? "floor&force=true" : "addonmake&force=false");
	snprintf(*body, sizeof(*body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"%s-%d-%d\","
		 "\"namespace\":\"default\"},\"data\":{\"layer\":\"%d\",\"index\":\"%d\","
		 "\"text\":\"some value of a setting\"}}",
		 prefix, l, o, l, o);
	curl_easy_setopt(h, CURLOPT_URL, *url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, *body);
}

int
main(int argc, char **argv)
{
	if (argc != 4 && argc != 7) {
		fprintf(stderr, "usage: curl_floor PORT LAYERS OBJECTS [CA_FILE TOKEN PREFIX]\n");
		return 2;
	}
	port = atoi(argv[1]), no = atoi(argv[3]), tls = argc == 7;
	int total = atoi(argv[2]) * no;
	char auth[256];
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tls ? argv[5] : "abc");
	if (tls)
		prefix = argv[6];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/apply-patch+yaml");
	hdr = curl_slist_append(hdr, auth);
	CURLM *m = curl_multi_init();
	static char url[INFLIGHT][256], body[INFLIGHT][512];
	CURL *h[INFLIGHT];
	int sent = 0, running = 0, failed = 0;
	for (int k = 0; k < INFLIGHT; k++) {
		h[k] = curl_easy_init();
		curl_easy_setopt(h[k], CURLOPT_HTTPHEADER, hdr);
		curl_easy_setopt(h[k], CURLOPT_CUSTOMREQUEST, "PATCH");
		curl_easy_setopt(h[k], CURLOPT_WRITEFUNCTION, discard);
		curl_easy_setopt(h[k], CURLOPT_PRIVATE, (void *)(long)k);
		if (tls) {
			curl_easy_setopt(h[k], CURLOPT_CAINFO, argv[4]);
			curl_easy_setopt(h[k], CURLOPT_PIPEWAIT, 1L);
		}
		if (sent < total) {
			next_request(h[k], sent++, &url[k], &body[k]);
			curl_multi_add_handle(m, h[k]);
			running++;
		}
	}
	while (running) {
		int still, added = 0;
		curl_multi_perform(m, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(m, &left))) {
			CURL *e = msg->easy_handle;
			long code = 0, k = 0;
			char *priv;
			curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &code);
			curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
			k = (long)priv;
			failed |= msg->data.result != CURLE_OK || code >= 300;
			curl_multi_remove_handle(m, e);
			running--;
			if (sent < total) {
				next_request(e, sent++, &url[k], &body[k]);
				curl_multi_add_handle(m, e);
				running++;
				added = 1;
			}
		}
		if (running && !added)
			curl_multi_poll(m, NULL, 0, 1000, NULL);
	}
	for (int k = 0; k < INFLIGHT; k++)
		curl_easy_cleanup(h[k]);
	curl_multi_cleanup(m);
	curl_slist_free_all(hdr);
	if (failed)
		fprintf(stderr, "curl_floor: a request failed\n");
	return failed;
}
