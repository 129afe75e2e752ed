/* SPDX-License-Identifier: MIT */
/*
 * Resource limits: RLIMIT_MEMLOCK (as an unprivileged user: root has
 * CAP_IPC_LOCK), RLIMIT_AS, RLIMIT_NOFILE and RLIMIT_FSIZE.  Each case runs in
 * a child that lowers the limit, checks that every call refused by it returns
 * the kernel's errno, sets *out to NULL and leaves nothing behind (descriptor,
 * mapping, file created or grown), and exits 0; the parent checks the exit.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define RUN_CHILD(fn, arg)                                                                  \
	do {                                                                                \
		int st_ = tu_child((fn), (arg));                                            \
		ck_assert_msg(TU_EXITED(st_, 0), "child %s: status 0x%x", #fn, st_);        \
	} while (0)

static bool has(const char *msg, const char *part)
{
	return strstr(msg, part) != NULL;
}

static void set_limit(int resource, rlim_t soft)
{
	struct rlimit rl;

	TU_CHILD_OK(getrlimit(resource, &rl) == 0);
	rl.rlim_cur = soft;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < soft)
		rl.rlim_max = soft;
	TU_CHILD_OK(setrlimit(resource, &rl) == 0);
}

/* The file behind fd still has exactly `size` pattern bytes. */
static bool fd_intact(int fd, size_t size)
{
	unsigned char buf[4096];
	bool ok = lseek(fd, 0, SEEK_END) == (off_t)size;

	for (size_t at = 0; ok && at < size; at += sizeof(buf)) {
		size_t n = size - at < sizeof(buf) ? size - at : sizeof(buf);

		ok = pread(fd, buf, n, (off_t)at) == (ssize_t)n;
		for (size_t i = 0; ok && i < n; i++)
			ok = buf[i] == tu_pattern(at + i);
	}
	return ok;
}

static bool file_intact(const char *path, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && fd_intact(fd, size);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* As TU_ASSERT_NO_LEAK, for a child. */
static bool snap_eq(struct tu_snap s)
{
	return tu_count_fds() == s.fds &&
	       (!tu_maps_reliable() || tu_count_maps() == s.maps);
}

/* ---- RLIMIT_MEMLOCK ---- */

struct memlock_arg {
	const char *path;  /* a pattern file of 16 pages */
	rlim_t limit;      /* RLIMIT_MEMLOCK for the child */
	int err;           /* what an mlock over 16 pages must fail with */
};

static int make(int c, mmapkit_map **m, int fd, size_t len, unsigned flags)
{
	switch (c) {
	case 0:
		return mmapkit_anon_private(m, len, flags);
	case 1:
		return mmapkit_anon_shared(m, len, flags);
	case 2:
		return mmapkit_fd_private(m, fd, 0, len, flags);
	default:
		return mmapkit_fd_shared(m, fd, 0, len, flags);
	}
}

/* Constructors with MMAPKIT_LOCK over the limit: clean failure, nothing left. */
static void memlock_ctors(const struct memlock_arg *a, int fd, size_t len)
{
	for (int c = 0; c < 4; c++) {
		struct tu_snap s = tu_snap();
		mmapkit_map *m = (mmapkit_map *)&m;

		TU_CHILD_OK(make(c, &m, fd, len, MMAPKIT_LOCK) == -a->err);
		TU_CHILD_OK(m == NULL);
		TU_CHILD_OK(has(mmapkit_errmsg(), "mlock failed"));
		TU_CHILD_OK(has(mmapkit_errmsg(), "RLIMIT_MEMLOCK"));
		TU_CHILD_OK(snap_eq(s));
		/* With GUARD the failure also releases the guard pages. */
		TU_CHILD_OK(make(c, &m, fd, len, MMAPKIT_LOCK | MMAPKIT_GUARD) == -a->err);
		TU_CHILD_OK(m == NULL);
		TU_CHILD_OK(snap_eq(s));
	}
	TU_CHILD_OK(fd_intact(fd, len));
}

/* mmapkit_lock over the limit: refused, and the handle stays unlocked and intact. */
static void memlock_range(const struct memlock_arg *a, int fd, size_t len)
{
	size_t page = mmapkit_page_size();
	/* valgrind (3.19) has no mlock2: MMAPKIT_LOCK_ONFAULT fails there. */
	unsigned last = tu_on_valgrind() ? 0 : MMAPKIT_LOCK_ONFAULT;

	for (int c = 0; c < 4; c++) {
		mmapkit_map *m = NULL;
		unsigned char *p;

		TU_CHILD_OK(make(c, &m, fd, len, 0) == 0);
		p = mmapkit_ptr(m);
		for (size_t i = 0; i < len; i += 97)
			p[i] = (unsigned char)(i * 7 + 1);
		for (unsigned how = 0; how <= last; how++) {
			TU_CHILD_OK(mmapkit_lock(m, 0, MMAPKIT_TO_END, how) == -a->err);
			TU_CHILD_OK(!tu_has_vmflag(p, "lo"));
			TU_CHILD_OK(tu_smaps_kb(p, "Locked") == 0);
		}
		for (size_t i = 0; i < len; i += 97)
			TU_CHILD_OK(p[i] == (unsigned char)(i * 7 + 1));
		/* Within the limit locking works, and a punch of a locked page too. */
		if (a->limit >= page) {
			TU_CHILD_OK(mmapkit_lock(m, page, 1, 0) == 0);
			TU_CHILD_OK(tu_has_vmflag(p + page, "lo"));
			TU_CHILD_OK(mmapkit_punch(m, page, page) == 0);
			TU_CHILD_OK(tu_has_vmflag(p + page, "lo"));
			TU_CHILD_OK(p[page] == 0 && p[2 * page - 1] == 0);
			TU_CHILD_OK(mmapkit_unlock(m, 0, MMAPKIT_TO_END) == 0);
		}
		mmapkit_unmap(m);
	}
}

static void memlock_child(void *arg)
{
	const struct memlock_arg *a = arg;
	size_t len = 16 * mmapkit_page_size();
	struct tu_snap s;
	int fd = open(a->path, O_RDWR | O_CLOEXEC); /* before setuid: the directory is 0700 */

	TU_CHILD_OK(fd >= 0);
	set_limit(RLIMIT_MEMLOCK, a->limit);
	TU_CHILD_OK(setgid(65534) == 0);
	TU_CHILD_OK(setuid(65534) == 0); /* drops CAP_IPC_LOCK */
	TU_CHILD_OK(geteuid() == 65534);
	/* setuid made /proc/self root's; the leak checks read it. */
	TU_CHILD_OK(prctl(PR_SET_DUMPABLE, 1) == 0);
	s = tu_snap();
	memlock_ctors(a, fd, len);
	memlock_range(a, fd, len);
	TU_CHILD_OK(snap_eq(s));
	close(fd);
}

START_TEST(memlock_too_low)
{
	/* A limit of one page: more is -ENOMEM.  A limit of 0: any mlock is -EPERM. */
	struct memlock_arg a = {tu_file(16 * mmapkit_page_size()), mmapkit_page_size(), ENOMEM};

	if (_i)
		a.limit = 0, a.err = EPERM;
	RUN_CHILD(memlock_child, &a);
}
END_TEST

/* ---- RLIMIT_AS ---- */

static long vm_size_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;

	TU_CHILD_OK(f != NULL);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmSize: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void as_child(void *arg)
{
	const char *path = ((const char **)arg)[0], *fresh = ((const char **)arg)[1];
	size_t page = mmapkit_page_size(), big = (size_t)256 << 20;
	mmapkit_map *m = (mmapkit_map *)&m;
	struct tu_snap s;

	/* Room for malloc and the small mapping below, not for `big`. */
	set_limit(RLIMIT_AS, (rlim_t)vm_size_kb() * 1024 + ((rlim_t)32 << 20));
	s = tu_snap();
	TU_CHILD_OK(mmapkit_anon_private(&m, big, 0) == -ENOMEM);
	TU_CHILD_OK(m == NULL && has(mmapkit_errmsg(), "mmap failed"));
	TU_CHILD_OK(mmapkit_anon_shared(&m, big, MMAPKIT_NORESERVE) == -ENOMEM);
	TU_CHILD_OK(m == NULL);
	TU_CHILD_OK(mmapkit_anon_private(&m, big, MMAPKIT_GUARD) == -ENOMEM);
	TU_CHILD_OK(m == NULL && has(mmapkit_errmsg(), "guard page"));
	TU_CHILD_OK(snap_eq(s));
	/* GROW succeeded before mmap failed: the file must be cut back. */
	TU_CHILD_OK(mmapkit_file_shared(&m, path, 0, big, MMAPKIT_GROW) == -ENOMEM);
	TU_CHILD_OK(m == NULL && has(mmapkit_errmsg(), "mmap failed"));
	TU_CHILD_OK(file_intact(path, 2 * page));
	TU_CHILD_OK(mmapkit_file_private(&m, path, page, big, MMAPKIT_GROW | MMAPKIT_GUARD) ==
		 -ENOMEM);
	TU_CHILD_OK(file_intact(path, 2 * page));
	/* CREATE: the file the failed call made is removed. */
	TU_CHILD_OK(mmapkit_file_shared(&m, fresh, 0, big, MMAPKIT_CREATE | MMAPKIT_GROW) ==
		 -ENOMEM);
	TU_CHILD_OK(m == NULL && access(fresh, F_OK) != 0 && errno == ENOENT);
	TU_CHILD_OK(snap_eq(s));
	/* What fits still works. */
	TU_CHILD_OK(mmapkit_anon_private(&m, page, MMAPKIT_GUARD) == 0);
	mmapkit_unmap(m);
	TU_CHILD_OK(mmapkit_file_shared(&m, path, 0, 0, 0) == 0);
	mmapkit_unmap(m);
	TU_CHILD_OK(snap_eq(s));
}

START_TEST(address_space_limit)
{
	const char *paths[2] = {tu_file(2 * mmapkit_page_size()), tu_path("fresh")};

	RUN_CHILD(as_child, paths);
	ck_assert(file_intact(paths[0], 2 * mmapkit_page_size()));
	ck_assert_int_ne(access(paths[1], F_OK), 0);
}
END_TEST

/* ---- RLIMIT_NOFILE ---- */

struct nofile_arg {
	const char *path;    /* pattern file, 2 pages */
	const char *fresh;   /* does not exist */
	const char *created; /* does not exist; the child creates it */
};

/* Fill the descriptor table up to the (lowered) limit; returns how many were opened. */
static int fill_fds(int *fds, int cap)
{
	int n = 0;

	while (n < cap) {
		int fd = dup(0);

		if (fd < 0) {
			TU_CHILD_OK(errno == EMFILE);
			return n;
		}
		fds[n++] = fd;
	}
	tu_child_fail(__FILE__, __LINE__, "descriptor table did not fill up");
	return n;
}

static void nofile_refused(const struct nofile_arg *a, int fd)
{
	mmapkit_map *m = (mmapkit_map *)&m;

	TU_CHILD_OK(mmapkit_file_private(&m, a->path, 0, 0, 0) == -EMFILE);
	TU_CHILD_OK(m == NULL && has(mmapkit_errmsg(), "open failed"));
	TU_CHILD_OK(mmapkit_file_shared(&m, a->path, 0, 0, MMAPKIT_GROW) == -EMFILE);
	TU_CHILD_OK(m == NULL);
	TU_CHILD_OK(mmapkit_file_shared(&m, a->fresh, 0, 4096, MMAPKIT_CREATE | MMAPKIT_GROW) ==
		 -EMFILE);
	TU_CHILD_OK(m == NULL && access(a->fresh, F_OK) != 0);
	TU_CHILD_OK(mmapkit_fd_private(&m, fd, 0, 0, 0) == -EMFILE);
	TU_CHILD_OK(m == NULL && has(mmapkit_errmsg(), "dup failed"));
	TU_CHILD_OK(mmapkit_fd_shared(&m, fd, 0, 0, 0) == -EMFILE);
	TU_CHILD_OK(m == NULL);
	/* Anonymous kinds need no descriptor. */
	TU_CHILD_OK(mmapkit_anon_shared(&m, 4096, 0) == 0);
	mmapkit_unmap(m);
}

static void nofile_child(void *arg)
{
	const struct nofile_arg *a = arg;
	struct tu_snap s = tu_snap();
	int fds[128], n, fd = open(a->path, O_RDWR | O_CLOEXEC);
	mmapkit_map *created = NULL;

	TU_CHILD_OK(fd >= 0);
	TU_CHILD_OK(mmapkit_file_shared(&created, a->created, 0, 4096,
				     MMAPKIT_CREATE | MMAPKIT_GROW) == 0);
	set_limit(RLIMIT_NOFILE, 64);
	n = fill_fds(fds, 128);
	nofile_refused(a, fd);
	/* SYNC_FULL of a created file opens its directory: refused, and retried later. */
	memcpy(mmapkit_ptr(created), "durable", 7);
	TU_CHILD_OK(mmapkit_sync(created, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL) == -EMFILE);
	TU_CHILD_OK(has(mmapkit_errmsg(), "open failed") && has(mmapkit_errmsg(), "directory"));
	close(fds[--n]);
	mmapkit__fault_reset();
	TU_CHILD_OK(mmapkit_sync(created, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL) == 0);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_FSYNC) == 2); /* the file, then its directory */
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_CLOSE) == 1);
	while (n > 0)
		close(fds[--n]);
	mmapkit_unmap(created);
	close(fd);
	TU_CHILD_OK(snap_eq(s));
}

START_TEST(nofile_exhausted)
{
	struct nofile_arg a = {tu_file(2 * mmapkit_page_size()), tu_path("fresh"),
			       tu_path("created")};
	unsigned char buf[7];

	/* valgrind emulates the descriptor limit after the kernel made the file. */
	if (tu_on_valgrind()) {
		printf("limits: nofile_exhausted skipped under valgrind\n");
		return;
	}
	RUN_CHILD(nofile_child, &a);
	ck_assert(file_intact(a.path, 2 * mmapkit_page_size()));
	ck_assert_int_ne(access(a.fresh, F_OK), 0);
	tu_pread(a.created, 0, buf, sizeof(buf));
	ck_assert_mem_eq(buf, "durable", 7);
	unlink(a.created);
}
END_TEST

/* ---- RLIMIT_FSIZE ---- */

struct fsize_arg {
	const char *path;  /* pattern file, 2 pages */
	const char *fresh; /* does not exist */
};

static void fsize_refused(const struct fsize_arg *a, size_t page)
{
	int fd = open(a->path, O_RDWR | O_CLOEXEC);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = (mmapkit_map *)&m;

	TU_CHILD_OK(fd >= 0);
	s.fds--;
	TU_CHILD_OK(mmapkit_file_shared(&m, a->path, 0, 8 * page, MMAPKIT_GROW) == -EFBIG);
	TU_CHILD_OK(m == NULL && has(mmapkit_errmsg(), "ftruncate failed"));
	TU_CHILD_OK(mmapkit_file_private(&m, a->path, 4 * page, 1, MMAPKIT_GROW) == -EFBIG);
	TU_CHILD_OK(mmapkit_fd_shared(&m, fd, page, 4 * page, MMAPKIT_GROW | MMAPKIT_LOCK) == -EFBIG);
	TU_CHILD_OK(m == NULL);
	TU_CHILD_OK(mmapkit_file_shared(&m, a->fresh, 0, 5 * page, MMAPKIT_CREATE | MMAPKIT_GROW) ==
		 -EFBIG);
	TU_CHILD_OK(m == NULL && access(a->fresh, F_OK) != 0);
	close(fd);
	TU_CHILD_OK(snap_eq(s));
	TU_CHILD_OK(file_intact(a->path, 2 * page));
}

static void fsize_child(void *arg)
{
	const struct fsize_arg *a = arg;
	size_t page = mmapkit_page_size();
	mmapkit_map *m = NULL;

	signal(SIGXFSZ, SIG_IGN);
	set_limit(RLIMIT_FSIZE, 4 * page);
	fsize_refused(a, page);
	/* Up to the limit itself, GROW works. */
	TU_CHILD_OK(mmapkit_file_shared(&m, a->path, 0, 4 * page, MMAPKIT_GROW) == 0);
	TU_CHILD_OK(tu_file_size(a->path) == 4 * page);
	mmapkit_unmap(m);
}

START_TEST(fsize_below_grow)
{
	struct fsize_arg a = {tu_file(2 * mmapkit_page_size()), tu_path("fresh")};

	RUN_CHILD(fsize_child, &a);
	ck_assert_uint_eq(tu_file_size(a.path), 4 * mmapkit_page_size());
}
END_TEST

/*
 * The library does not touch signal dispositions (they belong to the process):
 * with SIGXFSZ at its default, a GROW past RLIMIT_FSIZE kills the caller, as
 * write(2) would.  The file is not grown.  Documented so callers ignore it.
 */
static void fsize_default_child(void *arg)
{
	mmapkit_map *m = NULL;

	set_limit(RLIMIT_CORE, 0);
	set_limit(RLIMIT_FSIZE, 4 * mmapkit_page_size());
	mmapkit_file_shared(&m, arg, 0, 8 * mmapkit_page_size(), MMAPKIT_GROW);
	_exit(3);
}

START_TEST(fsize_sigxfsz_default)
{
	const char *path = tu_file(2 * mmapkit_page_size());
	int st = tu_child(fsize_default_child, (void *)path);

	ck_assert_msg(TU_KILLED(st, SIGXFSZ), "status 0x%x", st);
	ck_assert(file_intact(path, 2 * mmapkit_page_size()));
}
END_TEST

Suite *suite_limits(void)
{
	Suite *s = suite_create("limits");
	TCase *tc = tcase_create("rlimit");

	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, memlock_too_low, 0, 2);
	tcase_add_test(tc, address_space_limit);
	tcase_add_test(tc, nofile_exhausted);
	tcase_add_test(tc, fsize_below_grow);
	tcase_add_test(tc, fsize_sigxfsz_default);
	suite_add_tcase(s, tc);
	return s;
}
