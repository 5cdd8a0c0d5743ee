/* relay: callers that share one event loop take turns driving it. Each
 * hands its work in and waits for it; one caller at a time drives the
 * loop for everyone's work while the others sleep, and, when its own work
 * is done, hands the driving to a caller still waiting. The loop has no
 * thread of its own: a lone caller drives its work itself, with no
 * hand-off between threads for each answer. Fibers of one thread
 * (fiber.c) share the driving the same way, without any thread waking
 * another. The libcurl loop
 * (src/kube/loop.c) and the HTTP/2 client (src/h2/run.c) both drive this
 * way; what a turn and a nap are is theirs. */
#include "lib.h"

/* the driving to the next caller whose work is not done (*r->mu held) */
static void
hand_on(struct relay *r, struct relay_wait *w)
{
	for (struct relay_wait *o = r->waiting; o; o = o->next)
		if (o != w && o->left) {
			waitq_wake_one(&o->q);
			break;
		}
}

/* drives until w's work is done (*r->mu held, and held again on return).
 * A fiber yields to the other fibers after a turn that left them
 * something to do and goes on after; meanwhile it stays the loop's driver
 * (r->fiber), so that they hand their work in rather than drive. A
 * thread may drive in between: the fiber then waits. */
static void
drive(struct relay *r, struct relay_wait *w)
{
	struct fiber *f = fiber_self();
	r->driving = 1;
	r->fiber = f;
	while (w->left) {
		void *in = r->take(r->u);
		pthread_mutex_unlock(r->mu);
		int ms = r->turn(r->u, in);
		pthread_mutex_lock(r->mu);
		if (!w->left || r->pending(r->u))
			continue;
		if (f) {
			int cap = fiber_nap_begin(ms, r->wake, r->u);
			if (ms && !cap) {
				r->driving = 0;
				pthread_mutex_unlock(r->mu);
				fiber_yield(1);
				pthread_mutex_lock(r->mu);
				if (r->driving || r->fiber != f)
					return; /* another took the driving meanwhile */
				r->driving = 1;
				continue;
			}
			ms = cap;
		}
		/* asleep in nap, the driver is woken (r->wake) when work is
		 * handed in; awake, it finds it at its next turn */
		r->polling = 1;
		pthread_mutex_unlock(r->mu);
		r->nap(r->u, ms);
		if (f)
			fiber_nap_end();
		pthread_mutex_lock(r->mu);
		r->polling = 0;
	}
	r->driving = 0;
	if (r->fiber == f)
		r->fiber = NULL;
	hand_on(r, w);
}

void
relay_run(struct relay *r, struct relay_wait *w)
{
	struct fiber *f = fiber_self();
	w->next = r->waiting;
	r->waiting = w;
	if (r->polling)
		r->wake(r->u);
	while (w->left) {
		/* a fiber leaves the loop to the fiber driving it, even while
		 * that one has yielded; a thread does not wait for a fiber */
		if (!r->driving && (!f || !r->fiber || r->fiber == f)) {
			drive(r, w);
			continue;
		}
		if (r->fiber == f)
			r->fiber = NULL; /* a thread drives: f waits like the rest */
		waitq_wait(&w->q, r->mu, 0);
	}
	struct relay_wait **p = &r->waiting;
	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
}

void
relay_done(struct relay_wait *w)
{
	if (--w->left == 0)
		waitq_wake_one(&w->q);
}
