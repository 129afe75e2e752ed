/* SPDX-License-Identifier: MIT */
/*
 * Looking at a mapping: mmapkit_stats against the kernel (touching, fork,
 * locking, swap, huge pages, and an independent parse of /proc/self/smaps),
 * mmapkit_resident against the page cache's truth (cachestat as root) and
 * against the made-up answer mincore gives for a file the caller can neither
 * write nor owns, and mmapkit_name (here: -EOPNOTSUPP, and the naming path
 * proved against a model of a kernel that names).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

static size_t pg(void)
{
	return mmapkit_page_size();
}

static const int kinds[] = {MMAPKIT_ANON_PRIVATE, MMAPKIT_ANON_SHARED, MMAPKIT_FILE_PRIVATE,
			    MMAPKIT_FILE_SHARED};

static struct mmapkit_stats stats_of(const mmapkit_map *m)
{
	struct mmapkit_stats st = {.sz = sizeof(st)};
	int r = mmapkit_stats(m, &st);

	ck_assert_msg(r == 0, "mmapkit_stats: %d: %s", r, mmapkit_errmsg());
	return st;
}

/* ---- an independent parse of /proc/self/smaps ---- */

struct smaps_sum {
	uint64_t rss, pss, sc, sd, pc, pd, anon, swap, locked, huge;
};

/* Sum of the fields of every VMA inside [lo, hi), with sscanf, line by line. */
static struct smaps_sum smaps_sum(const void *lo, const void *hi)
{
	FILE *fp = fopen("/proc/self/smaps", "re");
	struct smaps_sum s = {0};
	char line[512], key[64];
	bool in = false;

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long a, z, kb;

		if (sscanf(line, "%lx-%lx ", &a, &z) == 2 && strchr(line, '-') < strchr(line, ' ')) {
			in = a >= (uintptr_t)lo && z <= (uintptr_t)hi;
			continue;
		}
		if (!in || sscanf(line, "%63s %lu kB", key, &kb) != 2)
			continue;
		uint64_t v = (uint64_t)kb * 1024;

		if (!strcmp(key, "Rss:"))
			s.rss += v;
		else if (!strcmp(key, "Pss:"))
			s.pss += v;
		else if (!strcmp(key, "Shared_Clean:"))
			s.sc += v;
		else if (!strcmp(key, "Shared_Dirty:"))
			s.sd += v;
		else if (!strcmp(key, "Private_Clean:"))
			s.pc += v;
		else if (!strcmp(key, "Private_Dirty:"))
			s.pd += v;
		else if (!strcmp(key, "Anonymous:"))
			s.anon += v;
		else if (!strcmp(key, "Swap:"))
			s.swap += v;
		else if (!strcmp(key, "Locked:"))
			s.locked += v;
		else if (!strcmp(key, "AnonHugePages:") || !strcmp(key, "ShmemPmdMapped:") ||
			 !strcmp(key, "FilePmdMapped:") || !strcmp(key, "Shared_Hugetlb:") ||
			 !strcmp(key, "Private_Hugetlb:"))
			s.huge += v;
	}
	fclose(fp);
	return s;
}

static bool same(const struct mmapkit_stats *st, const struct smaps_sum *s)
{
	return st->rss == s->rss && st->pss == s->pss && st->shared_clean == s->sc &&
	       st->shared_dirty == s->sd && st->private_clean == s->pc &&
	       st->private_dirty == s->pd && st->anonymous == s->anon && st->swap == s->swap &&
	       st->locked == s->locked && st->huge == s->huge;
}

/* The library's figures are the smaps figures of the handle's pages (read twice if racing). */
static void assert_matches_smaps(const mmapkit_map *m)
{
	unsigned char *lo = (unsigned char *)mmapkit_ptr(m) - (uintptr_t)mmapkit_ptr(m) % pg();
	struct mmapkit_stats st;
	struct smaps_sum s;

	for (int tries = 0; tries < 3; tries++) {
		st = stats_of(m);
		s = smaps_sum(lo, lo + st.mapped);
		if (same(&st, &s))
			return;
	}
	ck_abort_msg("stats rss %llu pss %llu sd %llu pd %llu locked %llu huge %llu; smaps rss %llu pss %llu sd %llu pd %llu locked %llu huge %llu",
		     (unsigned long long)st.rss, (unsigned long long)st.pss,
		     (unsigned long long)st.shared_dirty, (unsigned long long)st.private_dirty,
		     (unsigned long long)st.locked, (unsigned long long)st.huge,
		     (unsigned long long)s.rss, (unsigned long long)s.pss, (unsigned long long)s.sd,
		     (unsigned long long)s.pd, (unsigned long long)s.locked,
		     (unsigned long long)s.huge);
}

static mmapkit_map *map_kind(int kind, size_t len, unsigned flags, const char **path)
{
	mmapkit_map *m;
	int r;

	*path = tu_kind_is_file(kind) ? tu_file(len) : NULL;
	r = tu_map_kind(kind, &m, *path, 0, len, flags);
	ck_assert_msg(r == 0, "%s: %d: %s", tu_kind_name(kind), r, mmapkit_errmsg());
	return m;
}

/* ---- mmapkit_stats ---- */

/*
 * File kinds: the file leaves the page cache, and the mapping reads no more
 * than the page it faults (MADV_RANDOM: no read-ahead, so no large folio that
 * the kernel would map whole): touching N pages then maps exactly N pages.
 */
static void one_page_faults(mmapkit_map *m)
{
	if (!tu_kind_is_file(mmapkit_kind(m)))
		return;
	ck_assert_int_eq(fdatasync(mmapkit_fd(m)), 0);
	ck_assert_int_eq(posix_fadvise(mmapkit_fd(m), 0, 0, POSIX_FADV_DONTNEED), 0);
	ck_assert_int_eq(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_RANDOM), 0);
}

/* Touching N pages adds N pages of Rss; the figures are smaps'. */
START_TEST(rss_grows)
{
	int kind = kinds[_i];
	const char *path;
	mmapkit_map *m = map_kind(kind, 64 * pg(), MMAPKIT_GUARD, &path);
	volatile unsigned char *p = mmapkit_ptr(m);
	struct mmapkit_stats a, b;

	one_page_faults(m);
	a = stats_of(m);
	ck_assert_uint_eq(a.mapped, 64 * pg());
	ck_assert_uint_eq(a.rss, 0);
	for (size_t k = 0; k < 10; k++)
		p[k * 3 * pg()] = 1;
	b = stats_of(m);
	ck_assert_uint_eq(b.rss - a.rss, 10 * pg());
	ck_assert_uint_eq(b.pss - a.pss, 10 * pg());
	ck_assert_uint_eq(b.private_dirty, 10 * pg());
	ck_assert_uint_eq(b.anonymous, kind == MMAPKIT_ANON_PRIVATE || kind == MMAPKIT_FILE_PRIVATE
					       ? 10 * pg() : 0);
	if (path && mmapkit__kernel_has(MMAPKIT__F_CACHESTAT)) {
		/* the pages read are cached; cachestat says how many are dirty */
		ck_assert_uint_eq(b.cached, 10 * pg());
		ck_assert_uint_eq(b.cache_dirty, kind == MMAPKIT_FILE_SHARED ? 10 * pg() : 0);
	} else { /* anonymous, or no cachestat (valgrind 3.19 does not know it): 0 */
		ck_assert_uint_eq(b.cached, 0);
	}
	assert_matches_smaps(m);
	mmapkit_unmap(m);
	if (path)
		unlink(path);
}
END_TEST

static int to_child[2], to_parent[2];

/*
 * After fork() and a write by the child to 4 of 16 pages the parent wrote:
 * private kinds: the child copied 4 pages, the other 12 are shared by both
 * (Pss 4 + 12/2 = 10 pages); shared kinds: fork copies no page table of a
 * shared mapping, so only the 4 pages the child touched are shared
 * (Pss 12 + 4/2 = 14 pages).
 */
START_TEST(fork_figures)
{
	int kind = kinds[_i];
	const char *path;
	mmapkit_map *m = map_kind(kind, 16 * pg(), MMAPKIT_GUARD, &path);
	unsigned char *p = mmapkit_ptr(m);
	bool priv = tu_kind_is_private(kind);
	struct mmapkit_stats a, b;
	pid_t pid;
	char c;
	int st;

	one_page_faults(m);
	memset(p, 0x5c, 16 * pg());
	a = stats_of(m);
	ck_assert_uint_eq(a.rss, 16 * pg());
	ck_assert_uint_eq(a.pss, 16 * pg());
	ck_assert_uint_eq(a.private_dirty, 16 * pg());
	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(10);
		for (size_t k = 0; k < 4; k++)
			p[k * pg()] = 0x33;
		if (write(to_parent[1], "w", 1) != 1 || read(to_child[0], &c, 1) != 1)
			_exit(2);
		_exit(0);
	}
	ck_assert_int_eq(read(to_parent[0], &c, 1), 1);
	b = stats_of(m);
	assert_matches_smaps(m);
	ck_assert_int_eq(write(to_child[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(TU_EXITED(st, 0));
	ck_assert_uint_eq(b.rss, 16 * pg());
	if (priv) {
		ck_assert_uint_eq(b.pss, 10 * pg());
		ck_assert_uint_eq(b.shared_dirty, 12 * pg());
		ck_assert_uint_eq(b.private_dirty, 4 * pg());
		ck_assert_uint_eq(p[0], 0x5c); /* the parent's bytes stay its own */
	} else {
		ck_assert_uint_eq(b.pss, 14 * pg());
		ck_assert_uint_eq(b.shared_clean + b.shared_dirty, 4 * pg());
		ck_assert_uint_eq(b.private_clean + b.private_dirty, 12 * pg());
		ck_assert_uint_eq(p[0], 0x33);
	}
	for (int i = 0; i < 2; i++) {
		close(to_child[i]);
		close(to_parent[i]);
	}
	mmapkit_unmap(m);
	if (path)
		unlink(path);
}
END_TEST

START_TEST(locked_pages)
{
	int kind = kinds[_i];
	const char *path;
	mmapkit_map *m = map_kind(kind, 8 * pg(), MMAPKIT_LOCK | MMAPKIT_GUARD, &path);
	struct mmapkit_stats st = stats_of(m);

	ck_assert_uint_eq(st.rss, 8 * pg());
	ck_assert_uint_eq(st.locked, 8 * pg());
	ck_assert_int_eq(mmapkit_unlock(m, 0, 4 * pg()), 0);
	st = stats_of(m);
	ck_assert_uint_eq(st.locked, 4 * pg());
	assert_matches_smaps(m);
	mmapkit_unmap(m);
	if (path)
		unlink(path);
}
END_TEST

static bool have_swap(void)
{
	FILE *fp = fopen("/proc/swaps", "re");
	char line[256];
	int n = 0;

	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp))
		n++;
	fclose(fp);
	return n > 1; /* a header line, then one per swap area */
}

START_TEST(swapped_pages)
{
	struct mmapkit_stats st;
	mmapkit_map *m;

	if (!have_swap()) {
		printf("stats: swap: skipped: this machine has no swap area (/proc/swaps lists none), so no page can be swapped out\n");
		return;
	}
	ck_assert_int_eq(mmapkit_anon_private(&m, 64 * pg(), MMAPKIT_GUARD), 0);
	memset(mmapkit_ptr(m), 0x6b, 64 * pg());
	ck_assert_int_eq(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_PAGEOUT), 0);
	st = stats_of(m);
	ck_assert_uint_gt(st.swap, 0);
	ck_assert_uint_eq(st.swap + st.rss, 64 * pg());
	assert_matches_smaps(m);
	mmapkit_unmap(m);
}
END_TEST

/*
 * MMAPKIT_THP and a 2 MiB-aligned 2 MiB range: a large enough mapping holds
 * one (until placement by alignment arrives); touching it gives a huge page.
 */
START_TEST(huge_pages)
{
	const size_t huge = 2u << 20;
	struct mmapkit_stats st;
	unsigned char *p, *a;
	mmapkit_map *m;
	FILE *fp = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");
	char mode[128] = "";

	if (fp) {
		if (!fgets(mode, sizeof(mode), fp))
			mode[0] = '\0';
		fclose(fp);
	}
	if (!strstr(mode, "[always]") && !strstr(mode, "[madvise]")) {
		printf("stats: huge pages: skipped: transparent huge pages are off (%s)\n", mode);
		return;
	}
	ck_assert_int_eq(mmapkit_anon_private(&m, 2 * huge, MMAPKIT_THP | MMAPKIT_GUARD), 0);
	p = mmapkit_ptr(m);
	a = (unsigned char *)(((uintptr_t)p + huge - 1) & ~(uintptr_t)(huge - 1));
	memset(a, 1, huge);
	st = stats_of(m);
	ck_assert_uint_eq(st.huge, huge);
	ck_assert_uint_eq(st.anonymous, huge);
	assert_matches_smaps(m);
	mmapkit_unmap(m);
}
END_TEST

START_TEST(stats_refusals)
{
	struct tu_snap s = tu_snap();
	unsigned char raw[sizeof(struct mmapkit_stats) + 16];
	struct mmapkit_stats *st = (struct mmapkit_stats *)raw, small = {.sz = 8};
	mmapkit_map *m;

	/* guarded: no neighbour merges into its VMA (see BUGS in mmapkit_stats(3)) */
	ck_assert_int_eq(mmapkit_anon_private(&m, pg(), MMAPKIT_POPULATE | MMAPKIT_GUARD), 0);
	ck_assert_int_eq(mmapkit_stats(NULL, &small), -EINVAL);
	ck_assert_int_eq(mmapkit_stats(m, NULL), -EINVAL);
	ck_assert_int_eq(mmapkit_stats(m, &small), -EINVAL);
	tu_assert_errmsg("mmapkit_stats", TU_NUMS("8"), "sz too small");
	/* a caller with a larger struct: the bytes this library does not know stay as they were */
	memset(raw, 0xee, sizeof(raw));
	st->sz = sizeof(raw);
	ck_assert_int_eq(mmapkit_stats(m, st), 0);
	ck_assert_uint_eq(st->rss, pg());
	for (size_t i = sizeof(struct mmapkit_stats); i < sizeof(raw); i++)
		ck_assert_uint_eq(raw[i], 0xee);
	ck_assert_uint_eq(st->sz, sizeof(raw));
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- mmapkit_resident against the page cache's truth ---- */

static uint64_t file_size_fd(int fd)
{
	struct stat st;

	ck_assert_int_eq(fstat(fd, &st), 0);
	return (uint64_t)st.st_size;
}

/*
 * cachestat(2) itself, as root: the number of cached pages of [off, off + len)
 * (len 0: to the end).  Where it is missing (valgrind 3.19 does not know it),
 * mincore of a shared mapping of our own, which tells root the truth.
 */
static uint64_t truth(int fd, uint64_t off, uint64_t len)
{
	uint64_t range[2] = {off, len}, cs[5], n = 0;
	unsigned char *vec;
	void *p;

	if (syscall(SYS_cachestat, fd, range, cs, 0) == 0)
		return cs[0];
	ck_assert_int_eq(errno, ENOSYS);
	if (!len)
		len = file_size_fd(fd) - off;
	vec = malloc(len / pg() + 1);
	p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, (off_t)off);
	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(mincore(p, len, vec), 0);
	for (uint64_t k = 0; k < (len + pg() - 1) / pg(); k++)
		n += vec[k] & 1;
	munmap(p, len);
	free(vec);
	return n;
}

static void evict(int fd)
{
	ck_assert_int_eq(fdatasync(fd), 0);
	ck_assert_int_eq(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
}

#define RPAGES 64

/* A file in one of four states: 0 cached, 1 evicted, 2 sparse, 3 partly cached. */
static const char *make_state(int state, int *fdp)
{
	const char *path = tu_path(state == 2 ? "sparse" : "res");
	unsigned char buf[4096];
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	ck_assert_int_ge(fd, 0);
	memset(buf, 0x71, sizeof(buf));
	if (state == 2) { /* a large hole, a few written pages, then all evicted but two */
		ck_assert_int_eq(ftruncate(fd, (off_t)RPAGES * 4096 * 16), 0);
		for (int k = 0; k < 5; k++)
			ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), (off_t)k * 4096 * 100), 4096);
		evict(fd);
		ck_assert_int_eq(pread(fd, buf, sizeof(buf), 4096 * 100), 4096);
		ck_assert_int_eq(pread(fd, buf, sizeof(buf), 4096 * 777), 4096); /* in the hole */
	} else {
		for (int k = 0; k < RPAGES; k++)
			ck_assert_int_eq(pwrite(fd, buf, sizeof(buf), (off_t)k * 4096), 4096);
		if (state >= 1)
			evict(fd);
		if (state == 3)
			for (int k = 0; k < RPAGES; k += 3)
				ck_assert_int_eq(pread(fd, buf, sizeof(buf), (off_t)k * 4096), 4096);
	}
	*fdp = fd;
	return path;
}

static const char *const state_names[] = {"cached", "evicted", "sparse", "partly cached"};

/* Both paths (cachestat, and mincore as on 6.1), with and without vec, equal the truth. */
START_TEST(resident_truth)
{
	int state = _i % 4, kind = _i / 4 ? MMAPKIT_FILE_SHARED : MMAPKIT_FILE_PRIVATE;
	struct tu_snap s = tu_snap();
	int fd;
	const char *path = make_state(state, &fd);
	uint64_t size = tu_file_size(path), want, got, n = size / pg();
	unsigned char *vec = malloc(n);
	mmapkit_map *m;

	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(tu_map_kind(kind, &m, path, 0, 0, MMAPKIT_RDONLY), 0);
	want = truth(fd, 0, size) * pg();
	for (int path_6_1 = 0; path_6_1 < 2; path_6_1++) {
		mmapkit__kernel_force(MMAPKIT__F_CACHESTAT, path_6_1 ? 0 : -1);
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_resident(m, 0, MMAPKIT_TO_END, &got, NULL), 0);
		ck_assert_msg(got == want, "%s, %s: %llu bytes resident, the page cache holds %llu",
			      state_names[state], path_6_1 ? "mincore" : "cachestat",
			      (unsigned long long)got, (unsigned long long)want);
		ck_assert_uint_eq(mmapkit__fault_calls(mmapkit__kernel_has(MMAPKIT__F_CACHESTAT)
							       ? MMAPKIT__SYS_CACHESTAT
							       : MMAPKIT__SYS_MINCORE), 1);
		/* The mincore path checks the owner first: through the table too. */
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_GETEUID),
				  mmapkit__kernel_has(MMAPKIT__F_CACHESTAT) ? 0 : 1);
		ck_assert_int_eq(mmapkit_resident(m, 0, MMAPKIT_TO_END, &got, vec), 0);
		ck_assert_uint_eq(got, want);
		for (uint64_t k = 0; k < n; k++)
			if (vec[k] != truth(fd, k * pg(), pg()))
				ck_abort_msg("%s: page %llu: vec %u", state_names[state],
					     (unsigned long long)k, vec[k]);
	}
	mmapkit__kernel_force(MMAPKIT__F_CACHESTAT, -1);
	/* a sub-range */
	ck_assert_int_eq(mmapkit_resident(m, pg() + 5, 3 * pg(), &got, NULL), 0);
	ck_assert_uint_eq(got, truth(fd, pg(), 4 * pg()) * pg());
	mmapkit_unmap(m);
	close(fd);
	unlink(path);
	free(vec);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

struct nobody_case {
	const char *path;
	bool pretend_6_1;
	uint64_t pages;
};

/* In a child that dropped to nobody: the file is readable, not writable, not its own. */
static void as_nobody(void *arg)
{
	const struct nobody_case *c = arg;
	struct passwd *pw = getpwnam("nobody");
	int fd = open(c->path, O_RDONLY | O_CLOEXEC);
	unsigned char *vec = malloc(c->pages);
	uint64_t bytes = 12345;
	mmapkit_map *m;
	void *raw;
	size_t lied = 0;

	TU_CHILD_OK(pw && fd >= 0 && vec);
	TU_CHILD_OK(setgid(pw->pw_gid) == 0 && setuid(pw->pw_uid) == 0);
	if (c->pretend_6_1)
		mmapkit__kernel_pretend(6, 1);
	TU_CHILD_OK(mmapkit_fd_private(&m, fd, 0, 0, MMAPKIT_RDONLY) == 0);
	TU_CHILD_OK(mmapkit_resident(m, 0, MMAPKIT_TO_END, &bytes, NULL) == -EPERM);
	TU_CHILD_OK(strstr(mmapkit_errmsg(), "neither write nor owns"));
	TU_CHILD_OK(mmapkit_resident(m, 0, MMAPKIT_TO_END, &bytes, vec) == -EPERM);
	TU_CHILD_OK(bytes == 12345); /* nothing written */
	{ /* the page cache figures of mmapkit_stats: refused, or 0 without cachestat */
		struct mmapkit_stats st = {.sz = sizeof(st)};
		int r = mmapkit_stats(m, &st);

		TU_CHILD_OK(mmapkit__kernel_has(MMAPKIT__F_CACHESTAT) ? r == -EPERM
								     : r == 0 && st.cached == 0);
	}
	/* what mincore says here: every page, whatever the truth */
	raw = mmap(NULL, c->pages * pg(), PROT_READ, MAP_PRIVATE, fd, 0);
	TU_CHILD_OK(raw != MAP_FAILED && mincore(raw, c->pages * pg(), vec) == 0);
	for (uint64_t k = 0; k < c->pages; k++)
		lied += vec[k] & 1;
	TU_CHILD_OK(lied == c->pages);
	_exit(0);
}

START_TEST(resident_hidden)
{
	struct nobody_case c = {.pretend_6_1 = _i / 2};
	int fd, st;

	if (geteuid() != 0) {
		printf("stats: resident as nobody: skipped: needs root to drop to nobody\n");
		return;
	}
	if (tu_on_valgrind()) {
		printf("valgrind: resident as nobody: skipped (valgrind 3.19 has no cachestat to tell an evicted file, and a child that drops to nobody cannot write valgrind's log)\n");
		return;
	}
	c.path = make_state(_i % 2, &fd); /* cached, then evicted */
	ck_assert_int_eq(chmod(tu_dir(), 0755), 0);
	c.pages = tu_file_size(c.path) / pg();
	if (_i % 2)
		ck_assert_uint_eq(truth(fd, 0, 0), 0);
	else
		ck_assert_uint_eq(truth(fd, 0, 0), c.pages);
	st = tu_child(as_nobody, &c);
	ck_assert_msg(TU_EXITED(st, 0), "%s file as nobody%s: status %d", state_names[_i % 2],
		      c.pretend_6_1 ? " (6.1 path)" : "", st);
	close(fd);
	unlink(c.path);
}
END_TEST

START_TEST(resident_refusals)
{
	struct tu_snap s = tu_snap();
	uint64_t bytes = 7;
	unsigned char vec[4] = {9, 9, 9, 9};
	mmapkit_map *m;

	ck_assert_int_eq(mmapkit_resident(NULL, 0, 0, &bytes, NULL), -EINVAL);
	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * pg(), MMAPKIT_GUARD), 0);
	ck_assert_int_eq(mmapkit_resident(m, 0, 1, NULL, NULL), -EINVAL);
	ck_assert_int_eq(mmapkit_resident(m, 1, 4 * pg(), &bytes, NULL), -ERANGE);
	ck_assert_uint_eq(bytes, 7);
	ck_assert_int_eq(mmapkit_resident(m, 4 * pg(), 0, &bytes, NULL), 0);
	ck_assert_uint_eq(bytes, 0);
	((unsigned char *)mmapkit_ptr(m))[2 * pg()] = 1;
	ck_assert_int_eq(mmapkit_resident(m, 0, MMAPKIT_TO_END, &bytes, vec), 0);
	ck_assert_uint_eq(bytes, pg());
	ck_assert(vec[0] == 0 && vec[1] == 0 && vec[2] == 1 && vec[3] == 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- mmapkit_name ---- */

START_TEST(name_here)
{
	struct tu_snap s = tu_snap();
	const char *path = tu_file(pg());
	mmapkit_map *a, *f;
	int r;

	ck_assert_int_eq(mmapkit_anon_private(&a, pg(), 0), 0);
	ck_assert_int_eq(mmapkit_file_shared(&f, path, 0, 0, 0), 0);
	ck_assert_int_eq(mmapkit_name(NULL, "x"), -EINVAL);
	ck_assert_int_eq(mmapkit_name(f, "x"), -EINVAL);
	ck_assert_int_eq(mmapkit_name(a, "bad$name"), -EINVAL);
	ck_assert_int_eq(mmapkit_name(a, ""), -EINVAL);
	ck_assert_int_eq(mmapkit_name(a, "0123456789012345678901234567890123456789012345678901234567890123456789012345678901"), -EINVAL);
	r = mmapkit_name(a, "mmapkit-test");
	if (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)mmapkit_ptr(a), pg(),
		  (unsigned long)"probe") < 0 && errno == EINVAL) {
		/* this kernel is built without CONFIG_ANON_VMA_NAME */
		ck_assert_int_eq(r, -EOPNOTSUPP);
		tu_assert_errmsg("mmapkit_name", TU_NUMS("CONFIG_ANON_VMA_NAME"), "no naming");
		printf("stats: name: the running kernel cannot name mappings: -EOPNOTSUPP (the naming path is proved by name_model)\n");
	} else {
		char line[512];
		FILE *fp;
		bool found = false;

		ck_assert_int_eq(mmapkit_name(a, "mmapkit-test"), 0);
		ck_assert_int_eq(mmapkit_resize(a, 8 * pg(), 0), 0);
		ck_assert_int_eq(mmapkit_punch(a, pg(), pg()), 0);
		fp = fopen("/proc/self/maps", "re");
		while (fgets(line, sizeof(line), fp))
			found |= strstr(line, "[anon:mmapkit-test]") != NULL;
		fclose(fp);
		ck_assert(found);
	}
	mmapkit_unmap(a);
	mmapkit_unmap(f);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * Memory behind a file of the kernel's own (memfd_secret for MMAPKIT_SECRET,
 * hugetlbfs for MMAPKIT_HUGETLB) is not anonymous memory to the kernel, which
 * answers -EBADF to naming it: refused with -EINVAL as for a ring, before any
 * prctl, on a kernel that can name mappings (forced, so that this kernel
 * answers as one would).
 */
START_TEST(name_refuses_file_backed)
{
	struct tu_snap s = tu_snap();
	char why[256] = "";
	long got;
	mmapkit_map *m;
	int r;

	mmapkit__kernel_force(MMAPKIT__F_ANON_NAME, 1);
	r = mmapkit_anon_private(&m, pg(), MMAPKIT_SECRET);
	if (r == -EOPNOTSUPP) {
		printf("stats: name_refuses_file_backed: no MMAPKIT_SECRET here (%s)\n", mmapkit_errmsg());
	} else {
		ck_assert_int_eq(r, 0);
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_name(m, "mmapkit-secret"), -EINVAL);
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_PRCTL), 0);
		tu_assert_errmsg("mmapkit_name", TU_NUMS("MMAPKIT_SECRET"), "secret memory");
		mmapkit_unmap(m);
	}
	got = tu_huge_reserve(1, why, sizeof(why));
	r = got > 0 ? mmapkit_anon_shared(&m, 1, MMAPKIT_HUGETLB) : -1;
	if (r == 0) {
		mmapkit__fault_reset();
		r = mmapkit_name(m, "mmapkit-huge");
		mmapkit_unmap(m);
	}
	ck_assert(tu_huge_release(got));
	if (got > 0) {
		ck_assert_int_eq(r, -EINVAL);
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_PRCTL), 0);
	} else {
		printf("stats: name_refuses_file_backed: no huge page for MMAPKIT_HUGETLB (%s)\n", why);
	}
	mmapkit__kernel_force(MMAPKIT__F_ANON_NAME, -1);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * A kernel that names mappings, modelled in the system-call table: prctl
 * records names by address range; mmap over a range, munmap and mremap
 * update the model as the kernel updates VMA names (a new mapping has none,
 * moved pages take theirs along, pages mremap adds to a VMA take its name).
 * The real calls still run (prctl excepted).  After every step the named
 * ranges must be exactly the handle's pages.
 */
#define MODEL_MAX 64

struct named {
	uintptr_t a, z;
};
static struct named model[MODEL_MAX];
static size_t nmodel;
static unsigned nprctl;
static struct mmapkit__sys saved_sys;

static void model_remove(uintptr_t a, uintptr_t z)
{
	struct named keep[MODEL_MAX];
	size_t w = 0;

	for (size_t i = 0; i < nmodel; i++) {
		uintptr_t ma = model[i].a, mz = model[i].z;

		if (mz <= a || ma >= z) {
			keep[w++] = model[i];
			continue;
		}
		if (ma < a)
			keep[w++] = (struct named){ma, a};
		if (mz > z) {
			ck_assert_uint_lt(w, MODEL_MAX);
			keep[w++] = (struct named){z, mz};
		}
	}
	memcpy(model, keep, w * sizeof(model[0]));
	nmodel = w;
}

static void model_add(uintptr_t a, uintptr_t z)
{
	model_remove(a, z);
	ck_assert_uint_lt(nmodel, MODEL_MAX);
	model[nmodel].a = a;
	model[nmodel].z = z;
	nmodel++;
}

static bool model_named(uintptr_t addr)
{
	for (size_t i = 0; i < nmodel; i++)
		if (addr >= model[i].a && addr < model[i].z)
			return true;
	return false;
}

static int model_prctl(int o, unsigned long a2, unsigned long a3, unsigned long a4,
		       unsigned long a5)
{
	ck_assert_int_eq(o, PR_SET_VMA);
	ck_assert_uint_eq(a2, PR_SET_VMA_ANON_NAME);
	nprctl++;
	if (a5)
		model_add(a3, a3 + a4);
	else
		model_remove(a3, a3 + a4);
	return 0;
}

static void *model_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	void *r = saved_sys.mmap(a, l, p, f, fd, o);

	if (r != MAP_FAILED)
		model_remove((uintptr_t)r, (uintptr_t)r + l);
	return r;
}

static int model_munmap(void *a, size_t l)
{
	int r = saved_sys.munmap(a, l);

	if (r == 0)
		model_remove((uintptr_t)a, (uintptr_t)a + l);
	return r;
}

static void *model_mremap(void *o, size_t ol, size_t nl, int f, void *na)
{
	uintptr_t a = (uintptr_t)o;
	bool tail_named = model_named(a + ol - 1);
	uintptr_t moved[MODEL_MAX][2];
	size_t nmoved = 0;
	void *r = saved_sys.mremap(o, ol, nl, f, na);
	uintptr_t to;

	if (r == MAP_FAILED)
		return r;
	to = (uintptr_t)r;
	for (size_t i = 0; i < nmodel; i++) {
		uintptr_t ma = model[i].a > a ? model[i].a : a;
		uintptr_t mz = model[i].z < a + ol ? model[i].z : a + ol;

		if (ma < mz) {
			moved[nmoved][0] = ma - a;
			moved[nmoved][1] = mz - a;
			nmoved++;
		}
	}
	model_remove(a, a + ol);
	model_remove(to, to + nl);
	for (size_t i = 0; i < nmoved; i++)
		model_add(to + moved[i][0], to + (moved[i][1] < nl ? moved[i][1] : nl));
	if (nl > ol && tail_named)
		model_add(to + ol, to + nl);
	return r;
}

static void model_on(void)
{
	saved_sys = mmapkit__sys;
	nmodel = 0;
	nprctl = 0;
	mmapkit__sys.prctl = model_prctl;
	mmapkit__sys.mmap = model_mmap;
	mmapkit__sys.munmap = model_munmap;
	mmapkit__sys.mremap = model_mremap;
	mmapkit__kernel_force(MMAPKIT__F_ANON_NAME, 1);
}

static void model_off(void)
{
	mmapkit__sys = saved_sys;
	mmapkit__kernel_force(MMAPKIT__F_ANON_NAME, -1);
}

/* The named ranges are exactly the handle's pages: no more, no less. */
static void model_covers(const mmapkit_map *m, const char *what)
{
	uintptr_t lo = (uintptr_t)mmapkit_ptr(m), hi = lo + (mmapkit_len(m) + pg() - 1) / pg() * pg();
	size_t total = 0;

	for (size_t i = 0; i < nmodel; i++) {
		ck_assert_msg(model[i].a >= lo && model[i].z <= hi,
			      "%s: named %#lx-%#lx outside the handle's %#lx-%#lx", what,
			      (unsigned long)model[i].a, (unsigned long)model[i].z,
			      (unsigned long)lo, (unsigned long)hi);
		total += model[i].z - model[i].a;
	}
	ck_assert_msg(total == hi - lo, "%s: %zu of %lu bytes named", what, total,
		      (unsigned long)(hi - lo));
}

START_TEST(name_model)
{
	int kind = _i / 2 ? MMAPKIT_ANON_SHARED : MMAPKIT_ANON_PRIVATE;
	unsigned flags = _i % 2 ? MMAPKIT_GUARD | MMAPKIT_LOCK : 0;
	struct tu_snap s = tu_snap();
	mmapkit_map *m;
	void *blocker;
	unsigned char *p;

	model_on();
	ck_assert_int_eq(tu_map_kind(kind, &m, NULL, 0, 4 * pg(), flags), 0);
	ck_assert_int_eq(mmapkit_name(m, "mmapkit-model"), 0);
	ck_assert_uint_eq(nprctl, 1);
	model_covers(m, "named");
	if (!tu_skip_mremap_across("name_model: a read-only page among the pages moved"))
		ck_assert_int_eq(mmapkit_protect(m, pg(), pg(), MMAPKIT_PROT_READ), 0);
	ck_assert_int_eq(mmapkit_resize(m, 2 * pg(), 0), 0);
	model_covers(m, "shrunk");
	ck_assert_int_eq(mmapkit_resize(m, 4 * pg(),
					flags && !mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST)
						? 0 /* before 6.12 a guarded handle grows by moving */
						: MMAPKIT_RESIZE_NOMOVE),
			 0);
	model_covers(m, "grown in place");
	p = mmapkit_ptr(m);
	blocker = mmap(p + 4 * pg() + (flags ? pg() : 0), pg(), PROT_NONE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (blocker == MAP_FAILED) /* something is there already */
		blocker = NULL;
	ck_assert_int_eq(mmapkit_resize(m, 9 * pg(), 0), 0);
	ck_assert_ptr_ne(mmapkit_ptr(m), p);
	model_covers(m, "grown by moving");
	ck_assert_int_eq(mmapkit_punch(m, pg(), 3 * pg()), 0);
	model_covers(m, "punched");
	if (kind == MMAPKIT_ANON_PRIVATE) {
		ck_assert_int_eq(mmapkit_revert(m, 0, MMAPKIT_TO_END), 0);
		model_covers(m, "reverted");
	}
	ck_assert_int_eq(mmapkit_name(m, NULL), 0);
	ck_assert_uint_eq(nmodel, 0);
	ck_assert_int_eq(mmapkit_resize(m, 12 * pg(), 0), 0);
	ck_assert_uint_eq(nmodel, 0); /* no name, none given */
	mmapkit_unmap(m);
	if (blocker)
		munmap(blocker, pg());
	model_off();
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * MMAPKIT_GUARD in these tests keeps a handle's VMA apart from its
 * neighbours, whose pages smaps would count with it (BUGS in
 * mmapkit_stats(3)): guard mappings of their own do that, light guards
 * (inside the pages' VMA, 6.13) do not, so the old layout is asked for.
 */
static void old_guards(void)
{
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
}

static void any_guards(void)
{
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
}

Suite *suite_stats(void)
{
	Suite *s = suite_create("stats");
	TCase *tc = tu_tcase(s, "stats", 60);

	tcase_add_checked_fixture(tc, old_guards, any_guards);
	tcase_add_loop_test(tc, rss_grows, 0, 4);
	tcase_add_loop_test(tc, fork_figures, 0, 4);
	tcase_add_loop_test(tc, locked_pages, 0, 4);
	tcase_add_test(tc, swapped_pages);
	tcase_add_test(tc, huge_pages);
	tcase_add_test(tc, stats_refusals);
	tc = tu_tcase(s, "resident", 60);
	tcase_add_loop_test(tc, resident_truth, 0, 8);
	tcase_add_loop_test(tc, resident_hidden, 0, 4);
	tcase_add_test(tc, resident_refusals);
	tc = tu_tcase(s, "name", 60);
	tcase_add_test(tc, name_here);
	tcase_add_test(tc, name_refuses_file_backed);
	tcase_add_loop_test(tc, name_model, 0, 4);
	return s;
}
