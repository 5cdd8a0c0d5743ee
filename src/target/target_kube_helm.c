/* target_kube_helm: a helm layer as a helm release — upgrade --install of
 * its verified chart archive with its values (in a 0600 temporary file),
 * the release's objects read back with `helm get manifest` for the
 * inventory — and helm uninstall when it is pruned. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "target_kube.h"

/* a helm layer: helm upgrade --install of its chart archive with its
 * values, then the release's objects (helm get manifest) into ap */
int
tk_helm_apply(const struct target_ctx *t, struct kt *kt, const struct layer *l, const char *ns,
	   struct applied *ap, struct arena *a, struct buf *err)
{
	if (!l->chart.file) {
		buf_printf(err, "helm layer %s: its chart archive is not in the download cache under "
			   "%s (is the state directory writable?)", l->id, t->w->state);
		return T_FAILED;
	}
	const char *tmp = getenv("TMPDIR");
	char *vfile = arena_printf(a, "%s/addonmake-values-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	int fd = mkstemp(vfile);
	if (fd < 0) {
		buf_printf(err, "cannot make a temporary file: %s", strerror(errno));
		return T_FAILED;
	}
	/* written through mkstemp's descriptor: values may hold secrets, and
	 * the file stays 0600 */
	struct buf vals = {0}, out = {0};
	helm_values(l, l->pack, &vals);
	int e = 0;
	for (size_t off = 0; off < vals.len && !e;) {
		ssize_t w = write(fd, vals.s + off, vals.len - off);
		if (w > 0)
			off += (size_t)w;
		else if (errno != EINTR)
			e = errno ? errno : EIO;
	}
	if (close(fd) < 0 && !e)
		e = errno;
	buf_free(&vals);
	const char *up[] = {"upgrade", "--install", l->chart.release, l->chart.file, "--values", vfile, NULL};
	const char *gm[] = {"get", "manifest", l->chart.release, NULL};
	int r = e ? -1 : helm_run(t, up, ns, &out, err);
	if (e)
		buf_printf(err, "cannot write %s: %s", vfile, strerror(e));
	unlink(vfile);
	if (!r) {
		buf_clear(&out);
		r = helm_run(t, gm, ns, &out, err);
	}
	if (r) {
		buf_free(&out);
		return r == -2 ? T_STOPPED : T_FAILED;
	}
	char *what = arena_printf(a, "helm get manifest %s", l->chart.release);
	struct dorigin o = doc_file_origin(what);
	struct dnode **docs;
	size_t n;
	struct diag d = {0};
	int rc = T_OK;
	if (doc_parse(a, out.s ? out.s : "", out.len, &o, &docs, &n, &d)) {
		buf_printf(err, "%s: %s:%d:%d: %s", what, d.msg[0].file, d.msg[0].line, d.msg[0].col,
			   d.msg[0].text);
		rc = T_FAILED;
		n = 0;
	}
	for (size_t i = 0; i < n && rc == T_OK; i++) {
		struct obj ob;
		memset(&ob, 0, sizeof(ob));
		ob.doc = docs[i];
		ob.file = what;
		ob.api = doc_str(doc_get(docs[i], "apiVersion"));
		ob.kind = doc_str(doc_get(docs[i], "kind"));
		ob.name = doc_str(doc_path(docs[i], "metadata.name"));
		if (!ob.api || !ob.kind || !ob.name)
			continue; /* not an object: nothing helm installed */
		ob.line = docs[i]->line;
		ob.col = docs[i]->col;
		if ((rc = tk_resolve(kt, &ob, NULL, 0, ns, 1, err)) != T_OK)
			break;
		const char *pol =
			doc_str(doc_get(doc_path(docs[i], "metadata.annotations"), "helm.sh/resource-policy"));
		struct buf path = {0};
		kube_path(&path, &ob.res, ob.ns, ob.name);
		tk_applied_add(ap, a, path.s, &ob, "", OBJ_HELM | (pol && !strcmp(pol, "keep") ? OBJ_KEEP : 0));
		buf_free(&path);
	}
	diag_free(&d);
	buf_free(&out);
	return rc;
}

/* helm uninstall of a release "ns/name"; one that is already gone is
 * fine */
int
tk_helm_uninstall(const struct target_ctx *t, const char *rel, struct buf *err)
{
	const char *slash = strchr(rel, '/');
	char *ns = strndup(rel, slash ? (size_t)(slash - rel) : 0);
	const char *un[] = {"uninstall", slash ? slash + 1 : rel, NULL};
	struct buf out = {0}, e = {0};
	int r = helm_run(t, un, ns, &out, &e);
	int rc = r == 0 || (r == -1 && strstr(e.s, "not found")) ? T_OK : r == -2 ? T_STOPPED : T_FAILED;
	if (rc != T_OK)
		buf_adds(err, e.s);
	free(ns);
	buf_free(&out);
	buf_free(&e);
	return rc;
}

int
tk_helm_layer(const struct layer *l)
{
	return l->chart.release && strcmp(l->type, "helm") == 0;
}
