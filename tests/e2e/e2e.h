/* e2e: shared fixtures of the end-to-end suites. */
#ifndef E2E_H
#define E2E_H

#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include "../testutil.h"

/* an exec-target workspace whose commands log to the file `log`:
 * tiers -10 (p/crds), 0 (p/a uses variable replicas, p/b), 10 (p/c) */
void fx_exec_ws(struct tws *t, const char *apply_extra, const char *layers_yaml);
/* the same profile rendered to out/ */
void fx_render_ws(struct tws *t);
/* fx_render_ws and a first sync, which must succeed */
void fx_render_synced(struct tws *t);
/* the profile p.yaml with a value of layer b and a variable default */
void fx_profile(struct tws *t, const char *b_value, const char *extra_packs);
/* a listing of every file under the workspace with size and mtime,
 * skipping lock files: equal listings mean no file was written */
char *fx_snapshot(struct tws *t);

/* asserts that a rendered file is the line naming layer id and its hash,
 * the layer id's Namespace ns (as the kube target makes it, labelled and
 * annotated for cluster dev, with that hash and order 0) and then rest,
 * byte for byte */
void fx_assert_ns_then(const char *out, const char *ns, const char *id, const char *rest);

/* a file:// Helm repository in repo/ with chart mychart at these versions
 * (second_extra appended to the second one's Chart.yaml) */
void fx_chart_repo(struct tws *t, const char *const *vers, int n, const char *second_extra);

#define assert_code(r, want) \
	cr_assert_eq((r).code, (want), "exit %d, want %d\nstdout:\n%s\nstderr:\n%s", (r).code, \
		     (want), (r).out, (r).err)

#endif
