/* fixtures: the workspaces the end-to-end suites share. */
#include <stdio.h>
#include <unistd.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

void
fx_profile(struct tws *t, const char *b_value, const char *extra_packs)
{
	tws_put(t, "p.yaml",
		"# the test profile\n"
		"metadata: {name: p}\n"
		"spec:\n"
		"  variables:\n"
		"    - {name: replicas, defaultValue: \"1\", required: true}\n"
		"  template:\n"
		"    packs:\n"
		"      - name: crds\n"
		"        type: manifest\n"
		"        values: |\n"
		"          pack:\n"
		"            spectrocloud.com/install-priority: \"-10\"\n"
		"        manifests:\n"
		"          - {name: m, content: \"kind: CustomResourceDefinition\"}\n"
		"      - name: a\n"
		"        type: manifest\n"
		"        manifests:\n"
		"          - name: m\n"
		"            content: |\n"
		"              kind: Deployment\n"
		"              spec: {replicas: {{.spectro.var.replicas}}}\n"
		"      - name: b\n"
		"        type: manifest\n"
		"        values: |\n"
		"          pack:\n"
		"            namespace: bee\n"
		"            spectrocloud.com/install-priority: \"0\"\n"
		"          setting: %s\n"
		"        manifests:\n"
		"          - {name: m, content: \"kind: ConfigMap\\ndata: {k: v}\"}\n"
		"      - name: c\n"
		"        type: manifest\n"
		"        values: |\n"
		"          pack:\n"
		"            spectrocloud.com/install-priority: \"10\"\n"
		"        manifests:\n"
		"          - {name: m, content: \"kind: Service\"}\n"
		"%s",
		b_value, extra_packs ? extra_packs : "");
}

void
fx_exec_ws(struct tws *t, const char *apply_extra, const char *layers_yaml)
{
	tws_put(t, "addonmake.yaml",
		"clusters:\n"
		"  - name: dev\n"
		"    target:\n"
		"      exec:\n"
		"        apply: [sh, -c, 'echo \"start $ADDONMAKE_LAYER\" >> log; %s"
		"cat > \"applied-$(echo $ADDONMAKE_LAYER | tr / _)\"; echo \"end $ADDONMAKE_LAYER\" >> log']\n"
		"        delete: [sh, -c, 'echo \"delete $ADDONMAKE_LAYER $ADDONMAKE_ORDER\" >> log']\n"
		"    profiles: [p.yaml]\n"
		"%s",
		apply_extra ? apply_extra : "", layers_yaml ? layers_yaml : "");
	fx_profile(t, "one", NULL);
}

void
fx_render_ws(struct tws *t)
{
	tws_put(t, "addonmake.yaml",
		"clusters:\n"
		"  - name: dev\n"
		"    target: {render: {dir: out}}\n"
		"    profiles: [p.yaml]\n");
	fx_profile(t, "one", NULL);
}

void
fx_render_synced(struct tws *t)
{
	fx_render_ws(t);
	struct res r = am(t, "sync");
	assert_code(r, 0);
	res_free(&r);
}

char *
fx_snapshot(struct tws *t)
{
	char path[600];
	snprintf(path, sizeof(path), "%s.snap", t->dir);
	cr_assert_eq(tws_sh(t, "find . -type f ! -name lock ! -name '*-lock' -printf '%%p %%s %%T@\\n' | sort > '%s'", path), 0);
	FILE *f = fopen(path, "r");
	char *s = calloc(1, 65536);
	size_t n = fread(s, 1, 65535, f);
	s[n] = 0;
	fclose(f);
	unlink(path);
	return s;
}

void
fx_chart_repo(struct tws *t, const char *const *vers, int n, const char *second_extra)
{
	struct buf idx = {0};
	buf_adds(&idx, "apiVersion: v1\nentries:\n  mychart:\n");
	for (int i = 0; i < n; i++) {
		char rel[128];
		snprintf(rel, sizeof(rel), "src/%s/mychart/Chart.yaml", vers[i]);
		tws_put(t, rel, "apiVersion: v2\nname: mychart\nversion: %s\n%s", vers[i],
			i == 1 && second_extra ? second_extra : "");
		cr_assert_eq(tws_sh(t, "cd src/%s && mkdir -p ../../repo && tar czf ../../repo/mychart-%s.tgz mychart"
				   " && sha256sum ../../repo/mychart-%s.tgz | cut -c1-64 > ../../sum", vers[i], vers[i], vers[i]), 0);
		char *sum = tws_get(t, "sum");
		sum[64] = 0;
		buf_printf(&idx, "  - name: mychart\n    version: %s\n    digest: %s\n    urls: [mychart-%s.tgz]\n",
			   vers[i], sum, vers[i]);
		free(sum);
	}
	tws_put(t, "repo/index.yaml", "%s", idx.s);
	buf_free(&idx);
}

void
fx_assert_ns_then(const char *out, const char *ns, const char *id, const char *rest)
{
	/* the first line names the layer and its hash (a run without records
	 * takes it from there), and the objects carry the same hash */
	char hash[33] = "", head[600], tail[400];
	const char *nl = strchr(out, '\n');
	cr_assert(nl && sscanf(out, "# addonmake: hash=%32[0-9a-f] ", hash) == 1 && strlen(hash) == 32,
		  "no first line with the layer's hash:\n%s", out);
	size_t il = strlen(id);
	cr_assert((size_t)(nl - out) > il + 7 && strncmp(nl - il - 7, " layer=", 7) == 0 &&
		  strncmp(nl - il, id, il) == 0, "the first line names no layer %s:\n%s", id, out);
	out = nl + 1;
	snprintf(head, sizeof(head),
		 "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: \"%s\"\n  labels:\n"
		 "    app.kubernetes.io/managed-by: \"addonmake\"\n    addonmake.io/layer: \"", ns);
	snprintf(tail, sizeof(tail),
		 "\"\n  annotations:\n    addonmake.io/cluster: \"dev\"\n    addonmake.io/layer: \"%s\"\n"
		 "    addonmake.io/hash: \"%s\"\n    addonmake.io/order: \"0\"\n",
		 id, hash);
	size_t h = strlen(head);
	cr_assert(strncmp(out, head, h) == 0, "no Namespace %s first:\n%s", ns, out);
	for (int i = 0; i < 16; i++)
		cr_assert(strchr("0123456789abcdef", out[h + i]), "a layer label of 16 hex digits:\n%s", out);
	cr_assert(strncmp(out + h + 16, tail, strlen(tail)) == 0, "%s", out);
	cr_assert_str_eq(out + h + 16 + strlen(tail), rest);
}
