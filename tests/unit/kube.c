/* unit tests of src/kube/: kstatus rules, kubeconfig merging, base64, and the
 * YAML 1.1 typing of doc_emit_json that manifests are sent with */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../src/kube/kube.h"

static struct dnode *
parse(struct arena *a, const char *s)
{
	struct dnode *root = NULL;
	cr_assert_eq(doc_parse_first(a, s, strlen(s), NULL, &root, NULL), 0, "%s", s);
	return root;
}

static int
status_of(const char *json, char *why, size_t n)
{
	struct arena a = {0};
	struct buf b = {0};
	int st = kube_kstatus(parse(&a, json), 1000000, &b);
	snprintf(why, n, "%s", b.s ? b.s : "");
	buf_free(&b);
	arena_free(&a);
	return st;
}

Test(kstatus, deployment_rules)
{
	char why[512];
	cr_assert_eq(status_of("{apiVersion: apps/v1, kind: Deployment, metadata: {generation: 2},"
			       " spec: {replicas: 2}, status: {observedGeneration: 1}}", why, sizeof(why)),
		     KS_INPROGRESS);
	cr_assert(strstr(why, "LatestGenerationNotObserved"), "%s", why);
	cr_assert_eq(status_of("{apiVersion: apps/v1, kind: Deployment, spec: {replicas: 2},"
			       " status: {replicas: 2, updatedReplicas: 2, readyReplicas: 1,"
			       " availableReplicas: 2}}", why, sizeof(why)), KS_INPROGRESS);
	cr_assert_str_eq(why, "LessReady: 1/2 ready");
	cr_assert_eq(status_of("{apiVersion: apps/v1, kind: Deployment, status: {conditions: ["
			       "{type: Progressing, status: 'False', reason: ProgressDeadlineExceeded,"
			       " message: slow}]}}", why, sizeof(why)), KS_FAILED);
	cr_assert_str_eq(why, "ProgressDeadlineExceeded: slow");
	cr_assert_eq(status_of("{apiVersion: apps/v1, kind: Deployment, spec: {replicas: 1},"
			       " status: {replicas: 1, updatedReplicas: 1, readyReplicas: 1,"
			       " availableReplicas: 1, conditions: [{type: Available, status: 'True'},"
			       " {type: Progressing, status: 'True', reason: NewReplicaSetAvailable}]}}",
			       why, sizeof(why)), KS_CURRENT);
}

Test(kstatus, other_kinds)
{
	char why[512];
	cr_assert_eq(status_of("{apiVersion: v1, kind: ConfigMap}", why, sizeof(why)), KS_CURRENT);
	cr_assert_eq(status_of("{apiVersion: v1, kind: PersistentVolumeClaim, status: {phase: Pending}}",
			       why, sizeof(why)), KS_INPROGRESS);
	cr_assert_eq(status_of("{apiVersion: batch/v1, kind: Job, status: {conditions: [{type: Failed,"
			       " status: 'True', message: boom}]}}", why, sizeof(why)), KS_FAILED);
	cr_assert_eq(status_of("{apiVersion: batch/v1, kind: Job, status: {startTime: x}}", why,
			       sizeof(why)), KS_CURRENT);
	cr_assert_eq(status_of("{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition}",
			       why, sizeof(why)), KS_INPROGRESS);
	cr_assert_eq(status_of("{apiVersion: apiextensions.k8s.io/v1, kind: CustomResourceDefinition,"
			       " status: {conditions: [{type: Established, status: 'True'}]}}", why,
			       sizeof(why)), KS_CURRENT);
	cr_assert_eq(status_of("{apiVersion: v1, kind: Pod, status: {phase: Running, containerStatuses:"
			       " [{name: c, state: {waiting: {reason: CrashLoopBackOff}}}]}}", why,
			       sizeof(why)), KS_FAILED);
	cr_assert_eq(status_of("{apiVersion: apps/v1, kind: StatefulSet, spec: {replicas: 2},"
			       " status: {replicas: 2, readyReplicas: 2, currentReplicas: 2,"
			       " currentRevision: a, updateRevision: b}}", why, sizeof(why)), KS_INPROGRESS);
	cr_assert(strstr(why, "RevisionMismatch"), "%s", why);
	cr_assert_eq(status_of("{apiVersion: example.com/v1, kind: Widget, status: {conditions:"
			       " [{type: Ready, status: 'False', message: warming}]}}", why,
			       sizeof(why)), KS_INPROGRESS);
	cr_assert_eq(status_of("{apiVersion: example.com/v1, kind: Widget, status: {conditions:"
			       " [{type: Stalled, status: 'True', message: stuck}]}}", why,
			       sizeof(why)), KS_FAILED);
	cr_assert_eq(status_of("{apiVersion: v1, kind: Service, metadata: {deletionTimestamp: x}}", why,
			       sizeof(why)), KS_TERMINATING);
}

Test(json, yaml11_typing_like_kubectl)
{
	struct arena a = {0};
	struct buf b = {0};
	doc_emit_json(&b, parse(&a, "{a: yes, b: 'yes', c: 010, d: 0x1F, e: 1_000, f: 1.5, g: ~,"
				   " h: \"1\", i: +3, j: [on, Off], k: 1e3, l: tab\\there, m: 0.5.1}"));
	cr_assert_str_eq(b.s, "{\"a\":true,\"b\":\"yes\",\"c\":8,\"d\":31,\"e\":1000,\"f\":1.5,"
			      "\"g\":null,\"h\":\"1\",\"i\":3,\"j\":[true,false],\"k\":1e3,"
			      "\"l\":\"tab\\\\there\",\"m\":\"0.5.1\"}");
	buf_free(&b);
	arena_free(&a);
}

Test(b64, decodes_with_and_without_padding)
{
	struct buf b = {0};
	cr_assert_eq(kube_b64_decode("aGVsbG8=", 8, &b), 0);
	cr_assert_str_eq(b.s, "hello");
	buf_clear(&b);
	cr_assert_eq(kube_b64_decode("aGVsbG8", 7, &b), 0);
	cr_assert_str_eq(b.s, "hello");
	cr_assert_eq(kube_b64_decode("a*b", 3, &b), -1);
	buf_free(&b);
}

Test(b64, encodes_with_padding_and_round_trips_every_byte)
{
	struct buf b = {0}, d = {0};
	const char *want[] = {"", "aA==", "aGU=", "aGVs", "aGVsbG8="};
	for (size_t n = 0; n < 5; n++) {
		buf_clear(&b);
		kube_b64_encode("hello", n == 4 ? 5 : n, &b);
		cr_assert_str_eq(b.s, want[n], "%zu bytes: %s", n, b.s);
	}
	unsigned char all[256];
	for (int i = 0; i < 256; i++)
		all[i] = (unsigned char)i;
	buf_clear(&b);
	kube_b64_encode(all, sizeof(all), &b);
	cr_assert_eq(kube_b64_decode(b.s, b.len, &d), 0);
	cr_assert_eq(d.len, sizeof(all));
	cr_assert(memcmp(d.s, all, sizeof(all)) == 0);
	buf_free(&b);
	buf_free(&d);
}

static void
put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	cr_assert(f);
	fputs(text, f);
	fclose(f);
}

Test(kubeconfig, merges_first_wins_and_resolves_relative_paths)
{
	char dir[] = "/tmp/kc-test-XXXXXX";
	cr_assert(mkdtemp(dir));
	char a[300], b[300], list[700], ca[300];
	snprintf(a, sizeof(a), "%s/a", dir);
	snprintf(b, sizeof(b), "%s/b", dir);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	put(ca, "PEM");
	char tokf[320];
	snprintf(tokf, sizeof(tokf), "%s/tok", dir);
	put(tokf, "t1\n");
	put(a, "current-context: one\n"
	       "clusters: [{name: c, cluster: {server: 'https://first:6443/', certificate-authority: ca.pem}}]\n"
	       "users: [{name: u, user: {tokenFile: tok}}]\n"
	       "contexts: [{name: one, context: {cluster: c, user: u, namespace: ns1}}]\n");
	put(b, "current-context: two\n"
	       "clusters: [{name: c, cluster: {server: 'https://second'}}]\n"
	       "users: [{name: v, user: {token: t2}}]\n"
	       "contexts: [{name: two, context: {cluster: c, user: v}}]\n");
	snprintf(list, sizeof(list), "%s::%s:/nonexistent", a, b);
	setenv("KUBECONFIG", list, 1);
	struct kube_cfg cfg;
	struct buf err = {0};
	cr_assert_eq(kube_config_load(NULL, NULL, NULL, &cfg, &err), 0, "%s", err.s);
	cr_assert_str_eq(cfg.server, "https://first:6443");
	cr_assert_str_eq(cfg.ns, "ns1");
	cr_assert_str_eq(cfg.ca.s, "PEM");
	char tok[320];
	snprintf(tok, sizeof(tok), "%s/tok", dir);
	cr_assert_str_eq(cfg.token_file, tok);
	kube_config_free(&cfg);
	/* the second file's context, with the first file's cluster c */
	cr_assert_eq(kube_config_load(NULL, "two", NULL, &cfg, &err), 0, "%s", err.s);
	cr_assert_str_eq(cfg.server, "https://first:6443");
	cr_assert_str_eq(cfg.token, "t2");
	kube_config_free(&cfg);
	cr_assert_eq(kube_config_load(NULL, "three", NULL, &cfg, &err), -1);
	cr_assert(strstr(err.s, "the kubeconfig has no context three (it has: one two)"), "%s", err.s);
	buf_free(&err);
	unsetenv("KUBECONFIG");
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(system(cmd), 0);
}
