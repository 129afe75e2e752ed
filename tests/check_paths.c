/* SPDX-License-Identifier: MIT */
/*
 * Hostile paths: symlinks, over-long paths, files an unprivileged user may not
 * open, /proc and /sys files, /dev/zero and other character devices, FIFOs and
 * sockets, a loop block device over a file of our own (as root), and a file
 * truncated by another process while it is mapped.  Each gets an exact error
 * or a correct mapping, never a hang or a crash, and leaves nothing behind.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static bool has(const char *part)
{
	return strstr(mmapkit_errmsg(), part) != NULL;
}

/* A constructor that must fail with err, leave *out NULL and leak nothing. */
#define ASSERT_REFUSED(call, err)                                                           \
	do {                                                                                \
		struct tu_snap s_ = tu_snap();                                              \
		mmapkit_map *m_ = (mmapkit_map *)&s_;                                       \
		ck_assert_int_eq(call(&m_), -(err));                                        \
		ck_assert_ptr_null(m_);                                                     \
		TU_ASSERT_NO_LEAK(s_);                                                         \
	} while (0)

static size_t page(void)
{
	return mmapkit_page_size();
}

/* ---- symlinks ---- */

START_TEST(symlink_to_file)
{
	const char *target = tu_file(2 * page()), *link = tu_path("link");
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	struct stat a, b;
	unsigned char c;

	ck_assert_int_eq(symlink(target, link), 0);
	ck_assert_int_eq(mmapkit_file_shared(&m, link, 1, 0, 0), 0);
	ck_assert_uint_eq(mmapkit_len(m), 2 * page() - 1);
	ck_assert_int_eq(fstat(mmapkit_fd(m), &a), 0);
	ck_assert_int_eq(stat(target, &b), 0);
	ck_assert(a.st_ino == b.st_ino && a.st_dev == b.st_dev);
	for (size_t i = 0; i < mmapkit_len(m); i++)
		ck_assert_uint_eq(((unsigned char *)mmapkit_ptr(m))[i], tu_pattern(i + 1));
	((unsigned char *)mmapkit_ptr(m))[0] = 0;
	ck_assert_int_eq(mmapkit_sync(m, 0, 1, 0), 0);
	tu_pread(target, 1, &c, 1);
	ck_assert_uint_eq(c, 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

static const char *dangling;

static int map_dangling(mmapkit_map **m)
{
	return mmapkit_file_private(m, dangling, 0, 0, 0);
}

/* O_CREAT|O_EXCL does not follow a symlink: CREATE through a dangling one is refused. */
static int create_dangling(mmapkit_map **m)
{
	return mmapkit_file_shared(m, dangling, 0, page(), MMAPKIT_CREATE | MMAPKIT_GROW);
}

START_TEST(symlink_dangling)
{
	const char *target = tu_path("nowhere"), *link = tu_path("dangling");

	dangling = link;
	ck_assert_int_eq(symlink(target, link), 0);
	ASSERT_REFUSED(map_dangling, ENOENT);
	ck_assert(has("open failed"));
	ASSERT_REFUSED(create_dangling, ENOENT);
	ck_assert_int_ne(access(target, F_OK), 0);
	ck_assert_int_eq(access(link, F_OK), -1); /* the link is still there, still dangling */
	ck_assert_int_eq(unlink(link), 0);
}
END_TEST

static const char *loop_path;

static int map_loop(mmapkit_map **m)
{
	return mmapkit_file_shared(m, loop_path, 0, 0, MMAPKIT_CREATE);
}

START_TEST(symlink_loop_and_dir)
{
	const char *a = tu_path("loop-a"), *b = tu_path("loop-b"), *d = tu_path("to-dir");

	ck_assert_int_eq(symlink(b, a), 0);
	ck_assert_int_eq(symlink(a, b), 0);
	loop_path = a;
	ASSERT_REFUSED(map_loop, ELOOP);
	ck_assert_int_eq(symlink(tu_dir(), d), 0);
	loop_path = d;
	ASSERT_REFUSED(map_loop, EISDIR);
	ck_assert(has("open failed: Is a directory"));
	unlink(a);
	unlink(b);
	unlink(d);
}
END_TEST

/* ---- long paths ---- */

static char long_path[3 * PATH_MAX];

static int map_long(mmapkit_map **m)
{
	return mmapkit_file_shared(m, long_path, 0, page(), MMAPKIT_CREATE | MMAPKIT_GROW);
}

static int map_long_private(mmapkit_map **m)
{
	return mmapkit_file_private(m, long_path, 0, 0, MMAPKIT_RDONLY);
}

START_TEST(path_too_long)
{
	char want[PATH_MAX + 64];
	size_t n;

	/* One component longer than NAME_MAX. */
	n = (size_t)snprintf(long_path, sizeof(long_path), "%s/", tu_dir());
	memset(long_path + n, 'x', NAME_MAX + 1);
	long_path[n + NAME_MAX + 1] = '\0';
	ASSERT_REFUSED(map_long, ENAMETOOLONG);
	ck_assert(has("open failed"));
	ASSERT_REFUSED(map_long_private, ENAMETOOLONG);
	/* A whole path longer than PATH_MAX, of short components. */
	n = (size_t)snprintf(long_path, sizeof(long_path), "%s", tu_dir());
	while (n < 2 * PATH_MAX)
		n += (size_t)snprintf(long_path + n, sizeof(long_path) - n, "/d");
	ASSERT_REFUSED(map_long, ENAMETOOLONG);
	ASSERT_REFUSED(map_long_private, ENAMETOOLONG);
	/* The message holds the start of the path and stays within its buffer. */
	n = (size_t)snprintf(want, sizeof(want), "mmapkit_file_private: %s/", tu_dir());
	ck_assert_int_eq(strncmp(mmapkit_errmsg(), want, n), 0);
	ck_assert_uint_lt(strlen(mmapkit_errmsg()), 2 * PATH_MAX);
}
END_TEST

/*
 * The longest path that works: directories nested to just under PATH_MAX; a
 * file created there and SYNC_FULL (which opens and syncs its directory).
 */
START_TEST(path_near_max)
{
	struct tu_snap s;
	mmapkit_map *m = NULL;
	char name[NAME_MAX + 1]; /* the last component may need more than the 200 of each directory */
	size_t n = (size_t)snprintf(long_path, sizeof(long_path), "%s", tu_dir());
	int depth = 0;

	memset(name, 'n', NAME_MAX);
	name[NAME_MAX] = '\0';
	while (n + 1 + 200 + 16 < PATH_MAX) {
		n += (size_t)snprintf(long_path + n, sizeof(long_path) - n, "/%.200s", name);
		ck_assert_int_eq(mkdir(long_path, 0700), 0);
		depth++;
	}
	snprintf(long_path + n, sizeof(long_path) - n, "/%.*s", (int)(PATH_MAX - 2 - n), name);
	ck_assert_uint_eq(strlen(long_path), PATH_MAX - 1);
	s = tu_snap();
	ck_assert_int_eq(map_long(&m), 0);
	memcpy(mmapkit_ptr(m), "deep", 4);
	ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL), 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	ck_assert_int_eq(unlink(long_path), 0);
	while (depth--) {
		*strrchr(long_path, '/') = '\0';
		ck_assert_int_eq(rmdir(long_path), 0);
	}
}
END_TEST

/* ---- permissions, as an unprivileged user ---- */

struct perm_files {
	char dir[64];     /* 0755, root's */
	char secret[96];  /* 0600, root's */
	char shared[96];  /* 0644, root's */
	char hidden[96];  /* in a 0700 subdirectory */
	char fresh[96];   /* does not exist; the directory is not writable for the user */
};

static void nobody(void)
{
	TU_CHILD_OK(setgid(65534) == 0);
	TU_CHILD_OK(setuid(65534) == 0);
	TU_CHILD_OK(prctl(PR_SET_DUMPABLE, 1) == 0); /* /proc/self stays readable for leak checks */
}

static void refused_as_nobody(const struct perm_files *f)
{
	mmapkit_map *m = (mmapkit_map *)&m;
	int fd = open(f->shared, O_RDONLY | O_CLOEXEC);

	TU_CHILD_OK(fd >= 0);
	TU_CHILD_OK(mmapkit_file_private(&m, f->secret, 0, 0, 0) == -EACCES && m == NULL);
	TU_CHILD_OK(has("open failed"));
	TU_CHILD_OK(mmapkit_file_shared(&m, f->secret, 0, 0, MMAPKIT_RDONLY) == -EACCES);
	TU_CHILD_OK(mmapkit_file_private(&m, f->hidden, 0, 0, 0) == -EACCES && m == NULL);
	TU_CHILD_OK(mmapkit_file_shared(&m, f->shared, 0, 0, 0) == -EACCES && m == NULL);
	TU_CHILD_OK(mmapkit_file_private(&m, f->shared, 0, 2 * page(), MMAPKIT_GROW) == -EACCES);
	TU_CHILD_OK(mmapkit_file_shared(&m, f->fresh, 0, page(), MMAPKIT_CREATE | MMAPKIT_GROW) ==
		 -EACCES);
	TU_CHILD_OK(m == NULL && access(f->fresh, F_OK) != 0);
	/* A read-only descriptor: mmap itself refuses the shared writable mapping. */
	TU_CHILD_OK(mmapkit_fd_shared(&m, fd, 0, 0, 0) == -EACCES && m == NULL);
	TU_CHILD_OK(has("mmap failed"));
	TU_CHILD_OK(mmapkit_fd_shared(&m, fd, 0, 0, MMAPKIT_GROW) == -EACCES && m == NULL);
	close(fd);
}

static void allowed_as_nobody(const struct perm_files *f)
{
	mmapkit_map *m = NULL;
	unsigned char *p;

	/* A private mapping of a file the user may only read is writable (copy on write). */
	TU_CHILD_OK(mmapkit_file_private(&m, f->shared, 0, 0, 0) == 0);
	p = mmapkit_ptr(m);
	TU_CHILD_OK(mmapkit_len(m) == page() && p[5] == tu_pattern(5));
	memset(p, 0, page());
	TU_CHILD_OK(mmapkit_revert(m, 0, MMAPKIT_TO_END) == 0 && p[5] == tu_pattern(5));
	mmapkit_unmap(m);
	TU_CHILD_OK(mmapkit_file_shared(&m, f->shared, 0, 0, MMAPKIT_RDONLY) == 0);
	TU_CHILD_OK(((unsigned char *)mmapkit_ptr(m))[7] == tu_pattern(7));
	TU_CHILD_OK(mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE) == -EACCES);
	TU_CHILD_OK(mmapkit_sync(m, 0, MMAPKIT_TO_END, 0) == 0);
	mmapkit_unmap(m);
}

static void perm_child(void *arg)
{
	const struct perm_files *f = arg;
	struct tu_snap s;

	nobody();
	s = tu_snap();
	refused_as_nobody(f);
	TU_CHILD_OK(tu_count_fds() == s.fds && (!tu_maps_reliable() || tu_count_maps() == s.maps));
	allowed_as_nobody(f);
	TU_CHILD_OK(tu_count_fds() == s.fds && (!tu_maps_reliable() || tu_count_maps() == s.maps));
}

static void write_pattern(const char *path, mode_t mode, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	unsigned char buf[4096];

	ck_assert_int_ge(fd, 0);
	ck_assert_uint_le(size, sizeof(buf));
	for (size_t i = 0; i < size; i++)
		buf[i] = tu_pattern(i);
	ck_assert_int_eq(write(fd, buf, size), (ssize_t)size);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

START_TEST(no_permission)
{
	struct perm_files f;
	char sub[80];
	int st;

	snprintf(f.dir, sizeof(f.dir), "/tmp/mmapkit-perm-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(f.dir));
	ck_assert_int_eq(chmod(f.dir, 0755), 0);
	snprintf(sub, sizeof(sub), "%s/sub", f.dir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(f.secret, sizeof(f.secret), "%s/secret", f.dir);
	snprintf(f.shared, sizeof(f.shared), "%s/shared", f.dir);
	snprintf(f.hidden, sizeof(f.hidden), "%s/hidden", sub);
	snprintf(f.fresh, sizeof(f.fresh), "%s/fresh", f.dir);
	write_pattern(f.secret, 0600, page());
	write_pattern(f.shared, 0644, page());
	write_pattern(f.hidden, 0644, page());
	st = tu_child(perm_child, &f);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
	ck_assert_int_ne(access(f.fresh, F_OK), 0);
	unlink(f.hidden);
	unlink(f.secret);
	unlink(f.shared);
	rmdir(sub);
	ck_assert_int_eq(rmdir(f.dir), 0);
}
END_TEST

/* ---- /proc and /sys ---- */


static const char *special;
static uint64_t special_off;
static size_t special_len;
static unsigned special_flags;

static int map_special_private(mmapkit_map **m)
{
	return mmapkit_file_private(m, special, special_off, special_len, special_flags);
}

static int map_special_shared(mmapkit_map **m)
{
	return mmapkit_file_shared(m, special, special_off, special_len, special_flags);
}

/*
 * An empty regular file: an empty, valid handle, on which every range is
 * empty.  Telling it from a pseudo-file costs one pread of one byte, which
 * finds nothing: open, fstat, fcntl (O_NONBLOCK off), pread, and no mmap.
 */
START_TEST(empty_file_is_empty)
{
	const char *path = tu_file(0);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;

	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_OPEN), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FSTAT), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FCNTL), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_PREAD), 1);
	ck_assert_uint_eq(mmapkit__fault_total(), 4);
	ck_assert_uint_eq(mmapkit_len(m), 0);
	ck_assert_ptr_nonnull(mmapkit_ptr(m));
	ck_assert_ptr_nonnull(mmapkit_at(m, 0, 0, 0));
	ck_assert_ptr_null(mmapkit_at(m, 0, 1, 0));
	ck_assert_int_eq(mmapkit_punch(m, 0, MMAPKIT_TO_END), 0);
	ck_assert_int_eq(mmapkit_revert(m, 0, MMAPKIT_TO_END), 0);
	ck_assert_int_eq(mmapkit_punch(m, 0, 1), -ERANGE);
	ck_assert_int_eq(mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_NONE), 0);
	ck_assert_int_eq(mmapkit_lock(m, 0, MMAPKIT_TO_END, 0), 0);
	ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, 0), -EINVAL);
	mmapkit_unmap(m);
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, MMAPKIT_RDONLY), 0);
	ck_assert_uint_eq(mmapkit_len(m), 0);
	ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, 0), 0);
	ck_assert_int_eq(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_WILLNEED), 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/*
 * A /proc file reports size 0 but has content, which cannot be mapped:
 * refused with a message that says to read it, never an empty handle.
 */
START_TEST(proc_file_refused)
{
	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);

	special = "/proc/self/status";
	special_off = 0, special_len = 0, special_flags = 0;
	mmapkit__fault_reset();
	ASSERT_REFUSED(map_special_private, ENODEV);
	ck_assert_msg(has("/proc/self/status") && has("read it with read(2)"), "%s",
		      mmapkit_errmsg());
	/* open, fstat, the one-byte pread that found content, close: refused before the fcntl */
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_PREAD), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FCNTL), 0);
	ck_assert_uint_eq(mmapkit__fault_total(), 4);
	special_flags = MMAPKIT_RDONLY;
	ASSERT_REFUSED(map_special_shared, ENODEV);
	ck_assert_msg(has("read it"), "%s", mmapkit_errmsg());
	/* by descriptor too */
	ck_assert_int_ge(fd, 0);
	{
		struct tu_snap s = tu_snap();
		mmapkit_map *m = NULL;

		ck_assert_int_eq(mmapkit_fd_private(&m, fd, 0, 0, 0), -ENODEV);
		ck_assert_ptr_null(m);
		ck_assert_msg(has("mmapkit_fd_private") && has("read it"), "%s", mmapkit_errmsg());
		TU_ASSERT_NO_LEAK(s);
	}
	close(fd);
}
END_TEST

/* The first candidate that fits, or NULL (with a note that what is skipped). */
static const char *first_fitting(const char *const *cand, size_t n, bool (*fits)(const char *),
				 const char *what)
{
	for (size_t i = 0; i < n; i++)
		if (fits(cand[i]))
			return cand[i];
	printf("paths: no %s found; skipped\n", what);
	return NULL;
}

/* Does path report size 0 as a regular file, yet read at least one byte? */
static bool is_sized_zero_with_content(const char *path)
{
	struct stat st;
	char c;
	int fd;
	bool yes;

	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size != 0)
		return false;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	yes = read(fd, &c, 1) == 1;
	close(fd);
	return yes;
}

/*
 * A /sys file that reports size 0 but has content (cgroup files, wherever the
 * cgroup file systems are mounted under /sys/fs/cgroup): as a /proc file.
 */
START_TEST(sys_pseudo_file)
{
	static const char *const candidates[] = {
		"/sys/fs/cgroup/cgroup.controllers", "/sys/fs/cgroup/cgroup.procs",
		"/sys/fs/cgroup/unified/cgroup.procs", "/sys/fs/cgroup/memory/cgroup.procs",
		"/sys/fs/cgroup/pids/cgroup.procs",  "/sys/fs/cgroup/systemd/cgroup.procs",
	};

	special = first_fitting(candidates, TU_LEN(candidates), is_sized_zero_with_content,
				"/sys file of size 0 with content (no cgroup file system under /sys/fs/cgroup): sys_pseudo_file");
	if (!special)
		return;
	special_off = 0, special_len = 0, special_flags = MMAPKIT_RDONLY;
	ASSERT_REFUSED(map_special_private, ENODEV);
	ck_assert_msg(has(special) && has("read it with read(2)"), "%s", mmapkit_errmsg());
	ASSERT_REFUSED(map_special_shared, ENODEV);
	ck_assert_msg(has("read it with read(2)"), "%s", mmapkit_errmsg());
}
END_TEST

START_TEST(proc_file_range)
{
	special = "/proc/self/status";
	special_off = 0, special_len = page(), special_flags = 0;
	ASSERT_REFUSED(map_special_private, ERANGE);
	ck_assert(has("ends past end of file (0 bytes)"));
	special_off = 1, special_len = 0;
	ASSERT_REFUSED(map_special_private, ERANGE);
	ck_assert(has("offset 1 is past end of file"));
	/* procfs accepts (and ignores) the GROW's ftruncate; its mmap then refuses. */
	special_off = 0, special_len = page(), special_flags = MMAPKIT_GROW;
	special = "/proc/self/comm";
	ASSERT_REFUSED(map_special_shared, ENODEV);
	ck_assert(has("mmap failed"));
}
END_TEST

static bool is_sized_regular(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

/* A sysfs attribute: a regular file with a size, whose mmap the kernel refuses. */
START_TEST(sys_file)
{
	static const char *const candidates[] = {
		"/sys/kernel/mm/transparent_hugepage/enabled", "/sys/kernel/notes",
		"/sys/kernel/uevent_seqnum", "/sys/power/state",
	};
	struct stat st;

	special = first_fitting(candidates, TU_LEN(candidates), is_sized_regular,
				"sysfs attribute file: sys_file");
	if (!special)
		return;
	ck_assert_int_eq(stat(special, &st), 0);
	special_off = 0, special_len = 0, special_flags = MMAPKIT_RDONLY;
	ASSERT_REFUSED(map_special_private, ENODEV);
	ck_assert(has("mmap failed"));
	ck_assert_msg(has("read it with read(2)"), "%s", mmapkit_errmsg());
	ck_assert_msg(!has(": 0 bytes"), "message names the length: %s", mmapkit_errmsg());
	ASSERT_REFUSED(map_special_shared, ENODEV);
	special_off = 0, special_len = (size_t)st.st_size + 1, special_flags = MMAPKIT_RDONLY;
	ASSERT_REFUSED(map_special_private, ERANGE);
}
END_TEST

/* ---- character devices, FIFOs, sockets ---- */

START_TEST(dev_zero)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *p;

	special = "/dev/zero";
	special_off = 0, special_len = 0, special_flags = 0;
	ASSERT_REFUSED(map_special_private, EINVAL);
	ck_assert(has("pass a length"));
	/*
	 * The device has no size: any length works, GROW changes nothing.  (The
	 * kernel sizes the shared memory behind a shared /dev/zero mapping by the
	 * mapping's length but keeps the offset: from offset >= one page the last
	 * pages raise SIGBUS.  The device decides; the offset stays in page 0 here.)
	 */
	for (int shared = 0; shared < 2; shared++) {
		uint64_t off = shared ? 7 : page() + 7;

		ck_assert_int_eq((shared ? mmapkit_file_shared : mmapkit_file_private)(
					 &m, "/dev/zero", off, 3 * page(), MMAPKIT_GROW),
				 0);
		ck_assert_uint_eq(mmapkit_len(m), 3 * page());
		ck_assert_uint_eq(mmapkit_offset(m), off);
		p = mmapkit_ptr(m);
		for (size_t i = 0; i < 3 * page(); i++)
			ck_assert_uint_eq(p[i], 0);
		memset(p, 0x5a, 3 * page());
		if (shared) {
			ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, 0), 0);
			/* No holes in a character device: refused, nothing changed. */
			ck_assert_int_eq(mmapkit_punch(m, 10, page()), -EOPNOTSUPP);
			ck_assert(has("fallocate failed"));
		} else {
			ck_assert_int_eq(mmapkit_punch(m, 10, page()), 0);
			ck_assert_uint_eq(p[9], 0x5a);
			ck_assert_uint_eq(p[10], 0);
			ck_assert_uint_eq(p[10 + page()], 0x5a);
			memset(p, 0x5a, 3 * page());
			ck_assert_int_eq(mmapkit_revert(m, 0, MMAPKIT_TO_END), 0);
			memset(p, 0x5a, 3 * page());
		}
		for (size_t i = 0; i < 3 * page(); i++)
			ck_assert_uint_eq(p[i], 0x5a);
		mmapkit_unmap(m);
	}
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

START_TEST(dev_unmappable)
{
	special_off = 0, special_len = page(), special_flags = 0;
	special = "/dev/null";
	ASSERT_REFUSED(map_special_private, ENODEV);
	ASSERT_REFUSED(map_special_shared, ENODEV);
	ck_assert(has("mmap failed"));
	ck_assert_msg(has(": 4096 bytes") || page() != 4096, "%s", mmapkit_errmsg());
	special = "/dev/urandom";
	ASSERT_REFUSED(map_special_shared, ENODEV);
}
END_TEST

START_TEST(fifo_and_socket)
{
	const char *fifo = tu_path("fifo"), *sock = tu_path("sock");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	special = fifo;
	special_off = 0, special_len = page(), special_flags = 0;
	/* Neither open blocks: no writer and no reader are ever coming. */
	ASSERT_REFUSED(map_special_private, ENODEV);
	ASSERT_REFUSED(map_special_shared, ENODEV);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_lt(strlen(sock), sizeof(sa.sun_path));
	strcpy(sa.sun_path, sock);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	special = sock;
	ASSERT_REFUSED(map_special_private, ENODEV);
	ASSERT_REFUSED(map_special_shared, ENODEV);
	close(fd);
	unlink(fifo);
	unlink(sock);
}
END_TEST

/*
 * The library opens a path with O_NONBLOCK (a FIFO must not block the open);
 * the descriptor the handle owns, which mmapkit_fd() hands out, has it
 * cleared again, for every path constructor, created files included, and
 * keeps its access mode.  The fd constructors' duplicate shares the caller's
 * open file description: its flags are the caller's, untouched.
 */
START_TEST(fd_not_nonblocking)
{
	const char *path = tu_file(page());
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	int fl;

	for (size_t i = 0; i < TU_LEN(tu_path_ctors); i++) {
		int c = tu_path_ctors[i];
		bool rw = tu_ctors[c].kind == MMAPKIT_FILE_SHARED;

		for (int created = 0; created < 2; created++) {
			const char *p = created ? tu_path("nonblock") : path;
			unsigned flags = created ? MMAPKIT_CREATE | MMAPKIT_GROW : 0;

			ck_assert_msg(tu_make(c, &m, p, -1, 0, page(), flags) == 0, "%s: %s",
				      tu_ctors[c].desc, mmapkit_errmsg());
			fl = fcntl(mmapkit_fd(m), F_GETFL);
			ck_assert_int_ge(fl, 0);
			ck_assert_msg(!(fl & O_NONBLOCK), "%s%s: descriptor flags 0%o have O_NONBLOCK",
				      tu_ctors[c].desc, created ? ", created" : "", fl);
			ck_assert_int_eq(fl & O_ACCMODE, rw || created ? O_RDWR : O_RDONLY);
			mmapkit_unmap(m);
			if (created)
				ck_assert_int_eq(unlink(p), 0);
		}
		/* read-only: still O_RDONLY, still blocking */
		ck_assert_int_eq(tu_make(c, &m, path, -1, 0, 0, MMAPKIT_RDONLY), 0);
		fl = fcntl(mmapkit_fd(m), F_GETFL);
		ck_assert_int_eq(fl & (O_ACCMODE | O_NONBLOCK), O_RDONLY);
		mmapkit_unmap(m);
	}
	/* a caller's non-blocking descriptor: its flags stay as they are */
	for (size_t i = 0; i < TU_LEN(tu_fd_ctors); i++) {
		int c = tu_fd_ctors[i], fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(tu_make(c, &m, NULL, fd, 0, 0, 0), 0);
		ck_assert_int_eq(fcntl(fd, F_GETFL) & (O_ACCMODE | O_NONBLOCK), O_RDWR | O_NONBLOCK);
		mmapkit_unmap(m);
		close(fd);
	}
	TU_ASSERT_NO_LEAK(s);
	unlink(path);
}
END_TEST

/* A FIFO that has a writer: the open succeeds at once, and the call is still -ENODEV. */
START_TEST(fifo_with_writer)
{
	const char *fifo = tu_path("fifo-writer");
	int w;

	ck_assert_int_eq(mkfifo(fifo, 0600), 0);
	w = open(fifo, O_RDWR | O_CLOEXEC); /* a reader and a writer: nothing blocks */
	ck_assert_int_ge(w, 0);
	special = fifo;
	special_off = 0, special_len = 0, special_flags = MMAPKIT_RDONLY;
	mmapkit__fault_reset();
	ASSERT_REFUSED(map_special_private, ENODEV);
	/* refused after fstat: open, fstat, close, and no fcntl */
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FCNTL), 0);
	ck_assert_uint_eq(mmapkit__fault_total(), 3);
	special_len = page(), special_flags = 0;
	ASSERT_REFUSED(map_special_shared, ENODEV);
	close(w);
	unlink(fifo);
}
END_TEST

/* ---- a block device: a loop device over a pattern file of our own ---- */

#define BLK_FILE_SIZE (1024 * 1024 + 4096)

/* Do the n bytes of the backing file at off equal want? */
static bool file_holds(const char *file, uint64_t off, const unsigned char *want, size_t n)
{
	unsigned char *buf = malloc(n);
	int fd = open(file, O_RDONLY | O_CLOEXEC);
	bool same = buf && fd >= 0 && pread(fd, buf, n, (off_t)off) == (ssize_t)n &&
		    memcmp(buf, want, n) == 0;

	if (fd >= 0)
		close(fd);
	free(buf);
	return same;
}

static int map_path(int shared, mmapkit_map **m, const char *path, uint64_t off, size_t len,
		    unsigned flags)
{
	return (shared ? mmapkit_file_shared : mmapkit_file_private)(m, path, off, len, flags);
}

/* len 0 maps exactly the device (its BLKGETSIZE64 size), holding the file's bytes. */
static void blk_whole(const struct tu_loop *ld, const unsigned char *want, uint64_t size)
{
	struct stat dev, st;
	mmapkit_map *m = NULL;
	unsigned char *p;

	TU_CHILD_OK(stat(ld->path, &dev) == 0 && S_ISBLK(dev.st_mode));
	for (int shared = 0; shared < 2; shared++) {
		TU_CHILD_OK(map_path(shared, &m, ld->path, 0, 0, 0) == 0);
		p = mmapkit_ptr(m);
		TU_CHILD_OK(mmapkit_len(m) == size);
		TU_CHILD_OK(mmapkit_offset(m) == 0);
		TU_CHILD_OK(fstat(mmapkit_fd(m), &st) == 0 && st.st_rdev == dev.st_rdev);
		TU_CHILD_OK(memcmp(p, want, size) == 0);
		if (!shared) { /* copy on write: reaches neither the device nor the file */
			p[size - 1] ^= 0xff;
			TU_CHILD_OK(file_holds(ld->file, size - 1, want + size - 1, 1));
		}
		mmapkit_unmap(m);
	}
	/* From an unaligned offset to the end: the last page and 3 bytes before it. */
	TU_CHILD_OK(mmapkit_file_private(&m, ld->path, size - page() - 3, 0, MMAPKIT_RDONLY) == 0);
	TU_CHILD_OK(mmapkit_len(m) == page() + 3);
	TU_CHILD_OK(memcmp(mmapkit_ptr(m), want + size - page() - 3, page() + 3) == 0);
	mmapkit_unmap(m);
}

static int blk_refused(int shared, const char *path, uint64_t off, size_t len, unsigned flags)
{
	mmapkit_map *m = (mmapkit_map *)&m;
	int err = map_path(shared, &m, path, off, len, flags);

	TU_CHILD_OK(m == NULL);
	return err;
}

/* A block device cannot grow: past its end is -ERANGE, with MMAPKIT_GROW too. */
static void blk_range(const struct tu_loop *ld, int dfd, uint64_t size)
{
	char why[96];
	mmapkit_map *m = NULL;
	uint64_t now = 0;
	struct stat st;

	snprintf(why, sizeof(why), "ends past end of device (%llu bytes); a block device cannot grow",
		 (unsigned long long)size);
	for (int shared = 0; shared < 2; shared++) {
		TU_CHILD_OK(blk_refused(shared, ld->path, size - page(), 2 * page(), MMAPKIT_GROW) ==
			 -ERANGE);
		TU_CHILD_OK(has(shared ? "mmapkit_file_shared: " : "mmapkit_file_private: "));
		TU_CHILD_OK(has(ld->path) && has(why) && !has("MMAPKIT_GROW"));
		TU_CHILD_OK(blk_refused(shared, ld->path, 0, size + 1, 0) == -ERANGE && has(why));
		TU_CHILD_OK(blk_refused(shared, ld->path, size + 1, page(), MMAPKIT_GROW) == -ERANGE);
		TU_CHILD_OK(has(why));
		TU_CHILD_OK(blk_refused(shared, ld->path, size + 1, 0, 0) == -ERANGE);
		TU_CHILD_OK(has(" is past end of file ("));
	}
	m = (mmapkit_map *)&m;
	TU_CHILD_OK(mmapkit_fd_shared(&m, dfd, size - page(), 2 * page(), MMAPKIT_GROW) == -ERANGE);
	TU_CHILD_OK(m == NULL && has("mmapkit_fd_shared: fd ") && has(why));
	/* Ending exactly at the end fits: GROW has nothing to do. */
	TU_CHILD_OK(mmapkit_file_shared(&m, ld->path, size - page(), page(), MMAPKIT_GROW) == 0);
	TU_CHILD_OK(mmapkit_len(m) == page());
	mmapkit_unmap(m);
	TU_CHILD_OK(ioctl(dfd, BLKGETSIZE64, &now) == 0 && now == size);
	TU_CHILD_OK(stat(ld->file, &st) == 0 && st.st_size == BLK_FILE_SIZE);
}

/* A write through file_shared is in the backing file once mmapkit_sync returns. */
static void blk_write(const struct tu_loop *ld, unsigned char *want)
{
	uint64_t off = 100 * page() + 13;
	size_t n = 2 * page();
	mmapkit_map *m = NULL;
	unsigned char *p;

	TU_CHILD_OK(mmapkit_file_shared(&m, ld->path, off, n, 0) == 0);
	p = mmapkit_ptr(m);
	for (size_t i = 0; i < n; i++)
		want[off + i] = p[i] = tu_other(off + i); /* differs from tu_pattern everywhere */
	TU_CHILD_OK(mmapkit_sync(m, 0, MMAPKIT_TO_END, 0) == 0);
	TU_CHILD_OK(file_holds(ld->file, off - 1, want + off - 1, n + 2));
	mmapkit_unmap(m);
}

/* fd_shared over our own descriptor of the device: the whole device, writes reach the file. */
static void blk_fd(const struct tu_loop *ld, int dfd, unsigned char *want, uint64_t size)
{
	mmapkit_map *m = NULL;
	unsigned char *p;

	TU_CHILD_OK(mmapkit_fd_shared(&m, dfd, 0, 0, 0) == 0);
	p = mmapkit_ptr(m);
	TU_CHILD_OK(mmapkit_len(m) == size);
	TU_CHILD_OK(mmapkit_fd(m) >= 0 && mmapkit_fd(m) != dfd);
	TU_CHILD_OK(memcmp(p, want, size) == 0); /* blk_write's bytes included */
	want[size - 1] = p[size - 1] = tu_other(size - 1);
	TU_CHILD_OK(mmapkit_sync(m, size - 1, 1, 0) == 0);
	TU_CHILD_OK(file_holds(ld->file, size - page(), want + size - page(), page()));
	mmapkit_unmap(m);
}

static void blk_child(void *arg)
{
	const struct tu_loop *ld = arg;
	unsigned char *want = malloc(BLK_FILE_SIZE);
	uint64_t size = 0;
	struct tu_snap s;
	int dfd;

	TU_CHILD_OK(want != NULL);
	tu_fill_pattern(want, 0, BLK_FILE_SIZE);
	TU_CHILD_OK(tu_loop_bound(ld));
	dfd = open(ld->path, O_RDWR | O_CLOEXEC);
	TU_CHILD_OK(dfd >= 0);
	TU_CHILD_OK(ioctl(dfd, BLKGETSIZE64, &size) == 0);
	TU_CHILD_OK(size == BLK_FILE_SIZE);
	s = tu_snap();
	blk_whole(ld, want, size);
	blk_range(ld, dfd, size);
	blk_write(ld, want);
	blk_fd(ld, dfd, want, size);
	TU_CHILD_OK(tu_count_fds() == s.fds && (!tu_maps_reliable() || tu_count_maps() == s.maps));
	close(dfd);
	free(want);
}

/*
 * The work runs in a child, where a failed check only ends the child: this
 * process detaches the device and removes the file whatever happened there.
 */
START_TEST(block_device)
{
	struct tu_loop ld = {.fd = -1};
	int err, status;
	bool bound;

	if (geteuid() != 0) {
		printf("paths: not root, no loop device; block_device skipped\n");
		return;
	}
	ld.file = tu_file(BLK_FILE_SIZE);
	err = tu_loop_attach(&ld);
	if (tu_loop_unavailable(err)) {
		printf("paths: no loop device (%s: %s); block_device skipped\n", ld.step,
		       strerror(err));
		unlink(ld.file);
		return;
	}
	ck_assert_msg(err == 0, "%s: %s", ld.step, strerror(err));
	status = tu_child(blk_child, &ld);
	err = tu_loop_detach(&ld);
	bound = tu_loop_bound(&ld);
	ck_assert_int_eq(unlink(ld.file), 0);
	ck_assert_msg(TU_EXITED(status, 0), "child status 0x%x", status);
	ck_assert_msg(err == 0, "ioctl(LOOP_CLR_FD) on %s: %s", ld.path, strerror(err));
	ck_assert_msg(!bound, "%s still bound to %s after detach", ld.path, ld.file);
}
END_TEST

/* ---- truncated by another process while mapped ---- */

static void truncate_by_other(const char *path, off_t size)
{
	pid_t pid = fork();
	int st;

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(10);
		_exit(truncate(path, size) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(TU_EXITED(st, 0));
}

static void touch_read(void *p)
{
	(void)*(volatile unsigned char *)p;
}

static void touch_write(void *p)
{
	*(volatile unsigned char *)p = 1;
}

/*
 * Documented behaviour (mmapkit(7)): the library checks the range against the
 * file size when it maps; a file that another process shrinks afterwards is
 * outside its control.  Bytes in the page holding the new end of file read as
 * zeros past it; any access to a page wholly past it raises SIGBUS, also in a
 * private mapping, whose copied pages past the end the kernel discards.
 */
START_TEST(truncated_while_mapped)
{
	const char *path = tu_file(4 * page());
	struct tu_snap s = tu_snap();
	mmapkit_map *sh = NULL, *pv = NULL;
	unsigned char *ps, *pp;

	ck_assert_int_eq(mmapkit_file_shared(&sh, path, 0, 0, 0), 0);
	ck_assert_int_eq(mmapkit_file_private(&pv, path, 0, 0, 0), 0);
	ps = mmapkit_ptr(sh);
	pp = mmapkit_ptr(pv);
	pp[3 * page()] = 0x77; /* a private copy of the last page: discarded below */
	truncate_by_other(path, (off_t)page() + 10);
	ck_assert_uint_eq(ps[page() + 9], tu_pattern(page() + 9));
	ck_assert_uint_eq(ps[page() + 10], 0);
	ck_assert_uint_eq(pp[2 * page() - 1], 0);
	ck_assert(TU_KILLED(tu_child(touch_read, pp + 3 * page()), SIGBUS));
	ck_assert(TU_KILLED(tu_child(touch_read, ps + 2 * page()), SIGBUS));
	ck_assert(TU_KILLED(tu_child(touch_write, ps + 3 * page()), SIGBUS));
	ck_assert(TU_KILLED(tu_child(touch_read, pp + 2 * page()), SIGBUS));
	ck_assert(TU_KILLED(tu_child(touch_write, pp + 2 * page() + 5), SIGBUS));
	/* The handles keep working where the file is, and unmap cleanly. */
	ps[0] = 0x42;
	ck_assert_int_eq(mmapkit_sync(sh, 0, MMAPKIT_TO_END, 0), 0);
	ck_assert_int_eq(mmapkit_revert(pv, 0, 2 * page()), 0);
	ck_assert_uint_eq(pp[0], 0x42);
	mmapkit_unmap(sh);
	mmapkit_unmap(pv);
	TU_ASSERT_NO_LEAK(s);
	ck_assert_uint_eq(tu_file_size(path), page() + 10);
}
END_TEST

Suite *suite_paths(void)
{
	Suite *s = suite_create("paths");
	TCase *tl = tcase_create("links");
	TCase *tp = tcase_create("permission");
	TCase *td = tcase_create("special");

	tcase_add_test(tl, symlink_to_file);
	tcase_add_test(tl, symlink_dangling);
	tcase_add_test(tl, symlink_loop_and_dir);
	tcase_add_test(tl, path_too_long);
	tcase_add_test(tl, path_near_max);
	suite_add_tcase(s, tl);
	tcase_add_test(tp, no_permission);
	suite_add_tcase(s, tp);
	tcase_add_test(td, empty_file_is_empty);
	tcase_add_test(td, proc_file_refused);
	tcase_add_test(td, sys_pseudo_file);
	tcase_add_test(td, proc_file_range);
	tcase_add_test(td, sys_file);
	tcase_add_test(td, dev_zero);
	tcase_add_test(td, dev_unmappable);
	tcase_add_test(td, fifo_and_socket);
	tcase_add_test(td, fifo_with_writer);
	tcase_add_test(td, fd_not_nonblocking);
	tcase_add_test(td, block_device);
	tcase_add_test(td, truncated_while_mapped);
	suite_add_tcase(s, td);
	return s;
}
