/* file: reading whole files, atomic writes, paths, time and durations. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "lib.h"

int
file_read(const char *path, struct buf *out)
{
	struct stat st;
	return file_read_st(path, out, &st);
}

int
file_read_st(const char *path, struct buf *out, struct stat *stp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		return e;
	}
	*stp = st;
	if (S_ISDIR(st.st_mode)) {
		close(fd);
		return EISDIR;
	}
	if (st.st_size > 0 && out->len + (size_t)st.st_size + 2 > out->cap) {
		out->cap = out->len + (size_t)st.st_size + 2;
		out->s = xrealloc(out->s, out->cap);
	}
	for (;;) {
		/* grow only when full: a file whose size stat told costs one
		 * allocation */
		if (out->cap - out->len < 2) {
			out->cap = out->cap ? out->cap * 2 : 8192;
			out->s = xrealloc(out->s, out->cap);
		}
		ssize_t n = read(fd, out->s + out->len, out->cap - out->len - 1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			return e;
		}
		if (n == 0)
			break;
		out->len += (size_t)n;
		out->s[out->len] = 0;
	}
	if (!out->s)
		buf_add(out, "", 0);
	close(fd);
	return 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len)
{
	return file_write_replace(path, data, len, 1);
}

int
file_write_replace(const char *path, const void *data, size_t len, int durable)
{
	struct buf tmp = {0};
	buf_printf(&tmp, "%s.tmp.%ld", path, (long)getpid());
	int fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		buf_free(&tmp);
		return e;
	}
	const char *p = data;
	size_t left = len;
	int err = 0;
	while (left) {
		ssize_t n = write(fd, p, left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			err = errno;
			break;
		}
		p += n;
		left -= (size_t)n;
	}
	if (!err && durable && fsync(fd) < 0)
		err = errno;
	if (close(fd) < 0 && !err)
		err = errno;
	if (!err && rename(tmp.s, path) < 0)
		err = errno;
	if (err)
		unlink(tmp.s);
	buf_free(&tmp);
	return err;
}

int
file_mkdirs(const char *path, int mode)
{
	char *p = xstrdup(path);
	int err = 0;
	for (char *s = p + 1;; s++) {
		if (*s == '/' || *s == 0) {
			char c = *s;
			*s = 0;
			if (mkdir(p, (mode_t)mode) < 0 && errno != EEXIST) {
				err = errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return err;
}

/* lexical clean-up in place: "a/./b" → "a/b", "a/x/../b" → "a/b" (as
 * ninja does); a ".." that has nothing to cancel stays, except above "/" */
static void
path_clean(char *p)
{
	size_t n = strlen(p), k = 0;
	const char **c = xmalloc((n / 2 + 2) * sizeof(*c));
	size_t *cl = xmalloc((n / 2 + 2) * sizeof(*cl));
	int abs = p[0] == '/';
	char *copy = xstrdup(p);
	for (char *s = copy; *s;) {
		char *e = strchr(s, '/');
		size_t l = e ? (size_t)(e - s) : strlen(s);
		int dotdot = l == 2 && s[0] == '.' && s[1] == '.';
		if (l == 0 || (l == 1 && s[0] == '.')) {
			/* nothing */
		} else if (dotdot && k && !(cl[k - 1] == 2 && c[k - 1][0] == '.' && c[k - 1][1] == '.')) {
			k--;
		} else if (!(dotdot && abs && k == 0)) {
			c[k] = s;
			cl[k++] = l;
		}
		s += l + (e ? 1 : 0);
	}
	char *out = p;
	if (abs)
		*out++ = '/';
	for (size_t i = 0; i < k; i++) {
		if (i)
			*out++ = '/';
		memcpy(out, c[i], cl[i]);
		out += cl[i];
	}
	if (out == p)
		*out++ = '.';
	*out = 0;
	free(copy);
	free(c);
	free(cl);
}

static int
rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)f;
	return (flag == FTW_DP ? rmdir(p) : unlink(p)) < 0 ? errno : 0;
}

int
file_rmtree(const char *path)
{
	int rc = nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rc < 0 ? errno : rc;
}

char *
path_join(struct arena *a, const char *dir, const char *rel)
{
	char *p;
	if (rel[0] == '/' || !dir || !dir[0] || strcmp(dir, ".") == 0)
		p = arena_strdup(a, rel);
	else
		p = arena_printf(a, "%s/%s", dir, rel);
	path_clean(p);
	return p;
}

char *
path_dir(struct arena *a, const char *path)
{
	const char *s = strrchr(path, '/');
	if (!s)
		return arena_strdup(a, ".");
	if (s == path)
		return arena_strdup(a, "/");
	return arena_strndup(a, path, (size_t)(s - path));
}

int
path_home(struct arena *a, const char *path, const char **out)
{
	*out = path;
	if (path[0] != '~')
		return 0;
	if (path[1] && path[1] != '/')
		return EINVAL;
	const char *home = getenv("HOME");
	if (!home || !*home)
		return ENOENT;
	*out = path[1] ? arena_printf(a, "%s%s", home, path + 1) : arena_strdup(a, home);
	return 0;
}

int64_t
now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
wall_secs(void)
{
	return (int64_t)time(NULL);
}

int
duration_parse(const char *s, int64_t *ms)
{
	if (!s || !*s)
		return EINVAL;
	if (strcmp(s, "0") == 0) {
		*ms = 0;
		return 0;
	}
	int64_t total = 0;
	while (*s) {
		if (*s < '0' || *s > '9')
			return EINVAL;
		int64_t v = 0;
		while (*s >= '0' && *s <= '9') {
			v = v * 10 + (*s++ - '0');
			if (v > 1000000000)
				return ERANGE;
		}
		int64_t unit;
		if (s[0] == 'm' && s[1] == 's')
			unit = 1, s += 2;
		else if (*s == 'h')
			unit = 3600000, s++;
		else if (*s == 'm')
			unit = 60000, s++;
		else if (*s == 's')
			unit = 1000, s++;
		else
			return EINVAL;
		total += v * unit;
	}
	*ms = total;
	return 0;
}

void
duration_format(struct buf *b, int64_t ms)
{
	if (ms < 1000 && ms % 1000) {
		buf_printf(b, "%lldms", (long long)ms);
		return;
	}
	if (ms < 60000 && ms % 1000) {
		/* 1.2s, 1.05s: keep what the user wrote */
		char frac[8];
		snprintf(frac, sizeof(frac), "%03lld", (long long)(ms % 1000));
		for (int i = 2; i > 0 && frac[i] == '0'; i--)
			frac[i] = 0;
		buf_printf(b, "%lld.%ss", (long long)(ms / 1000), frac);
		return;
	}
	int64_t s = ms / 1000, h = s / 3600, m = (s / 60) % 60;
	s %= 60;
	if (h)
		buf_printf(b, "%lldh", (long long)h);
	if (m)
		buf_printf(b, "%lldm", (long long)m);
	if (s || (!h && !m))
		buf_printf(b, "%llds", (long long)s);
}
