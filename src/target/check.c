/* check: the readiness checks a layer declares in addonmake.yaml —
 * command: [argv] (ready when it exits 0) and http: {url, expect} (ready
 * when a GET answers the expected status). */
#include <errno.h>
#include <curl/curl.h>
#include <string.h>
#include "../http/http.h"
#include "target.h"

static size_t
discard(char *p, size_t sz, size_t n, void *u)
{
	(void)p;
	(void)u;
	return sz * n;
}

static int
http_check(const struct check *k, int64_t deadline, struct buf *why)
{
	CURL *h = http_handle();
	if (!h) {
		const char *nocurl = http_unavailable();
		buf_adds(why, "cannot start an HTTP client");
		if (nocurl)
			buf_printf(why, ": %s", nocurl);
		return T_NOTREADY;
	}
	long tmo = 10000;
	if (deadline) {
		int64_t left = deadline - now_ms();
		if (left < tmo)
			tmo = left < 100 ? 100 : (long)left;
	}
	char ebuf[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, k->url);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, tmo);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, tmo < 5000 ? tmo : 5000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
	CURLcode rc = curl_easy_perform(h);
	long code = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(h);
	if (rc != CURLE_OK) {
		buf_printf(why, "GET %s: %s", k->url, ebuf[0] ? ebuf : curl_easy_strerror(rc));
		return T_NOTREADY;
	}
	if (code != k->expect) {
		buf_printf(why, "GET %s answered %ld, expected %ld", k->url, code, k->expect);
		return T_NOTREADY;
	}
	return T_OK;
}

int
check_run(const struct check *k, struct procs *ps, const char *cwd,
	  char **env, int64_t deadline, struct buf *why)
{
	if (k->kind == CHECK_HTTP)
		return http_check(k, deadline, why);
	struct buf out = {0};
	int status;
	struct proc_spec sp = {.argv = k->argv, .env = env, .cwd = cwd, .in = NULL, .inlen = 0,
			       .deadline = deadline, .err_path = NULL};
	int rc = proc_run(ps, &sp, &out, &status);
	if (rc == ECANCELED) {
		buf_free(&out);
		return T_STOPPED;
	}
	if (rc == 0 && status == 0) {
		buf_free(&out);
		return T_OK;
	}
	/* the last line the command printed says most about why */
	while (out.len && (out.s[out.len - 1] == '\n' || out.s[out.len - 1] == ' '))
		out.s[--out.len] = 0;
	const char *last = out.len ? strrchr(out.s, '\n') : NULL;
	last = last ? last + 1 : out.s;
	if (rc < 0)
		buf_printf(why, "%s: did not finish in time", k->desc);
	else
		buf_printf(why, "%s: exit %d%s%s", k->desc, status, last && *last ? ": " : "",
			   last ? last : "");
	buf_free(&out);
	return T_NOTREADY;
}
