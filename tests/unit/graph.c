/* unit tests of graph/: tiers, ordering, barriers, DOT. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "../../graph/graph.h"

static void
add(struct graph *g, const char *id, int64_t order)
{
	struct gnode n = {id, id, order, GS_UNKNOWN, 0, NULL};
	graph_add(g, &n);
}

Test(graph, tiers_by_order_lowest_first)
{
	struct graph g = {0};
	add(&g, "b/x", 10);
	add(&g, "a/y", 0);
	add(&g, "c/z", -5);
	add(&g, "a/w", 0);
	graph_build(&g);
	cr_assert_eq(g.ntiers, 3);
	cr_assert_eq(g.tiers[0].order, -5);
	cr_assert_eq(g.tiers[1].order, 0);
	cr_assert_eq(g.tiers[1].n, 2);
	cr_assert_eq(g.tiers[2].order, 10);
	/* deterministic within a tier: by id */
	cr_assert_str_eq(g.nodes[1].id, "a/w");
	cr_assert_str_eq(g.nodes[2].id, "a/y");
	cr_assert_eq(g.nodes[3].tier, 2);
	cr_assert_eq(graph_barrier_before(&g, 0), -1);
	cr_assert_eq(graph_barrier_before(&g, 2), 1);
	cr_assert_eq(graph_find(&g, "b/x"), 3);
	cr_assert_eq(graph_find(&g, "nope"), -1);
	graph_free(&g);
}

Test(graph, an_empty_graph_has_no_tiers)
{
	/* a cluster without layers: under UBSan, sorting a NULL array fails */
	struct graph g = {0};
	graph_build(&g);
	cr_assert_eq(g.ntiers, 0);
	cr_assert_eq(graph_find(&g, "a/x"), -1);
	graph_free(&g);
}

Test(graph, insertion_order_does_not_matter)
{
	struct graph g1 = {0}, g2 = {0};
	const char *ids[] = {"p/a", "p/b", "q/c", "q/d"};
	int64_t ord[] = {3, 1, 3, 2};
	for (int i = 0; i < 4; i++)
		add(&g1, ids[i], ord[i]);
	for (int i = 3; i >= 0; i--)
		add(&g2, ids[i], ord[i]);
	graph_build(&g1);
	graph_build(&g2);
	for (int i = 0; i < 4; i++)
		cr_assert_str_eq(g1.nodes[i].id, g2.nodes[i].id);
	graph_free(&g1);
	graph_free(&g2);
}

static char *
dot_of(struct graph *g, const char *name, int st)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	graph_dot_begin(f);
	graph_dot_cluster(f, g, name, st);
	graph_dot_end(f);
	fclose(f);
	return out;
}

Test(graph, dot_has_tier_clusters_and_one_edge_per_tier_pair)
{
	struct graph g = {0};
	add(&g, "p/a", 0);
	add(&g, "p/b", 0);
	add(&g, "p/c", 10);
	add(&g, "p/d", 20);
	graph_build(&g);
	char *dot = dot_of(&g, "dev", 0);
	cr_assert(strstr(dot, "digraph addonmake {") == dot);
	cr_assert(strstr(dot, "rankdir=LR;"));
	cr_assert(strstr(dot, "compound=true;"));
	cr_assert(strstr(dot, "label=\"install order 10\""));
	int edges = 0;
	for (char *p = dot; (p = strstr(p, " -> ")); p++)
		edges++;
	cr_assert_eq(edges, 2, "one edge per adjacent tier pair, got %d", edges);
	free(dot);
	graph_free(&g);
}

Test(graph, dot_escapes_quotes_and_renders_with_graphviz)
{
	struct graph g = {0};
	struct gnode n = {"p/we\"ird\\name", "we\"ird\nmanifest", 0, GS_DIRTY, 0, NULL};
	graph_add(&g, &n);
	add(&g, "p/next", 5);
	graph_build(&g);
	char *dot = dot_of(&g, "my cluster", 1);
	cr_assert(strstr(dot, "\"my cluster/p/we\\\"ird\\\\name\""), "%s", dot);
	if (access("/usr/bin/dot", X_OK) == 0) {
		char path[] = "/tmp/am-dot-XXXXXX";
		int fd = mkstemp(path);
		cr_assert(fd >= 0);
		cr_assert_eq(write(fd, dot, strlen(dot)), (ssize_t)strlen(dot));
		close(fd);
		char cmd[256];
		snprintf(cmd, sizeof(cmd), "dot -Tsvg %s -o /dev/null 2>%s.err && test ! -s %s.err",
			 path, path, path);
		cr_assert_eq(system(cmd), 0, "dot reported a warning or error");
		snprintf(cmd, sizeof(cmd), "rm -f %s %s.err", path, path);
		system(cmd);
	}
	free(dot);
	graph_free(&g);
}
