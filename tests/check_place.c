/* SPDX-License-Identifier: MIT */
/*
 * Placement: opts.addr maps exactly there and never replaces anything (also
 * where the kernel takes MAP_FIXED_NOREPLACE as a hint: the test build
 * pretends to be such a kernel); opts.align aligns mmapkit_ptr()'s page at no
 * cost in resident memory or /proc/self/maps lines, so that transparent huge
 * pages can back anonymous and tmpfs mappings.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define MIB ((size_t)1 << 20)
#define GIB ((size_t)1 << 30)

static size_t pg(void)
{
	return mmapkit_page_size();
}

static int place_new(int kind, mmapkit_map **m, const char *path, uint64_t off, size_t len,
		     unsigned flags, void *addr, size_t align)
{
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = kind, .flags = flags, .path = path,
				 .fd = -1, .offset = off, .len = len, .addr = addr,
				 .align = align};

	return mmapkit_map_new(m, &o);
}

/* A free stretch of n bytes, aligned to al: reserved, then given back. */
static unsigned char *free_spot(size_t n, size_t al)
{
	size_t rl = n + al;
	unsigned char *r = mmap(NULL, rl, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
				-1, 0);
	unsigned char *a;

	ck_assert_ptr_ne(r, MAP_FAILED);
	a = (unsigned char *)(((uintptr_t)r + al - 1) / al * al);
	ck_assert_int_eq(munmap(r, rl), 0);
	return a;
}

/* The page-aligned first byte of the handle's pages. */
static unsigned char *first_page(const mmapkit_map *m)
{
	return (unsigned char *)mmapkit_ptr(m) - mmapkit_offset(m) % pg();
}

/* /proc/self/maps lines over the handle's pages and guard pages, and nothing else. */
static int span_lines(const mmapkit_map *m)
{
	size_t g = mmapkit_flags(m) & MMAPKIT_GUARD ? pg() : 0;
	size_t n = (mmapkit_offset(m) % pg() + mmapkit_len(m) + pg() - 1) / pg() * pg();

	return tu_maps_lines(first_page(m) - g, first_page(m) + n + g);
}

static const int kinds[4] = {MMAPKIT_ANON_PRIVATE, MMAPKIT_ANON_SHARED, MMAPKIT_FILE_PRIVATE,
			     MMAPKIT_FILE_SHARED};

/* _i: kind (4) x GUARD (2) x the kernel's MAP_FIXED_NOREPLACE or a hint (2). */
START_TEST(place_addr_free)
{
	int kind = kinds[_i % 4];
	unsigned flags = _i / 4 % 2 ? MMAPKIT_GUARD : 0;
	bool hint = _i >= 8;
	size_t len = 3 * pg() + 5;
	const char *path = tu_kind_is_file(kind) ? tu_file(8 * pg()) : NULL;
	uint64_t off = tu_kind_is_file(kind) ? pg() + 5 : 0;
	unsigned char *spot = free_spot(len + 4 * pg(), pg()) + 2 * pg();
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;

	if (hint)
		mmapkit__kernel_force(MMAPKIT__F_FIXED_NOREPLACE, 0);
	ck_assert_msg(place_new(kind, &m, path, off, len, flags, spot, 0) == 0, "%s",
		      mmapkit_errmsg());
	mmapkit__kernel_force(MMAPKIT__F_FIXED_NOREPLACE, -1);
	ck_assert_ptr_eq(first_page(m), spot);
	ck_assert_ptr_eq(mmapkit_ptr(m), spot + off % pg());
	if (path) {
		unsigned char *p = mmapkit_ptr(m);

		for (size_t i = 0; i < len; i++)
			TU_BYTE_EQ(p[i], tu_pattern(off + i), i);
	}
	if (flags & MMAPKIT_GUARD) {
		ck_assert(tu_read_faults(spot - 1));
		ck_assert(tu_read_faults(spot + 4 * pg()));
	}
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * An occupant of 4 pages of pattern bytes; the handle asks for a place that
 * overlaps it partly, wholly, or only with its guard page.  _i: kind (4) x
 * how (3) x NOREPLACE or hint (2).
 */
START_TEST(place_addr_occupied)
{
	int kind = kinds[_i % 4], how = _i / 4 % 3;
	bool hint = _i >= 12;
	size_t on = 4 * pg(), len = 2 * pg();
	const char *path = tu_kind_is_file(kind) ? tu_file(8 * pg()) : NULL;
	uint64_t off = tu_kind_is_file(kind) ? pg() : 0;
	unsigned char *occ = mmap(free_spot(on + 8 * pg(), pg()) + 4 * pg(), on,
				  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
	unsigned char *want = malloc(on), *addr;
	unsigned flags = 0;
	struct tu_snap s;
	mmapkit_map *m = (mmapkit_map *)&m;
	int r;

	ck_assert_ptr_ne(occ, MAP_FAILED);
	ck_assert_ptr_nonnull(want);
	tu_fill_pattern(want, 0, on);
	memcpy(occ, want, on);
	switch (how) {
	case 0: /* partly: the handle's last page is the occupant's first */
		addr = occ - len + pg();
		break;
	case 1: /* wholly inside it */
		addr = occ + pg();
		break;
	default: /* only the front guard page lands on the occupant's last page */
		addr = occ + on;
		flags = MMAPKIT_GUARD;
		break;
	}
	s = tu_snap();
	if (hint)
		mmapkit__kernel_force(MMAPKIT__F_FIXED_NOREPLACE, 0);
	r = place_new(kind, &m, path, off, len, flags, addr, 0);
	mmapkit__kernel_force(MMAPKIT__F_FIXED_NOREPLACE, -1);
	ck_assert_msg(r == -EEXIST, "%s, case %d: %d (%s)", tu_kind_name(kind), how, r,
		      mmapkit_errmsg());
	ck_assert_ptr_null(m);
	tu_assert_errmsg("mmapkit_map_new", TU_NUMS("already"), "occupied addr");
	TU_ASSERT_NO_LEAK(s);
	/* The occupant: the same mapping, every byte as it was, still writable. */
	ck_assert_int_eq(tu_maps_lines(occ, occ + on), 1);
	ck_assert_mem_eq(occ, want, on);
	occ[0] ^= 1;
	/* The same place with the occupant gone: taken as asked. */
	ck_assert_int_eq(munmap(occ, on), 0);
	ck_assert_int_eq(place_new(kind, &m, path, off, len, flags, addr, 0), 0);
	ck_assert_ptr_eq(first_page(m), addr);
	mmapkit_unmap(m);
	free(want);
}
END_TEST

/*
 * addr on another handle's guard page (light: a marker inside its mapping;
 * old path: a mapping of its own): -EEXIST, and that handle keeps its bytes
 * and its guard.  _i: light or old path x NOREPLACE or hint, x front or back.
 */
START_TEST(place_addr_on_guard)
{
	bool old = _i % 2, hint = _i / 2 % 2, front = _i >= 4;
	size_t len = 2 * pg();
	struct tu_snap s;
	mmapkit_map *g = NULL, *m = (mmapkit_map *)&m;
	unsigned char *p, *want = malloc(len), *addr;
	int r;

	ck_assert_ptr_nonnull(want);
	if (old)
		mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	ck_assert_int_eq(mmapkit_anon_private(&g, len, MMAPKIT_GUARD), 0);
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
	p = mmapkit_ptr(g);
	tu_fill_pattern(want, 0, len);
	memcpy(p, want, len);
	/* the new mapping's last page on the front guard, or its first on the back one */
	addr = front ? p - len : p + len;
	s = tu_snap();
	if (hint)
		mmapkit__kernel_force(MMAPKIT__F_FIXED_NOREPLACE, 0);
	r = place_new(MMAPKIT_ANON_PRIVATE, &m, NULL, 0, len, 0, addr, 0);
	mmapkit__kernel_force(MMAPKIT__F_FIXED_NOREPLACE, -1);
	ck_assert_msg(r == -EEXIST, "%s path, %s guard: %d (%s)", old ? "old" : "light",
		      front ? "front" : "back", r, mmapkit_errmsg());
	ck_assert_ptr_null(m);
	TU_ASSERT_NO_LEAK(s);
	ck_assert_mem_eq(p, want, len);
	ck_assert(tu_read_faults(p - 1));
	ck_assert(tu_read_faults(p + len));
	mmapkit_unmap(g);
	free(want);
}
END_TEST

/* Refused before any system call: unaligned addr, bad align, incongruent file offsets. */
START_TEST(place_refusals)
{
	const char *path = tu_file(4 * pg());
	unsigned char *spot = free_spot(4 * pg(), 2 * MIB);
	mmapkit_map *m = (mmapkit_map *)&m;
	const struct {
		int kind;
		uint64_t off;
		void *addr;
		size_t align;
		const char *part;
	} bad[] = {
		{MMAPKIT_ANON_PRIVATE, 0, spot + 1, 0, "page size"},
		{MMAPKIT_FILE_SHARED, 0, spot + pg() / 2, 0, "page size"},
		{MMAPKIT_ANON_SHARED, 0, NULL, 3, "power of two"},
		{MMAPKIT_ANON_PRIVATE, 0, NULL, pg() / 2, "power of two"},
		{MMAPKIT_ANON_PRIVATE, 0, NULL, pg() + 1, "power of two"},
		{MMAPKIT_ANON_PRIVATE, 0, NULL, (size_t)1 << 63, "address space"},
		{MMAPKIT_ANON_PRIVATE, 0, spot + pg(), 2 * MIB, "multiple of align"},
		{MMAPKIT_FILE_PRIVATE, pg(), NULL, 2 * MIB, "multiple of align"},
		{MMAPKIT_FILE_SHARED, 2 * pg() + 7, NULL, 4 * pg(), "multiple of align"},
	};

	for (size_t i = 0; i < TU_LEN(bad); i++) {
		struct tu_snap s = tu_snap();
		const char *fp = tu_kind_is_file(bad[i].kind) ? path : NULL;

		mmapkit__fault_reset();
		ck_assert_int_eq(place_new(bad[i].kind, &m, fp, bad[i].off, pg(), 0, bad[i].addr,
					   bad[i].align),
				 -EINVAL);
		ck_assert_msg(mmapkit__fault_total() == 0, "case %zu: %u system calls", i,
			      mmapkit__fault_total());
		ck_assert_ptr_null(m);
		tu_assert_errmsg("mmapkit_map_new", TU_NUMS(bad[i].part), "bad placement");
		TU_ASSERT_NO_LEAK(s);
		m = (mmapkit_map *)&m;
	}
	/* HUGETLB: addr must be a multiple of the huge page size (checked after reading it) */
	ck_assert_int_eq(place_new(MMAPKIT_ANON_PRIVATE, &m, NULL, 0, pg(), MMAPKIT_HUGETLB,
				   spot + pg(), 0),
			 -EINVAL);
	tu_assert_errmsg("mmapkit_map_new", TU_NUMS("huge page size"), "hugetlb addr");
	/* A congruent file offset is fine, the range itself need not start on the page. */
	ck_assert_int_eq(place_new(MMAPKIT_FILE_SHARED, &m, path, 9, pg(), 0, NULL, 4 * pg()), 0);
	ck_assert_uint_eq((uintptr_t)first_page(m) % (4 * pg()), 0);
	mmapkit_unmap(m);
}
END_TEST

/*
 * align 2 MiB and 1 GiB, every kind, with and without GUARD: the page is
 * aligned, nothing is resident before a touch, and the process has exactly
 * as many mapping lines as with an unaligned mapping of the same length.
 * _i: kind (4) x align (2) x GUARD (2).
 */
START_TEST(place_align)
{
	int kind = kinds[_i % 4];
	size_t align = _i / 4 % 2 ? GIB : 2 * MIB;
	unsigned flags = _i >= 8 ? MMAPKIT_GUARD : 0;
	size_t len = 3 * pg() + 100;
	const char *path = tu_kind_is_file(kind) ? tu_file(8 * pg()) : NULL;
	/* a file range whose first page is at offset 0: congruent with any alignment */
	uint64_t off = tu_kind_is_file(kind) ? 100 : 0;
	struct tu_snap s = tu_snap();
	mmapkit_map *u = NULL, *m = NULL;
	int lines_u, lines_a;

	ck_assert_int_eq(place_new(kind, &u, path, off, len, flags, NULL, 0), 0);
	lines_u = span_lines(u);
	mmapkit_unmap(u);
	ck_assert_msg(place_new(kind, &m, path, off, len, flags, NULL, align) == 0, "%s",
		      mmapkit_errmsg());
	ck_assert_uint_eq((uintptr_t)first_page(m) % align, 0);
	ck_assert_ptr_eq(mmapkit_ptr(m), first_page(m) + off);
	lines_a = span_lines(m);
	ck_assert_int_eq(lines_a, lines_u);
	/* and no leftover of the alignment reservation anywhere (at most: merged with a neighbour) */
	if (tu_maps_reliable())
		ck_assert_int_le(tu_count_maps() - s.maps, lines_a);
	/* no more memory than the unaligned mapping: none until touched */
	if (!tu_kind_is_file(kind))
		ck_assert_uint_eq(tu_resident_pages(first_page(m), 4 * pg()), 0);
	((volatile unsigned char *)mmapkit_ptr(m))[len - 1] = 7;
	if (path)
		TU_BYTE_EQ(((unsigned char *)mmapkit_ptr(m))[0], tu_pattern(off), 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* THP "never" or no THP at all: the huge-page tests say so and skip. */
static bool thp_mode(const char *file, const char *want_any)
{
	char buf[256] = "", path[128];
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", file);
	f = fopen(path, "re");
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = '\0';
		fclose(f);
	}
	for (const char *w = want_any; *w; w += strlen(w) + 1)
		if (strstr(buf, w))
			return true;
	printf("place: %s is \"%.*s\": huge-page check skipped\n", path,
	       (int)strcspn(buf, "\n"), buf);
	return false;
}

/* MMAPKIT_THP + align 2 MiB on anonymous private memory: huge pages after touching. */
START_TEST(place_thp_anon)
{
	size_t len = 4 * MIB;
	mmapkit_map *m = NULL;
	unsigned char *p;

	if (!thp_mode("enabled", "[always]\0[madvise]\0"))
		return;
	ck_assert_int_eq(place_new(MMAPKIT_ANON_PRIVATE, &m, NULL, 0, len, MMAPKIT_THP, NULL,
				   2 * MIB),
			 0);
	p = mmapkit_ptr(m);
	ck_assert_uint_eq((uintptr_t)p % (2 * MIB), 0);
	for (size_t i = 0; i < len; i += pg())
		p[i] = 1;
	ck_assert_int_gt(tu_smaps_kb(p, "AnonHugePages"), 0);
	mmapkit_unmap(m);
}
END_TEST

/*
 * A file on a tmpfs mounted huge=always, mapped shared with align 2 MiB:
 * PMD-mapped after reading it.  The mount point is the test's own; the child
 * does the mapping, so that the parent unmounts on every path.
 */
struct tmpfs_job {
	const char *file;
	size_t len;
	unsigned flags;
};

static volatile unsigned char tmpfs_sink;

static void tmpfs_child(void *arg)
{
	const struct tmpfs_job *j = arg;
	mmapkit_map *m = NULL, *u = NULL;
	unsigned char *p;
	long pmd;

	TU_CHILD_OK(place_new(MMAPKIT_FILE_SHARED, &m, j->file, 0, j->len, j->flags, NULL,
			      2 * MIB) == 0);
	p = mmapkit_ptr(m);
	TU_CHILD_OK((uintptr_t)p % (2 * MIB) == 0);
	for (size_t i = 0; i < j->len; i += 4096)
		tmpfs_sink = p[i];
	pmd = tu_smaps_kb(p, "ShmemPmdMapped") + tu_smaps_kb(p, "FilePmdMapped");
	if (pmd <= 0)
		fprintf(stderr, "ShmemPmdMapped + FilePmdMapped = %ld kB\n", pmd);
	TU_CHILD_OK(pmd > 0);
	/* the same mapping lines as without align */
	TU_CHILD_OK(place_new(MMAPKIT_FILE_SHARED, &u, j->file, 0, j->len, j->flags, NULL, 0) == 0);
	TU_CHILD_OK(span_lines(m) == span_lines(u));
	mmapkit_unmap(u);
	mmapkit_unmap(m);
	_exit(0);
}

START_TEST(place_tmpfs_huge)
{
	char dir[] = "/tmp/mmapkit-hugetmpfs-XXXXXX", file[64];
	struct tmpfs_job j = {file, 4 * MIB, _i ? MMAPKIT_GUARD : 0};
	unsigned char *buf;
	int fd, st;

	if (geteuid() != 0) {
		printf("place: not root: tmpfs huge=always check skipped\n");
		return;
	}
	ck_assert_ptr_nonnull(mkdtemp(dir));
	if (mount("mmapkit-huge", dir, "tmpfs", 0, "huge=always,size=16m") != 0) {
		printf("place: mount tmpfs huge=always: %s: check skipped\n", strerror(errno));
		rmdir(dir);
		return;
	}
	snprintf(file, sizeof(file), "%s/data", dir);
	buf = malloc(j.len);
	fd = open(file, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (buf && fd >= 0) {
		tu_fill_pattern(buf, 0, j.len);
		if (write(fd, buf, j.len) == (ssize_t)j.len)
			st = tu_child(tmpfs_child, &j);
		else
			st = -1;
	} else {
		st = -1;
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	unlink(file);
	ck_assert_int_eq(umount(dir), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
}
END_TEST

Suite *suite_place(void)
{
	Suite *s = suite_create("place");
	TCase *tc = tu_tcase(s, "addr", 0);

	tcase_add_loop_test(tc, place_addr_free, 0, 16);
	tcase_add_loop_test(tc, place_addr_occupied, 0, 24);
	tcase_add_loop_test(tc, place_addr_on_guard, 0, 8);
	tcase_add_test(tc, place_refusals);
	tc = tu_tcase(s, "align", 60);
	tcase_add_loop_test(tc, place_align, 0, 16);
	tcase_add_test(tc, place_thp_anon);
	tcase_add_loop_test(tc, place_tmpfs_huge, 0, 2);
	return s;
}
