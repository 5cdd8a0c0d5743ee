/* end-to-end tests of the kube target: ./addonmake against the stand-in
 * API server tests/servers/kubeapi.py (and real kubectl against the same
 * server, to show the stand-in is faithful).
 *
 * Built twice: as part of build/bin/e2e (suite "kube", the stand-in), and
 * with KUBE_REAL as build/bin/e2e_apiserver (suite "kube_apiserver"),
 * against a real kube-apiserver v1.20 with etcd (tests/servers/apiserver.py;
 * the binary is built by tests/servers/build-apiserver). The same tests
 * run against both; what only the stand-in can do (fault injection) skips
 * against the real one, and there the kubectl test shows that addonmake
 * stores what kubectl stores. */
#include <signal.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

#ifdef KUBE_REAL
#define SUITE kube_apiserver
#define REAL 1
#else
#define SUITE kube
#define REAL 0
#endif

struct kf {
	struct tws t;
	pid_t srv;
	int port;
	const char *scheme;
};

#ifndef KUBE_REAL
/* a CA (api/ca.crt), a server certificate for 127.0.0.1 (api/srv.*) and a
 * client certificate for user me (api/me.*) in the workspace; the real
 * server's wrapper makes the same files itself */
static void
make_certs_in(struct kf *f, const char *dir)
{
	if (tws_sh(&f->t, "mkdir -p %s && cd %s && ("
		 "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca "
		 "-keyout ca.key -out ca.crt && "
		 "openssl req -newkey rsa:2048 -nodes -subj /CN=127.0.0.1 -keyout srv.key -out srv.csr && "
		 "printf 'subjectAltName=IP:127.0.0.1\\n' > ext && "
		 "openssl x509 -req -in srv.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 "
		 "-extfile ext -out srv.crt && "
		 "openssl req -newkey rsa:2048 -nodes -subj /CN=me -keyout me.key -out me.csr && "
		 "openssl x509 -req -in me.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1 -out me.crt"
		 ") >/dev/null 2>&1", dir, dir) != 0)
		cr_skip_test("openssl is not here to make certificates");
}

static void
make_certs(struct kf *f)
{
	make_certs_in(f, "api");
}
#endif

/* starts the real API server with kube-apiserver's flags besides those
 * apiserver.py gives it; a test that needs it skips on the stand-in
 * before it makes its workspace */
static void
kf_start_real(struct kf *f, const char *flags)
{
#ifdef KUBE_REAL
	char bin[1200], st[1200], why[400] = "";
	const char *src = getenv("ADDONMAKE_SRC") ? getenv("ADDONMAKE_SRC") : ".";
	snprintf(bin, sizeof(bin), "%s/build/apiserver/kube-apiserver", src);
	snprintf(st, sizeof(st), "%s/build/apiserver/status", src);
	FILE *sf = fopen(st, "r");
	if (sf) {
		if (!fgets(why, sizeof(why), sf))
			why[0] = 0;
		fclose(sf);
	}
	if (access(bin, X_OK) != 0)
		cr_skip_test("no real kube-apiserver (%s): %s", bin,
			     why[0] ? why : "not built (ninja build/apiserver/status)\n");
	if (system("command -v etcd >/dev/null 2>&1") != 0)
		cr_skip_test("etcd is not installed (Debian package etcd-server)");
	char a[2600];
	snprintf(a, sizeof(a), "'%s' '%s/api' %s", bin, f->t.dir, flags);
	f->srv = srv_start_script("apiserver.py", a, &f->port);
	if (!f->srv) {
		/* the workspace goes with the test: what went wrong must be
		 * in the message CI prints */
		char *why_not = tws_get(&f->t, "api/start.log");
		cr_assert_fail("the real kube-apiserver did not start:\n%s",
			       why_not ? why_not : "(apiserver.py wrote no start.log)\n");
	}
	f->scheme = "https";
#else
	(void)f;
	cr_assert_fail("kube-apiserver's flags %s given to the stand-in", flags);
#endif
}

/* starts the API server. The stand-in gets args; the real one ignores
 * them: it always speaks TLS (CA api/ca.crt), accepts the tokens abc and
 * sa-token and the client certificate api/me.crt. With tls, the stand-in
 * speaks TLS with the same files (and also accepts token abc). */
static void
kf_start(struct kf *f, const char *args, int tls)
{
#ifdef KUBE_REAL
	(void)args;
	(void)tls;
	kf_start_real(f, "");
#else
	char a[2000];
	if (tls) {
		make_certs(f);
		snprintf(a, sizeof(a), "--tls '%s/api/srv.crt' '%s/api/srv.key' --client-ca '%s/api/ca.crt' "
			 "--token abc %s", f->t.dir, f->t.dir, f->t.dir, args ? args : "");
	} else {
		snprintf(a, sizeof(a), "%s", args ? args : "");
	}
	f->srv = srv_start_script("kubeapi.py", a, &f->port);
	if (!f->srv)
		cr_skip_test("python3 is not here to run the test API server");
	f->scheme = tls ? "https" : "http";
#endif
}

/* the kubeconfig `kc` for the server with the user given (YAML flow map);
 * cluster_extra adds to the cluster's map (after a comma); the real
 * server's CA is always there */
static void
kf_kubeconfig(struct kf *f, const char *user, const char *cluster_extra)
{
	tws_put(&f->t, "kc",
		"apiVersion: v1\n"
		"kind: Config\n"
		"current-context: test\n"
		"clusters:\n"
		"- name: test\n"
		"  cluster: {server: \"%s://127.0.0.1:%d\"%s%s}\n"
		"users:\n"
		"- name: me\n"
		"  user: %s\n"
		"contexts:\n"
		"- name: test\n"
		"  context: {cluster: test, user: me}\n",
		f->scheme, f->port, REAL && !cluster_extra ? ", certificate-authority: api/ca.crt" : "",
		cluster_extra ? cluster_extra : "", user);
}

/* a fresh server (the stand-in with args) and a kubeconfig with token abc */
static void
kf_init(struct kf *f, const char *args)
{
	tws_init(&f->t);
	kf_start(f, args, 0);
	kf_kubeconfig(f, "{token: abc}", NULL);
}

static void
kf_free(struct kf *f)
{
	srv_stop(f->srv);
	tws_free(&f->t);
}

/* skips what only the stand-in can do */
#define STAND_IN_ONLY(why) \
	do { \
		if (REAL) \
			cr_skip_test("the real API server cannot %s", why); \
	} while (0)

/* the workspace file: cluster dev on kc (and more target settings), the
 * profile p.yaml, and more of the cluster (layers:) */
static void
kf_yaml(struct kf *f, const char *target, const char *more)
{
	tws_put(&f->t, "addonmake.yaml",
		"defaults:\n"
		"  readiness: {interval: 1s, timeout: 30s}\n"
		"clusters:\n"
		"  - name: dev\n"
		"    target: {kube: {kubeconfig: kc%s}}\n"
		"    profiles: [p.yaml]\n%s", target, more);
}

/* the workspace: one cluster on kc, the profile p.yaml with these packs */
static void
kf_ws(struct kf *f, const char *packs)
{
	kf_yaml(f, "", "");
	tws_put(&f->t, "p.yaml",
		"metadata: {name: p}\n"
		"spec:\n"
		"  template:\n"
		"    packs:\n%s",
		packs);
}

/* a fresh server and kf_ws(f, packs), synced once (which must succeed) */
static void
kf_synced(struct kf *f, const char *packs)
{
	kf_init(f, NULL);
	kf_ws(f, packs);
	struct res r = am(&f->t, "sync");
	assert_code(r, 0);
	res_free(&r);
}

/* the workspace: one layer l of n ConfigMaps c0, c1, ... in default */
static void
kf_ws_configmaps(struct kf *f, int n)
{
	struct buf docs = {0}, packs = {0};
	for (int i = 0; i < n; i++)
		buf_printf(&docs, "%sapiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c%d}\\n",
			   i ? "---\\n" : "", i);
	buf_printf(&packs,
		   "      - name: l\n"
		   "        type: manifest\n"
		   "        manifests:\n"
		   "          - {name: m, content: \"%s\"}\n",
		   docs.s);
	kf_ws(f, packs.s);
	buf_free(&docs);
	buf_free(&packs);
}

/* the requests the server has seen, "METHOD PATH?QUERY" lines (the real
 * server's from its audit log) */
static char *
kf_log_all(struct kf *f)
{
	char cmd[1600];
	if (REAL)
		snprintf(cmd, sizeof(cmd), "python3 '%s/tests/servers/apiserver.py' --log '%s/api'",
			 getenv("ADDONMAKE_SRC") ? getenv("ADDONMAKE_SRC") : ".", f->t.dir);
	else
		snprintf(cmd, sizeof(cmd), "curl -sk '%s://127.0.0.1:%d/__ctl/log'", f->scheme, f->port);
	return sh_out(cmd);
}

/* kf_log_all without the requests for addonmake's own records (the state
 * namespace, its lease, the cluster's identity), which the tests of the
 * records count themselves: what the layers cost */
static char *
kf_log(struct kf *f)
{
	char *all = kf_log_all(f);
	struct buf b = {0};
	buf_adds(&b, "");
	for (char *p = all, *nl; p && *p; p = nl ? nl + 1 : NULL) {
		nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p + 1) : strlen(p);
		char *line = strndup(p, n);
		if (!strstr(line, "/namespaces/addonmake-system") &&
		    strncmp(line, "GET /api/v1/namespaces/kube-system\n", n) != 0)
			buf_add(&b, line, n);
		free(line);
	}
	free(all);
	return b.s;
}

static char *
kf_ctl(struct kf *f, const char *what)
{
	char path[600];
	snprintf(path, sizeof(path), "/__ctl/%s", what);
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "curl -sk '%s://127.0.0.1:%d%s'", f->scheme, f->port, path);
	return sh_out(cmd);
}

/* a request with curl, as another client would make it */
static char *
kf_curl(struct kf *f, const char *method, const char *path, const char *ctype,
	const char *body)
{
	char cmd[4096];
	snprintf(cmd, sizeof(cmd),
		 "curl -sk -X %s -H 'Authorization: Bearer abc' -H 'Content-Type: %s' "
		 "--data-binary '%s' '%s://127.0.0.1:%d%s'",
		 method, ctype, body, f->scheme, f->port, path);
	return sh_out(cmd);
}

static void
kf_status(struct kf *f, const char *path, const char *status_json)
{
	char body[2048], p[600];
	snprintf(body, sizeof(body), "{\"status\":%s}", status_json);
	snprintf(p, sizeof(p), "%s/status", path);
	free(kf_curl(f, "PATCH", p, "application/merge-patch+json", body));
}

/* the stored object (JSON), or "" (for a Status error too) */
static char *
kf_get(struct kf *f, const char *path)
{
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "curl -skf -H 'Authorization: Bearer abc' '%s://127.0.0.1:%d%s'",
		 f->scheme, f->port, path);
	return sh_out(cmd);
}

/* the index of the first line of log containing needle, or -1 */
static int
line_of(const char *log, const char *needle)
{
	int i = 0;
	for (const char *p = log; p && *p; i++) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		char *line = strndup(p, n);
		int hit = strstr(line, needle) != NULL;
		free(line);
		if (hit)
			return i;
		p = nl ? nl + 1 : p + n;
	}
	return -1;
}

static const char *crd_layer =
	"      - name: crds\n"
	"        type: manifest\n"
	"        values: |\n"
	"          pack: {spectrocloud.com/install-priority: \"-10\", namespace: default}\n"
	"        manifests:\n"
	"          - name: m\n"
	"            content: |\n"
	"              apiVersion: example.com/v1\n"
	"              kind: Widget\n"
	"              metadata: {name: w1}\n"
	"              spec: {size: 3}\n"
	"              ---\n"
	"              apiVersion: apiextensions.k8s.io/v1\n"
	"              kind: CustomResourceDefinition\n"
	"              metadata: {name: widgets.example.com}\n"
	"              spec:\n"
	"                group: example.com\n"
	"                scope: Namespaced\n"
	"                names: {plural: widgets, singular: widget, kind: Widget}\n"
	"                versions:\n"
	"                - name: v1\n"
	"                  served: true\n"
	"                  storage: true\n"
	"                  schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n";

static const char *app_layer =
	"      - name: app\n"
	"        type: manifest\n"
	"        values: |\n"
	"          pack: {namespace: shop}\n"
	"        manifests:\n"
	"          - name: m\n"
	"            content: |\n"
	"              apiVersion: v1\n"
	"              kind: Service\n"
	"              metadata: {name: web}\n"
	"              spec: {ports: [{port: 80, protocol: TCP}], publishNotReadyAddresses: yes}\n"
	"              ---\n"
	"              apiVersion: v1\n"
	"              kind: ConfigMap\n"
	"              metadata: {name: cfg}\n"
	"              data: {enabled: \"true\", count: \"1\"}\n"
	"              ---\n"
	"              apiVersion: rbac.authorization.k8s.io/v1\n"
	"              kind: Role\n"
	"              metadata: {name: reader}\n"
	"              rules: []\n";

Test(SUITE, applies_in_order_labels_and_records)
{
	struct kf f;
	kf_init(&f, NULL);
	char packs[4096];
	snprintf(packs, sizeof(packs), "%s%s", crd_layer, app_layer);
	kf_ws(&f, packs);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *log = kf_log(&f);
	/* a CRD before its custom resource, which waits for discovery */
	int crd = line_of(log, "PATCH /apis/apiextensions.k8s.io/v1/customresourcedefinitions/widgets");
	int cr = line_of(log, "PATCH /apis/example.com/v1/namespaces/default/widgets/w1");
	cr_assert(crd >= 0 && cr > crd, "CRD at %d, CR at %d:\n%s", crd, cr, log);
	/* the layer's namespace first, then RBAC, ConfigMaps, the rest */
	int ns = line_of(log, "PATCH /api/v1/namespaces/shop?");
	int role = line_of(log, "roles/reader");
	int cm = line_of(log, "configmaps/cfg");
	int svc = line_of(log, "services/web");
	cr_assert(ns >= 0 && ns < role && role < cm && cm < svc, "order ns %d role %d cm %d svc %d\n%s",
		  ns, role, cm, svc, log);
	cr_assert(strstr(log, "fieldManager=addonmake") && strstr(log, "force=false"), "%s", log);
	char *cfg = kf_get(&f, "/api/v1/namespaces/shop/configmaps/cfg");
	char *svcj = kf_get(&f, "/api/v1/namespaces/shop/services/web");
	free(log);
	log = kf_log(&f);
	/* yes is YAML 1.1's true, as kubectl sends it; labels find the layer */
	cr_assert(strstr(svcj, "\"publishNotReadyAddresses\": true"), "%s", svcj);
	free(svcj);
	cr_assert(strstr(cfg, "\"enabled\": \"true\"") && strstr(cfg, "\"count\": \"1\""), "%s", cfg);
	cr_assert(strstr(cfg, "\"app.kubernetes.io/managed-by\": \"addonmake\""), "%s", cfg);
	cr_assert(strstr(cfg, "\"addonmake.io/layer\": \"p/app\"") &&
		  strstr(cfg, "\"addonmake.io/cluster\": \"dev\""), "%s", cfg);
	/* a second sync asks the server nothing */
	struct res r2 = am(&f.t, "sync");
	assert_code(r2, 0);
	char *log2 = kf_log(&f);
	cr_assert_str_eq(log2, log, "a no-op made requests:\n%s\n%s", r2.out, r2.err);
	cr_assert(strstr(r2.out, "no work to do"), "%s", r2.out);
	free(cfg);
	free(log);
	free(log2);
	res_free(&r);
	res_free(&r2);
	kf_free(&f);
}

/* the next tier: ConfigMap later in shop, whose PATCH shows the tier
 * before it was ready */
#define AFTER_LAYER                                                                         \
	"      - name: after\n"                                                             \
	"        type: manifest\n"                                                           \
	"        values: |\n"                                                                \
	"          pack: {namespace: shop, spectrocloud.com/install-priority: \"10\"}\n"      \
	"        manifests:\n"                                                               \
	"          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: later}\\n\"}\n"

static const char *deploy_layer =
	"      - name: web\n"
	"        type: manifest\n"
	"        values: |\n"
	"          pack: {namespace: shop}\n"
	"        manifests:\n"
	"          - name: m\n"
	"            content: |\n"
	"              apiVersion: apps/v1\n"
	"              kind: Deployment\n"
	"              metadata: {name: web}\n"
	"              spec:\n"
	"                replicas: 1\n"
	"                selector: {matchLabels: {app: web}}\n"
	"                template:\n"
	"                  metadata: {labels: {app: web}}\n"
	"                  spec: {containers: [{name: c, image: nginx}]}\n" AFTER_LAYER;

#define DEPLOY "/apis/apps/v1/namespaces/shop/deployments/web"
#define DEPLOY_READY \
	"{\"observedGeneration\":1,\"replicas\":1,\"updatedReplicas\":1,\"readyReplicas\":1," \
	"\"availableReplicas\":1,\"conditions\":[{\"type\":\"Available\",\"status\":\"True\"}," \
	"{\"type\":\"Progressing\",\"status\":\"True\",\"reason\":\"NewReplicaSetAvailable\"}]}"

/* waits until the server has seen a request containing needle */
static int
wait_log(struct kf *f, const char *needle, int ms)
{
	for (int i = 0; i < ms / 50; i++) {
		char *log = kf_log(f);
		int hit = strstr(log, needle) != NULL;
		free(log);
		if (hit)
			return 1;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* waits for the sync started with am_bg, checks its exit code, and
 * returns what it printed on stdout (its stderr shown on failure) */
static char *
kf_bg_done(struct kf *f, pid_t pid, int want)
{
	int st;
	waitpid(pid, &st, 0);
	char *out = tws_get(&f->t, "bg.out"), *err = tws_get(&f->t, "bg.err");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == want, "exit %d, want %d\n%s%s", WEXITSTATUS(st),
		  want, out, err);
	free(err);
	return out;
}

Test(SUITE, tier_waits_for_deployment_and_names_it)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws(&f, deploy_layer);
	pid_t pid = am_bg(&f.t, "sync");
	cr_assert(wait_log(&f, "GET " DEPLOY, 10000), "no readiness check came");
	/* not ready yet: the next tier must not have started */
	char *log = kf_log(&f);
	cr_assert(!strstr(log, "configmaps/later"), "the next tier started early:\n%s", log);
	free(log);
	kf_status(&f, DEPLOY, DEPLOY_READY);
	char *out = kf_bg_done(&f, pid, 0);
	cr_assert(strstr(out, "waiting p/web (order 0): Deployment shop/web: LessReplicas: 0/1 replicas"),
		  "%s", out);
	log = kf_log(&f);
	cr_assert(line_of(log, "configmaps/later") > line_of(log, "PATCH " DEPLOY "/status"), "%s", log);
	free(log);
	free(out);
	kf_free(&f);
}

static void
nap_ms(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

/* kf_ws with Palette's interval of checks (1s in the other tests), so
 * that a schedule's checks are told from a watch's */
static void
kf_ws_1m(struct kf *f, const char *packs)
{
	kf_ws(f, packs);
	tws_put(&f->t, "addonmake.yaml",
		"defaults:\n"
		"  readiness: {interval: 1m, timeout: 30s}\n"
		"clusters:\n"
		"  - name: dev\n"
		"    target: {kube: {kubeconfig: kc}}\n"
		"    profiles: [p.yaml]\n");
}

/* after ms: Deployment web checked n times (at least n, unless exact) and
 * the next tier not started; then web is made Available */
static void
kf_checks_then_ready(struct kf *f, int ms, int n, int exact)
{
	nap_ms(ms);
	char *log = kf_log(f);
	int got = count_eq(log, "GET " DEPLOY);
	cr_assert(exact ? got == n : got >= n, "%d checks, want %s%d:\n%s", got,
		  exact ? "" : "at least ", n, log);
	cr_assert(!strstr(log, "configmaps/later"), "the next tier started early:\n%s", log);
	free(log);
	kf_status(f, DEPLOY, DEPLOY_READY);
}

/* f's workspace (deploy_layer, kf_ws_1m) synced: its Deployment waited
 * for with a watch, the check after the first coming when the status
 * changes (2.5 s after the watch began), not on the schedule, which would
 * have checked at 1 s as well */
static void
waits_with_a_watch(struct kf *f)
{
	pid_t pid = am_bg(&f->t, "sync");
	/* the real server's audit log has a watch once it ended: there the
	 * first check is waited for */
	cr_assert(wait_log(f, REAL ? "GET " DEPLOY "\n" : "deployments?watch=1", 10000),
		  "no readiness check came");
	kf_checks_then_ready(f, 2500, 1, 1);
	free(kf_bg_done(f, pid, 0));
	char *log = kf_log(f);
	cr_assert_eq(count_eq(log, "GET " DEPLOY), 2, "%s", log);
	cr_assert_eq(count_lines(log, "deployments?watch=1&fieldSelector=metadata.name%3Dweb&"
				      "resourceVersion="), 1, "%s", log);
	cr_assert(line_of(log, "configmaps/later") > line_of(log, "PATCH " DEPLOY "/status"), "%s", log);
	free(log);
}

/* the layer waits for its Deployment with a watch */
Test(SUITE, readiness_waits_with_a_watch)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_1m(&f, deploy_layer);
	waits_with_a_watch(&f);
	kf_free(&f);
}

/* a watch the server ends at once (as when it restarts) leaves the wait
 * to the schedule: checks at 1 s and 3 s, a watch tried after each, and
 * -v says why */
Test(SUITE, a_watch_the_server_ends_falls_back_to_the_schedule)
{
	if (REAL)
		cr_skip_test("the stand-in ends watches on demand");
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_1m(&f, deploy_layer);
	free(kf_ctl(&f, "fault?path=/apis/apps/v1/namespaces/shop/deployments&mode=endwatch&n=100"));
	pid_t pid = am_bg(&f.t, "-v sync");
	cr_assert(wait_log(&f, "deployments?watch=1", 10000), "no watch came");
	kf_checks_then_ready(&f, 3500, 3, 0);
	char *out = kf_bg_done(&f, pid, 0);
	char *err = tws_get(&f.t, "bg.err");
	cr_assert(strstr(out, "next check in 2s") && strstr(out, "next check in 4s"), "%s", out);
	const char *note = "p/web: readiness: the server ended the watch of "
			   "/apis/apps/v1/namespaces/shop/deployments; checking on the schedule";
	cr_assert(strstr(out, note) || strstr(err, note), "%s\n%s", out, err);
	char *log = kf_log(&f);
	cr_assert_geq(count_lines(log, "deployments?watch=1"), 3, "%s", log);
	cr_assert(line_of(log, "configmaps/later") > line_of(log, "PATCH " DEPLOY "/status"), "%s", log);
	free(log);
	free(err);
	free(out);
	kf_free(&f);
}

/* the packs: crd_layer (Widget's CRD, Widget w1) and, a tier after it,
 * layer gate, whose values hold pack (lines, or "") and a
 * readinessCheck.v1beta1 of Widget default/widget with these keysToCheck
 * (flow mappings) and whose one manifest has this content (as in a YAML
 * double-quoted string); then after (more layers, or "") */
static void
gate_packs(char *out, size_t n, const char *pack, const char *widget, const char *keys,
	   const char *content, const char *after)
{
	snprintf(out, n,
		 "%s"
		 "      - name: gate\n"
		 "        type: manifest\n"
		 "        values: |\n"
		 "%s"
		 "          readinessCheck:\n"
		 "            v1beta1:\n"
		 "              - {name: %s, kind: Widget, group: example.com, version: v1,\n"
		 "                 namespace: default, keysToCheck: [%s]}\n"
		 "        manifests:\n"
		 "          - {name: m, content: \"%s\"}\n"
		 "%s",
		 crd_layer, pack, widget, keys, content, after);
}

/* a pack's readinessCheck.v1beta1 (as Piraeus packs carry) holds its
 * tier until each keyToCheck of the named object has its expectedValue:
 * a list index and a missing field are read, a wrong value is named, and
 * each change to the object is seen by the watch, not the 1m schedule */
Test(SUITE, a_packs_readiness_check_waits_for_its_keys)
{
	struct kf f;
	kf_init(&f, NULL);
	char packs[4096];
	gate_packs(packs, sizeof(packs), "          pack: {namespace: shop}\n", "w1",
		   "{keyToCheck: spec.size, expectedValue: \"3\"},\n"
		   "                 {keyToCheck: \"status.conditions[1].status\", expectedValue: \"True\"}",
		   "apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: gate}\\n", AFTER_LAYER);
	kf_ws_1m(&f, packs);
	const char *w1 = "/apis/example.com/v1/namespaces/default/widgets/w1";
	char get[200];
	snprintf(get, sizeof(get), "GET %s", w1);
	pid_t pid = am_bg(&f.t, "sync");
	cr_assert(wait_log(&f, get, 10000), "no readiness check came");
	/* Widget's CRD declares no status subresource: no /status to write */
	char st[200];
	snprintf(st, sizeof(st), "%s/status", w1);
	char *ans = kf_curl(&f, "PATCH", st, "application/merge-patch+json",
			    "{\"status\":{\"conditions\":[{},{\"status\":\"True\"}]}}");
	cr_assert(strstr(ans, "\"message\": \"widgets.example.com \\\"w1\\\" not found\""), "%s", ans);
	free(ans);
	nap_ms(1000);
	free(kf_curl(&f, "PATCH", w1, "application/merge-patch+json",
		     "{\"status\":{\"conditions\":[{\"type\":\"Synced\",\"status\":\"True\"},"
		     "{\"type\":\"Ready\",\"status\":\"False\"}]}}"));
	nap_ms(1500);
	char *log = kf_log(&f);
	cr_assert_eq(count_eq(log, get), 2, "the change was not checked at once:\n%s", log);
	cr_assert(!strstr(log, "configmaps/later"), "the next tier started early:\n%s", log);
	free(log);
	free(kf_curl(&f, "PATCH", w1, "application/merge-patch+json",
		     "{\"status\":{\"conditions\":[{\"type\":\"Synced\",\"status\":\"True\"},"
		     "{\"type\":\"Ready\",\"status\":\"True\"}]}}"));
	char *out = kf_bg_done(&f, pid, 0);
	const char *unset = "waiting p/gate (order 0): readinessCheck: Widget default/w1: "
			    "status.conditions[1].status is unset, want True";
	const char *wrong = "waiting p/gate (order 0): readinessCheck: Widget default/w1: "
			    "status.conditions[1].status is False, want True";
	cr_assert(strstr(out, unset) && strstr(out, wrong), "%s", out);
	log = kf_log(&f);
	cr_assert_eq(count_eq(log, get), 3, "%s", log);
	/* absent before the second change, so started after it */
	cr_assert(strstr(log, "configmaps/later"), "%s", log);
	free(log);
	free(out);
	kf_free(&f);
}

/* without a status subresource, a custom resource's status is content:
 * the status a manifest gives is applied with the rest (the applier owns
 * it), so a readiness check on it holds at once */
Test(SUITE, a_status_applied_without_the_subresource_is_kept)
{
	struct kf f;
	kf_init(&f, NULL);
	char packs[4096];
	gate_packs(packs, sizeof(packs), "", "w2", "{keyToCheck: status.phase, expectedValue: Done}",
		   "apiVersion: example.com/v1\\nkind: Widget\\nmetadata: {name: w2, namespace: "
		   "default}\\nspec: {size: 1}\\nstatus: {phase: Done}\\n",
		   "");
	kf_ws(&f, packs);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(!strstr(r.out, "waiting p/gate"), "%s", r.out);
	char *w = kf_get(&f, "/apis/example.com/v1/namespaces/default/widgets/w2");
	/* the servers space their JSON differently */
	size_t k = 0;
	for (size_t i = 0; w[i]; i++)
		if (w[i] != ' ' && w[i] != '\n')
			w[k++] = w[i];
	w[k] = 0;
	cr_assert(strstr(w, "\"status\":{\"phase\":\"Done\"}"), "%s", w);
	/* addonmake, the only writer, owns it */
	cr_assert(strstr(w, "\"f:status\":{") && strstr(w, "\"f:phase\":{}"), "%s", w);
	free(w);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, progress_deadline_exceeded_fails_the_layer)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws(&f, deploy_layer);
	pid_t pid = am_bg(&f.t, "sync");
	cr_assert(wait_log(&f, "GET " DEPLOY, 10000), "no readiness check came");
	kf_status(&f, DEPLOY,
		  "{\"observedGeneration\":1,\"conditions\":[{\"type\":\"Progressing\",\"status\":"
		  "\"False\",\"reason\":\"ProgressDeadlineExceeded\",\"message\":\"ReplicaSet web-1 "
		  "has timed out progressing.\"}]}");
	char *out = kf_bg_done(&f, pid, 1);
	cr_assert(strstr(out, "layer p/web failed: not ready: Deployment shop/web: "
			      "ProgressDeadlineExceeded: ReplicaSet web-1 has timed out progressing."),
		  "%s", out);
	cr_assert(strstr(out, "1 layer of later tiers not started"), "%s", out);
	char *log = kf_log(&f);
	cr_assert(!strstr(log, "configmaps/later"), "%s", log);
	free(log);
	free(out);
	kf_free(&f);
}

Test(SUITE, conflict_lists_fields_until_forced)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws(&f, app_layer);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	/* someone else takes data.enabled */
	char *o = kf_curl(&f, "PATCH", "/api/v1/namespaces/shop/configmaps/cfg?fieldManager=kubectl-edit&force=true",
			  "application/apply-patch+yaml",
			  "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cfg\"},"
			  "\"data\":{\"enabled\":\"false\"}}");
	cr_assert(strstr(o, "\"enabled\": \"false\""), "%s", o);
	free(o);
	struct res r2 = am(&f.t, "-B");
	assert_code(r2, 1);
	cr_assert(strstr(r2.out, "apply ConfigMap shop/cfg: conflict: fields owned by another field "
				 "manager: .data.enabled (conflict with \"kubectl-edit\")"),
		  "%s", r2.out);
	cr_assert(strstr(r2.out, "--force-conflicts"), "%s", r2.out);
	struct res r3 = am(&f.t, "-B --force-conflicts");
	assert_code(r3, 0);
	char *cfg = kf_get(&f, "/api/v1/namespaces/shop/configmaps/cfg");
	cr_assert(strstr(cfg, "\"enabled\": \"true\""), "%s", cfg);
	free(cfg);
	res_free(&r);
	res_free(&r2);
	res_free(&r3);
	kf_free(&f);
}

/* how the stand-in is reached, and so by which of addonmake's clients */
enum proto {
	BY_H1,   /* plain HTTP/1.1: addonmake's own client (src/h2/h1.c) */
	BY_H2,   /* TLS and HTTP/2: addonmake's own client */
	BY_CURL, /* TLS and HTTP/1.1 only (the stand-in's --http1): libcurl */
};

/* a fresh stand-in with a kubeconfig for it (token abc), reached as p
 * says (BY_H2 skipped where the stand-in cannot speak HTTP/2) */
static void
kf_init_proto(struct kf *f, enum proto p)
{
	if (p == BY_H1) {
		kf_init(f, NULL);
		return;
	}
	tws_init(&f->t);
	kf_start(f, p == BY_CURL ? "--http1" : NULL, 1);
	kf_kubeconfig(f, "{token: abc}", ", certificate-authority: api/ca.crt");
	if (p == BY_CURL)
		return;
	char *n = kf_ctl(f, "h2");
	int can = strncmp(n, "unavailable", 11) != 0;
	free(n);
	if (!can) {
		kf_free(f);
		cr_skip_test("the stand-in speaks no HTTP/2 here (python3-h2 is not installed)");
	}
}

/* by HTTP/2, that every request came over it; by libcurl, that none did
 * (over TLS, only libcurl speaks HTTP/1.1) */
static void
assert_proto(struct kf *f, enum proto p)
{
	if (p == BY_H1)
		return;
	char *n = kf_ctl(f, "h2");
	char *log = kf_log_all(f);
	int lines = count_lines(log, "");
	long want = p == BY_H2 ? lines : 0;
	cr_assert_eq(strtol(n, NULL, 10), want, "%s of %d requests over HTTP/2:\n%s", n, lines, log);
	free(n);
	free(log);
}

static void
survives_503_and_dropped_connections(enum proto h2)
{
	STAND_IN_ONLY("inject faults");
	struct kf f;
	kf_init_proto(&f, h2);
	kf_ws(&f, app_layer);
	free(kf_ctl(&f, "fault?path=/api/v1/namespaces/shop/configmaps&mode=503&n=2"));
	free(kf_ctl(&f, "fault?path=/api/v1/namespaces/shop/services&mode=drop&n=1"));
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *log = kf_log(&f);
	cr_assert_eq(count_lines(log, "PATCH /api/v1/namespaces/shop/configmaps/cfg"), 3, "%s", log);
	cr_assert_eq(count_lines(log, "PATCH /api/v1/namespaces/shop/services/web"), 2, "%s", log);
	free(log);
	assert_proto(&f, h2);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, survives_503_and_dropped_connections)
{
	survives_503_and_dropped_connections(BY_H1);
}

/* the same by the HTTP/2 client: a dropped connection is one of many
 * streams' */
Test(SUITE, survives_503_and_dropped_connections_over_http2)
{
	survives_503_and_dropped_connections(BY_H2);
}

/* the same by libcurl, which serves an https server without HTTP/2 */
Test(SUITE, survives_503_and_dropped_connections_by_libcurl)
{
	survives_503_and_dropped_connections(BY_CURL);
}

/* a server behind a path (a proxy's /k8s/clusters/NAME, here the
 * stand-in's /clusters/NAME) gets every request there, by each client */
static void
server_behind_a_path(enum proto p)
{
	STAND_IN_ONLY("serve a cluster at a path");
	struct kf f;
	kf_init_proto(&f, p);
	kf_ws_configmaps(&f, 2);
	char *kc = tws_get(&f.t, "kc");
	char at[64];
	snprintf(at, sizeof(at), "127.0.0.1:%d\"", f.port);
	char *q = strstr(kc, at);
	cr_assert_not_null(q, "%s", kc);
	tws_put(&f.t, "kc", "%.*s127.0.0.1:%d/clusters/x%s", (int)(q - kc), kc, f.port,
		q + strlen(at) - 1);
	free(kc);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *log = kf_log_all(&f);
	cr_assert(strstr(log, "PATCH /clusters/x/api/v1/namespaces/default/configmaps/c1?"), "%s", log);
	cr_assert_eq(count_lines(log, "/clusters/x/"), count_lines(log, ""), "%s", log);
	free(log);
	assert_proto(&f, p);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, a_server_behind_a_path_is_asked_there)
{
	server_behind_a_path(BY_H1);
}

Test(SUITE, a_server_behind_a_path_is_asked_there_over_http2)
{
	server_behind_a_path(BY_H2);
}

Test(SUITE, a_server_behind_a_path_is_asked_there_by_libcurl)
{
	server_behind_a_path(BY_CURL);
}

/* a sync loads the libraries of the client its server is spoken to by,
 * and only those: libcurl's thirty are mapped only where libcurl serves */
static void
loads_only_its_client(enum proto p)
{
	STAND_IN_ONLY("be reached over plain HTTP and over TLS without HTTP/2");
	struct kf f;
	kf_init_proto(&f, p);
	kf_ws_configmaps(&f, 2);
	struct res r = am_env(&f.t, "LD_DEBUG=files", "sync");
	assert_code(r, 0);
	int curl = strstr(r.err, "file=libcurl.so.4 [0];  dynamically loaded by") != NULL;
	int ng = strstr(r.err, "file=libnghttp2.so.14 [0];  dynamically loaded by") != NULL;
	cr_assert_eq(curl, p == BY_CURL, "libcurl %sloaded:\n%s", curl ? "" : "not ", r.err);
	if (p == BY_H2)
		cr_assert(ng, "nghttp2 not loaded:\n%s", r.err);
	if (p == BY_H1)
		cr_assert(!ng, "nghttp2 loaded for plain HTTP:\n%s", r.err);
	assert_proto(&f, p);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, a_sync_loads_only_its_client)
{
	loads_only_its_client(BY_H1);
}

/* the layers of a tier wait for their Deployments together, as fibers of
 * the thread that runs the cluster: a waiting layer holds no thread of
 * its own, and no thread wakes another for each answer. Counted with
 * strace: the threads a sync starts, and its futex calls. */
Test(SUITE, waiting_layers_hold_no_thread_of_their_own)
{
	STAND_IN_ONLY("make Deployments Available on a timer");
	if (system("strace -f -qq -o /dev/null true >/dev/null 2>&1") != 0)
		cr_skip_test("strace is not here, or may not trace here, to count threads");
	struct kf f;
	kf_init(&f, "--available-after 500");
	struct buf packs = {0};
	for (int i = 0; i < 12; i++)
		buf_printf(&packs,
			   "      - name: d%d\n"
			   "        type: manifest\n"
			   "        manifests: [{name: m, content: \"apiVersion: apps/v1\\nkind: "
			   "Deployment\\nmetadata: {name: web%d}\\nspec:\\n  replicas: 1\\n  "
			   "selector: {matchLabels: {app: web%d}}\\n  template:\\n    metadata: "
			   "{labels: {app: web%d}}\\n    spec: {containers: [{name: web, image: "
			   "nginx}]}\\n\"}]\n",
			   i, i, i, i);
	kf_ws(&f, packs.s);
	buf_free(&packs);
	/* LeakSanitizer cannot run under ptrace: the sanitizer build's leak
	 * check is left to the other tests */
	struct res r = am_sh(&f.t,
			     "ASAN_OPTIONS=\"${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0\" "
			     "strace -f -qq -e trace=clone,clone3,futex -o trace.txt ",
			     "sync");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, ": ready "), 12, "%s", r.out);
	char *tr = tws_get(&f.t, "trace.txt");
	int threads = count_lines(tr, "clone3(") + count_lines(tr, " clone(");
	int futex = count_lines(tr, "futex(");
	/* the signal thread, the one loading libraries, the lease's renewer */
	cr_assert_leq(threads, 3, "%d threads started for 12 layers:\n%s", threads, tr);
	cr_assert_lt(futex, 12, "%d futex calls for 12 layers:\n%s", futex, tr);
	free(tr);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, a_sync_loads_only_its_client_over_http2)
{
	loads_only_its_client(BY_H2);
}

Test(SUITE, a_sync_loads_only_its_client_by_libcurl)
{
	loads_only_its_client(BY_CURL);
}

/* where libcurl cannot be loaded (here a libcurl.so.4 without its
 * functions, found first), a server the own client serves is synced all
 * the same; one that needs libcurl fails, saying why and what to install */
Test(SUITE, a_machine_without_libcurl_syncs_what_the_own_client_serves)
{
	STAND_IN_ONLY("be reached over plain HTTP and over TLS without HTTP/2");
	for (enum proto p = BY_H1; p <= BY_CURL; p++) {
		if (p == BY_H2)
			continue;
		struct kf f;
		kf_init_proto(&f, p);
		kf_ws_configmaps(&f, 2);
		if (tws_sh(&f.t, "mkdir -p nocurl && cc -shared -fPIC -o nocurl/libcurl.so.4 -x c "
				 "/dev/null 2>/dev/null") != 0) {
			kf_free(&f);
			cr_skip_test("cc is not here to make a libcurl.so.4 that is not libcurl");
		}
		char env[1200];
		snprintf(env, sizeof(env), "LD_LIBRARY_PATH=%s/nocurl", f.t.dir);
		struct res r = am_env(&f.t, env, "sync");
		if (p == BY_H1) {
			assert_code(r, 0);
		} else {
			assert_code(r, 1);
			cr_assert(strstr(r.err, "does not speak HTTP/2; libcurl, which would serve it instead: "
					 "libcurl.so.4 has no curl_global_init: it is older than addonmake "
					 "needs (Debian package libcurl4)"), "%s", r.err);
		}
		res_free(&r);
		kf_free(&f);
	}
}

/* a proxy from the environment is honoured: the request goes by
 * libcurl, to the proxy (here one that cannot be reached), never around
 * it straight to the server by addonmake's own client */
Test(SUITE, a_proxy_from_the_environment_is_used)
{
	STAND_IN_ONLY("be reached over plain HTTP");
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_configmaps(&f, 1);
	struct res r = am_env(&f.t, "http_proxy=http://127.0.0.1:1", "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "127.0.0.1 port 1") && strstr(r.err, "(after 5 tries)"), "%s", r.err);
	char *log = kf_log_all(&f);
	cr_assert_eq(count_lines(log, ""), 0, "%s", log);
	free(log);
	res_free(&r);
	kf_free(&f);
}

/* an answer past 64 MiB is refused, whether its size is announced or
 * not, and not asked again: the layer fails with what happened */
static void
answer_past_64_mib(enum proto h2)
{
	STAND_IN_ONLY("inject faults");
	struct kf f;
	kf_init_proto(&f, h2);
	kf_ws(&f, app_layer);
	free(kf_ctl(&f, "fault?path=/api/v1/namespaces/shop&mode=huge&n=1"));
	struct res r = am(&f.t, "sync");
	assert_code(r, 1);
	char want[300];
	snprintf(want, sizeof(want), "[1/1] dev: failed p/app (order 0): GET %s://127.0.0.1:%d/api/v1/"
		 "namespaces/shop: the server's answer is larger than 64 MiB, the most addonmake reads\n",
		 f.scheme, f.port);
	cr_assert(strstr(r.out, want), "%s\n%s", r.out, r.err);
	res_free(&r);
	free(kf_ctl(&f, "fault?path=/api/v1/namespaces/shop&mode=chunked&n=1"));
	r = am(&f.t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "the server's answer is larger than 64 MiB"), "%s\n%s", r.out, r.err);
	char *log = kf_log(&f);
	cr_assert_eq(count_lines(log, "GET /api/v1/namespaces/shop"), 2, "%s", log);
	cr_assert_eq(count_lines(log, "PATCH "), 0, "%s", log);
	free(log);
	res_free(&r);
	/* the faults are spent: the next run applies the layer */
	r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	assert_proto(&f, h2);
	kf_free(&f);
}

Test(SUITE, an_answer_past_64_mib_fails_the_layer_at_once)
{
	answer_past_64_mib(BY_H1);
}

Test(SUITE, an_answer_past_64_mib_fails_the_layer_at_once_over_http2)
{
	answer_past_64_mib(BY_H2);
}

Test(SUITE, an_answer_past_64_mib_fails_the_layer_at_once_by_libcurl)
{
	answer_past_64_mib(BY_CURL);
}

/* a modern server (the stand-in says 1.32) offers aggregated discovery:
 * two requests tell every group-version; v1.20 does not, and each
 * group-version's legacy document is asked once */
Test(SUITE, discovery_is_aggregated_when_the_server_offers_it)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws(&f,
	      "      - name: x\n"
	      "        type: manifest\n"
	      "        manifests:\n"
	      "          - name: m\n"
	      "            content: |\n"
	      "              apiVersion: v1\n              kind: ServiceAccount\n              metadata: {name: sa}\n"
	      "              ---\n"
	      "              apiVersion: rbac.authorization.k8s.io/v1\n              kind: Role\n"
	      "              metadata: {name: r}\n              rules: []\n"
	      "              ---\n"
	      "              apiVersion: scheduling.k8s.io/v1\n              kind: PriorityClass\n"
	      "              metadata: {name: p}\n              value: 1000\n");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *log = kf_log(&f);
	if (REAL) {
		cr_assert(count_eq(log, "GET /api/v1") == 1 &&
			  count_eq(log, "GET /apis/rbac.authorization.k8s.io/v1") == 1 &&
			  count_eq(log, "GET /apis/scheduling.k8s.io/v1") == 1, "%s", log);
	} else {
		cr_assert(count_eq(log, "GET /api") == 1 && count_eq(log, "GET /apis") == 1, "%s", log);
		cr_assert(!count_eq(log, "GET /api/v1") && !count_eq(log, "GET /apis/scheduling.k8s.io/v1") &&
			  !count_eq(log, "GET /apis/rbac.authorization.k8s.io/v1"),
			  "a legacy discovery document was asked for:\n%s", log);
	}
	cr_assert(strstr(log, "PATCH /apis/scheduling.k8s.io/v1/priorityclasses/p?"), "%s", log);
	free(log);
	kf_free(&f);
}

/* the objects of one group of a layer go out together: a failure
 * among them fails the layer naming every object that failed, and the
 * others are applied and recorded (a later prune deletes them) */
Test(SUITE, a_failure_among_objects_applied_together_loses_none)
{
	struct kf f;
	kf_init(&f, NULL);
	const char *cms =
		"      - name: x\n"
		"        type: manifest\n"
		"        manifests:\n"
		"          - name: m\n"
		"            content: |\n"
		"              apiVersion: v1\n"
		"              kind: ConfigMap\n"
		"              metadata: {name: ok-1}\n"
		"              ---\n"
		"              apiVersion: v1\n"
		"              kind: ConfigMap\n"
		"              metadata: {name: Bad_One}\n"
		"              ---\n"
		"              apiVersion: v1\n"
		"              kind: ConfigMap\n"
		"              metadata: {name: ok-2}\n"
		"              ---\n"
		"              apiVersion: v1\n"
		"              kind: ConfigMap\n"
		"              metadata: {name: Bad_Two}\n";
	kf_ws(&f, cms);
	struct res r = am(&f.t, "sync");
	assert_code(r, 1);
	const char *one = strstr(r.out, "ConfigMap default/Bad_One");
	const char *two = strstr(r.out, "ConfigMap default/Bad_Two");
	cr_assert(one && two && one < two, "both failures, in order:\n%s\n%s", r.out, r.err);
	cr_assert(strstr(r.out, "is invalid: metadata.name"), "%s", r.out);
	char *a = kf_get(&f, "/api/v1/namespaces/default/configmaps/ok-1");
	char *b = kf_get(&f, "/api/v1/namespaces/default/configmaps/ok-2");
	cr_assert(strstr(a, "\"ok-1\"") && strstr(b, "\"ok-2\""), "not applied:\n%s\n%s", a, b);
	free(a);
	free(b);
	res_free(&r);
	/* the layer leaves the profile: what it applied was recorded */
	kf_ws(&f, "      - name: y\n"
		  "        type: manifest\n"
		  "        manifests:\n"
		  "          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: other}\\n\"}\n");
	struct res p = am(&f.t, "sync --prune");
	assert_code(p, 0);
	char *log = kf_log(&f);
	cr_assert(strstr(log, "DELETE /api/v1/namespaces/default/configmaps/ok-1"), "%s", log);
	cr_assert(strstr(log, "DELETE /api/v1/namespaces/default/configmaps/ok-2"), "%s", log);
	free(log);
	res_free(&p);
	kf_free(&f);
}

/* the objects of one group of a layer are sent together, on more than
 * one connection, not one after another */
Test(SUITE, objects_of_one_group_are_applied_together)
{
	STAND_IN_ONLY("count connections and delay answers");
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_configmaps(&f, 6);
	/* each answer waits, so requests sent one after another would all
	 * use one kept-alive connection */
	free(kf_ctl(&f, "fault?path=/api/v1/namespaces/default/configmaps&mode=delay&n=6&ms=300"));
	char *before = kf_ctl(&f, "conns");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *after = kf_ctl(&f, "conns");
	char *log = kf_log(&f);
	cr_assert_eq(count_lines(log, "PATCH /api/v1/namespaces/default/configmaps/c"), 6, "%s", log);
	long used = strtol(after, NULL, 10) - strtol(before, NULL, 10) - 1;
	cr_assert(used >= 2 && used <= 8, "%ld connections for 6 objects sent together", used);
	free(before);
	free(after);
	free(log);
	res_free(&r);
	kf_free(&f);
}

static void
crd_pack(struct buf *b, const char *layer, const char *plural, const char *kind)
{
	buf_printf(b,
		   "      - name: %s\n"
		   "        type: manifest\n"
		   "        manifests:\n"
		   "          - name: m\n"
		   "            content: |\n"
		   "              apiVersion: apiextensions.k8s.io/v1\n"
		   "              kind: CustomResourceDefinition\n"
		   "              metadata: {name: %s.example.com}\n"
		   "              spec:\n"
		   "                group: example.com\n"
		   "                scope: Namespaced\n"
		   "                names: {plural: %s, kind: %s}\n"
		   "                versions:\n"
		   "                - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: "
		   "{type: object}}}\n",
		   layer, plural, plural, kind);
}

/* a layer waiting for its CRDs to be Established steps out of its apply
 * slot (there are 2): two such layers do not keep a third of their tier
 * from applying */
Test(SUITE, layers_waiting_for_crds_let_others_apply)
{
	STAND_IN_ONLY("hold CRDs back from Established");
	struct kf f;
	kf_init(&f, "--manual-crds");
	struct buf packs = {0};
	crd_pack(&packs, "a-crd", "apples", "Apple");
	crd_pack(&packs, "b-crd", "bananas", "Banana");
	buf_adds(&packs, "      - name: z-cm\n"
			 "        type: manifest\n"
			 "        manifests:\n"
			 "          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: free}\\n\"}\n");
	kf_ws(&f, packs.s);
	buf_free(&packs);
	pid_t pid = am_bg(&f.t, "sync");
	int applied = wait_log(&f, "PATCH /api/v1/namespaces/default/configmaps/free", 10000);
	const char *crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/";
	const char *est = "{\"conditions\":[{\"type\":\"Established\",\"status\":\"True\"}]}";
	char path[300];
	snprintf(path, sizeof(path), "%sapples.example.com", crds);
	kf_status(&f, path, est);
	snprintf(path, sizeof(path), "%sbananas.example.com", crds);
	kf_status(&f, path, est);
	char *out = kf_bg_done(&f, pid, 0);
	cr_assert(applied, "z-cm waited for the CRD layers' apply slots:\n%s", out);
	free(out);
	kf_free(&f);
}

/* the connections a sync of f's workspace opens to the real server,
 * counted by a forwarder between them (tests/servers/tcpcount.py): the
 * kubeconfig names the forwarder's port */
static long
sync_counting_connections(struct kf *f)
{
	char a[1400];
	int port = 0;
	snprintf(a, sizeof(a), "%d '%s/api/conns'", f->port, f->t.dir);
	pid_t fw = srv_start_script("tcpcount.py", a, &port);
	cr_assert(fw, "the forwarder did not start");
	int server = f->port;
	f->port = port;
	/* the stand-in over TLS: its CA (the real server's is always named) */
	kf_kubeconfig(f, "{token: abc}",
		      !REAL && strcmp(f->scheme, "https") == 0 ? ", certificate-authority: api/ca.crt"
							       : NULL);
	f->port = server;
	struct res r = am(&f->t, "sync");
	assert_code(r, 0);
	res_free(&r);
	srv_stop(fw);
	char *n = tws_get(&f->t, "api/conns");
	long conns = n ? strtol(n, NULL, 10) : 0;
	free(n);
	return conns;
}

/* the connections of a sync of 3 layers of 20 ConfigMaps each in one
 * tier (their 60 PATCHes sent together, each in the server's log), on a
 * fresh real server started with flags, or the stand-in over TLS (HTTP/2;
 * it takes no flags) */
static long
sixty_objects_connections(const char *flags)
{
	struct kf f;
	if (!REAL && *flags)
		cr_skip_test("the stand-in cannot limit the streams of a connection");
	if (REAL) {
		tws_init(&f.t);
		kf_start_real(&f, flags);
	} else {
		kf_init_proto(&f, BY_H2);
	}
	struct buf packs = {0};
	for (int l = 0; l < 3; l++) {
		buf_printf(&packs, "      - name: l%d\n        type: manifest\n        manifests:\n"
				   "          - {name: m, content: \"", l);
		for (int i = 0; i < 20; i++)
			buf_printf(&packs, "%sapiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c%d-%d}\\n",
				   i ? "---\\n" : "", l, i);
		buf_adds(&packs, "\"}\n");
	}
	kf_ws(&f, packs.s);
	buf_free(&packs);
	long conns = sync_counting_connections(&f);
	char *log = kf_log(&f);
	cr_assert_eq(count_lines(log, "PATCH /api/v1/namespaces/default/configmaps/c"), 60, "%s", log);
	free(log);
	kf_free(&f);
	return conns;
}

/* an HTTP/2 server gets every request of a run as a stream of one
 * connection: one TLS handshake a run, as kubectl */
Test(SUITE, an_http2_server_gets_one_connection)
{
	long conns = sixty_objects_connections("");
	cr_assert_eq(conns, 1, "%ld connections for a sync of 60 objects sent together", conns);
}

/* a server that allows few streams on a connection gets more connections
 * (and every request), not requests waiting for the one */
Test(SUITE, a_server_allowing_few_streams_gets_more_connections)
{
	long conns = sixty_objects_connections("--http2-max-streams-per-connection=2");
	cr_assert(conns >= 2, "%ld connection(s) for 60 objects at 2 streams a connection", conns);
}

/* layers of a tier run in parallel, as many as there are; their requests
 * share a few kept-alive connections, never one connection each */
Test(SUITE, parallel_layers_share_a_few_connections)
{
	STAND_IN_ONLY("count connections");
	struct kf f;
	kf_init(&f, NULL);
	struct buf packs = {0};
	for (int i = 0; i < 40; i++)
		buf_printf(&packs,
			   "      - name: l%d\n"
			   "        type: manifest\n"
			   "        manifests:\n"
			   "          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c%d}\\n\"}\n",
			   i, i);
	kf_ws(&f, packs.s);
	buf_free(&packs);
	char *before = kf_ctl(&f, "conns");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *after = kf_ctl(&f, "conns");
	char *log = kf_log(&f);
	cr_assert_eq(count_lines(log, "PATCH /api/v1/namespaces/default/configmaps/c"), 40, "%s", log);
	/* the second count's own connection aside */
	long used = strtol(after, NULL, 10) - strtol(before, NULL, 10) - 1;
	cr_assert(used >= 1 && used <= 8, "addonmake opened %ld connections for 40 layers "
		  "(KUBE_MAX_INFLIGHT is 8)", used);
	/* the namespace they share is looked up by the first few (as many as
	 * apply at once), not by each */
	int ns_gets = count_lines(log, "GET /api/v1/namespaces/default");
	cr_assert(ns_gets >= 1 && ns_gets <= 8, "%d GETs of the namespace:\n%s", ns_gets, log);
	free(before);
	free(after);
	free(log);
	res_free(&r);
	kf_free(&f);
}

/* the real server says Established a moment before its discovery serves
 * the kind (more than a moment on a busy machine): the layer's custom
 * resources wait for the kind, not only for the condition */
Test(SUITE, custom_resources_wait_until_their_kind_is_served)
{
	STAND_IN_ONLY("delay discovery behind Established on cue");
	struct kf f;
	kf_init(&f, NULL);
	free(kf_ctl(&f, "discovery-lag?ms=1500"));
	kf_ws(&f, crd_layer);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *log = kf_log(&f);
	cr_assert(strstr(log, "PATCH /apis/example.com/v1/namespaces/default/widgets/w1"), "%s", log);
	/* discovery was asked again while the kind was not served */
	int asked = count_lines(log, "GET /apis/example.com/v1");
	cr_assert(asked >= 3, "example.com/v1 asked %d times:\n%s", asked, log);
	free(log);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, prune_deletes_exactly_the_recorded_objects)
{
	struct kf f;
	kf_init(&f, NULL);
	char packs[4096];
	snprintf(packs, sizeof(packs), "%s%s", crd_layer, app_layer);
	kf_ws(&f, packs);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	/* an object nobody recorded, in the same namespace, with the same labels */
	free(kf_curl(&f, "PATCH", "/api/v1/namespaces/shop/configmaps/foreign?fieldManager=other",
		     "application/apply-patch+yaml",
		     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"foreign\","
		     "\"labels\":{\"app.kubernetes.io/managed-by\":\"addonmake\"}}}"));
	/* the app layer leaves the profile; the crds layer loses its Widget */
	tws_put(&f.t, "p.yaml",
		"metadata: {name: p}\n"
		"spec:\n"
		"  template:\n"
		"    packs:\n"
		"      - name: crds\n"
		"        type: manifest\n"
		"        values: |\n"
		"          pack: {spectrocloud.com/install-priority: \"-10\", namespace: default}\n"
		"        manifests:\n"
		"          - name: m\n"
		"            content: |\n"
		"              apiVersion: apiextensions.k8s.io/v1\n"
		"              kind: CustomResourceDefinition\n"
		"              metadata: {name: widgets.example.com}\n"
		"              spec:\n"
		"                group: example.com\n"
		"                scope: Namespaced\n"
		"                names: {plural: widgets, singular: widget, kind: Widget}\n"
		"                versions:\n"
	"                - name: v1\n"
	"                  served: true\n"
	"                  storage: true\n"
	"                  schema: {openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}}\n");
	struct res r2 = am(&f.t, "--prune");
	assert_code(r2, 0);
	char *log = kf_log(&f);
	cr_assert(strstr(log, "DELETE /apis/example.com/v1/namespaces/default/widgets/w1"), "%s", log);
	cr_assert(strstr(log, "DELETE /api/v1/namespaces/shop/configmaps/cfg"), "%s", log);
	cr_assert(strstr(log, "DELETE /api/v1/namespaces/shop/services/web"), "%s", log);
	cr_assert(strstr(log, "DELETE /apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles/reader"),
		  "%s", log);
	/* the namespace it created goes (last); `default`, which it did not
	 * create, stays, and so does the object it did not record (until its
	 * namespace goes, as Palette's namespace deletion does) */
	cr_assert(strstr(log, "DELETE /api/v1/namespaces/shop\n"), "%s", log);
	cr_assert(!strstr(log, "DELETE /api/v1/namespaces/default"), "%s", log);
	cr_assert(!strstr(log, "DELETE /api/v1/namespaces/shop/configmaps/foreign"), "%s", log);
	cr_assert_eq(count_lines(log, "DELETE "), 5, "%s", log);
	char *w = kf_get(&f, "/apis/example.com/v1/namespaces/default/widgets/w1");
	cr_assert_str_eq(w, "", "%s", w);
	free(w);
	free(log);
	res_free(&r);
	res_free(&r2);
	kf_free(&f);
}

/* a system namespace a layer found missing (a server just started) is
 * created, but never deleted: the API server refuses to delete most of
 * them, and a prune that asked would fail every run after */
Test(SUITE, prune_keeps_a_system_namespace_it_had_to_create)
{
	STAND_IN_ONLY("lose kube-node-lease for long (its controller makes it again)");
	struct kf f;
	kf_init(&f, NULL);
	free(kf_curl(&f, "DELETE", "/api/v1/namespaces/kube-node-lease", "application/json", "{}"));
	char *ns = NULL;
	for (int i = 0; i < 100; i++) {
		free(ns);
		ns = kf_get(&f, "/api/v1/namespaces/kube-node-lease");
		if (!*ns)
			break;
		struct timespec ts = {0, 50 * 1000000L};
		nanosleep(&ts, NULL);
	}
	cr_assert_str_eq(ns, "", "kube-node-lease did not go: %s", ns);
	free(ns);
	kf_ws(&f, "      - name: x\n"
		  "        type: manifest\n"
		  "        values: |\n"
		  "          pack: {namespace: kube-node-lease}\n"
		  "        manifests:\n"
		  "          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\n\"}\n");
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	ns = kf_get(&f, "/api/v1/namespaces/kube-node-lease");
	cr_assert(strstr(ns, "\"kube-node-lease\""), "the layer did not create it: %s", ns);
	free(ns);
	res_free(&r);
	kf_ws(&f, "      - name: y\n"
		  "        type: manifest\n"
		  "        manifests:\n"
		  "          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: b}\\n\"}\n");
	r = am(&f.t, "--prune");
	assert_code(r, 0);
	char *log = kf_log(&f);
	cr_assert(strstr(log, "DELETE /api/v1/namespaces/kube-node-lease/configmaps/a"), "%s", log);
	cr_assert_eq(count_lines(log, "DELETE /api/v1/namespaces/kube-node-lease"), 2,
		     "only the test deleted it:\n%s", log);
	free(log);
	ns = kf_get(&f, "/api/v1/namespaces/kube-node-lease");
	cr_assert(strstr(ns, "\"kube-node-lease\""), "%s", ns);
	free(ns);
	/* and the stand-in refuses, as the real server does */
	char *out = kf_curl(&f, "DELETE", "/api/v1/namespaces/kube-public", "application/json", "{}");
	cr_assert(strstr(out, "this namespace may not be deleted"), "%s", out);
	free(out);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, unknown_kind_and_bad_token_are_clear)
{
	struct kf f;
	tws_init(&f.t);
	kf_start(&f, "--token abc", 0);
	kf_kubeconfig(&f, "{token: wrong}", NULL);
	kf_ws(&f, "      - name: x\n"
		  "        type: manifest\n"
		  "        manifests:\n"
		  "          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\n\"}\n");
	struct res r = am(&f.t, "sync");
	assert_code(r, 1);
	/* the first request reads the cluster's records: its error is the run's */
	cr_assert(strstr(r.err, "error: cluster dev: /api/v1/namespaces/addonmake-system/configmaps/"
				"addonmake-18b3acae79a7f71a: unauthorized (HTTP 401): the server did not "
				"accept the token of user me (context test of "),
		  "%s\n%s", r.out, r.err);
	cr_assert(!strstr(r.out, "wrong") && !strstr(r.err, "wrong"), "the token was printed: %s", r.out);
	res_free(&r);
	kf_ws(&f, "      - name: x\n"
		  "        type: manifest\n"
		  "        manifests:\n"
		  "          - {name: m, content: \"apiVersion: example.com/v1\\nkind: Gadget\\nmetadata: {name: a}\\n\"}\n");
	kf_kubeconfig(&f, "{token: abc}", NULL);
	struct res r2 = am(&f.t, "sync");
	assert_code(r2, 1);
	cr_assert(strstr(r2.out, "p.yaml:8:33: the server has no kind Gadget in example.com/v1"), "%s",
		  r2.out);
	res_free(&r2);
	kf_free(&f);
}

static char *
b64_file(struct kf *f, const char *name)
{
	char cmd[800];
	snprintf(cmd, sizeof(cmd), "base64 -w0 '%s/%s'", f->t.dir, name);
	return sh_out(cmd);
}

static const char *one_cm =
	"      - name: x\n"
	"        type: manifest\n"
	"        values: |\n"
	"          pack: {namespace: tls}\n"
	"        manifests:\n"
	"          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\n\"}\n";

/* plugin.sh in the workspace: an exec credential plugin that runs the
 * shell line first, then hands out the token abc */
static void
kf_exec_plugin(struct kf *f, const char *first)
{
	tws_put(&f->t, "plugin.sh",
		"#!/bin/sh\n%s\n"
		"echo '{\"apiVersion\":\"client.authentication.k8s.io/v1\",\"kind\":\"ExecCredential\","
		"\"status\":{\"token\":\"abc\"}}'\n", first);
	cr_assert_eq(tws_sh(&f->t, "chmod +x plugin.sh"), 0);
}

Test(SUITE, tls_with_token_client_cert_and_exec_plugin)
{
	struct kf f;
	tws_init(&f.t);
	kf_start(&f, "", 1);
	char ca[4000];
	char *cad = b64_file(&f, "api/ca.crt");
	snprintf(ca, sizeof(ca), ", certificate-authority-data: %s", cad);
	/* token over TLS, the CA from memory */
	kf_kubeconfig(&f, "{token: abc}", ca);
	kf_ws(&f, one_cm);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	/* a wrong token is refused: the server does check */
	kf_kubeconfig(&f, "{token: nope}", ca);
	r = am(&f.t, "-B");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "HTTP 401"), "%s", r.err);
	res_free(&r);
	/* a client certificate, from files relative to the kubeconfig */
	kf_kubeconfig(&f, "{client-certificate: api/me.crt, client-key: api/me.key}", ca);
	r = am(&f.t, "-B");
	assert_code(r, 0);
	res_free(&r);
	/* an exec plugin: it gets KUBERNETES_EXEC_INFO, its token is used */
	kf_exec_plugin(&f, "printf '%s' \"$KUBERNETES_EXEC_INFO\" > exec-info");
	kf_kubeconfig(&f,
		      "{exec: {apiVersion: client.authentication.k8s.io/v1, command: ./plugin.sh, "
		      "provideClusterInfo: true, interactiveMode: Never}}",
		      ca);
	r = am(&f.t, "-B");
	assert_code(r, 0);
	char *info = tws_get(&f.t, "exec-info");
	cr_assert(info && strstr(info, "\"kind\":\"ExecCredential\"") &&
		  strstr(info, "\"interactive\":false") && strstr(info, "\"server\":\"https://127.0.0.1:"),
		  "%s", info ? info : "(no exec-info)");
	free(info);
	res_free(&r);
	free(cad);
	kf_free(&f);
}

/* a credential that expires while objects are applied together is
 * fetched again once, not once for each of them */
Test(SUITE, an_expired_exec_credential_is_fetched_again_once_per_batch)
{
	STAND_IN_ONLY("answer 401 on cue");
	struct kf f;
	kf_init(&f, NULL);
	kf_exec_plugin(&f, "echo run >> \"$(dirname \"$0\")/runs\"");
	kf_kubeconfig(&f, "{exec: {apiVersion: client.authentication.k8s.io/v1, "
			  "command: ./plugin.sh, interactiveMode: Never}}", NULL);
	kf_ws_configmaps(&f, 4);
	/* the four first tries, sent together, meet an expired token */
	free(kf_ctl(&f, "fault?path=/api/v1/namespaces/default/configmaps&mode=401&n=4"));
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *log = kf_log(&f);
	cr_assert_eq(count_lines(log, "PATCH /api/v1/namespaces/default/configmaps/c"), 8, "%s", log);
	free(log);
	char *runs = tws_get(&f.t, "runs");
	cr_assert(runs && strcmp(runs, "run\nrun\n") == 0, "the plugin ran %d times, not twice",
		  runs ? count_lines(runs, "run") : 0);
	free(runs);
	res_free(&r);
	kf_free(&f);
}

Test(SUITE, in_cluster_service_account)
{
	struct kf f;
	tws_init(&f.t);
	kf_start(&f, "--token sa-token", 1);
	tws_put(&f.t, "sa/token", "sa-token\n");
	tws_put(&f.t, "sa/namespace", "from-sa\n");
	char *ca = tws_get(&f.t, "api/ca.crt");
	tws_put(&f.t, "sa/ca.crt", "%s", ca);
	free(ca);
	tws_put(&f.t, "addonmake.yaml",
		"clusters:\n"
		"  - name: dev\n"
		"    target: {kube: {}}\n"
		"    profiles: [p.yaml]\n");
	tws_put(&f.t, "p.yaml",
		"metadata: {name: p}\n"
		"spec:\n"
		"  template:\n"
		"    packs:\n"
		"      - name: x\n"
		"        type: manifest\n"
		"        manifests:\n"
		"          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: a}\\n\"}\n");
	char env[1400];
	snprintf(env, sizeof(env),
		 "-u KUBECONFIG HOME='%s/nohome' KUBERNETES_SERVICE_HOST=127.0.0.1 "
		 "KUBERNETES_SERVICE_PORT=%d ADDONMAKE_SERVICEACCOUNT_DIR='%s/sa'",
		 f.t.dir, f.port, f.t.dir);
	struct res r = am_env(&f.t, env, "sync");
	assert_code(r, 0);
	char *log = kf_log(&f);
	/* with the service account's token and CA */
	cr_assert(strstr(log, "PATCH /api/v1/namespaces/default/configmaps/a?"), "%s\n%s%s", log, r.out, r.err);
	free(log);
	res_free(&r);
	kf_free(&f);
}

/* a stand-in helm for the kube target: records each call's arguments in
 * helm-args (temporary paths as TMP and VALUES), keeps the values file of
 * upgrade in helm-values; upgrade applies the release's objects to the
 * server as helm would (or fails while helm-fail exists), uninstall deletes those without the keep policy,
 * template and get manifest print them */
static void
kube_fake_helm(struct kf *f)
{
	tws_put(&f->t, "fakehelm",
		"#!/bin/sh\n"
		"d=$(dirname \"$0\")\n"
		"echo \"$@\" | sed 's#/[^ ]*/addonmake-values-[^ ]*#VALUES#; s#/[^ ]*/addonmake-chart-[^/]*#TMP#g' >> \"$d/helm-args\"\n"
		"api='%s://127.0.0.1:%d'\n"
		"dep='{\"apiVersion\":\"apps/v1\",\"kind\":\"Deployment\",\"metadata\":{\"name\":\"web\"},"
		"\"spec\":{\"replicas\":1,\"selector\":{\"matchLabels\":{\"app\":\"web\"}},\"template\":"
		"{\"metadata\":{\"labels\":{\"app\":\"web\"}},\"spec\":{\"containers\":[{\"name\":\"c\",\"image\":\"nginx\"}]}}}}'\n"
		"cm='{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"kept\","
		"\"annotations\":{\"helm.sh/resource-policy\":\"keep\"}}}'\n"
		"call() { curl -skf -H 'Authorization: Bearer abc' -H 'Content-Type: application/apply-patch+yaml' \"$@\" >/dev/null; }\n"
		"case $1 in\n"
		"template|get) printf '%%s\\n---\\n%%s\\n' \"$dep\" \"$cm\" ;;\n"
		"upgrade) if [ -e \"$d/helm-fail\" ]; then echo 'Error: UPGRADE FAILED: boom' >&2; exit 1; fi\n"
		"  cp \"$6\" \"$d/helm-values\" &&\n"
		"  call -X PATCH --data-binary \"$dep\" \"$api/apis/apps/v1/namespaces/$8/deployments/web?fieldManager=helm\" &&\n"
		"  call -X PATCH --data-binary \"$cm\" \"$api/api/v1/namespaces/$8/configmaps/kept?fieldManager=helm\" ;;\n"
		"uninstall) call -X DELETE \"$api/apis/apps/v1/namespaces/$4/deployments/web\" ;;\n"
		"esac\n",
		f->scheme, f->port);
	cr_assert_eq(tws_sh(&f->t, "chmod +x fakehelm"), 0);
	char p[600];
	snprintf(p, sizeof(p), "%s/fakehelm", f->t.dir);
	setenv("ADDONMAKE_HELM", p, 1);
}

#define HELM_DEPLOY "/apis/apps/v1/namespaces/default/deployments/web"

Test(SUITE, helm_layer_installs_with_helm_and_waits_for_the_release)
{
	struct kf f;
	kf_init(&f, NULL);
	const char *vers[] = {"1.0.0"};
	fx_chart_repo(&f.t, vers, 1, NULL);
	kube_fake_helm(&f);
	tws_put(&f.t, "addonmake.yaml",
		"defaults:\n"
		"  readiness: {interval: 1s, timeout: 30s}\n"
		"registries: [{name: charts, kind: helm, url: file://repo}]\n"
		"clusters:\n"
		"  - name: dev\n"
		"    target: {kube: {kubeconfig: kc, context: test}}\n"
		"    profiles: [p.yaml]\n");
	const char *later =
		"      - name: after\n"
		"        type: manifest\n"
		"        values: |\n"
		"          pack: {namespace: default, spectrocloud.com/install-priority: \"10\"}\n"
		"        manifests:\n"
		"          - {name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: later}\\n\"}\n";
	tws_put(&f.t, "p.yaml",
		"metadata: {name: p}\n"
		"spec:\n"
		"  template:\n"
		"    packs:\n"
		"      - name: mychart\n"
		"        type: helm\n"
		"        version: 1.0.0\n"
		"        registry: {metadata: {name: charts}}\n"
		"        values: |\n"
		"          pack:\n"
		"            namespace: default\n"
		"            releaseNameOverride: {mychart: web}\n"
		"          charts:\n"
		"            mychart: {replicas: 2}\n"
		"%s", later);
	pid_t pid = am_bg(&f.t, "sync");
	if (!wait_log(&f, "GET " HELM_DEPLOY, 10000)) {
		char *o = tws_get(&f.t, "bg.out"), *e = tws_get(&f.t, "bg.err");
		cr_assert_fail("no readiness check came:\n%s%s", o ? o : "", e ? e : "");
	}
	char *log = kf_log(&f);
	cr_assert(!strstr(log, "configmaps/later"), "the next tier started early:\n%s", log);
	/* helm applied the release, not addonmake */
	cr_assert(strstr(log, "PATCH " HELM_DEPLOY "?fieldManager=helm") &&
		  !strstr(log, "PATCH " HELM_DEPLOY "?fieldManager=addonmake"),
		  "%s", log);
	cr_assert_eq(count_lines(log, "PATCH " HELM_DEPLOY "?"), 1, "%s", log);
	free(log);
	kf_status(&f, HELM_DEPLOY, DEPLOY_READY);
	char *out = kf_bg_done(&f, pid, 0);
	cr_assert(strstr(out, "waiting p/mychart (order 0): Deployment default/web: "), "%s", out);
	free(out);
	char *args = tws_get(&f.t, "helm-args");
	/* the verified archive from the download cache, paths relative to the
	 * workspace */
	const char *want = "template web TMP/chart --namespace default --values TMP/values.yaml --include-crds\n"
			   "upgrade --install web .addonmake/cache/sha256/";
	cr_assert(strncmp(args, want, strlen(want)) == 0, "%s\nwant\n%s", args, want);
	cr_assert(strstr(args, " --values VALUES --namespace default --kubeconfig ") &&
		  strstr(args, " --kubeconfig kc --kube-context test\nget manifest web --namespace default "
				     "--kubeconfig kc --kube-context test\n"),
		  "%s", args);
	char *vals = tws_get(&f.t, "helm-values");
	cr_assert_str_eq(vals, "replicas: 2\n");
	free(vals);
	/* values may hold secrets: the file helm read was private (cp keeps
	 * the mode of its source) */
	char vpath[600];
	snprintf(vpath, sizeof(vpath), "%s/helm-values", f.t.dir);
	struct stat vst;
	cr_assert(stat(vpath, &vst) == 0 && (vst.st_mode & 0777) == 0600, "mode %o", vst.st_mode & 0777);
	/* nothing changed: no helm, no request */
	log = kf_log(&f);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	char *args2 = tws_get(&f.t, "helm-args"), *log2 = kf_log(&f);
	cr_assert_str_eq(args2, args);
	cr_assert_str_eq(log2, log);
	free(args2);
	free(log2);
	free(log);
	res_free(&r);
	/* the layer leaves: helm uninstall; what helm keeps stays, and
	 * addonmake deletes nothing of the release itself */
	tws_put(&f.t, "p.yaml", "metadata: {name: p}\nspec:\n  template:\n    packs:\n%s", later);
	r = am(&f.t, "--prune");
	assert_code(r, 0);
	args2 = tws_get(&f.t, "helm-args");
	cr_assert(strstr(args2 + strlen(args), "uninstall web --namespace default --kubeconfig "), "%s",
		  args2);
	char *dep = kf_get(&f, HELM_DEPLOY);
	char *kept = kf_get(&f, "/api/v1/namespaces/default/configmaps/kept");
	cr_assert_str_eq(dep, "");
	cr_assert(strstr(kept, "\"kept\""), "%s", kept);
	log = kf_log(&f);
	cr_assert(!strstr(log, "DELETE /api/v1/namespaces/default/configmaps/kept"), "%s", log);
	free(log);
	free(dep);
	free(kept);
	free(args2);
	free(args);
	res_free(&r);
	/* a failing helm fails the layer with what helm said */
	tws_put(&f.t, "helm-fail", "yes\n");
	tws_put(&f.t, "p.yaml",
		"metadata: {name: p}\nspec:\n  template:\n    packs:\n"
		"      - {name: mychart, type: helm, version: 1.0.0, registry: {metadata: {name: charts}}}\n");
	r = am(&f.t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "failed p/mychart (order 0): helm upgrade failed (exit 1): Error: UPGRADE "
				"FAILED: boom"),
		  "%s", r.out);
	res_free(&r);
	unsetenv("ADDONMAKE_HELM");
	kf_free(&f);
}

/* kubectl, or NULL: $ADDONMAKE_KUBECTL, else kubectl on PATH */
static const char *
kubectl(void)
{
	const char *k = getenv("ADDONMAKE_KUBECTL");
	if (k && *k)
		return k;
	return system("command -v kubectl >/dev/null 2>&1") == 0 ? "kubectl" : NULL;
}

/* the stored objects without what differs between any two clients or
 * servers: ids, times, owners, allocated IPs, and (unless ours) addonmake's
 * own labels and annotations; never addonmake's records (its state
 * namespace), which kubectl does not keep. The stand-in dumps all it has; the real
 * server is asked for the objects of app_layer. */
static char *
normal_dump(struct kf *f, int ours)
{
	char src[1600], cmd[3200];
	if (REAL)
		snprintf(src, sizeof(src),
			 "for p in /api/v1/namespaces/shop /apis/rbac.authorization.k8s.io/v1/namespaces/shop/roles/reader "
			 "/api/v1/namespaces/shop/configmaps/cfg /api/v1/namespaces/shop/services/web; do "
			 "curl -skf -H 'Authorization: Bearer abc' \"https://127.0.0.1:%d$p\"; done",
			 f->port);
	else
		snprintf(src, sizeof(src), "curl -s 'http://127.0.0.1:%d/__ctl/dump'", f->port);
	snprintf(cmd, sizeof(cmd),
		 "%s | python3 -c '\n"
		 "import json, sys\n"
		 "t = sys.stdin.read(); i = 0; d = json.JSONDecoder()\n"
		 "while True:\n"
		 "    while i < len(t) and t[i].isspace(): i += 1\n"
		 "    if i == len(t): break\n"
		 "    o, i = d.raw_decode(t, i); m = o[\"metadata\"]\n"
		 "    if \"addonmake-system\" in (m.get(\"namespace\"), m.get(\"name\")): continue\n"
		 "    for k in (\"uid\", \"creationTimestamp\", \"resourceVersion\", \"managedFields\", \"generation\", \"selfLink\"):\n"
		 "        m.pop(k, None)\n"
		 "    for k in (\"clusterIP\", \"clusterIPs\"):\n"
		 "        o.get(\"spec\", {}).pop(k, None)\n"
		 "    h = m.get(\"annotations\", {}).get(\"addonmake.io/hash\")\n"
		 "    if h is not None:\n"
		 "        assert len(h) == 32 and all(c in \"0123456789abcdef\" for c in h), h\n"
		 "        m[\"annotations\"][\"addonmake.io/hash\"] = \"H\"\n"
		 "    for k in (\"labels\", \"annotations\") if not %d else ():\n"
		 "        d2 = {a: b for a, b in m.get(k, {}).items() if \"addonmake\" not in a and \"addonmake\" != b}\n"
		 "        m.pop(k, None)\n"
		 "        if d2: m[k] = d2\n"
		 "    print(json.dumps(o, sort_keys=True))'",
		 src, ours);
	return sh_out(cmd);
}

Test(SUITE, kubectl_and_addonmake_store_the_same_objects)
{
	const char *kc = kubectl();
	if (!kc)
		cr_skip_test("kubectl is not installed");
	struct kf f, g;
	kf_synced(&f, app_layer);
	/* the same objects through kubectl, to a second server */
	kf_init(&g, NULL);
	tws_put(&g.t, "m.yaml",
		"apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n---\n"
		"apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: reader, namespace: shop}\nrules: []\n---\n"
		"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg, namespace: shop}\n"
		"data: {enabled: \"true\", count: \"1\"}\n---\n"
		"apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\n"
		"spec: {ports: [{port: 80, protocol: TCP}], publishNotReadyAddresses: yes}\n");
	char cmd[2400];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && KUBECACHEDIR='%s/cache' %s --kubeconfig kc apply --server-side "
		 "--validate=false -f m.yaml 2>&1",
		 g.t.dir, g.t.dir, kc);
	char *out = sh_out(cmd);
	cr_assert(strstr(out, "configmap/cfg serverside-applied"), "%s", out);
	free(out);
	char *a = normal_dump(&f, 0), *b = normal_dump(&g, 0);
	cr_assert(strstr(a, "\"publishNotReadyAddresses\": true"), "%s", a);
	cr_assert_str_eq(a, b, "addonmake stored:\n%s\nkubectl stored:\n%s", a, b);
	free(a);
	free(b);
	/* kubectl reads and deletes what addonmake applied */
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && export KUBECACHEDIR='%s/cache' && %s --kubeconfig kc get configmaps -n shop "
		 "-l app.kubernetes.io/managed-by=addonmake -o name && "
		 "%s --kubeconfig kc delete service web -n shop 2>&1",
		 f.t.dir, f.t.dir, kc, kc);
	out = sh_out(cmd);
	cr_assert(strstr(out, "configmap/cfg") && strstr(out, "\"web\" deleted"), "%s", out);
	free(out);
	char *svc = kf_get(&f, "/api/v1/namespaces/shop/services/web");
	cr_assert_str_eq(svc, "");
	free(svc);
	kf_free(&g);
	kf_free(&f);
}

/* the render target writes what the kube target applies: kubectl apply
 * --server-side of the rendered files stores the same objects as the kube
 * target does, namespace, labels and annotations included (the layer's
 * Namespace is the first document, so kubectl can create the others) */
Test(SUITE, rendered_files_applied_by_kubectl_store_what_the_kube_target_stores)
{
	const char *kc = kubectl();
	if (!kc)
		cr_skip_test("kubectl is not installed");
	struct kf f, g;
	kf_synced(&f, app_layer);
	kf_init(&g, NULL);
	kf_ws(&g, app_layer);
	tws_put(&g.t, "addonmake.yaml",
		"clusters:\n  - {name: dev, target: {render: {dir: out}}, profiles: [p.yaml]}\n");
	struct res r = am(&g.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char cmd[2400];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && KUBECACHEDIR='%s/cache' %s --kubeconfig kc apply --server-side "
		 "--validate=false -f out/ 2>&1",
		 g.t.dir, g.t.dir, kc);
	char *out = sh_out(cmd);
	cr_assert(strstr(out, "namespace/shop serverside-applied") &&
		  strstr(out, "service/web serverside-applied"), "%s", out);
	free(out);
	char *a = normal_dump(&f, 1), *b = normal_dump(&g, 1);
	/* the hash is the layer's, and the target is part of a layer's
	 * identity (§4): the two differ there alone, and both carry one */
	cr_assert(strstr(a, "\"addonmake.io/cluster\": \"dev\"") && strstr(a, "\"namespace\": \"shop\"") &&
		  strstr(a, "\"addonmake.io/hash\": \"H\"") && strstr(a, "\"addonmake.io/order\": \"0\""),
		  "%s", a);
	cr_assert_str_eq(a, b, "the kube target stored:\n%s\nkubectl stored from the rendered files:\n%s",
			 a, b);
	free(a);
	free(b);
	kf_free(&g);
	kf_free(&f);
}

/* the lines of log after its first `from` bytes */
static int
lines_after(const char *log, size_t from)
{
	int n = 0;
	for (const char *p = log + from; *p; p++)
		n += *p == '\n';
	return n;
}

/* three layers a (order 0), b (10), c (20), one ConfigMap each (b's
 * holds v) */
static void
kf_ws_tiers(struct kf *f, const char *v)
{
	char packs[2048];
	snprintf(packs, sizeof(packs),
		 "      - name: a\n        type: manifest\n"
		 "        values: \"pack: {spectrocloud.com/install-priority: \\\"0\\\"}\"\n"
		 "        manifests: [{name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: ca}\\n\"}]\n"
		 "      - name: b\n        type: manifest\n"
		 "        values: \"pack: {spectrocloud.com/install-priority: \\\"10\\\"}\"\n"
		 "        manifests: [{name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: cb}\\ndata: {v: %s}\\n\"}]\n"
		 "      - name: c\n        type: manifest\n"
		 "        values: \"pack: {spectrocloud.com/install-priority: \\\"20\\\"}\"\n"
		 "        manifests: [{name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: cc}\\n\"}]\n",
		 v);
	kf_ws(f, packs);
	kf_yaml(f, ", state: cluster", "");
}

/* a fresh server and kf_ws_tiers(f, "one"), synced once (which must
 * succeed) */
static void
kf_synced_tiers(struct kf *f)
{
	kf_init(f, NULL);
	kf_ws_tiers(f, "one");
	struct res r = am(&f->t, "sync");
	assert_code(r, 0);
	res_free(&r);
}

/* a runner that starts empty (a fresh clone: no .addonmake/) finds what
 * is applied in the cluster's records: a no-op costs the head's GET and
 * one LIST; the next no-op, with the local cache now filled, the GET alone */
Test(SUITE, a_fresh_runner_reads_the_records_of_the_cluster_and_has_no_work)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r;
	char *rec = kf_get(&f, "/api/v1/namespaces/addonmake-system/configmaps"
			       "?labelSelector=app.kubernetes.io%2Fmanaged-by%3Daddonmake");
	cr_assert(strstr(rec, "\"addonmake.io/layer\": \"p/b\"") && strstr(rec, "\"status\": \"ready\"") &&
		  strstr(rec, "\"order\": \"10\"") && strstr(rec, "\"identity\""),
		  "the records in the cluster:\n%s", rec);
	cr_assert(!strstr(rec, "\"v\": \"one\""), "a record holds a manifest's value:\n%s", rec);
	free(rec);
	tws_sh(&f.t, "rm -rf .addonmake");
	char *log = kf_log_all(&f);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "no work to do"), "%s%s", r.out, r.err);
	char *log2 = kf_log_all(&f);
	cr_assert_eq(lines_after(log2, strlen(log)), 2, "a fresh runner's no-op asked:\n%s",
		     log2 + strlen(log));
	cr_assert(line_of(log2 + strlen(log), "GET /api/v1/namespaces/addonmake-system/configmaps/"
					      "addonmake-") == 0 &&
		  line_of(log2 + strlen(log), "configmaps?labelSelector=addonmake.io%2Frecords-of") == 1,
		  "%s", log2 + strlen(log));
	res_free(&r);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	char *log3 = kf_log_all(&f);
	cr_assert_eq(lines_after(log3, strlen(log2)), 1, "a warm no-op asked:\n%s", log3 + strlen(log2));
	free(log);
	free(log2);
	free(log3);
	res_free(&r);
	kf_free(&f);
}

/* an edit synced from a fresh clone re-applies the edited layer and the
 * tiers after it, nothing before */
Test(SUITE, an_edit_synced_by_a_fresh_runner_applies_that_layer_and_later_tiers)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r;
	kf_ws_tiers(&f, "two");
	tws_sh(&f.t, "rm -rf .addonmake");
	r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(!strstr(r.out, "apply p/a") && strstr(r.out, "apply p/b") && strstr(r.out, "apply p/c"),
		  "%s", r.out);
	char *cb = kf_get(&f, "/api/v1/namespaces/default/configmaps/cb");
	cr_assert(strstr(cb, "\"v\": \"two\""), "%s", cb);
	free(cb);
	res_free(&r);
	kf_free(&f);
}

/* layer b of kf_ws_tiers was pruned: its object is gone, layer a's stays */
static void
kf_assert_b_pruned(struct kf *f)
{
	char *cb = kf_get(f, "/api/v1/namespaces/default/configmaps/cb");
	char *ca = kf_get(f, "/api/v1/namespaces/default/configmaps/ca");
	cr_assert_str_eq(cb, "", "the pruned layer's object is still there: %s", cb);
	cr_assert(strstr(ca, "\"name\": \"ca\""), "another layer's object went: %s", ca);
	free(ca);
	free(cb);
}

/* a layer removed in Git and pruned from a fresh clone is deleted: the
 * cluster's records know it; the other layers' objects stay */
Test(SUITE, a_layer_removed_and_pruned_from_a_fresh_runner_is_deleted)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r;
	tws_sh(&f.t, "sed -i '/name: b$/,/name: cb/d' p.yaml && rm -rf .addonmake");
	r = am(&f.t, "plan");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "dev: removed p/b (order 10)"), "%s%s", r.out, r.err);
	res_free(&r);
	tws_sh(&f.t, "rm -rf .addonmake");
	r = am(&f.t, "prune");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "pruned p/b"), "%s%s", r.out, r.err);
	kf_assert_b_pruned(&f);
	res_free(&r);
	tws_sh(&f.t, "rm -rf .addonmake");
	r = am(&f.t, "prune");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "no work to do"), "the record of the pruned layer stayed:\n%s%s", r.out,
		  r.err);
	res_free(&r);
	kf_free(&f);
}

/* the records lost (the stand-in: the state namespace deleted; the real
 * server, which finishes deleting a namespace only with a controller
 * manager that the suite does not run: its ConfigMaps deleted); the
 * local cache too */
static void
kf_lose_records(struct kf *f)
{
	if (REAL)
		free(kf_curl(f, "DELETE", "/api/v1/namespaces/addonmake-system/configmaps",
			     "application/json", "{}"));
	else
		free(kf_curl(f, "DELETE", "/api/v1/namespaces/addonmake-system", "application/json",
			     "{}"));
	for (int i = 0; i < 100 && !REAL; i++) { /* Terminating, then gone */
		char *ns = kf_get(f, "/api/v1/namespaces/addonmake-system");
		int gone = !*ns;
		free(ns);
		if (gone)
			break;
		nanosleep(&(struct timespec){0, 50000000L}, NULL);
	}
	char *left = kf_get(f, "/api/v1/namespaces/addonmake-system/configmaps");
	cr_assert(!strstr(left, "addonmake-"), "records left:\n%s", left);
	free(left);
	cr_assert_eq(tws_sh(&f->t, "rm -rf .addonmake"), 0);
}

/* state rebuild makes the lost records again from the objects' labels
 * and annotations: the next run, from any runner, is a no-op; an edit
 * applies that layer and the tiers after it (the hashes are the applied
 * ones); a removed layer is pruned object by object (the inventories are
 * right); records that exist are kept */
Test(SUITE, state_rebuild_after_the_records_are_lost_makes_the_next_run_a_no_op)
{
	struct kf f;
	kf_synced_tiers(&f);
	kf_lose_records(&f);
	struct res r = am(&f.t, "plan");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, "new layer"), 3, "%s%s", r.out, r.err);
	res_free(&r);
	r = am(&f.t, "state rebuild -c dev -n");
	assert_code(r, 0);
	cr_assert_eq(count_lines(r.out, "dev: would rebuild the record of p/"), 3, "%s%s", r.out, r.err);
	res_free(&r);
	char *head = kf_get(&f, "/api/v1/namespaces/addonmake-system/configmaps");
	cr_assert(!strstr(head, "addonmake-"), "-n wrote:\n%s", head);
	free(head);
	r = am(&f.t, "state rebuild -c dev");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "dev: rebuilt the record of p/a (order 0, ready, hash ") &&
		  strstr(r.out, "dev: rebuilt the record of p/b (order 10, ready, hash ") &&
		  strstr(r.out, "dev: rebuilt the record of p/c (order 20, ready, hash "), "%s%s", r.out,
		  r.err);
	res_free(&r);
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake"), 0);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no work to do.\n", "%s", r.err);
	res_free(&r);
	r = am(&f.t, "state rebuild -c dev");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: dev: every layer with objects in the cluster has a record; "
				"nothing to rebuild.\n");
	res_free(&r);
	/* the rebuilt hashes are those applied: an edit is seen */
	kf_lose_records(&f);
	r = am(&f.t, "state rebuild -c dev");
	assert_code(r, 0);
	res_free(&r);
	kf_ws_tiers(&f, "two");
	r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(!strstr(r.out, "apply p/a") && strstr(r.out, "apply p/b") && strstr(r.out, "apply p/c"),
		  "%s", r.out);
	res_free(&r);
	/* the rebuilt inventories are right: a prune deletes exactly them */
	kf_lose_records(&f);
	r = am(&f.t, "state rebuild -c dev");
	assert_code(r, 0);
	res_free(&r);
	tws_sh(&f.t, "sed -i '/name: b$/,/name: cb/d' p.yaml && rm -rf .addonmake");
	r = am(&f.t, "sync --prune");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "pruned p/b"), "%s%s", r.out, r.err);
	res_free(&r);
	kf_assert_b_pruned(&f);
	kf_free(&f);
}

/* objects of one layer that name different hashes (an apply that stopped
 * half-way): the rebuilt record is pending, and the next run applies
 * that layer again, with the tiers after it */
Test(SUITE, state_rebuild_records_a_half_applied_layer_pending)
{
	struct kf f;
	kf_synced_tiers(&f);
	/* a second object of layer b, at another hash */
	char *cb = kf_get(&f, "/api/v1/namespaces/default/configmaps/cb");
	const char *lab = strstr(cb, "\"addonmake.io/layer\": \"");
	cr_assert(lab && strlen(lab) > 40, "%s", cb);
	char body[1024];
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"cb2\","
		 "\"labels\":{\"app.kubernetes.io/managed-by\":\"addonmake\",\"addonmake.io/layer\":"
		 "\"%.16s\"},\"annotations\":{\"addonmake.io/cluster\":\"dev\",\"addonmake.io/layer\":"
		 "\"p/b\",\"addonmake.io/hash\":\"00000000000000000000000000000000\","
		 "\"addonmake.io/order\":\"10\"}}}", lab + 23);
	free(cb);
	char *o = kf_curl(&f, "PATCH",
			  "/api/v1/namespaces/default/configmaps/cb2?fieldManager=addonmake&force=true",
			  "application/apply-patch+yaml", body);
	cr_assert(strstr(o, "00000000000000000000000000000000"), "%s", o);
	free(o);
	kf_lose_records(&f);
	struct res r = am(&f.t, "state rebuild -c dev");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "dev: rebuilt the record of p/b (order 10, pending, hash "), "%s%s", r.out,
		  r.err);
	cr_assert(strstr(r.err, "p/b: its objects do not name one hash and order"), "%s", r.err);
	res_free(&r);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(!strstr(r.out, "apply p/a") && strstr(r.out, "apply p/b") && strstr(r.out, "apply p/c"),
		  "%s", r.out);
	res_free(&r);
	/* cb2 was in the rebuilt inventory and is not in the layer: deleted */
	char *cb2 = kf_get(&f, "/api/v1/namespaces/default/configmaps/cb2");
	cr_assert_str_eq(cb2, "", "%s", cb2);
	free(cb2);
	kf_free(&f);
}

/* the context now points at a new, empty API server: the local records
 * are another cluster's; the plan says so and the sync applies everything */
Test(SUITE, a_new_cluster_behind_the_same_context_is_applied_whole)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r;
	srv_stop(f.srv);
	/* the real server: a new etcd, a new CA, a new kube-system */
	cr_assert_eq(tws_sh(&f.t, "rm -rf api"), 0);
	kf_start(&f, NULL, 0);
	kf_kubeconfig(&f, "{token: abc}", NULL);
	r = am(&f.t, "plan");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "dev: apply p/a (order 0): cluster changed") &&
		  strstr(r.out, "3 layers to apply"), "%s%s", r.out, r.err);
	res_free(&r);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "3 applied"), "%s%s", r.out, r.err);
	res_free(&r);
	kf_free(&f);
}

/* kf_ws_tiers(f, v), layer b ready only once the file go exists in the
 * workspace (its check looks every 200 ms): a run that holds the lease
 * for as long as a test needs, on either server */
static void
kf_ws_tiers_gated(struct kf *f, const char *v)
{
	kf_ws_tiers(f, v);
	kf_yaml(f, ", state: cluster",
		"    layers:\n"
		"      p/b:\n"
		"        readiness:\n"
		"          interval: 200ms\n"
		"          checks: [{command: [sh, -c, 'test -e go || { echo no go; exit 1; }']}]\n");
}

/* waits (at most 20 s) until the background run has printed needle */
static void
kf_bg_wait(struct kf *f, const char *needle)
{
	for (int i = 0; i < 200; i++) {
		char *out = tws_exists(&f->t, "bg.out") ? tws_get(&f->t, "bg.out") : NULL;
		int got = out && strstr(out, needle);
		free(out);
		if (got)
			return;
		nanosleep(&(struct timespec){0, 100000000L}, NULL);
	}
	char *out = tws_get(&f->t, "bg.out"), *err = tws_get(&f->t, "bg.err");
	cr_assert_fail("the background run never printed \"%s\":\n%s%s", needle, out, err);
}

/* two runs of one cluster from two copies of the workspace at once: the
 * second fails at once, naming who holds the lease and since when; with
 * --wait-lock it waits, and then finds the work done */
Test(SUITE, a_second_run_fails_at_once_naming_the_holder_or_waits_and_finds_no_work)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r;
	kf_ws_tiers_gated(&f, "two");
	/* (the real server's kubeconfig names its CA file in api/) */
	cr_assert_eq(tws_sh(&f.t, "mkdir b && cp kc addonmake.yaml p.yaml b/ && "
			    "{ test ! -d api || cp -r api b/; }"), 0);
	/* this run waits for b's check; meanwhile copy b syncs the same
	 * edit. Leases of 2 s: only renewal keeps b out that long */
	setenv("ADDONMAKE_TEST_LEASE_SECONDS", "2", 1);
	pid_t pid = am_bg(&f.t, "sync");
	kf_bg_wait(&f, "waiting p/b");
	sleep(3); /* past the lease's duration: renewed, not expired */
	r = am(&f.t, "-C b sync --summary s.json");
	assert_code(r, 1);
	char *sum = tws_get(&f.t, "b/s.json");
	cr_assert(sum && strstr(sum, "{\"clusters\":[{\"cluster\":\"dev\",\"outcome\":\"locked\",\"applied\":0,"
				    "\"pruned\":0,\"why\":\"another addonmake holds the lease on its records: "),
		  "%s", sum ? sum : "(no summary)");
	free(sum);
	cr_assert(strstr(r.err, "error: cluster dev: another addonmake holds the lease on its records: ") &&
		  strstr(r.err, " pid ") && strstr(r.err, ", since 20") && strstr(r.err, "--wait-lock"),
		  "%s%s", r.out, r.err);
	cr_assert(!strstr(r.out, "apply"), "it applied while another run held the lease:\n%s", r.out);
	res_free(&r);
	cr_assert_eq(tws_sh(&f.t, "(sleep 2; touch go) >/dev/null 2>&1 &"), 0);
	r = am(&f.t, "-C b sync --wait-lock");
	unsetenv("ADDONMAKE_TEST_LEASE_SECONDS");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "waiting for the lease held by ") && strstr(r.out, "no work to do"),
		  "%s%s", r.out, r.err);
	res_free(&r);
	char *out = kf_bg_done(&f, pid, 0);
	cr_assert(strstr(out, "ready p/c"), "%s", out);
	free(out);
	char *lease = kf_get(&f, "/apis/coordination.k8s.io/v1/namespaces/addonmake-system/leases");
	cr_assert(strstr(lease, "\"holderIdentity\": \"\""), "the lease was not released:\n%s", lease);
	free(lease);
	kf_free(&f);
}

/* a run killed with SIGKILL leaves its lease; the next run fails until the
 * lease's duration has passed without a renewal, then takes it over,
 * saying whose it was, and applies exactly the layers left unfinished */
Test(SUITE, a_killed_runs_lease_is_taken_over_after_its_duration)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r;
	kf_ws_tiers_gated(&f, "two");
	setenv("ADDONMAKE_TEST_LEASE_SECONDS", "2", 1);
	pid_t pid = am_bg(&f.t, "sync");
	kf_bg_wait(&f, "waiting p/b");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	r = am(&f.t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "another addonmake holds the lease"), "%s", r.err);
	res_free(&r);
	sleep(3);
	cr_assert_eq(tws_sh(&f.t, "touch go && rm -rf .addonmake"), 0);
	r = am(&f.t, "sync");
	unsetenv("ADDONMAKE_TEST_LEASE_SECONDS");
	assert_code(r, 0);
	cr_assert(strstr(r.err, "addonmake: dev: took over the lease of ") && strstr(r.err, " pid "),
		  "%s", r.err);
	cr_assert(!strstr(r.out, "apply p/a") && strstr(r.out, "apply p/b") && strstr(r.out, "apply p/c"),
		  "%s", r.out);
	res_free(&r);
	kf_free(&f);
}

/* unlock releases a lease by hand, whoever holds it, and names the holder */
Test(SUITE, unlock_releases_the_lease_of_a_run_that_is_gone)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_tiers(&f, "one");
	struct res r = am(&f.t, "unlock -c dev");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "dev: nobody holds the lease"), "%s%s", r.out, r.err);
	res_free(&r);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	/* a holder that is gone, as a killed run leaves it */
	char body[1024];
	char *old = kf_get(&f, "/apis/coordination.k8s.io/v1/namespaces/addonmake-system/leases");
	const char *rv = strstr(old, "\"resourceVersion\": \"");
	cr_assert(rv, "%s", old);
	rv += strlen("\"resourceVersion\": \"");
	/* the real server updates a Lease only with its resourceVersion */
	snprintf(body, sizeof(body),
		 "{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":"
		 "\"addonmake-18b3acae79a7f71a\",\"namespace\":\"addonmake-system\","
		 "\"resourceVersion\":\"%.*s\"},\"spec\":{"
		 "\"holderIdentity\":\"ci-7 pid 42\",\"leaseDurationSeconds\":60,"
		 "\"acquireTime\":\"2026-01-01T00:00:00.000000Z\",\"renewTime\":\"2099-01-01T00:00:00.000000Z\"}}",
		 (int)strcspn(rv, "\""), rv);
	free(old);
	char *put = kf_curl(&f, "PUT", "/apis/coordination.k8s.io/v1/namespaces/addonmake-system/"
			    "leases/addonmake-18b3acae79a7f71a", "application/json", body);
	cr_assert(strstr(put, "\"holderIdentity\":\"ci-7 pid 42\"") ||
		  strstr(put, "\"holderIdentity\": \"ci-7 pid 42\""), "%s", put);
	free(put);
	kf_ws_tiers(&f, "two");
	r = am(&f.t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "holds the lease on its records: ci-7 pid 42, since 2026-01-01"), "%s",
		  r.err);
	res_free(&r);
	r = am(&f.t, "unlock");
	assert_code(r, 2);
	res_free(&r);
	r = am(&f.t, "unlock -c dev");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "dev: released the lease of ci-7 pid 42"), "%s%s", r.out, r.err);
	res_free(&r);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "apply p/b"), "%s%s", r.out, r.err);
	res_free(&r);
	kf_free(&f);
}

/* the head's precondition guards the records even where the lease did not
 * (a run that lost it, a client that ignores it): a run whose records
 * changed since it read them stops at its next write and records nothing
 * over them */
Test(SUITE, a_run_whose_records_changed_under_it_stops_at_its_next_write)
{
	struct kf f;
	kf_synced_tiers(&f);
	kf_ws_tiers_gated(&f, "two");
	pid_t pid = am_bg(&f.t, "sync");
	kf_bg_wait(&f, "waiting p/b");
	free(kf_curl(&f, "PATCH", "/api/v1/namespaces/addonmake-system/configmaps/"
		     "addonmake-18b3acae79a7f71a?fieldManager=intruder&force=true",
		     "application/apply-patch+yaml",
		     "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":"
		     "\"addonmake-18b3acae79a7f71a\",\"namespace\":\"addonmake-system\"},"
		     "\"data\":{\"serial\":\"999\"}}"));
	cr_assert_eq(tws_sh(&f.t, "touch go"), 0);
	int st = 0;
	waitpid(pid, &st, 0);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "the run overtaken exited %d", st);
	/* the executor's messages go with its events, to stdout */
	char *out = tws_get(&f.t, "bg.out");
	cr_assert(out && strstr(out, "error: cluster dev: its records changed since this run read "
				  "them") && strstr(out, "1 layer of later tiers not started"),
		  "%s", out ? out : "(no output)");
	free(out);
	kf_free(&f);
}

/* a user whose Role lacks leases gets one clear error naming the verbs
 * and resources addonmake needs, and nothing is applied (on the real
 * server by RBAC; the stand-in refuses as RBAC words it) */
Test(SUITE, a_user_without_rights_on_leases_is_told_what_is_needed_and_nothing_is_applied)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_tiers(&f, "one");
	if (REAL) {
		/* user ci may read and write addonmake's records, nothing more */
		free(kf_curl(&f, "POST", "/api/v1/namespaces", "application/json",
			     "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":"
			     "\"addonmake-system\"}}"));
		free(kf_curl(&f, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/addonmake-system/roles",
			     "application/json",
			     "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"Role\",\"metadata\":"
			     "{\"name\":\"records\",\"namespace\":\"addonmake-system\"},\"rules\":[{\"apiGroups\":"
			     "[\"\"],\"resources\":[\"configmaps\"],\"verbs\":[\"get\",\"list\",\"create\","
			     "\"update\",\"patch\",\"delete\"]}]}"));
		char *rb = kf_curl(&f, "POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/"
				   "addonmake-system/rolebindings", "application/json",
				   "{\"apiVersion\":\"rbac.authorization.k8s.io/v1\",\"kind\":\"RoleBinding\","
				   "\"metadata\":{\"name\":\"records\",\"namespace\":\"addonmake-system\"},"
				   "\"roleRef\":{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Role\","
				   "\"name\":\"records\"},\"subjects\":[{\"kind\":\"User\",\"name\":\"ci\"}]}");
		cr_assert(strstr(rb, "\"name\": \"records\""), "%s", rb);
		free(rb);
		kf_kubeconfig(&f, "{token: ci-token}", NULL);
	} else {
		free(kf_ctl(&f, "fault?path=/apis/coordination.k8s.io/v1/namespaces/addonmake-system/"
			    "leases&mode=403&n=5"));
	}
	struct res r = am(&f.t, "sync");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "addonmake: error: ") && strstr(r.err, "forbidden") &&
		  strstr(r.err, "leases") &&
		  strstr(r.err, "addonmake locks cluster dev's records with a Lease in namespace "
				"addonmake-system and needs get, create and update of leases "
				"(coordination.k8s.io) there"), "%s", r.err);
	cr_assert(!strstr(r.out, "apply"), "%s", r.out);
	char *cb = kf_get(&f, "/api/v1/namespaces/default/configmaps/ca");
	cr_assert_str_eq(cb, "", "a layer was applied: %s", cb);
	free(cb);
	res_free(&r);
	kf_free(&f);
}

/* a record that cannot be read (damaged, or of a newer schema) is an
 * error naming it and the way out, as a damaged local record is; nothing
 * is applied */
Test(SUITE, a_damaged_record_in_the_cluster_is_named_with_the_way_out)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r;
	char *list = kf_get(&f, "/api/v1/namespaces/addonmake-system/configmaps"
				"?labelSelector=addonmake.io%2Frecords-of");
	const char *p = strstr(list, "\"name\": \"addonmake-18b3acae79a7f71a-");
	cr_assert(p, "%s", list);
	p += strlen("\"name\": \"");
	char name[64];
	snprintf(name, sizeof(name), "%.*s", (int)strcspn(p, "\""), p);
	free(list);
	char path[300], body[600];
	snprintf(path, sizeof(path), "/api/v1/namespaces/addonmake-system/configmaps/%s"
		 "?fieldManager=someone&force=true", name);
	snprintf(body, sizeof(body), "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":"
		 "{\"name\":\"%s\",\"namespace\":\"addonmake-system\"},\"data\":{\"schema\":\"2\"}}", name);
	free(kf_curl(&f, "PATCH", path, "application/apply-patch+yaml", body));
	tws_sh(&f.t, "rm -rf .addonmake");
	kf_ws_tiers(&f, "two");
	r = am(&f.t, "sync");
	assert_code(r, 1);
	char want[300];
	snprintf(want, sizeof(want), "error: cluster dev: the record configmap addonmake-system/%s is "
		 "damaged or of a newer addonmake; delete it (kubectl -n addonmake-system delete "
		 "configmap %s)", name, name);
	cr_assert(strstr(r.err, want), "%s", r.err);
	cr_assert(!strstr(r.out, "apply"), "%s", r.out);
	res_free(&r);
	kf_free(&f);
}

/* a kind whose LIST is refused may hold objects of a layer: the rebuild
 * fails naming it and records nothing */
Test(SUITE, state_rebuild_refused_a_list_records_nothing)
{
	STAND_IN_ONLY("inject faults");
	struct kf f;
	kf_synced_tiers(&f);
	kf_lose_records(&f);
	free(kf_ctl(&f, "fault?path=/api/v1/configmaps&mode=403&n=1"));
	struct res r = am(&f.t, "state rebuild -c dev");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "list /api/v1/configmaps") && strstr(r.err, "nothing was rebuilt"),
		  "%s", r.err);
	cr_assert_str_eq(r.out, "");
	res_free(&r);
	char *left = kf_get(&f, "/api/v1/namespaces/addonmake-system/configmaps");
	cr_assert(!strstr(left, "addonmake-"), "records written:\n%s", left);
	free(left);
	r = am(&f.t, "state rebuild");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "state rebuild needs -c CLUSTER"), "%s", r.err);
	res_free(&r);
	kf_free(&f);
}

/* a manifest that moves an object to another served version of its kind
 * (v1beta1 to v1, as upgrades of charts do) changes the path it is
 * applied at, not the object: it stays, and is not deleted as one that
 * left the layer */
Test(SUITE, an_object_moved_to_another_version_of_its_kind_stays)
{
	struct kf f;
	kf_init(&f, NULL);
	const char *packs =
		"      - name: crd\n        type: manifest\n"
		"        values: \"pack: {spectrocloud.com/install-priority: \\\"-10\\\"}\"\n"
		"        manifests:\n          - name: m\n            content: |\n"
		"              apiVersion: apiextensions.k8s.io/v1\n"
		"              kind: CustomResourceDefinition\n"
		"              metadata: {name: widgets.example.com}\n"
		"              spec:\n"
		"                group: example.com\n"
		"                scope: Namespaced\n"
		"                names: {plural: widgets, kind: Widget}\n"
		"                versions:\n"
		"                - {name: v1, served: true, storage: true, schema: {openAPIV3Schema: "
		"{type: object, x-kubernetes-preserve-unknown-fields: true}}}\n"
		"                - {name: v1beta1, served: true, storage: false, schema: {openAPIV3Schema: "
		"{type: object, x-kubernetes-preserve-unknown-fields: true}}}\n"
		"      - name: app\n        type: manifest\n"
		"        manifests: [{name: m, content: \"apiVersion: example.com/%s\\nkind: Widget\\n"
		"metadata: {name: w}\\nspec: {size: %d}\\n\"}]\n";
	char p[2048];
	snprintf(p, sizeof(p), packs, "v1beta1", 1);
	kf_ws(&f, p);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *w0 = kf_get(&f, "/apis/example.com/v1/namespaces/default/widgets/w");
	cr_assert(strstr(w0, "\"uid\""), "%s", w0);
	snprintf(p, sizeof(p), packs, "v1", 2);
	kf_ws(&f, p);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	char *w1 = kf_get(&f, "/apis/example.com/v1/namespaces/default/widgets/w");
	/* (the stand-in answers with spaces, the real server without) */
	cr_assert(strstr(w1, "\"size\": 2") || strstr(w1, "\"size\":2"), "the widget is gone:\n%s", w1);
	/* the same object, not a new one */
	const char *u0 = strstr(w0, "\"uid\":"), *u1 = strstr(w1, "\"uid\":");
	cr_assert(u0 && u1 && strncmp(u0 + 6 + (u0[6] == ' '), u1 + 6 + (u1[6] == ' '), 38) == 0,
		  "%s\n%s", w0, w1);
	free(w0);
	free(w1);
	/* and its record has it once, at the new path: a prune deletes it */
	tws_sh(&f.t, "sed -i '/name: app$/,$d' p.yaml");
	r = am(&f.t, "sync --prune");
	assert_code(r, 0);
	res_free(&r);
	char *w2 = kf_get(&f, "/apis/example.com/v1/namespaces/default/widgets/w");
	cr_assert_str_eq(w2, "", "%s", w2);
	free(w2);
	kf_free(&f);
}

/* the lines of a diff's hunks that change something ("+x", "-x"; not the
 * "--- live" and "+++ desired" of its headers) */
static int
changed_lines(const char *out)
{
	int n = 0;
	for (const char *p = out; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		if ((*p == '+' || *p == '-') && strncmp(p, "--- ", 4) && strncmp(p, "+++ ", 4))
			n++;
	return n;
}

/* diff shows what a sync would change, object by object, and changes
 * nothing: an edited value is exactly that line; a layer that left the
 * profiles, its objects as deletions; the exit status tells "no
 * differences" (0) from "differences" (3), bad usage (2) and errors (1) */
Test(SUITE, diff_shows_exactly_what_a_sync_would_change)
{
	struct kf f;
	kf_synced_tiers(&f);
	struct res r = am(&f.t, "diff");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no differences.\n", "%s", r.err);
	res_free(&r);
	r = am(&f.t, "diff --all");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no differences.\n", "%s", r.err);
	res_free(&r);
	kf_ws_tiers(&f, "two");
	r = am(&f.t, "diff");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "dev: p/b (order 10): ConfigMap default/cb (change)\n--- live\n+++ desired\n"
			 "@@ ") && strstr(r.out, "\n-  v: \"one\"\n+  v: \"two\"\n"), "%s%s", r.out, r.err);
	cr_assert_eq(changed_lines(r.out), 2, "%s", r.out);
	cr_assert(strstr(r.out, "addonmake: 1 object differs in 1 layer: 0 to create, 1 to change, 0 to "
			 "delete.\n"), "%s", r.out);
	res_free(&r);
	r = am(&f.t, "diff --json");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "{\"cluster\":\"dev\",\"layer\":\"p/b\",\"order\":10,\"kind\":\"ConfigMap\","
			 "\"namespace\":\"default\",\"name\":\"cb\",\"action\":\"change\","
			 "\"removed_layer\":false,\"paths\":[\"data.v\"]}\n") &&
		  strstr(r.out, "{\"summary\":{\"differ\":1,\"create\":0,\"change\":1,\"delete\":0,"
			 "\"layers\":1,\"not_compared\":0}}\n"), "%s", r.out);
	cr_assert_eq(count_lines(r.out, "{"), 2, "%s", r.out);
	res_free(&r);
	char *cb = kf_get(&f, "/api/v1/namespaces/default/configmaps/cb");
	cr_assert(strstr(cb, "one"), "diff changed the object:\n%s", cb);
	free(cb);
	/* a layer that left the profiles: its objects, as deletions */
	tws_sh(&f.t, "sed -i '/name: a$/,/name: ca/d' p.yaml");
	r = am(&f.t, "diff");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "dev: p/a (order 0): ConfigMap default/ca (delete: the layer left the "
			 "profiles; prune deletes it)\n--- live\n+++ desired\n@@ -1,") &&
		  strstr(r.out, "\n-  name: \"ca\"\n"), "%s", r.out);
	cr_assert(strstr(r.out, "2 objects differ in 2 layers: 0 to create, 1 to change, 1 to delete."),
		  "%s", r.out);
	res_free(&r);
	r = am(&f.t, "diff --bogus");
	assert_code(r, 2);
	res_free(&r);
	r = am(&f.t, "diff p/nope");
	assert_code(r, 2);
	res_free(&r);
	kf_free(&f);
}

/* where the server fills in defaults (a Service's clusterIP, its
 * sessionAffinity, a port's targetPort) the dry run answers with them as
 * the live object has them: a freshly applied layer shows no difference */
Test(SUITE, diff_of_a_freshly_applied_layer_is_empty)
{
	struct kf f;
	kf_synced(&f, app_layer);
	struct res r;
	r = am(&f.t, "diff --all");
	assert_code(r, 0);
	cr_assert_str_eq(r.out, "addonmake: no differences.\n", "%s%s", r.out, r.err);
	res_free(&r);
	kf_free(&f);
}

/* a Secret's values appear in no output of diff: a changed key reads old
 * and new, an unchanged one neither */
Test(SUITE, diff_never_shows_a_secret_value)
{
	struct kf f;
	kf_init(&f, NULL);
	const char *secret =
		"      - name: s\n        type: manifest\n"
		"        manifests: [{name: m, content: \"apiVersion: v1\\nkind: Secret\\nmetadata: {name: "
		"sec}\\nstringData: {pw: %s, keep: kept-planted}\\n\"}]\n";
	char p[1024];
	snprintf(p, sizeof(p), secret, "s3cret-planted");
	kf_ws(&f, p);
	struct res r = am(&f.t, "diff");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "+  pw: \"(secret value)\""), "%s", r.out);
	res_free(&r);
	r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	snprintf(p, sizeof(p), secret, "other-planted");
	kf_ws(&f, p);
	const char *modes[] = {"diff", "diff --json", "diff --all", "-v diff"};
	for (int i = 0; i < 5; i++) {
		r = i < 4 ? am(&f.t, "%s", modes[i])
			  : am_sh(&f.t, "env ADDONMAKE_EXTERNAL_DIFF='diff -ru' ", "diff");
		assert_code(r, 3);
		const char *planted[] = {"planted", "czNjcmV0LXBsYW50ZWQ", "b3RoZXItcGxhbnRlZA",
					 "a2VwdC1wbGFudGVk"};
		for (int k = 0; k < 4; k++)
			cr_assert(!strstr(r.out, planted[k]) && !strstr(r.err, planted[k]),
				  "%s shows a secret value (%s):\n%s%s", i < 4 ? modes[i] : "external",
				  planted[k], r.out, r.err);
		if (i == 0)
			cr_assert(strstr(r.out, "\n   keep: \"(secret value)\"\n-  pw: \"(secret value, "
					 "old)\"\n+  pw: \"(secret value, new)\"\n"), "%s", r.out);
		if (i == 4)
			cr_assert(strstr(r.out, "/LIVE/dev.p_s.Secret.default.sec") &&
				  strstr(r.out, "+  pw: \"(secret value, new)\""), "%s", r.out);
		res_free(&r);
	}
	kf_free(&f);
}

/* an object the server refuses to dry-run (an admission webhook with side
 * effects) is not compared, and says so; the others are; the exit status
 * says that differences may be hidden */
Test(SUITE, diff_goes_on_past_an_object_refused_a_dry_run)
{
	STAND_IN_ONLY("run admission webhooks");
	struct kf f;
	kf_synced_tiers(&f);
	kf_ws_tiers(&f, "two");
	free(kf_ctl(&f, "fault?path=/api/v1/namespaces/default/configmaps/cb&mode=nodryrun&n=5"));
	struct res r = am(&f.t, "diff --all");
	assert_code(r, 3);
	cr_assert(strstr(r.err, "addonmake: dev: p/b (order 10): ConfigMap default/cb: not compared: the "
			 "server refused the dry run: ") &&
		  strstr(r.err, "admission webhook \"deny.example.com\" does not support dry run"), "%s",
		  r.err);
	cr_assert_str_eq(r.out, "addonmake: no differences in what was compared.\n"
				"addonmake: 1 object not compared: differences may be hidden.\n");
	res_free(&r);
	r = am(&f.t, "diff --json");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "\"name\":\"cb\",\"action\":\"not compared\",\"removed_layer\":false,"
			 "\"why\":\"the server refused the dry run: "), "%s", r.out);
	res_free(&r);
	kf_free(&f);
}

/* status from anywhere (a fresh clone, after runs elsewhere) reads the
 * cluster's records: its layers by state, and who wrote them last, when */
Test(SUITE, status_from_a_fresh_clone_shows_the_cluster_and_its_last_writer)
{
	struct kf f;
	kf_synced_tiers(&f);
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake"), 0);
	struct res r = am_sh(&f.t, "env GITHUB_RUN_ID=77 ", "status");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "\naddonmake: dev: 3 applied, 0 pending, 0 failed, 0 to apply; records last "
			 "written by ") && strstr(r.out, " pid ") && strstr(r.out, " at 20"),
		  "%s%s", r.out, r.err);
	cr_assert(!strstr(r.out, "GitHub"), "the writer was the sync, not this status:\n%s", r.out);
	res_free(&r);
	/* a run in CI names its job */
	kf_ws_tiers(&f, "two");
	r = am_sh(&f.t, "env GITHUB_RUN_ID=77 ", "sync");
	assert_code(r, 0);
	res_free(&r);
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake"), 0);
	r = am(&f.t, "status --json");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "{\"cluster\":\"dev\",\"summary\":{\"applied\":3,\"pending\":0,\"failed\":0,"
			 "\"to_apply\":0,\"removed\":0,\"last_written\":\"") &&
		  strstr(r.out, "(GitHub Actions run 77) at 20"), "%s%s", r.out, r.err);
	res_free(&r);
	kf_free(&f);
}

/* ignore rules of a layer (addonmake.yaml) leave the fields they name out
 * of diff, for the objects they name; the other fields are compared */
Test(SUITE, diff_leaves_out_what_the_layers_ignore_rules_name)
{
	struct kf f;
	const char *packs =
		"      - name: x\n        type: manifest\n"
		"        manifests: [{name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: c}\\n"
		"data: {v: '%s', w: '%s'}\\n\"}]\n";
	char p[1024];
	snprintf(p, sizeof(p), packs, "1", "1");
	kf_synced(&f, p);
	snprintf(p, sizeof(p), packs, "2", "2");
	kf_ws(&f, p);
	kf_yaml(&f, "", "    layers:\n      p/x:\n"
		"        ignore: [{kind: ConfigMap, name: c, paths: [/data/v, /metadata/labels/nope]}]\n");
	struct res r = am(&f.t, "diff");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "-  w: \"1\"\n+  w: \"2\"\n") && !strstr(r.out, "  v: "), "%s%s", r.out,
		  r.err);
	res_free(&r);
	/* a rule for another object leaves this one whole */
	kf_yaml(&f, "", "    layers:\n      p/x:\n"
		"        ignore: [{kind: ConfigMap, name: other, paths: [/data/v]}]\n");
	r = am(&f.t, "diff --json");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "\"paths\":[\"data.v\",\"data.w\"]"), "%s", r.out);
	res_free(&r);
	/* a path that is not a JSON pointer: bad input, with its position */
	kf_yaml(&f, "", "    layers:\n      p/x:\n        ignore: [{kind: ConfigMap, paths: [data/v]}]\n");
	r = am(&f.t, "diff");
	assert_code(r, 2);
	cr_assert(strstr(r.err, "addonmake.yaml:9:44: error: data/v: a path is a JSON pointer, as "
			 "/spec/replicas"), "%s", r.err);
	res_free(&r);
	kf_free(&f);
}

/* diff of one changed layer asks only about that layer's objects: per
 * object a GET and a dry run, besides the records' head (and discovery) */
Test(SUITE, diff_of_one_changed_layer_asks_only_about_its_objects)
{
	struct kf f;
	kf_synced_tiers(&f);
	kf_ws_tiers(&f, "two");
	char *log = kf_log(&f);
	struct res r = am(&f.t, "diff p/b");
	assert_code(r, 3);
	res_free(&r);
	char *log2 = kf_log(&f);
	const char *mine = log2 + strlen(log);
	cr_assert(strstr(mine, "GET /api/v1/namespaces/default/configmaps/cb\n") &&
		  strstr(mine, "PATCH /api/v1/namespaces/default/configmaps/cb?") &&
		  strstr(mine, "dryRun=All"), "%s", mine);
	/* nothing of a, and nothing written */
	cr_assert(!strstr(mine, "configmaps/ca") && !strstr(mine, "configmaps/cc"), "%s", mine);
	int writes = 0;
	for (const char *p = mine; *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : p + strlen(p))
		writes += (!strncmp(p, "PATCH ", 6) && !strstr(p, "dryRun=All")) || !strncmp(p, "PUT ", 4) ||
			  !strncmp(p, "POST ", 5) || !strncmp(p, "DELETE ", 7);
	cr_assert_eq(writes, 0, "diff wrote:\n%s", mine);
	free(log);
	free(log2);
	kf_free(&f);
}

/* a fleet's status from a fresh clone: every cluster's records are read
 * (together), each cluster has its line; one that cannot be reached is
 * said, and the others are shown */
Test(SUITE, status_of_a_fleet_reads_every_clusters_records)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_tiers(&f, "one");
	tws_put(&f.t, "bad.kc", "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		"clusters: [{name: t, cluster: {server: \"http://127.0.0.1:1\"}}]\n"
		"users: [{name: u, user: {token: abc}}]\ncontexts: [{name: t, context: {cluster: t, user: u}}]\n");
	struct buf ws = {0};
	buf_adds(&ws, "defaults:\n  readiness: {interval: 1s, timeout: 30s}\nclusters:\n");
	const char *names[] = {"c1", "c2", "c3", "c4", "c5"};
	for (int i = 0; i < 5; i++)
		buf_printf(&ws, "  - {name: %s, target: {kube: {kubeconfig: kc}}, profiles: [p.yaml]}\n",
			   names[i]);
	tws_put(&f.t, "addonmake.yaml", "%s", ws.s);
	struct res r = am(&f.t, "sync");
	assert_code(r, 0);
	res_free(&r);
	buf_adds(&ws, "  - {name: gone, target: {kube: {kubeconfig: bad.kc}}, profiles: [p.yaml]}\n");
	tws_put(&f.t, "addonmake.yaml", "%s", ws.s);
	buf_free(&ws);
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake"), 0);
	r = am(&f.t, "status");
	assert_code(r, 0);
	for (int i = 0; i < 5; i++) {
		char line[128];
		snprintf(line, sizeof(line), "\naddonmake: %s: 3 applied, 0 pending, 0 failed, 0 to apply; "
			 "records last written by ", names[i]);
		cr_assert(strstr(r.out, line), "%s\n%s", line, r.out);
	}
	cr_assert(strstr(r.out, "\naddonmake: gone: 0 applied, 0 pending, 0 failed, 3 to apply\n"), "%s",
		  r.out);
	cr_assert(strstr(r.err, "addonmake: warning: gone: its records in the cluster could not be read"),
		  "%s", r.err);
	res_free(&r);
	kf_free(&f);
}

/* one stand-in process serves a fleet (#18 §7): six clusters, each at
 * /clusters/NAME/ with objects of its own; an Indexed Job simulated by
 * three processes started together with JOB_COMPLETION_INDEX 0, 1, 2 and
 * --shard auto/3 syncs every cluster exactly once, and a second Job run
 * has no work anywhere */
Test(SUITE, an_indexed_job_over_a_fleet_on_one_server_syncs_each_cluster_once)
{
	STAND_IN_ONLY("serve several clusters from one process");
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_tiers(&f, "one");
	struct buf ws = {0};
	buf_adds(&ws, "defaults:\n  readiness: {interval: 1s, timeout: 30s}\nclusters:\n");
	for (int i = 0; i < 6; i++) {
		tws_put(&f.t, "kc.tmp", "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
			"clusters: [{name: t, cluster: {server: \"http://127.0.0.1:%d/clusters/c%d\"}}]\n"
			"users: [{name: u, user: {token: abc}}]\n"
			"contexts: [{name: t, context: {cluster: t, user: u}}]\n", f.port, i);
		cr_assert_eq(tws_sh(&f.t, "mv kc.tmp kc%d", i), 0);
		buf_printf(&ws, "  - {name: c%d, target: {kube: {kubeconfig: kc%d, state: cluster}}, "
			   "profiles: [p.yaml]}\n", i, i);
	}
	tws_put(&f.t, "addonmake.yaml", "%s", ws.s);
	buf_free(&ws);
	for (int run = 0; run < 2; run++) {
		/* each pod of the Job starts from a fresh clone: no .addonmake */
		cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake j0 j1 j2 && for i in 0 1 2; do "
				    "mkdir j$i && cp addonmake.yaml p.yaml kc? j$i/; done"), 0);
		cr_assert_eq(tws_sh(&f.t, "for i in 0 1 2; do (cd j$i && JOB_COMPLETION_INDEX=$i '%s' "
				    "sync --shard auto/3 > out 2>&1; echo $? > rc) & done; wait",
				    getenv("ADDONMAKE_BIN")), 0);
		for (int i = 0; i < 3; i++) {
			char p[32];
			snprintf(p, sizeof(p), "j%d/rc", i);
			char *rc = tws_get(&f.t, p);
			snprintf(p, sizeof(p), "j%d/out", i);
			char *out = tws_get(&f.t, p);
			cr_assert_str_eq(rc, "0\n", "%s", out);
			if (run)
				cr_assert(strstr(out, "no work to do."), "the second Job run:\n%s", out);
			free(rc);
			free(out);
		}
		/* each cluster's own objects: its three ConfigMaps, applied once */
		for (int i = 0; i < 6; i++) {
			char what[64];
			snprintf(what, sizeof(what), "clusters/c%d/__ctl/dump", i);
			char cmd[256];
			snprintf(cmd, sizeof(cmd), "curl -s 'http://127.0.0.1:%d/%s'", f.port, what);
			char *dump = sh_out(cmd);
			for (const char *cm = "ca\0cb\0cc\0"; *cm; cm += 3) {
				char name[64];
				snprintf(name, sizeof(name), "\"name\": \"%s\", \"namespace\": \"default\"", cm);
				int n = count_of(dump, name);
				cr_assert_eq(n, 1, "c%d has %s %d times:\n%s", i, cm, n, dump);
			}
			free(dump);
		}
		/* one PATCH of each ConfigMap, in all, per cluster: by one pod */
		char *log = kf_log_all(&f);
		for (int i = 0; i < 6; i++) {
			char patch[96];
			snprintf(patch, sizeof(patch),
				 "PATCH /clusters/c%d/api/v1/namespaces/default/configmaps/cb?", i);
			cr_assert_eq(count_lines(log, patch), 1, "%s\n%s", patch, log);
		}
		free(log);
	}
	kf_free(&f);
}

/* dist/image builds an OCI image archive from Debian packages; its
 * addonmake, unpacked with umoci and run in the root filesystem with
 * chroot (podman does not run here), syncs a workspace against the test
 * API server */
Test(SUITE, the_container_image_runs_addonmake_against_a_cluster, .timeout = 900)
{
	if (REAL)
		cr_skip_test("the image is built and run once, in the stand-in's suite");
	if (geteuid() != 0 || system("command -v mmdebstrap >/dev/null && command -v umoci >/dev/null"))
		cr_skip_test("building the image needs root, mmdebstrap and umoci");
	char probe[1200];
	snprintf(probe, sizeof(probe), "ldd '%s' | grep -q libasan", getenv("ADDONMAKE_BIN"));
	if (system(probe) == 0)
		cr_skip_test("the image is of the release build (a sanitized one needs /proc)");
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_tiers(&f, "one");
	char cmd[2400];
	snprintf(cmd, sizeof(cmd), "cd '%s' && ADDONMAKE_BIN='%s' '%s/dist/image' '%s/img.tar' > '%s/image.log' 2>&1",
		 f.t.dir, getenv("ADDONMAKE_BIN"), getenv("ADDONMAKE_SRC"), f.t.dir, f.t.dir);
	int st = system(cmd);
	char *log = tws_get(&f.t, "image.log");
	cr_assert_eq(st, 0, "dist/image failed:\n%s", log ? log : "");
	cr_assert(log && strstr(log, "image: ") && strstr(log, "img.tar"), "%s", log ? log : "");
	free(log);
	cr_assert_eq(tws_sh(&f.t, "mkdir oci && tar -C oci -xf img.tar && umoci unpack --image oci:latest "
			    "bundle > /dev/null && grep -q '\"/usr/bin/addonmake\"' bundle/config.json && "
			    "cp addonmake.yaml p.yaml kc bundle/rootfs/work/"), 0);
	snprintf(cmd, sizeof(cmd), "chroot '%s/bundle/rootfs' /bin/sh -c 'cd /work && addonmake sync' 2>&1",
		 f.t.dir);
	char *out = sh_out(cmd);
	cr_assert(strstr(out, "ready p/a") && strstr(out, "ready p/c") && strstr(out, "3 applied"), "%s", out);
	free(out);
	char *cc = kf_get(&f, "/api/v1/namespaces/default/configmaps/cc");
	cr_assert(strstr(cc, "\"name\": \"cc\""), "%s", cc);
	free(cc);
	cr_assert_eq(tws_sh(&f.t, "rm -rf bundle oci"), 0);
	kf_free(&f);
}

static char *kf_drift_sync(struct kf *f, const char *args);

/* drift (#17 §2): four tiers in namespace default — a (ConfigMap cfg), b
 * (Deployment web, cpu "0.5", which the server writes back as 500m), c
 * (ConfigMap cc), d (ConfigMap cd) —, synced (kf_drift_sync) */
static void
kf_drift_synced(struct kf *f, const char *more)
{
	kf_init(f, NULL);
	kf_ws(f, "      - name: a\n        type: manifest\n"
		 "        values: \"pack: {spectrocloud.com/install-priority: \\\"0\\\"}\"\n"
		 "        manifests: [{name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\n"
		 "metadata: {name: cfg}\\ndata: {k: v, x: one}\\n\"}]\n"
		 "      - name: b\n        type: manifest\n"
		 "        values: \"pack: {spectrocloud.com/install-priority: \\\"10\\\"}\"\n"
		 "        manifests: [{name: m, content: \"apiVersion: apps/v1\\nkind: Deployment\\n"
		 "metadata: {name: web}\\nspec:\\n  replicas: 1\\n  selector: {matchLabels: {app: web}}\\n"
		 "  template:\\n    metadata: {labels: {app: web}}\\n    spec: {containers: [{name: web, "
		 "image: nginx, resources: {requests: {cpu: \\\"0.5\\\"}}}]}\\n\"}]\n"
		 "      - name: c\n        type: manifest\n"
		 "        values: \"pack: {spectrocloud.com/install-priority: \\\"20\\\"}\"\n"
		 "        manifests: [{name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\n"
		 "metadata: {name: cc}\\n\"}]\n"
		 "      - name: d\n        type: manifest\n"
		 "        values: \"pack: {spectrocloud.com/install-priority: \\\"30\\\"}\"\n"
		 "        manifests: [{name: m, content: \"apiVersion: v1\\nkind: ConfigMap\\n"
		 "metadata: {name: cd}\\n\"}]\n");
	kf_yaml(f, "", more);
	free(kf_drift_sync(f, "sync"));
}

#define DRIFT_WEB "/apis/apps/v1/namespaces/default/deployments/web"

/* the object at path's metadata.generation and status.observedGeneration
 * (0 when absent) */
static void
kf_generations(struct kf *f, const char *path, long *gen, long *seen)
{
	char *live = kf_get(f, path);
	char *g = strstr(live, "\"generation\":"), *o = strstr(live, "\"observedGeneration\":");
	*gen = g ? strtol(g + 13 + strspn(g + 13, " "), NULL, 10) : 0;
	*seen = o ? strtol(o + 21 + strspn(o + 21, " "), NULL, 10) : 0;
	free(live);
}

/* runs addonmake args, and meanwhile, as a controller would (neither
 * server here runs controllers), says Deployment web is Available each
 * time its generation is new; what the run printed */
static char *
kf_drift_sync(struct kf *f, const char *args)
{
	pid_t pid = am_bg(&f->t, args);
	int st;
	while (waitpid(pid, &st, WNOHANG) == 0) {
		long gen, seen;
		kf_generations(f, DRIFT_WEB, &gen, &seen);
		if (gen && gen != seen) {
			char status[600];
			snprintf(status, sizeof(status),
				 "{\"observedGeneration\":%ld,\"replicas\":1,\"updatedReplicas\":1,"
				 "\"readyReplicas\":1,\"availableReplicas\":1,\"conditions\":[{\"type\":"
				 "\"Available\",\"status\":\"True\"},{\"type\":\"Progressing\",\"status\":"
				 "\"True\",\"reason\":\"NewReplicaSetAvailable\"}]}", gen);
			kf_status(f, DRIFT_WEB, status);
		}
		nanosleep(&(struct timespec){0, 50000000L}, NULL);
	}
	char *out = tws_get(&f->t, "bg.out"), *err = tws_get(&f->t, "bg.err");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "exit %d\n%s%s", WEXITSTATUS(st), out, err);
	free(err);
	return out;
}

/* kubectl with the workspace's kubeconfig (and the editor ed.sh of the
 * workspace for kubectl edit): what it printed */
static char *
kf_kubectl(struct kf *f, const char *args)
{
	const char *kc = kubectl();
	if (!kc)
		cr_skip_test("kubectl is not installed");
	char cmd[2400];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && KUBECACHEDIR='%s/cache' KUBE_EDITOR='%s/ed.sh' %s --kubeconfig kc %s "
		 "</dev/null 2>&1", f->t.dir, f->t.dir, f->t.dir, kc, args);
	return sh_out(cmd);
}

/* kubectl proxy in front of f's server (for a minute at most, whatever
 * becomes of the test; its pid in proxy.pid), and kc made to name it */
static void
kubectl_proxy(struct kf *f)
{
	const char *kc = kubectl();
	if (!kc)
		cr_skip_test("kubectl is not installed");
	/* in a group: $! and proxy.pid in the workspace, after its cd */
	cr_assert_eq(tws_sh(&f->t, "{ KUBECACHEDIR=\"$PWD/cache\" timeout 60 %s --kubeconfig kc proxy "
			    "--port=0 --address=127.0.0.1 >proxy.out 2>&1 & echo $! >proxy.pid; }", kc), 0);
	const char *at = "Starting to serve on 127.0.0.1:";
	int port = 0;
	for (int i = 0; i < 400 && !port; i++) {
		char *o = tws_get(&f->t, "proxy.out");
		char *p = o ? strstr(o, at) : NULL;
		port = p ? atoi(p + strlen(at)) : 0;
		free(o);
		struct timespec ts = {0, 25000000};
		if (!port)
			nanosleep(&ts, NULL);
	}
	cr_assert(port, "kubectl proxy did not start");
	tws_put(&f->t, "kc", "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
		"clusters: [{name: t, cluster: {server: \"http://127.0.0.1:%d\"}}]\n"
		"users: [{name: u, user: {}}]\ncontexts: [{name: t, context: {cluster: t, user: u}}]\n",
		port);
}

/* kubectl proxy serves the cluster over plain HTTP/1.1 (a real Go HTTP
 * server in front of either API server): addonmake syncs through it by its
 * own HTTP/1.1 client, and its no-op too */
Test(SUITE, a_cluster_through_kubectl_proxy_is_synced)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_configmaps(&f, 3);
	kubectl_proxy(&f);
	struct res r = am(&f.t, "sync");
	struct res n = am(&f.t, "sync");
	cr_assert_eq(tws_sh(&f.t, "kill $(cat proxy.pid)"), 0);
	assert_code(r, 0);
	assert_code(n, 0);
	cr_assert(strstr(n.out, "no work to do"), "%s", n.out);
	char *log = kf_log(&f);
	for (int i = 0; i < 3; i++) {
		char want[80];
		snprintf(want, sizeof(want), "PATCH /api/v1/namespaces/default/configmaps/c%d", i);
		cr_assert_eq(count_lines(log, want), 1, "%s\n%s", want, log);
	}
	free(log);
	res_free(&r);
	res_free(&n);
	kf_free(&f);
}

/* and a watch streams through it: the wait ends at the status change */
Test(SUITE, readiness_waits_with_a_watch_through_kubectl_proxy)
{
	struct kf f;
	kf_init(&f, NULL);
	kf_ws_1m(&f, deploy_layer);
	kubectl_proxy(&f);
	waits_with_a_watch(&f);
	cr_assert_eq(tws_sh(&f.t, "kill $(cat proxy.pid)"), 0);
	kf_free(&f);
}

/* kubectl edit of object what, its editor the sed script sed */
static void
kf_edit(struct kf *f, const char *what, const char *sed)
{
	tws_put(&f->t, "ed.sh", "#!/bin/sh\nsed -i '%s' \"$1\"\n", sed);
	cr_assert_eq(tws_sh(&f->t, "chmod +x ed.sh"), 0);
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "edit %s", what);
	char *o = kf_kubectl(f, cmd);
	cr_assert(strstr(o, "edited"), "%s", o);
	free(o);
}

/* a ConfigMap edited with kubectl edit, a Deployment scaled by hand and an
 * object deleted: plan --drift names each with its path and who changed
 * it, sync --drift repairs exactly those layers (the later tier d is not
 * applied: its inputs did not change), and plan --drift is clean after */
Test(SUITE, drift_is_found_by_path_and_manager_repaired_and_then_clean)
{
	struct kf f;
	kf_drift_synced(&f, "");
	/* no drift: one LIST per kind, nothing else of the layers' */
	free(kf_log(&f));
	char *mark = kf_log(&f);
	struct res r = am(&f.t, "plan --drift --detailed-exitcode");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "no work to do."), "%s", r.out);
	res_free(&r);
	char *log = kf_log(&f);
	const char *since = log + strlen(mark);
	cr_assert(strstr(since, "GET /api/v1/configmaps?labelSelector=app.kubernetes.io%2Fmanaged-by%3Daddonmake") &&
		  strstr(since, "GET /apis/apps/v1/deployments?labelSelector=app.kubernetes.io%2Fmanaged-by%3Daddonmake"),
		  "%s", since);
	cr_assert(!strstr(since, "/namespaces/default/"), "a request per object:\n%s", since);
	free(log);
	free(mark);
	/* someone edits, scales, deletes */
	kf_edit(&f, "configmap cfg", "s/k: v/k: changed/");
	char *o = kf_kubectl(&f, "scale deployment web --replicas=3");
	cr_assert(strstr(o, "scaled"), "%s", o);
	free(o);
	o = kf_kubectl(&f, "delete configmap cc");
	cr_assert(strstr(o, "deleted"), "%s", o);
	free(o);
	r = am(&f.t, "plan --drift --detailed-exitcode");
	assert_code(r, 3);
	cr_assert(strstr(r.out, "dev: apply p/a (order 0): drifted: ConfigMap default/cfg: /data/k "
				"(changed by kubectl-edit)\n"), "%s", r.out);
	/* a modern server names who scaled it (the scale subresource's
	 * manager); v1.20 keeps no manager for it */
	cr_assert(strstr(r.out, REAL ? "dev: apply p/b (order 10): drifted: Deployment default/web: "
				       "/spec/replicas\n"
				     : "dev: apply p/b (order 10): drifted: Deployment default/web: "
				       "/spec/replicas (changed by kubectl)\n"), "%s", r.out);
	cr_assert(strstr(r.out, "dev: apply p/c (order 20): deleted: ConfigMap default/cc\n"), "%s", r.out);
	cr_assert(!strstr(r.out, "p/d"), "the later tier is not dirty:\n%s", r.out);
	/* the normalised cpu (500m) is not drift */
	cr_assert(!strstr(r.out, "cpu"), "%s", r.out);
	res_free(&r);
	/* plan without --drift reads nothing and sees nothing */
	r = am(&f.t, "plan");
	cr_assert(strstr(r.out, "no work to do."), "%s", r.out);
	res_free(&r);
	o = kf_drift_sync(&f, "sync --drift");
	cr_assert(strstr(o, "ready p/a") && strstr(o, "ready p/b") && strstr(o, "ready p/c") &&
		  !strstr(o, "p/d"), "%s", o);
	cr_assert(strstr(o, "3 applied"), "%s", o);
	free(o);
	o = kf_kubectl(&f, "get configmap/cfg deployment/web configmap/cc -o "
			   "jsonpath='{.items[0].data.k} {.items[1].spec.replicas} {.items[2].metadata.name}'");
	cr_assert_str_eq(o, "v 1 cc");
	free(o);
	r = am(&f.t, "plan --drift --detailed-exitcode");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "no work to do."), "%s", r.out);
	res_free(&r);
	kf_free(&f);
}

/* a field held by a manager the cluster trusts (ignoreManagers) or named
 * by an ignore rule is not drift; --explain says which and why */
Test(SUITE, drift_leaves_trusted_managers_and_ignored_paths_alone)
{
	struct kf f;
	kf_drift_synced(&f, "    ignoreManagers: [hpa]\n"
			    "    layers:\n"
			    "      p/a: {ignore: [{kind: ConfigMap, name: cfg, paths: [/data/k]}]}\n");
	kf_edit(&f, "configmap cfg", "s/k: v/k: changed/; s/x: one/x: two/");
	/* an autoscaler takes spec.replicas, as an HPA's controller does */
	tws_put(&f.t, "hpa.yaml", "apiVersion: apps/v1\nkind: Deployment\n"
		"metadata: {name: web, namespace: default}\nspec: {replicas: 3}\n");
	char *o = kf_kubectl(&f, "apply --server-side --field-manager=hpa --force-conflicts "
			     "--validate=false -f hpa.yaml");
	cr_assert(strstr(o, "serverside-applied"), "%s", o);
	free(o);
	struct res r = am(&f.t, "plan --drift --explain");
	assert_code(r, 0);
	/* /data/x is not ignored */
	cr_assert(strstr(r.out, "dev: apply p/a (order 0): drifted: ConfigMap default/cfg: /data/x "
				"(changed by kubectl-edit)\n"), "%s", r.out);
	cr_assert(!strstr(r.out, "p/b"), "%s", r.out);
	cr_assert(strstr(r.err, "addonmake explain: dev: p/a: ConfigMap default/cfg: /data/k (changed by "
				"kubectl-edit): not drift (an ignore rule)"), "%s", r.err);
	cr_assert(strstr(r.err, "addonmake explain: dev: p/b: Deployment default/web: /spec/replicas "
				"(changed by hpa): not drift (ignoreManagers of the cluster)"),
		  "%s", r.err);
	res_free(&r);
	kf_free(&f);
}

/* a Secret's value changed in the cluster is drift, named by its path;
 * neither value is in any output of plan --drift or sync --drift */
Test(SUITE, drift_of_a_secret_names_the_path_and_shows_no_value)
{
	struct kf f;
	kf_synced(&f, "      - name: s\n        type: manifest\n"
		      "        manifests: [{name: m, content: \"apiVersion: v1\\nkind: Secret\\n"
		      "metadata: {name: s, namespace: default}\\nstringData: {password: planted-value-123}"
		      "\\n\"}]\n");
	struct res r = am(&f.t, "plan --drift");
	cr_assert(strstr(r.out, "no work to do."), "%s%s", r.out, r.err);
	res_free(&r);
	char *o = kf_kubectl(&f, "patch secret s -p '{\"stringData\":{\"password\":\"other-planted-456\"}}'");
	cr_assert(strstr(o, "patched"), "%s", o);
	free(o);
	const char *modes[] = {"plan --drift", "plan --drift --json", "plan --drift --explain -v",
			       "sync --drift --json", "plan --drift"};
	for (int i = 0; i < 5; i++) {
		r = am(&f.t, "%s", modes[i]);
		assert_code(r, 0);
		if (i == 0)
			cr_assert(strstr(r.out, "dev: apply p/s (order 0): drifted: Secret default/s: "
						"/data/password (changed by kubectl-patch)\n"), "%s", r.out);
		if (i == 4)
			cr_assert(strstr(r.out, "no work to do."), "repaired:\n%s", r.out);
		const char *bad[] = {"planted-value-123", "other-planted-456",
				     "cGxhbnRlZC12YWx1ZS0xMjM", "b3RoZXItcGxhbnRlZC00NTY"};
		for (int k = 0; k < 4; k++)
			cr_assert(!strstr(r.out, bad[k]) && !strstr(r.err, bad[k]), "%s shows %s:\n%s%s",
				  modes[i], bad[k], r.out, r.err);
		res_free(&r);
	}
	kf_free(&f);
}

#ifndef KUBE_REAL
/* -J never mixes two clusters' credentials: two servers, each with its own
 * CA and accepting only its own token, synced at once; a kubeconfig given
 * the other's token or CA is refused (so the check can fail) */
Test(SUITE, clusters_at_once_keep_their_own_credentials)
{
	struct kf f;
	tws_init(&f.t);
	make_certs_in(&f, "ca-a");
	make_certs_in(&f, "ca-b");
	int port[2];
	pid_t srv[2];
	for (int i = 0; i < 2; i++) {
		char a[1200];
		snprintf(a, sizeof(a), "--tls '%s/ca-%c/srv.crt' '%s/ca-%c/srv.key' --token tok-%c",
			 f.t.dir, 'a' + i, f.t.dir, 'a' + i, 'a' + i);
		srv[i] = srv_start_script("kubeapi.py", a, &port[i]);
		cr_assert(srv[i], "no server");
	}
	kf_ws_tiers(&f, "one");
	const char *kc = "apiVersion: v1\nkind: Config\ncurrent-context: t\n"
			 "clusters: [{name: t, cluster: {server: \"https://127.0.0.1:%d\", "
			 "certificate-authority: ca-%c/ca.crt}}]\n"
			 "users: [{name: u, user: {token: tok-%c}}]\n"
			 "contexts: [{name: t, context: {cluster: t, user: u}}]\n";
	tws_put(&f.t, "kc-a", kc, port[0], 'a', 'a');
	tws_put(&f.t, "kc-b", kc, port[1], 'b', 'b');
	tws_put(&f.t, "kc-wrong-token", kc, port[1], 'b', 'a');
	tws_put(&f.t, "kc-wrong-ca", kc, port[1], 'a', 'b');
	const char *ws = "defaults:\n  readiness: {interval: 1s, timeout: 30s}\nclusters:\n"
			 "  - {name: a, target: {kube: {kubeconfig: %s}}, profiles: [p.yaml]}\n"
			 "  - {name: b, target: {kube: {kubeconfig: %s}}, profiles: [p.yaml]}\n";
	tws_put(&f.t, "addonmake.yaml", ws, "kc-a", "kc-b");
	struct res r = am(&f.t, "sync -J 2");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "addonmake: a: synced (3 applied)") &&
		  strstr(r.out, "addonmake: b: synced (3 applied)"), "%s%s", r.out, r.err);
	res_free(&r);
	/* each server has the objects of its cluster */
	for (int i = 0; i < 2; i++) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "curl -sk 'https://127.0.0.1:%d/__ctl/dump'", port[i]);
		char *dump = sh_out(cmd);
		char want[64];
		snprintf(want, sizeof(want), "\"addonmake.io/cluster\": \"%c\"", 'a' + i);
		char other[64];
		snprintf(other, sizeof(other), "\"addonmake.io/cluster\": \"%c\"", 'b' - i);
		cr_assert(strstr(dump, want) && !strstr(dump, other), "server %d:\n%s", i, dump);
		free(dump);
	}
	/* the servers do tell credentials apart */
	tws_put(&f.t, "addonmake.yaml", ws, "kc-wrong-token", "kc-wrong-ca");
	cr_assert_eq(tws_sh(&f.t, "rm -rf .addonmake"), 0);
	r = am(&f.t, "sync -J 2 -k");
	assert_code(r, 1);
	cr_assert(strstr(r.err, "cluster a: ") && strstr(r.err, "401") && strstr(r.err, "cluster b: ") &&
		  strstr(r.err, "certificate"), "%s", r.err);
	res_free(&r);
	for (int i = 0; i < 2; i++)
		srv_stop(srv[i]);
	tws_free(&f.t);
}
#endif
