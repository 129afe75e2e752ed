/* SPDX-License-Identifier: MIT */
/*
 * The contract's Cost section: each call makes exactly the system calls the
 * same work done carefully by hand makes.  Every expectation is written as
 * that hand-written sequence (the names of the library's call table, in
 * order: "open fstat fcntl mmap"); tests/cost_ops.c holds the main ones beside
 * the hand-written C they stand for, and tests/cost_kernel.c checks those at
 * the kernel boundary (ptrace) for the release library, against the
 * hand-written programs themselves.  Here the test build of the library
 * counts every call per thread: each check resets the counters, makes one
 * call, and compares every counter with the sequence's.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cost_ops.h"
#include "internal.h"
#include "testutil.h"

/* The counters now equal the system calls named in raw, and raw names nothing else. */
static void check_raw(int line, const char *what, const char *raw)
{
	unsigned named = 0, words = 0;

	for (int i = 0; i < MMAPKIT__SYS_COUNT; i++) {
		unsigned want = cost_raw_count(raw, mmapkit__sys_name(i));

		named += want;
		ck_assert_msg(mmapkit__fault_calls(i) == want,
			      "line %d: %s made %u %s calls, want %u (hand-written: \"%s\"; "
			      "%u calls in all)",
			      line, what, mmapkit__fault_calls(i), mmapkit__sys_name(i), want, raw,
			      mmapkit__fault_total());
	}
	for (const char *w = raw; *w; w += strspn(w, " ")) {
		w += strcspn(w, " ");
		words++;
	}
	ck_assert_msg(named == words, "line %d: \"%s\" names a call the table lacks", line, raw);
}

#define CHECK_RAW(what, raw) check_raw(__LINE__, (what), (raw))

/* Runs expr with fresh counters: it succeeds, making exactly the calls of raw. */
#define EXPECT_RAW(raw, expr)                                                               \
	do {                                                                                \
		mmapkit__fault_reset();                                                     \
		ck_assert_int_eq((expr), 0);                                                \
		CHECK_RAW(#expr, (raw));                                                    \
	} while (0)

static void unmap_costs(mmapkit_map *m, const char *raw, int line)
{
	mmapkit__fault_reset();
	mmapkit_unmap(m);
	check_raw(line, "mmapkit_unmap", raw);
}

#define UNMAP_COSTS(m, raw) unmap_costs((m), (raw), __LINE__)

/* ---- the table of tests/cost_ops.c ---- */

START_TEST(cost_table)
{
	const struct cost_op *op = &cost_ops[_i];
	struct cost_env e;
	int err;

	if (strstr(op->call, "ONFAULT") && tu_skip_lock_onfault("cost_table"))
		return;
	ck_assert_int_eq(cost_env_init(&e, tu_dir()), 0);
	ck_assert_msg(!op->setup || op->setup(&e) == 0, "%s: setup: %s", op->call,
		      mmapkit_errmsg());
	/* the library's own probe says which path it takes; the table follows it */
	cost_fixed_is_safe_set(mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST));
	cost_light_guards_set(mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL));
	mmapkit__fault_reset();
	err = op->lib(&e);
	ck_assert_msg(err == 0, "%s: %d (%s)", op->call, err, mmapkit_errmsg());
	CHECK_RAW(op->call, cost_raw(op));
	op->undo(&e);
	cost_env_free(&e);
}
END_TEST

/* ---- constructors ---- */

/*
 * What constructor c costs with no flags, by hand: by path, open (O_NONBLOCK:
 * a FIFO must not block), fstat (type and size), fcntl(F_SETFL) (the kept
 * descriptor blocks again), mmap; by descriptor, fcntl(F_DUPFD_CLOEXEC),
 * fstat, mmap; anonymous, mmap.
 */
static const char *base_raw(int c)
{
	if (tu_ctors[c].by_path)
		return "open fstat fcntl mmap";
	if (tu_ctors[c].by_fd)
		return "fcntl fstat mmap";
	return "mmap";
}

/*
 * Unmap by hand: munmap, and close the descriptor of a file kind; with
 * DONTFORK pages first a getpid (a fork() child lacks them: fork.c).
 */
static const char *unmap_raw(int c, unsigned flags)
{
	if (flags & MMAPKIT_DONTFORK)
		return tu_ctor_is_file(c) ? "getpid munmap close" : "getpid munmap";
	return tu_ctor_is_file(c) ? "munmap close" : "munmap";
}

/* Each flag and the call it adds by hand. */
static const struct {
	unsigned flag;
	const char *raw; /* "" for none */
	bool file;       /* file kinds only */
	bool ap;         /* anonymous private only */
} flag_costs[] = {
	{0, "", false, false},
	{MMAPKIT_RDONLY, "", false, false},               /* a PROT_READ mmap */
	{MMAPKIT_POPULATE, "", false, false},             /* MAP_POPULATE */
	{MMAPKIT_NORESERVE, "", false, false},            /* MAP_NORESERVE */
	{MMAPKIT_LOCK, "mlock", false, false},            /* mlock(p, len) */
	{MMAPKIT_THP, "madvise", false, false},           /* madvise(MADV_HUGEPAGE) */
	/* madvise(MADV_DONTFORK), and getpid: the pages belong to this process (fork.c) */
	{MMAPKIT_DONTFORK, "madvise getpid", false, false},
	{MMAPKIT_WIPEONFORK, "madvise", false, true},     /* madvise(MADV_WIPEONFORK) */
	{MMAPKIT_DONTDUMP, "madvise", false, false},      /* madvise(MADV_DONTDUMP) */
	{MMAPKIT_GUARD, "mmap", false, false},            /* reserve PROT_NONE, map the middle */
	{MMAPKIT_GROW, "ftruncate", true, false},         /* ftruncate(fd, off + len) */
	/* fallocate over the range's pages; with GROW it grows the file too: no ftruncate */
	{MMAPKIT_ALLOCATE, "fallocate", true, false},
};

#define NFLAGS (sizeof(flag_costs) / sizeof(flag_costs[0]))

static bool flag_applies(int c, size_t i)
{
	if (flag_costs[i].file && !tu_ctor_is_file(c))
		return false;
	if (flag_costs[i].ap && tu_ctors[c].kind != MMAPKIT_ANON_PRIVATE)
		return false;
	return true;
}

/* Constructs with flags and checks the cost; GROW gets a range one page past the end. */
static void ctor_costs(int c, unsigned flags, const char *raw)
{
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(c, 2 * page);
	size_t len = flags & MMAPKIT_GROW ? 3 * page : 2 * page;
	mmapkit_map *m = NULL;
	char what[96];
	int err;

	snprintf(what, sizeof(what), "%s flags 0x%x", tu_ctors[c].desc, flags);
	mmapkit__fault_reset();
	err = tu_make(c, &m, t.path, t.fd, 0, len, flags);
	ck_assert_msg(err == 0, "%s: %s", what, mmapkit_errmsg());
	check_raw(__LINE__, what, raw);
	mmapkit__fault_reset();
	mmapkit_unmap(m);
	check_raw(__LINE__, what, unmap_raw(c, flags));
	tu_target_free(&t);
}

/*
 * Every constructor alone, and with each flag: exactly the flag's one call
 * more.  GUARD here is guard mappings of their own (kernels before 6.13);
 * cost_table and check_guard.c count the light guards.
 */
START_TEST(cost_ctor_flags)
{
	char all[256], want[128];
	unsigned all_flags = 0;

	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	snprintf(all, sizeof(all), "%s", base_raw(_i));
	for (size_t i = 0; i < NFLAGS; i++) {
		unsigned flag = flag_costs[i].flag;

		if (!flag_applies(_i, i))
			continue;
		snprintf(want, sizeof(want), "%s %s", base_raw(_i), flag_costs[i].raw);
		ctor_costs(_i, flag, want);
		/* all of them at once, less the ones that conflict */
		if (flag == MMAPKIT_RDONLY || (flag == MMAPKIT_DONTFORK &&
					       tu_ctors[_i].kind == MMAPKIT_ANON_PRIVATE))
			continue;
		all_flags |= flag;
		snprintf(all + strlen(all), sizeof(all) - strlen(all), " %s", flag_costs[i].raw);
	}
	if ((all_flags & MMAPKIT_GROW) && (all_flags & MMAPKIT_ALLOCATE)) {
		char *w = strstr(all, " ftruncate");

		memmove(w, w + strlen(" ftruncate"), strlen(w + strlen(" ftruncate")) + 1);
	}
	ctor_costs(_i, all_flags, all);
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
}
END_TEST

/* CREATE: the open that finds no file, the exclusive one that creates it; no fstat, no fcntl. */
START_TEST(cost_create)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_path("create"), *old = tu_file(page);
	unsigned rw = _i ? 0 : MMAPKIT_RDONLY;
	mmapkit_map *m = NULL;

	EXPECT_RAW("open open ftruncate mmap",
		   mmapkit_file_shared(&m, path, 0, 2 * page, MMAPKIT_CREATE | MMAPKIT_GROW));
	UNMAP_COSTS(m, "munmap close");
	ck_assert_int_eq(unlink(path), 0);
	/* empty: nothing to map, and so nothing to unmap */
	EXPECT_RAW("open open", mmapkit_file_private(&m, path, 0, 0, MMAPKIT_CREATE | rw));
	ck_assert_uint_eq(mmapkit_len(m), 0);
	UNMAP_COSTS(m, "close");
	ck_assert_int_eq(unlink(path), 0);
	/* an existing file: as without CREATE */
	EXPECT_RAW("open fstat fcntl mmap",
		   mmapkit_file_private(&m, old, 0, 0, MMAPKIT_CREATE | rw));
	UNMAP_COSTS(m, "munmap close");
	unlink(old);
}
END_TEST

/*
 * GROW costs its ftruncate only when the file must grow; an empty range maps
 * nothing; a file of size 0 may be a pseudo-file with content: one pread of a
 * byte tells.
 */
START_TEST(cost_grow_and_empty)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(2 * page), *empty = tu_file(0);
	mmapkit_map *m = NULL;

	EXPECT_RAW("open fstat fcntl mmap", mmapkit_file_shared(&m, path, page, page, MMAPKIT_GROW));
	UNMAP_COSTS(m, "munmap close");
	EXPECT_RAW("open fstat pread fcntl", mmapkit_file_shared(&m, empty, 0, 0, 0));
	UNMAP_COSTS(m, "close");
	EXPECT_RAW("open fstat fcntl", mmapkit_file_private(&m, path, 2 * page, 0, 0));
	UNMAP_COSTS(m, "close");
	unlink(path);
	unlink(empty);
}
END_TEST

/*
 * ALLOCATE is one fallocate, which also grows the file where GROW must (no
 * ftruncate then); an empty range allocates nothing.  The copies cost nothing
 * once the first one has put the SIGBUS handler in place.
 */
START_TEST(cost_allocate)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(2 * page), *created = tu_path("alloc"), *empty = tu_file(0);
	unsigned char buf[64];
	mmapkit_map *m = NULL;

	EXPECT_RAW("open fstat fcntl fallocate mmap",
		   mmapkit_file_shared(&m, path, 1, page, MMAPKIT_ALLOCATE));
	UNMAP_COSTS(m, "munmap close");
	EXPECT_RAW("open fstat fcntl fallocate mmap",
		   mmapkit_file_shared(&m, path, page, 3 * page, MMAPKIT_GROW | MMAPKIT_ALLOCATE));
	ck_assert_uint_eq(tu_file_size(path), 4 * page);
	/* the first copy of the process reads and replaces the SIGBUS disposition */
	mmapkit__sigbus_forget();
	EXPECT_RAW("sigaction sigaction", mmapkit_write(m, 0, buf, sizeof(buf)));
	EXPECT_RAW("", mmapkit_read(m, 5, buf, sizeof(buf)));
	EXPECT_RAW("", mmapkit_write(m, 0, buf, sizeof(buf)));
	UNMAP_COSTS(m, "munmap close");
	EXPECT_RAW("open open fallocate mmap",
		   mmapkit_file_private(&m, created, 0, page,
					MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_ALLOCATE));
	UNMAP_COSTS(m, "munmap close");
	EXPECT_RAW("open fstat pread fcntl", mmapkit_file_shared(&m, empty, 0, 0, MMAPKIT_ALLOCATE));
	UNMAP_COSTS(m, "close");
	unlink(path);
	unlink(created);
	unlink(empty);
}
END_TEST

/* HUGETLB is one mmap (after the huge page size was learnt once), whether or not it works. */
START_TEST(cost_hugetlb)
{
	mmapkit_map *m = NULL;
	int err;

	mmapkit_unmap(mmapkit_anon_private(&m, 1, MMAPKIT_HUGETLB) ? NULL : m);
	mmapkit__fault_reset();
	err = mmapkit_anon_shared(&m, 1, MMAPKIT_HUGETLB);
	CHECK_RAW("mmapkit_anon_shared(HUGETLB)", "mmap");
	if (!err)
		UNMAP_COSTS(m, "munmap");
	else
		ck_assert_int_eq(err, -ENOMEM);
}
END_TEST

/* Refusals: an argument error costs nothing; a range past the end open, fstat, close. */
START_TEST(cost_refused)
{
	const char *path = tu_file(100);
	mmapkit_map *m = NULL;

	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_anon_private(&m, 0, 0), -EINVAL);
	ck_assert_int_eq(mmapkit_anon_shared(&m, 10, 0x2000), -EINVAL);
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, MMAPKIT_HUGETLB), -EINVAL);
	ck_assert_int_eq(mmapkit_file_shared(&m, path, UINT64_MAX, 1, 0), -EOVERFLOW);
	ck_assert_int_eq(mmapkit_fd_private(&m, -1, 0, 1, 0), -EBADF);
	CHECK_RAW("argument errors", "");
	/* refused before the descriptor is made blocking again: no fcntl */
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 101, 0), -ERANGE);
	CHECK_RAW("range past end of file", "open fstat close");
	/* a failed mmap is not undone: nothing was mapped (no munmap of NULL) */
	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 1, ENOMEM);
	ck_assert_int_eq(mmapkit_anon_private(&m, 4096, MMAPKIT_GUARD), -ENOMEM);
	CHECK_RAW("failed GUARD reservation", "mmap");
	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 1, ENOMEM);
	ck_assert_int_eq(mmapkit_anon_shared(&m, 4096, 0), -ENOMEM);
	CHECK_RAW("failed mmap", "mmap");
	/* a failed GUARD mapping releases its reservation with one munmap */
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 2, ENOMEM);
	ck_assert_int_eq(mmapkit_anon_shared(&m, 4096, MMAPKIT_GUARD), -ENOMEM);
	CHECK_RAW("failed GUARD mapping", "mmap mmap munmap");
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
	/* light guards: a failed guard madvise releases the one mapping with one munmap */
	if (mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL)) {
		mmapkit__fault_arm(MMAPKIT__SYS_MADVISE, 2, EINVAL);
		ck_assert_int_eq(mmapkit_anon_private(&m, 4096, MMAPKIT_GUARD), -EINVAL);
		CHECK_RAW("failed light guard", "mmap madvise madvise munmap");
	}
	mmapkit__fault_reset();
	unlink(path);
}
END_TEST

/* ---- range operations: each is its one system call; an empty range none ---- */

START_TEST(cost_sync)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(4 * page), *created = tu_path("sync");
	mmapkit_map *m = NULL;

	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, 0), 0);
	memset(mmapkit_ptr(m), 1, 4 * page);
	EXPECT_RAW("", mmapkit_sync(m, 0, 0, MMAPKIT_SYNC_FULL));
	EXPECT_RAW("msync", mmapkit_sync(m, 0, MMAPKIT_TO_END, 0));
	EXPECT_RAW("msync", mmapkit_sync(m, 10, 2 * page, 0));
	EXPECT_RAW("sync_file_range", mmapkit_sync(m, 0, 1, MMAPKIT_SYNC_ASYNC));
	EXPECT_RAW("msync", mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_INVALIDATE));
	EXPECT_RAW("msync sync_file_range",
		   mmapkit_sync(m, 0, 1, MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE));
	EXPECT_RAW("fsync", mmapkit_sync(m, page, page, MMAPKIT_SYNC_FULL));
	EXPECT_RAW("msync fsync",
		   mmapkit_sync(m, page, page, MMAPKIT_SYNC_FULL | MMAPKIT_SYNC_INVALIDATE));
	mmapkit_unmap(m);
	/*
	 * a file the handle created: its directory entry too, once (readlink of the
	 * descriptor to find where the file is now; open, fsync, close)
	 */
	ck_assert_int_eq(mmapkit_file_shared(&m, created, 0, page, MMAPKIT_CREATE | MMAPKIT_GROW),
			 0);
	EXPECT_RAW("fsync readlink open fsync close",
		   mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL));
	EXPECT_RAW("fsync", mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL));
	mmapkit_unmap(m);
	unlink(created);
	unlink(path);
}
END_TEST

START_TEST(cost_advise)
{
	static const int advs[] = {MMAPKIT_ADV_RANDOM,	   MMAPKIT_ADV_SEQUENTIAL,
				   MMAPKIT_ADV_NORMAL,	   MMAPKIT_ADV_WILLNEED,
				   MMAPKIT_ADV_DONTNEED,   MMAPKIT_ADV_FREE,
				   MMAPKIT_ADV_HUGEPAGE,   MMAPKIT_ADV_NOHUGEPAGE,
				   MMAPKIT_ADV_DONTDUMP,   MMAPKIT_ADV_DODUMP,
				   MMAPKIT_ADV_DONTFORK,   MMAPKIT_ADV_DOFORK,
				   MMAPKIT_ADV_WIPEONFORK, MMAPKIT_ADV_KEEPONFORK};
	size_t page = mmapkit_page_size();
	mmapkit_map *m = NULL;
	bool dontfork = false; /* the handle has DONTFORK pages: each call adds a getpid */

	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * page, 0), 0);
	for (size_t i = 0; i < sizeof(advs) / sizeof(advs[0]); i++) {
		/* DONTFORK records the process the pages belong to: one getpid */
		bool pid = advs[i] == MMAPKIT_ADV_DONTFORK || dontfork;

		EXPECT_RAW("", mmapkit_advise(m, page, 0, advs[i]));
		EXPECT_RAW(pid ? "madvise getpid" : "madvise",
			   mmapkit_advise(m, 0, MMAPKIT_TO_END, advs[i]));
		dontfork = advs[i] == MMAPKIT_ADV_DONTFORK;
		pid = advs[i] == MMAPKIT_ADV_DONTFORK || dontfork;
		EXPECT_RAW(pid ? "madvise getpid" : "madvise",
			   mmapkit_advise(m, page, 2 * page, advs[i]));
	}
	/* one call over pages whose recorded attributes differ */
	EXPECT_RAW("madvise", mmapkit_advise(m, page, page, MMAPKIT_ADV_DONTDUMP));
	EXPECT_RAW("madvise", mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DODUMP));
	mmapkit_unmap(m);
}
END_TEST

START_TEST(cost_protect_lock)
{
	size_t page = mmapkit_page_size();
	mmapkit_map *m = NULL;

	ck_assert_int_eq(mmapkit_anon_shared(&m, 4 * page, 0), 0);
	EXPECT_RAW("mprotect", mmapkit_protect(m, page, 1, MMAPKIT_PROT_READ));
	EXPECT_RAW("mprotect",
		   mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE));
	EXPECT_RAW("mprotect", mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_NONE));
	EXPECT_RAW("mprotect",
		   mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE));
	EXPECT_RAW("", mmapkit_protect(m, 4 * page, 0, MMAPKIT_PROT_NONE));
	EXPECT_RAW("mlock", mmapkit_lock(m, 0, 2 * page, 0));
	if (!tu_skip_lock_onfault("cost_protect_lock"))
		EXPECT_RAW("mlock2", mmapkit_lock(m, 2 * page, MMAPKIT_TO_END, MMAPKIT_LOCK_ONFAULT));
	EXPECT_RAW("mlock", mmapkit_lock(m, 0, MMAPKIT_TO_END, 0));
	EXPECT_RAW("", mmapkit_lock(m, 0, 0, 0));
	EXPECT_RAW("munlock", mmapkit_unlock(m, 10, 10));
	EXPECT_RAW("munlock", mmapkit_unlock(m, 0, MMAPKIT_TO_END));
	EXPECT_RAW("", mmapkit_unlock(m, 0, 0));
	mmapkit_unmap(m);
}
END_TEST

START_TEST(cost_punch_revert)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(4 * page);
	mmapkit_map *m = NULL;

	/* anonymous private: madvise(MADV_DONTNEED); edges within one page cost nothing */
	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * page, 0), 0);
	memset(mmapkit_ptr(m), 1, 4 * page);
	EXPECT_RAW("madvise", mmapkit_punch(m, page, 2 * page));
	EXPECT_RAW("madvise", mmapkit_punch(m, 1, 3 * page));
	EXPECT_RAW("", mmapkit_punch(m, 10, 20));
	EXPECT_RAW("", mmapkit_punch(m, 10, 0));
	EXPECT_RAW("madvise", mmapkit_revert(m, 0, MMAPKIT_TO_END));
	EXPECT_RAW("", mmapkit_revert(m, 0, 0));
	mmapkit_unmap(m);

	/* anonymous shared: madvise(MADV_REMOVE) */
	ck_assert_int_eq(mmapkit_anon_shared(&m, 4 * page, 0), 0);
	memset(mmapkit_ptr(m), 1, 4 * page);
	EXPECT_RAW("madvise", mmapkit_punch(m, page, 2 * page));
	mmapkit_unmap(m);

	/* file shared: fallocate(FALLOC_FL_PUNCH_HOLE), aligned or not */
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, 0), 0);
	EXPECT_RAW("fallocate", mmapkit_punch(m, page, page));
	EXPECT_RAW("fallocate", mmapkit_punch(m, 5, 3));
	mmapkit_unmap(m);

	/*
	 * file private without attributes: the one mmap(MAP_FIXED) done by hand;
	 * where punch writes in place (mmapkit_punch(3) BUGS), memset and no call
	 */
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	EXPECT_RAW(tu_punch_in_place() ? "" : "mmap", mmapkit_punch(m, page, 2 * page));
	mmapkit_unmap(m);

	/* revert of a file private range never punched: madvise(MADV_DONTNEED) */
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	memset(mmapkit_ptr(m), 0, 4 * page);
	EXPECT_RAW("madvise", mmapkit_revert(m, page, 2 * page));
	EXPECT_RAW("madvise", mmapkit_revert(m, 0, MMAPKIT_TO_END));
	mmapkit_unmap(m);
	unlink(path);
}
END_TEST

/*
 * A handle with DONTFORK pages costs one getpid per call (is this the process
 * that has them?); in a fork() child, a refused call costs just that, and unmap
 * releases what the child has: here the two guards, not the pages between
 * (light guards share the pages' VMA and its DONTFORK: the child has nothing).
 */
static void child_dontfork_costs(void *arg)
{
	mmapkit_map *const *ms = arg;
	unsigned guards = tu_light_guards_expected(MMAPKIT_ANON_PRIVATE, 0,
						   MMAPKIT_DONTFORK | MMAPKIT_GUARD) ? 0 : 2;

	mmapkit__fault_reset();
	TU_CHILD_OK(mmapkit_protect(ms[0], 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ) == -EFAULT);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_GETPID) == 1 && mmapkit__fault_total() == 1);
	mmapkit__fault_reset();
	mmapkit_unmap(ms[0]);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_GETPID) == 1);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_MUNMAP) == guards &&
		    mmapkit__fault_total() == 1 + guards);
	/* pages 0 and 2-3 of four, page 1 DONTFORK: two munmaps */
	mmapkit__fault_reset();
	mmapkit_unmap(ms[1]);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_GETPID) == 1);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_MUNMAP) == 2 && mmapkit__fault_total() == 3);
	/* no DONTFORK page: no getpid, one munmap, as in the parent */
	mmapkit__fault_reset();
	mmapkit_unmap(ms[2]);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_MUNMAP) == 1 && mmapkit__fault_total() == 1);
}

START_TEST(cost_dontfork)
{
	size_t page = mmapkit_page_size();
	mmapkit_map *ms[3] = {NULL, NULL, NULL};
	int st;

	ck_assert_int_eq(mmapkit_anon_private(&ms[0], page, MMAPKIT_DONTFORK | MMAPKIT_GUARD), 0);
	ck_assert_int_eq(mmapkit_anon_shared(&ms[1], 4 * page, 0), 0);
	ck_assert_int_eq(mmapkit_anon_private(&ms[2], page, 0), 0);
	EXPECT_RAW("madvise getpid", mmapkit_advise(ms[1], page, page, MMAPKIT_ADV_DONTFORK));
	EXPECT_RAW("getpid mprotect", mmapkit_protect(ms[1], 0, 1, MMAPKIT_PROT_READ));
	EXPECT_RAW("mprotect", mmapkit_protect(ms[2], 0, 1, MMAPKIT_PROT_READ));
	st = tu_child(child_dontfork_costs, ms);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
	UNMAP_COSTS(ms[0], "getpid munmap");
	UNMAP_COSTS(ms[1], "getpid munmap");
	UNMAP_COSTS(ms[2], "munmap");
}
END_TEST

/*
 * Punch and revert of file private pages by kernel (lib/replace.c): page 2
 * carries MADV_DONTDUMP, so whole pages 1..2 are two stretches of different
 * attributes.  The raw sequence each count stands for, base = the mapping:
 *   6.17 on (moves several VMAs at once):
 *     q = mmap(NULL, 2p, RW, MAP_PRIVATE|MAP_ANONYMOUS); madvise(q + p, p, MADV_DONTDUMP);
 *     mremap(q, 2p, 2p, MREMAP_MAYMOVE|MREMAP_FIXED, base + p)
 *   checks first, one VMA per move (the 6.12 model): the same, with
 *     mremap(q, p, p, ..., base + p); mremap(q + p, p, p, ..., base + 2p)
 *   a failing move may unmap its destination (6.1): memset(base + p, 0, 2p), no call
 * Revert of those pages: the same with mmap(NULL, 2p, RW, MAP_PRIVATE, fd, p) where
 * they were replaced, else madvise(base + p, 2p, MADV_DONTNEED).  Without
 * attributes the punch is mmap(base + p, 2p, RW, MAP_PRIVATE|MAP_ANONYMOUS|MAP_FIXED),
 * or the memset.
 */
static const struct {
	const char *name;
	unsigned major, minor;
	const char *punch, *revert; /* with attributes */
	const char *plain;          /* punch without attributes */
} cost_kernels[] = {
	{"6.1", 6, 1, "", "madvise", ""},
	{"6.12", 6, 12, "mmap madvise mremap mremap", "mmap madvise mremap mremap", "mmap"},
	{"6.17", 6, 17, "mmap madvise mremap", "mmap madvise mremap", "mmap"},
};

START_TEST(cost_file_private_by_kernel)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(4 * page);
	mmapkit_map *m = NULL;

	/* the test build makes a kernel behave like an older one, not like a newer one */
	if ((cost_kernels[_i].minor >= 12 && !mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST)) ||
	    (cost_kernels[_i].minor >= 17 && !mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA))) {
		printf("cost: the %s model needs a newer kernel than this one: skipped\n",
		       cost_kernels[_i].name);
		return;
	}
	mmapkit__kernel_pretend(cost_kernels[_i].major, cost_kernels[_i].minor);
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	ck_assert_int_eq(mmapkit_advise(m, 2 * page, page, MMAPKIT_ADV_DONTDUMP), 0);
	EXPECT_RAW(cost_kernels[_i].punch, mmapkit_punch(m, page, 2 * page));
	EXPECT_RAW(cost_kernels[_i].revert, mmapkit_revert(m, page, 2 * page));
	mmapkit_unmap(m);
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	EXPECT_RAW(cost_kernels[_i].plain, mmapkit_punch(m, page, 2 * page));
	mmapkit_unmap(m);
	mmapkit__kernel_pretend(0, 0);
	unlink(path);
}
END_TEST

static void cost_forget_pretence(void)
{
	mmapkit__kernel_pretend(0, 0);
}

Suite *suite_cost(void)
{
	Suite *s = suite_create("cost");
	TCase *tc = tu_tcase(s, "constructors", 30);

	tcase_add_loop_test(tc, cost_ctor_flags, 0, TU_NCTORS);
	tcase_add_loop_test(tc, cost_create, 0, 2);
	tcase_add_test(tc, cost_grow_and_empty);
	tcase_add_test(tc, cost_allocate);
	tcase_add_test(tc, cost_hugetlb);
	tcase_add_test(tc, cost_refused);

	tc = tu_tcase(s, "table", 0);
	tcase_add_loop_test(tc, cost_table, 0, (int)cost_nops);

	tc = tu_tcase(s, "ranges", 0);
	tcase_add_test(tc, cost_sync);
	tcase_add_test(tc, cost_advise);
	tcase_add_test(tc, cost_protect_lock);
	tcase_add_test(tc, cost_punch_revert);
	tcase_add_test(tc, cost_dontfork);
	tc = tu_tcase(s, "by kernel", 0);
	tcase_add_checked_fixture(tc, NULL, cost_forget_pretence);
	tcase_add_loop_test(tc, cost_file_private_by_kernel, 0, (int)TU_LEN(cost_kernels));
	return s;
}
