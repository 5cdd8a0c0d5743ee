/* loop: the one event loop of a server. Every transfer to it runs on one
 * libcurl multi handle, so that an HTTP/2 server gets every request
 * multiplexed on one connection (one TLS handshake a run), as kubectl
 * does, and an HTTP/1.1 server a few kept-alive connections. Callers hand
 * their transfers in; one of them at a time drives the multi handle for
 * everyone's transfers (the others sleep until theirs are done) and, when
 * its own are done, hands the driving to a caller still waiting. No thread
 * of its own: a lone caller drives its requests itself, with no hand-off
 * between threads for each answer. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include "internal.h"

/* the callers of one loop_run: done when left is 0 */
struct loop_wait {
	pthread_cond_t cv;
	size_t left;
	struct loop_wait *next; /* k->waiting */
};

/* a transfer handed in: its handle, where its result goes, who waits */
struct loop_item {
	CURL *h;
	CURLcode *cc;
	struct loop_wait *w;
	struct loop_item *next;
};

/* an ended transfer's result to its caller (k->mu held) */
static void
item_done(struct loop_item *it, CURLcode cc)
{
	*it->cc = cc;
	if (--it->w->left == 0)
		pthread_cond_signal(&it->w->cv);
}

/* one turn of the driver (k->mu not held): what was handed in joins the
 * multi handle, the transfers move on, the ended ones go to their callers */
static void
turn(struct kube *k, struct loop_item *in)
{
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
}

/* drives the multi handle until w's transfers are done (k->mu held, and
 * held again on return) */
static void
drive(struct kube *k, struct loop_wait *w)
{
	k->driving = 1;
	while (w->left) {
		struct loop_item *in = k->queue;
		k->queue = NULL;
		pthread_mutex_unlock(&k->mu);
		turn(k, in);
		pthread_mutex_lock(&k->mu);
		if (!w->left || k->queue)
			continue;
		/* asleep in poll, the driver is woken by curl_multi_wakeup when
		 * a transfer is handed in; awake, it finds it in the queue (and
		 * no system call is made to wake it) */
		k->polling = 1;
		pthread_mutex_unlock(&k->mu);
		curl_multi_poll(k->m, NULL, 0, 1000, NULL);
		pthread_mutex_lock(&k->mu);
		k->polling = 0;
	}
	k->driving = 0;
	/* the others' transfers go on: one of their callers drives now */
	for (struct loop_wait *o = k->waiting; o; o = o->next)
		if (o != w && o->left) {
			pthread_cond_signal(&o->cv);
			break;
		}
}

void
loop_run(struct kube *k, CURL *const *h, size_t n, CURLcode *cc)
{
	struct loop_item it[POOL_MAX];
	struct loop_wait w = {.left = n};
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&k->mu);
	if (!k->m) {
		k->m = curl_multi_init();
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
	w.next = k->waiting;
	k->waiting = &w;
	if (k->polling)
		curl_multi_wakeup(k->m);
	while (w.left) {
		if (!k->driving)
			drive(k, &w);
		else
			pthread_cond_wait(&w.cv, &k->mu);
	}
	struct loop_wait **p = &k->waiting;
	while (*p != &w)
		p = &(*p)->next;
	*p = w.next;
	pthread_mutex_unlock(&k->mu);
	pthread_cond_destroy(&w.cv);
}

void
loop_stop(struct kube *k)
{
	if (k->m)
		curl_multi_cleanup(k->m);
	k->m = NULL;
}
