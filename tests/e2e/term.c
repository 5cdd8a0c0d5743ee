/* e2e term: what a run prints — on a terminal (a pseudo-terminal of a set
 * width): one status line cut to the width, colour unless NO_COLOR; and
 * everywhere: a closing summary, nothing with -q on success, exec commands
 * with -v, a failed command's output once. */
#include <stdio.h>
#include "../../src/lib/lib.h"
#include "e2e.h"

/* an exec workspace: p/b waits twice for a check whose message is long,
 * the others apply at once */
static void
waiting_ws(struct tws *t)
{
	fx_exec_ws(&t[0], NULL,
		   "    layers:\n"
		   "      p/b:\n"
		   "        readiness:\n"
		   "          interval: 200ms\n"
		   "          checks:\n"
		   "            - command: [sh, -c, 'n=$(cat n 2>/dev/null || echo 0); echo $((n+1)) > n; "
		   "test $n -ge 2 || { echo \"a long reason why the check is not ready yet, as real "
		   "checks give\"; exit 1; }']\n");
}

/* the widest line a terminal shows (escape sequences take no room) */
static int
widest(const char *s)
{
	int w = 0, max = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\r' || c == '\n') {
			w = 0;
		} else if (c == 033) {
			while (s[1] && !((s[1] >= 'A' && s[1] <= 'Z') || (s[1] >= 'a' && s[1] <= 'z')))
				s++;
			if (s[1])
				s++;
		} else if ((c & 0xc0) != 0x80 && ++w > max) {
			max = w;
		}
	}
	return max;
}

Test(term, the_status_line_fits_the_terminal)
{
	struct tws t;
	tws_init(&t);
	waiting_ws(&t);
	struct res r = am_tty(&t, 40, "", "sync");
	assert_code(r, 0);
	/* the waiting line was there, cut */
	cr_assert(strstr(r.out, "waiting\033[0m p/b — command: sh -…"), "%s", r.out);
	/* a status line is cut to 39 columns; only whole messages (the
	 * summary) may be longer, and wrap as the terminal wants */
	for (char *line = strtok(r.out, "\n"); line; line = strtok(NULL, "\n")) {
		char *last = strrchr(line, '\r') ? strrchr(line, '\r') + 1 : line;
		if (strstr(line, "addonmake: ") == line)
			continue;
		cr_assert_leq(widest(line), 39, "a line wider than the terminal: %s", last);
	}
	res_free(&r);
	tws_free(&t);
}

Test(term, colour_on_a_terminal_unless_no_color)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, NULL);
	struct res r = am_tty(&t, 120, "", "sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "\033[32mready\033[0m"), "%s", r.out);
	res_free(&r);
	r = am_tty(&t, 120, "NO_COLOR=1", "-B sync");
	assert_code(r, 0);
	cr_assert(strstr(r.out, "ready") && !strstr(r.out, "\033[3"), "coloured under NO_COLOR:\n%s", r.out);
	res_free(&r);
	/* not a terminal: no escape at all */
	r = am(&t, "-B sync");
	assert_code(r, 0);
	cr_assert(!strchr(r.out, 033), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* the last line: what was applied, failed, not started, and how long */
static void
assert_summary(const char *out, const char *counts)
{
	char want[200];
	snprintf(want, sizeof(want), "\naddonmake: %s in ", counts);
	const char *s = strstr(out, want);
	cr_assert(s, "no \"%s\" in:\n%s", want + 1, out);
	s += strlen(want);
	cr_assert(s[0] >= '0' && s[0] <= '9', "%s", out);
	cr_assert(strchr(s, '\n') && strcmp(strchr(s, '\n'), "\n") == 0, "not the last line:\n%s", out);
	cr_assert(strstr(s, " s\n"), "%s", out);
}

Test(term, a_run_ends_with_one_summary_line)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, "test $ADDONMAKE_LAYER != p/b || exit 3; ", NULL);
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	/* p/crds, p/a applied; p/b failed; p/c of a later tier not started */
	assert_summary(r.out, "2 applied, 1 failed, 1 not started");
	res_free(&r);
	/* the apply command changed: every layer again */
	fx_exec_ws(&t, NULL, NULL);
	r = am(&t, "sync");
	assert_code(r, 0);
	assert_summary(r.out, "4 applied");
	res_free(&r);
	tws_free(&t);
}

Test(term, quiet_prints_nothing_on_success)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, NULL, NULL);
	const char *runs[] = {"-q", "-q", "-q prune", "-q --prune"};
	for (int i = 0; i < 4; i++) {
		struct res r = am(&t, "%s", runs[i]);
		assert_code(r, 0);
		cr_assert_str_eq(r.out, "", "addonmake %s printed:\n%s", runs[i], r.out);
		cr_assert_str_eq(r.err, "", "addonmake %s printed:\n%s", runs[i], r.err);
		res_free(&r);
	}
	/* a failure is still told */
	fx_exec_ws(&t, "test $ADDONMAKE_LAYER != p/b || exit 3; ", NULL);
	fx_profile(&t, "two", NULL);
	struct res r = am(&t, "-q");
	assert_code(r, 1);
	cr_assert(strstr(r.out, "layer p/b failed"), "%s", r.out);
	cr_assert(!strstr(r.out, "ready"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

Test(term, verbose_shows_exec_commands_and_a_failure_prints_once)
{
	struct tws t;
	tws_init(&t);
	fx_exec_ws(&t, "echo said-$ADDONMAKE_ORDER; echo whined >&2; test $ADDONMAKE_LAYER != p/b || exit 3; ",
		   NULL);
	struct res r = am(&t, "sync");
	assert_code(r, 1);
	/* the command's output, once: in the failure, not in the event too */
	cr_assert_eq(count_lines(r.out, "whined"), 1, "%s", r.out);
	cr_assert(strstr(r.out, "dev: failed p/b (order 0): apply command sh exited with status 3\n"),
		  "%s", r.out);
	cr_assert(strstr(r.out, "addonmake: dev: layer p/b failed: apply command sh exited with status 3:\n"
				"said-0\nwhined\n"), "%s", r.out);
	res_free(&r);
	r = am(&t, "-B -v sync p/crds");
	cr_assert(strstr(r.out, "addonmake: dev: p/crds: apply: sh -c 'echo \"start $ADDONMAKE_LAYER\""),
		  "%s", r.out);
	cr_assert(strstr(r.out, "(exit 0)\naddonmake: dev: p/crds:   | said--10\n"
				"addonmake: dev: p/crds:   | whined\n"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}

/* -J on a terminal: the status line says how the clusters stand */
Test(term, the_status_line_counts_the_clusters_with_J)
{
	struct tws t;
	tws_init(&t);
	fx_profile(&t, "one", NULL);
	tws_put(&t, "addonmake.yaml", "clusters:\n"
		"  - {name: dev, target: {render: {dir: out/dev}}, profiles: [p.yaml]}\n"
		"  - {name: lab, target: {render: {dir: out/lab}}, profiles: [p.yaml]}\n"
		"  - {name: prod, target: {render: {dir: out/prod}}, profiles: [p.yaml]}\n");
	struct res r = am_tty(&t, 200, "", "sync -J 2");
	assert_code(r, 0);
	/* two start, one waits; at the end all are done */
	cr_assert(strstr(r.out, "[clusters: 0 done, 2 running, 0 failed, 1 waiting] "), "%s", r.out);
	cr_assert(strstr(r.out, "addonmake: prod: synced"), "%s", r.out);
	res_free(&r);
	tws_free(&t);
}
