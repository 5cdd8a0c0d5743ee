/* tmpl: pack manifests are Go templates. This is the subset real packs use
 * (DESIGN §2.4): text and {{ actions }} with {{- / -}} trimming; fields
 * (.a.b, $x.a, $), variables ($x := p), pipelines (a | f b), parentheses,
 * string and number literals; if / else if / else, range (over lists and
 * maps, with $k, $v :=; maps in key order, as Go does), with, end; and the
 * functions quote, printf, default, hasPrefix, upper, lower, trim, indent,
 * nindent, toYaml, not, and, or, eq, ne. Anything else is refused with its
 * file, line and column rather than rendered wrongly. A missing value
 * renders as the empty string, as Helm does (missingkey=zero).
 * A template is input from a pack, so its work is bounded: nesting depth,
 * actions run and text made (a range in a range in a range... multiplies;
 * published packs render a few KiB in a few hundred actions). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "load.h"

enum {
	TMPL_MAX_DEPTH = 100,         /* blocks and parentheses, one inside another */
	TMPL_MAX_STEPS = 1000000,     /* actions and expressions evaluated */
};
#define TMPL_MAX_TEXT ((size_t)64 << 20) /* bytes of output and of function results */

const char *
text_copy_plain(const char *p, const char *end, struct buf *out, int *line, int *col)
{
	const char *q = p;
	while ((q = memchr(q, '{', (size_t)(end - q))) && q + 1 < end && q[1] != '{')
		q++;
	if (!q || q + 1 >= end)
		q = end;
	for (const char *nl = p; (nl = memchr(nl, '\n', (size_t)(q - nl))); nl++) {
		(*line)++;
		*col = 1 - (int)(nl + 1 - p);
	}
	*col += (int)(q - p);
	buf_add(out, p, (size_t)(q - p));
	return q;
}

/* ---- lexing: text and actions, with positions ---- */

enum { I_TEXT, I_ACTION };
struct item {
	int kind;
	const char *s; /* text, or the action's inside */
	size_t n;
	int line, col;
};

struct tp {
	struct arena *a;
	const char *file;
	struct diag *d;
	struct item *it;
	size_t nit, pos;
	int err;
	int depth; /* of blocks and parentheses being parsed */
};

static void
perr(struct tp *t, int line, int col, const char *fmt, const char *arg)
{
	if (t->err++ < 20)
		diag_add(t->d, DIAG_ERROR, t->file, line, col, fmt, arg ? arg : "");
}

/* one level deeper: Go's parser has a limit too; without one, input
 * nested far enough overflows the stack */
static int
deeper(struct tp *t, int line, int col)
{
	if (++t->depth <= TMPL_MAX_DEPTH)
		return 0;
	perr(t, line, col, "blocks or parentheses nested more than 100 deep%s", NULL);
	t->err = 20; /* stop parsing: every level above would say it again */
	return -1;
}

/* an unclosed block at the end of the file: published packs have them
 * (Go would refuse), so it is closed there, with a warning */
static void
unclosed(struct tp *t, int line, int col, const char *kw)
{
	diag_add(t->d, DIAG_WARNING, t->file, line, col,
		 "{{ %s }} has no {{ end }}: closed at the end of the file (Go's template "
		 "engine refuses this; fix the pack)", kw);
}

static int
split(struct tp *t, const char *text, size_t len)
{
	const char *end = text + len;
	int line = 1, col = 1;
	size_t cap = 64;
	t->it = xcalloc(cap, sizeof(*t->it));
	struct buf b = {0};
	for (const char *p = text; p < end;) {
		int sl = line, sc = col;
		buf_clear(&b);
		p = text_copy_plain(p, end, &b, &line, &col);
		if (t->nit + 2 >= cap) {
			cap *= 2;
			t->it = xrealloc(t->it, cap * sizeof(*t->it));
		}
		if (b.len)
			t->it[t->nit++] = (struct item){.kind = I_TEXT,
							.s = arena_strndup(t->a, b.s, b.len),
							.n = b.len, .line = sl, .col = sc};
		if (p >= end)
			break;
		const char *close = NULL;
		for (const char *q = p + 2; q + 1 < end; q++)
			if (q[0] == '}' && q[1] == '}') {
				close = q;
				break;
			}
		if (!close) {
			perr(t, line, col, "unterminated template action \"{{\"%s", NULL);
			buf_free(&b);
			return -1;
		}
		const char *s = p + 2, *e = close;
		/* {{- trims the text before, -}} the text after */
		if (e - s >= 2 && s[0] == '-' && isspace((unsigned char)s[1])) {
			s++;
			if (t->nit && t->it[t->nit - 1].kind == I_TEXT) {
				struct item *pi = &t->it[t->nit - 1];
				while (pi->n && isspace((unsigned char)pi->s[pi->n - 1]))
					pi->n--;
			}
		}
		int trim_after = e - s >= 2 && e[-1] == '-' && isspace((unsigned char)e[-2]);
		if (trim_after)
			e--;
		t->it[t->nit++] = (struct item){.kind = I_ACTION, .s = s, .n = (size_t)(e - s),
						.line = line, .col = col};
		for (const char *q = p; q < close + 2; q++)
			if (*q == '\n')
				line++, col = 1;
			else
				col++;
		p = close + 2;
		if (trim_after)
			while (p < end && isspace((unsigned char)*p)) {
				if (*p == '\n')
					line++, col = 1;
				else
					col++;
				p++;
			}
	}
	buf_free(&b);
	return 0;
}

/* ---- expressions ---- */

enum { E_DOT, E_FIELD, E_VAR, E_STR, E_NUM, E_BOOL, E_NIL, E_CALL, E_PIPE };
struct expr {
	int kind;
	const char *name;    /* variable, function */
	const char **path;   /* field path after the base */
	size_t npath;
	const char *s;       /* literal */
	struct expr **args;  /* call arguments / pipe stages */
	size_t nargs;
};

struct lex {
	struct tp *t;
	const char *p, *end;
	int line, col;
};

static void
skip_ws(struct lex *x)
{
	while (x->p < x->end && isspace((unsigned char)*x->p))
		x->p++;
}

static struct expr *
mk(struct tp *t, int kind)
{
	struct expr *e = arena_alloc(t->a, sizeof(*e));
	e->kind = kind;
	return e;
}

/* .a.b.c after a base: returns the path components */
static void
field_path(struct lex *x, struct expr *e)
{
	const char *comp[64];
	size_t n = 0;
	while (x->p < x->end && *x->p == '.') {
		const char *s = ++x->p;
		while (x->p < x->end && (isalnum((unsigned char)*x->p) || *x->p == '_' || *x->p == '-'))
			x->p++;
		if (x->p == s)
			break;
		if (n < 64)
			comp[n++] = arena_strndup(x->t->a, s, (size_t)(x->p - s));
	}
	e->path = arena_alloc(x->t->a, (n + 1) * sizeof(*e->path));
	memcpy(e->path, comp, n * sizeof(*comp));
	e->npath = n;
}

static struct expr *parse_pipe(struct lex *x);

static int
at_operand_end(struct lex *x)
{
	skip_ws(x);
	return x->p >= x->end || *x->p == '|' || *x->p == ')';
}

/* whether the template language has a function of that name (the table
 * of functions is with their code, below) */
static int fn_known(const char *name);

static struct expr *
parse_operand(struct lex *x)
{
	struct tp *t = x->t;
	skip_ws(x);
	if (x->p >= x->end)
		return NULL;
	char c = *x->p;
	struct expr *e;
	if (c == '(') {
		if (deeper(t, x->line, x->col))
			return NULL;
		x->p++;
		e = parse_pipe(x);
		t->depth--;
		skip_ws(x);
		if (x->p >= x->end || *x->p != ')') {
			perr(t, x->line, x->col, "missing ) in template action%s", NULL);
			return NULL;
		}
		x->p++;
		return e;
	}
	if (c == '.') {
		e = mk(t, E_FIELD);
		if (x->p + 1 >= x->end || !(isalnum((unsigned char)x->p[1]) || x->p[1] == '_')) {
			x->p++;
			e->kind = E_DOT;
			return e;
		}
		field_path(x, e);
		return e;
	}
	if (c == '$') {
		const char *s = x->p++;
		while (x->p < x->end && (isalnum((unsigned char)*x->p) || *x->p == '_'))
			x->p++;
		e = mk(t, E_VAR);
		e->name = arena_strndup(t->a, s, (size_t)(x->p - s));
		field_path(x, e);
		return e;
	}
	if (c == '"' || c == '`') {
		struct buf b = {0};
		x->p++;
		while (x->p < x->end && *x->p != c) {
			if (c == '"' && *x->p == '\\' && x->p + 1 < x->end) {
				x->p++;
				char q = *x->p;
				buf_addc(&b, q == 'n' ? '\n' : q == 't' ? '\t' : q);
			} else {
				buf_addc(&b, *x->p);
			}
			x->p++;
		}
		if (x->p >= x->end) {
			perr(t, x->line, x->col, "unterminated string in template action%s", NULL);
			buf_free(&b);
			return NULL;
		}
		x->p++;
		e = mk(t, E_STR);
		e->s = arena_strndup(t->a, b.s ? b.s : "", b.len);
		buf_free(&b);
		return e;
	}
	if (isdigit((unsigned char)c) || (c == '-' && x->p + 1 < x->end && isdigit((unsigned char)x->p[1]))) {
		const char *s = x->p++;
		while (x->p < x->end && (isalnum((unsigned char)*x->p) || *x->p == '.'))
			x->p++;
		e = mk(t, E_NUM);
		e->s = arena_strndup(t->a, s, (size_t)(x->p - s));
		return e;
	}
	if (isalpha((unsigned char)c)) {
		const char *s = x->p;
		while (x->p < x->end && (isalnum((unsigned char)*x->p) || *x->p == '_'))
			x->p++;
		char *id = arena_strndup(t->a, s, (size_t)(x->p - s));
		if (!strcmp(id, "true") || !strcmp(id, "false")) {
			e = mk(t, E_BOOL);
			e->s = id;
			return e;
		}
		if (!strcmp(id, "nil"))
			return mk(t, E_NIL);
		if (!fn_known(id)) {
			perr(t, x->line, x->col, "the template function \"%s\" is not supported "
			     "(addonmake knows quote, printf, default, hasPrefix, upper, lower, trim, "
			     "indent, nindent, toYaml, not, and, or, eq, ne)", id);
			return NULL;
		}
		e = mk(t, E_CALL);
		e->name = id;
		struct expr *args[32];
		size_t n = 0;
		while (!at_operand_end(x) && n < 32) {
			struct expr *a = parse_operand(x);
			if (!a)
				return NULL;
			args[n++] = a;
		}
		e->args = arena_alloc(t->a, (n + 2) * sizeof(*e->args));
		memcpy(e->args, args, n * sizeof(*args));
		e->nargs = n;
		return e;
	}
	perr(t, x->line, x->col, "unexpected \"%s\" in template action",
	     arena_strndup(t->a, x->p, (size_t)(x->end - x->p) > 20 ? 20 : (size_t)(x->end - x->p)));
	return NULL;
}

static struct expr *
parse_pipe(struct lex *x)
{
	struct expr *stages[16];
	size_t n = 0;
	for (;;) {
		struct expr *e = parse_operand(x);
		if (!e)
			return NULL;
		if (e->kind != E_CALL && !at_operand_end(x)) {
			perr(x->t, x->line, x->col, "a value cannot take arguments here%s", NULL);
			return NULL;
		}
		if (n < 16)
			stages[n++] = e;
		skip_ws(x);
		if (x->p < x->end && *x->p == '|') {
			x->p++;
			continue;
		}
		break;
	}
	if (n == 1)
		return stages[0];
	for (size_t i = 1; i < n; i++)
		if (stages[i]->kind != E_CALL) {
			perr(x->t, x->line, x->col, "only a function can follow | in a pipeline%s", NULL);
			return NULL;
		}
	struct expr *p = mk(x->t, E_PIPE);
	p->args = arena_alloc(x->t->a, n * sizeof(*p->args));
	memcpy(p->args, stages, n * sizeof(*stages));
	p->nargs = n;
	return p;
}

/* ---- statements ---- */

enum { S_TEXT, S_OUT, S_IF, S_RANGE, S_WITH, S_SET };
struct stmt {
	int kind;
	int line, col;
	const char *text;
	size_t n;
	struct expr *e;
	const char *var1, *var2; /* S_SET: var1; S_RANGE: $k, $v (or $v) */
	struct stmt **body, **els;
	size_t nbody, nels;
	struct stmt *next_if; /* else if */
};

static struct stmt **parse_list(struct tp *t, size_t *n, const char **stop);

/* the action's words: "if .a" → keyword "if", rest ".a" */
static const char *
keyword(struct item *it, const char **rest, size_t *restn, struct arena *a)
{
	const char *s = it->s, *e = it->s + it->n;
	while (s < e && isspace((unsigned char)*s))
		s++;
	while (e > s && isspace((unsigned char)e[-1]))
		e--;
	const char *w = s;
	while (w < e && isalpha((unsigned char)*w))
		w++;
	*rest = w;
	*restn = (size_t)(e - w);
	return arena_strndup(a, s, (size_t)(w - s));
}

static struct expr *
parse_expr_at(struct tp *t, struct item *it, const char *s, size_t n)
{
	struct lex x = {.t = t, .p = s, .end = s + n, .line = it->line, .col = it->col};
	struct expr *e = parse_pipe(&x);
	skip_ws(&x);
	if (e && x.p < x.end) {
		perr(t, it->line, it->col, "unexpected \"%s\" in template action",
		     arena_strndup(t->a, x.p, (size_t)(x.end - x.p)));
		return NULL;
	}
	return e;
}

static struct stmt *
parse_if(struct tp *t, struct item *it, const char *rest, size_t rn)
{
	if (deeper(t, it->line, it->col))
		return NULL;
	struct stmt *st = arena_alloc(t->a, sizeof(*st));
	st->kind = S_IF;
	st->line = it->line;
	st->col = it->col;
	st->e = parse_expr_at(t, it, rest, rn);
	const char *stop = NULL;
	st->body = parse_list(t, &st->nbody, &stop);
	if (stop && strcmp(stop, "else") == 0) {
		struct item *ei = &t->it[t->pos - 1];
		const char *r2;
		size_t n2;
		keyword(ei, &r2, &n2, t->a);
		while (n2 && isspace((unsigned char)*r2))
			r2++, n2--;
		if (n2 >= 2 && strncmp(r2, "if", 2) == 0 && (n2 == 2 || isspace((unsigned char)r2[2]))) {
			st->next_if = parse_if(t, ei, r2 + 2, n2 - 2); /* consumes the end */
			t->depth--;
			return st;
		}
		st->els = parse_list(t, &st->nels, &stop);
	}
	if (!stop)
		unclosed(t, it->line, it->col, "if");
	else if (strcmp(stop, "end") != 0)
		perr(t, it->line, it->col, "{{ if }} has no {{ end }}%s", NULL);
	t->depth--;
	return st;
}

static struct stmt **
parse_list(struct tp *t, size_t *n, const char **stop)
{
	struct stmt **v = NULL;
	size_t cap = 0;
	*n = 0;
	*stop = NULL;
	while (t->pos < t->nit && t->err < 20) {
		struct item *it = &t->it[t->pos++];
		struct stmt *st = NULL;
		if (it->kind == I_TEXT) {
			st = arena_alloc(t->a, sizeof(*st));
			st->kind = S_TEXT;
			st->line = it->line;
			st->col = it->col;
			st->text = it->s;
			st->n = it->n;
		} else {
			const char *rest;
			size_t rn;
			const char *kw = keyword(it, &rest, &rn, t->a);
			const char *s = it->s;
			while (s < it->s + it->n && isspace((unsigned char)*s))
				s++;
			if (s + 1 < it->s + it->n && s[0] == '/' && s[1] == '*')
				continue; /* a comment */
			if (!strcmp(kw, "end") || !strcmp(kw, "else")) {
				*stop = kw;
				return v;
			}
			if (!strcmp(kw, "if")) {
				if (!(st = parse_if(t, it, rest, rn)))
					break;
			} else if (!strcmp(kw, "range") || !strcmp(kw, "with")) {
				if (deeper(t, it->line, it->col))
					break;
				st = arena_alloc(t->a, sizeof(*st));
				st->kind = kw[0] == 'r' ? S_RANGE : S_WITH;
				st->line = it->line;
				st->col = it->col;
				/* range $k, $v := pipeline */
				const char *ass = NULL;
				for (const char *q = rest; q + 1 < rest + rn; q++)
					if (q[0] == ':' && q[1] == '=') {
						ass = q;
						break;
					}
				if (ass && st->kind == S_RANGE) {
					char *vars = arena_strndup(t->a, rest, (size_t)(ass - rest));
					char *comma = strchr(vars, ',');
					char *v1 = vars, *v2 = comma ? comma + 1 : NULL;
					if (comma)
						*comma = 0;
					while (isspace((unsigned char)*v1))
						v1++;
					for (char *z = v1 + strlen(v1); z > v1 && isspace((unsigned char)z[-1]);)
						*--z = 0;
					if (v2) {
						while (isspace((unsigned char)*v2))
							v2++;
						for (char *z = v2 + strlen(v2); z > v2 && isspace((unsigned char)z[-1]);)
							*--z = 0;
					}
					st->var1 = v2 ? v1 : NULL;
					st->var2 = v2 ? v2 : v1;
					rn -= (size_t)(ass + 2 - rest);
					rest = ass + 2;
				}
				st->e = parse_expr_at(t, it, rest, rn);
				const char *st2 = NULL;
				st->body = parse_list(t, &st->nbody, &st2);
				if (st2 && !strcmp(st2, "else"))
					st->els = parse_list(t, &st->nels, &st2);
				if (!st2)
					unclosed(t, it->line, it->col, kw);
				else if (strcmp(st2, "end"))
					perr(t, it->line, it->col, "{{ %s }} has no {{ end }}", kw);
				t->depth--;
			} else if (!strcmp(kw, "define") || !strcmp(kw, "template") ||
				   !strcmp(kw, "block") || !strcmp(kw, "break") ||
				   !strcmp(kw, "continue")) {
				perr(t, it->line, it->col, "{{ %s }} is not supported in pack manifests", kw);
				continue;
			} else {
				st = arena_alloc(t->a, sizeof(*st));
				st->line = it->line;
				st->col = it->col;
				/* $x := pipeline, or an output */
				const char *q = s;
				if (*q == '$') {
					while (q < it->s + it->n && (isalnum((unsigned char)q[1]) || q[1] == '_'))
						q++;
					const char *z = q + 1;
					while (z < it->s + it->n && isspace((unsigned char)*z))
						z++;
					if (z + 1 < it->s + it->n && (z[0] == ':' || z[0] == '=') &&
					    (z[0] == '=' || z[1] == '=')) {
						st->kind = S_SET;
						st->var1 = arena_strndup(t->a, s, (size_t)(q + 1 - s));
						z += z[0] == ':' ? 2 : 1;
						st->e = parse_expr_at(t, it, z, (size_t)(it->s + it->n - z));
						goto add;
					}
				}
				st->kind = S_OUT;
				st->e = parse_expr_at(t, it, it->s, it->n);
			}
		}
	add:
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			struct stmt **nv = arena_alloc(t->a, cap * sizeof(*nv));
			if (*n)
				memcpy(nv, v, *n * sizeof(*v));
			v = nv;
		}
		v[(*n)++] = st;
	}
	return v;
}

/* ---- evaluation ---- */

struct var {
	const char *name;
	const struct dnode *val;
};

struct ev {
	struct tp *t;
	struct buf *out;
	struct var vars[64];
	size_t nvars;
	const struct dnode *root;
	unsigned long steps; /* actions and expressions evaluated */
	size_t made;         /* bytes of text output and made by functions */
};

/* whether the template has done more work than a pack's template needs;
 * said once, at the action that went over, and the render stops */
static int
over_budget(struct ev *v, int line, int col)
{
	if (v->steps <= TMPL_MAX_STEPS && v->made <= TMPL_MAX_TEXT)
		return 0;
	if (v->t->err < 20) {
		perr(v->t, line, col, v->made > TMPL_MAX_TEXT ?
		     "the template makes more than 64 MiB of text%s (a range inside a range?)" :
		     "the template runs more than a million actions%s (a range inside a range?)", NULL);
		v->t->err = 20;
	}
	return 1;
}

/* a function's text is cut off where it passes the budget (the render
 * then stops): indent, printf and quote can multiply their input */
static int
full(const struct buf *b)
{
	return b->len > TMPL_MAX_TEXT;
}

static int
truthy(const struct dnode *n)
{
	if (!n)
		return 0;
	if (n->kind != D_SCALAR)
		return n->n > 0;
	if (n->style == DS_QUOTED)
		return n->len > 0;
	return !(doc_is_null(n) || !strcmp(n->s, "false") || !strcmp(n->s, "False") ||
		 !strcmp(n->s, "0"));
}

static const struct dnode *
str_node(struct ev *v, const char *s, size_t n)
{
	struct dnode *d = arena_alloc(v->t->a, sizeof(*d));
	d->kind = D_SCALAR;
	d->style = DS_QUOTED;
	d->s = arena_strndup(v->t->a, s, n);
	d->len = n;
	v->made += n;
	return d;
}

static const struct dnode *
bool_node(struct ev *v, int b)
{
	struct dnode *d = (struct dnode *)str_node(v, b ? "true" : "false", b ? 4 : 5);
	d->style = DS_PLAIN;
	return d;
}

static const char *
sval(const struct dnode *n)
{
	return n && n->kind == D_SCALAR && !doc_is_null(n) ? n->s : "";
}

static const struct dnode *
follow(const struct dnode *n, const char **path, size_t np)
{
	for (size_t i = 0; i < np && n; i++)
		n = doc_get(n, path[i]);
	return n;
}

static const struct dnode *eval(struct ev *v, struct expr *e, const struct dnode *dot,
				const struct dnode *piped, int has_piped, int line, int col);

static void
indent_into(struct buf *b, const char *s, long n)
{
	for (const char *p = s; (*p || p == s) && !full(b);) {
		for (long i = 0; i < n && !full(b); i++)
			buf_addc(b, ' ');
		const char *nl = strchr(p, '\n');
		if (!nl) {
			buf_adds(b, p);
			break;
		}
		buf_add(b, p, (size_t)(nl + 1 - p));
		p = nl + 1;
		if (!*p)
			break;
	}
}

static void
go_quote(struct buf *b, const char *s)
{
	buf_addc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_printf(b, "\\%c", c);
		else if (c == '\n')
			buf_adds(b, "\\n");
		else if (c == '\t')
			buf_adds(b, "\\t");
		else if (c < 0x20)
			buf_printf(b, "\\x%02x", c);
		else
			buf_addc(b, (char)c);
	}
	buf_addc(b, '"');
}

/* the template functions: each gets the evaluated arguments (a piped
 * value last, as Go passes it), f its own name (one function serves a
 * few), and b, an empty buffer for the text it makes */
#define FN_ARGS struct ev *v, const char *f, const struct dnode **a, size_t n, struct buf *b, \
		int line, int col
typedef const struct dnode *fn_t(FN_ARGS);

static const struct dnode *
fn_quote(FN_ARGS)
{
	for (size_t i = 0; i < n && !full(b); i++)
		if (a[i]) {
			if (b->len)
				buf_addc(b, ' ');
			go_quote(b, sval(a[i]));
		}
	return str_node(v, b->s ? b->s : "", b->len);
}

/* upper, lower, trim */
static const struct dnode *
fn_case(FN_ARGS)
{
	const char *s = n ? sval(a[n - 1]) : "";
	if (f[0] == 't') {
		while (isspace((unsigned char)*s))
			s++;
		size_t l = strlen(s);
		while (l && isspace((unsigned char)s[l - 1]))
			l--;
		return str_node(v, s, l);
	}
	buf_adds(b, s);
	for (size_t i = 0; i < b->len; i++)
		b->s[i] = (char)(f[0] == 'u' ? toupper((unsigned char)b->s[i])
					     : tolower((unsigned char)b->s[i]));
	return str_node(v, b->s ? b->s : "", b->len);
}

static const struct dnode *
fn_default(FN_ARGS)
{
	if (n == 2)
		return truthy(a[1]) ? a[1] : a[0];
	return n == 1 ? a[0] : NULL;
}

static const struct dnode *
fn_has_prefix(FN_ARGS)
{
	const char *pre = n > 0 ? sval(a[0]) : "", *s = n > 1 ? sval(a[1]) : "";
	return bool_node(v, strncmp(s, pre, strlen(pre)) == 0);
}

static const struct dnode *
fn_not(FN_ARGS)
{
	return bool_node(v, !(n && truthy(a[n - 1])));
}

/* and, or: the first argument that decides, else the last */
static const struct dnode *
fn_and_or(FN_ARGS)
{
	int want = f[0] == 'o';
	for (size_t i = 0; i < n; i++)
		if (truthy(a[i]) == want)
			return a[i];
	return n ? a[n - 1] : NULL;
}

/* eq, ne */
static const struct dnode *
fn_eq(FN_ARGS)
{
	int eq = n >= 2;
	for (size_t i = 1; i < n; i++)
		eq &= strcmp(sval(a[0]), sval(a[i])) == 0 && !a[0] == !a[i];
	return bool_node(v, f[0] == 'e' ? eq : !eq);
}

/* indent, nindent */
static const struct dnode *
fn_indent(FN_ARGS)
{
	long k = n > 0 ? strtol(sval(a[0]), NULL, 10) : 0;
	if (f[0] == 'n')
		buf_addc(b, '\n');
	indent_into(b, n > 1 ? sval(a[1]) : "", k);
	return str_node(v, b->s ? b->s : "", b->len);
}

static const struct dnode *
fn_to_yaml(FN_ARGS)
{
	const struct dnode *x = n ? a[n - 1] : NULL;
	if (x && x->kind != D_SCALAR) {
		doc_emit(b, x);
		while (b->len && b->s[b->len - 1] == '\n')
			b->s[--b->len] = 0;
	} else if (x) {
		buf_adds(b, sval(x));
	}
	return str_node(v, b->s ? b->s : "", b->len);
}

static const struct dnode *
fn_printf(FN_ARGS)
{
	const char *fmt = n ? sval(a[0]) : "";
	size_t ai = 1;
	for (const char *p = fmt; *p && !full(b); p++) {
		if (*p != '%' || !p[1]) {
			buf_addc(b, *p);
			continue;
		}
		char c = *++p;
		if (c == '%') {
			buf_addc(b, '%');
			continue;
		}
		const struct dnode *x = ai < n ? a[ai++] : NULL;
		if (c == 'q')
			go_quote(b, sval(x));
		else if (c == 's' || c == 'v' || c == 'd')
			buf_adds(b, sval(x));
		else
			perr(v->t, line, col, "printf verb %%%s is not supported (use %%s, %%d, %%v, %%q)",
			     arena_strndup(v->t->a, &c, 1));
	}
	return str_node(v, b->s ? b->s : "", b->len);
}

static const struct {
	const char *name;
	fn_t *fn;
} fns[] = {
	{"quote", fn_quote}, {"upper", fn_case}, {"lower", fn_case}, {"trim", fn_case},
	{"default", fn_default}, {"hasPrefix", fn_has_prefix}, {"not", fn_not},
	{"and", fn_and_or}, {"or", fn_and_or}, {"eq", fn_eq}, {"ne", fn_eq},
	{"indent", fn_indent}, {"nindent", fn_indent}, {"toYaml", fn_to_yaml},
	{"printf", fn_printf},
};

static int
fn_known(const char *name)
{
	for (size_t i = 0; i < sizeof(fns) / sizeof(*fns); i++)
		if (strcmp(fns[i].name, name) == 0)
			return 1;
	return 0;
}

static const struct dnode *
call(struct ev *v, struct expr *e, const struct dnode *dot, const struct dnode *piped,
     int has_piped, int line, int col)
{
	const struct dnode *a[34];
	size_t n = 0;
	for (size_t i = 0; i < e->nargs && n < 32; i++)
		a[n++] = eval(v, e->args[i], dot, NULL, 0, line, col);
	if (has_piped)
		a[n++] = piped; /* Go passes the piped value last */
	const struct dnode *r = NULL;
	for (size_t i = 0; i < sizeof(fns) / sizeof(*fns); i++)
		if (strcmp(fns[i].name, e->name) == 0) {
			struct buf b = {0};
			r = fns[i].fn(v, e->name, a, n, &b, line, col);
			buf_free(&b);
			break;
		}
	return r;
}

static const struct dnode *
eval(struct ev *v, struct expr *e, const struct dnode *dot, const struct dnode *piped,
     int has_piped, int line, int col)
{
	if (!e)
		return NULL;
	v->steps++;
	if (over_budget(v, line, col))
		return NULL;
	switch (e->kind) {
	case E_DOT:
		return dot;
	case E_FIELD:
		return follow(dot, e->path, e->npath);
	case E_VAR: {
		const struct dnode *base = NULL;
		int found = 0;
		if (!strcmp(e->name, "$")) {
			base = v->root;
			found = 1;
		}
		for (size_t i = v->nvars; !found && i-- > 0;)
			if (!strcmp(v->vars[i].name, e->name)) {
				base = v->vars[i].val;
				found = 1;
			}
		if (!found)
			perr(v->t, line, col, "undefined variable %s", e->name);
		return follow(base, e->path, e->npath);
	}
	case E_STR:
		return str_node(v, e->s, strlen(e->s));
	case E_NUM:
	case E_BOOL: {
		struct dnode *d = (struct dnode *)str_node(v, e->s, strlen(e->s));
		d->style = DS_PLAIN;
		return d;
	}
	case E_NIL:
		return NULL;
	case E_CALL:
		return call(v, e, dot, piped, has_piped, line, col);
	case E_PIPE: {
		const struct dnode *x = eval(v, e->args[0], dot, NULL, 0, line, col);
		for (size_t i = 1; i < e->nargs; i++)
			x = eval(v, e->args[i], dot, x, 1, line, col);
		return x;
	}
	}
	return NULL;
}

static void exec_list(struct ev *v, struct stmt **l, size_t n, const struct dnode *dot);

static void
set_var(struct ev *v, const char *name, const struct dnode *val)
{
	if (v->nvars < 64)
		v->vars[v->nvars++] = (struct var){name, val};
}

struct kv {
	const struct dnode *k, *v;
};

static int
kv_cmp(const void *a, const void *b)
{
	return strcmp(sval(((const struct kv *)a)->k), sval(((const struct kv *)b)->k));
}

static void
exec_stmt(struct ev *v, struct stmt *s, const struct dnode *dot)
{
	v->steps++;
	if (over_budget(v, s->line, s->col))
		return;
	switch (s->kind) {
	case S_TEXT:
		buf_add(v->out, s->text, s->n);
		v->made += s->n;
		break;
	case S_OUT: {
		const struct dnode *x = eval(v, s->e, dot, NULL, 0, s->line, s->col);
		if (x && x->kind != D_SCALAR)
			perr(v->t, s->line, s->col, "printing a %s needs toYaml",
			     x->kind == D_MAP ? "mapping" : "list");
		else {
			const char *o = sval(x);
			buf_adds(v->out, o);
			v->made += strlen(o);
			over_budget(v, s->line, s->col);
		}
		break;
	}
	case S_SET: {
		const struct dnode *x = eval(v, s->e, dot, NULL, 0, s->line, s->col);
		for (size_t i = v->nvars; i-- > 0;)
			if (!strcmp(v->vars[i].name, s->var1)) {
				v->vars[i].val = x;
				return;
			}
		set_var(v, s->var1, x);
		break;
	}
	case S_IF:
		for (struct stmt *c = s; c; c = c->next_if) {
			if (truthy(eval(v, c->e, dot, NULL, 0, c->line, c->col))) {
				exec_list(v, c->body, c->nbody, dot);
				return;
			}
			if (!c->next_if)
				exec_list(v, c->els, c->nels, dot);
		}
		break;
	case S_WITH: {
		const struct dnode *x = eval(v, s->e, dot, NULL, 0, s->line, s->col);
		if (truthy(x))
			exec_list(v, s->body, s->nbody, x);
		else
			exec_list(v, s->els, s->nels, dot);
		break;
	}
	case S_RANGE: {
		const struct dnode *x = eval(v, s->e, dot, NULL, 0, s->line, s->col);
		if (!truthy(x) || x->kind == D_SCALAR) {
			if (x && x->kind == D_SCALAR && !doc_is_null(x))
				perr(v->t, s->line, s->col, "range over a scalar (%s)", sval(x));
			exec_list(v, s->els, s->nels, dot);
			break;
		}
		size_t n = x->n, mark = v->nvars;
		struct kv *kv = xcalloc(n + 1, sizeof(*kv));
		for (size_t i = 0; i < n; i++) {
			if (x->kind == D_MAP) {
				kv[i].k = x->items[2 * i];
				kv[i].v = x->items[2 * i + 1];
			} else {
				char num[24];
				snprintf(num, sizeof(num), "%zu", i);
				struct dnode *d = (struct dnode *)str_node(v, num, strlen(num));
				d->style = DS_PLAIN;
				kv[i].k = d;
				kv[i].v = x->items[i];
			}
		}
		if (x->kind == D_MAP) /* Go ranges over a map in key order */
			qsort(kv, n, sizeof(*kv), kv_cmp);
		for (size_t i = 0; i < n && v->t->err < 20; i++) {
			v->nvars = mark;
			if (s->var1)
				set_var(v, s->var1, kv[i].k);
			if (s->var2)
				set_var(v, s->var2, kv[i].v);
			exec_list(v, s->body, s->nbody, kv[i].v);
		}
		v->nvars = mark;
		free(kv);
		break;
	}
	}
}

static void
exec_list(struct ev *v, struct stmt **l, size_t n, const struct dnode *dot)
{
	size_t mark = v->nvars; /* variables live to the end of their block */
	for (size_t i = 0; i < n && v->t->err < 20; i++)
		exec_stmt(v, l[i], dot);
	v->nvars = mark;
}

int
tmpl_render(const char *text, size_t len, const struct dnode *values,
	    const struct dnode *spectro, const char *file, struct arena *a,
	    struct buf *out, struct diag *d)
{
	struct tp t = {.a = a, .file = file, .d = d, .it = NULL, .nit = 0, .pos = 0, .err = 0};
	buf_add(out, "", 0);
	if (split(&t, text, len) == 0) {
		size_t n;
		const char *stop;
		struct stmt **prog = parse_list(&t, &n, &stop);
		if (stop) {
			struct item *it = &t.it[t.pos - 1];
			perr(&t, it->line, it->col, "{{ %s }} without a matching {{ if }}, {{ range }} or {{ with }}", stop);
		}
		if (!t.err) {
			/* the root: .Values and .Spectro */
			struct dnode *root = doc_new(a, D_MAP, 2);
			root->items[0] = doc_scalar(a, "Values", DS_PLAIN);
			root->items[1] = (struct dnode *)values;
			root->items[2] = doc_scalar(a, "Spectro", DS_PLAIN);
			root->items[3] = (struct dnode *)spectro;
			struct ev v = {.t = &t, .out = out, .nvars = 0, .root = root};
			exec_list(&v, prog, n, root);
		}
	}
	free(t.it);
	return t.err ? -1 : 0;
}
