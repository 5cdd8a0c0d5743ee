/* kubeconfig: finding and merging kubeconfig files the way kubectl does
 * (one named file, else $KUBECONFIG with the first file to set a value
 * winning, else ~/.kube/config, else the in-cluster service account), and
 * resolving one context into a kube_cfg with its PEM material in memory. */
#define _GNU_SOURCE
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "kube.h"

struct entry {
	const char *name, *file, *dir;
	const struct dnode *node; /* the entry's cluster:/user:/context: map */
};

struct merged {
	struct arena a;
	const char *current, *current_file;
	struct entry *clusters, *users, *contexts;
	size_t nclusters, nusers, ncontexts;
};

static void
pos_err(struct buf *err, const char *file, const struct dnode *n, const char *fmt,
	const char *arg)
{
	if (n)
		buf_printf(err, "%s:%d:%d: ", file, n->line, n->col);
	else
		buf_printf(err, "%s: ", file);
	buf_printf(err, fmt, arg);
}

static const struct entry *
find(const struct entry *v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].name, name) == 0)
			return &v[i];
	return NULL;
}

static int
add_entries(struct merged *m, const char *file, const char *dir, const struct dnode *root,
	    const char *list, const char *inner, struct entry **v, size_t *n,
	    struct buf *err)
{
	const struct dnode *seq = doc_get(root, list);
	if (!seq || doc_is_null(seq))
		return 0;
	if (seq->kind != D_SEQ) {
		pos_err(err, file, seq, "%s must be a list", list);
		return -1;
	}
	for (size_t i = 0; i < seq->n; i++) {
		const struct dnode *e = seq->items[i];
		const char *name = doc_str(doc_get(e, "name"));
		const struct dnode *body = doc_get(e, inner);
		if (!name || !body || body->kind != D_MAP) {
			pos_err(err, file, e, "an entry of %s needs a name and a map under its "
				"kind (clusters: cluster:, users: user:, contexts: context:)", list);
			return -1;
		}
		if (find(*v, *n, name))
			continue; /* the first file to define a name wins */
		*v = xrealloc(*v, (*n + 1) * sizeof(**v));
		(*v)[(*n)++] = (struct entry){.name = arena_strdup(&m->a, name), .file = file,
					      .dir = dir, .node = body};
	}
	return 0;
}

static int
merge_file(struct merged *m, const char *file, struct buf *err)
{
	struct buf text = {0};
	int e = file_read(file, &text);
	if (e) {
		buf_printf(err, "%s: cannot read the kubeconfig: %s", file, strerror(e));
		buf_free(&text);
		return -1;
	}
	struct dnode *root = NULL;
	struct diag d = {0};
	struct dorigin o = doc_file_origin(file);
	int rc = doc_parse_first(&m->a, text.s, text.len, &o, &root, &d);
	buf_free(&text);
	if (rc < 0) {
		if (d.n)
			buf_printf(err, "%s:%d:%d: %s", d.msg[0].file, d.msg[0].line, d.msg[0].col,
				   d.msg[0].text);
		else
			buf_printf(err, "%s: not a kubeconfig (YAML syntax error)", file);
		diag_free(&d);
		return -1;
	}
	diag_free(&d);
	if (!root || doc_is_null(root))
		return 0; /* an empty file sets nothing */
	if (root->kind != D_MAP) {
		pos_err(err, file, root, "%s", "a kubeconfig is a map (apiVersion: v1, kind: Config)");
		return -1;
	}
	const char *fdir = path_dir(&m->a, file);
	const char *cur = doc_str(doc_get(root, "current-context"));
	if (!m->current && cur && *cur) {
		m->current = arena_strdup(&m->a, cur);
		m->current_file = file;
	}
	if (add_entries(m, file, fdir, root, "clusters", "cluster", &m->clusters,
			&m->nclusters, err) ||
	    add_entries(m, file, fdir, root, "users", "user", &m->users, &m->nusers, err) ||
	    add_entries(m, file, fdir, root, "contexts", "context", &m->contexts,
			&m->ncontexts, err))
		return -1;
	return 0;
}

void
kube_b64_encode(const void *p, size_t n, struct buf *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *s = p;
	/* appended a chunk at a time: the records of a cluster are tens of
	 * KiB, and a buf_addc a character was 4 % of a sync's instructions */
	char chunk[256];
	size_t k = 0;
	buf_add(out, "", 0);
	for (size_t i = 0; i < n; i += 3) {
		unsigned v = (unsigned)s[i] << 16;
		if (i + 1 < n)
			v |= (unsigned)s[i + 1] << 8;
		if (i + 2 < n)
			v |= s[i + 2];
		chunk[k++] = al[v >> 18 & 63];
		chunk[k++] = al[v >> 12 & 63];
		chunk[k++] = i + 1 < n ? al[v >> 6 & 63] : '=';
		chunk[k++] = i + 2 < n ? al[v & 63] : '=';
		if (k == sizeof(chunk)) {
			buf_add(out, chunk, k);
			k = 0;
		}
	}
	buf_add(out, chunk, k);
}

int
kube_b64_decode(const char *s, size_t n, struct buf *out)
{
	unsigned v = 0;
	int bits = 0;
	buf_add(out, "", 0);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		int x;
		if (c >= 'A' && c <= 'Z')
			x = c - 'A';
		else if (c >= 'a' && c <= 'z')
			x = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			x = c - '0' + 52;
		else if (c == '+' || c == '-')
			x = 62;
		else if (c == '/' || c == '_')
			x = 63;
		else if (c == '=' || c == '\n' || c == '\r' || c == ' ')
			continue;
		else
			return -1;
		v = (v << 6) | (unsigned)x;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf_addc(out, (char)((v >> bits) & 0xff));
		}
	}
	return 0;
}

/* PEM from NAME-data (base64) or NAME (a file, relative to the kubeconfig);
 * whose: "cluster" or "user", for messages */
static int
pem(const struct entry *e, const char *whose, const char *key, struct buf *out,
    struct buf *err)
{
	char dkey[64];
	snprintf(dkey, sizeof(dkey), "%s-data", key);
	const struct dnode *d = doc_get(e->node, dkey);
	const char *s = doc_str(d);
	if (s && *s) {
		if (kube_b64_decode(s, strlen(s), out) < 0) {
			pos_err(err, e->file, d, "%s is not base64", dkey);
			return -1;
		}
		return 0;
	}
	const struct dnode *f = doc_get(e->node, key);
	if (!doc_str(f) || !*doc_str(f))
		return 0;
	struct arena a = {0};
	char *path = path_join(&a, e->dir, doc_str(f));
	int rc = file_read(path, out);
	if (rc)
		buf_printf(err, "%s:%d:%d: %s: cannot read the %s of %s %s: %s", e->file, f->line,
			   f->col, path, key, whose, e->name, strerror(rc));
	arena_free(&a);
	return rc ? -1 : 0;
}

/* a token file must be readable when the configuration is loaded (it is
 * read again later, on a 401): 0, or -1 with err naming it and where it
 * was named (at: "FILE:LINE:COL: ", or "" ) */
static int
token_readable(const char *path, const char *at, const char *whose, struct buf *err)
{
	struct buf t = {0};
	int e = file_read(path, &t);
	if (t.s)
		memset(t.s, 0, t.len); /* it held a secret */
	buf_free(&t);
	if (e)
		buf_printf(err, "%s%s: cannot read %s: %s", at, path, whose, strerror(e));
	return e ? -1 : 0;
}

static char *
opt_str(const struct entry *e, const char *key)
{
	const char *s = doc_str(doc_get(e->node, key));
	return s && *s ? xstrdup(s) : NULL;
}

static int
truth(const struct dnode *n)
{
	const char *s = doc_str(n);
	return s && (strcmp(s, "true") == 0 || strcmp(s, "True") == 0);
}

static int
exec_plugin(struct kube_cfg *cfg, const struct entry *u, const struct dnode *ex,
	    const struct entry *cl, struct buf *err)
{
	const char *cmd = doc_str(doc_get(ex, "command"));
	if (!cmd || !*cmd) {
		pos_err(err, u->file, ex, "user %s: exec needs a command", u->name);
		return -1;
	}
	const struct dnode *args = doc_get(ex, "args");
	size_t na = args && args->kind == D_SEQ ? args->n : 0;
	cfg->exec_argv = xcalloc(na + 2, sizeof(char *));
	/* a relative command with a slash is relative to the kubeconfig;
	 * a bare name is looked up on PATH */
	if (strchr(cmd, '/') && cmd[0] != '/') {
		struct arena a = {0};
		const char *p = path_join(&a, u->dir, cmd);
		/* still a path, not a name to look up on PATH */
		cfg->exec_argv[0] = strchr(p, '/') ? xstrdup(p) : xstrdup(arena_printf(&a, "./%s", p));
		arena_free(&a);
	} else {
		cfg->exec_argv[0] = xstrdup(cmd);
	}
	for (size_t i = 0; i < na; i++)
		cfg->exec_argv[i + 1] = xstrdup(doc_str(args->items[i]) ? doc_str(args->items[i]) : "");
	const struct dnode *env = doc_get(ex, "env");
	size_t ne = env && env->kind == D_SEQ ? env->n : 0;
	cfg->exec_env = xcalloc(ne + 2, sizeof(char *));
	for (size_t i = 0; i < ne; i++) {
		struct buf b = {0};
		const char *k = doc_str(doc_get(env->items[i], "name"));
		const char *v = doc_str(doc_get(env->items[i], "value"));
		buf_printf(&b, "%s=%s", k ? k : "", v ? v : "");
		cfg->exec_env[i] = b.s;
	}
	const char *api = doc_str(doc_get(ex, "apiVersion"));
	cfg->exec_api = xstrdup(api && *api ? api : "client.authentication.k8s.io/v1");
	struct buf info = {0};
	buf_adds(&info, "{\"apiVersion\":");
	doc_json_str(&info, cfg->exec_api);
	buf_adds(&info, ",\"kind\":\"ExecCredential\",\"spec\":{");
	if (truth(doc_get(ex, "provideClusterInfo"))) {
		buf_adds(&info, "\"cluster\":{\"server\":");
		doc_json_str(&info, cfg->server);
		const char *cad = doc_str(doc_get(cl->node, "certificate-authority-data"));
		if (cad) {
			buf_adds(&info, ",\"certificate-authority-data\":");
			doc_json_str(&info, cad);
		}
		const struct dnode *exts = doc_get(cl->node, "extensions");
		for (size_t i = 0; exts && exts->kind == D_SEQ && i < exts->n; i++) {
			const char *nm = doc_str(doc_get(exts->items[i], "name"));
			if (nm && strcmp(nm, "client.authentication.k8s.io/exec") == 0) {
				buf_adds(&info, ",\"config\":");
				doc_emit_json(&info, doc_get(exts->items[i], "extension"));
			}
		}
		buf_adds(&info, "},");
	}
	buf_adds(&info, "\"interactive\":false}}");
	cfg->exec_info = info.s;
	struct buf c = {0};
	buf_printf(&c, "KUBERNETES_EXEC_INFO=%s", info.s);
	cfg->exec_env[ne] = c.s;
	return 0;
}

/* the credential of user u (a kubeconfig users: entry) into cfg: a token
 * or tokenFile (which must be readable), a client certificate and key,
 * basic credentials or an exec plugin, with cfg->cred saying which for
 * messages; 0, or -1 with err at the entry */
static int
user_cred(struct kube_cfg *cfg, const struct entry *u, const struct entry *cl, struct buf *err)
{
	if (doc_get(u->node, "auth-provider")) {
		pos_err(err, u->file, doc_get(u->node, "auth-provider"),
			"user %s: auth-provider plugins are not supported; use an exec "
			"credential plugin (exec:) instead", u->name);
		return -1;
	}
	cfg->token = opt_str(u, "token");
	char *tf = opt_str(u, "tokenFile");
	if (tf) {
		struct arena a = {0};
		cfg->token_file = xstrdup(path_join(&a, u->dir, tf));
		const struct dnode *at = doc_get(u->node, "tokenFile");
		int bad = token_readable(cfg->token_file,
					 arena_printf(&a, "%s:%d:%d: ", u->file, at->line, at->col),
					 arena_printf(&a, "the tokenFile of user %s", u->name), err);
		arena_free(&a);
		free(tf);
		if (bad)
			return -1;
	}
	cfg->username = opt_str(u, "username");
	cfg->password = opt_str(u, "password");
	if (pem(u, "user", "client-certificate", &cfg->cert, err) ||
	    pem(u, "user", "client-key", &cfg->key, err))
		return -1;
	if (!!cfg->cert.len != !!cfg->key.len) {
		pos_err(err, u->file, u->node, "user %s: a client certificate needs its key "
			"(client-certificate and client-key go together)", u->name);
		return -1;
	}
	const struct dnode *ex = doc_get(u->node, "exec");
	if (ex && !doc_is_null(ex) && exec_plugin(cfg, u, ex, cl, err))
		return -1;
	if ((cfg->token || cfg->token_file) && cfg->username) {
		pos_err(err, u->file, u->node, "user %s has both a token and a username/password: "
			"keep one", u->name);
		return -1;
	}
	struct buf cred = {0};
	if (cfg->exec_argv)
		buf_printf(&cred, "the exec credential plugin %s of user %s", cfg->exec_argv[0], u->name);
	else if (cfg->token)
		buf_printf(&cred, "the token of user %s", u->name);
	else if (cfg->token_file)
		buf_printf(&cred, "the token file %s of user %s", cfg->token_file, u->name);
	else if (cfg->cert.len)
		buf_printf(&cred, "the client certificate of user %s", u->name);
	else if (cfg->username)
		buf_printf(&cred, "the password of user %s (%s)", u->name, cfg->username);
	else
		buf_printf(&cred, "user %s (no credential)", u->name);
	cfg->cred = cred.s;
	return 0;
}

static int
resolve(struct merged *m, const char *context, struct kube_cfg *cfg, struct buf *err)
{
	const char *ctxname = context && *context ? context : m->current;
	if (!ctxname) {
		buf_adds(err, "the kubeconfig names no current-context: set `context:` in the "
			      "cluster's kube target");
		return -1;
	}
	const struct entry *cx = find(m->contexts, m->ncontexts, ctxname);
	if (!cx) {
		buf_printf(err, "the kubeconfig has no context %s (it has:", ctxname);
		for (size_t i = 0; i < m->ncontexts; i++)
			buf_printf(err, " %s", m->contexts[i].name);
		buf_adds(err, m->ncontexts ? ")" : " none)");
		return -1;
	}
	const char *cname = doc_str(doc_get(cx->node, "cluster"));
	const char *uname = doc_str(doc_get(cx->node, "user"));
	const struct entry *cl = cname ? find(m->clusters, m->nclusters, cname) : NULL;
	if (!cl) {
		buf_printf(err, "%s:%d:%d: context %s names cluster %s, which the kubeconfig does "
			   "not define", cx->file, cx->node->line, cx->node->col, ctxname,
			   cname ? cname : "(none)");
		return -1;
	}
	const char *server = doc_str(doc_get(cl->node, "server"));
	if (!server || !*server) {
		pos_err(err, cl->file, cl->node, "cluster %s has no server", cl->name);
		return -1;
	}
	size_t sl = strlen(server);
	while (sl && server[sl - 1] == '/')
		sl--;
	cfg->server = xstrndup(server, sl);
	cfg->insecure = truth(doc_get(cl->node, "insecure-skip-tls-verify"));
	cfg->tls_server_name = opt_str(cl, "tls-server-name");
	if (pem(cl, "cluster", "certificate-authority", &cfg->ca, err))
		return -1;
	const char *ns = doc_str(doc_get(cx->node, "namespace"));
	cfg->ns = ns && *ns ? xstrdup(ns) : NULL;
	struct buf w = {0};
	buf_printf(&w, "context %s of %s", ctxname, cx->file);
	cfg->where = w.s;
	const struct entry *u = uname ? find(m->users, m->nusers, uname) : NULL;
	if (uname && *uname && !u) {
		buf_printf(err, "%s:%d:%d: context %s names user %s, which the kubeconfig does not "
			   "define", cx->file, cx->node->line, cx->node->col, ctxname, uname);
		return -1;
	}
	if (!u) {
		cfg->cred = xstrdup("no credential (the context names no user)");
		return 0;
	}
	return user_cred(cfg, u, cl, err);
}

static int
in_cluster(const char *sa_dir, struct kube_cfg *cfg, struct buf *err)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct buf b = {0};
	if (strchr(host, ':'))
		buf_printf(&b, "https://[%s]:%s", host, port);
	else
		buf_printf(&b, "https://%s:%s", host, port);
	cfg->server = b.s;
	struct arena a = {0};
	const char *dir = sa_dir ? sa_dir : "/var/run/secrets/kubernetes.io/serviceaccount";
	cfg->token_file = xstrdup(path_join(&a, dir, "token"));
	const char *ca = path_join(&a, dir, "ca.crt");
	int rc = 0, e = file_read(ca, &cfg->ca);
	if (e) {
		buf_printf(err, "in-cluster config: %s: cannot read the service account's CA "
			   "certificate: %s (is a service account mounted?)", ca, strerror(e));
		rc = -1;
	} else if (token_readable(cfg->token_file, "in-cluster config: ",
				  "the service account's token", err)) {
		rc = -1;
	}
	const char *pns = getenv("POD_NAMESPACE");
	struct buf ns = {0};
	if (pns && *pns) {
		cfg->ns = xstrdup(pns);
	} else if (!file_read(path_join(&a, dir, "namespace"), &ns)) {
		/* kubectl's rule: an unreadable namespace file means default */
		size_t n = ns.len;
		while (n && (ns.s[n - 1] == '\n' || ns.s[n - 1] == ' '))
			n--;
		cfg->ns = n ? xstrndup(ns.s, n) : xstrdup("default");
	} else {
		cfg->ns = xstrdup("default");
	}
	buf_free(&ns);
	cfg->where = xstrdup("the in-cluster config (service account)");
	struct buf c = {0};
	buf_printf(&c, "the service account token %s", cfg->token_file);
	cfg->cred = c.s;
	arena_free(&a);
	return rc;
}

int
kube_config_load(const char *path, const char *context, const char *sa_dir,
		 struct kube_cfg *cfg, struct buf *err)
{
	memset(cfg, 0, sizeof(*cfg));
	struct merged m = {0};
	int rc = 0, any = 0;
	if (path) {
		rc = merge_file(&m, path, err);
		any = 1;
	} else if (getenv("KUBECONFIG") && *getenv("KUBECONFIG")) {
		char *list = xstrdup(getenv("KUBECONFIG"));
		for (char *s = list, *e; rc == 0 && s; s = e) {
			e = strchr(s, ':');
			if (e)
				*e++ = 0;
			if (!*s)
				continue;
			struct stat st;
			if (stat(s, &st) < 0)
				continue; /* kubectl skips files that do not exist */
			rc = merge_file(&m, arena_strdup(&m.a, s), err);
			any = 1;
		}
		free(list);
	} else {
		const char *home = getenv("HOME");
		struct stat st;
		char *f = home ? arena_printf(&m.a, "%s/.kube/config", home) : NULL;
		if (f && stat(f, &st) == 0) {
			rc = merge_file(&m, f, err);
			any = 1;
		} else if (getenv("KUBERNETES_SERVICE_HOST") && getenv("KUBERNETES_SERVICE_PORT")) {
			rc = in_cluster(sa_dir, cfg, err);
			goto done;
		} else {
			buf_adds(err, "no kubeconfig: set `kubeconfig:` in the cluster's kube target, "
				      "KUBECONFIG, or create ~/.kube/config");
			rc = -1;
			goto done;
		}
	}
	if (rc == 0 && !any) {
		buf_adds(err, "no kubeconfig: none of the files in KUBECONFIG exists");
		rc = -1;
	}
	if (rc == 0)
		rc = resolve(&m, context, cfg, err);
done:
	free(m.clusters);
	free(m.users);
	free(m.contexts);
	arena_free(&m.a);
	if (rc)
		kube_config_free(cfg);
	return rc;
}

static void
free_list(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

void
kube_config_free(struct kube_cfg *cfg)
{
	free(cfg->server);
	buf_free(&cfg->ca);
	buf_free(&cfg->cert);
	if (cfg->key.s)
		memset(cfg->key.s, 0, cfg->key.len);
	buf_free(&cfg->key);
	free(cfg->token);
	free(cfg->token_file);
	free(cfg->username);
	free(cfg->password);
	free(cfg->tls_server_name);
	free(cfg->ns);
	free(cfg->where);
	free(cfg->cred);
	free_list(cfg->exec_argv);
	free_list(cfg->exec_env);
	free(cfg->exec_info);
	free(cfg->exec_api);
	memset(cfg, 0, sizeof(*cfg));
}
