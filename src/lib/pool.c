/* pool: threads kept for the next task. A thread is started only when a
 * task comes and none is idle, and it waits for the next task when its
 * own is done, so a run of many short tasks (the executor's layers) pays
 * for as many threads as ran at once, not one thread start and join (a
 * clone, a stack, a join's wake) for each task. */
#include <stdlib.h>
#include "lib.h"

struct pool_thread {
	pthread_t th;
	struct pool_thread *next;
};

static void *
pool_main(void *u)
{
	struct pool *p = u;
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->head && !p->quit)
			pthread_cond_wait(&p->cv, &p->mu);
		struct pool_task *t = p->head;
		if (!t)
			break; /* quit, and nothing left to run */
		p->head = t->next;
		if (!p->head)
			p->tail = &p->head;
		p->queued--;
		p->busy++;
		pthread_mutex_unlock(&p->mu);
		/* t is its submitter's again once fn begins: fn may free it */
		t->fn(t->arg);
		pthread_mutex_lock(&p->mu);
		p->busy--;
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

void
pool_init(struct pool *p)
{
	*p = (struct pool){0};
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->tail = &p->head;
}

int
pool_run(struct pool *p, struct pool_task *t)
{
	t->next = NULL;
	pthread_mutex_lock(&p->mu);
	int rc = 0;
	/* the tasks queued before t each take an idle thread first */
	if (p->nthreads - p->busy <= p->queued) {
		struct pool_thread *pt = malloc(sizeof(*pt));
		if (pt && pthread_create(&pt->th, NULL, pool_main, p) == 0) {
			pt->next = p->threads;
			p->threads = pt;
			p->nthreads++;
		} else {
			free(pt);
			/* t still runs when a busy thread is free, unless no
			 * thread will ever be */
			if (!p->nthreads)
				rc = -1;
		}
	}
	if (!rc) {
		*p->tail = t;
		p->tail = &t->next;
		p->queued++;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mu);
	return rc;
}

void
pool_free(struct pool *p)
{
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (struct pool_thread *t = p->threads, *next; t; t = next) {
		next = t->next;
		pthread_join(t->th, NULL);
		free(t);
	}
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
}
