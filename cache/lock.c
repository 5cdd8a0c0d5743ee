/* lock: one run at a time per workspace. A POSIX record lock on
 * <state>/lock: the kernel releases it when the process dies (even by
 * SIGKILL), and F_GETLK names the holder's pid without the file ever being
 * written, so a no-op run changes no file. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "cache.h"

int
run_lock(const char *dir, int wait, long *pid, int *fdp, struct buf *err)
{
	struct buf p = {0};
	int rc;
	if ((rc = file_mkdirs(dir, 0755))) {
		buf_printf(err, "%s: cannot create the state directory: %s", dir, strerror(rc));
		return -1;
	}
	buf_printf(&p, "%s/lock", dir);
	int fd = open(p.s, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0) {
		int e = errno;
		buf_printf(err, "%s: cannot open the lock file: %s", p.s, strerror(e));
		if (e == EACCES || e == EPERM || e == EROFS)
			buf_printf(err, "; addonmake keeps its state in %s and must be able to "
				   "write there", dir);
		buf_free(&p);
		return -1;
	}
	for (;;) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		if (fcntl(fd, wait ? F_SETLKW : F_SETLK, &fl) == 0)
			break;
		if (errno == EINTR && wait)
			continue;
		if (errno == EACCES || errno == EAGAIN) {
			struct flock q = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
			*pid = 0;
			if (fcntl(fd, F_GETLK, &q) == 0 && q.l_type != F_UNLCK)
				*pid = (long)q.l_pid;
			close(fd);
			buf_free(&p);
			return 1;
		}
		buf_printf(err, "%s: cannot lock: %s", p.s, strerror(errno));
		close(fd);
		buf_free(&p);
		return -1;
	}
	buf_free(&p);
	*fdp = fd;
	return 0;
}

void
run_unlock(int fd)
{
	if (fd >= 0)
		close(fd);
}
