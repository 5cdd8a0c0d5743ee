/* run: the executor. Tiers in ascending order; the dirty layers of a tier
 * run together (at most -j at once), each going apply → readiness checks
 * on the backoff schedule. A layer whose target only waits for requests
 * (ops->fibers) runs as a fiber on the cluster's own thread, which drives
 * every request of the cluster's layers; one that runs commands (a check,
 * helm), whose waits block a thread, on a thread of the runner's pool
 * (kept for the next layer). The cluster's main thread alone writes its
 * records and prints its events (with -J each cluster being synced has
 * one), so a layer's record is committed the moment it is ready or
 * failed, and a crash loses nothing that finished. Before the first apply
 * every layer about to be applied is recorded `pending`, so a run stopped
 * anywhere — even by SIGKILL between two tiers — leaves exactly the
 * unfinished layers for the next run. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "run.h"

struct job {
	struct runner *r;
	struct crun *cr;
	const struct target_ops *ops;
	struct target_ctx tc;
	struct layer *l;
	char *text;
	size_t len;
	char **env;
	int64_t started_wall;
	struct pool_task task; /* the worker, on one of r->pool's threads */
	/* written by the worker under r->mu */
	int done, result, applied, seq;
	struct buf err, inv, waiting;
	struct buf note; /* -v: what the target ran (tc.note) */
};

static void *
sig_thread(void *p)
{
	struct runner *r = p;
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	for (;;) {
		int sig;
		if (sigwait(&set, &sig))
			continue;
		pthread_mutex_lock(&r->mu);
		int again = r->stop != 0;
		if (!again)
			r->stop = sig;
		runner_wake(r);
		waitq_wake_all(&r->sleepers);
		pthread_mutex_unlock(&r->mu);
		procs_stop(&r->ps);
		if (again) {
			/* a second Ctrl-C: the user wants out now; the
			 * records already say pending for what did not finish */
			_exit(sig == SIGTERM ? EXIT_TERM : EXIT_INT);
		}
	}
	return NULL;
}

void
runner_init(struct runner *r, const struct run_opts *ro, struct out *o,
	    struct store *st)
{
	memset(r, 0, sizeof(*r));
	r->ro = ro;
	r->out = o;
	r->st = st;
	procs_init(&r->ps);
	pool_init(&r->pool);
	pthread_mutex_init(&r->mu, NULL);
	pthread_mutex_init(&r->tg_mu, NULL);
	pthread_mutex_init(&r->st_mu, NULL);
	pthread_mutex_init(&r->load_mu, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_t th;
	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_create(&th, &at, sig_thread, r);
	pthread_attr_destroy(&at);
}

void
runner_wake(struct runner *r)
{
	for (struct crun *cr = r->active; cr; cr = cr->next)
		sched_interrupt(cr->sched);
}

/* sleeps until the monotonic time `until`; 1 when the run was stopped */
static int
sleep_until(struct runner *r, int64_t until)
{
	pthread_mutex_lock(&r->mu);
	while (!r->stop && now_ms() < until)
		waitq_wait(&r->sleepers, &r->mu, until);
	int stopped = r->stop != 0;
	pthread_mutex_unlock(&r->mu);
	return stopped;
}

static int
stopping(struct runner *r)
{
	pthread_mutex_lock(&r->mu);
	int stopped = r->stop != 0;
	pthread_mutex_unlock(&r->mu);
	return stopped;
}

/* one round of checks; each check gets CHECK_MAX_MS of its own, so even the
 * last check at the timeout has time to answer */
#define CHECK_MAX_MS 30000
static int
ready_once(struct job *j, struct buf *why)
{
	int rc = j->ops->ready(&j->tc, j->l, j->text, j->len, &j->inv, why);
	for (size_t i = 0; rc == T_OK && i < j->l->r.nchecks; i++)
		rc = check_run(&j->l->r.checks[i], &j->r->ps, j->tc.w->dir, j->env,
			       now_ms() + CHECK_MAX_MS, why);
	return rc;
}

/* a wait as people read it: 200ms, 8s (a coming wait is 100ms at least;
 * a wait so far may be 0s) */
static void
wait_format(struct buf *b, int64_t ms, int coming)
{
	if (ms < 1000)
		ms = (ms + 50) / 100 * 100;
	else
		ms = (ms + 500) / 1000 * 1000;
	duration_format(b, ms || !coming ? ms : 100);
}

/* first check right after apply; then, where the target can watch what
 * was not ready, again as soon as it changes (and at the interval, or
 * the timeout, when nothing did); where it cannot, or the watch ends, at
 * 1 s, 2 s, 4 s … capped at interval, on an absolute schedule, with a
 * last check at the timeout */
static int
wait_ready(struct job *j, struct buf *err)
{
	const struct readiness *rd = &j->l->r;
	int64_t t0 = now_ms(), next = t0;
	int64_t deadline = rd->timeout_ms ? t0 + rd->timeout_ms : 0;
	/* whether the last wait was a watch: one that ended or could not be
	 * made leaves that wait to the schedule */
	int watch = j->ops->await != NULL;
	for (int k = 0;;) {
		struct buf why = {0};
		int rc = ready_once(j, &why);
		if (rc != T_NOTREADY) {
			if (rc == T_FAILED)
				buf_printf(err, "not ready: %s", why.s ? why.s : "");
			buf_free(&why);
			return rc;
		}
		int64_t now = now_ms();
		if (deadline && now >= deadline) {
			struct buf d = {0};
			duration_format(&d, rd->timeout_ms);
			buf_printf(err, "not ready after %s (timeout): %s", d.s, why.s ? why.s : "");
			buf_free(&d);
			buf_free(&why);
			return T_FAILED;
		}
		/* the next step of the schedule after now (checks that came
		 * with watches, or took long, took the steps before it) */
		while (next <= now) {
			int64_t d = ready_delay_ms(k++, rd->interval_ms);
			next += d > 0 ? d : 1;
		}
		if (deadline && next > deadline)
			next = deadline;
		/* a watch waits for a change up to the interval (the timeout) */
		int64_t until = now + rd->interval_ms;
		if (deadline && until > deadline)
			until = deadline;
		pthread_mutex_lock(&j->r->mu);
		buf_clear(&j->waiting);
		struct buf d = {0}, e = {0};
		wait_format(&d, next - now, 1);
		wait_format(&e, now - t0, 0);
		if (rd->timeout_ms) {
			buf_adds(&e, " of ");
			duration_format(&e, rd->timeout_ms);
		}
		if (watch)
			buf_printf(&j->waiting, "%s (waited %s), watching", why.s ? why.s : "not ready",
				   e.s);
		else
			buf_printf(&j->waiting, "%s (waited %s), next check in %s",
				   why.s ? why.s : "not ready", e.s, d.s);
		buf_free(&d);
		buf_free(&e);
		j->seq++;
		sched_interrupt(j->cr->sched);
		pthread_mutex_unlock(&j->r->mu);
		buf_free(&why);
		int w = j->ops->await && !stopping(j->r) ? j->ops->await(&j->tc, j->l, until) : -1;
		watch = w >= 0;
		if (w < 0 ? sleep_until(j->r, next) : stopping(j->r))
			return T_STOPPED;
	}
}

/* whether every apply slot of the cluster's target is taken (r->mu held;
 * slots 0: no limit) */
static int
slots_full(const struct crun *cr, int slots)
{
	return slots && cr->applying >= slots;
}

/* target_slot for a job's apply: the slot is the count cr->applying that
 * run_tier starts the cluster's layers against */
static void
job_slot(const struct target_ctx *t, int release)
{
	struct job *j = t->slot_u;
	struct runner *r = j->r;
	int slots = j->ops->apply_slots;
	pthread_mutex_lock(&r->mu);
	if (release) {
		j->cr->applying--;
		waitq_wake_all(&j->cr->slot);
		/* the tier may start another layer */
		sched_interrupt(j->cr->sched);
	} else {
		while (!r->stop && slots_full(j->cr, slots))
			waitq_wait(&j->cr->slot, &r->mu, 0);
		j->cr->applying++;
	}
	pthread_mutex_unlock(&r->mu);
}

static void
worker(void *p)
{
	struct job *j = p;
	struct buf err = {0};
	/* j->inv is the worker's until done is set */
	int rc = T_STOPPED;
	if (!stopping(j->r))
		rc = j->ops->apply(&j->tc, j->l, j->text, j->len, &j->inv, &err);
	/* past apply: the executor may start another layer */
	job_slot(&j->tc, 1);
	if (rc == T_OK) {
		pthread_mutex_lock(&j->r->mu);
		j->applied = 1;
		pthread_mutex_unlock(&j->r->mu);
		rc = wait_ready(j, &err);
	}
	pthread_mutex_lock(&j->r->mu);
	j->result = rc;
	j->err = err;
	j->done = 1; /* j is the tier's again once r->mu is released */
	sched_interrupt(j->cr->sched);
	pthread_mutex_unlock(&j->r->mu);
}

/* records puts: where the target keeps the records with the cluster,
 * there first, then in the local store with the mark the cluster gave
 * (a kill between the two leaves a local mark that the cluster no longer
 * has, so the next run reads the records again) */
int
runner_record(struct runner *r, const struct target_ops *ops, const struct target_ctx *tc,
	      const struct store_put *puts, size_t n)
{
	struct buf err = {0}, mark = {0};
	int cluster = ops->state_push && ops->state_on(tc->c);
	int rc = cluster ? ops->state_push(tc, puts, n, &mark, &err) : 0;
	if (!rc) {
		pthread_mutex_lock(&r->st_mu);
		rc = store_write_marked(r->st, tc->c->name, puts, n, 0, cluster ? mark.s : NULL,
					mark.len, &err);
		pthread_mutex_unlock(&r->st_mu);
	}
	if (rc)
		out_msg(r->out, "addonmake: error: %s", err.s);
	buf_free(&err);
	buf_free(&mark);
	return rc;
}

static struct layer_rec
record_of(const struct layer *l, int status)
{
	struct layer_rec rec = {0};
	if (l->plan.has_rec)
		rec = l->plan.rec;
	rec.hash = l->hash;
	rec.order = l->order;
	rec.status = status;
	rec.type = l->type;
	rec.ns = l->ns;
	rec.version = l->version;
	return rec;
}

/* commits the records of finished jobs, in one transaction */
static int
commit_jobs(struct runner *r, struct cluster *c, struct job **js, size_t n)
{
	struct store_put *puts = xcalloc(n, sizeof(*puts));
	struct layer_rec *recs = xcalloc(n, sizeof(*recs));
	for (size_t i = 0; i < n; i++) {
		struct job *j = js[i];
		int st = j->result == T_OK ? LS_READY
			 : j->result == T_STOPPED ? LS_INTERRUPTED : LS_FAILED;
		recs[i] = record_of(j->l, st);
		recs[i].started = j->started_wall;
		recs[i].finished = wall_secs();
		if (j->applied)
			recs[i].count++;
		if (j->applied || j->inv.len) {
			/* a failed apply's inventory too: what it did apply
			 * must stay findable */
			recs[i].inventory = j->inv.s ? j->inv.s : "";
			recs[i].ninventory = j->inv.len;
		}
		puts[i] = (struct store_put){j->l->id, &recs[i]};
	}
	int rc = runner_record(r, js[0]->ops, &js[0]->tc, puts, n);
	free(puts);
	free(recs);
	return rc;
}

static int
mark_pending(struct runner *r, struct cluster *c, const struct target_ops *ops,
	     const struct target_ctx *tc)
{
	size_t n = plan_count_dirty(c), k = 0;
	struct store_put *puts = xcalloc(n + 1, sizeof(*puts));
	struct layer_rec *recs = xcalloc(n + 1, sizeof(*recs));
	for (size_t i = 0; i < c->g.n; i++) {
		struct layer *l = c->g.nodes[i].data;
		if (!l->plan.dirty)
			continue;
		recs[k] = record_of(l, LS_PENDING);
		puts[k].id = l->id;
		puts[k].rec = &recs[k];
		k++;
	}
	int rc = runner_record(r, ops, tc, puts, k);
	free(puts);
	free(recs);
	return rc;
}

static int
stop_code(int sig)
{
	return sig == SIGTERM ? EXIT_TERM : EXIT_INT;
}

size_t
run_load(struct runner *r, struct workspace *w, struct cluster *c, struct layer **ls, size_t n,
	 struct arena *a)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!ls[i]->body) {
			struct layer *t = ls[k];
			ls[k++] = ls[i];
			ls[i] = t;
		}
	if (!k)
		return 0;
	struct diag d = {0};
	d.secret = &w->secret;
	pthread_mutex_lock(&r->load_mu);
	layer_load_content(w, c, ls, k, a, &d);
	pthread_mutex_unlock(&r->load_mu);
	if (d.n) {
		out_finish(r->out);
		pthread_mutex_lock(&r->out->mu);
		diag_print(&d, stderr);
		pthread_mutex_unlock(&r->out->mu);
	}
	diag_free(&d);
	return k;
}

void
run_unload(struct layer **ls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		ls[i]->body = NULL; /* its arena is freed by the caller */
}

/* loads the content of the tier's dirty layers that do not have it, into
 * a; those loaded are first in loaded, counted, for run_unload */
static size_t
load_tier(struct runner *r, struct workspace *w, struct cluster *c,
	  const struct gtier *tr, struct arena *a, struct layer **loaded)
{
	size_t n = 0;
	for (size_t i = tr->first; i < tr->first + tr->n; i++) {
		struct layer *l = c->g.nodes[i].data;
		if (l->plan.dirty)
			loaded[n++] = l;
	}
	return run_load(r, w, c, loaded, n, a);
}

/* -v: what a target noted running for a layer, each line after
 * "addonmake: CLUSTER: LAYER: " */
static void
note_print(struct runner *r, const struct cluster *c, const char *id, struct buf *note)
{
	for (char *s = note->s, *e; s && *s; s = e + 1) {
		e = strchr(s, '\n');
		*e = 0;
		out_msg(r->out, "addonmake: %s: %s: %s", c->name, id, s);
	}
	buf_clear(note);
}

/* layers that finish within this long of each other share a commit */
#define COMMIT_LINGER_MS 20

/* one tier in progress: its jobs and how far they are (under r->mu) */
struct tier_run {
	struct runner *r;
	struct crun *cr;
	struct cluster *c;
	const struct target_ops *ops;
	struct job *jobs;
	size_t n, next, running, finished;
	size_t limit; /* layers at once (-j) */
	int slots;    /* the target's apply slots (0: no limit) */
	int *seq;     /* the waiting report last printed, a job */
	struct job **fin; /* finished, not yet committed */
	size_t nfin;
	int64_t fin_since;
	int failed, stopped;
};

/* a job for each dirty layer of the tier, with what it applies (in a) */
static size_t
tier_jobs(struct runner *r, struct crun *cr, struct cluster *c, const struct gtier *tr,
	  const struct target_ops *ops, const struct target_ctx *tc, struct arena *a,
	  struct job *jobs)
{
	size_t n = 0;
	for (size_t i = tr->first; i < tr->first + tr->n; i++) {
		struct layer *l = c->g.nodes[i].data;
		if (!l->plan.dirty)
			continue;
		struct job *j = &jobs[n++];
		struct buf text = {0};
		if (l->body && !ops->docs_only)
			applied_render(c, l, &text);
		j->r = r;
		j->cr = cr;
		j->ops = ops;
		j->tc = *tc;
		j->tc.slot = job_slot;
		j->tc.slot_u = j;
		j->tc.note = r->ro->verbose ? &j->note : NULL;
		j->l = l;
		j->len = text.len;
		j->text = text.s ? arena_strndup(a, text.s, text.len) : NULL;
		buf_free(&text);
		j->env = target_env(a, c, l->id, l->ns, (long long)l->order, l->type);
	}
	return n;
}

/* whether j runs as a fiber: its target only waits for requests, and
 * it runs no command (a check, helm), whose wait would hold up the
 * thread's other fibers */
static int
on_fiber(const struct job *j)
{
	return j->ops->fibers && !j->l->r.nchecks && !(j->ops->blocks && j->ops->blocks(j->l));
}

/* starts jobs while the limits allow, each as a fiber or on a thread of
 * the pool (r->mu held; released while printing) */
static void
tier_start(struct tier_run *x)
{
	struct runner *r = x->r;
	while (!r->stop && x->next < x->n && x->running < x->limit && !slots_full(x->cr, x->slots)) {
		struct job *j = &x->jobs[x->next++];
		j->started_wall = wall_secs();
		pthread_mutex_unlock(&r->mu);
		out_event(r->out, "apply", x->c->name, j->l->id, (long long)j->l->order,
			  r->ro->json ? j->l->plan.reason : NULL);
		pthread_mutex_lock(&r->mu);
		x->running++;
		if (!j->l->body) {
			j->done = 1;
			j->result = T_FAILED;
			buf_adds(&j->err, "its content could not be loaded (see the errors above)");
			continue;
		}
		x->cr->applying++; /* the worker gives it back after apply */
		j->task = (struct pool_task){.fn = worker, .arg = j};
		int fiber = on_fiber(j);
		int failed = fiber ? sched_spawn(x->cr->sched, worker, j) != 0
				   : pool_run(&r->pool, &j->task) != 0;
		if (failed) {
			x->cr->applying--;
			j->done = 1;
			j->result = T_FAILED;
			buf_adds(&j->err, fiber ? "cannot start a fiber: out of memory"
						: "cannot start a thread");
		}
	}
}

/* takes in the jobs that finished and reports new waits; whether anything
 * happened (r->mu held; released while printing) */
static int
tier_collect(struct tier_run *x)
{
	struct runner *r = x->r;
	int progressed = 0;
	for (size_t i = 0; i < x->next; i++) {
		struct job *j = &x->jobs[i];
		if (j->done == 1) {
			j->done = 2;
			if (!x->nfin)
				x->fin_since = now_ms();
			x->fin[x->nfin++] = j;
			x->running--;
			progressed = 1;
		} else if (!j->done && j->seq != x->seq[i]) {
			x->seq[i] = j->seq;
			char *msg = xstrdup(j->waiting.s ? j->waiting.s : "");
			pthread_mutex_unlock(&r->mu);
			out_event(r->out, "waiting", x->c->name, j->l->id, (long long)j->l->order, msg);
			free(msg);
			progressed = 1;
			pthread_mutex_lock(&r->mu);
		}
	}
	return progressed;
}

/* what finished within COMMIT_LINGER_MS is committed in one transaction
 * (one flush to disk), at once when nothing else runs or the run stops,
 * and always before anything that depends on it starts; then reported
 * (called without r->mu) */
static void
tier_commit(struct tier_run *x)
{
	struct runner *r = x->r;
	if (x->ops->flush) {
		struct buf ferr = {0};
		if (x->ops->flush(&x->fin[0]->tc, &ferr) != T_OK) {
			/* not durable: not ready */
			for (size_t k = 0; k < x->nfin; k++)
				if (x->fin[k]->result == T_OK) {
					x->fin[k]->result = T_FAILED;
					buf_adds(&x->fin[k]->err, ferr.s ? ferr.s : "");
				}
		}
		buf_free(&ferr);
	}
	if (!r->ro->dry_run && commit_jobs(r, x->c, x->fin, x->nfin))
		x->failed = 1;
	for (size_t k = 0; k < x->nfin; k++) {
		struct job *j = x->fin[k];
		const char *id = j->l->id;
		long long order = (long long)j->l->order;
		x->finished++;
		out_done(r->out, 1);
		note_print(r, x->c, id, &j->note);
		if (j->result == T_OK) {
			x->cr->nready++;
			out_event(r->out, "ready", x->c->name, id, order, NULL);
		} else if (j->result == T_STOPPED) {
			x->stopped = 1;
			out_event(r->out, "interrupted", x->c->name, id, order, NULL);
		} else {
			x->failed = 1;
			out_event(r->out, "failed", x->c->name, id, order, j->err.s);
		}
	}
	x->nfin = 0;
}

/* runs the dirty layers of one tier; 0 all ready, 1 some failed, 2 stopped */
static int
run_tier(struct runner *r, struct crun *cr, struct workspace *w, struct cluster *c,
	 const struct target_ops *ops, const struct target_ctx *tc, size_t t)
{
	const struct gtier *tr = &c->g.tiers[t];
	struct layer **loaded = xcalloc(tr->n, sizeof(*loaded));
	struct arena a = {0};
	size_t nloaded = load_tier(r, w, c, tr, &a, loaded);
	struct tier_run x = {.r = r, .cr = cr, .c = c, .ops = ops};
	x.jobs = xcalloc(tr->n, sizeof(*x.jobs));
	x.n = tier_jobs(r, cr, c, tr, ops, tc, &a, x.jobs);
	x.limit = r->ro->jobs > 0 ? (size_t)r->ro->jobs : x.n;
	/* a target whose applies share a few connections gets a few layers
	 * in apply at a time; the next starts when one is past its apply, so
	 * a tier of many layers needs few threads at once */
	x.slots = ops->apply_slots;
	x.seq = xcalloc(x.n + 1, sizeof(*x.seq));
	x.fin = xcalloc(x.n + 1, sizeof(*x.fin));
	int seen_stop = 0;
	pthread_mutex_lock(&r->mu);
	while (x.finished < x.n) {
		if (r->stop && !seen_stop) {
			seen_stop = 1;
			pthread_mutex_unlock(&r->mu);
			out_msg(r->out, "addonmake: interrupted: stopping %zu running layer%s",
				x.running, x.running == 1 ? "" : "s");
			pthread_mutex_lock(&r->mu);
		}
		tier_start(&x);
		if (r->stop && x.next < x.n) {
			/* never started: they stay pending */
			x.finished += x.n - x.next;
			x.next = x.n;
			x.stopped = 1;
			continue;
		}
		int progressed = tier_collect(&x);
		if (x.nfin && (r->stop || x.running == 0 || now_ms() >= x.fin_since + COMMIT_LINGER_MS)) {
			pthread_mutex_unlock(&r->mu);
			tier_commit(&x);
			progressed = 1;
			pthread_mutex_lock(&r->mu);
		}
		if (!progressed && x.finished < x.n) {
			/* the layers' fibers run meanwhile */
			int64_t until = x.nfin ? x.fin_since + COMMIT_LINGER_MS : now_ms() + 1000;
			pthread_mutex_unlock(&r->mu);
			sched_run(cr->sched, until);
			pthread_mutex_lock(&r->mu);
		}
	}
	pthread_mutex_unlock(&r->mu);
	for (size_t i = 0; i < x.n; i++) {
		struct job *j = &x.jobs[i];
		if (j->done == 2 && j->result == T_FAILED) {
			out_msg(r->out, "addonmake: %s: layer %s failed: %s", c->name, j->l->id,
				j->err.s ? j->err.s : "");
			if (!cr->failed_layer) {
				cr->failed_layer = j->l->id;
				buf_adds(&cr->failed_why, j->err.s ? j->err.s : "");
			}
		}
		buf_free(&j->err);
		buf_free(&j->inv);
		buf_free(&j->waiting);
		buf_free(&j->note);
	}
	free(x.seq);
	free(x.fin);
	free(x.jobs);
	run_unload(loaded, nloaded);
	free(loaded);
	arena_free(&a);
	return x.stopped ? 2 : x.failed ? 1 : 0;
}

static int runner_target_locked(struct runner *r, struct workspace *w, struct cluster *c,
				struct target_ctx **tcp, const struct target_ops **ops);

int
runner_target(struct runner *r, struct workspace *w, struct cluster *c,
	      struct target_ctx **tcp, const struct target_ops **ops)
{
	pthread_mutex_lock(&r->tg_mu);
	int rc = runner_target_locked(r, w, c, tcp, ops);
	pthread_mutex_unlock(&r->tg_mu);
	return rc;
}

static int
runner_target_locked(struct runner *r, struct workspace *w, struct cluster *c,
		     struct target_ctx **tcp, const struct target_ops **ops)
{
	for (size_t i = 0; i < r->ntg; i++)
		if (r->tg[i]->c == c) {
			*tcp = &r->tg[i]->tc;
			*ops = r->tg[i]->ops;
			return 0;
		}
	struct buf err = {0};
	struct rtarget *t = xcalloc(1, sizeof(*t));
	t->c = c;
	t->tc = (struct target_ctx){.w = w, .c = c, .ps = &r->ps,
				    .force_conflicts = r->ro->force_conflicts};
	int rc = target_open(&t->tc, &t->ops, &err);
	if (rc < 0) {
		out_msg(r->out, "addonmake: error: %s", err.s);
		/* a kube target that cannot connect is not bad input */
		rc = c->target.kind == TARGET_KUBE && t->ops ? EXIT_FAILED : EXIT_USAGE;
		buf_free(&err);
		free(t);
		return rc;
	}
	r->tg = xrealloc(r->tg, (r->ntg + 1) * sizeof(*r->tg));
	r->tg[r->ntg++] = t;
	*tcp = &t->tc;
	*ops = t->ops;
	return 0;
}

void
runner_close(struct runner *r)
{
	pool_free(&r->pool);
	for (size_t i = 0; i < r->ntg; i++) {
		target_close(&r->tg[i]->tc, r->tg[i]->ops);
		free(r->tg[i]);
	}
	free(r->tg);
	r->tg = NULL;
	r->ntg = 0;
}

void
crun_free(struct crun *cr)
{
	buf_free(&cr->failed_why);
}

/* the number of c's dirty layers in tiers after t */
static size_t
dirty_after(const struct cluster *c, size_t t)
{
	size_t later = 0;
	for (size_t u = t + 1; u < c->g.ntiers; u++)
		for (size_t i = c->g.tiers[u].first; i < c->g.tiers[u].first + c->g.tiers[u].n; i++)
			later += ((struct layer *)c->g.nodes[i].data)->plan.dirty != 0;
	return later;
}

static int
run_tiers(struct runner *r, struct workspace *w, struct cluster *c, struct crun *cr)
{
	if (!plan_count_dirty(c))
		return EXIT_DONE;
	pthread_mutex_lock(&r->mu);
	int sig = r->stop;
	pthread_mutex_unlock(&r->mu);
	if (sig)
		return stop_code(sig);
	struct target_ctx *tc;
	const struct target_ops *ops;
	int orc = runner_target(r, w, c, &tc, &ops);
	if (orc)
		return orc;
	if (!r->ro->dry_run && mark_pending(r, c, ops, tc))
		return EXIT_FAILED;
	int rc = EXIT_DONE;
	for (size_t t = 0; t < c->g.ntiers; t++) {
		int tr = run_tier(r, cr, w, c, ops, tc, t);
		if (tr == 2) {
			pthread_mutex_lock(&r->mu);
			rc = stop_code(r->stop);
			pthread_mutex_unlock(&r->mu);
			break;
		}
		size_t later = dirty_after(c, t);
		pthread_mutex_lock(&r->mu);
		int halt = r->halt;
		pthread_mutex_unlock(&r->mu);
		if (tr == 0 && halt && later) {
			/* another cluster failed: this one's tier is done, the
			 * rest stays pending for the next run */
			out_msg(r->out, "addonmake: %s: stopped after a tier, another cluster failed "
				"(-k goes on); %zu layer%s of later tiers not started", c->name, later,
				later == 1 ? "" : "s");
			cr->halted = 1;
			break;
		}
		if (tr == 1) {
			if (later)
				out_msg(r->out, "addonmake: %s: %zu layer%s of later tiers not started",
					c->name, later, later == 1 ? "" : "s");
			rc = EXIT_FAILED;
			break;
		}
	}
	return rc;
}

int
run_cluster(struct runner *r, struct workspace *w, struct cluster *c, struct crun *cr)
{
	cr->sched = sched_new();
	sched_home(cr->sched);
	pthread_mutex_lock(&r->mu);
	cr->next = r->active;
	r->active = cr;
	pthread_mutex_unlock(&r->mu);
	int rc = run_tiers(r, w, c, cr);
	pthread_mutex_lock(&r->mu);
	struct crun **p = &r->active;
	while (*p != cr)
		p = &(*p)->next;
	*p = cr->next;
	pthread_mutex_unlock(&r->mu);
	sched_home(NULL);
	sched_free(cr->sched);
	cr->sched = NULL;
	return rc;
}

int
prune_cluster(struct runner *r, struct workspace *w, struct cluster *c, struct crun *cr)
{
	struct buf err = {0};
	if (!c->nremoved)
		return EXIT_DONE;
	struct target_ctx *tc;
	const struct target_ops *ops;
	int orc = runner_target(r, w, c, &tc, &ops);
	if (orc)
		return orc;
	int rc = EXIT_DONE;
	for (size_t i = 0; i < c->nremoved; i++) {
		struct removed *rm = &c->removed[i];
		pthread_mutex_lock(&r->mu);
		int sig = r->stop;
		pthread_mutex_unlock(&r->mu);
		if (sig) {
			rc = stop_code(sig);
			break;
		}
		out_event(r->out, "prune", c->name, rm->id, (long long)rm->rec.order, NULL);
		if (r->ro->dry_run) {
			out_done(r->out, 1);
			continue;
		}
		buf_clear(&err);
		struct buf note = {0};
		tc->note = r->ro->verbose ? &note : NULL;
		int t = ops->remove(tc, rm->id, &rm->rec, &err);
		tc->note = NULL;
		note_print(r, c, rm->id, &note);
		buf_free(&note);
		out_done(r->out, 1);
		if (t == T_STOPPED) {
			rc = EXIT_INT;
			break;
		}
		if (t != T_OK) {
			out_event(r->out, "failed", c->name, rm->id, (long long)rm->rec.order, err.s);
			rc = EXIT_FAILED;
			break;
		}
		struct store_put put = {rm->id, NULL};
		if (runner_record(r, ops, tc, &put, 1)) {
			rc = EXIT_FAILED;
			break;
		}
		cr->npruned++;
		out_event(r->out, "pruned", c->name, rm->id, (long long)rm->rec.order, NULL);
	}
	buf_free(&err);
	return rc;
}
