/* doc: a YAML/JSON document as a tree of maps, sequences and scalars, each
 * node with the file position it came from. Parsing uses libyaml; text that
 * is embedded in another file (a profile's `values` string) keeps positions
 * in the outer file through a struct dorigin. */
#ifndef DOC_H
#define DOC_H

#include <stddef.h>
#include "../lib/lib.h"

enum dkind { D_SCALAR, D_MAP, D_SEQ };
/* only the distinction that changes a scalar's type is kept */
enum dstyle { DS_PLAIN, DS_QUOTED };

struct dnode {
	unsigned char kind, style;
	int line, col;        /* 1-based, in the outer file */
	const char *s;        /* scalar text (NUL-terminated) */
	size_t len;
	struct dnode **items; /* seq: n items; map: key,value pairs (2n) */
	size_t n;
};

/* where embedded text sits in its file */
struct dorigin {
	const char *file;
	int line, col; /* position of the text's first character */
	int indent;    /* column - 1 of lines after the first (block scalars) */
	int exact;     /* 0: escapes make positions inexact; map to line,col */
};
/* the origin of a whole file's text: its own line 1, column 1 */
static inline struct dorigin
doc_file_origin(const char *file)
{
	return (struct dorigin){.file = file, .line = 1, .col = 1, .indent = 0, .exact = 1};
}

/* parses every document of text into *docs (arena-allocated; o NULL: the
 * text is a file of its own, positions are its own); on a syntax
 * error adds a diagnostic at the mapped position and returns -1 */
int doc_parse(struct arena *a, const char *text, size_t len,
	      const struct dorigin *o, struct dnode ***docs, size_t *ndocs,
	      struct diag *d);
/* the first document of text (NULL when there is none) in *root; -1 on a
 * syntax error, reported to d, or not at all when d is NULL. The text need
 * not outlive the tree: every scalar is copied into a. */
int doc_parse_first(struct arena *a, const char *text, size_t len,
		    const struct dorigin *o, struct dnode **root, struct diag *d);
/* maps a 1-based position inside embedded text to the outer file */
void dorigin_map(const struct dorigin *o, int line, int col, int *fline,
		 int *fcol);
/* a file's text, and where the last lookup of a line in it ended: nodes
 * of one text looked up in order read it once, not once per node */
struct dtext {
	const char *s;
	int line;       /* the line at starts (0: none yet) */
	const char *at;
};
/* the origin of a scalar node's content, for parsing or substituting it;
 * t holds the outer file's text (block scalars start on the next line) */
void dorigin_of_scalar(struct dorigin *o, const char *file, struct dtext *t,
		       const struct dnode *n);

/* map lookup by key; NULL when absent or when m is not a map */
struct dnode *doc_get(const struct dnode *m, const char *key);
/* a scalar's text, or NULL */
const char *doc_str(const struct dnode *n);
int doc_is_null(const struct dnode *n);
struct dnode *doc_scalar(struct arena *a, const char *s, int style);
struct dnode *doc_new(struct arena *a, int kind, size_t n);
/* deep merge: maps merge key by key with over winning, anything else is
 * replaced; shares unchanged subtrees */
struct dnode *doc_merge(struct arena *a, struct dnode *base,
			struct dnode *over);
/* follows a dotted path of map keys ("a.b.c") */
struct dnode *doc_path(const struct dnode *root, const char *path);
/* fn for each path ("spec.replicas", "spec.containers[0].image") where a
 * and b differ, the deepest one that does: a value changed, or one side
 * lacks it (NULL a or b: all of the other is one difference at "") */
void doc_diff_paths(const struct dnode *a, const struct dnode *b,
		    void (*fn)(void *u, const char *path), void *u);

/* emits one document as block YAML (keys in source order); 0 or -1 */
int doc_emit(struct buf *out, const struct dnode *n);
/* emits a tree as compact JSON, plain scalars typed as YAML 1.1 types them
 * (as kubectl sends a manifest) */
void doc_emit_json(struct buf *out, const struct dnode *n);
/* one JSON value (nothing but white space after it) into *root, scalars
 * styled as libyaml would style them; 0, or -1 (root NULL) when the text
 * is not JSON or nests deeper than 256 */
int doc_parse_json(struct arena *a, const char *text, size_t len, struct dnode **root);
/* the same, leaving out every object member named skip (its value is
 * checked, not built): the parts of an answer a reader never looks at */
int doc_parse_json_skip(struct arena *a, const char *text, size_t len, const char *skip,
			struct dnode **root);
/* s as a JSON string, quotes included */
void doc_json_str(struct buf *out, const char *s);

#endif
