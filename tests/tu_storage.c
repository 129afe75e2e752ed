/* SPDX-License-Identifier: MIT */
/*
 * Storage helpers for the tests that must see bytes on the device, not in the
 * page cache: loop devices over files of our own, an ext4 file system on one
 * (mounted in a private mount namespace of a child, so that nothing stays
 * mounted whatever the child does), FS_IOC_FIEMAP and cachestat(2).
 */
#define _GNU_SOURCE
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <linux/loop.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- loop devices ---- */

/*
 * Binds with LO_FLAGS_AUTOCLEAR: the kernel detaches the device at its last
 * close, so even a test process killed by its timeout leaves none bound.
 * LOOP_CONFIGURE (Linux 5.8) does it in one step, older kernels in two.
 */
static int loop_bind(int lfd, int bfd)
{
	struct loop_config cfg = {.fd = (__u32)bfd, .info.lo_flags = LO_FLAGS_AUTOCLEAR};
	struct loop_info64 info = {.lo_flags = LO_FLAGS_AUTOCLEAR};
	int err;

	if (ioctl(lfd, LOOP_CONFIGURE, &cfg) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOTTY)
		return errno;
	if (ioctl(lfd, LOOP_SET_FD, bfd) < 0)
		return errno;
	if (ioctl(lfd, LOOP_SET_STATUS64, &info) == 0)
		return 0;
	err = errno;
	ioctl(lfd, LOOP_CLR_FD, 0);
	return err;
}

int tu_loop_attach(struct tu_loop *ld)
{
	int ctl, bfd, n, err = EBUSY;
	struct stat st;

	ld->fd = -1;
	snprintf(ld->step, sizeof(ld->step), "stat the backing file");
	if (stat(ld->file, &st) < 0)
		return errno;
	ld->ino = st.st_ino;
	ld->dev = st.st_dev;
	snprintf(ld->step, sizeof(ld->step), "open /dev/loop-control");
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	if (ctl < 0)
		return errno;
	bfd = open(ld->file, O_RDWR | O_CLOEXEC);
	if (bfd < 0) {
		err = errno;
		snprintf(ld->step, sizeof(ld->step), "open the backing file");
	}
	/* Another process may bind the free device first: ours then fails with EBUSY. */
	for (int tries = 0; bfd >= 0 && err == EBUSY && tries < 8; tries++) {
		snprintf(ld->step, sizeof(ld->step), "ioctl(LOOP_CTL_GET_FREE)");
		n = ioctl(ctl, LOOP_CTL_GET_FREE);
		if (n < 0) {
			err = errno;
			break;
		}
		snprintf(ld->path, sizeof(ld->path), "/dev/loop%d", n);
		snprintf(ld->step, sizeof(ld->step), "open %s", ld->path);
		ld->fd = open(ld->path, O_RDWR | O_CLOEXEC);
		if (ld->fd < 0) {
			err = errno;
			break;
		}
		snprintf(ld->step, sizeof(ld->step), "binding %s", ld->path);
		err = loop_bind(ld->fd, bfd);
		if (err) {
			close(ld->fd);
			ld->fd = -1;
		}
	}
	if (bfd >= 0)
		close(bfd); /* the device holds its own reference */
	close(ctl);
	return err;
}

bool tu_loop_unavailable(int err)
{
	return err == EPERM || err == EACCES || err == ENODEV || err == ENXIO || err == ENOENT;
}

/* LOOP_CLR_FD, then our close, the last one, detaches (synchronously since Linux 6.0). */
int tu_loop_detach(struct tu_loop *ld)
{
	int err = ioctl(ld->fd, LOOP_CLR_FD, 0) < 0 ? errno : 0;

	close(ld->fd);
	ld->fd = -1;
	return err;
}

bool tu_loop_bound(const struct tu_loop *ld)
{
	struct loop_info64 info = {0}; /* defined for valgrind, which may not know the ioctl */
	int fd = open(ld->path, O_RDONLY | O_CLOEXEC);
	bool bound;

	if (fd < 0)
		return false; /* ENXIO while it is being torn down */
	bound = ioctl(fd, LOOP_GET_STATUS64, &info) == 0 && info.lo_inode == ld->ino &&
		info.lo_device == ld->dev;
	close(fd);
	return bound;
}

/* ---- an ext4 file system on a loop device ---- */

#define EXT4_IMAGE_SIZE (16u << 20)
#define SKIPPED 77 /* a child's exit status: it printed why it could not run */

/* mkfs.ext4 on the image, quietly: 0, 127 when there is no mkfs.ext4, else its status. */
static int make_ext4(const char *image)
{
	static const char *const where[] = {"mkfs.ext4", "/usr/sbin/mkfs.ext4", "/sbin/mkfs.ext4"};
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* 4 KiB blocks (a page per block), and no lazy initialisation left for later */
		char *const argv[] = {"mkfs.ext4", "-q", "-F", "-b", "4096", "-E",
				      "lazy_itable_init=0,lazy_journal_init=0", (char *)image,
				      NULL};

		for (size_t i = 0; i < TU_LEN(where); i++)
			execvp(where[i], argv);
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

struct ext4_job {
	struct tu_ext4 fs;
	const char *who;
	void (*fn)(const struct tu_ext4 *fs);
};

/*
 * In the child: a mount namespace of its own, where the file system is
 * mounted; the kernel unmounts it when the child is gone, however it ends.
 */
static void ext4_child(void *arg)
{
	const struct ext4_job *job = arg;

	if (unshare(CLONE_NEWNS) < 0 || mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
		printf("%s: no mount namespace of its own (%s); skipped\n", job->who,
		       strerror(errno));
		_exit(SKIPPED);
	}
	if (mount(job->fs.dev, job->fs.mnt, "ext4", 0, NULL) < 0) {
		printf("%s: cannot mount ext4 from %s (%s); skipped\n", job->who, job->fs.dev,
		       strerror(errno));
		_exit(SKIPPED);
	}
	job->fn(&job->fs);
	fflush(NULL);
}

bool tu_ext4_run(const char *who, void (*fn)(const struct tu_ext4 *fs), void *arg)
{
	struct ext4_job job = {.who = who, .fn = fn, .fs.arg = arg};
	struct tu_loop ld = {.fd = -1};
	int fd, err, st, mk;
	bool bound;

	if (geteuid() != 0) {
		printf("%s: not root: no loop device or mount; skipped\n", who);
		return false;
	}
	ld.file = job.fs.image = tu_path("ext4.img");
	job.fs.mnt = tu_path("mnt");
	fd = open(ld.file, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, EXT4_IMAGE_SIZE), 0);
	close(fd);
	mk = make_ext4(ld.file);
	if (mk == 127) {
		printf("%s: no mkfs.ext4 (package e2fsprogs); skipped\n", who);
		unlink(ld.file);
		return false;
	}
	ck_assert_msg(mk == 0, "mkfs.ext4 %s: exit status %d", ld.file, mk);
	err = tu_loop_attach(&ld);
	if (tu_loop_unavailable(err)) {
		printf("%s: no loop device (%s: %s); skipped\n", who, ld.step, strerror(err));
		unlink(ld.file);
		return false;
	}
	ck_assert_msg(err == 0, "%s: %s", ld.step, strerror(err));
	job.fs.dev = ld.path;
	ck_assert_int_eq(mkdir(job.fs.mnt, 0700), 0);
	st = tu_child(ext4_child, &job);
	/* Whatever the child did: its namespace, and so the mount, is gone now. */
	err = tu_loop_detach(&ld);
	/* the file system may let go of the device a moment after the child is gone */
	for (int i = 0; (bound = tu_loop_bound(&ld)) && i < 500; i++)
		usleep(10000);
	ck_assert_int_eq(rmdir(job.fs.mnt), 0);
	ck_assert_int_eq(unlink(ld.file), 0);
	ck_assert_msg(err == 0, "ioctl(LOOP_CLR_FD) on %s: %s", ld.path, strerror(err));
	ck_assert_msg(!bound, "%s still bound to %s after detach", ld.path, ld.file);
	if (TU_EXITED(st, SKIPPED))
		return false;
	ck_assert_msg(TU_EXITED(st, 0), "%s: child on %s: status 0x%x", who, ld.path, st);
	return true;
}

/* ---- where the bytes are ---- */

bool tu_fiemap(int fd, uint64_t off, uint64_t *dev_off)
{
	/* room for one extent after the header, aligned for both */
	uint64_t buf[(sizeof(struct fiemap) + sizeof(struct fiemap_extent)) / sizeof(uint64_t) + 1];
	struct fiemap *fm = (struct fiemap *)buf;
	const struct fiemap_extent *e = &fm->fm_extents[0];

	memset(buf, 0, sizeof(buf));
	fm->fm_start = off;
	fm->fm_length = 1;
	fm->fm_extent_count = 1;
	fm->fm_flags = 0; /* not FIEMAP_FLAG_SYNC: asking must not write the file back */
	TU_CHILD_OK(ioctl(fd, FS_IOC_FIEMAP, fm) == 0);
	if (fm->fm_mapped_extents != 1 || e->fe_logical > off ||
	    off - e->fe_logical >= e->fe_length)
		return false; /* a hole */
	if (e->fe_flags & (FIEMAP_EXTENT_UNKNOWN | FIEMAP_EXTENT_DELALLOC |
			   FIEMAP_EXTENT_ENCODED | FIEMAP_EXTENT_DATA_INLINE |
			   FIEMAP_EXTENT_NOT_ALIGNED | FIEMAP_EXTENT_UNWRITTEN))
		return false; /* no block of its own on the device yet, or not one to read */
	*dev_off = e->fe_physical + (off - e->fe_logical);
	return true;
}

int tu_on_device(const struct tu_ext4 *fs, int fd, uint64_t off, const unsigned char *want,
		 size_t n)
{
	int img = open(fs->image, O_RDONLY | O_CLOEXEC);
	unsigned char buf[4096];
	int ret = 1;

	TU_CHILD_OK(img >= 0);
	/* block by block (4 KiB, as make_ext4 asks): each may lie anywhere on the device */
	for (size_t done = 0, k; ret == 1 && done < n; done += k) {
		uint64_t at = off + done, dev;

		k = sizeof(buf) - at % sizeof(buf);
		k = k < n - done ? k : n - done;
		if (!tu_fiemap(fd, at, &dev))
			ret = -1;
		else if (pread(img, buf, k, (off_t)dev) != (ssize_t)k)
			ret = -1;
		else if (!want || memcmp(buf, want + done, k) != 0)
			ret = 0;
	}
	close(img);
	return ret;
}

int tu_cachestat(int fd, uint64_t off, uint64_t len, struct tu_cachestat *cs)
{
	struct {
		uint64_t off, len;
	} range = {off, len};

	memset(cs, 0, sizeof(*cs));
	return syscall(451 /* cachestat, Linux 6.5 */, fd, &range, cs, 0) < 0 ? -errno : 0;
}
