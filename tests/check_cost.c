/* SPDX-License-Identifier: MIT */
/*
 * The contract's Cost section: each call makes exactly the system calls the
 * same work done well by hand would make.  The test build of the library
 * counts every call per thread; each check resets the counters, makes one
 * call, and compares every counter with the expected one.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

/* The expected count of each system call; the ones not named are 0. */
struct cost {
	unsigned n[MMAPKIT__SYS_COUNT];
};

static void check_cost(int line, const char *what, const struct cost *want)
{
	for (int i = 0; i < MMAPKIT__SYS_COUNT; i++)
		ck_assert_msg(mmapkit__fault_calls(i) == want->n[i],
			      "line %d: %s made %u %s calls, want %u (%u calls in all)", line, what,
			      mmapkit__fault_calls(i), mmapkit__sys_name(i), want->n[i],
			      mmapkit__fault_total());
}

#define COST(...) (&(struct cost){.n = {__VA_ARGS__}})
#define NOTHING COST(0)
#define CHECK_COST(what, want) check_cost(__LINE__, (what), (want))

/* Runs expr with fresh counters and checks what it cost. */
#define EXPECT_COST(want, expr)                                                             \
	do {                                                                                \
		mmapkit__fault_reset();                                                     \
		ck_assert_int_eq((expr), 0);                                                \
		CHECK_COST(#expr, (want));                                                  \
	} while (0)

static void unmap_costs(mmapkit_map *m, const struct cost *want, int line)
{
	mmapkit__fault_reset();
	mmapkit_unmap(m);
	check_cost(line, "mmapkit_unmap", want);
}

#define UNMAP_COSTS(m, want) unmap_costs((m), (want), __LINE__)

/* ---- constructors ---- */

/* What constructor c costs with no flags: the calls named in the contract. */
static struct cost base_cost(int c)
{
	struct cost k = {{0}};

	k.n[MMAPKIT__SYS_MMAP] = 1;
	if (tu_ctors[c].by_path) {
		/* open(O_NONBLOCK), fstat, fcntl(F_SETFL) clearing O_NONBLOCK */
		k.n[MMAPKIT__SYS_OPEN] = 1;
		k.n[MMAPKIT__SYS_FSTAT] = 1;
		k.n[MMAPKIT__SYS_FCNTL] = 1;
	} else if (tu_ctors[c].by_fd) {
		k.n[MMAPKIT__SYS_FCNTL] = 1;
		k.n[MMAPKIT__SYS_FSTAT] = 1;
	}
	return k;
}

/* What unmap costs: one munmap, and a close for the descriptor of a file kind. */
static struct cost unmap_cost(int c)
{
	struct cost k = {{0}};

	k.n[MMAPKIT__SYS_MUNMAP] = 1;
	k.n[MMAPKIT__SYS_CLOSE] = tu_ctor_is_file(c);
	return k;
}

/* Each flag and the calls it adds. */
static const struct {
	unsigned flag;
	int sys;     /* -1: none */
	bool file;   /* file kinds only */
	bool ap;     /* anonymous private only */
} flag_costs[] = {
	{0, -1, false, false},
	{MMAPKIT_RDONLY, -1, false, false},
	{MMAPKIT_POPULATE, -1, false, false},
	{MMAPKIT_NORESERVE, -1, false, false},
	{MMAPKIT_LOCK, MMAPKIT__SYS_MLOCK, false, false},
	{MMAPKIT_THP, MMAPKIT__SYS_MADVISE, false, false},
	{MMAPKIT_DONTFORK, MMAPKIT__SYS_MADVISE, false, false},
	{MMAPKIT_WIPEONFORK, MMAPKIT__SYS_MADVISE, false, true},
	{MMAPKIT_DONTDUMP, MMAPKIT__SYS_MADVISE, false, false},
	{MMAPKIT_GUARD, MMAPKIT__SYS_MMAP, false, false},
	{MMAPKIT_GROW, MMAPKIT__SYS_FTRUNCATE, true, false},
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
static void ctor_costs(int c, unsigned flags, const struct cost *want_ctor,
		       const struct cost *want_unmap)
{
	struct cost ctor = *want_ctor, unmap = *want_unmap;
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(c, 2 * page);
	size_t len = flags & MMAPKIT_GROW ? 3 * page : 2 * page;
	mmapkit_map *m = NULL;
	char what[96];
	int err;

	/*
	 * DONTFORK pages record the process they belong to, so that a fork()
	 * child knows it lacks them (fork.c): one getpid, by hand too, when they
	 * are made and when they are unmapped.
	 */
	if (flags & MMAPKIT_DONTFORK) {
		ctor.n[MMAPKIT__SYS_GETPID]++;
		unmap.n[MMAPKIT__SYS_GETPID]++;
	}
	snprintf(what, sizeof(what), "%s flags 0x%x", tu_ctors[c].desc, flags);
	mmapkit__fault_reset();
	err = tu_make(c, &m, t.path, t.fd, 0, len, flags);
	ck_assert_msg(err == 0, "%s: %s", what, mmapkit_errmsg());
	check_cost(__LINE__, what, &ctor);
	mmapkit__fault_reset();
	mmapkit_unmap(m);
	check_cost(__LINE__, what, &unmap);
	tu_target_free(&t);
}

/* Every constructor alone, and with each flag: exactly the flag's one call more. */
START_TEST(cost_ctor_flags)
{
	struct cost all = base_cost(_i), unmap = unmap_cost(_i);
	unsigned all_flags = 0;

	for (size_t i = 0; i < NFLAGS; i++) {
		struct cost want = base_cost(_i);
		unsigned flag = flag_costs[i].flag;

		if (!flag_applies(_i, i))
			continue;
		if (flag_costs[i].sys >= 0)
			want.n[flag_costs[i].sys]++;
		ctor_costs(_i, flag, &want, &unmap);
		/* all of them at once, less the ones that conflict */
		if (flag == MMAPKIT_RDONLY || (flag == MMAPKIT_DONTFORK &&
					       tu_ctors[_i].kind == MMAPKIT_ANON_PRIVATE))
			continue;
		all_flags |= flag;
		if (flag_costs[i].sys >= 0)
			all.n[flag_costs[i].sys]++;
	}
	ctor_costs(_i, all_flags, &all, &unmap);
}
END_TEST

/* The contract's sentences, spelled out. */
START_TEST(cost_contract)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(page);
	int fd = open(path, O_RDWR | O_CLOEXEC);
	mmapkit_map *m = NULL;

	ck_assert_int_ge(fd, 0);
	EXPECT_COST(COST([MMAPKIT__SYS_MMAP] = 1), mmapkit_anon_private(&m, page, 0));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1));
	EXPECT_COST(COST([MMAPKIT__SYS_MMAP] = 1), mmapkit_anon_shared(&m, 10 * page, 0));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1));
	/* by path: open(O_NONBLOCK), fstat, fcntl(F_SETFL) clearing O_NONBLOCK, mmap */
	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 1, [MMAPKIT__SYS_FSTAT] = 1,
			 [MMAPKIT__SYS_FCNTL] = 1, [MMAPKIT__SYS_MMAP] = 1),
		    mmapkit_file_shared(&m, path, 0, 0, 0));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_CLOSE] = 1));
	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 1, [MMAPKIT__SYS_FSTAT] = 1,
			 [MMAPKIT__SYS_FCNTL] = 1, [MMAPKIT__SYS_MMAP] = 1),
		    mmapkit_file_private(&m, path, 1, 10, MMAPKIT_RDONLY));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_CLOSE] = 1));
	EXPECT_COST(COST([MMAPKIT__SYS_FCNTL] = 1, [MMAPKIT__SYS_FSTAT] = 1,
			 [MMAPKIT__SYS_MMAP] = 1),
		    mmapkit_fd_private(&m, fd, 0, 0, 0));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_CLOSE] = 1));
	/* GUARD: one more mmap to reserve, and still one munmap for all of it */
	EXPECT_COST(COST([MMAPKIT__SYS_MMAP] = 2), mmapkit_anon_private(&m, page, MMAPKIT_GUARD));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1));
	mmapkit_unmap(NULL);
	close(fd);
	unlink(path);
}
END_TEST

/*
 * CREATE: the open that finds no file, the one that creates it, and no fstat
 * of it; the fcntl(F_SETFL) that clears O_NONBLOCK as for every path.
 */
START_TEST(cost_create)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_path("create"), *old = tu_file(page);
	unsigned rw = _i ? 0 : MMAPKIT_RDONLY;
	mmapkit_map *m = NULL;

	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 2, [MMAPKIT__SYS_FCNTL] = 1,
			 [MMAPKIT__SYS_FTRUNCATE] = 1, [MMAPKIT__SYS_MMAP] = 1),
		    mmapkit_file_shared(&m, path, 0, 2 * page, MMAPKIT_CREATE | MMAPKIT_GROW));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_CLOSE] = 1));
	ck_assert_int_eq(unlink(path), 0);
	/* empty: nothing to map, and so nothing to unmap */
	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 2, [MMAPKIT__SYS_FCNTL] = 1),
		    mmapkit_file_private(&m, path, 0, 0, MMAPKIT_CREATE | rw));
	ck_assert_uint_eq(mmapkit_len(m), 0);
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_CLOSE] = 1));
	ck_assert_int_eq(unlink(path), 0);
	/* an existing file: as without CREATE */
	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 1, [MMAPKIT__SYS_FSTAT] = 1,
			 [MMAPKIT__SYS_FCNTL] = 1, [MMAPKIT__SYS_MMAP] = 1),
		    mmapkit_file_private(&m, old, 0, 0, MMAPKIT_CREATE | rw));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_CLOSE] = 1));
	unlink(old);
}
END_TEST

/*
 * GROW costs its ftruncate only when the file must grow; an empty range maps
 * nothing.  A file of size 0 costs one pread of one byte more: a pseudo-file
 * (/proc, /sys) reports size 0 but has content, an empty file reads nothing.
 */
START_TEST(cost_grow_and_empty)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(2 * page), *empty = tu_file(0);
	mmapkit_map *m = NULL;

	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 1, [MMAPKIT__SYS_FSTAT] = 1,
			 [MMAPKIT__SYS_FCNTL] = 1, [MMAPKIT__SYS_MMAP] = 1),
		    mmapkit_file_shared(&m, path, page, page, MMAPKIT_GROW));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_CLOSE] = 1));
	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 1, [MMAPKIT__SYS_FSTAT] = 1,
			 [MMAPKIT__SYS_FCNTL] = 1, [MMAPKIT__SYS_PREAD] = 1),
		    mmapkit_file_shared(&m, empty, 0, 0, 0));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_CLOSE] = 1));
	EXPECT_COST(COST([MMAPKIT__SYS_OPEN] = 1, [MMAPKIT__SYS_FSTAT] = 1,
			 [MMAPKIT__SYS_FCNTL] = 1),
		    mmapkit_file_private(&m, path, 2 * page, 0, 0));
	UNMAP_COSTS(m, COST([MMAPKIT__SYS_CLOSE] = 1));
	unlink(path);
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
	CHECK_COST("mmapkit_anon_shared(HUGETLB)", COST([MMAPKIT__SYS_MMAP] = 1));
	if (!err)
		UNMAP_COSTS(m, COST([MMAPKIT__SYS_MUNMAP] = 1));
	else
		ck_assert_int_eq(err, -ENOMEM);
}
END_TEST

/*
 * Refusals: an argument error costs nothing; a range past the end costs open,
 * fstat, the fcntl clearing O_NONBLOCK, and close.
 */
START_TEST(cost_refused)
{
	const char *path = tu_file(100);
	mmapkit_map *m = NULL;

	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_anon_private(&m, 0, 0), -EINVAL);
	ck_assert_int_eq(mmapkit_anon_shared(&m, 10, 0x1000), -EINVAL);
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, MMAPKIT_HUGETLB), -EINVAL);
	ck_assert_int_eq(mmapkit_file_shared(&m, path, UINT64_MAX, 1, 0), -EOVERFLOW);
	ck_assert_int_eq(mmapkit_fd_private(&m, -1, 0, 1, 0), -EBADF);
	CHECK_COST("argument errors", NOTHING);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 101, 0), -ERANGE);
	CHECK_COST("range past end of file", COST([MMAPKIT__SYS_OPEN] = 1, [MMAPKIT__SYS_FSTAT] = 1,
						  [MMAPKIT__SYS_FCNTL] = 1, [MMAPKIT__SYS_CLOSE] = 1));
	/* a failed mmap is not undone: nothing was mapped (no munmap of NULL) */
	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 1, ENOMEM);
	ck_assert_int_eq(mmapkit_anon_private(&m, 4096, MMAPKIT_GUARD), -ENOMEM);
	CHECK_COST("failed GUARD reservation", COST([MMAPKIT__SYS_MMAP] = 1));
	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 1, ENOMEM);
	ck_assert_int_eq(mmapkit_anon_shared(&m, 4096, 0), -ENOMEM);
	CHECK_COST("failed mmap", COST([MMAPKIT__SYS_MMAP] = 1));
	/* a failed GUARD mapping releases its reservation with one munmap */
	mmapkit__fault_arm(MMAPKIT__SYS_MMAP, 2, ENOMEM);
	ck_assert_int_eq(mmapkit_anon_shared(&m, 4096, MMAPKIT_GUARD), -ENOMEM);
	CHECK_COST("failed GUARD mapping", COST([MMAPKIT__SYS_MMAP] = 2, [MMAPKIT__SYS_MUNMAP] = 1));
	mmapkit__fault_reset();
	unlink(path);
}
END_TEST

/* ---- range operations: each is its one system call ---- */

START_TEST(cost_sync)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(4 * page), *created = tu_path("sync");
	mmapkit_map *m = NULL;

	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, 0), 0);
	memset(mmapkit_ptr(m), 1, 4 * page);
	EXPECT_COST(COST([MMAPKIT__SYS_MSYNC] = 1), mmapkit_sync(m, 0, MMAPKIT_TO_END, 0));
	EXPECT_COST(COST([MMAPKIT__SYS_MSYNC] = 1), mmapkit_sync(m, 10, 2 * page, 0));
	EXPECT_COST(COST([MMAPKIT__SYS_MSYNC] = 1), mmapkit_sync(m, 0, 1, MMAPKIT_SYNC_ASYNC));
	EXPECT_COST(COST([MMAPKIT__SYS_MSYNC] = 1),
		    mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_INVALIDATE));
	EXPECT_COST(COST([MMAPKIT__SYS_MSYNC] = 1, [MMAPKIT__SYS_FSYNC] = 1),
		    mmapkit_sync(m, page, page, MMAPKIT_SYNC_FULL));
	mmapkit_unmap(m);
	/*
	 * a file the handle created: its directory entry too, once (readlink of the
	 * descriptor to find where the file is now; open, fsync, close)
	 */
	ck_assert_int_eq(mmapkit_file_shared(&m, created, 0, page, MMAPKIT_CREATE | MMAPKIT_GROW),
			 0);
	EXPECT_COST(COST([MMAPKIT__SYS_MSYNC] = 1, [MMAPKIT__SYS_FSYNC] = 2,
			 [MMAPKIT__SYS_READLINK] = 1, [MMAPKIT__SYS_OPEN] = 1,
			 [MMAPKIT__SYS_CLOSE] = 1),
		    mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL));
	EXPECT_COST(COST([MMAPKIT__SYS_MSYNC] = 1, [MMAPKIT__SYS_FSYNC] = 1),
		    mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL));
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
		unsigned pid = advs[i] == MMAPKIT_ADV_DONTFORK || dontfork;

		EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1, [MMAPKIT__SYS_GETPID] = pid),
			    mmapkit_advise(m, 0, MMAPKIT_TO_END, advs[i]));
		dontfork = advs[i] == MMAPKIT_ADV_DONTFORK;
		pid = advs[i] == MMAPKIT_ADV_DONTFORK || dontfork;
		EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1, [MMAPKIT__SYS_GETPID] = pid),
			    mmapkit_advise(m, page, 2 * page, advs[i]));
	}
	/* one call over pages whose recorded attributes differ */
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1),
		    mmapkit_advise(m, page, page, MMAPKIT_ADV_DONTDUMP));
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1), mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DODUMP));
	mmapkit_unmap(m);
}
END_TEST

START_TEST(cost_protect_lock)
{
	size_t page = mmapkit_page_size();
	mmapkit_map *m = NULL;

	ck_assert_int_eq(mmapkit_anon_shared(&m, 4 * page, 0), 0);
	EXPECT_COST(COST([MMAPKIT__SYS_MPROTECT] = 1),
		    mmapkit_protect(m, page, 1, MMAPKIT_PROT_READ));
	EXPECT_COST(COST([MMAPKIT__SYS_MPROTECT] = 1),
		    mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE));
	EXPECT_COST(COST([MMAPKIT__SYS_MPROTECT] = 1), mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_NONE));
	EXPECT_COST(COST([MMAPKIT__SYS_MPROTECT] = 1),
		    mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE));
	EXPECT_COST(COST([MMAPKIT__SYS_MLOCK] = 1), mmapkit_lock(m, 0, 2 * page, 0));
	if (!tu_skip_lock_onfault("cost_protect_lock"))
		EXPECT_COST(COST([MMAPKIT__SYS_MLOCK2] = 1),
			    mmapkit_lock(m, 2 * page, MMAPKIT_TO_END, MMAPKIT_LOCK_ONFAULT));
	EXPECT_COST(COST([MMAPKIT__SYS_MLOCK] = 1), mmapkit_lock(m, 0, MMAPKIT_TO_END, 0));
	EXPECT_COST(COST([MMAPKIT__SYS_MUNLOCK] = 1), mmapkit_unlock(m, 10, 10));
	EXPECT_COST(COST([MMAPKIT__SYS_MUNLOCK] = 1), mmapkit_unlock(m, 0, MMAPKIT_TO_END));
	mmapkit_unmap(m);
}
END_TEST

START_TEST(cost_punch_revert)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(4 * page);
	mmapkit_map *m = NULL;

	/* anonymous private: one madvise, and edges within one page cost nothing */
	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * page, 0), 0);
	memset(mmapkit_ptr(m), 1, 4 * page);
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1), mmapkit_punch(m, page, 2 * page));
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1), mmapkit_punch(m, 1, 3 * page));
	EXPECT_COST(NOTHING, mmapkit_punch(m, 10, 20));
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1), mmapkit_revert(m, 0, MMAPKIT_TO_END));
	mmapkit_unmap(m);

	/* anonymous shared: one madvise (MADV_REMOVE) */
	ck_assert_int_eq(mmapkit_anon_shared(&m, 4 * page, 0), 0);
	memset(mmapkit_ptr(m), 1, 4 * page);
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1), mmapkit_punch(m, page, 2 * page));
	mmapkit_unmap(m);

	/* file shared: one fallocate, aligned or not */
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, 0), 0);
	EXPECT_COST(COST([MMAPKIT__SYS_FALLOCATE] = 1), mmapkit_punch(m, page, page));
	EXPECT_COST(COST([MMAPKIT__SYS_FALLOCATE] = 1), mmapkit_punch(m, 5, 3));
	mmapkit_unmap(m);

	/* file private without attributes: the one mmap(MAP_FIXED) done by hand */
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	EXPECT_COST(COST([MMAPKIT__SYS_MMAP] = 1), mmapkit_punch(m, page, 2 * page));
	mmapkit_unmap(m);

	/* revert of a file private range never punched: one madvise */
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	memset(mmapkit_ptr(m), 0, 4 * page);
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1), mmapkit_revert(m, page, 2 * page));
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1), mmapkit_revert(m, 0, MMAPKIT_TO_END));
	mmapkit_unmap(m);
	unlink(path);
}
END_TEST

/*
 * A handle with DONTFORK pages costs one getpid per call (is this the process
 * that has them?); in a fork() child, a refused call costs just that, and unmap
 * releases what the child has: here the two guards, not the pages between.
 */
static void child_dontfork_costs(void *arg)
{
	mmapkit_map *const *ms = arg;

	mmapkit__fault_reset();
	TU_CHILD_OK(mmapkit_protect(ms[0], 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ) == -EFAULT);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_GETPID) == 1 && mmapkit__fault_total() == 1);
	mmapkit__fault_reset();
	mmapkit_unmap(ms[0]);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_GETPID) == 1);
	TU_CHILD_OK(mmapkit__fault_calls(MMAPKIT__SYS_MUNMAP) == 2 && mmapkit__fault_total() == 3);
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
	EXPECT_COST(COST([MMAPKIT__SYS_MADVISE] = 1, [MMAPKIT__SYS_GETPID] = 1),
		    mmapkit_advise(ms[1], page, page, MMAPKIT_ADV_DONTFORK));
	EXPECT_COST(COST([MMAPKIT__SYS_MPROTECT] = 1, [MMAPKIT__SYS_GETPID] = 1),
		    mmapkit_protect(ms[1], 0, 1, MMAPKIT_PROT_READ));
	EXPECT_COST(COST([MMAPKIT__SYS_MPROTECT] = 1),
		    mmapkit_protect(ms[2], 0, 1, MMAPKIT_PROT_READ));
	st = tu_child(child_dontfork_costs, ms);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
	UNMAP_COSTS(ms[0], COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_GETPID] = 1));
	UNMAP_COSTS(ms[1], COST([MMAPKIT__SYS_MUNMAP] = 1, [MMAPKIT__SYS_GETPID] = 1));
	UNMAP_COSTS(ms[2], COST([MMAPKIT__SYS_MUNMAP] = 1));
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
	unsigned mmaps, mremaps; /* of the punch (and revert) with attributes */
	bool in_place;
} cost_kernels[] = {
	{"6.1", 6, 1, 0, 0, true},
	{"6.12", 6, 12, 1, 2, false},
	{"6.17", 6, 17, 1, 1, false},
};

START_TEST(cost_file_private_by_kernel)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(4 * page);
	mmapkit_map *m = NULL;
	unsigned mmaps = cost_kernels[_i].mmaps, mremaps = cost_kernels[_i].mremaps;
	bool in_place = cost_kernels[_i].in_place;

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
	EXPECT_COST(COST([MMAPKIT__SYS_MMAP] = mmaps, [MMAPKIT__SYS_MADVISE] = !in_place,
			 [MMAPKIT__SYS_MREMAP] = mremaps),
		    mmapkit_punch(m, page, 2 * page));
	EXPECT_COST(COST([MMAPKIT__SYS_MMAP] = mmaps, [MMAPKIT__SYS_MADVISE] = 1,
			 [MMAPKIT__SYS_MREMAP] = mremaps),
		    mmapkit_revert(m, page, 2 * page));
	mmapkit_unmap(m);
	ck_assert_int_eq(mmapkit_file_private(&m, path, 0, 0, 0), 0);
	EXPECT_COST(COST([MMAPKIT__SYS_MMAP] = !in_place), mmapkit_punch(m, page, 2 * page));
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
	tcase_add_test(tc, cost_contract);
	tcase_add_loop_test(tc, cost_create, 0, 2);
	tcase_add_test(tc, cost_grow_and_empty);
	tcase_add_test(tc, cost_hugetlb);
	tcase_add_test(tc, cost_refused);

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
