/* curl_lazy: the libcurl functions addonmake calls, each forwarding to
 * libcurl.so.4 opened on the first call (lazy_open) rather than linked:
 * its thirty libraries cost every process about 3 ms to load, and a no-op,
 * a plan or a render never sends a request. When libcurl cannot be
 * loaded each call fails as libcurl itself fails when it has no memory
 * (NULL handles, error codes), and http_unavailable says why. */
#define CURL_DISABLE_TYPECHECK /* its macros would rename the definitions below */
#include <curl/curl.h>
#include <dlfcn.h>
#include <pthread.h>
#include <string.h>
#include "http.h"

enum {
	GLOBAL_INIT, EASY_INIT, EASY_SETOPT, EASY_GETINFO, EASY_PERFORM, EASY_CLEANUP,
	EASY_STRERROR, SLIST_APPEND, SLIST_FREE_ALL, SHARE_INIT, SHARE_SETOPT, SHARE_CLEANUP,
	MULTI_INIT, MULTI_SETOPT, MULTI_ADD, MULTI_REMOVE, MULTI_PERFORM, MULTI_POLL,
	MULTI_WAKEUP, MULTI_INFO_READ, MULTI_CLEANUP, VERSION_INFO, NFN
};

static const char *const names[NFN] = {
	"curl_global_init", "curl_easy_init", "curl_easy_setopt", "curl_easy_getinfo",
	"curl_easy_perform", "curl_easy_cleanup", "curl_easy_strerror", "curl_slist_append",
	"curl_slist_free_all", "curl_share_init", "curl_share_setopt", "curl_share_cleanup",
	"curl_multi_init", "curl_multi_setopt", "curl_multi_add_handle",
	"curl_multi_remove_handle", "curl_multi_perform", "curl_multi_poll", "curl_multi_wakeup",
	"curl_multi_info_read", "curl_multi_cleanup", "curl_version_info",
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *fn[NFN];
static struct buf why;
static int loaded;
static http_ssl_ctx_ctrl_fn ssl_ctx_ctrl;

static void
load(void)
{
	loaded = lazy_open("libcurl.so.4", "libcurl4", names, fn, NFN, &why) == 0;
	if (!loaded)
		return;
	/* OpenSSL's own function, from the libssl libcurl brought along:
	 * addonmake does not link libssl itself */
	const curl_version_info_data *v =
		((curl_version_info_data * (*)(CURLversion)) fn[VERSION_INFO])(CURLVERSION_NOW);
	void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_NOLOAD);
	if (h && v && v->ssl_version && !strncmp(v->ssl_version, "OpenSSL/", 8))
		*(void **)&ssl_ctx_ctrl = dlsym(h, "SSL_CTX_ctrl");
	if (h)
		dlclose(h); /* lazy_open's reference keeps it loaded */
}

/* whether libcurl is there, loading it the first time */
static int
have(void)
{
	pthread_once(&once, load);
	return loaded;
}

const char *
http_unavailable(void)
{
	return have() ? NULL : why.s;
}

http_ssl_ctx_ctrl_fn
http_openssl_ctx_ctrl(void)
{
	return have() ? ssl_ctx_ctrl : NULL;
}

typedef CURLcode (*easy_setopt_fn)(CURL *, CURLoption, ...);
typedef CURLMcode (*multi_setopt_fn)(CURLM *, CURLMoption, ...);

/* calls f (of type FT, returning RT) with the option's argument read as
 * libcurl reads it, by the range its number is in (CURLOPTTYPE_*) */
#define FORWARD_OPTION(RT, FT, f, obj, opt)                                        \
	do {                                                                       \
		va_list ap;                                                        \
		va_start(ap, opt);                                                 \
		RT r;                                                              \
		if ((long)(opt) < CURLOPTTYPE_OBJECTPOINT)                         \
			r = ((FT)(f))(obj, opt, va_arg(ap, long));                 \
		else if ((long)(opt) >= CURLOPTTYPE_OFF_T &&                       \
			 (long)(opt) < CURLOPTTYPE_BLOB)                           \
			r = ((FT)(f))(obj, opt, va_arg(ap, curl_off_t));           \
		else                                                               \
			r = ((FT)(f))(obj, opt, va_arg(ap, void *));               \
		va_end(ap);                                                        \
		return r;                                                          \
	} while (0)

CURLcode
curl_global_init(long flags)
{
	return have() ? ((CURLcode(*)(long))fn[GLOBAL_INIT])(flags) : CURLE_FAILED_INIT;
}

CURL *
curl_easy_init(void)
{
	return have() ? ((CURL * (*)(void)) fn[EASY_INIT])() : NULL;
}

CURLcode
curl_easy_setopt(CURL *h, CURLoption opt, ...)
{
	if (!have())
		return CURLE_FAILED_INIT;
	FORWARD_OPTION(CURLcode, easy_setopt_fn, fn[EASY_SETOPT], h, opt);
}

CURLcode
curl_easy_getinfo(CURL *h, CURLINFO info, ...)
{
	if (!have())
		return CURLE_FAILED_INIT;
	va_list ap;
	va_start(ap, info);
	CURLcode r = ((CURLcode(*)(CURL *, CURLINFO, ...))fn[EASY_GETINFO])(h, info,
									    va_arg(ap, void *));
	va_end(ap);
	return r;
}

CURLcode
curl_easy_perform(CURL *h)
{
	return have() ? ((CURLcode(*)(CURL *))fn[EASY_PERFORM])(h) : CURLE_FAILED_INIT;
}

void
curl_easy_cleanup(CURL *h)
{
	if (have())
		((void (*)(CURL *))fn[EASY_CLEANUP])(h);
}

const char *
curl_easy_strerror(CURLcode c)
{
	return have() ? ((const char *(*)(CURLcode))fn[EASY_STRERROR])(c) : why.s;
}

struct curl_slist *
curl_slist_append(struct curl_slist *l, const char *s)
{
	return have() ? ((struct curl_slist * (*)(struct curl_slist *, const char *))
				 fn[SLIST_APPEND])(l, s)
		      : NULL;
}

void
curl_slist_free_all(struct curl_slist *l)
{
	if (have())
		((void (*)(struct curl_slist *))fn[SLIST_FREE_ALL])(l);
}

CURLSH *
curl_share_init(void)
{
	return have() ? ((CURLSH * (*)(void)) fn[SHARE_INIT])() : NULL;
}

/* CURLSHOPT_SHARE and _UNSHARE take an int (a curl_lock_data), the lock
 * functions a function pointer, USERDATA a pointer */
CURLSHcode
curl_share_setopt(CURLSH *sh, CURLSHoption opt, ...)
{
	if (!have())
		return CURLSHE_NOT_BUILT_IN;
	va_list ap;
	va_start(ap, opt);
	CURLSHcode (*f)(CURLSH *, CURLSHoption, ...) =
		(CURLSHcode(*)(CURLSH *, CURLSHoption, ...))fn[SHARE_SETOPT];
	CURLSHcode r = opt == CURLSHOPT_SHARE || opt == CURLSHOPT_UNSHARE
			       ? f(sh, opt, va_arg(ap, int))
			       : f(sh, opt, va_arg(ap, void *));
	va_end(ap);
	return r;
}

CURLSHcode
curl_share_cleanup(CURLSH *sh)
{
	return have() ? ((CURLSHcode(*)(CURLSH *))fn[SHARE_CLEANUP])(sh) : CURLSHE_NOT_BUILT_IN;
}

CURLM *
curl_multi_init(void)
{
	return have() ? ((CURLM * (*)(void)) fn[MULTI_INIT])() : NULL;
}

CURLMcode
curl_multi_setopt(CURLM *m, CURLMoption opt, ...)
{
	if (!have())
		return CURLM_INTERNAL_ERROR;
	FORWARD_OPTION(CURLMcode, multi_setopt_fn, fn[MULTI_SETOPT], m, opt);
}

CURLMcode
curl_multi_add_handle(CURLM *m, CURL *h)
{
	return have() ? ((CURLMcode(*)(CURLM *, CURL *))fn[MULTI_ADD])(m, h)
		      : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_remove_handle(CURLM *m, CURL *h)
{
	return have() ? ((CURLMcode(*)(CURLM *, CURL *))fn[MULTI_REMOVE])(m, h)
		      : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_perform(CURLM *m, int *running)
{
	return have() ? ((CURLMcode(*)(CURLM *, int *))fn[MULTI_PERFORM])(m, running)
		      : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_poll(CURLM *m, struct curl_waitfd extra[], unsigned n, int ms, int *ret)
{
	return have() ? ((CURLMcode(*)(CURLM *, struct curl_waitfd *, unsigned, int,
					int *))fn[MULTI_POLL])(m, extra, n, ms, ret)
		      : CURLM_INTERNAL_ERROR;
}

CURLMcode
curl_multi_wakeup(CURLM *m)
{
	return have() ? ((CURLMcode(*)(CURLM *))fn[MULTI_WAKEUP])(m) : CURLM_INTERNAL_ERROR;
}

CURLMsg *
curl_multi_info_read(CURLM *m, int *left)
{
	return have() ? ((CURLMsg * (*)(CURLM *, int *)) fn[MULTI_INFO_READ])(m, left) : NULL;
}

CURLMcode
curl_multi_cleanup(CURLM *m)
{
	return have() ? ((CURLMcode(*)(CURLM *))fn[MULTI_CLEANUP])(m) : CURLM_INTERNAL_ERROR;
}
