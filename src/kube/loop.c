/* loop: the one libcurl event loop of a server. Every transfer to it runs
 * on one multi handle, so that an HTTP/2 server gets every request
 * multiplexed on one connection (one TLS handshake a run), as kubectl
 * does, and an HTTP/1.1 server a few kept-alive connections. Callers hand
 * their transfers in and take turns driving the multi handle for
 * everyone's (src/lib/relay.c). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include "internal.h"

/* a transfer handed in: its handle, where its result goes, who waits */
struct loop_item {
	CURL *h;
	CURLcode *cc;
	struct relay_wait *w;
	struct loop_item *next;
};

/* an ended transfer's result to its caller (k->mu held) */
static void
item_done(struct loop_item *it, CURLcode cc)
{
	*it->cc = cc;
	relay_done(it->w);
}

/* the transfers handed in so far (k->mu held) */
static void *
take(void *u)
{
	struct kube *k = u;
	struct loop_item *in = k->queue;
	k->queue = NULL;
	return in;
}

static int
pending(void *u)
{
	return ((struct kube *)u)->queue != NULL;
}

/* one turn of the driver (k->mu not held): what was handed in joins the
 * multi handle, the transfers move on, the ended ones go to their callers;
 * a nap of a second at most follows */
static int
turn(void *u, void *items)
{
	struct kube *k = u;
	struct loop_item *in = items;
	for (struct loop_item *it = in, *next; it; it = next) {
		next = it->next;
		curl_easy_setopt(it->h, CURLOPT_PRIVATE, it);
		if (curl_multi_add_handle(k->m, it->h) != CURLM_OK) {
			pthread_mutex_lock(&k->mu);
			item_done(it, CURLE_OUT_OF_MEMORY);
			pthread_mutex_unlock(&k->mu);
			continue;
		}
		k->running++;
	}
	int still = 0;
	curl_multi_perform(k->m, &still);
	CURLMsg *msg;
	int left;
	while ((msg = curl_multi_info_read(k->m, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		struct loop_item *it = NULL;
		CURLcode cc = msg->data.result;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&it);
		curl_multi_remove_handle(k->m, it->h);
		k->running--;
		pthread_mutex_lock(&k->mu);
		item_done(it, cc);
		pthread_mutex_unlock(&k->mu);
	}
	return 1000;
}

/* asleep in poll, the driver is woken by curl_multi_wakeup when a
 * transfer is handed in; awake, it finds it at its next turn (and no
 * system call is made to wake it) */
static void
nap(void *u, int ms)
{
	curl_multi_poll(((struct kube *)u)->m, NULL, 0, ms, NULL);
}

static void
wake(void *u)
{
	curl_multi_wakeup(((struct kube *)u)->m);
}

void
loop_run(struct kube *k, CURL *const *h, size_t n, CURLcode *cc)
{
	struct loop_item it[POOL_MAX];
	struct relay_wait w = {.left = n};
	pthread_mutex_lock(&k->mu);
	if (!k->m) {
		k->m = curl_multi_init();
		k->relay = (struct relay){.mu = &k->mu, .u = k, .take = take, .pending = pending,
					  .turn = turn, .nap = nap, .wake = wake};
		/* HTTP/2: every transfer a stream of one connection; HTTP/1.1:
		 * up to the slots' count of connections, kept for the next
		 * requests, and one more for each watch */
		curl_multi_setopt(k->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
		curl_multi_setopt(k->m, CURLMOPT_MAXCONNECTS,
				  (long)KUBE_MAX_INFLIGHT + KUBE_WATCH_CONNS);
	}
	for (size_t i = 0; i < n; i++) {
		cc[i] = CURLE_OUT_OF_MEMORY;
		if (!k->m) {
			w.left--;
			continue;
		}
		it[i] = (struct loop_item){.h = h[i], .cc = &cc[i], .w = &w, .next = k->queue};
		k->queue = &it[i];
	}
	if (k->m)
		relay_run(&k->relay, &w);
	pthread_mutex_unlock(&k->mu);
}

void
loop_stop(struct kube *k)
{
	if (k->m)
		curl_multi_cleanup(k->m);
	k->m = NULL;
}
