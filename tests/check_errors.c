/* SPDX-License-Identifier: MIT */
/*
 * Constructor errors: every row of the contract's errno table and the cases
 * around it.  Each failing call must return the exact negative errno, set
 * *out to NULL, leak no descriptor and no mapping, leave the file as it was
 * (and remove a file it created), and name the call and its numbers in
 * mmapkit_errmsg().  Also mmapkit_strerror().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

/* What *out holds before a call, so that a call that forgets to clear it shows. */
#define GARBAGE ((mmapkit_map *)(uintptr_t)0x5a5a5a5a)

static const char *inum(long long v)
{
	static char bufs[4][32];
	static unsigned n;
	char *b = bufs[n++ % 4];

	snprintf(b, 32, "%lld", v);
	return b;
}

static const char *hex(unsigned v)
{
	static char bufs[4][16];
	static unsigned n;
	char *b = bufs[n++ % 4];

	snprintf(b, 16, "0x%x", v);
	return b;
}

static void expect_fail(int line, int got, int want, const mmapkit_map *out, struct tu_snap s,
			const char *call, const char *const *nums)
{
	char what[32];

	snprintf(what, sizeof(what), "line %d", line);
	ck_assert_msg(got == want, "line %d: %s returned %d (%s), want %d; errmsg \"%s\"", line,
		      call, got, mmapkit_strerror(got), want, mmapkit_errmsg());
	ck_assert_msg(out == NULL, "line %d: *out not cleared", line);
	ck_assert_msg(tu_count_fds() == s.fds, "line %d: %d descriptors, were %d", line,
		      tu_count_fds(), s.fds);
	/* valgrind maps memory of its own: the count means nothing there */
	ck_assert_msg(tu_on_valgrind() || tu_count_maps() == s.maps,
		      "line %d: %d mappings, were %d", line, tu_count_maps(), s.maps);
	tu_assert_errmsg(call, nums, what);
}

/*
 * Runs expr (which writes through &out) with a leak snapshot around it and
 * checks the failure.  `out` must be a mmapkit_map * in scope.
 */
#define FAILS(want, call, nums, expr)                                                       \
	do {                                                                                \
		struct tu_snap s_ = tu_snap();                                              \
		int r_;                                                                     \
		out = GARBAGE;                                                              \
		r_ = (expr);                                                                \
		expect_fail(__LINE__, r_, (want), out, s_, (call), (nums));                 \
	} while (0)

/* ---- the state of a path, to prove a failed call left it alone ---- */

static bool exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* What a path was before a call: its bytes if a regular file, else its type (or none). */
struct pstate {
	bool existed;
	mode_t type;
	struct tu_fstate f;
};

static struct pstate pstate_take(const char *path)
{
	struct pstate p = {false, 0, {false, 0, NULL}};
	struct stat st;

	if (lstat(path, &st) != 0)
		return p;
	p.existed = true;
	p.type = st.st_mode & S_IFMT;
	if (S_ISREG(st.st_mode))
		p.f = tu_fstate_take(path);
	return p;
}

/* The path is as it was: same bytes, same kind of object, or still not there. */
static void pstate_check(int line, const char *path, struct pstate *p)
{
	char what[32];
	struct stat st;

	if (!p->existed) {
		ck_assert_msg(!exists(path), "line %d: %s left behind", line, path);
		return;
	}
	ck_assert_msg(lstat(path, &st) == 0 && (st.st_mode & S_IFMT) == p->type,
		      "line %d: %s changed type", line, path);
	snprintf(what, sizeof(what), "line %d", line);
	if (p->f.exists)
		tu_fstate_check(path, &p->f, what);
}

/* What the message calls the object: the path, or "fd N". */
static const char *target_name(int c, const struct tu_target *t)
{
	static char buf[32];

	if (tu_ctors[c].by_path)
		return t->path;
	snprintf(buf, sizeof(buf), "fd %d", t->fd);
	return buf;
}

/* A failing call of constructor c on t: the file is unchanged afterwards, too. */
static void fails_on(int line, int c, struct tu_target *t, uint64_t off, size_t len,
		     unsigned flags, int want, const char *const *nums)
{
	struct pstate p = {false, 0, {false, 0, NULL}};
	struct tu_snap s;
	mmapkit_map *out = GARBAGE;
	int r;

	if (t->path)
		p = pstate_take(t->path);
	s = tu_snap();
	r = tu_make(c, &out, t->path, t->fd, off, len, flags);
	expect_fail(line, r, want, out, s, tu_ctors[c].name, nums);
	if (t->path)
		pstate_check(line, t->path, &p);
}

#define FAILS_ON(c, t, off, len, flags, want, nums)                                        \
	fails_on(__LINE__, (c), (t), (off), (len), (flags), (want), (nums))

/* ---- argument checks: EINVAL, EOVERFLOW, with no system call at all ---- */

START_TEST(err_null_out)
{
	struct tu_target t = tu_target_new(_i, 4096);
	struct tu_snap s = tu_snap();
	struct tu_fstate f = tu_fstate_take(t.path);
	int r;

	r = tu_make(_i, NULL, t.path, t.fd, 0, 4096, 0);
	ck_assert_int_eq(r, -EINVAL);
	TU_ASSERT_NO_LEAK(s);
	tu_assert_errmsg(tu_ctors[_i].name, TU_NUMS("out"), tu_ctors[_i].desc);
	tu_fstate_check(t.path, &f, tu_ctors[_i].desc);
	tu_target_free(&t);
}
END_TEST

START_TEST(err_null_path)
{
	mmapkit_map *out;
	const char *missing = tu_path("never");

	FAILS(-EINVAL, "mmapkit_file_private", TU_NUMS("path"),
	      mmapkit_file_private(&out, NULL, 0, 4096, 0));
	FAILS(-EINVAL, "mmapkit_file_shared", TU_NUMS("path"),
	      mmapkit_file_shared(&out, NULL, 0, 4096, 0));
	FAILS(-EINVAL, "mmapkit_file_private", TU_NUMS("path"),
	      mmapkit_file_private(&out, NULL, 0, 0, MMAPKIT_CREATE | MMAPKIT_RDONLY));
	FAILS(-EINVAL, "mmapkit_file_shared", TU_NUMS("path"),
	      mmapkit_file_shared(&out, NULL, 0, 0, MMAPKIT_CREATE));
	/* map_new: no path means "the descriptor", and -1 is none. */
	FAILS(-EBADF, "mmapkit_map_new", TU_NUMS("-1"),
	      mmapkit_map_new(&out, &(struct mmapkit_opts){.sz = sizeof(struct mmapkit_opts),
							   .kind = MMAPKIT_FILE_SHARED,
							   .fd = -1, .len = 4096}));
	ck_assert(!exists(missing));
}
END_TEST

/* An argument error must be found before any system call is made. */
static void no_syscall(int line)
{
	ck_assert_msg(mmapkit__fault_total() == 0, "line %d: %u system calls before refusing",
		      line, mmapkit__fault_total());
}

#define FAILS_EARLY(c, t, off, len, flags, want, nums)                                     \
	do {                                                                                \
		mmapkit__fault_reset();                                                     \
		FAILS_ON(c, t, off, len, flags, want, nums);                                \
		no_syscall(__LINE__);                                                       \
	} while (0)

START_TEST(err_unknown_flags)
{
	struct tu_target t = tu_target_new(_i, 4096);
	const unsigned bad[] = {0x8000u, 0x80000000u, 0xffff8000u};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		FAILS_EARLY(_i, &t, 0, 4096, bad[i], -EINVAL, TU_NUMS(hex(bad[i])));
		FAILS_EARLY(_i, &t, 0, 4096, bad[i] | MMAPKIT_RDONLY, -EINVAL,
			    TU_NUMS(hex(bad[i])));
	}
	tu_target_free(&t);
}
END_TEST

/* Flags that do not apply to the kind, and pairs that conflict. */
START_TEST(err_flags_kind)
{
	int c = _i, kind = tu_ctors[c].kind;
	struct tu_target t = tu_target_new(c, 4096);
	bool anon = !tu_ctor_is_file(c);

	if (kind != MMAPKIT_ANON_PRIVATE)
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_WIPEONFORK, -EINVAL,
			    TU_NUMS("MMAPKIT_WIPEONFORK"));
	if (!anon) {
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_HUGETLB, -EINVAL, TU_NUMS("MMAPKIT_HUGETLB"));
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_RDONLY | MMAPKIT_GROW, -EINVAL,
			    TU_NUMS("MMAPKIT_RDONLY", "MMAPKIT_GROW"));
		FAILS_EARLY(c, &t, 0, 8192, MMAPKIT_RDONLY | MMAPKIT_GROW, -EINVAL,
			    TU_NUMS("MMAPKIT_GROW"));
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_RDONLY | MMAPKIT_ALLOCATE, -EINVAL,
			    TU_NUMS("MMAPKIT_RDONLY", "MMAPKIT_ALLOCATE"));
	} else {
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_ALLOCATE, -EINVAL, TU_NUMS("MMAPKIT_ALLOCATE"));
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_NORESERVE | MMAPKIT_HUGETLB, -EINVAL,
			    TU_NUMS("MMAPKIT_NORESERVE", "MMAPKIT_HUGETLB"));
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_CREATE, -EINVAL, TU_NUMS("MMAPKIT_CREATE"));
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_GROW, -EINVAL, TU_NUMS("MMAPKIT_GROW"));
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_THP | MMAPKIT_HUGETLB, -EINVAL,
			    TU_NUMS("MMAPKIT_THP"));
	}
	if (tu_ctors[c].by_fd)
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_CREATE, -EINVAL, TU_NUMS("MMAPKIT_CREATE"));
	if (kind == MMAPKIT_ANON_PRIVATE)
		FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_DONTFORK | MMAPKIT_WIPEONFORK, -EINVAL,
			    TU_NUMS("MMAPKIT_DONTFORK", "MMAPKIT_WIPEONFORK"));
	tu_target_free(&t);
}
END_TEST

/* A refused CREATE leaves no file behind, whichever check refused it. */
START_TEST(err_create_refused_early)
{
	int c = _i ? TU_FS : TU_FP;
	struct tu_target t = {tu_path("new"), -1, 0};

	FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_CREATE | MMAPKIT_WIPEONFORK, -EINVAL,
		    TU_NUMS("MMAPKIT_WIPEONFORK"));
	ck_assert(!exists(t.path));
	FAILS_EARLY(c, &t, 0, 4096, MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_RDONLY, -EINVAL,
		    TU_NONUMS);
	ck_assert(!exists(t.path));
	FAILS_EARLY(c, &t, 0, (size_t)PTRDIFF_MAX + 1, MMAPKIT_CREATE | MMAPKIT_GROW,
		    -EOVERFLOW, TU_NUMS(tu_num((uint64_t)PTRDIFF_MAX + 1)));
	ck_assert(!exists(t.path));
	FAILS_EARLY(c, &t, UINT64_MAX, 1, MMAPKIT_CREATE | MMAPKIT_GROW, -EOVERFLOW,
		    TU_NUMS(tu_num(UINT64_MAX)));
	ck_assert(!exists(t.path));
}
END_TEST

START_TEST(err_anon_len0)
{
	int c = tu_anon_ctors[_i];
	struct tu_target t = {NULL, -1, 0};

	FAILS_EARLY(c, &t, 0, 0, 0, -EINVAL, TU_NUMS("len"));
	FAILS_EARLY(c, &t, 0, 0, MMAPKIT_POPULATE, -EINVAL, TU_NUMS("len"));
}
END_TEST

START_TEST(err_overflow)
{
	struct tu_target t = tu_target_new(_i, 4096);
	const size_t big = (size_t)PTRDIFF_MAX + 1;

	FAILS_EARLY(_i, &t, 0, big, 0, -EOVERFLOW, TU_NUMS(tu_num(big)));
	FAILS_EARLY(_i, &t, 0, SIZE_MAX, 0, -EOVERFLOW, TU_NUMS(tu_num(SIZE_MAX)));
	if (tu_ctor_is_file(_i)) {
		FAILS_EARLY(_i, &t, UINT64_MAX, 1, 0, -EOVERFLOW, TU_NUMS(tu_num(UINT64_MAX)));
		FAILS_EARLY(_i, &t, UINT64_MAX - 10, 100, MMAPKIT_GROW, -EOVERFLOW,
			    TU_NUMS(tu_num(UINT64_MAX - 10), "100"));
		FAILS_EARLY(_i, &t, INT64_MAX, 1, 0, -EOVERFLOW, TU_NUMS(tu_num(INT64_MAX)));
		FAILS_EARLY(_i, &t, (uint64_t)INT64_MAX - 4095, 4097, MMAPKIT_GROW, -EOVERFLOW,
			    TU_NUMS(tu_num((uint64_t)INT64_MAX - 4095), "4097"));
		FAILS_EARLY(_i, &t, (uint64_t)INT64_MAX + 1, 0, 0, -EOVERFLOW,
			    TU_NUMS(tu_num((uint64_t)INT64_MAX + 1)));
		FAILS_EARLY(_i, &t, 1, SIZE_MAX, 0, -EOVERFLOW, TU_NUMS(tu_num(SIZE_MAX)));
	}
	tu_target_free(&t);
}
END_TEST

/* ---- ranges against the file's size: ERANGE ---- */

START_TEST(err_range)
{
	int c = tu_file_ctors[_i];
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(c, page + 10);
	const char *name = NULL, *size = tu_num(t.size);
	mmapkit_map *m = NULL;

	name = target_name(c, &t);
	mmapkit__fault_reset();
	/* past the end without GROW */
	FAILS_ON(c, &t, 0, page + 11, 0, -ERANGE,
		 TU_NUMS(name, "0", tu_num(page + 11), size, "MMAPKIT_GROW"));
	FAILS_ON(c, &t, page + 9, 2, MMAPKIT_RDONLY, -ERANGE,
		 TU_NUMS(name, tu_num(page + 9), size));
	FAILS_ON(c, &t, page, page, MMAPKIT_POPULATE, -ERANGE, TU_NUMS(name, tu_num(page), size));
	/* the offset itself past the end, with and without a length and GROW */
	FAILS_ON(c, &t, page + 11, 0, 0, -ERANGE, TU_NUMS(name, tu_num(page + 11), size));
	FAILS_ON(c, &t, page + 11, 1, 0, -ERANGE, TU_NUMS(name, tu_num(page + 11), size));
	FAILS_ON(c, &t, 100 * page, 0, 0, -ERANGE, TU_NUMS(name, tu_num(100 * page), size));
	FAILS_ON(c, &t, page + 11, 0, MMAPKIT_GROW, -ERANGE,
		 TU_NUMS(name, tu_num(page + 11), size));
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MMAP), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FTRUNCATE), 0);
	/* with GROW the same ranges work, and the file grows */
	ck_assert_int_eq(tu_make(c, &m, t.path, t.fd, page + 9, 2, MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(t.path), page + 11);
	mmapkit_unmap(m);
	ck_assert_int_eq(tu_make(c, &m, t.path, t.fd, page + 20, 1, MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(t.path), page + 21);
	mmapkit_unmap(m);
	tu_target_free(&t);
}
END_TEST

/* ---- objects that are not regular files ---- */

START_TEST(err_directory)
{
	const char *dir = tu_dir();
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct tu_target t = {dir, -1, 0}, tf = {NULL, dfd, 0};
	char fdname[32];

	ck_assert_int_ge(dfd, 0);
	snprintf(fdname, sizeof(fdname), "fd %d", dfd);
	FAILS_ON(TU_FP, &t, 0, 0, 0, -EISDIR, TU_NUMS(dir));
	FAILS_ON(TU_FP, &t, 0, 4096, MMAPKIT_RDONLY, -EISDIR, TU_NUMS(dir));
	FAILS_ON(TU_FS, &t, 0, 0, 0, -EISDIR, TU_NUMS(dir));
	FAILS_ON(TU_FS, &t, 0, 0, MMAPKIT_RDONLY, -EISDIR, TU_NUMS(dir));
	FAILS_ON(TU_FS, &t, 0, 4096, MMAPKIT_CREATE | MMAPKIT_GROW, -EISDIR, TU_NUMS(dir));
	FAILS_ON(TU_NEW_FP, &t, 0, 0, 0, -EISDIR, TU_NUMS(dir));
	FAILS_ON(TU_FDP, &tf, 0, 0, 0, -EISDIR, TU_NUMS(fdname));
	FAILS_ON(TU_FDS, &tf, 0, 0, MMAPKIT_RDONLY, -EISDIR, TU_NUMS(fdname));
	FAILS_ON(TU_NEW_FDS, &tf, 0, 4096, MMAPKIT_RDONLY, -EISDIR, TU_NUMS(fdname));
	close(dfd);
	ck_assert(exists(dir));
}
END_TEST

/* A FIFO: refused at once, never waiting for a peer (the alarm fails the test if it does). */
START_TEST(err_fifo)
{
	const char *path = tu_path("fifo");
	struct tu_target t = {path, -1, 0}, tf = {NULL, -1, 0};
	char fdname[32];

	ck_assert_int_eq(mkfifo(path, 0600), 0);
	alarm(10);
	FAILS_ON(TU_FP, &t, 0, 0, 0, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_FP, &t, 0, 4096, MMAPKIT_RDONLY, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_FS, &t, 0, 0, 0, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_FS, &t, 0, 4096, MMAPKIT_RDONLY, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_FS, &t, 0, 4096, MMAPKIT_CREATE | MMAPKIT_GROW, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_NEW_FS, &t, 0, 0, 0, -ENODEV, TU_NUMS(path));
	tf.fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	ck_assert_int_ge(tf.fd, 0);
	snprintf(fdname, sizeof(fdname), "fd %d", tf.fd);
	FAILS_ON(TU_FDP, &tf, 0, 0, 0, -ENODEV, TU_NUMS(fdname));
	FAILS_ON(TU_FDS, &tf, 0, 4096, MMAPKIT_RDONLY, -ENODEV, TU_NUMS(fdname));
	alarm(0);
	close(tf.fd);
	ck_assert(exists(path)); /* CREATE did not touch what it did not create */
	unlink(path);
}
END_TEST

START_TEST(err_socket)
{
	const char *path = tu_path("sock");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int sfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct tu_target t = {path, -1, 0}, tf = {NULL, sfd, 0};
	char fdname[32];

	ck_assert_int_ge(sfd, 0);
	ck_assert_uint_lt(strlen(path), sizeof(sa.sun_path));
	strcpy(sa.sun_path, path);
	ck_assert_int_eq(bind(sfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	alarm(10);
	FAILS_ON(TU_FP, &t, 0, 0, 0, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_FS, &t, 0, 4096, 0, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_FS, &t, 0, 4096, MMAPKIT_RDONLY, -ENODEV, TU_NUMS(path));
	FAILS_ON(TU_NEW_FP, &t, 0, 0, MMAPKIT_CREATE, -ENODEV, TU_NUMS(path));
	snprintf(fdname, sizeof(fdname), "fd %d", sfd);
	FAILS_ON(TU_FDP, &tf, 0, 0, 0, -ENODEV, TU_NUMS(fdname));
	FAILS_ON(TU_FDS, &tf, 0, 4096, 0, -ENODEV, TU_NUMS(fdname));
	alarm(0);
	close(sfd);
	ck_assert(exists(path));
	unlink(path);
}
END_TEST

/* A character device is the driver's business: /dev/null cannot be mapped, and has no size. */
START_TEST(err_chardev)
{
	struct tu_target t = {"/dev/null", -1, 0};

	FAILS_ON(TU_FP, &t, 0, 4096, 0, -ENODEV, TU_NUMS("/dev/null"));
	FAILS_ON(TU_FS, &t, 0, 4096, 0, -ENODEV, TU_NUMS("/dev/null"));
	FAILS_ON(TU_FP, &t, 0, 0, 0, -EINVAL, TU_NUMS("/dev/null"));
}
END_TEST

/* ---- descriptors ---- */

START_TEST(err_bad_fd)
{
	int c = tu_fd_ctors[_i];
	struct tu_target t = {NULL, -1, 0};
	int closed = open("/dev/null", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(closed, 0);
	close(closed);
	FAILS_ON(c, &t, 0, 4096, 0, -EBADF, TU_NUMS("-1"));
	FAILS_ON(c, &t, 0, 0, MMAPKIT_RDONLY, -EBADF, TU_NUMS("-1"));
	t.fd = -7;
	FAILS_ON(c, &t, 0, 4096, 0, -EBADF, TU_NUMS("-7"));
	t.fd = INT_MIN;
	FAILS_ON(c, &t, 0, 4096, 0, -EBADF, TU_NUMS(inum(INT_MIN)));
	t.fd = closed;
	FAILS_ON(c, &t, 0, 4096, 0, -EBADF, TU_NUMS(inum(closed)));
	FAILS_ON(c, &t, 0, 0, MMAPKIT_RDONLY, -EBADF, TU_NUMS(inum(closed)));
	t.fd = INT_MAX;
	FAILS_ON(c, &t, 0, 4096, 0, -EBADF, TU_NUMS(tu_num(INT_MAX)));
}
END_TEST

/* Access modes of the caller's descriptor. */
START_TEST(err_fd_access)
{
	int c = tu_fd_ctors[_i];
	bool shared = tu_ctors[c].kind == MMAPKIT_FILE_SHARED;
	size_t page = mmapkit_page_size();
	struct tu_target t = {tu_file(page), -1, page};
	mmapkit_map *m = NULL;
	char fdname[32];

	t.fd = open(t.path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(t.fd, 0);
	snprintf(fdname, sizeof(fdname), "fd %d", t.fd);
	/* shared read-write of an O_RDONLY descriptor */
	if (shared)
		FAILS_ON(c, &t, 0, 0, 0, -EACCES, TU_NUMS(fdname));
	/* GROW needs to write the file */
	FAILS_ON(c, &t, 0, 2 * page, MMAPKIT_GROW, -EACCES, TU_NUMS(fdname, tu_num(2 * page)));
	FAILS_ON(c, &t, page + 1, 1, MMAPKIT_GROW, -EACCES, TU_NUMS(fdname));
	ck_assert_int_eq(t.size, tu_file_size(t.path));
	/* read-only shared, and private read-write (copy-on-write), work */
	ck_assert_int_eq(tu_make(c, &m, NULL, t.fd, 0, 0, shared ? MMAPKIT_RDONLY : 0), 0);
	ck_assert_uint_eq(((unsigned char *)mmapkit_ptr(m))[1], tu_pattern(1));
	if (!shared) {
		unsigned char b;

		((unsigned char *)mmapkit_ptr(m))[1] = 0;
		ck_assert_uint_eq(((unsigned char *)mmapkit_ptr(m))[1], 0);
		tu_pread(t.path, 1, &b, 1);
		ck_assert_uint_eq(b, tu_pattern(1));
	}
	mmapkit_unmap(m);
	close(t.fd);

	/* an O_WRONLY descriptor cannot be mapped at all (mmap needs read access) */
	t.fd = open(t.path, O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(t.fd, 0);
	snprintf(fdname, sizeof(fdname), "fd %d", t.fd);
	FAILS_ON(c, &t, 0, 0, 0, -EACCES, TU_NUMS(fdname));
	FAILS_ON(c, &t, 0, 2 * page, MMAPKIT_GROW, -EACCES, TU_NUMS(fdname));
	tu_target_free(&t);
}
END_TEST

/*
 * A file this process cannot write: mapped private read-write it still works
 * (copy-on-write), and writes stay private.  Root passes permission checks,
 * so the file is made immutable instead (and, for others, chmod 0400).
 */
static bool set_immutable(const char *path, bool on)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), attr = 0;
	bool ok;

	ck_assert_int_ge(fd, 0);
	ok = ioctl(fd, FS_IOC_GETFLAGS, &attr) == 0;
	attr = on ? attr | FS_IMMUTABLE_FL : attr & ~FS_IMMUTABLE_FL;
	ok = ok && ioctl(fd, FS_IOC_SETFLAGS, &attr) == 0;
	close(fd);
	return ok;
}

struct ro_result {
	int priv, priv_fd, shared, shared_ro, grow;
	unsigned char seen, after_write;
	int write_errno; /* errno of open(O_RDWR), proving the file is not writable */
};

static void map_readonly_file(const char *path, struct ro_result *r)
{
	mmapkit_map *m = NULL;
	int fd;

	fd = open(path, O_RDWR | O_CLOEXEC);
	r->write_errno = fd < 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	r->priv = mmapkit_file_private(&m, path, 0, 0, 0);
	if (!r->priv) {
		unsigned char *p = mmapkit_ptr(m);

		r->seen = p[7];
		p[7] = 0;
		r->after_write = p[7];
		mmapkit_unmap(m);
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	r->priv_fd = mmapkit_fd_private(&m, fd, 0, 0, 0);
	if (!r->priv_fd) {
		((unsigned char *)mmapkit_ptr(m))[8] = 0;
		mmapkit_unmap(m);
	}
	close(fd);
	m = GARBAGE;
	r->shared = mmapkit_file_shared(&m, path, 0, 0, 0);
	if (m)
		r->shared = 1000;
	r->shared_ro = mmapkit_file_shared(&m, path, 0, 0, MMAPKIT_RDONLY);
	mmapkit_unmap(m);
	m = GARBAGE;
	r->grow = mmapkit_file_private(&m, path, 0, 8192, MMAPKIT_GROW);
	if (m)
		r->grow = 1000;
}

START_TEST(err_readonly_file)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(page);
	struct tu_fstate f = tu_fstate_take(path);
	struct tu_snap s = tu_snap();
	struct ro_result r = {0};
	int denied;

	if (set_immutable(path, true)) {
		denied = EPERM;
		map_readonly_file(path, &r);
		ck_assert(set_immutable(path, false)); /* before any assertion can fail */
	} else if (geteuid() != 0) {
		denied = EACCES;
		ck_assert_int_eq(chmod(path, 0400), 0);
		map_readonly_file(path, &r);
	} else {
		tu_fstate_check(path, &f, path);
		unlink(path);
		return; /* root on a file system without the immutable attribute */
	}
	TU_ASSERT_NO_LEAK(s);
	ck_assert_int_eq(r.write_errno, denied);
	ck_assert_int_eq(r.priv, 0);
	ck_assert_uint_eq(r.seen, tu_pattern(7));
	ck_assert_uint_eq(r.after_write, 0);
	ck_assert_int_eq(r.priv_fd, 0);
	ck_assert_int_eq(r.shared, -denied);
	ck_assert_int_eq(r.shared_ro, 0);
	ck_assert_int_eq(r.grow, -denied);
	tu_fstate_check(path, &f, path);
	chmod(path, 0600);
	unlink(path);
}
END_TEST

/* ---- map_new's option struct ---- */

/* Sizes of the struct (older and newer callers, too small): check_opts.c. */
START_TEST(err_map_new_opts)
{
	const size_t known = sizeof(struct mmapkit_opts);
	struct mmapkit_opts o;
	mmapkit_map *out;
	const char *path = tu_path("mode");

	FAILS(-EINVAL, "mmapkit_map_new", TU_NUMS("opts"), mmapkit_map_new(&out, NULL));
	ck_assert_int_eq(mmapkit_map_new(NULL, NULL), -EINVAL);
	/* mode without CREATE, and mode bits that are not a mode */
	o = (struct mmapkit_opts){.sz = known, .kind = MMAPKIT_FILE_SHARED, .path = path,
				  .mode = 0644, .len = 4096, .flags = MMAPKIT_GROW};
	FAILS(-EINVAL, "mmapkit_map_new", TU_NUMS("MMAPKIT_CREATE"), mmapkit_map_new(&out, &o));
	o.flags |= MMAPKIT_CREATE;
	o.mode = 010000;
	FAILS(-EINVAL, "mmapkit_map_new", TU_NUMS("10000"), mmapkit_map_new(&out, &o));
	ck_assert(!exists(path));
	/* unknown kinds, and an anonymous kind given a path or an offset */
	o = (struct mmapkit_opts){.sz = known, .kind = 0, .len = 4096};
	FAILS(-EINVAL, "mmapkit_map_new", TU_NUMS("0"), mmapkit_map_new(&out, &o));
	o.kind = 5;
	FAILS(-EINVAL, "mmapkit_map_new", TU_NUMS("5"), mmapkit_map_new(&out, &o));
	o.kind = -1;
	FAILS(-EINVAL, "mmapkit_map_new", TU_NUMS("-1"), mmapkit_map_new(&out, &o));
	o.kind = MMAPKIT_ANON_SHARED;
	o.path = path;
	FAILS(-EINVAL, "mmapkit_map_new", TU_NONUMS, mmapkit_map_new(&out, &o));
	o.path = NULL;
	o.offset = 4096;
	FAILS(-EINVAL, "mmapkit_map_new", TU_NONUMS, mmapkit_map_new(&out, &o));
	ck_assert(!exists(path));
}
END_TEST

/* ---- CREATE and GROW failing late: the file is removed, or shrunk back ---- */

START_TEST(err_create_removed)
{
	int c = _i ? TU_FS : TU_FP;
	const char *name = tu_ctors[c].name;
	const char *path = tu_path("created");
	char nodir[300];
	mmapkit_map *out;

	/* the range does not fit the new, empty file */
	FAILS(-ERANGE, name, TU_NUMS(path, "4096", "MMAPKIT_GROW"),
	      tu_make(c, &out, path, -1, 0, 4096, MMAPKIT_CREATE));
	ck_assert(!exists(path));
	FAILS(-ERANGE, name, TU_NUMS(path, "1"), tu_make(c, &out, path, -1, 1, 0, MMAPKIT_CREATE));
	ck_assert(!exists(path));
	/* mmap fails after the file was created and grown */
	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 1, ENOMEM);
	FAILS(-ENOMEM, name, TU_NUMS(path, "mmap"),
	      tu_make(c, &out, path, -1, 0, 4096, MMAPKIT_CREATE | MMAPKIT_GROW));
	ck_assert(mmapkit__fault_fired());
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_UNLINK), 1);
	ck_assert(!exists(path));
	/* and with mode from map_new */
	mmapkit__fault_arm(MMAPKIT__SYS_MLOCK, 1, EAGAIN);
	FAILS(-EAGAIN, "mmapkit_map_new", TU_NUMS("mlock", "4096"),
	      mmapkit_map_new(&out, &(struct mmapkit_opts){
					    .sz = sizeof(struct mmapkit_opts),
					    .kind = tu_ctors[c].kind, .path = path, .mode = 0640,
					    .len = 100,
					    .flags = MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_LOCK}));
	ck_assert(!exists(path));
	mmapkit__fault_reset();
	/* a directory that does not exist */
	snprintf(nodir, sizeof(nodir), "%s/none/file", tu_dir());
	FAILS(-ENOENT, name, TU_NUMS(nodir), tu_make(c, &out, nodir, -1, 0, 0, MMAPKIT_CREATE));
}
END_TEST

START_TEST(err_grow_undone)
{
	static const int cs[] = {TU_FP, TU_FS, TU_FDP, TU_FDS};
	int c = cs[_i];
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(c, page + 3);

	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 1, ENOMEM);
	FAILS_ON(c, &t, 0, 3 * page, MMAPKIT_GROW, -ENOMEM, TU_NUMS("mmap"));
	mmapkit__fault_arm(MMAPKIT__SYS_MLOCK, 1, ENOMEM);
	FAILS_ON(c, &t, page, 3 * page, MMAPKIT_GROW | MMAPKIT_LOCK, -ENOMEM, TU_NUMS("mlock"));
	mmapkit__fault_arm(MMAPKIT__SYS_MADVISE, 1, EAGAIN);
	FAILS_ON(c, &t, 5 * page, 1, MMAPKIT_GROW | MMAPKIT_GUARD | MMAPKIT_DONTDUMP, -EAGAIN,
		 TU_NUMS("madvise"));
	mmapkit__fault_reset();
	tu_target_free(&t);
}
END_TEST

/* ---- every system call a constructor makes, failing in turn ---- */

struct sweep {
	int c;
	unsigned flags;
	uint64_t size; /* of the file before the call; 0 and CREATE: no file */
	uint64_t off;
	size_t len;
};

static const struct sweep sweeps[] = {
	{TU_AP, MMAPKIT_POPULATE | MMAPKIT_LOCK | MMAPKIT_THP | MMAPKIT_WIPEONFORK |
		       MMAPKIT_DONTDUMP | MMAPKIT_GUARD, 0, 0, 3 * 4096},
	{TU_AS, MMAPKIT_LOCK | MMAPKIT_THP | MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP | MMAPKIT_GUARD,
	 0, 0, 4096},
	{TU_FP, MMAPKIT_GROW | MMAPKIT_LOCK | MMAPKIT_THP | MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP |
		       MMAPKIT_GUARD, 4096, 100, 3 * 4096},
	{TU_FS, MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_LOCK | MMAPKIT_THP | MMAPKIT_DONTFORK |
		       MMAPKIT_DONTDUMP | MMAPKIT_GUARD, 0, 0, 2 * 4096},
	{TU_FS, MMAPKIT_CREATE | MMAPKIT_GROW, 4096, 4096, 4096},
	{TU_FP, MMAPKIT_RDONLY | MMAPKIT_POPULATE, 3 * 4096, 1, 0},
	{TU_FDP, MMAPKIT_GROW | MMAPKIT_LOCK | MMAPKIT_DONTDUMP | MMAPKIT_GUARD, 4096, 0, 8192},
	{TU_FDS, MMAPKIT_GROW | MMAPKIT_THP | MMAPKIT_GUARD, 100, 50, 8192},
	{TU_NEW_FS, MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_DONTDUMP, 0, 0, 4096},
	{TU_NEW_FDS, MMAPKIT_NORESERVE | MMAPKIT_LOCK, 8192, 0, 0},
};

static void sweep_target(const struct sweep *w, struct tu_target *t)
{
	*t = (struct tu_target){NULL, -1, w->size};
	if (!tu_ctor_is_file(w->c))
		return;
	if (w->size == 0 && (w->flags & MMAPKIT_CREATE)) {
		t->path = tu_path("sweep");
		return;
	}
	*t = tu_target_new(w->c, w->size);
}

static void sweep_one(const struct sweep *w, int sys, unsigned nth)
{
	struct tu_target t;
	struct tu_fstate f;
	struct tu_snap s;
	mmapkit_map *out = GARBAGE;
	char line[128];
	int r;

	sweep_target(w, &t);
	f = tu_fstate_take(t.path); /* CREATE: none, and none may be left behind */
	s = tu_snap();
	mmapkit__fault_arm(sys, nth, EIO);
	r = tu_make(w->c, &out, t.path, t.fd, w->off, w->len, w->flags);
	snprintf(line, sizeof(line), "%s flags 0x%x, %s #%u", tu_ctors[w->c].name, w->flags,
		 mmapkit__sys_name(sys), nth);
	ck_assert_msg(mmapkit__fault_fired(), "%s did not happen", line);
	ck_assert_msg(r == -EIO, "%s: %d (%s)", line, r, mmapkit_errmsg());
	ck_assert_msg(out == NULL, "%s: *out not cleared", line);
	ck_assert_msg(tu_count_fds() == s.fds && (tu_on_valgrind() || tu_count_maps() == s.maps),
		      "%s: leaked", line);
	tu_assert_errmsg(tu_ctors[w->c].name, TU_NUMS(strerror(EIO)), line);
	mmapkit__fault_reset();
	tu_fstate_check(t.path, &f, line);
	tu_target_free(&t);
}

/* Each call of a successful construction, made to fail in turn, leaves nothing behind. */
START_TEST(err_syscall_sweep)
{
	const struct sweep *w = &sweeps[_i];
	unsigned calls[MMAPKIT__SYS_COUNT];
	struct tu_target t;
	mmapkit_map *m = NULL;
	unsigned total;

	sweep_target(w, &t);
	mmapkit__fault_reset();
	ck_assert_msg(tu_make(w->c, &m, t.path, t.fd, w->off, w->len, w->flags) == 0, "%s",
		      mmapkit_errmsg());
	tu_fault_calls(calls);
	total = mmapkit__fault_total();
	mmapkit_unmap(m);
	if (t.path && (w->flags & MMAPKIT_CREATE) && !w->size)
		unlink(t.path);
	tu_target_free(&t);
	ck_assert_uint_ge(total, 2);
	TU_FOR_EACH_CALL(calls, sys, nth)
		if (sys != MMAPKIT__SYS_GETPID && sys != MMAPKIT__SYS_GETEUID) /* "always successful" */
			sweep_one(w, sys, nth);
}
END_TEST

/* ---- error text ---- */

START_TEST(err_strerror)
{
	static const int errs[] = {EINVAL, ERANGE, EOVERFLOW, EACCES, EISDIR, EBADF, ENODEV,
				   E2BIG, ENOMEM, EOPNOTSUPP, EPERM, EIO};

	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		ck_assert_str_eq(mmapkit_strerror(errs[i]), strerror(errs[i]));
		ck_assert_str_eq(mmapkit_strerror(-errs[i]), strerror(errs[i]));
	}
	/* unknown values, 0 and the extremes: some text, never NULL, never a crash */
	{
		static const int odd[] = {0, INT_MIN, INT_MAX, INT_MIN + 1, 4095, -4095, 99999,
					  -99999, 134, -134};

		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			const char *s = mmapkit_strerror(odd[i]);

			ck_assert_ptr_nonnull(s);
			ck_assert_uint_gt(strlen(s), 0);
		}
	}
	/* the text is static: a later call does not change an earlier result */
	{
		const char *a = mmapkit_strerror(EINVAL);

		mmapkit_strerror(99999);
		mmapkit_strerror(ERANGE);
		ck_assert_str_eq(a, strerror(EINVAL));
	}
}
END_TEST

static void *fail_in_thread(void *arg)
{
	mmapkit_map *m = NULL;

	(void)arg;
	if (mmapkit_anon_shared(&m, 0, 0) != -EINVAL)
		return (void *)1;
	return strstr(mmapkit_errmsg(), "mmapkit_anon_shared") ? NULL : (void *)2;
}

/* The message is the calling thread's: another thread's failure does not replace it. */
START_TEST(err_errmsg_thread_local)
{
	mmapkit_map *m = NULL;
	pthread_t th;
	void *ret = (void *)3;
	char before[256];

	ck_assert_int_eq(mmapkit_anon_private(&m, 4096, 0x8000), -EINVAL);
	snprintf(before, sizeof(before), "%s", mmapkit_errmsg());
	ck_assert_ptr_nonnull(strstr(before, "mmapkit_anon_private"));
	ck_assert_int_eq(pthread_create(&th, NULL, fail_in_thread, NULL), 0);
	ck_assert_int_eq(pthread_join(th, &ret), 0);
	ck_assert_ptr_null(ret);
	ck_assert_str_eq(mmapkit_errmsg(), before);
}
END_TEST

Suite *suite_errors(void)
{
	Suite *s = suite_create("errors");
	TCase *tc = tu_tcase(s, "arguments", 0);

	tcase_add_loop_test(tc, err_null_out, 0, TU_NCTORS);
	tcase_add_test(tc, err_null_path);
	tcase_add_loop_test(tc, err_unknown_flags, 0, TU_NCTORS);
	tcase_add_loop_test(tc, err_flags_kind, 0, TU_NCTORS);
	tcase_add_loop_test(tc, err_create_refused_early, 0, 2);
	tcase_add_loop_test(tc, err_anon_len0, 0, TU_LEN(tu_anon_ctors));
	tcase_add_loop_test(tc, err_overflow, 0, TU_NCTORS);
	tcase_add_test(tc, err_map_new_opts);
	tcase_add_test(tc, err_strerror);
	tcase_add_test(tc, err_errmsg_thread_local);

	tc = tu_tcase(s, "files", 30);
	tcase_add_loop_test(tc, err_range, 0, TU_LEN(tu_file_ctors));
	tcase_add_test(tc, err_directory);
	tcase_add_test(tc, err_fifo);
	tcase_add_test(tc, err_socket);
	tcase_add_test(tc, err_chardev);
	tcase_add_loop_test(tc, err_bad_fd, 0, TU_LEN(tu_fd_ctors));
	tcase_add_loop_test(tc, err_fd_access, 0, TU_LEN(tu_fd_ctors));
	tcase_add_test(tc, err_readonly_file);
	tcase_add_loop_test(tc, err_create_removed, 0, 2);
	tcase_add_loop_test(tc, err_grow_undone, 0, 4);

	tc = tu_tcase(s, "sweep", 60);
	tcase_add_loop_test(tc, err_syscall_sweep, 0, TU_LEN(sweeps));
	return s;
}
