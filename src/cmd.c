/* cmd: sync, plan, graph, status, prune and clean. Read-only commands open
 * the state read-only and never create it; sync takes the workspace lock
 * first and opens the state for writing only when there is work, so a
 * no-op run writes no file. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "cmd.h"

int
load_clusters(struct cmd_ctx *x, struct diag *d)
{
	struct buf err = {0};
	if (store_read_begin(x->st, &err))
		goto fail;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		char *snap;
		size_t n;
		int got = store_get_blob(x->st, STORE_FILES, c->name, &snap, &n, &x->w->a, &err);
		if (got < 0)
			goto fail;
		struct buf why = {0};
		int use = !x->w->fx.refresh && got == 0 && snapshot_use(x->w, c, snap, n, d, &why) == 0;
		if (x->w->fx.refresh)
			buf_adds(&why, "--refresh");
		if (x->ro->verbose)
			fprintf(stderr, "addonmake: %s: %s (%s)\n", c->name,
				use ? "layers taken from the stat cache" : "compiling",
				why.s ? why.s : "no stat cache yet");
		buf_free(&why);
		if (use)
			continue;
		c->fresh = 1;
		size_t d0 = d->n;
		cluster_compile(x->w, c, &c->deps, d);
		for (size_t k = d0; k < d->n; k++)
			if (d->msg[k].severity == DIAG_WARNING)
				diag_add(&c->warnings, DIAG_WARNING, d->msg[k].file, d->msg[k].line,
					 d->msg[k].col, "%s", d->msg[k].text);
	}
	store_read_end(x->st);
	return 0;
fail:
	store_read_end(x->st);
	fprintf(stderr, "addonmake: error: %s\n", err.s);
	buf_free(&err);
	return -1;
}

struct runner *
cmd_runner(struct cmd_ctx *x)
{
	if (!x->run_ready) {
		out_init(&x->out, stdout, x->ro);
		x->out.secret = &x->w->secret;
		runner_init(&x->run, x->ro, &x->out, x->st);
		x->run_ready = 1;
	}
	return &x->run;
}

void
cmd_end(struct cmd_ctx *x)
{
	if (x->run_ready)
		runner_close(&x->run);
	cmd_rows_free(x);
}

static int reopen_rw(struct cmd_ctx *x);

/* reading one cluster's records (the kube target: from the cluster) */
struct pull {
	struct cluster *c;
	const struct target_ops *ops;
	struct target_ctx *tc;
	char *mark;
	size_t nmark;
	struct arena a; /* the mark, and what state_pull read */
	struct state_got got;
	struct buf err;
	int rc;
};

/* state_pull of p (in a thread of its own: each cluster has its own
 * connections and nothing here is shared) */
static void *
pull_run(void *u)
{
	struct pull *p = u;
	p->rc = p->ops->state_pull(p->tc, p->mark, p->nmark, &p->a, &p->got, &p->err);
	return NULL;
}

/* the pulls of v[0..n), at most 8 at once */
struct pulls {
	struct pull *v;
	size_t n, next;
	pthread_mutex_t mu;
};

static void *
pulls_worker(void *u)
{
	struct pulls *ps = u;
	for (;;) {
		pthread_mutex_lock(&ps->mu);
		size_t i = ps->next++;
		pthread_mutex_unlock(&ps->mu);
		if (i >= ps->n)
			return NULL;
		if (!ps->v[i].rc)
			pull_run(&ps->v[i]);
	}
}

/* the local records of p's cluster replaced by what its pull read, unless
 * they were the cluster's already. 0, or an exit code (the error said) */
static int
pull_keep(struct cmd_ctx *x, struct pull *p)
{
	struct cluster *c = p->c;
	struct state_got *got = &p->got;
	if (!p->rc) {
		c->last_run = got->last ? arena_strdup(&x->w->a, got->last) : NULL;
		if (!got->same) {
			c->changed = got->changed;
			if (x->ro->verbose)
				fprintf(stderr, "addonmake: %s: %zu layer record%s read from %s%s\n",
					c->name, got->n, got->n == 1 ? "" : "s",
					got->from ? got->from : "the cluster",
					got->changed ? " (the local ones were of another cluster)" : "");
			if ((!x->rw && reopen_rw(x)) ||
			    store_write_marked(x->st, c->name, got->puts, got->n, 1, got->mark.s,
					       got->mark.len, &p->err))
				p->rc = -1;
		}
	}
	if (p->rc && p->err.s) {
		fprintf(stderr, "addonmake: error: %s\n", p->err.s);
		cmd_row_set(x, c, CO_FAILED, NULL, p->err.s);
	} else if (p->rc) {
		cmd_row_set(x, c, CO_FAILED, NULL, "its records could not be read");
	}
	return p->rc ? EXIT_FAILED : 0;
}

/* the local records of every cluster whose target keeps them with the
 * cluster (the kube target, §5) brought up to date: one read of each
 * cluster's head, and a list of its records when the local ones are not
 * the head's. The reads go out together, one thread a cluster, at most 8
 * at once (a fleet's status is one round trip, not one a cluster); what
 * they read is kept one cluster after another. Sets c->unreachable for a
 * cluster whose records could not be read, with soft a warning instead */
static void
pull_all(struct cmd_ctx *x, int soft)
{
	struct pull *v = xcalloc(x->ncl + 1, sizeof(*v));
	size_t n = 0;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		const struct target_ops *ops = target_state(c);
		if (!ops || !ops->state_pull || c->unreachable)
			continue;
		struct pull *p = &v[n++];
		p->c = c;
		p->ops = ops;
		p->rc = runner_target(cmd_runner(x), x->w, c, &p->tc, &p->ops) ? -1 : 0;
		if (!p->rc && store_get_blob(x->st, STORE_MARK, c->name, &p->mark, &p->nmark, &p->a,
					     &p->err) < 0)
			p->rc = -1;
	}
	struct pulls ps = {.v = v, .n = n, .next = 0};
	pthread_mutex_init(&ps.mu, NULL);
	/* this thread and up to 7 more */
	pthread_t th[7];
	size_t nt = n > 1 ? (n < 8 ? n : 8) - 1 : 0, started = 0;
	while (started < nt && pthread_create(&th[started], NULL, pulls_worker, &ps) == 0)
		started++;
	pulls_worker(&ps);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	pthread_mutex_destroy(&ps.mu);
	for (size_t i = 0; i < n; i++) {
		if (pull_keep(x, &v[i])) {
			if (soft)
				fprintf(stderr, "addonmake: warning: %s: its records in the cluster could "
					"not be read; this shows the local ones\n", v[i].c->name);
			else
				v[i].c->unreachable = 1;
		}
		buf_free(&v[i].got.mark);
		buf_free(&v[i].err);
		arena_free(&v[i].a);
	}
	free(v);
}

/* plans every selected cluster in one read transaction, after bringing
 * the local records of those whose target keeps them with the cluster up
 * to date. A cluster whose records cannot be read (the error said) is, with
 * soft, planned from the local records, with a warning; else it is marked
 * unreachable and has no work: it fails at its turn, as a cluster that
 * fails to apply does, and -k goes on with the others */
static int
plan_each(struct cmd_ctx *x)
{
	struct buf err = {0};
	if (store_read_begin(x->st, &err))
		goto fail;
	for (size_t i = 0; i < x->ncl; i++) {
		const struct target_ops *ops = target_for(x->cl[i], &err);
		struct plan_opts po = {.force = x->ro->force, .only = x->only,
				       .outdated = ops ? ops->outdated : NULL};
		if (plan_cluster(x->st, x->cl[i], &po, &x->w->a, &err))
			goto fail;
		if (x->cl[i]->unreachable)
			plan_nothing(x->cl[i]);
	}
	store_read_end(x->st);
	return 0;
fail:
	store_read_end(x->st);
	fprintf(stderr, "addonmake: error: %s\n", err.s);
	buf_free(&err);
	return EXIT_FAILED;
}

int
cmd_plan_all(struct cmd_ctx *x, int soft)
{
	pull_all(x, soft);
	int rc = plan_each(x);
	/* drift makes clean layers dirty: planned again with it */
	if (!rc && cmd_drift_all(x))
		rc = plan_each(x);
	return rc;
}

/* the state, opened again for writing (LMDB: one open per process);
 * main checked it before the first open */
static int
reopen_rw(struct cmd_ctx *x)
{
	struct buf err = {0};
	if (x->rw)
		return 0;
	store_close(x->st);
	x->st = x->w->fx.st = NULL;
	if (store_open(&x->st, x->w->state, 0, &err)) {
		fprintf(stderr, "addonmake: error: %s\n", err.s);
		buf_free(&err);
		return -1;
	}
	x->w->fx.st = x->st; /* loaders read fetch records through it */
	x->rw = 1;
	x->run.st = x->st;
	return 0;
}

/* records the snapshot of every cluster compiled from files this run, and
 * what was downloaded */
static int
save_snapshots(struct cmd_ctx *x)
{
	struct workspace *w = x->w;
	for (size_t i = 0; i < w->fx.nfetched; i++) {
		struct fetch_rec *f = &w->fx.fetched[i];
		struct buf b = {0}, err = {0};
		buf_printf(&b, "%s\n%s", f->etag ? f->etag : "", f->digest);
		int rc = store_put_blob(x->st, STORE_FETCH, f->key, b.s, b.len, &err);
		buf_free(&b);
		if (rc) {
			fprintf(stderr, "addonmake: error: %s\n", err.s);
			buf_free(&err);
			return -1;
		}
	}
	w->fx.nfetched = 0;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		if (!c->fresh)
			continue;
		struct buf b = {0}, err = {0};
		snapshot_encode(x->w, c, &b);
		int rc = store_put_blob(x->st, STORE_FILES, c->name, b.s, b.len, &err);
		buf_free(&b);
		if (rc) {
			fprintf(stderr, "addonmake: error: %s\n", err.s);
			buf_free(&err);
			return -1;
		}
		c->fresh = 0;
	}
	return 0;
}

static int
any_fresh(struct cmd_ctx *x)
{
	if (x->w->fx.nfetched)
		return 1;
	for (size_t i = 0; i < x->ncl; i++)
		if (x->cl[i]->fresh)
			return 1;
	return 0;
}

static int
take_lock(struct cmd_ctx *x, int *fd)
{
	struct buf err = {0};
	long pid = 0;
	int rc = run_lock(x->w->state, x->ro->wait_lock, &pid, fd, &err);
	if (rc == 1)
		fprintf(stderr, "addonmake: error: another addonmake (pid %ld) is running in this "
			"workspace (%s); wait for it to finish, or use --wait-lock\n", pid,
			x->w->state);
	else if (rc < 0)
		fprintf(stderr, "addonmake: error: %s\n", err.s);
	buf_free(&err);
	return rc;
}

/* opens c's target and takes the lease on its records (§5.1): 0, or an
 * exit code (the error said, and c's outcome set: locked, or failed) */
static int
lease_one(struct cmd_ctx *x, struct cluster *c, struct target_ctx **tc,
	  const struct target_ops **ops)
{
	struct buf err = {0}, note = {0};
	int rc = runner_target(cmd_runner(x), x->w, c, tc, ops);
	if (rc)
		cmd_row_set(x, c, CO_FAILED, NULL, "its target could not be opened");
	int held = !rc ? (*ops)->state_lock(*tc, x->ro->wait_lock, &note, &err) : 0;
	if (held) {
		fprintf(stderr, "addonmake: error: %s\n", err.s);
		/* "cluster dev: another addonmake holds the lease ...; hint" */
		struct buf w = {0};
		buf_add(&w, err.s, strcspn(err.s, ";"));
		cmd_row_set(x, c, held == 1 ? CO_LOCKED : CO_FAILED, NULL, w.s);
		buf_free(&w);
		rc = EXIT_FAILED;
	}
	if (note.len && !x->ro->quiet)
		fprintf(stderr, "%s\n", note.s);
	buf_free(&err);
	buf_free(&note);
	return rc;
}

/* takes the lease on the records of each cluster with work whose target
 * keeps them in the cluster (§5.1), then plans again from the records as
 * they are now (one GET of each head when no other run wrote since the
 * first plan): a run that waited for another, or raced it, does only what
 * is left. A cluster whose lease cannot be had has no work and fails at
 * its turn, as one whose records cannot be read does (said, its outcome
 * set). 0, or an exit code (said) */
static int
lease_all(struct cmd_ctx *x, int prune)
{
	int any = 0;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		const struct target_ops *ops = target_state(c);
		if (!ops || !ops->state_lock || (!plan_count_dirty(c) && !(prune && c->nremoved)))
			continue;
		struct target_ctx *tc;
		if (lease_one(x, c, &tc, &ops)) {
			c->unreachable = 1;
			plan_nothing(c);
			continue;
		}
		any = 1;
	}
	return any ? cmd_plan_all(x, 0) : 0;
}

/* whether a cluster's records could not be read */
static int
any_unreachable(struct cmd_ctx *x)
{
	for (size_t i = 0; i < x->ncl; i++)
		if (x->cl[i]->unreachable)
			return 1;
	return 0;
}

static size_t
count_work(struct cmd_ctx *x, size_t *napply, size_t *nprune)
{
	*napply = *nprune = 0;
	for (size_t i = 0; i < x->ncl; i++) {
		*napply += plan_count_dirty(x->cl[i]);
		*nprune += x->cl[i]->nremoved;
	}
	return *napply + (x->ro->prune ? *nprune : 0);
}

static void
note_removed(struct cmd_ctx *x, size_t nprune)
{
	if (nprune && !x->ro->prune && !x->ro->json && !x->ro->quiet)
		fprintf(stderr, "addonmake: %zu layer%s no longer in the profiles; "
			"'addonmake prune' (or --prune) deletes %s\n", nprune,
			nprune == 1 ? " is" : "s are", nprune == 1 ? "it" : "them");
}

/* one line of plan output: JSON Lines with --json, else text */
static void
plan_line(FILE *f, int json, const char *cluster, const char *id,
	  long long order, const char *action, const char *reason)
{
	if (!json) {
		fprintf(f, "%s: %s %s (order %lld): %s\n", cluster, action, id, order, reason);
		return;
	}
	struct buf b = {0};
	buf_adds(&b, "{\"cluster\":");
	doc_json_str(&b, cluster);
	buf_adds(&b, ",\"layer\":");
	doc_json_str(&b, id);
	buf_printf(&b, ",\"order\":%lld,\"action\":\"%s\",\"reason\":", order, action);
	doc_json_str(&b, reason);
	buf_adds(&b, "}\n");
	fputs(b.s, f);
	buf_free(&b);
}

static void
plan_print(struct cmd_ctx *x, FILE *f)
{
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		for (size_t k = 0; k < c->g.n; k++) {
			struct layer *l = c->g.nodes[k].data;
			if (l->plan.dirty)
				plan_line(f, x->ro->json, c->name, l->id, (long long)l->order,
					  "apply", l->plan.reason);
		}
		/* without --prune too: a CI bot reading plan --json must see
		 * what a sync leaves behind */
		for (size_t k = 0; k < c->nremoved; k++)
			plan_line(f, x->ro->json, c->name, c->removed[k].id,
				  (long long)c->removed[k].rec.order, x->ro->prune ? "prune" : "removed",
				  x->ro->prune ? "removed from the profiles"
					       : "removed from the profiles; --prune (or addonmake prune) "
						 "deletes it");
	}
}

int
cmd_plan(struct cmd_ctx *x)
{
	int prc = cmd_plan_all(x, 0);
	if (prc)
		return prc;
	size_t na, np;
	size_t work = count_work(x, &na, &np);
	plan_print(x, stdout);
	/* a cluster whose records could not be read has no plan: its error
	 * was said, and the others' plans stand */
	int bad = any_unreachable(x);
	if (!x->ro->json) {
		if (!work && !bad)
			printf("addonmake: no work to do.\n");
		else if (work)
			printf("addonmake: %zu layer%s to apply%s", na, na == 1 ? "" : "s",
			       x->ro->prune ? "" : ".\n");
		if (work && x->ro->prune)
			printf(", %zu to prune.\n", np);
	}
	note_removed(x, np);
	if (bad)
		return EXIT_FAILED;
	return work && x->ro->detailed_exitcode ? EXIT_WORK : EXIT_DONE;
}

int
cmd_sync_one(struct cmd_ctx *x, struct runner *r, struct cluster *c, struct crun *cr)
{
	struct out *o = r->out;
	if (x->ro->explain && !x->ro->json)
		for (size_t k = 0; k < c->g.n; k++) {
			struct layer *l = c->g.nodes[k].data;
			if (l->plan.dirty)
				out_msg(o, "addonmake explain: %s: %s: %s", c->name, l->id,
					l->plan.reason);
		}
	/* a cluster whose records could not be read fails here, at its
	 * turn (its error was said when they were read) */
	int crc = c->unreachable ? EXIT_FAILED : run_cluster(r, x->w, c, cr);
	if (crc == EXIT_DONE && !cr->halted && x->ro->prune)
		crc = prune_cluster(r, x->w, c, cr);
	return crc;
}

void
cmd_sync_outcome(struct cmd_ctx *x, struct cluster *c, int crc, const struct crun *cr)
{
	int had = plan_count_dirty(c) || (x->ro->prune && c->nremoved);
	struct crow *row = cmd_row(x, c);
	row->applied = cr->nready;
	row->pruned = cr->npruned;
	if (crc == EXIT_INT || crc == EXIT_TERM)
		cmd_row_set(x, c, CO_FAILED, cr->failed_layer, "interrupted");
	else if (crc != EXIT_DONE && (!c->unreachable || row->outcome == CO_NOWORK))
		cmd_row_set(x, c, CO_FAILED, cr->failed_layer,
			    cr->failed_layer ? cr->failed_why.s : "see the error above");
	else if (cr->halted)
		cmd_row_set(x, c, CO_STOPPED, NULL, "after a tier: a cluster failed; -k goes on");
	else if (crc == EXIT_DONE)
		row->outcome = had ? CO_SYNCED : CO_NOWORK;
}

/* syncs (and with --prune prunes) each cluster in turn, setting its
 * outcome; without -k a failed cluster keeps the next ones from starting.
 * The first failure's exit code, or EXIT_DONE */
static int
sync_clusters(struct cmd_ctx *x, struct runner *r)
{
	struct out *o = r->out;
	int rc = EXIT_DONE;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		o->done = 0;
		o->total = (int)(plan_count_dirty(c) + (x->ro->prune ? c->nremoved : 0));
		struct crun cr = {0};
		int crc = cmd_sync_one(x, r, c, &cr);
		cmd_sync_outcome(x, c, crc, &cr);
		crun_free(&cr);
		if (crc != EXIT_DONE) {
			rc = crc;
			int stop = crc == EXIT_INT || crc == EXIT_TERM;
			if (stop || !x->ro->keep_going) {
				/* a cluster that never started is said so, by name */
				for (size_t k = i + 1; k < x->ncl; k++)
					cmd_row_set(x, x->cl[k], CO_SKIPPED, NULL,
						    stop ? "interrupted" : "a cluster failed; -k goes on");
				break;
			}
		}
	}
	return rc;
}

int
cmd_sync(struct cmd_ctx *x)
{
	int lockfd = -1;
	if (!x->ro->dry_run && take_lock(x, &lockfd))
		return EXIT_FAILED;
	int prc = cmd_plan_all(x, 0);
	if (prc) {
		run_unlock(lockfd);
		return prc;
	}
	size_t na, np;
	size_t work = count_work(x, &na, &np);
	if (work && !x->ro->dry_run) {
		if ((prc = lease_all(x, x->ro->prune))) {
			run_unlock(lockfd);
			return prc;
		}
		work = count_work(x, &na, &np);
	}
	if (!work && !any_unreachable(x)) {
		/* a stale snapshot is brought up to date, nothing else */
		if (!x->ro->dry_run && any_fresh(x) && (reopen_rw(x) || save_snapshots(x))) {
			run_unlock(lockfd);
			return EXIT_FAILED;
		}
		run_unlock(lockfd);
		if (!x->ro->json && !x->ro->quiet)
			printf("addonmake: no work to do.\n");
		note_removed(x, np);
		/* one line says it of every cluster; JSON and --summary say
		 * it of each */
		return !x->ro->dry_run && cmd_summary(x, cmd_runner(x)->out, 0) < 0 ? EXIT_FAILED
										   : EXIT_DONE;
	}
	if (x->ro->dry_run) {
		plan_print(x, stdout);
		return EXIT_DONE;
	}
	/* there is work: the state is opened for writing only now. The plan
	 * stands: the lock has kept every other run out since it was made,
	 * and it holds copies of the records, not pointers into the old map */
	if (reopen_rw(x) || save_snapshots(x)) {
		run_unlock(lockfd);
		return EXIT_FAILED;
	}
	struct runner *r = cmd_runner(x);
	struct out *o = r->out;
	size_t at_once = x->ro->clusters_at_once ? (size_t)x->ro->clusters_at_once : 8;
	int rc = at_once > 1 && x->ncl > 1 ? cmd_sync_fleet(x, r, at_once) : sync_clusters(x, r);
	out_finish(o);
	if (cmd_summary(x, o, x->ncl > 1) < 0 && rc == EXIT_DONE)
		rc = EXIT_FAILED;
	out_summary(o, (int)(na + (x->ro->prune ? np : 0)), x->ro->started_ms);
	if (rc == EXIT_DONE && !x->ro->json && !x->ro->quiet)
		note_removed(x, x->ro->prune ? 0 : np);
	run_unlock(lockfd);
	return rc;
}

int
cmd_prune(struct cmd_ctx *x)
{
	if (x->ro->dry_run) {
		/* what would be pruned; no lock, nothing written */
		int prc = cmd_plan_all(x, 0);
		if (prc)
			return prc;
		size_t na, np;
		count_work(x, &na, &np);
		for (size_t i = 0; i < x->ncl; i++)
			for (size_t k = 0; k < x->cl[i]->nremoved; k++)
				plan_line(stdout, x->ro->json, x->cl[i]->name, x->cl[i]->removed[k].id,
					  (long long)x->cl[i]->removed[k].rec.order, "prune",
					  "removed from the profiles");
		if (any_unreachable(x))
			return EXIT_FAILED; /* said, and what could be read is listed */
		if (!x->ro->json)
			printf(np ? "addonmake: %zu layer%s to prune.\n" : "addonmake: no work to do.\n",
			       np, np == 1 ? "" : "s");
		return EXIT_DONE;
	}
	int lockfd = -1;
	if (take_lock(x, &lockfd))
		return EXIT_FAILED;
	int prc = cmd_plan_all(x, 0);
	if (prc) {
		run_unlock(lockfd);
		return prc;
	}
	size_t na, np;
	count_work(x, &na, &np);
	if (np && (prc = lease_all(x, 1))) {
		run_unlock(lockfd);
		return prc;
	}
	count_work(x, &na, &np);
	if (!np) {
		run_unlock(lockfd);
		if (any_unreachable(x))
			return EXIT_FAILED;
		if (!x->ro->json && !x->ro->quiet)
			printf("addonmake: no work to do.\n");
		return EXIT_DONE;
	}
	if (reopen_rw(x)) { /* the plan stands, as in cmd_sync */
		run_unlock(lockfd);
		return EXIT_FAILED;
	}
	struct runner *r = cmd_runner(x);
	struct out *o = r->out;
	int rc = EXIT_DONE;
	for (size_t i = 0; i < x->ncl && rc == EXIT_DONE; i++) {
		o->done = 0;
		o->total = (int)x->cl[i]->nremoved;
		struct crun cr = {0};
		rc = x->cl[i]->unreachable ? EXIT_FAILED : prune_cluster(r, x->w, x->cl[i], &cr);
		crun_free(&cr);
	}
	out_finish(o);
	out_summary(o, (int)np, x->ro->started_ms);
	run_unlock(lockfd);
	return rc;
}

/* a JSON Lines record of graph --json: {"kind":K,"cluster":C, then more */
static void
gj_begin(struct buf *b, const char *kind, const char *cluster)
{
	buf_clear(b);
	buf_printf(b, "{\"kind\":\"%s\",\"cluster\":", kind);
	doc_json_str(b, cluster);
}

static void
gj_field(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, ",\"%s\":", key);
	if (v)
		doc_json_str(b, v);
	else
		buf_adds(b, "null");
}

/* graph --json: the graph of DESIGN §3 as JSON Lines — a "layer" record
 * per layer, a "tier" record per barrier node ("tier N"), and an "edge"
 * per dependency: each layer to its tier's barrier, each barrier to the
 * layers of the next tier (what runs after what) */
static void
graph_json(const char *cluster, const struct graph *g)
{
	struct buf b = {0};
	char tier[40], prev[40];
	for (size_t t = 0; t < g->ntiers; t++) {
		snprintf(tier, sizeof(tier), "tier %lld", (long long)g->tiers[t].order);
		gj_begin(&b, "tier", cluster);
		gj_field(&b, "id", tier);
		buf_printf(&b, ",\"order\":%lld}\n", (long long)g->tiers[t].order);
		fputs(b.s, stdout);
		for (size_t i = g->tiers[t].first; i < g->tiers[t].first + g->tiers[t].n; i++) {
			const struct gnode *n = &g->nodes[i];
			const struct layer *l = n->data;
			gj_begin(&b, "layer", cluster);
			gj_field(&b, "id", n->id);
			gj_field(&b, "name", l ? l->name : strchr(n->id, '/') + 1);
			gj_field(&b, "profile", l ? l->profile : NULL);
			gj_field(&b, "type", l ? l->type : NULL);
			gj_field(&b, "version", l ? l->version : NULL);
			buf_printf(&b, ",\"order\":%lld", (long long)n->order);
			gj_field(&b, "state", graph_state_word(n->state));
			buf_adds(&b, "}\n");
			fputs(b.s, stdout);
			if (t) {
				gj_begin(&b, "edge", cluster);
				gj_field(&b, "from", prev);
				gj_field(&b, "to", n->id);
				buf_adds(&b, "}\n");
				fputs(b.s, stdout);
			}
			gj_begin(&b, "edge", cluster);
			gj_field(&b, "from", n->id);
			gj_field(&b, "to", tier);
			buf_adds(&b, "}\n");
			fputs(b.s, stdout);
		}
		memcpy(prev, tier, sizeof(prev));
	}
	buf_free(&b);
}

int
cmd_graph(struct cmd_ctx *x)
{
	int prc = cmd_plan_all(x, 1);
	if (prc)
		return prc;
	if (!x->ro->json)
		graph_dot_begin(stdout);
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		/* removed layers are drawn in their tier, dashed */
		struct graph g = {0};
		for (size_t k = 0; k < c->g.n; k++)
			graph_add(&g, &c->g.nodes[k]);
		for (size_t k = 0; k < c->nremoved; k++) {
			struct gnode gn = {.id = c->removed[k].id, .label = c->removed[k].id,
					   .order = c->removed[k].rec.order, .state = GS_REMOVED, .tier = 0, .data = NULL};
			graph_add(&g, &gn);
		}
		graph_build(&g);
		if (x->ro->json)
			graph_json(c->name, &g);
		else
			graph_dot_cluster(stdout, &g, c->name, 1);
		graph_free(&g);
	}
	if (!x->ro->json) {
		graph_dot_legend(stdout);
		graph_dot_end(stdout);
	}
	return EXIT_DONE;
}

static void
fmt_time(char *out, size_t n, int64_t t)
{
	if (!t) {
		snprintf(out, n, "-");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* one line of status */
struct srow {
	const char *cluster, *id, *type, *state;
	long long order;
	char hash[33], applied[33]; /* applied: the recorded hash, or "" */
	char when[32];
	unsigned count;
};

static void
status_json(const struct srow *r)
{
	struct buf b = {0};
	buf_adds(&b, "{\"cluster\":");
	doc_json_str(&b, r->cluster);
	buf_adds(&b, ",\"layer\":");
	doc_json_str(&b, r->id);
	buf_printf(&b, ",\"order\":%lld,\"type\":", r->order);
	doc_json_str(&b, r->type ? r->type : "");
	buf_adds(&b, ",\"state\":");
	doc_json_str(&b, r->state);
	buf_printf(&b, ",\"hash\":\"%s\",\"applied_hash\":\"%s\",\"applied\":%u,\"last_applied\":",
		   r->hash, r->applied, r->count);
	doc_json_str(&b, r->when);
	buf_adds(&b, "}\n");
	fputs(b.s, stdout);
	buf_free(&b);
}

/* a cluster's line after the table (a JSON object with --json): its
 * layers by the state of their records, those to apply, and who wrote its
 * records in the cluster last, so that one status shows a fleet after
 * runs on many machines */
static void
status_cluster(struct cmd_ctx *x, const struct cluster *c)
{
	size_t n[4] = {0}; /* applied, pending, failed, to apply */
	for (size_t k = 0; k < c->g.n; k++) {
		const struct layer *l = c->g.nodes[k].data;
		int st = l->plan.has_rec ? l->plan.rec.status : 0;
		n[0] += st == LS_READY || st == LS_APPLIED;
		n[1] += st == LS_PENDING || st == LS_INTERRUPTED;
		n[2] += st == LS_FAILED;
		n[3] += l->plan.dirty != 0;
	}
	struct buf b = {0};
	if (x->ro->json) {
		buf_adds(&b, "{\"cluster\":");
		doc_json_str(&b, c->name);
		buf_printf(&b, ",\"summary\":{\"applied\":%zu,\"pending\":%zu,\"failed\":%zu,"
			   "\"to_apply\":%zu,\"removed\":%zu,\"last_written\":", n[0], n[1], n[2], n[3],
			   c->nremoved);
		if (c->last_run)
			doc_json_str(&b, c->last_run);
		else
			buf_adds(&b, "null");
		buf_adds(&b, "}}\n");
	} else {
		buf_printf(&b, "addonmake: %s: %zu applied, %zu pending, %zu failed, %zu to apply", c->name,
			   n[0], n[1], n[2], n[3]);
		if (c->nremoved)
			buf_printf(&b, ", %zu removed", c->nremoved);
		if (c->last_run)
			buf_printf(&b, "; records last written by %s", c->last_run);
		buf_addc(&b, '\n');
	}
	fputs(b.s, stdout);
	buf_free(&b);
}

/* the table, each column as wide as its widest cell on a terminal (wide
 * characters count two); a changed layer's hash is "applied → new" */
static void
status_table(const struct srow *rows, size_t n)
{
	static const char *const head[] = {"CLUSTER", "LAYER", "ORDER", "TYPE", "STATE", "HASH",
					   "LAST APPLIED"};
	char (*hash)[40] = xcalloc(n + 1, sizeof(*hash));
	char (*order)[24] = xcalloc(n + 1, sizeof(*order));
	int w[7];
	for (int k = 0; k < 7; k++)
		w[k] = text_width(head[k]);
	for (size_t i = 0; i < n; i++) {
		const struct srow *r = &rows[i];
		if (*r->applied && strcmp(r->applied, r->hash) != 0)
			snprintf(hash[i], sizeof(hash[i]), "%.12s → %.12s", r->applied, r->hash);
		else
			snprintf(hash[i], sizeof(hash[i]), "%.12s", r->hash);
		snprintf(order[i], sizeof(order[i]), "%lld", r->order);
		const char *cells[] = {r->cluster, r->id, order[i], r->type ? r->type : "", r->state,
				       hash[i]};
		for (int k = 0; k < 6; k++)
			if (text_width(cells[k]) > w[k])
				w[k] = text_width(cells[k]);
	}
	for (size_t i = 0; i <= n; i++) {
		struct buf b = {0};
		const struct srow *r = i ? &rows[i - 1] : NULL;
		const char *cells[] = {r ? r->cluster : head[0], r ? r->id : head[1],
				       r ? order[i - 1] : head[2], r ? (r->type ? r->type : "") : head[3],
				       r ? r->state : head[4], r ? hash[i - 1] : head[5],
				       r ? r->when : head[6]};
		for (int k = 0; k < 7; k++) {
			if (k == 2) /* numbers to the right */
				for (int pad = text_width(cells[k]); pad < w[k]; pad++)
					buf_addc(&b, ' ');
			if (k == 6 || k == 2)
				buf_adds(&b, cells[k]);
			else
				buf_pad(&b, cells[k], w[k]);
			if (k < 6)
				buf_adds(&b, "  ");
		}
		puts(b.s);
		buf_free(&b);
	}
	free(hash);
	free(order);
}

int
cmd_status(struct cmd_ctx *x)
{
	int prc = cmd_plan_all(x, 1);
	if (prc)
		return prc;
	size_t n = 0;
	for (size_t i = 0; i < x->ncl; i++)
		n += x->cl[i]->g.n + x->cl[i]->nremoved;
	struct srow *rows = xcalloc(n + 1, sizeof(*rows));
	n = 0;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		for (size_t k = 0; k < c->g.n + c->nremoved; k++) {
			struct srow *r = &rows[n++];
			const struct layer_rec *rec = NULL;
			r->cluster = c->name;
			if (k < c->g.n) {
				struct layer *l = c->g.nodes[k].data;
				r->id = l->id;
				r->type = l->type;
				r->order = (long long)l->order;
				rec = l->plan.has_rec ? &l->plan.rec : NULL;
				r->state = !l->plan.dirty ? "up to date"
					   : !l->plan.has_rec ? "new"
					   : l->plan.rec.status == LS_FAILED ? "failed"
					   : l->plan.rec.status == LS_READY ? "dirty"
					   : layer_status_name(l->plan.rec.status);
				hash_hex(&l->hash, r->hash);
			} else {
				struct removed *rm = &c->removed[k - c->g.n];
				r->id = rm->id;
				r->type = rm->rec.type;
				r->order = (long long)rm->rec.order;
				rec = &rm->rec;
				r->state = "removed";
				hash_hex(&rm->rec.hash, r->hash);
			}
			if (rec)
				hash_hex(&rec->hash, r->applied);
			r->count = rec ? rec->count : 0;
			fmt_time(r->when, sizeof(r->when), rec ? rec->finished : 0);
			if (x->ro->json)
				status_json(r);
		}
	}
	if (!x->ro->json)
		status_table(rows, n);
	for (size_t i = 0; i < x->ncl; i++)
		status_cluster(x, x->cl[i]);
	free(rows);
	return EXIT_DONE;
}

/* clean -n: what clean would forget, forgetting nothing */
static int
clean_dry(struct cmd_ctx *x, int all)
{
	if (!store_path_exists(x->w->state))
		printf("addonmake: nothing to forget (no state in %s).\n", x->w->state);
	else if (all)
		printf("addonmake: would forget the recorded state of every cluster (%s/state.mdb).\n",
		       x->w->state);
	else
		for (size_t i = 0; i < x->ncl; i++)
			printf("addonmake: would forget the recorded state of cluster %s.\n",
			       x->cl[i]->name);
	return EXIT_DONE;
}

int
cmd_clean(struct cmd_ctx *x)
{
	int all = x->all;
	if (x->ro->dry_run)
		return clean_dry(x, all);
	int lockfd = -1;
	if (take_lock(x, &lockfd))
		return EXIT_FAILED;
	int rc = EXIT_DONE;
	if (all) {
		/* forget everything; works even on an unreadable state file */
		const char *names[] = {"state.mdb", "state.mdb-lock"};
		for (int i = 0; i < 2; i++) {
			struct buf p = {0};
			buf_printf(&p, "%s/%s", x->w->state, names[i]);
			if (unlink(p.s) < 0 && errno != ENOENT) {
				fprintf(stderr, "addonmake: error: cannot remove %s: %s\n", p.s,
					strerror(errno));
				rc = EXIT_FAILED;
			}
			buf_free(&p);
		}
		if (rc == EXIT_DONE && !x->ro->quiet)
			printf("addonmake: forgot the recorded state of every cluster.\n");
	} else if (store_path_exists(x->w->state)) {
		struct store *st;
		struct buf err = {0};
		if (store_check(x->w->state, &err) || store_open(&st, x->w->state, 0, &err)) {
			fprintf(stderr, "addonmake: error: %s\n", err.s);
			rc = EXIT_FAILED;
		} else {
			for (size_t i = 0; i < x->ncl && rc == EXIT_DONE; i++) {
				if (store_clear_cluster(st, x->cl[i]->name, &err)) {
					fprintf(stderr, "addonmake: error: %s\n", err.s);
					rc = EXIT_FAILED;
				} else if (!x->ro->quiet) {
					printf("addonmake: forgot the recorded state of cluster %s.\n",
					       x->cl[i]->name);
				}
			}
			store_close(st);
		}
		buf_free(&err);
	}
	run_unlock(lockfd);
	return rc;
}

int
cmd_unlock(struct cmd_ctx *x)
{
	if (x->all) {
		fprintf(stderr, "addonmake: unlock needs -c CLUSTER: the cluster whose lease to release\n");
		return EXIT_USAGE;
	}
	int rc = EXIT_DONE;
	for (size_t i = 0; i < x->ncl; i++) {
		struct cluster *c = x->cl[i];
		struct buf err = {0}, note = {0};
		const struct target_ops *ops = target_state(c);
		struct target_ctx *tc;
		if (!ops || !ops->state_unlock) {
			fprintf(stderr, "addonmake: %s: its records are not kept in the cluster (state: "
				"cluster), so no lease keeps runs apart there\n", c->name);
			rc = EXIT_USAGE;
		} else if (x->ro->dry_run) {
			printf("addonmake: %s: -n: no lease released\n", c->name);
		} else if ((rc = runner_target(cmd_runner(x), x->w, c, &tc, &ops)) == 0) {
			if (ops->state_unlock(tc, &note, &err)) {
				fprintf(stderr, "addonmake: error: %s\n", err.s);
				rc = EXIT_FAILED;
			} else {
				printf("%s\n", note.s);
			}
		}
		buf_free(&err);
		buf_free(&note);
		if (rc)
			return rc;
	}
	return rc;
}

/* whether c has a record of layer id (after the plan) */
static int
has_record(const struct cluster *c, const char *id)
{
	for (size_t i = 0; i < c->nlayers; i++)
		if (c->layers[i]->plan.has_rec && !strcmp(c->layers[i]->id, id))
			return 1;
	for (size_t i = 0; i < c->nremoved; i++)
		if (!strcmp(c->removed[i].id, id))
			return 1;
	return 0;
}

/* state rebuild of one cluster, its target open and its lease held: the
 * records of layers with objects and no record, recorded (with -n,
 * said). An exit code */
static int
rebuild_cluster(struct cmd_ctx *x, struct cluster *c, struct target_ctx *tc,
		const struct target_ops *ops)
{
	struct buf err = {0}, note = {0};
	struct state_got got = {0};
	int rc = EXIT_DONE;
	if (ops->state_rebuild(tc, &x->w->a, &got, &note, &err)) {
		fprintf(stderr, "addonmake: error: %s\n", err.s);
		rc = EXIT_FAILED;
		goto out;
	}
	if (note.len && !x->ro->quiet)
		fprintf(stderr, "addonmake: %s: warning: %s\n", c->name, note.s);
	size_t n = 0;
	for (size_t i = 0; i < got.n; i++) {
		if (has_record(c, got.puts[i].id))
			continue;
		got.puts[n++] = got.puts[i];
		char hex[33];
		hash_hex(&got.puts[i].rec->hash, hex);
		if (!x->ro->quiet)
			printf("addonmake: %s: %s the record of %s (order %lld, %s, hash %.12s)\n",
			       c->name, x->ro->dry_run ? "would rebuild" : "rebuilt", got.puts[i].id,
			       (long long)got.puts[i].rec->order,
			       layer_status_name(got.puts[i].rec->status), hex);
	}
	if (!n) {
		if (!x->ro->quiet)
			printf("addonmake: %s: every layer with objects in the cluster has a record; "
			       "nothing to rebuild.\n", c->name);
	} else if (!x->ro->dry_run &&
		   (reopen_rw(x) || runner_record(cmd_runner(x), ops, tc, got.puts, n))) {
		rc = EXIT_FAILED;
	}
out:
	buf_free(&err);
	buf_free(&note);
	buf_free(&got.mark);
	return rc;
}

int
cmd_state(struct cmd_ctx *x)
{
	if (x->all) {
		fprintf(stderr, "addonmake: state rebuild needs -c CLUSTER: the cluster whose records "
			"to rebuild\n");
		return EXIT_USAGE;
	}
	for (size_t i = 0; i < x->ncl; i++) {
		const struct target_ops *ops = target_state(x->cl[i]);
		if (!ops || !ops->state_rebuild) {
			fprintf(stderr, "addonmake: %s: its records are not kept in the cluster (state: "
				"cluster of the kube target): there is nothing to rebuild them from\n",
				x->cl[i]->name);
			return EXIT_USAGE;
		}
	}
	int lockfd = -1;
	if (!x->ro->dry_run && take_lock(x, &lockfd))
		return EXIT_FAILED;
	struct target_ctx **tcs = xcalloc(x->ncl, sizeof(*tcs));
	const struct target_ops **opss = xcalloc(x->ncl, sizeof(*opss));
	int rc = EXIT_DONE;
	/* the lease first, then the records as they are under it */
	for (size_t i = 0; i < x->ncl && !rc; i++)
		rc = x->ro->dry_run ? runner_target(cmd_runner(x), x->w, x->cl[i], &tcs[i], &opss[i])
				    : lease_one(x, x->cl[i], &tcs[i], &opss[i]);
	if (!rc)
		rc = cmd_plan_all(x, 0);
	for (size_t i = 0; i < x->ncl && !rc; i++)
		rc = x->cl[i]->unreachable ? EXIT_FAILED : rebuild_cluster(x, x->cl[i], tcs[i], opss[i]);
	free(tcs);
	free(opss);
	run_unlock(lockfd);
	return rc;
}
