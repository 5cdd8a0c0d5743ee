/* internal: what the files of src/kube/ share and nobody else sees. */
#ifndef KUBE_INTERNAL_H
#define KUBE_INTERNAL_H

#include <curl/curl.h>
#include <pthread.h>
#include "../h2/h2.h"
#include "kube.h"

/* requests in flight at most to an HTTP/2 server, as streams of its one
 * connection (servers allow 100 or more); the handles kept are as many */
#define POOL_MAX 32
/* connections kept besides the requests' for watches, which each hold
 * one on an HTTP/1.1 server (on HTTP/2 they are streams of the one) */
#define KUBE_WATCH_CONNS 16
/* HTTP/2 connections at most to one server: POOL_MAX requests in flight
 * need 16 where a server allows 2 streams a connection */
#define KUBE_H2_CONNS 16

struct loop_item;

struct kube {
	struct kube_cfg cfg;
	kube_exec_fn run;
	void *run_u;
	const int *cancel;
	CURLSH *sh;
	pthread_mutex_t shmu[CURL_LOCK_DATA_LAST];
	pthread_mutex_t mu; /* the pool, the credential, the counters, the loop's queue */
	/* easy handles set up for this server, free; each keeps the header
	 * list it sent last (Accept, the credential, Content-Type), reused
	 * while a request's key (its Accept and Content-Type) and the
	 * credential (gen) are the same, and whether its client certificate
	 * is the credential's */
	struct kube_conn {
		CURL *h;
		struct curl_slist *hdr;
		char key[160];
		unsigned gen;
		int cert_set;
		unsigned cert_gen;
	} pool[POOL_MAX];
	int npool;
	int inflight;       /* at most limit; others wait on slot */
	int limit;          /* KUBE_MAX_INFLIGHT; POOL_MAX once an answer came by HTTP/2 */
	struct waitq slot;
	/* the event loop (loop.c): its multi handle, made by the first
	 * transfer; under mu: the transfers handed in, the callers taking
	 * turns driving m */
	CURLM *m;
	struct loop_item *queue;
	struct relay relay;
	int running;        /* transfers on m; the driver's own */
	char *bearer;       /* from the token file or the exec plugin */
	int64_t bearer_exp; /* wall seconds; 0: no expiry */
	struct buf exec_cert, exec_key;
	long nreq;
	unsigned cred_gen;  /* counts credentials fetched: see settle() */
	/* discovery, guarded by dmu (held across its requests) */
	struct hold dmu;
	int aggregated_tried; /* aggregated discovery was asked for */
	struct strset gvs;  /* apiVersion -> struct gvres */
	char **gvkeys;      /* every apiVersion asked, for kube_forget */
	size_t ngvkeys;
	struct arena da;
	/* the HTTP/2 client's connections (h2conn.c), guarded by h2mu,
	 * which is never taken with mu held: those in use (more than one
	 * only where the server allows fewer streams than are in flight),
	 * whether libcurl is used instead (h2_off) and whether that was
	 * decided, the credential generation of their exec certificate,
	 * those retired, :authority */
	pthread_mutex_t h2mu;
	struct h2_conn *h2[KUBE_H2_CONNS];
	size_t nh2;
	int h2_off, h2_tried;
	int h2_plain;       /* HTTP/1.1 over plain TCP, by the same client */
	unsigned h2_cert_gen;
	struct h2_conn **h2_old;
	size_t nh2_old;
	struct buf h2_authority;
};


/* runs the n transfers of h (each set up, at most POOL_MAX) on the
 * server's event loop, and returns when all have ended: cc[i] the result
 * of h[i] */
void loop_run(struct kube *k, CURL *const *h, size_t n, CURLcode *cc);
/* frees the event loop's multi handle (no transfer may be running) */
void loop_stop(struct kube *k);

/* a connection of k's HTTP/2 client (the first made on the first call)
 * and in *room how many requests it takes now (1 at least); NULL when
 * libcurl serves k, or with why in down (the caller's, empty) when the
 * server could not be reached. Call it without k->mu held. */
struct h2_conn *kube_h2(struct kube *k, size_t *room, struct buf *down);
/* closes every connection kube_h2 made */
void kube_h2_close(struct kube *k);
/* host and port of an https://host:port URL (an IPv6 host in brackets) */
void kube_host_port(const char *url, struct buf *host, struct buf *port);

/* kube_call with an Accept header of the caller's (kube_call sends
 * application/json) */
int kube_call_accept(struct kube *k, const char *method, const char *path, const char *query,
		     const char *ctype, const char *accept, const char *body, size_t len,
		     struct kube_resp *r, struct buf *err);

#endif
