/* ws_load: reads addonmake.yaml. Unlike profiles, this file is ours, so
 * every unknown key is an error with its position: a typo must not silently
 * turn a setting off. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "load.h"

struct ld {
	struct workspace *w;
	const char *file;
	struct diag *d;
};

static void
err(struct ld *l, const struct dnode *n, const char *fmt, const char *a1,
    const char *a2)
{
	diag_add(l->d, DIAG_ERROR, l->file, n ? n->line : 0, n ? n->col : 0, fmt,
		 a1 ? a1 : "", a2 ? a2 : "");
}

/* checks that every key of m is in the NULL-terminated list */
static void
known_keys(struct ld *l, const struct dnode *m, const char *where,
	   const char *const *keys)
{
	for (size_t i = 0; m && m->kind == D_MAP && i < m->n; i++) {
		const struct dnode *k = m->items[2 * i];
		int ok = 0;
		for (const char *const *p = keys; *p && !ok; p++)
			ok = k->kind == D_SCALAR && strcmp(k->s, *p) == 0;
		if (!ok) {
			struct buf b = {0};
			for (const char *const *p = keys; *p; p++)
				buf_printf(&b, "%s%s", p == keys ? "" : ", ", *p);
			diag_add(l->d, DIAG_ERROR, l->file, k->line, k->col,
				 "unknown key \"%s\" in %s (expected one of: %s)",
				 k->kind == D_SCALAR ? k->s : "?", where, b.s);
			buf_free(&b);
		}
	}
}

static int
want(struct ld *l, const struct dnode *n, int kind, const char *what)
{
	if (n && n->kind == kind)
		return 1;
	static const char *names[] = {"a string", "a mapping", "a list"};
	if (n)
		diag_add(l->d, DIAG_ERROR, l->file, n->line, n->col, "%s must be %s",
			 what, names[kind]);
	return 0;
}

static const char *
str(struct ld *l, const struct dnode *m, const char *key, const char *what)
{
	const struct dnode *n = doc_get(m, key);
	if (!n || doc_is_null(n))
		return NULL;
	if (!want(l, n, D_SCALAR, what))
		return NULL;
	return n->s;
}

static int
duration(struct ld *l, const struct dnode *m, const char *key, int64_t *out)
{
	const struct dnode *n = doc_get(m, key);
	if (!n)
		return 0;
	int64_t v;
	if (n->kind != D_SCALAR || duration_parse(n->s, &v)) {
		err(l, n, "%s: \"%s\" is not a duration (use forms like 500ms, 90s, 2m, 1h30m)",
		    key, n->kind == D_SCALAR ? n->s : "");
		return 0;
	}
	*out = v;
	return 1;
}

/* key: true or false (absent: false) */
static int
flag(struct ld *l, const struct dnode *m, const char *key)
{
	const char *v = str(l, m, key, key);
	if (v && strcmp(v, "true") && strcmp(v, "false"))
		err(l, doc_get(m, key), "%s must be true or false, not \"%s\"", key, v);
	return v && strcmp(v, "true") == 0;
}

/* key: a list of names, as [a, b] (into *v, *n) */
static void
names(struct ld *l, const struct dnode *m, const char *key, const char ***v, size_t *n)
{
	const struct dnode *s = doc_get(m, key);
	*n = 0;
	if (!s || !want(l, s, D_SEQ, key))
		return;
	*v = arena_alloc(&l->w->a, (s->n + 1) * sizeof(**v));
	for (size_t i = 0; i < s->n; i++)
		if (want(l, s->items[i], D_SCALAR, "a field manager's name"))
			(*v)[(*n)++] = s->items[i]->s;
}

/* a path of the workspace file: "~" and "~/" are the home directory,
 * others are relative to the file's directory */
static const char *
wpath(struct ld *l, const struct dnode *at, const char *raw)
{
	const char *p;
	int e = path_home(&l->w->a, raw, &p);
	if (e) {
		diag_add(l->d, DIAG_ERROR, l->file, at ? at->line : 0, at ? at->col : 0,
			 e == EINVAL ? "%s: only ~ and ~/ are expanded (the home directory); "
				       "write the path out"
				     : "%s: ~ is the home directory, but HOME is not set", raw);
		return path_join(&l->w->a, l->w->dir, raw);
	}
	return path_join(&l->w->a, l->w->dir, p);
}

static char **
argv_of(struct ld *l, const struct dnode *n, const char *what)
{
	if (!n)
		return NULL;
	if (!want(l, n, D_SEQ, what))
		return NULL;
	if (n->n == 0) {
		err(l, n, "%s must not be empty%s", "", NULL);
		return NULL;
	}
	char **v = arena_alloc(&l->w->a, (n->n + 1) * sizeof(*v));
	for (size_t i = 0; i < n->n; i++) {
		if (!want(l, n->items[i], D_SCALAR, what))
			return NULL;
		v[i] = (char *)n->items[i]->s;
	}
	return v;
}

static char *
argv_desc(struct arena *a, char **argv)
{
	struct buf b = {0};
	for (char **p = argv; *p; p++)
		buf_printf(&b, "%s%s", p == argv ? "" : " ", *p);
	char *s = arena_strdup(a, b.s ? b.s : "");
	buf_free(&b);
	return s;
}

/* ignore: [{kind, name, namespace, paths: [/json/pointer, ...]}, ...] */
static void
ignore_rules(struct ld *l, const struct dnode *s, struct layer_opts *o)
{
	static const char *const keys[] = {"kind", "name", "namespace", "paths", NULL};
	if (!s || !want(l, s, D_SEQ, "ignore"))
		return;
	o->ignore = arena_alloc(&l->w->a, (s->n + 1) * sizeof(*o->ignore));
	for (size_t i = 0; i < s->n; i++) {
		const struct dnode *m = s->items[i];
		if (!want(l, m, D_MAP, "an ignore rule"))
			continue;
		known_keys(l, m, "an ignore rule", keys);
		struct ignore_rule *g = &o->ignore[o->nignore++];
		memset(g, 0, sizeof(*g));
		g->kind = str(l, m, "kind", "kind");
		g->name = str(l, m, "name", "name");
		g->ns = str(l, m, "namespace", "namespace");
		const struct dnode *ps = doc_get(m, "paths");
		if (!ps) {
			err(l, m, "an ignore rule needs paths: [/a/json/pointer, ...]%s%s", NULL, NULL);
			continue;
		}
		if (!want(l, ps, D_SEQ, "paths"))
			continue;
		g->paths = arena_alloc(&l->w->a, (ps->n + 1) * sizeof(*g->paths));
		for (size_t k = 0; k < ps->n; k++) {
			const struct dnode *p = ps->items[k];
			if (!want(l, p, D_SCALAR, "a path"))
				continue;
			if (p->s[0] != '/' || !p->s[1]) {
				err(l, p, "%s: a path is a JSON pointer, as /spec/replicas%s", p->s, NULL);
				continue;
			}
			g->paths[g->npaths++] = p->s;
		}
	}
}

static void
readiness(struct ld *l, const struct dnode *m, struct readiness *r,
	  int *has_int, int *has_to)
{
	static const char *const keys[] = {"interval", "timeout", "checks", NULL};
	if (!want(l, m, D_MAP, "readiness"))
		return;
	known_keys(l, m, "readiness", keys);
	int hi = duration(l, m, "interval", &r->interval_ms);
	int ht = duration(l, m, "timeout", &r->timeout_ms);
	if (has_int)
		*has_int = hi;
	if (has_to)
		*has_to = ht;
	if (hi && r->interval_ms == 0) {
		err(l, doc_get(m, "interval"), "interval must be more than 0%s%s", NULL, NULL);
		r->interval_ms = 1000;
	}
	const struct dnode *cs = doc_get(m, "checks");
	if (!cs || !want(l, cs, D_SEQ, "checks"))
		return;
	r->checks = arena_alloc(&l->w->a, (cs->n + 1) * sizeof(*r->checks));
	for (size_t i = 0; i < cs->n; i++) {
		const struct dnode *c = cs->items[i];
		static const char *const ckeys[] = {"http", "command", NULL};
		if (!want(l, c, D_MAP, "a check"))
			continue;
		known_keys(l, c, "a check", ckeys);
		struct check *k = &r->checks[r->nchecks];
		const struct dnode *h = doc_get(c, "http"), *cmd = doc_get(c, "command");
		if (h && cmd) {
			err(l, c, "a check is either http: or command:, not both%s%s", NULL, NULL);
			continue;
		}
		if (cmd) {
			k->kind = CHECK_COMMAND;
			k->argv = argv_of(l, cmd, "command");
			if (!k->argv)
				continue;
			k->desc = arena_printf(&l->w->a, "command: %s",
					       argv_desc(&l->w->a, k->argv));
		} else if (h) {
			static const char *const hkeys[] = {"url", "expect", NULL};
			if (!want(l, h, D_MAP, "http"))
				continue;
			known_keys(l, h, "http", hkeys);
			k->kind = CHECK_HTTP;
			k->url = str(l, h, "url", "url");
			k->expect = 200;
			const struct dnode *e = doc_get(h, "expect");
			if (e) {
				char *end;
				long v = e->kind == D_SCALAR ? strtol(e->s, &end, 10) : 0;
				if (e->kind != D_SCALAR || *end || v < 100 || v > 599) {
					err(l, e, "expect must be an HTTP status code such as 200%s%s",
					    NULL, NULL);
					continue;
				}
				k->expect = v;
			}
			if (!k->url) {
				err(l, h, "an http check needs url:%s%s", NULL, NULL);
				continue;
			}
			k->desc = arena_printf(&l->w->a, "http: GET %s expecting %ld", k->url,
					       k->expect);
		} else {
			err(l, c, "a check needs http: or command:%s%s", NULL, NULL);
			continue;
		}
		r->nchecks++;
	}
}

/* where the kube target keeps its records: state (cluster, the default,
 * or local) and stateNamespace (a namespace's name) */
static void
kube_state(struct ld *l, struct cluster *c, const struct dnode *v)
{
	const char *st = str(l, v, "state", "state");
	if (st && strcmp(st, "cluster") && strcmp(st, "local"))
		err(l, doc_get(v, "state"), "state must be cluster or local, not \"%s\"%s", st, NULL);
	c->target.state_local = st && !strcmp(st, "local");
	const char *ns = str(l, v, "stateNamespace", "stateNamespace");
	size_t n = ns ? strlen(ns) : 0;
	int ok = n > 0 && n <= 63 && ns[0] != '-' && ns[n - 1] != '-';
	for (size_t i = 0; ok && i < n; i++)
		ok = (ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '-';
	if (ns && !ok)
		err(l, doc_get(v, "stateNamespace"),
		    "stateNamespace must be a namespace's name (at most 63 of a-z, 0-9 and '-', "
		    "not starting or ending with '-'), not \"%s\"%s", ns, NULL);
	c->target.state_ns = ns && ok ? ns : "addonmake-system";
}

static void
target(struct ld *l, struct cluster *c, const struct dnode *t)
{
	static const char *const keys[] = {"render", "exec", "kube", NULL};
	if (!t) {
		err(l, NULL, "cluster %s has no target: (render, exec or kube)", c->name, NULL);
		return;
	}
	if (!want(l, t, D_MAP, "target"))
		return;
	known_keys(l, t, "target", keys);
	if (t->n != 1) {
		err(l, t, "target must name exactly one of render, exec, kube%s%s", NULL, NULL);
		return;
	}
	const struct dnode *v;
	if ((v = doc_get(t, "render"))) {
		static const char *const rk[] = {"dir", NULL};
		if (!want(l, v, D_MAP, "render"))
			return;
		known_keys(l, v, "render", rk);
		const char *dir = str(l, v, "dir", "dir");
		if (!dir) {
			err(l, v, "render needs dir:%s%s", NULL, NULL);
			return;
		}
		c->target.kind = TARGET_RENDER;
		c->target.rawdir = dir;
		c->target.dir = wpath(l, doc_get(v, "dir"), dir);
	} else if ((v = doc_get(t, "exec"))) {
		static const char *const ek[] = {"apply", "check", "delete", NULL};
		if (!want(l, v, D_MAP, "exec"))
			return;
		known_keys(l, v, "exec", ek);
		c->target.kind = TARGET_EXEC;
		c->target.apply = argv_of(l, doc_get(v, "apply"), "apply");
		c->target.check = argv_of(l, doc_get(v, "check"), "check");
		c->target.del = argv_of(l, doc_get(v, "delete"), "delete");
		if (!c->target.apply)
			err(l, v, "exec needs apply: [command, args...]%s%s", NULL, NULL);
	} else if ((v = doc_get(t, "kube"))) {
		static const char *const kk[] = {"kubeconfig", "context", "state",
						 "stateNamespace", NULL};
		if (!want(l, v, D_MAP, "kube"))
			return;
		known_keys(l, v, "kube", kk);
		c->target.kind = TARGET_KUBE;
		c->target.kubeconfig = str(l, v, "kubeconfig", "kubeconfig");
		if (c->target.kubeconfig)
			c->target.kubepath = wpath(l, doc_get(v, "kubeconfig"), c->target.kubeconfig);
		c->target.context = str(l, v, "context", "context");
		kube_state(l, c, v);
	}
}

static void
cluster(struct ld *l, struct cluster *c, const struct dnode *m)
{
	static const char *const keys[] = {"name", "target", "profiles", "variables",
					   "macros", "layers", "drift", "ignoreManagers", NULL};
	struct arena *a = &l->w->a;
	c->at = (struct pos){l->file, m->line, m->col};
	c->node = (struct dnode *)m;
	known_keys(l, m, "a cluster", keys);
	c->name = str(l, m, "name", "name");
	if (!c->name) {
		err(l, m, "a cluster needs name:%s%s", NULL, NULL);
		c->name = "?";
	}
	target(l, c, doc_get(m, "target"));
	c->drift = flag(l, m, "drift");
	if (c->drift && c->target.kind && c->target.kind != TARGET_KUBE)
		err(l, doc_get(m, "drift"), "drift: true needs the kube target (the render target "
		    "finds changed files on every run)%s%s", NULL, NULL);
	names(l, m, "ignoreManagers", &c->ignore_managers, &c->nignore_managers);
	const struct dnode *ps = doc_get(m, "profiles");
	if (ps && want(l, ps, D_SEQ, "profiles")) {
		c->profiles = arena_alloc(a, (ps->n + 1) * sizeof(*c->profiles));
		c->profile_at = arena_alloc(a, (ps->n + 1) * sizeof(*c->profile_at));
		for (size_t i = 0; i < ps->n; i++) {
			if (!want(l, ps->items[i], D_SCALAR, "a profile path"))
				continue;
			const char *path = wpath(l, ps->items[i], ps->items[i]->s);
			size_t k = 0;
			while (k < c->nprofiles && strcmp(c->profiles[k], path) != 0)
				k++;
			if (k < c->nprofiles) {
				/* else its layers would collide with themselves */
				diag_add(l->d, DIAG_ERROR, l->file, ps->items[i]->line, ps->items[i]->col,
					 "profile %s is listed twice for cluster %s (first at %s:%d:%d)",
					 ps->items[i]->s, c->name, l->file, c->profile_at[k].line,
					 c->profile_at[k].col);
				continue;
			}
			c->profile_at[c->nprofiles] =
				(struct pos){l->file, ps->items[i]->line, ps->items[i]->col};
			c->profiles[c->nprofiles++] = path;
		}
	}
	c->variables = doc_get(m, "variables");
	c->macros = doc_get(m, "macros");
	if (c->variables && !want(l, c->variables, D_MAP, "variables"))
		c->variables = NULL;
	if (c->macros && !want(l, c->macros, D_MAP, "macros"))
		c->macros = NULL;
	const struct dnode *ls = doc_get(m, "layers");
	if (ls && want(l, ls, D_MAP, "layers")) {
		c->lopts = arena_alloc(a, (ls->n + 1) * sizeof(*c->lopts));
		for (size_t i = 0; i < ls->n; i++) {
			const struct dnode *k = ls->items[2 * i], *v = ls->items[2 * i + 1];
			static const char *const lk[] = {"readiness", "ignore", "ignoreManagers",
							 NULL};
			struct layer_opts *o = &c->lopts[c->nlopts++];
			o->id = k->s;
			o->at = (struct pos){l->file, k->line, k->col};
			if (!want(l, v, D_MAP, "layer settings"))
				continue;
			known_keys(l, v, "layer settings", lk);
			const struct dnode *r = doc_get(v, "readiness");
			if (r)
				readiness(l, r, &o->r, &o->has_interval, &o->has_timeout);
			ignore_rules(l, doc_get(v, "ignore"), o);
			names(l, v, "ignoreManagers", &o->ignore_managers, &o->nignore_managers);
		}
	}
}

static void
registry(struct ld *l, struct registry *r, const struct dnode *m)
{
	static const char *const keys[] = {"name", "uid", "kind", "url", "username",
					   "password", "passwordEnv", "token", "tokenEnv",
					   "ca", "insecureSkipVerify", "plainHTTP", "timeout", NULL};
	known_keys(l, m, "a registry", keys);
	r->at = (struct pos){l->file, m->line, m->col};
	r->name = str(l, m, "name", "name");
	r->uid = str(l, m, "uid", "uid");
	r->kind = str(l, m, "kind", "kind");
	r->url = str(l, m, "url", "url");
	r->username = str(l, m, "username", "username");
	r->password = str(l, m, "password", "password");
	r->password_env = str(l, m, "passwordEnv", "passwordEnv");
	r->token = str(l, m, "token", "token");
	r->token_env = str(l, m, "tokenEnv", "tokenEnv");
	const char *ca = str(l, m, "ca", "ca");
	r->ca = ca ? wpath(l, doc_get(m, "ca"), ca) : NULL;
	r->insecure = flag(l, m, "insecureSkipVerify");
	r->insecure_http = flag(l, m, "plainHTTP");
	if (duration(l, m, "timeout", &r->timeout_ms) && r->timeout_ms < 1000)
		err(l, doc_get(m, "timeout"), "a registry's timeout must be at least 1s%s%s", NULL, NULL);
	if (!r->name && !r->uid)
		err(l, m, "a registry needs name: (or uid:)%s%s", NULL, NULL);
	if (!r->url)
		err(l, m, "a registry needs url:%s%s", NULL, NULL);
	if (!r->kind)
		r->kind = "pack";
	else if (strcmp(r->kind, "pack") && strcmp(r->kind, "helm"))
		err(l, doc_get(m, "kind"), "registry kind \"%s\" is not pack or helm%s", r->kind,
		    NULL);
	if (r->url && strncmp(r->url, "file://", 7) == 0)
		r->url = arena_printf(&l->w->a, "file://%s",
				      wpath(l, doc_get(m, "url"), r->url + 7));
}

/* the clusters: of addonmake.yaml, each read; a name given twice, or two
 * render targets sharing a directory, are errors */
static void
clusters(struct ld *l, const struct dnode *root)
{
	struct workspace *w = l->w;
	struct diag *d = l->d;
	const struct dnode *cs = doc_get(root, "clusters");
	if (!cs) {
		diag_add(d, DIAG_ERROR, w->file, root->line, root->col,
			 "the workspace has no clusters: (add at least one cluster with a target and profiles)");
		return;
	}
	if (!want(l, cs, D_SEQ, "clusters"))
		return;
	w->clusters = arena_alloc(&w->a, (cs->n + 1) * sizeof(*w->clusters));
	for (size_t i = 0; i < cs->n; i++) {
		if (!want(l, cs->items[i], D_MAP, "a cluster"))
			continue;
		struct cluster *c = &w->clusters[w->nclusters];
		cluster(l, c, cs->items[i]);
		for (size_t j = 0; j < w->nclusters; j++) {
			const struct cluster *prev = &w->clusters[j];
			if (strcmp(prev->name, c->name) == 0)
				diag_add(d, DIAG_ERROR, w->file, c->at.line, c->at.col,
					 "duplicate cluster name \"%s\" (first defined at line %d)",
					 c->name, prev->at.line);
			/* one cluster's files would be another's, and its
			 * prune would delete them */
			else if (c->target.kind == TARGET_RENDER && prev->target.kind == TARGET_RENDER &&
				 strcmp(c->target.dir, prev->target.dir) == 0)
				diag_add(d, DIAG_ERROR, w->file, c->at.line, c->at.col,
					 "clusters %s and %s (line %d) both render into %s; give "
					 "each a dir: of its own", prev->name, c->name, prev->at.line,
					 c->target.rawdir);
		}
		w->nclusters++;
	}
}

int
ws_load(struct workspace *w, const char *file, struct diag *d)
{
	struct ld l = {w, file, d};
	struct buf text = {0};
	int e = file_read(file, &text);
	if (e) {
		diag_add(d, DIAG_ERROR, file, 0, 0, "cannot read the workspace file: %s%s",
			 strerror(e),
			 e == ENOENT ? " (run addonmake in a directory with addonmake.yaml, or use -C DIR / -f FILE)" : "");
		return -1;
	}
	w->file = arena_strdup(&w->a, file);
	l.file = w->file;
	w->dir = path_dir(&w->a, file);
	char *src = arena_strndup(&w->a, text.s, text.len);
	struct dnode **docs;
	size_t n;
	struct dorigin o = doc_file_origin(w->file);
	int rc = doc_parse(&w->a, src, text.len, &o, &docs, &n, d);
	buf_free(&text);
	if (rc)
		return -1;
	if (n != 1 || docs[0]->kind != D_MAP) {
		diag_add(d, DIAG_ERROR, w->file, n ? docs[0]->line : 1, n ? docs[0]->col : 1,
			 "the workspace file must be one YAML mapping with clusters:");
		return -1;
	}
	const struct dnode *root = docs[0];
	static const char *const keys[] = {"state", "defaults", "registries", "clusters", NULL};
	known_keys(&l, root, "addonmake.yaml", keys);
	const char *state = str(&l, root, "state", "state");
	w->state = state ? wpath(&l, doc_get(root, "state"), state)
		   : path_join(&w->a, w->dir, ".addonmake");
	w->defaults.interval_ms = 2 * 60 * 1000;
	w->defaults.timeout_ms = 15 * 60 * 1000;
	struct dnode *def = doc_get(root, "defaults");
	w->defaults_node = def;
	w->regs_node = doc_get(root, "registries");
	if (def && want(&l, def, D_MAP, "defaults")) {
		static const char *const dk[] = {"readiness", NULL};
		known_keys(&l, def, "defaults", dk);
		const struct dnode *r = doc_get(def, "readiness");
		if (r)
			readiness(&l, r, &w->defaults, NULL, NULL);
	}
	const struct dnode *regs = doc_get(root, "registries");
	if (regs && want(&l, regs, D_SEQ, "registries")) {
		w->regs = arena_alloc(&w->a, (regs->n + 1) * sizeof(*w->regs));
		for (size_t i = 0; i < regs->n; i++)
			if (want(&l, regs->items[i], D_MAP, "a registry"))
				registry(&l, &w->regs[w->nregs++], regs->items[i]);
	}
	clusters(&l, root);
	return d->nerr ? -1 : 0;
}

void
ws_free(struct workspace *w)
{
	for (size_t i = 0; i < w->nclusters; i++) {
		graph_free(&w->clusters[i].g);
		free(w->clusters[i].deps.v);
		diag_free(&w->clusters[i].warnings);
	}
	fetcher_free(&w->fx);
	strset_free(&w->secret);
	arena_free(&w->a);
}
