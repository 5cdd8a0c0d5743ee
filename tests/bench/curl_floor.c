/* curl_floor: what libcurl alone costs for the kube benchmark's requests.
 * Sends the 500 server-side apply PATCHes of tests/bench/kube (LAYERS x
 * OBJECTS ConfigMaps) with libcurl's multi interface, 8 at once on reused
 * handles and kept-alive connections, and does nothing else: no parsing,
 * no state. tests/bench/kube builds and times it as a reference.
 *
 *   curl_floor PORT LAYERS OBJECTS */
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

/* handle h's request for object i (layer i / no, object i % no) */
static void
next_request(CURL *h, int i, int port, int no, char (*url)[256], char (*body)[512])
{
	int l = i / no, o = i % no;
	snprintf(*url, sizeof(*url),
		 "http://127.0.0.1:%d/api/v1/namespaces/default/configmaps/cm-%d-%d"
		 "?fieldManager=addonmake&force=false",
		 port, l, o);
	snprintf(*body, sizeof(*body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cm-%d-%d\","
		 "\"namespace\":\"default\"},\"data\":{\"layer\":\"%d\",\"index\":\"%d\","
		 "\"text\":\"some value of a setting\"}}",
		 l, o, l, o);
	curl_easy_setopt(h, CURLOPT_URL, *url);
	curl_easy_setopt(h, CURLOPT_POSTFIELDS, *body);
}

int
main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: curl_floor PORT LAYERS OBJECTS\n");
		return 2;
	}
	int port = atoi(argv[1]), no = atoi(argv[3]), total = atoi(argv[2]) * no;
	curl_global_init(CURL_GLOBAL_DEFAULT);
	struct curl_slist *hdr = curl_slist_append(NULL, "Content-Type: application/apply-patch+yaml");
	hdr = curl_slist_append(hdr, "Authorization: Bearer abc");
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
		if (sent < total) {
			next_request(h[k], sent++, port, no, &url[k], &body[k]);
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
				next_request(e, sent++, port, no, &url[k], &body[k]);
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
