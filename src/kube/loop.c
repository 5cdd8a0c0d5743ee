/* loop: the one event loop of a server. Every transfer to it runs on one
 * libcurl multi handle driven by one thread, so that an HTTP/2 server gets
 * every request multiplexed on one connection (one TLS handshake a run),
 * as kubectl does, and an HTTP/1.1 server a few kept-alive connections.
 * Callers hand their transfers in and sleep until theirs are done; the
 * loop is started by the first transfer and stopped by kube_close. */
#include <curl/curl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include "internal.h"

/* a transfer handed in: its handle, where its result goes, who waits */
struct loop_item {
	CURL *h;
	CURLcode *cc;
	struct loop_wait *w;
	struct loop_item *next;
};

/* the callers of one loop_run: done when left is 0 */
struct loop_wait {
	pthread_cond_t cv;
	size_t left;
};

static void
finish(struct kube *k, struct loop_item *it, CURLcode cc)
{
	curl_multi_remove_handle(k->m, it->h);
	pthread_mutex_lock(&k->mu);
	*it->cc = cc;
	if (--it->w->left == 0)
		pthread_cond_signal(&it->w->cv);
	pthread_mutex_unlock(&k->mu);
}

static void *
loop_main(void *p)
{
	struct kube *k = p;
	for (;;) {
		pthread_mutex_lock(&k->mu);
		struct loop_item *in = k->queue;
		k->queue = NULL;
		int quit = k->quit;
		pthread_mutex_unlock(&k->mu);
		if (quit && !in && !k->running)
			return NULL;
		for (struct loop_item *it = in, *next; it; it = next) {
			next = it->next;
			curl_easy_setopt(it->h, CURLOPT_PRIVATE, it);
			CURLMcode mc = curl_multi_add_handle(k->m, it->h);
			if (mc != CURLM_OK) {
				pthread_mutex_lock(&k->mu);
				*it->cc = CURLE_OUT_OF_MEMORY;
				if (--it->w->left == 0)
					pthread_cond_signal(&it->w->cv);
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
			k->running--;
			finish(k, it, cc);
		}
		/* asleep in poll, the loop is woken by curl_multi_wakeup when a
		 * transfer is handed in; awake, it finds it in the queue (and
		 * no system call is made to wake it) */
		pthread_mutex_lock(&k->mu);
		int idle = !k->queue && !k->quit;
		k->polling = idle;
		pthread_mutex_unlock(&k->mu);
		if (!idle)
			continue;
		curl_multi_poll(k->m, NULL, 0, 1000, NULL);
		pthread_mutex_lock(&k->mu);
		k->polling = 0;
		pthread_mutex_unlock(&k->mu);
	}
}

/* the multi handle and its thread, once */
static int
loop_start(struct kube *k)
{
	if (k->loop_on)
		return 0;
	k->m = curl_multi_init();
	if (!k->m)
		return -1;
	/* HTTP/2: every transfer a stream of one connection; HTTP/1.1: up
	 * to the slots' count of connections, kept for the next requests,
	 * and one more for each watch */
	curl_multi_setopt(k->m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	curl_multi_setopt(k->m, CURLMOPT_MAXCONNECTS, (long)POOL_MAX + KUBE_WATCH_CONNS);
	if (pthread_create(&k->loop, NULL, loop_main, k)) {
		curl_multi_cleanup(k->m);
		k->m = NULL;
		return -1;
	}
	k->loop_on = 1;
	return 0;
}

void
loop_run(struct kube *k, CURL *const *h, size_t n, CURLcode *cc)
{
	struct loop_item it[POOL_MAX];
	struct loop_wait w = {.left = n};
	pthread_cond_init(&w.cv, NULL);
	pthread_mutex_lock(&k->mu);
	int ok = loop_start(k) == 0;
	for (size_t i = 0; i < n; i++) {
		cc[i] = CURLE_OUT_OF_MEMORY;
		if (!ok)
			continue;
		it[i] = (struct loop_item){.h = h[i], .cc = &cc[i], .w = &w, .next = k->queue};
		k->queue = &it[i];
	}
	if (ok) {
		if (k->polling)
			curl_multi_wakeup(k->m);
		while (w.left)
			pthread_cond_wait(&w.cv, &k->mu);
	}
	pthread_mutex_unlock(&k->mu);
	pthread_cond_destroy(&w.cv);
}

void
loop_stop(struct kube *k)
{
	pthread_mutex_lock(&k->mu);
	int on = k->loop_on;
	k->quit = 1;
	if (on && k->polling)
		curl_multi_wakeup(k->m);
	pthread_mutex_unlock(&k->mu);
	if (!on)
		return;
	pthread_join(k->loop, NULL);
	curl_multi_cleanup(k->m);
}
