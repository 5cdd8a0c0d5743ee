/* e2e secrets: secrets planted in every place a user keeps them — a
 * sensitive profile variable, a Secret's data and stringData, a kubeconfig
 * token and client key, a registry password and a password in a registry
 * URL — never appear in anything addonmake prints, in any output mode,
 * on success or on failure. */
#include <stdio.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

static const char *const planted[] = {
	"S3NSITIVE-variable", "S3CRET-data-value", "S3CRET-string-data",
	"T0KEN-of-kubeconfig", "K3Y-client-key", "P4SSWORD-registry", "URLP4SS-in-url",
};

static void
assert_clean(const struct res *r, const char *how)
{
	for (size_t i = 0; i < sizeof(planted) / sizeof(*planted); i++) {
		cr_assert(!strstr(r->out, planted[i]), "`%s` printed %s on stdout:\n%s", how,
			  planted[i], r->out);
		cr_assert(!strstr(r->err, planted[i]), "`%s` printed %s on stderr:\n%s", how,
			  planted[i], r->err);
	}
}

Test(secrets, no_output_mode_prints_a_planted_secret)
{
	struct tws t;
	tws_init(&t);
	struct buf b64 = {0};
	/* "S3CRET-data-value" in base64 */
	buf_adds(&b64, "UzNDUkVULWRhdGEtdmFsdWU=");
	tws_put(&t, "kc",
		"apiVersion: v1\nkind: Config\ncurrent-context: c\n"
		"clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
		"users: [{name: u, user: {token: T0KEN-of-kubeconfig, "
		"client-key-data: SzNZLWNsaWVudC1rZXk=}}]\n" /* K3Y-client-key */
		"contexts: [{name: c, context: {cluster: c, user: u}}]\n");
	tws_put(&t, "addonmake.yaml",
		"registries:\n"
		"  - {name: charts, kind: helm, url: \"http://127.0.0.1:1/charts\", username: me, "
		"password: P4SSWORD-registry}\n"
		"  - {name: urlcharts, kind: helm, url: \"http://me:URLP4SS-in-url@127.0.0.1:1/c\"}\n"
		"clusters:\n"
		"  - name: dev\n"
		"    target: {render: {dir: out}}\n"
		"    profiles: [p.yaml]\n"
		"    variables: {password: S3NSITIVE-variable}\n");
	tws_put(&t, "p.yaml",
		"metadata: {name: p}\n"
		"spec:\n"
		"  variables:\n"
		"    - {name: password, isSensitive: true, required: true}\n"
		"  template:\n"
		"    packs:\n"
		"      - name: app\n"
		"        type: manifest\n"
		"        values: |\n"
		"          pack: {namespace: apps}\n"
		"          db: {password: \"{{.spectro.var.password}}\"}\n"
		"        manifests:\n"
		"          - name: s\n"
		"            content: |\n"
		"              apiVersion: v1\n"
		"              kind: Secret\n"
		"              metadata: {name: db}\n"
		"              data: {password: %s}\n"
		"              stringData: {other: S3CRET-string-data, pw: \"{{.spectro.var.password}}\"}\n",
		b64.s);
	buf_free(&b64);
	const char *modes[] = {"sync -v --explain", "plan", "plan --json", "status", "graph",
			       "sync -B --json", "-B -j 1", "status --json"};
	for (size_t i = 0; i < sizeof(modes) / sizeof(*modes); i++) {
		struct res r = am(&t, modes[i]);
		assert_code(r, 0);
		assert_clean(&r, modes[i]);
		res_free(&r);
	}
	/* the rendered Secret does hold them: they were planted where they count */
	char *out = tws_get(&t, "out/p00000_p+app.yaml");
	cr_assert(out && strstr(out, "S3CRET-string-data") && strstr(out, "S3NSITIVE-variable"), "%s",
		  out ? out : "(none)");
	free(out);

	/* failures: a helm layer whose registries cannot be reached, a kube
	 * cluster that cannot be reached, a layer whose value is bad */
	tws_put(&t, "q.yaml",
		"metadata: {name: q}\nspec:\n  template:\n    packs:\n"
		"      - {name: c1, type: helm, version: 1.0.0, registry: {metadata: {name: charts}}}\n"
		"      - {name: c2, type: helm, version: 1.0.0, registry: {metadata: {name: urlcharts}}}\n");
	char *ws = tws_get(&t, "addonmake.yaml");
	tws_put(&t, "addonmake.yaml", "%s"
		"  - {name: remote, target: {render: {dir: out2}}, profiles: [q.yaml]}\n"
		"  - name: kube\n    target: {kube: {kubeconfig: kc}}\n    profiles: [p.yaml]\n"
		"    variables: {password: S3NSITIVE-variable}\n", ws);
	free(ws);
	const char *failing[] = {"sync -v -k", "sync --json -k", "plan -v", "-c kube -v"};
	for (size_t i = 0; i < sizeof(failing) / sizeof(*failing); i++) {
		struct res r = am(&t, failing[i]);
		cr_assert_neq(r.code, 0, "`%s` did not fail:\n%s%s", failing[i], r.out, r.err);
		assert_clean(&r, failing[i]);
		res_free(&r);
	}
	/* a sensitive value that breaks the values it is put into: the error
	 * names the place, not the value */
	tws_put(&t, "addonmake.yaml",
		"clusters:\n  - name: dev\n    target: {render: {dir: out}}\n    profiles: [p.yaml]\n"
		"    variables: {password: \"S3NSITIVE-variable\\\" ]\"}\n");
	struct res r = am(&t, "plan -v");
	assert_code(r, 2);
	assert_clean(&r, "plan with a sensitive value that breaks its YAML");
	res_free(&r);
	/* an error that quotes the value it refuses shows (sensitive) */
	tws_put(&t, "addonmake.yaml",
		"clusters:\n  - name: dev\n    target: {render: {dir: out}}\n    profiles: [p.yaml]\n"
		"    variables: {password: S3NSITIVE-variable}\n");
	char *prof = tws_get(&t, "p.yaml");
	char *ns = strstr(prof, "pack: {namespace: apps}");
	cr_assert_not_null(ns);
	tws_put(&t, "p.yaml", "%.*spack: {namespace: \"{{.spectro.var.password}}\"}%s", (int)(ns - prof),
		prof, ns + strlen("pack: {namespace: apps}"));
	free(prof);
	r = am(&t, "plan --json");
	assert_code(r, 2);
	assert_clean(&r, "plan with a sensitive namespace");
	cr_assert(strstr(r.err, "p.yaml:10:29: error: namespace \"(sensitive)\" of pack \"app\" is not a "
				"valid name"), "%s", r.err);
	res_free(&r);
	tws_free(&t);
}
