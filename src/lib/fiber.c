/* fiber: many layers' work on one thread. A fiber runs until it would
 * wait — for answers, a free slot, a nap — and then parks, and the
 * thread runs another: the requests of a cluster's layers go out from
 * one thread, with no hand-off between threads for each answer. The
 * waits of src/lib (waitq, relay, fiber_nap) park a fiber and put a
 * plain thread to sleep, so the same code serves both, and a thread
 * may wait beside fibers for the same work.
 *
 * Only the thread running sched_run resumes its fibers; other threads
 * only wake them (under s->mu), so a fiber never runs on two threads. A
 * fiber's stack is mapped, with a guard page below it, and kept for the
 * next fiber. */
#define _DEFAULT_SOURCE
/* a fiber's jump back into another stack is what longjmp's fortified
 * check takes for a jump into a frame that returned */
#undef _FORTIFY_SOURCE
#include <errno.h>
#include <setjmp.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>
#include "lib.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define ASAN_FIBERS 1
#endif

/* as large as a thread's: what ran on a thread of its own runs here
 * (the walks of a layer's documents, TLS); only the pages touched are
 * backed. A switch is an _setjmp and an _longjmp (no system call, no
 * signal mask saved); a fiber's first start, a setcontext onto the stack
 * makecontext prepared. */
#define FIBER_STACK (8 * 1024 * 1024)
#define FIBER_TURN_MS 10

enum { F_RUNNABLE, F_PARKED, F_RUNNING, F_DONE };

struct fiber {
	jmp_buf jb;      /* where it goes on */
	ucontext_t ctx;  /* where it starts */
	int started;
	struct sched *s;
	void (*fn)(void *);
	void *arg;
	char *map; /* the guard page, then the stack */
	int state;
	int driver;         /* runnable after yielding an event loop's driving */
	int64_t until;      /* parked: when the park ends by itself (0 never) */
	struct fiber *next; /* in the run queue, or the parked or free list */
	struct fiber *prev; /* in the parked list */
#ifdef ASAN_FIBERS
	void *asan_fake; /* its fake stack while another runs */
#endif
};

struct sched {
	pthread_mutex_t mu; /* the queues, the flags; taken by other threads' wakes */
	pthread_cond_t cv;  /* sched_run asleep with nothing to run */
	jmp_buf main; /* where sched_run goes on */
	struct fiber *runq, **runt;
	size_t nrun, ndrivers; /* in runq, and of them drivers (f->driver) */
	struct fiber *parked;
	struct fiber *free;
	int idle;        /* asleep on cv */
	int interrupted; /* sched_interrupt since sched_run last returned */
	/* a fiber asleep in an event loop's poll, and how to wake it */
	void (*nap_wake)(void *);
	void *nap_u;
	int64_t until; /* sched_run's own end */
#ifdef ASAN_FIBERS
	const void *asan_bottom; /* the thread's own stack */
	size_t asan_size;
	void *asan_fake; /* sched_run's fake stack while a fiber runs */
#endif
};

/* the fiber this thread runs, NULL on a plain thread: like errno, a
 * property of the thread */
static __thread struct fiber *self;
/* the scheduler whose fibers this thread runs (sched_home), whose waits
 * outside a fiber run the fibers meanwhile: they may hold what it waits
 * for (a request slot, the loop's driving) */
static __thread struct sched *home;

/* a monotonic time in ms as a timespec */
static struct timespec
ms_timespec(int64_t ms)
{
	return (struct timespec){ms / 1000, (long)(ms % 1000) * 1000000L};
}

/* a condition variable whose timed waits read the monotonic clock */
static void
cond_init_monotonic(pthread_cond_t *cv)
{
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

void
sched_home(struct sched *s)
{
	home = s;
}

struct fiber *
fiber_self(void)
{
	return self;
}

struct sched *
sched_new(void)
{
	struct sched *s = xcalloc(1, sizeof(*s));
	pthread_mutex_init(&s->mu, NULL);
	cond_init_monotonic(&s->cv);
	s->runt = &s->runq;
	return s;
}

void
sched_free(struct sched *s)
{
	if (!s)
		return;
	for (struct fiber *f = s->free, *next; f; f = next) {
		next = f->next;
		munmap(f->map, FIBER_STACK + (size_t)sysconf(_SC_PAGESIZE));
		free(f);
	}
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

/* switches from the running context (from, or sched_run: NULL) to the
 * fiber `to`, or back to sched_run (NULL), telling AddressSanitizer which
 * stack is in use */
static void
switch_to(struct sched *s, struct fiber *from, struct fiber *to)
{
#ifdef ASAN_FIBERS
	void **fake = from ? &from->asan_fake : &s->asan_fake;
	if (to)
		__sanitizer_start_switch_fiber(fake, to->ctx.uc_stack.ss_sp, FIBER_STACK);
	else /* an ended fiber's stack is done with */
		__sanitizer_start_switch_fiber(from->state == F_DONE ? NULL : fake, s->asan_bottom,
					       s->asan_size);
#endif
	if (!_setjmp(from ? from->jb : s->main)) {
		if (to && !to->started) {
			to->started = 1;
			setcontext(&to->ctx);
		}
		_longjmp(to ? to->jb : s->main, 1);
	}
#ifdef ASAN_FIBERS
	/* back in from (the thread's stack was left) or in sched_run */
	__sanitizer_finish_switch_fiber(*fake, from ? &s->asan_bottom : NULL,
					from ? &s->asan_size : NULL);
#endif
}

static void
trampoline(void)
{
	struct fiber *f = self;
#ifdef ASAN_FIBERS
	__sanitizer_finish_switch_fiber(NULL, &f->s->asan_bottom, &f->s->asan_size);
#endif
	f->fn(f->arg);
	f->state = F_DONE;
	self = NULL;
	switch_to(f->s, f, NULL);
}

/* f to the run queue (s->mu held) */
static void
enqueue(struct sched *s, struct fiber *f)
{
	f->state = F_RUNNABLE;
	f->next = NULL;
	*s->runt = f;
	s->runt = &f->next;
	s->nrun++;
	s->ndrivers += f->driver;
}

int
sched_spawn(struct sched *s, void (*fn)(void *), void *arg)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	pthread_mutex_lock(&s->mu);
	struct fiber *f = s->free;
	if (f)
		s->free = f->next;
	pthread_mutex_unlock(&s->mu);
	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f)
			return ENOMEM;
		f->map = mmap(NULL, FIBER_STACK + page, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (f->map == MAP_FAILED) {
			free(f);
			return ENOMEM;
		}
		/* an overflow faults on the guard page instead of writing
		 * over another fiber's stack */
		mprotect(f->map, page, PROT_NONE);
	}
	f->started = 0;
	getcontext(&f->ctx);
	f->ctx.uc_stack.ss_sp = f->map + page;
	f->ctx.uc_stack.ss_size = FIBER_STACK;
	f->ctx.uc_link = NULL;
	makecontext(&f->ctx, trampoline, 0);
	f->s = s;
	f->fn = fn;
	f->arg = arg;
	f->until = 0;
	f->driver = 0;
	pthread_mutex_lock(&s->mu);
	enqueue(s, f);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* f off the parked list (s->mu held) */
static void
unpark(struct sched *s, struct fiber *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		s->parked = f->next;
	if (f->next)
		f->next->prev = f->prev;
}

/* s's thread, asleep or in a fiber's nap, looks again (s->mu held) */
static void
rouse(struct sched *s)
{
	if (s->idle)
		pthread_cond_signal(&s->cv);
	if (s->nap_wake)
		s->nap_wake(s->nap_u);
}

void
fiber_wake(struct fiber *f)
{
	struct sched *s = f->s;
	pthread_mutex_lock(&s->mu);
	if (f->state == F_PARKED) {
		unpark(s, f);
		enqueue(s, f);
		rouse(s);
	}
	pthread_mutex_unlock(&s->mu);
}

void
sched_interrupt(struct sched *s)
{
	pthread_mutex_lock(&s->mu);
	s->interrupted = 1;
	rouse(s);
	pthread_mutex_unlock(&s->mu);
}

/* the running fiber leaves the CPU: parked (until a wake, or until), or
 * runnable again at the back of the queue; mu, when not NULL, is
 * released once the fiber is on its list (a wake after that finds it),
 * and taken again on return */
static void
leave(int park, int driver, int64_t until, pthread_mutex_t *mu)
{
	struct fiber *f = self;
	struct sched *s = f->s;
	pthread_mutex_lock(&s->mu);
	f->driver = driver;
	if (park) {
		f->state = F_PARKED;
		f->until = until;
		f->prev = NULL;
		f->next = s->parked;
		if (s->parked)
			s->parked->prev = f;
		s->parked = f;
	} else {
		enqueue(s, f);
	}
	pthread_mutex_unlock(&s->mu);
	if (mu)
		pthread_mutex_unlock(mu);
	self = NULL;
	switch_to(s, f, NULL);
	self = f;
	if (mu)
		pthread_mutex_lock(mu);
}

void
fiber_park(pthread_mutex_t *mu, int64_t until)
{
	leave(1, 0, until, mu);
}

void
fiber_yield(int driver)
{
	leave(0, driver, 0, NULL);
}

/* whether the running fiber should yield: a fiber that is not driving an
 * event loop can run, or sched_run is due to return (s->mu held) */
static int
yield_due(struct sched *s)
{
	return s->nrun > s->ndrivers || s->interrupted || (s->until && now_ms() >= s->until);
}

/* the earliest end of a park or of sched_run, 0 none (s->mu held) */
static int64_t
next_until(struct sched *s)
{
	int64_t t = s->until;
	for (struct fiber *f = s->parked; f; f = f->next)
		if (f->until && (!t || f->until < t))
			t = f->until;
	return t;
}

int
fiber_nap_begin(int ms, void (*wake)(void *), void *u)
{
	struct sched *s = self->s;
	pthread_mutex_lock(&s->mu);
	int64_t t = next_until(s), now = now_ms();
	if (yield_due(s))
		ms = 0;
	else if (t && t - now < ms)
		ms = t > now ? (int)(t - now) : 0;
	/* another loop's driver waits to run: each gets a turn this often
	 * (two loops at once are rare: a second HTTP/2 connection) */
	if (s->ndrivers && ms > FIBER_TURN_MS)
		ms = FIBER_TURN_MS;
	s->nap_wake = ms ? wake : NULL;
	s->nap_u = u;
	pthread_mutex_unlock(&s->mu);
	return ms;
}

void
fiber_nap_end(void)
{
	struct sched *s = self->s;
	pthread_mutex_lock(&s->mu);
	s->nap_wake = NULL;
	pthread_mutex_unlock(&s->mu);
}

void
fiber_nap(int64_t until)
{
	if (self) {
		fiber_park(NULL, until);
		return;
	}
	if (home) {
		for (int64_t now = now_ms(); now < until; now = now_ms())
			sched_run(home, until);
		return;
	}
	for (int64_t now = now_ms(); now < until; now = now_ms()) {
		struct timespec ts = ms_timespec(until - now);
		nanosleep(&ts, NULL);
	}
}

void
sched_run(struct sched *s, int64_t until)
{
	pthread_mutex_lock(&s->mu);
	s->until = until;
	for (;;) {
		int64_t now = now_ms();
		for (struct fiber *f = s->parked, *next; f; f = next) {
			next = f->next;
			if (f->until && f->until <= now) {
				unpark(s, f);
				enqueue(s, f);
			}
		}
		if (s->interrupted || (until && now >= until))
			break; /* what is runnable runs in the next sched_run */
		struct fiber *f = s->runq;
		if (f) {
			s->runq = f->next;
			if (!s->runq)
				s->runt = &s->runq;
			s->nrun--;
			s->ndrivers -= f->driver;
			f->driver = 0;
			f->state = F_RUNNING;
			pthread_mutex_unlock(&s->mu);
			self = f;
			switch_to(s, NULL, f);
			self = NULL;
			pthread_mutex_lock(&s->mu);
			if (f->state == F_DONE) {
				f->next = s->free;
				s->free = f;
			}
			continue;
		}
		int64_t t = next_until(s);
		s->idle = 1;
		if (t) {
			struct timespec ts = ms_timespec(t);
			pthread_cond_timedwait(&s->cv, &s->mu, &ts);
		} else {
			pthread_cond_wait(&s->cv, &s->mu);
		}
		s->idle = 0;
	}
	s->interrupted = 0;
	s->until = 0;
	pthread_mutex_unlock(&s->mu);
}

/* waitq: who waits for something under a caller's mutex; a fiber parks,
 * a thread sleeps on a condition variable of its own */
void
waitq_wait(struct waitq *q, pthread_mutex_t *mu, int64_t until)
{
	struct waiter w = {.f = self, .home = self ? NULL : home};
	w.next = q->head;
	/* w leaves the list before this returns: taken off by its waker,
	 * or below */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wdangling-pointer"
	q->head = &w;
#pragma GCC diagnostic pop
	if (w.f) {
		fiber_park(mu, until);
	} else if (w.home) {
		while (!w.woken && (!until || now_ms() < until)) {
			pthread_mutex_unlock(mu);
			sched_run(w.home, until);
			pthread_mutex_lock(mu);
		}
	} else {
		cond_init_monotonic(&w.cv);
		if (until) {
			struct timespec ts = ms_timespec(until);
			pthread_cond_timedwait(&w.cv, mu, &ts);
		} else {
			pthread_cond_wait(&w.cv, mu);
		}
		pthread_cond_destroy(&w.cv);
	}
	if (!w.woken) /* its time came, or a spurious wake: still listed */
		for (struct waiter **p = &q->head; *p; p = &(*p)->next)
			if (*p == &w) {
				*p = w.next;
				break;
			}
}

static void
wake_one(struct waiter *w)
{
	w->woken = 1;
	if (w->f)
		fiber_wake(w->f);
	else if (w->home)
		sched_interrupt(w->home);
	else
		pthread_cond_signal(&w->cv);
}

void
waitq_wake_one(struct waitq *q)
{
	/* the longest waiting: the last of the list */
	struct waiter **p = &q->head;
	if (!*p)
		return;
	while ((*p)->next)
		p = &(*p)->next;
	struct waiter *w = *p;
	*p = NULL;
	wake_one(w);
}

void
waitq_wake_all(struct waitq *q)
{
	struct waiter *w = q->head;
	q->head = NULL;
	while (w) {
		struct waiter *next = w->next;
		wake_one(w);
		w = next;
	}
}

void
hold_init(struct hold *h)
{
	*h = (struct hold){0};
	pthread_mutex_init(&h->mu, NULL);
}

void
hold_destroy(struct hold *h)
{
	pthread_mutex_destroy(&h->mu);
}

void
hold_take(struct hold *h)
{
	pthread_mutex_lock(&h->mu);
	while (h->held)
		waitq_wait(&h->q, &h->mu, 0);
	h->held = 1;
	pthread_mutex_unlock(&h->mu);
}

void
hold_give(struct hold *h)
{
	pthread_mutex_lock(&h->mu);
	h->held = 0;
	waitq_wake_one(&h->q);
	pthread_mutex_unlock(&h->mu);
}
