/* lazy: a shared library opened when it is first needed instead of when
 * the process starts. libcurl brings some thirty libraries of its own;
 * mapping and relocating them took every process about 3 ms, a quarter of
 * a no-op sync of a thousand layers, while only the runs that talk to a
 * server need them (see src/http/curl_lazy.c). */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include "lib.h"

/* the one background load of the process (lazy_preload) */
static struct {
	pthread_t t;
	int running;
	void (*fn)(void *);
	void *arg;
} preload;

int
lazy_open(const char *soname, const char *package, const char *const *names, void **fns,
	  size_t n, struct buf *why)
{
	void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *e = dlerror();
		buf_printf(why, "%s cannot be loaded (%s): install it (Debian package %s)", soname,
			   e ? e : "no reason given", package);
		return ELIBACC;
	}
	for (size_t i = 0; i < n; i++) {
		fns[i] = dlsym(h, names[i]);
		if (!fns[i]) {
			buf_printf(why, "%s has no %s: it is older than addonmake needs "
					"(Debian package %s)", soname, names[i], package);
			dlclose(h);
			return ELIBBAD;
		}
	}
	/* never closed: the library's functions are used to the end */
	return 0;
}

static void *
preload_main(void *u)
{
	(void)u;
	preload.fn(preload.arg);
	return NULL;
}

void
lazy_preload(void (*fn)(void *), void *arg)
{
	if (preload.running)
		return;
	preload.fn = fn;
	preload.arg = arg;
	preload.running = pthread_create(&preload.t, NULL, preload_main, NULL) == 0;
}

void
lazy_preload_end(void)
{
	if (preload.running)
		pthread_join(preload.t, NULL);
	preload.running = 0;
}
