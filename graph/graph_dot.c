/* graph_dot: Graphviz output. One subgraph cluster per tier, one edge per
 * pair of adjacent tiers drawn between the clusters (compound=true), node
 * ids quoted and escaped; same graph in, same bytes out. */
#include "graph.h"

void
graph_dot_quote(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		if (*s == '\n') {
			fputs("\\n", f);
			continue;
		}
		fputc(*s, f);
	}
	fputc('"', f);
}

static const char *
state_style(int st)
{
	switch (st) {
	case GS_UPTODATE: return "style=filled, fillcolor=\"#c8e6c9\"";
	case GS_DIRTY: return "style=filled, fillcolor=\"#fff59d\"";
	case GS_FAILED: return "style=filled, fillcolor=\"#ef9a9a\"";
	case GS_NEW: return "style=filled, fillcolor=\"#bbdefb\"";
	case GS_REMOVED: return "style=\"filled,dashed\", fillcolor=\"#eeeeee\"";
	}
	return "style=solid";
}

const char *
graph_state_word(int st)
{
	switch (st) {
	case GS_UPTODATE: return "up to date";
	case GS_DIRTY: return "dirty";
	case GS_FAILED: return "failed";
	case GS_NEW: return "new";
	case GS_REMOVED: return "removed";
	}
	return NULL;
}

void
graph_dot_begin(FILE *f)
{
	fputs("digraph addonmake {\n"
	      "  rankdir=LR;\n"
	      "  compound=true;\n"
	      "  node [shape=box, fontsize=10];\n"
	      "  edge [fontsize=10];\n", f);
}

void
graph_dot_end(FILE *f)
{
	fputs("}\n", f);
}

void
graph_dot_legend(FILE *f)
{
	/* cluster_name() makes "cluster__legend" of no cluster: a leading
	 * '_' of a name is written _5f */
	fputs("  subgraph cluster__legend {\n    label=\"legend\";\n", f);
	for (int st = GS_UPTODATE; st <= GS_REMOVED; st++)
		fprintf(f, "    \"legend/%d\" [label=\"%s\", %s];\n", st, graph_state_word(st),
			state_style(st));
	fputs("  }\n", f);
}

static void
node_id(FILE *f, const char *cluster, const char *id)
{
	fputc('"', f);
	for (const char *s = cluster; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('/', f);
	for (const char *s = id; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

/* DOT subgraph names are ids: keep [A-Za-z0-9_] and encode the rest */
static void
cluster_name(FILE *f, const char *cluster, long tier)
{
	fputs("cluster_", f);
	for (const unsigned char *s = (const unsigned char *)cluster; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		    (*s >= '0' && *s <= '9'))
			fputc(*s, f);
		else
			fprintf(f, "_%02x", *s);
	}
	if (tier >= 0)
		fprintf(f, "_%ld", tier);
}

void
graph_dot_cluster(FILE *f, const struct graph *g, const char *name,
		  int with_state)
{
	fputs("  subgraph ", f);
	cluster_name(f, name, -1);
	fputs(" {\n    label=", f);
	char lab[512];
	snprintf(lab, sizeof(lab), "cluster %s", name);
	graph_dot_quote(f, lab);
	fputs(";\n", f);
	for (size_t t = 0; t < g->ntiers; t++) {
		const struct gtier *tr = &g->tiers[t];
		fputs("    subgraph ", f);
		cluster_name(f, name, (long)t);
		snprintf(lab, sizeof(lab), "install order %lld", (long long)tr->order);
		fputs(" {\n      label=", f);
		graph_dot_quote(f, lab);
		fputs(";\n", f);
		for (size_t i = tr->first; i < tr->first + tr->n; i++) {
			const struct gnode *n = &g->nodes[i];
			fputs("      ", f);
			node_id(f, name, n->id);
			fputs(" [label=", f);
			char buf[1024];
			const char *w = with_state ? graph_state_word(n->state) : NULL;
			if (w)
				snprintf(buf, sizeof(buf), "%s\n%s", n->label, w);
			else
				snprintf(buf, sizeof(buf), "%s", n->label);
			graph_dot_quote(f, buf);
			if (with_state)
				fprintf(f, ", %s", state_style(n->state));
			fputs("];\n", f);
		}
		fputs("    }\n", f);
	}
	fputs("  }\n", f);
	for (size_t t = 1; t < g->ntiers; t++) {
		fputs("  ", f);
		node_id(f, name, g->nodes[g->tiers[t - 1].first].id);
		fputs(" -> ", f);
		node_id(f, name, g->nodes[g->tiers[t].first].id);
		fputs(" [ltail=", f);
		cluster_name(f, name, (long)t - 1);
		fputs(", lhead=", f);
		cluster_name(f, name, (long)t);
		fputs("];\n", f);
	}
}
