/* cmd_fleet: a sync of many clusters, up to -J of them at once (default
 * 8), each on a thread of its own that is that cluster's main thread
 * (run.c): its own target (connections, credentials, lease), its own
 * layers' workers, -j within it. A fleet whose tiers wait 30 s for a
 * Deployment then takes the longest cluster's time, not the sum. Clusters
 * start in the order given; without -k, a failed cluster keeps the
 * waiting ones from starting and the running ones stop after their
 * current tier (their unfinished layers stay pending). Every cluster asked
 * for gets its outcome, set here, on the main thread. */
#include <stdlib.h>
#include "cmd.h"

enum { CS_WAITING, CS_RUNNING, CS_DONE, CS_REAPED };

struct fleet;

struct cslot {
	struct fleet *f;
	struct cluster *c;
	struct crun cr;
	int crc, state;
	int thread; /* th was started */
	pthread_t th;
};

struct fleet {
	struct cmd_ctx *x;
	struct runner *r;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cslot *v;
	size_t n, next, running, done, failed;
};

static void *
cluster_thread(void *u)
{
	struct cslot *s = u;
	int crc = cmd_sync_one(s->f->x, s->f->r, s->c, &s->cr);
	pthread_mutex_lock(&s->f->mu);
	s->crc = crc;
	s->state = CS_DONE;
	pthread_cond_broadcast(&s->f->cv);
	pthread_mutex_unlock(&s->f->mu);
	return NULL;
}

static void
show(struct fleet *f)
{
	out_fleet(f->r->out, (int)f->done, (int)f->running, (int)f->failed, (int)(f->n - f->next));
}

/* the clusters that finished: joined, their outcomes set; whether one
 * failed or was interrupted (rc: the first such exit code) */
static int
reap(struct fleet *f, int *rc, int *stop)
{
	int bad = 0;
	for (size_t i = 0; i < f->next; i++) {
		struct cslot *s = &f->v[i];
		pthread_mutex_lock(&f->mu);
		int done = s->state == CS_DONE;
		pthread_mutex_unlock(&f->mu);
		if (!done)
			continue;
		if (s->thread)
			pthread_join(s->th, NULL);
		s->state = CS_REAPED;
		f->running--;
		f->done++;
		cmd_sync_outcome(f->x, s->c, s->crc, &s->cr);
		crun_free(&s->cr);
		if (s->crc != EXIT_DONE) {
			f->failed++;
			bad = 1;
			if (*rc == EXIT_DONE)
				*rc = s->crc;
			*stop |= s->crc == EXIT_INT || s->crc == EXIT_TERM;
		}
	}
	return bad;
}

int
cmd_sync_fleet(struct cmd_ctx *x, struct runner *r, size_t at_once)
{
	struct fleet f = {.x = x, .r = r, .n = x->ncl};
	pthread_mutex_init(&f.mu, NULL);
	pthread_cond_init(&f.cv, NULL);
	f.v = xcalloc(f.n + 1, sizeof(*f.v));
	struct out *o = r->out;
	o->done = o->total = 0;
	for (size_t i = 0; i < f.n; i++)
		o->total += (int)(plan_count_dirty(x->cl[i]) + (x->ro->prune ? x->cl[i]->nremoved : 0));
	int rc = EXIT_DONE, stop = 0, no_more = 0;
	for (;;) {
		while (!no_more && f.next < f.n && f.running < at_once) {
			struct cslot *s = &f.v[f.next++];
			s->f = &f;
			s->c = x->cl[f.next - 1];
			s->state = CS_RUNNING;
			f.running++;
			show(&f); /* before its first line */
			if (pthread_create(&s->th, NULL, cluster_thread, s) == 0)
				s->thread = 1;
			else
				cluster_thread(s); /* no thread: it runs here */
		}
		show(&f);
		if (!f.running)
			break;
		pthread_mutex_lock(&f.mu);
		int any = 0;
		for (size_t i = 0; i < f.next && !any; i++)
			any = f.v[i].state == CS_DONE;
		if (!any)
			pthread_cond_wait(&f.cv, &f.mu);
		pthread_mutex_unlock(&f.mu);
		if (reap(&f, &rc, &stop) && (stop || !x->ro->keep_going) && !no_more) {
			no_more = 1;
			/* the running ones stop after their current tier */
			pthread_mutex_lock(&r->mu);
			r->halt = 1;
			runner_wake(r);
			pthread_mutex_unlock(&r->mu);
		}
	}
	/* a cluster that never started is said so, by name */
	for (size_t k = f.next; k < f.n; k++)
		cmd_row_set(x, x->cl[k], CO_SKIPPED, NULL,
			    stop ? "interrupted" : "a cluster failed; -k goes on");
	free(f.v);
	pthread_cond_destroy(&f.cv);
	pthread_mutex_destroy(&f.mu);
	return rc;
}
