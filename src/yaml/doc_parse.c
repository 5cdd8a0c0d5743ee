/* doc_parse: libyaml events → struct dnode trees. Anchors are resolved by
 * sharing the anchored node; positions are mapped to the outer file. */
#include <string.h>
#include <yaml.h>
#include "doc.h"

void
dorigin_map(const struct dorigin *o, int line, int col, int *fline, int *fcol)
{
	if (!o) {
		/* text of its own (a server's answer): positions as they are */
		*fline = line;
		*fcol = col;
	} else if (!o->exact) {
		*fline = o->line;
		*fcol = o->col;
	} else if (line <= 1) {
		*fline = o->line;
		*fcol = o->col + col - 1;
	} else {
		*fline = o->line + line - 1;
		*fcol = o->indent + col;
	}
}

/* the start of line `line` of t (its end when there are fewer lines),
 * from where the last lookup ended when that is not past it */
static const char *
dtext_line(struct dtext *t, int line)
{
	if (t->line < 1 || t->line > line || !t->at) {
		t->line = 1;
		t->at = t->s;
	}
	while (t->line < line) {
		const char *nl = strchr(t->at, '\n');
		if (!nl)
			return t->at + strlen(t->at);
		t->at = nl + 1;
		t->line++;
	}
	return t->at;
}

void
dorigin_of_scalar(struct dorigin *o, const char *file, struct dtext *t,
		  const struct dnode *n)
{
	o->file = file;
	o->line = n->line;
	o->col = n->col;
	o->indent = 0;
	o->exact = 1;
	if (!t || !t->s || n->kind != D_SCALAR)
		return;
	const char *at = dtext_line(t, n->line);
	for (int c = 1; c < n->col && *at && *at != '\n'; c++)
		at++;
	if (*at == '|' || *at == '>') {
		/* block scalar: content starts on the next line, at the
		 * indentation of its first non-empty line */
		const char *q = strchr(at, '\n');
		int line = n->line + 1;
		while (q) {
			q++;
			int ind = 0;
			while (q[ind] == ' ')
				ind++;
			if (q[ind] != '\n') {
				o->line = line;
				o->col = ind + 1;
				o->indent = ind;
				return;
			}
			q = strchr(q, '\n');
			line++;
		}
		return;
	}
	if (*at == '"' || *at == '\'') {
		/* a quoted scalar: escapes (JSON's "\n") move positions */
		o->col = n->col + 1;
		o->exact = strchr(n->s, '\n') == NULL && !memchr(at, '\\', n->len + 2);
		return;
	}
	o->indent = n->col - 1;
}

/* A document's size counts what its aliases expand to, as every reader
 * of the tree (merge, hash, emit) walks an alias's subtree again: a
 * "billion laughs" document of a few hundred bytes would expand to 10^9
 * nodes. Nesting is bounded too, since those readers recurse. */
#define DOC_MAX_EXPANDED 1000000
#define DOC_MAX_DEPTH 256

struct anchor {
	char *name;
	struct dnode *node;
	size_t weight; /* nodes it expands to; 0 while it is still open */
};

struct frame {
	struct dnode *node;
	struct dnode **kids;
	size_t n, cap;
	size_t start;  /* p->expanded when it opened */
	long anchor;   /* its index in p->anc, or -1 */
};

struct parser {
	struct arena *a;
	const struct dorigin *o;
	struct frame *st;
	size_t nst, capst;
	struct anchor *anc;
	size_t nanc, capanc;
	size_t expanded; /* nodes of the document so far, aliases expanded */
};

static void
pos(struct parser *p, yaml_mark_t m, struct dnode *n)
{
	dorigin_map(p->o, (int)m.line + 1, (int)m.column + 1, &n->line, &n->col);
}

/* its index, or -1 when there is no anchor */
static long
add_anchor(struct parser *p, const unsigned char *name, struct dnode *n, size_t weight)
{
	if (!name)
		return -1;
	if (p->nanc == p->capanc) {
		p->capanc = p->capanc ? p->capanc * 2 : 8;
		p->anc = xrealloc(p->anc, p->capanc * sizeof(*p->anc));
	}
	p->anc[p->nanc].name = xstrdup((const char *)name);
	p->anc[p->nanc].node = n;
	p->anc[p->nanc].weight = weight;
	return (long)p->nanc++;
}

static struct anchor *
find_anchor(struct parser *p, const unsigned char *name)
{
	for (size_t i = p->nanc; i-- > 0;)
		if (strcmp(p->anc[i].name, (const char *)name) == 0)
			return &p->anc[i];
	return NULL;
}

static void
push_child(struct parser *p, struct dnode *n)
{
	if (!p->nst)
		return;
	struct frame *f = &p->st[p->nst - 1];
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->kids = xrealloc(f->kids, f->cap * sizeof(*f->kids));
	}
	f->kids[f->n++] = n;
}

/* frames are a stack: a slot keeps its kids array for the next frame that
 * uses it, so building a tree costs no malloc per node */
static void
open_frame(struct parser *p, struct dnode *n, long anchor)
{
	if (p->nst == p->capst) {
		size_t cap = p->capst ? p->capst * 2 : 16;
		p->st = xrealloc(p->st, cap * sizeof(*p->st));
		memset(p->st + p->capst, 0, (cap - p->capst) * sizeof(*p->st));
		p->capst = cap;
	}
	struct frame *f = &p->st[p->nst++];
	f->node = n;
	f->n = 0;
	f->start = p->expanded;
	f->anchor = anchor;
}

static struct dnode *
close_frame(struct parser *p)
{
	struct frame *f = &p->st[--p->nst];
	struct dnode *n = f->node;
	n->items = arena_alloc(p->a, (f->n ? f->n : 1) * sizeof(*n->items));
	if (f->n)
		memcpy(n->items, f->kids, f->n * sizeof(*n->items));
	n->n = n->kind == D_MAP ? f->n / 2 : f->n;
	if (f->anchor >= 0)
		p->anc[f->anchor].weight = p->expanded - f->start;
	return n;
}

/* refuses what the limits above refuse, at mark; 0 or -1 */
static int
limit(struct parser *p, yaml_mark_t m, const char *fmt, const char *arg, struct diag *d)
{
	int l, c;
	dorigin_map(p->o, (int)m.line + 1, (int)m.column + 1, &l, &c);
	diag_add(d, DIAG_ERROR, p->o ? p->o->file : "(text)", l, c, fmt, arg);
	return -1;
}

int
doc_parse(struct arena *a, const char *text, size_t len,
	  const struct dorigin *o, struct dnode ***docs, size_t *ndocs,
	  struct diag *d)
{
	yaml_parser_t yp;
	yaml_event_t ev;
	struct parser p = {.a = a, .o = o};
	struct dnode **out = NULL;
	size_t nout = 0, capout = 0;
	int rc = 0, done = 0;

	yaml_parser_initialize(&yp);
	yaml_parser_set_input_string(&yp, (const unsigned char *)text, len);
	while (!done) {
		if (!yaml_parser_parse(&yp, &ev)) {
			int l, c;
			dorigin_map(o, (int)yp.problem_mark.line + 1,
				    (int)yp.problem_mark.column + 1, &l, &c);
			size_t at = yp.problem_mark.index;
			if (at < len && text[at] == '\t' && yp.problem &&
			    strstr(yp.problem, "cannot start any token"))
				/* what libyaml says of a tab means nothing to most */
				diag_add(d, DIAG_ERROR, o ? o->file : "(text)", l, c,
					 "malformed YAML: a tab here; YAML indents with spaces only");
			else
				diag_add(d, DIAG_ERROR, o ? o->file : "(text)", l, c,
					 "malformed YAML: %s%s%s",
					 yp.problem ? yp.problem : "syntax error",
					 yp.context ? " " : "",
					 yp.context ? yp.context : "");
			rc = -1;
			break;
		}
		struct dnode *n = NULL;
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT:
			p.expanded = 0;
			open_frame(&p, doc_new(a, D_SEQ, 0), -1);
			break;
		case YAML_DOCUMENT_END_EVENT: {
			struct frame *f = &p.st[p.nst - 1];
			struct dnode *root = f->n ? f->kids[0] : NULL;
			p.nst--;
			if (root) {
				if (nout == capout) {
					capout = capout ? capout * 2 : 4;
					out = xrealloc(out, capout * sizeof(*out));
				}
				out[nout++] = root;
			}
			break;
		}
		case YAML_SCALAR_EVENT: {
			n = arena_alloc(a, sizeof(*n));
			n->kind = D_SCALAR;
			n->style = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE
					   ? DS_PLAIN : DS_QUOTED;
			if (ev.data.scalar.tag && strcmp((char *)ev.data.scalar.tag,
						 "tag:yaml.org,2002:str") == 0)
				n->style = DS_QUOTED;
			n->s = arena_strndup(a, (char *)ev.data.scalar.value,
					     ev.data.scalar.length);
			n->len = ev.data.scalar.length;
			pos(&p, ev.start_mark, n);
			add_anchor(&p, ev.data.scalar.anchor, n, 1);
			push_child(&p, n);
			p.expanded++;
			break;
		}
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (p.nst > DOC_MAX_DEPTH) {
				rc = limit(&p, ev.start_mark, "the document nests deeper than %s levels",
					   "256", d);
				done = 1;
				break;
			}
			n = arena_alloc(a, sizeof(*n));
			n->kind = ev.type == YAML_MAPPING_START_EVENT ? D_MAP : D_SEQ;
			pos(&p, ev.start_mark, n);
			push_child(&p, n);
			p.expanded++;
			open_frame(&p, n, add_anchor(&p, ev.type == YAML_MAPPING_START_EVENT
							     ? ev.data.mapping_start.anchor
							     : ev.data.sequence_start.anchor, n, 0));
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			close_frame(&p);
			break;
		case YAML_ALIAS_EVENT: {
			struct anchor *an = find_anchor(&p, ev.data.alias.anchor);
			const char *name = (const char *)ev.data.alias.anchor;
			if (!an)
				rc = limit(&p, ev.start_mark, "unknown alias *%s", name, d);
			else if (!an->weight)
				rc = limit(&p, ev.start_mark, "alias *%s refers to a node that contains "
					   "it", name, d);
			else if ((p.expanded += an->weight) > DOC_MAX_EXPANDED)
				rc = limit(&p, ev.start_mark, "aliases expand the document to more than "
					   "1000000 nodes (at *%s); write the values out instead", name, d);
			if (rc) {
				done = 1;
				break;
			}
			push_child(&p, an->node);
			break;
		}
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	for (size_t i = 0; i < p.capst; i++)
		free(p.st[i].kids);
	free(p.st);
	for (size_t i = 0; i < p.nanc; i++)
		free(p.anc[i].name);
	free(p.anc);
	yaml_parser_delete(&yp);
	if (rc) {
		free(out);
		*docs = NULL;
		*ndocs = 0;
		return rc;
	}
	if (nout) {
		*docs = arena_alloc(a, nout * sizeof(**docs));
		memcpy(*docs, out, nout * sizeof(*out));
	} else {
		*docs = NULL;
	}
	*ndocs = nout;
	free(out);
	return 0;
}

int
doc_parse_first(struct arena *a, const char *text, size_t len,
		const struct dorigin *o, struct dnode **root, struct diag *d)
{
	struct diag quiet = {0};
	struct dnode **docs;
	size_t n;
	*root = NULL;
	int rc = doc_parse(a, text, len, o, &docs, &n, d ? d : &quiet);
	diag_free(&quiet);
	if (rc)
		return -1;
	if (n)
		*root = docs[0];
	return 0;
}
