/* lib: libssl and nghttp2, opened the first time a connection is wanted.
 * A process that never sends a request over HTTP/2 (a plan, a render, a
 * no-op from the local cache) does not pay for mapping them. */
#include <pthread.h>
#include "internal.h"

struct h2_fns h2_fn;

#define H2_FN_NAME(n) #n,
static const char *const ssl_names[] = {H2_SSL_FNS(H2_FN_NAME)};
static const char *const ng_names[] = {H2_NGHTTP2_FNS(H2_FN_NAME)};
#undef H2_FN_NAME

#define NSSL (sizeof(ssl_names) / sizeof(ssl_names[0]))
#define NNG (sizeof(ng_names) / sizeof(ng_names[0]))

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct buf why;
static int loaded;

static void
load(void)
{
	void *s[NSSL], *g[NNG];
	if (lazy_open("libssl.so.3", "libssl3", ssl_names, s, NSSL, &why) != 0 ||
	    lazy_open("libnghttp2.so.14", "libnghttp2-14", ng_names, g, NNG, &why) != 0)
		return;
	size_t i = 0;
#define H2_FN_SET(n) *(void **)&h2_fn.n = s[i++];
	H2_SSL_FNS(H2_FN_SET)
	i = 0;
#undef H2_FN_SET
#define H2_FN_SET(n) *(void **)&h2_fn.n = g[i++];
	H2_NGHTTP2_FNS(H2_FN_SET)
#undef H2_FN_SET
	loaded = 1;
}

const char *
h2_unavailable(void)
{
	pthread_once(&once, load);
	return loaded ? NULL : why.s ? why.s : "libssl or nghttp2 cannot be loaded";
}
