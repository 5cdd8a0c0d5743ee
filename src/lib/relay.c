/* relay: callers that share one event loop take turns driving it. Each
 * hands its work in and waits for it; one caller at a time drives the
 * loop for everyone's work while the others sleep, and, when its own work
 * is done, hands the driving to a caller still waiting. The loop has no
 * thread of its own: a lone caller drives its work itself, with no
 * hand-off between threads for each answer. The libcurl loop
 * (src/kube/loop.c) and the HTTP/2 client (src/h2/run.c) both drive this
 * way; what a turn and a nap are is theirs. */
#include "lib.h"

/* drives until w's work is done (*r->mu held, and held again on return) */
static void
drive(struct relay *r, struct relay_wait *w)
{
	r->driving = 1;
	while (w->left) {
		void *in = r->take(r->u);
		pthread_mutex_unlock(r->mu);
		int ms = r->turn(r->u, in);
		pthread_mutex_lock(r->mu);
		if (!w->left || r->pending(r->u))
			continue;
		/* asleep in nap, the driver is woken (r->wake) when work is
		 * handed in; awake, it finds it at its next turn */
		r->polling = 1;
		pthread_mutex_unlock(r->mu);
		r->nap(r->u, ms);
		pthread_mutex_lock(r->mu);
		r->polling = 0;
	}
	r->driving = 0;
	for (struct relay_wait *o = r->waiting; o; o = o->next)
		if (o != w && o->left) {
			pthread_cond_signal(&o->cv);
			break;
		}
}

void
relay_run(struct relay *r, struct relay_wait *w)
{
	pthread_cond_init(&w->cv, NULL);
	w->next = r->waiting;
	r->waiting = w;
	if (r->polling)
		r->wake(r->u);
	while (w->left) {
		if (!r->driving)
			drive(r, w);
		else
			pthread_cond_wait(&w->cv, r->mu);
	}
	struct relay_wait **p = &r->waiting;
	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
	pthread_cond_destroy(&w->cv);
}

void
relay_done(struct relay_wait *w)
{
	if (--w->left == 0)
		pthread_cond_signal(&w->cv);
}
