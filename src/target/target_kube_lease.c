/* target_kube_lease: the lock on a cluster's records, so that runs on
 * different machines (two CI jobs a minute apart) do not apply to one
 * cluster at once. A coordination.k8s.io/v1 Lease, addonmake-<c> in the
 * state namespace, taken with optimistic concurrency (create, or replace
 * with the resourceVersion read), renewed by a thread every third of its
 * duration while the run goes on, released (holder emptied) when the
 * target closes, failed or interrupted. A lease whose holder stopped
 * renewing it (a job killed with SIGKILL) is taken over once its duration
 * has passed since the last renewal, saying whose it was. A run with
 * nothing to do never takes it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "target_kube.h"

/* 60 s, or ADDONMAKE_TEST_LEASE_SECONDS (a test setting: a killed run's
 * lease expires within a test's patience) */
static int
lease_seconds(void)
{
	const char *e = getenv("ADDONMAKE_TEST_LEASE_SECONDS");
	int v = e ? atoi(e) : 0;
	return v > 0 ? v : 60;
}

void
tk_holder_of(char out[256])
{
	char host[128] = "?";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	int n = snprintf(out, 256, "%s pid %ld", host, (long)getpid());
	static const char *const jobs[][2] = {{"GITHUB_RUN_ID", "GitHub Actions run"},
					      {"CI_JOB_ID", "GitLab job"},
					      {"BUILDKITE_JOB_ID", "Buildkite job"},
					      {"BUILD_ID", "build"}};
	for (size_t i = 0; i < sizeof(jobs) / sizeof(jobs[0]) && n > 0 && n < 200; i++) {
		const char *v = getenv(jobs[i][0]);
		if (v && *v) {
			snprintf(out + n, (size_t)(256 - n), " (%s %.40s)", jobs[i][1], v);
			break;
		}
	}
}

void
tk_micro_now(char out[40])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	char s[24];
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, 40, "%.19s.%06dZ", s, (int)(ts.tv_nsec / 1000 % 1000000));
}

static void
lease_path(struct buf *b, const struct cluster *c, int item)
{
	char name[TK_STATE_NAME];
	tk_state_name(name, c, NULL);
	buf_printf(b, "/apis/coordination.k8s.io/v1/namespaces/%s/leases", c->target.state_ns);
	if (item)
		buf_printf(b, "/%s", name);
}

/* the Lease held by holder ("" released), replacing resourceVersion rv
 * (NULL: created) */
static void
lease_json(struct buf *b, const struct cluster *c, const struct klease *l, const char *holder,
	   const char *rv)
{
	char name[TK_STATE_NAME], now[40];
	tk_state_name(name, c, NULL);
	tk_micro_now(now);
	buf_printf(b, "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":"
		   "{\"name\":\"%s\",\"namespace\":\"%s\",", name, c->target.state_ns);
	if (rv)
		buf_printf(b, "\"resourceVersion\":\"%s\",", rv);
	buf_adds(b, "\"labels\":{\"app.kubernetes.io/managed-by\":\"addonmake\"},"
		    "\"annotations\":{\"addonmake.io/cluster\":");
	doc_json_str(b, c->name);
	buf_adds(b, "}},\"spec\":{\"holderIdentity\":");
	doc_json_str(b, holder);
	buf_printf(b, ",\"leaseDurationSeconds\":%d,\"acquireTime\":\"%s\",\"renewTime\":\"%s\","
		   "\"leaseTransitions\":%lld}}", l->seconds, l->acquired[0] ? l->acquired : now, now,
		   l->transitions);
}

/* what the lease read says */
struct seen {
	char rv[32], holder[256], acquired[40], renewed[40];
	int seconds;
	long long transitions;
};

static void
seen_of(struct seen *s, const struct dnode *o)
{
	const struct dnode *sp = doc_get(o, "spec");
	const char *v;
	memset(s, 0, sizeof(*s));
	snprintf(s->rv, sizeof(s->rv), "%s",
		 (v = doc_str(doc_get(doc_get(o, "metadata"), "resourceVersion"))) ? v : "");
	snprintf(s->holder, sizeof(s->holder), "%s", (v = doc_str(doc_get(sp, "holderIdentity"))) ? v : "");
	snprintf(s->acquired, sizeof(s->acquired), "%s", (v = doc_str(doc_get(sp, "acquireTime"))) ? v : "");
	snprintf(s->renewed, sizeof(s->renewed), "%s", (v = doc_str(doc_get(sp, "renewTime"))) ? v : "");
	s->seconds = (v = doc_str(doc_get(sp, "leaseDurationSeconds"))) ? atoi(v) : 0;
	s->transitions = (v = doc_str(doc_get(sp, "leaseTransitions"))) ? atoll(v) : 0;
}

/* one write of the lease (POST when rv is NULL, else PUT): the HTTP code
 * (0 when no answer came, err says why), with what it answered in *s */
static long
lease_write(struct kt *kt, const struct cluster *c, const char *holder, const char *rv,
	    struct seen *s, struct buf *err)
{
	struct buf path = {0}, body = {0};
	struct arena a = {0};
	lease_path(&path, c, rv != NULL);
	lease_json(&body, c, &kt->lease, holder, rv);
	struct kube_resp r;
	long code = 0;
	if (kube_call(kt->k, rv ? "PUT" : "POST", path.s, "fieldManager=addonmake", "application/json",
		      body.s, body.len, &r, err) == 0) {
		code = r.code;
		if (code == 200 || code == 201)
			seen_of(s, kube_json(&a, &r));
		else if (code != 409)
			kube_error(kt->k, path.s, &r, err);
		kube_resp_free(&r);
	}
	arena_free(&a);
	buf_free(&path);
	buf_free(&body);
	return code;
}

/* renews the lease every third of its duration until released */
static void *
renewer(void *p)
{
	struct kt *kt = p;
	struct klease *l = &kt->lease;
	pthread_mutex_lock(&kt->mu);
	while (!l->stop) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += l->seconds / 3 > 0 ? l->seconds / 3 : 1;
		pthread_cond_timedwait(&l->cv, &kt->mu, &ts);
		if (l->stop)
			break;
		char rv[32];
		snprintf(rv, sizeof(rv), "%s", l->rv);
		pthread_mutex_unlock(&kt->mu);
		struct seen s;
		struct buf err = {0};
		long code = lease_write(kt, l->c, l->holder, rv, &s, &err);
		buf_free(&err);
		pthread_mutex_lock(&kt->mu);
		if (code == 200)
			snprintf(l->rv, sizeof(l->rv), "%s", s.rv);
		else if (code == 409)
			l->lost = 1; /* taken over: the next write of a record says so */
	}
	pthread_mutex_unlock(&kt->mu);
	return NULL;
}

static void
rights(struct buf *err, const struct cluster *c)
{
	buf_printf(err, "; addonmake locks cluster %s's records with a Lease in namespace %s and "
		   "needs get, create and update of leases (coordination.k8s.io) there "
		   "(samples/kube/state-rbac.yaml has them), or 'state: local' in the target",
		   c->name, c->target.state_ns);
}

/* GET the lease: 1 with what it says in *s, 0 when there is none, -1
 * with err (saying what rights are needed when refused) */
static int
lease_get(const struct target_ctx *t, struct seen *s, struct buf *err)
{
	struct kt *kt = t->priv;
	struct buf path = {0};
	struct arena a = {0};
	lease_path(&path, t->c, 1);
	struct kube_resp r;
	memset(s, 0, sizeof(*s));
	if (kube_call(kt->k, "GET", path.s, NULL, NULL, NULL, 0, &r, err) < 0) {
		buf_free(&path);
		return -1;
	}
	int got = r.code == 200 ? 1 : r.code == 404 ? 0 : -1;
	if (got == 1)
		seen_of(s, kube_json(&a, &r));
	if (got < 0) {
		kube_error(kt->k, path.s, &r, err);
		if (r.code == 403)
			rights(err, t->c);
	}
	kube_resp_free(&r);
	buf_free(&path);
	arena_free(&a);
	return got;
}

/* one try: 0 taken, 1 held by another (*s says by whom), 2 taken by
 * another meanwhile (try again), 3 no state namespace yet, -1 error */
static int
lease_try(const struct target_ctx *t, struct seen *s, struct buf *note, struct buf *err)
{
	struct kt *kt = t->priv;
	struct klease *l = &kt->lease;
	struct seen old;
	int got = lease_get(t, &old, err);
	if (got < 0)
		return -1;
	int64_t renewed = old.renewed[0] ? kube_rfc3339(old.renewed) : 0;
	int expired = old.holder[0] && wall_secs() > renewed + (old.seconds ? old.seconds : 60);
	if (got && old.holder[0] && !expired) {
		*s = old;
		return 1;
	}
	l->transitions = old.transitions + (got && old.holder[0] ? 1 : 0);
	l->acquired[0] = 0;
	long code = lease_write(kt, t->c, l->holder, got ? old.rv : NULL, s, err);
	if (code == 409 || (code == 404 && !got)) /* taken meanwhile; or no namespace yet */
		return code == 409 ? 2 : 3;
	if (code != 200 && code != 201) {
		if (code == 403)
			rights(err, t->c);
		return -1;
	}
	snprintf(l->rv, sizeof(l->rv), "%s", s->rv);
	snprintf(l->acquired, sizeof(l->acquired), "%s", s->acquired);
	if (expired && note)
		buf_printf(note, "addonmake: %s: took over the lease of %s (held since %s, not "
			   "renewed for %llds)", t->c->name, old.holder, old.acquired,
			   (long long)(wall_secs() - renewed));
	return 0;
}

int
tk_state_lock(const struct target_ctx *t, int wait, struct buf *note, struct buf *err)
{
	struct kt *kt = t->priv;
	struct klease *l = &kt->lease;
	l->c = t->c;
	l->seconds = lease_seconds();
	tk_holder_of(l->holder);
	int said = 0, races = 0;
	for (;;) {
		struct seen s;
		int rc = lease_try(t, &s, note, err);
		if (rc == 0)
			break;
		if (rc < 0)
			return -1;
		/* another run took it between our read and write: read again,
		 * a bounded number of times (waiting for a holder is not one) */
		if (rc != 1 && ++races > 100) {
			buf_printf(err, "cluster %s: its lease kept changing under this run; try again",
				   t->c->name);
			return -1;
		}
		if (rc == 3 && tk_state_namespace(t, err))
			return -1;
		if (rc != 1)
			continue;
		if (!wait) {
			buf_printf(err, "cluster %s: another addonmake holds the lease on its records: "
				   "%s, since %s (renewed %s); wait for it to finish, use --wait-lock, or "
				   "'addonmake unlock -c %s' if that run is gone",
				   t->c->name, s.holder, s.acquired, s.renewed, t->c->name);
			return 1;
		}
		if (!said++)
			fprintf(stderr, "addonmake: %s: waiting for the lease held by %s (since %s)\n",
				t->c->name, s.holder, s.acquired);
		for (int i = 0; i < 10 && !tk_stopping(t); i++)
			nanosleep(&(struct timespec){.tv_nsec = 100 * 1000 * 1000}, NULL);
		if (tk_stopping(t)) {
			buf_printf(err, "cluster %s: interrupted while waiting for its lease", t->c->name);
			return -1;
		}
	}
	l->held = 1;
	pthread_cond_init(&l->cv, NULL);
	l->thread = pthread_create(&l->th, NULL, renewer, kt) == 0;
	return 0;
}

int
tk_lease_lost(struct kt *kt)
{
	pthread_mutex_lock(&kt->mu);
	int lost = kt->lease.held && kt->lease.lost;
	pthread_mutex_unlock(&kt->mu);
	return lost;
}

void
tk_lease_release(struct kt *kt)
{
	struct klease *l = &kt->lease;
	if (!l->held)
		return;
	pthread_mutex_lock(&kt->mu);
	l->stop = 1;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&kt->mu);
	if (l->thread)
		pthread_join(l->th, NULL);
	pthread_cond_destroy(&l->cv);
	if (!l->lost) {
		struct seen s;
		struct buf err = {0};
		lease_write(kt, l->c, "", l->rv, &s, &err);
		buf_free(&err);
	}
	l->held = 0;
}

int
tk_state_unlock(const struct target_ctx *t, struct buf *note, struct buf *err)
{
	struct kt *kt = t->priv;
	struct klease *l = &kt->lease;
	l->c = t->c;
	l->seconds = lease_seconds();
	for (int tries = 0; tries < 10; tries++) {
		struct seen old, s;
		int got = lease_get(t, &old, err);
		if (got < 0)
			return -1;
		if (!got || !old.holder[0]) {
			buf_printf(note, "addonmake: %s: nobody holds the lease on its records", t->c->name);
			return 0;
		}
		l->transitions = old.transitions;
		snprintf(l->acquired, sizeof(l->acquired), "%s", old.acquired);
		long code = lease_write(kt, t->c, "", old.rv, &s, err);
		if (code == 200) {
			buf_printf(note, "addonmake: %s: released the lease of %s (held since %s)",
				   t->c->name, old.holder, old.acquired);
			return 0;
		}
		if (code != 409)
			return -1;
	}
	buf_printf(err, "cluster %s: its lease kept changing; try again", t->c->name);
	return -1;
}
