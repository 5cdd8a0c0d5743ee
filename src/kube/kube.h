/* kube: a client of the Kubernetes API — kubeconfig, one event loop (one
 * HTTP/2 connection, or a few HTTP/1.1 ones) per cluster, discovery,
 * server-side apply's wire format, watches, Status errors and kstatus
 * readiness. It knows YAML trees (doc/) and nothing of
 * profiles, layers or the executor. */
#ifndef KUBE_H
#define KUBE_H

#include <stdint.h>
#include "../yaml/doc.h"
#include "../lib/lib.h"

/* requests in flight to an HTTP/1.1 server at most (more wait for a
 * slot), and so connections kept open. Eight keep a remote server's round
 * trips overlapped; more only add threads waiting on each other. An
 * HTTP/2 server gets more, as streams of one connection. */
#define KUBE_MAX_INFLIGHT 8

/* A resolved connection: what a kubeconfig context (or the in-cluster
 * service account) says. PEM material is held in memory. */
struct kube_cfg {
	char *server;           /* https://host:port, no trailing / */
	struct buf ca, cert, key; /* PEM bytes, empty when not given */
	char *token, *token_file;
	char *username, *password;
	int insecure;
	char *tls_server_name;
	char *ns;               /* the context's namespace, or NULL */
	char *where;            /* "context C of FILE" or "in-cluster config" */
	char *cred;             /* which credential, for 401/403: "token of user U" */
	/* exec credential plugin */
	char **exec_argv, **exec_env; /* env: NAME=VALUE, NULL-terminated */
	char *exec_info;        /* KUBERNETES_EXEC_INFO */
	char *exec_api;
};

/* kubeconfig: path (only that file) or else $KUBECONFIG (merged, first
 * wins) or else ~/.kube/config, or else the in-cluster service account;
 * context NULL takes current-context. sa_dir: where the service account
 * files are (NULL: /var/run/secrets/kubernetes.io/serviceaccount). */
int kube_config_load(const char *path, const char *context, const char *sa_dir,
		     struct kube_cfg *cfg, struct buf *err);
void kube_config_free(struct kube_cfg *cfg);

/* runs an exec credential plugin: stdout into out, 0 when it exited 0,
 * else -1 with a message in err; supplied by the caller, who owns child
 * processes */
typedef int (*kube_exec_fn)(void *u, char *const *argv, char *const *env,
			    struct buf *out, struct buf *err);

/* whether cfg's server is spoken to by libcurl: an https server where
 * addonmake's own HTTP/2 client cannot be loaded, a proxy from the
 * environment, basic credentials (else addonmake's own client serves it,
 * and libcurl only if the server turns out not to speak HTTP/2) */
int kube_needs_curl(const struct kube_cfg *cfg);
/* loads what the first request to cfg's server needs: libcurl, or libssl
 * and nghttp2 for HTTP/2, or nothing for plain HTTP (a run's background
 * load, lazy_preload) */
void kube_preload(const struct kube_cfg *cfg);

struct kube;
/* takes cfg; requests made from several threads or fibers run on one event loop
 * (multiplexed on one connection where the server speaks HTTP/2). cancel, when non-NULL, is read
 * between tries and during transfers: non-zero ends them. */
struct kube *kube_open(struct kube_cfg *cfg, kube_exec_fn run, void *u,
		       const int *cancel);
void kube_close(struct kube *k);
const struct kube_cfg *kube_cfg_of(const struct kube *k);
/* requests made so far (for tests and benchmarks) */
long kube_requests(struct kube *k);

struct kube_resp {
	long code;
	struct buf body;
};
/* one request, retried with backoff on connection errors, 429 and 5xx
 * (Retry-After honoured), credentials refreshed once on 401. 0 with any
 * other answer in r; -1 with err when no answer came. */
int kube_call(struct kube *k, const char *method, const char *path,
	      const char *query, const char *ctype, const char *body,
	      size_t len, struct kube_resp *r, struct buf *err);
void kube_resp_free(struct kube_resp *r);
/* a watch of the collection at path (query: the selector, watch=1 and
 * the resourceVersion to start from) until the monotonic time until (ms):
 * 1 when an event (added, modified, deleted) came, 0 when until came
 * first (or the run is stopping), -1 with err when the watch could not be
 * made, failed or the server ended it. It holds no request slot. */
int kube_watch(struct kube *k, const char *path, const char *query, int64_t until,
	       struct buf *err);
/* a request of kube_call_all: the first six are the caller's, the rest
 * what kube_call would return (rc) and fill in (r, err) */
struct kube_req {
	const char *method, *path, *query, *ctype, *body;
	size_t len;
	int rc;
	struct kube_resp r;
	struct buf err;
};
/* kube_call for each of n requests, whose first tries go out together on
 * as many connections as are free (one at least) and are waited for in
 * one poll(2); a request whose first try needs another goes on alone as
 * kube_call's would. The caller frees each r and err. */
void kube_call_all(struct kube *k, struct kube_req *q, size_t n);
/* what a failed answer says, for a user: the Status message, the fields of
 * a conflict with their manager, the causes of 400/422, the credential of
 * 401/403 */
void kube_error(struct kube *k, const char *what, const struct kube_resp *r,
		struct buf *err);
/* the answer's body as a tree (into a), or NULL */
struct dnode *kube_json(struct arena *a, const struct kube_resp *r);

/* discovery: apiVersion + kind -> resource */
struct kube_res {
	const char *group, *version, *resource, *kind;
	int namespaced;
};
/* 0 found; 1 the server has no such kind (after one refresh of that
 * group-version); -1 error (err). Results live as long as k. */
int kube_resource(struct kube *k, const char *api_version, const char *kind,
		  struct kube_res *out, struct buf *err);
/* every kind of the server whose objects can be listed and applied
 * (verbs list and patch; no subresource), in the preferred version of its
 * group: where to look for objects by label. Into a; 0, or -1 with err */
int kube_listable(struct kube *k, struct arena *a, struct kube_res **out, size_t *n,
		  struct buf *err);
/* forgets what discovery said about a group (after a CRD of it changed) */
void kube_forget(struct kube *k, const char *group);
/* the URL path of an object (name NULL: its collection) */
void kube_path(struct buf *b, const struct kube_res *r, const char *ns,
	       const char *name);

/* kstatus (sigs.k8s.io/cli-utils): the status of a live object */
enum kstatus { KS_CURRENT, KS_INPROGRESS, KS_FAILED, KS_TERMINATING,
	       KS_NOTFOUND, KS_UNKNOWN };
/* why receives kstatus's reason and message when not Current; now is the
 * wall clock in seconds (Pods that stay unschedulable fail after 15 s) */
int kube_kstatus(const struct dnode *obj, int64_t now, struct buf *why);
const char *kube_kstatus_name(int st);

/* "2018-03-05T17:30:20-08:00" or "...Z" -> seconds since the epoch; 0
 * when it is not a timestamp */
int64_t kube_rfc3339(const char *s);

/* base64 (standard alphabet, padding optional); -1 on bad input */
int kube_b64_decode(const char *s, size_t n, struct buf *out);
/* base64 of n bytes, padded, appended to out */
void kube_b64_encode(const void *p, size_t n, struct buf *out);

#endif
