/* kstatus: whether a live object is ready, by the rules of
 * sigs.k8s.io/cli-utils/pkg/kstatus (Compute): deletion, observed
 * generation, Reconciling/Stalled conditions, one rule per built-in kind,
 * then a Ready condition, else Current. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kube.h"

static const char *
str_at(const struct dnode *o, const char *path)
{
	return doc_str(doc_path(o, path));
}

/* an integer field, or def when absent or not an integer */
static long long
int_at(const struct dnode *o, const char *path, long long def)
{
	const char *s = str_at(o, path);
	if (!s || !*s)
		return def;
	char *end;
	long long v = strtoll(s, &end, 10);
	return *end ? def : v;
}

static int
has(const struct dnode *o, const char *path)
{
	const struct dnode *n = doc_path(o, path);
	return n && !doc_is_null(n);
}

/* the condition of a type: its status, reason and message */
static const struct dnode *
cond(const struct dnode *o, const char *type)
{
	const struct dnode *cs = doc_path(o, "status.conditions");
	for (size_t i = 0; cs && cs->kind == D_SEQ && i < cs->n; i++) {
		const char *t = doc_str(doc_get(cs->items[i], "type"));
		if (t && strcmp(t, type) == 0)
			return cs->items[i];
	}
	return NULL;
}

static int
cond_is(const struct dnode *c, const char *status)
{
	const char *s = doc_str(doc_get(c, "status"));
	return c && s && strcmp(s, status) == 0;
}

static const char *
cond_field(const struct dnode *c, const char *f)
{
	const char *s = doc_str(doc_get(c, f));
	return s ? s : "";
}

static int
progress(struct buf *why, const char *reason, const char *fmt, long long a, long long b)
{
	buf_printf(why, "%s: ", reason);
	buf_printf(why, fmt, a, b);
	return KS_INPROGRESS;
}

static int
deployment(const struct dnode *o, struct buf *why)
{
	int progressing = !has(o, "spec.progressDeadlineSeconds");
	int available = 0;
	const struct dnode *cs = doc_path(o, "status.conditions");
	for (size_t i = 0; cs && cs->kind == D_SEQ && i < cs->n; i++) {
		const struct dnode *c = cs->items[i];
		const char *t = cond_field(c, "type"), *r = cond_field(c, "reason");
		if (strcmp(t, "Progressing") == 0 && strcmp(r, "ProgressDeadlineExceeded") == 0) {
			buf_printf(why, "ProgressDeadlineExceeded: %s", cond_field(c, "message"));
			return KS_FAILED;
		}
		if (strcmp(t, "Progressing") == 0 && cond_is(c, "True") &&
		    strcmp(r, "NewReplicaSetAvailable") == 0)
			progressing = 1;
		if (strcmp(t, "Available") == 0 && cond_is(c, "True"))
			available = 1;
	}
	long long spec = int_at(o, "spec.replicas", 1), s = int_at(o, "status.replicas", 0);
	long long u = int_at(o, "status.updatedReplicas", 0);
	long long r = int_at(o, "status.readyReplicas", 0);
	long long a = int_at(o, "status.availableReplicas", 0);
	if (spec > s)
		return progress(why, "LessReplicas", "%lld/%lld replicas", s, spec);
	if (spec > u)
		return progress(why, "LessUpdated", "%lld/%lld updated", u, spec);
	if (s > spec)
		return progress(why, "ExtraPods", "%lld pods for %lld replicas", s, spec);
	if (u > a)
		return progress(why, "LessAvailable", "%lld/%lld available", a, u);
	if (spec > r)
		return progress(why, "LessReady", "%lld/%lld ready", r, spec);
	if (!progressing) {
		buf_adds(why, "ReplicaSetNotAvailable: the new ReplicaSet is not available yet");
		return KS_INPROGRESS;
	}
	if (!available) {
		buf_adds(why, "DeploymentNotAvailable: the Deployment is not Available");
		return KS_INPROGRESS;
	}
	return KS_CURRENT;
}

static int
replicaset(const struct dnode *o, struct buf *why)
{
	if (cond_is(cond(o, "ReplicaFailure"), "True")) {
		buf_printf(why, "ReplicaFailure: %s", cond_field(cond(o, "ReplicaFailure"), "message"));
		return KS_INPROGRESS;
	}
	long long spec = int_at(o, "spec.replicas", 1);
	long long l = int_at(o, "status.fullyLabeledReplicas", 0);
	long long a = int_at(o, "status.availableReplicas", 0);
	long long r = int_at(o, "status.readyReplicas", 0);
	long long s = int_at(o, "status.replicas", 0);
	if (spec > l)
		return progress(why, "LessLabelled", "%lld/%lld labelled", l, spec);
	if (spec > a)
		return progress(why, "LessAvailable", "%lld/%lld available", a, spec);
	if (spec > r)
		return progress(why, "LessReady", "%lld/%lld ready", r, spec);
	if (s > spec)
		return progress(why, "ExtraPods", "%lld pods for %lld replicas", s, spec);
	return KS_CURRENT;
}

static int
statefulset(const struct dnode *o, struct buf *why)
{
	const char *strat = str_at(o, "spec.updateStrategy.type");
	if (strat && strcmp(strat, "OnDelete") == 0)
		return KS_CURRENT;
	long long spec = int_at(o, "spec.replicas", 1), r = int_at(o, "status.readyReplicas", 0);
	long long c = int_at(o, "status.currentReplicas", 0);
	long long u = int_at(o, "status.updatedReplicas", 0);
	long long s = int_at(o, "status.replicas", 0);
	long long p = int_at(o, "spec.updateStrategy.rollingUpdate.partition", -1);
	if (spec > s)
		return progress(why, "LessReplicas", "%lld/%lld replicas", s, spec);
	if (spec > r)
		return progress(why, "LessReady", "%lld/%lld ready", r, spec);
	if (s > spec)
		return progress(why, "ExtraPods", "%lld pods for %lld replicas", s, spec);
	if (p != -1) {
		if (u < spec - p)
			return progress(why, "PartitionRollout", "%lld/%lld updated", u, spec - p);
		return KS_CURRENT;
	}
	if (spec > c)
		return progress(why, "LessCurrent", "%lld/%lld current", c, spec);
	const char *cr = str_at(o, "status.currentRevision");
	const char *ur = str_at(o, "status.updateRevision");
	if (strcmp(cr ? cr : "", ur ? ur : "") != 0) {
		buf_printf(why, "RevisionMismatch: current revision %s, update revision %s",
			   cr ? cr : "(none)", ur ? ur : "(none)");
		return KS_INPROGRESS;
	}
	return KS_CURRENT;
}

static int
daemonset(const struct dnode *o, struct buf *why)
{
	if (!has(o, "metadata.generation")) {
		buf_adds(why, "NoGeneration: no metadata.generation");
		return KS_INPROGRESS;
	}
	if (!has(o, "status.observedGeneration")) {
		buf_adds(why, "NoObservedGeneration: the controller has not seen it yet");
		return KS_INPROGRESS;
	}
	if (!has(o, "status.desiredNumberScheduled")) {
		buf_adds(why, "NoDesiredNumber: no status.desiredNumberScheduled");
		return KS_INPROGRESS;
	}
	long long d = int_at(o, "status.desiredNumberScheduled", 0);
	long long c = int_at(o, "status.currentNumberScheduled", 0);
	long long u = int_at(o, "status.updatedNumberScheduled", 0);
	long long a = int_at(o, "status.numberAvailable", 0);
	long long r = int_at(o, "status.numberReady", 0);
	if (d > c)
		return progress(why, "LessCurrent", "%lld/%lld scheduled", c, d);
	if (d > u)
		return progress(why, "LessUpdated", "%lld/%lld updated", u, d);
	if (d > a)
		return progress(why, "LessAvailable", "%lld/%lld available", a, d);
	if (d > r)
		return progress(why, "LessReady", "%lld/%lld ready", r, d);
	return KS_CURRENT;
}

static int
job(const struct dnode *o, struct buf *why)
{
	const struct dnode *cs = doc_path(o, "status.conditions");
	for (size_t i = 0; cs && cs->kind == D_SEQ && i < cs->n; i++) {
		const struct dnode *c = cs->items[i];
		const char *t = cond_field(c, "type");
		if (strcmp(t, "Complete") == 0 && cond_is(c, "True"))
			return KS_CURRENT;
		if (strcmp(t, "Failed") == 0 && cond_is(c, "True")) {
			buf_printf(why, "JobFailed: %s", cond_field(c, "message"));
			return KS_FAILED;
		}
		if (strcmp(t, "Suspended") == 0 && cond_is(c, "True") &&
		    strcmp(str_at(o, "spec.suspend") ? str_at(o, "spec.suspend") : "", "true") == 0)
			return KS_CURRENT;
	}
	if (!has(o, "status.startTime")) {
		buf_adds(why, "JobNotStarted: the Job has not started");
		return KS_INPROGRESS;
	}
	return KS_CURRENT;
}

int64_t
kube_rfc3339(const char *s)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	int64_t t = (int64_t)timegm(&tm);
	while (*p == '.' || (*p >= '0' && *p <= '9'))
		p++;
	if ((*p == '+' || *p == '-') && strlen(p) >= 6) {
		int off = ((p[1] - '0') * 10 + (p[2] - '0')) * 3600 + ((p[4] - '0') * 10 + (p[5] - '0')) * 60;
		t += *p == '+' ? -off : off;
	}
	return t;
}


static int
pod(const struct dnode *o, int64_t now, struct buf *why)
{
	const char *ph = str_at(o, "status.phase");
	if (!ph || !*ph) {
		buf_adds(why, "PodNotScheduled: the Pod has no phase yet");
		return KS_INPROGRESS;
	}
	if (strcmp(ph, "Succeeded") == 0 || strcmp(ph, "Failed") == 0)
		return KS_CURRENT;
	if (strcmp(ph, "Running") == 0) {
		if (cond_is(cond(o, "Ready"), "True"))
			return KS_CURRENT;
		const struct dnode *cs = doc_path(o, "status.containerStatuses");
		for (size_t i = 0; cs && cs->kind == D_SEQ && i < cs->n; i++) {
			const char *w = doc_str(doc_path(cs->items[i], "state.waiting.reason"));
			if (w && strcmp(w, "CrashLoopBackOff") == 0) {
				buf_printf(why, "ContainerCrashLooping: container %s is in CrashLoopBackOff",
					   doc_str(doc_get(cs->items[i], "name")) ?
						   doc_str(doc_get(cs->items[i], "name")) : "?");
				return KS_FAILED;
			}
		}
		buf_adds(why, "PodRunningNotReady: the Pod is running but not ready");
		return KS_INPROGRESS;
	}
	if (strcmp(ph, "Pending") == 0) {
		const struct dnode *c = cond(o, "PodScheduled");
		if (cond_is(c, "False") && strcmp(cond_field(c, "reason"), "Unschedulable") == 0) {
			buf_printf(why, "PodUnschedulable: %s", cond_field(c, "message"));
			const char *ct = str_at(o, "metadata.creationTimestamp");
			return now - (ct ? kube_rfc3339(ct) : 0) > 15 ? KS_FAILED : KS_INPROGRESS;
		}
		buf_adds(why, "PodPending: the Pod is pending");
		return KS_INPROGRESS;
	}
	buf_printf(why, "unknown Pod phase %s", ph);
	return KS_UNKNOWN;
}

static int
crd(const struct dnode *o, struct buf *why)
{
	const struct dnode *cs = doc_path(o, "status.conditions");
	for (size_t i = 0; cs && cs->kind == D_SEQ && i < cs->n; i++) {
		const struct dnode *c = cs->items[i];
		const char *t = cond_field(c, "type");
		if (strcmp(t, "NamesAccepted") == 0 && cond_is(c, "False")) {
			buf_printf(why, "NamesNotAccepted: %s", cond_field(c, "message"));
			return KS_FAILED;
		}
		if (strcmp(t, "Established") == 0) {
			if (cond_is(c, "False") && strcmp(cond_field(c, "reason"), "Installing") != 0) {
				buf_printf(why, "NotEstablished: %s", cond_field(c, "message"));
				return KS_FAILED;
			}
			if (cond_is(c, "True"))
				return KS_CURRENT;
		}
	}
	buf_adds(why, "Installing: the CRD is not Established yet");
	return KS_INPROGRESS;
}

/* the rules every object follows first: being deleted, a generation not
 * observed yet, Reconciling or Stalled; KS_UNKNOWN when none decides */
static int
generic(const struct dnode *o, struct buf *why)
{
	if (has(o, "metadata.deletionTimestamp")) {
		buf_adds(why, "Terminating: the object is being deleted");
		return KS_TERMINATING;
	}
	if (has(o, "metadata.generation") && has(o, "status.observedGeneration")) {
		long long g = int_at(o, "metadata.generation", 0);
		long long og = int_at(o, "status.observedGeneration", 0);
		if (g != og) {
			buf_printf(why, "LatestGenerationNotObserved: generation %lld, observed %lld", g, og);
			return KS_INPROGRESS;
		}
	}
	const struct dnode *cs = doc_path(o, "status.conditions");
	for (size_t i = 0; cs && cs->kind == D_SEQ && i < cs->n; i++) {
		const struct dnode *c = cs->items[i];
		const char *t = cond_field(c, "type");
		if (strcmp(t, "Reconciling") == 0 && cond_is(c, "True")) {
			buf_printf(why, "Reconciling: %s", cond_field(c, "message"));
			return KS_INPROGRESS;
		}
		if (strcmp(t, "Stalled") == 0 && cond_is(c, "True")) {
			buf_printf(why, "Stalled: %s", cond_field(c, "message"));
			return KS_FAILED;
		}
	}
	return KS_UNKNOWN;
}

static int
pvc(const struct dnode *o, struct buf *why)
{
	const char *ph = str_at(o, "status.phase");
	if (ph && strcmp(ph, "Bound") == 0)
		return KS_CURRENT;
	buf_adds(why, "NotBound: the claim is not Bound");
	return KS_INPROGRESS;
}

static int
service(const struct dnode *o, struct buf *why)
{
	const char *t = str_at(o, "spec.type");
	const char *ip = str_at(o, "spec.clusterIP");
	if (t && strcmp(t, "LoadBalancer") == 0 && (!ip || !*ip)) {
		buf_adds(why, "NoIPAssigned: no cluster IP yet");
		return KS_INPROGRESS;
	}
	return KS_CURRENT;
}

/* any other kind: its Ready condition when it has one, else Current */
static int
other(const struct dnode *o, struct buf *why)
{
	const struct dnode *ready = cond(o, "Ready");
	if (!ready || cond_is(ready, "True"))
		return KS_CURRENT;
	buf_printf(why, "Ready is %s: %s", cond_field(ready, "status"),
		   *cond_field(ready, "message") ? cond_field(ready, "message")
						 : cond_field(ready, "reason"));
	return KS_INPROGRESS;
}

int
kube_kstatus(const struct dnode *o, int64_t now, struct buf *why)
{
	int st = generic(o, why);
	if (st != KS_UNKNOWN)
		return st;
	const char *av = str_at(o, "apiVersion");
	const char *kind = str_at(o, "kind");
	if (!av || !kind)
		return KS_UNKNOWN;
	const char *slash = strchr(av, '/');
	size_t gl = slash ? (size_t)(slash - av) : 0;
#define G(name) (gl == strlen(name) && strncmp(av, name, gl) == 0)
#define K(name) (strcmp(kind, name) == 0)
	if ((gl == 0 && (K("Secret") || K("ConfigMap"))) || (G("batch") && K("CronJob")))
		return KS_CURRENT;
	if ((G("apps") || G("extensions")) && K("Deployment"))
		return deployment(o, why);
	if ((G("apps") || G("extensions")) && K("ReplicaSet"))
		return replicaset(o, why);
	if (G("apps") && K("StatefulSet"))
		return statefulset(o, why);
	if ((G("apps") || G("extensions")) && K("DaemonSet"))
		return daemonset(o, why);
	if (G("batch") && K("Job"))
		return job(o, why);
	if (gl == 0 && K("Pod"))
		return pod(o, now, why);
	if (gl == 0 && K("PersistentVolumeClaim"))
		return pvc(o, why);
	if (gl == 0 && K("Service"))
		return service(o, why);
	if (G("policy") && K("PodDisruptionBudget"))
		return KS_CURRENT;
	if (G("apiextensions.k8s.io") && K("CustomResourceDefinition"))
		return crd(o, why);
#undef G
#undef K
	return other(o, why);
}

const char *
kube_kstatus_name(int st)
{
	static const char *const names[] = {"Current", "InProgress", "Failed", "Terminating",
					    "NotFound", "Unknown"};
	return st >= 0 && st <= KS_UNKNOWN ? names[st] : "Unknown";
}
