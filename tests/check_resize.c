/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_resize: every kind grows and shrinks, in place and by moving, with
 * and without guard pages; the bytes kept are kept byte for byte, pages kept
 * keep their attributes, new pages get the constructor's, guards follow the
 * end, the file grows only with MMAPKIT_GROW, and a refused resize (NOMOVE,
 * a range past the end of the file) changes nothing.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define FILE_PAGES 16

static size_t pg(void)
{
	return mmapkit_page_size();
}

static const int kinds[] = {MMAPKIT_ANON_PRIVATE, MMAPKIT_ANON_SHARED, MMAPKIT_FILE_PRIVATE,
			    MMAPKIT_FILE_SHARED};

struct rfx {
	int kind;
	unsigned flags;
	const char *path;
	mmapkit_map *m;
};

static void rfx_open(struct rfx *f, int kind, size_t len, unsigned flags)
{
	int r;

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->flags = flags;
	if (tu_kind_is_file(kind))
		f->path = tu_file(FILE_PAGES * pg());
	r = tu_map_kind(kind, &f->m, f->path, 0, len, flags);
	ck_assert_msg(r == 0, "%s: %d: %s", tu_kind_name(kind), r, mmapkit_errmsg());
}

static void rfx_close(struct rfx *f)
{
	mmapkit_unmap(f->m);
	if (f->path)
		unlink(f->path);
}

/* What byte i of a page wholly added by a grow must hold: zero, or the file's byte. */
static void expect_new(const struct rfx *f, size_t from, size_t to)
{
	const unsigned char *p = mmapkit_ptr(f->m);
	unsigned char *want = calloc(1, to - from);

	ck_assert_ptr_nonnull(want);
	if (f->path)
		tu_pread(f->path, from, want, to - from);
	for (size_t i = from; i < to; i++)
		TU_BYTE_EQ(p[i], want[i - from], i);
	free(want);
}

static void expect_bytes(const struct rfx *f, const unsigned char *want, size_t n)
{
	const unsigned char *p = mmapkit_ptr(f->m);

	for (size_t i = 0; i < n; i++)
		TU_BYTE_EQ(p[i], want[i], i);
}

/* The guard pages around the handle's pages are there and inaccessible. */
static void expect_guards(const struct rfx *f)
{
	unsigned char *lo = mmapkit_ptr(f->m);
	size_t n = (mmapkit_len(f->m) + pg() - 1) / pg() * pg();
	char perms[5];

	/*
	 * "---p"; before 6.12 a shrink's guard is the handle's own page made
	 * inaccessible; a light guard (6.13) lies inside the pages' VMA, until a
	 * resize puts a guard mapping of its own in its place.
	 */
	tu_perms(lo - pg(), perms);
	ck_assert_msg(strcmp(perms, "---p") == 0 || tu_same_mapping(lo - pg(), lo),
		      "guard before the start: %s", perms);
	tu_perms(lo + n, perms);
	ck_assert_msg(strncmp(perms, "---", 3) == 0 || tu_same_mapping(lo + n - 1, lo + n),
		      "guard after the end: %s", perms);
	if (tu_fault_probes_work()) {
		ck_assert(tu_read_faults(lo - 1));
		ck_assert(tu_read_faults(lo + n));
	}
}

/* A page-sized mapping of our own at addr, or NULL if something is there. */
static void *block_at(void *addr)
{
	void *p = mmap(addr, pg(), PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	if (p != addr) {
		munmap(p, pg());
		return NULL;
	}
	return p;
}

/*
 * 8 pages, shrunk to 2 pages + 100 bytes, grown in place (NOMOVE) to 5
 * pages, refused (NOMOVE) to 10 pages behind a blocker, then grown to 10 by
 * moving: bytes kept, new pages zero or the file's, guards after the end.
 */
START_TEST(grow_shrink)
{
	int kind = kinds[_i / 2];
	unsigned flags = _i % 2 ? MMAPKIT_GUARD : 0;
	size_t g = flags ? pg() : 0, keep = 2 * pg() + 100;
	struct tu_snap s = tu_snap();
	unsigned char *p, *old, *copy;
	void *blocker;
	struct rfx f;
	bool in_place;
	int maps, r;

	rfx_open(&f, kind, 8 * pg(), flags);
	p = mmapkit_ptr(f.m);
	for (size_t i = 0; i < 8 * pg(); i++)
		p[i] = tu_other(i);
	copy = malloc(10 * pg());
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, p, 8 * pg());

	ck_assert_int_eq(mmapkit_resize(f.m, keep, 0), 0);
	ck_assert_ptr_eq(mmapkit_ptr(f.m), p);
	ck_assert_uint_eq(mmapkit_len(f.m), keep);
	expect_bytes(&f, copy, keep);
	if (f.path) /* shrinking never changes the file */
		ck_assert_uint_eq(tu_file_size(f.path), FILE_PAGES * pg());
	if (flags)
		expect_guards(&f);

	/*
	 * The pages after it are free now: it grows where it is (before 6.12 a
	 * guarded one moves: the move over its old guard could unmap that).
	 */
	in_place = !flags || mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST);
	r = mmapkit_resize(f.m, 5 * pg(), in_place ? MMAPKIT_RESIZE_NOMOVE : 0);
	ck_assert_msg(r == 0, "%s: grow in place: %d: %s", tu_kind_name(kind), r, mmapkit_errmsg());
	if (in_place)
		ck_assert_ptr_eq(mmapkit_ptr(f.m), p);
	p = mmapkit_ptr(f.m);
	expect_bytes(&f, copy, keep);
	expect_new(&f, 3 * pg(), 5 * pg());
	if (flags)
		expect_guards(&f);
	p[5 * pg() - 1] = 0x5a; /* writable to the last byte */
	copy[5 * pg() - 1] = 0x5a;
	memcpy(copy + keep, p + keep, 5 * pg() - keep);

	/* something right after (past the guard): NOMOVE cannot grow, and changes nothing */
	blocker = block_at(p + 5 * pg() + g); /* NULL: something is there already */
	maps = tu_count_maps();
	r = mmapkit_resize(f.m, 10 * pg(), MMAPKIT_RESIZE_NOMOVE);
	ck_assert_int_eq(r, -ENOMEM);
	tu_assert_errmsg("mmapkit_resize", TU_NUMS("MMAPKIT_RESIZE_NOMOVE"), "NOMOVE");
	ck_assert_ptr_eq(mmapkit_ptr(f.m), p);
	ck_assert_uint_eq(mmapkit_len(f.m), 5 * pg());
	expect_bytes(&f, copy, 5 * pg());
	ck_assert_int_eq(tu_count_maps(), maps);
	if (flags)
		expect_guards(&f);
	if (f.path)
		ck_assert_uint_eq(tu_file_size(f.path), FILE_PAGES * pg());

	/* without NOMOVE it moves, and the old place is released */
	old = p;
	r = mmapkit_resize(f.m, 10 * pg(), 0);
	ck_assert_msg(r == 0, "%s: grow by moving: %d: %s", tu_kind_name(kind), r, mmapkit_errmsg());
	p = mmapkit_ptr(f.m);
	ck_assert_ptr_ne(p, old);
	ck_assert_uint_eq(mmapkit_len(f.m), 10 * pg());
	expect_bytes(&f, copy, 5 * pg());
	expect_new(&f, 5 * pg(), 10 * pg());
	if (flags)
		expect_guards(&f);
	memset(p + 9 * pg(), 0x33, pg());
	if (kind == MMAPKIT_FILE_SHARED) { /* the pages map the file, both old and new */
		unsigned char b[2];

		tu_pread(f.path, 5 * pg() - 1, &b[0], 1);
		tu_pread(f.path, 9 * pg(), &b[1], 1);
		ck_assert_uint_eq(b[0], 0x5a);
		ck_assert_uint_eq(b[1], 0x33);
	}
	if (blocker)
		ck_assert_int_eq(munmap(blocker, pg()), 0);
	rfx_close(&f);
	free(copy);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

static bool vmflag(const void *addr, const char *code)
{
	return tu_has_vmflag(addr, code);
}

/*
 * Pages kept keep protection, lock and advice; pages added get the
 * constructor's (locked, DONTDUMP), not those of the last page.
 */
START_TEST(attributes)
{
	int kind = kinds[_i / 2];
	unsigned flags = MMAPKIT_LOCK | MMAPKIT_DONTDUMP | (_i % 2 ? MMAPKIT_GUARD : 0);
	struct tu_snap s = tu_snap();
	unsigned char *p;
	char perms[5];
	struct rfx f;

	if (tu_skip_mremap_across("resize attributes: moving pages of different protections"))
		return;
	rfx_open(&f, kind, 4 * pg(), flags);
	ck_assert_int_eq(mmapkit_protect(f.m, pg(), pg(), MMAPKIT_PROT_READ), 0);
	ck_assert_int_eq(mmapkit_advise(f.m, 3 * pg(), pg(), MMAPKIT_ADV_RANDOM), 0);
	ck_assert_int_eq(mmapkit_protect(f.m, 3 * pg(), pg(), MMAPKIT_PROT_READ), 0);
	ck_assert_int_eq(mmapkit_resize(f.m, 8 * pg(), 0), 0);
	p = mmapkit_ptr(f.m);
	tu_perms(p, perms);
	ck_assert_str_eq(perms, tu_kind_is_shared(kind) ? "rw-s" : "rw-p");
	tu_perms(p + pg(), perms);
	ck_assert_str_eq(perms, tu_kind_is_shared(kind) ? "r--s" : "r--p");
	ck_assert(vmflag(p + 3 * pg(), "rr"));
	tu_perms(p + 3 * pg(), perms);
	ck_assert_str_eq(perms, tu_kind_is_shared(kind) ? "r--s" : "r--p");
	for (size_t k = 0; k < 8; k++) {
		ck_assert_msg(vmflag(p + k * pg(), "lo"), "page %zu not locked", k);
		ck_assert_msg(vmflag(p + k * pg(), "dd"), "page %zu not DONTDUMP", k);
	}
	for (size_t k = 4; k < 8; k++) {
		tu_perms(p + k * pg(), perms);
		ck_assert_str_eq(perms, tu_kind_is_shared(kind) ? "rw-s" : "rw-p");
		ck_assert_msg(!vmflag(p + k * pg(), "rr"), "new page %zu took RANDOM", k);
	}
	ck_assert_uint_eq(tu_resident_pages(p, 8 * pg()), 8); /* locked: faulted in */
	memset(p + 4 * pg(), 0x11, 4 * pg());
	if (flags & MMAPKIT_GUARD)
		expect_guards(&f);
	/* shrink: what stays keeps its attributes */
	ck_assert_int_eq(mmapkit_resize(f.m, 2 * pg(), 0), 0);
	tu_perms(p + pg(), perms);
	ck_assert_str_eq(perms, tu_kind_is_shared(kind) ? "r--s" : "r--p");
	ck_assert(vmflag(p, "lo"));
	/* the handle's records follow: punch and revert still rebuild page 1 exactly */
	if (tu_kind_is_private(kind)) {
		ck_assert_int_eq(mmapkit_protect(f.m, pg(), pg(), MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE), 0);
		ck_assert_int_eq(mmapkit_punch(f.m, pg(), pg()), 0);
		ck_assert(vmflag(p + pg(), "lo"));
		ck_assert(vmflag(p + pg(), "dd"));
	}
	rfx_close(&f);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* File kinds: past the end of the file only with MMAPKIT_GROW; the file never shrinks. */
START_TEST(file_growth)
{
	int kind = _i ? MMAPKIT_FILE_SHARED : MMAPKIT_FILE_PRIVATE;
	struct tu_snap s = tu_snap();
	const char *path = tu_file(2 * pg());
	struct tu_fstate was;
	unsigned char *p;
	mmapkit_map *m;
	int r;

	ck_assert_int_eq(tu_map_kind(kind, &m, path, 7, 2 * pg() - 7, 0), 0);
	p = mmapkit_ptr(m);
	was = tu_fstate_take(path);
	ck_assert_int_eq(mmapkit_resize(m, 4 * pg(), 0), -ERANGE);
	tu_assert_errmsg("mmapkit_resize", TU_NUMS("MMAPKIT_GROW", tu_num(2 * pg())), "past end");
	ck_assert_ptr_eq(mmapkit_ptr(m), p);
	ck_assert_uint_eq(mmapkit_len(m), 2 * pg() - 7);
	/* a private handle made without GROW holds a read-only descriptor */
	r = mmapkit_resize(m, 4 * pg(), MMAPKIT_GROW);
	if (kind == MMAPKIT_FILE_PRIVATE) {
		ck_assert_int_eq(r, -EACCES);
		tu_fstate_check(path, &was, "GROW refused");
		mmapkit_unmap(m);
		ck_assert_int_eq(tu_map_kind(kind, &m, path, 7, 2 * pg() - 7, MMAPKIT_GROW), 0);
		r = mmapkit_resize(m, 4 * pg(), MMAPKIT_GROW);
	} else {
		tu_fstate_free(&was);
	}
	ck_assert_msg(r == 0, "%d: %s", r, mmapkit_errmsg());
	ck_assert_uint_eq(tu_file_size(path), 7 + 4 * pg());
	p = mmapkit_ptr(m);
	for (size_t i = 2 * pg() - 7; i < 4 * pg(); i++)
		TU_BYTE_EQ(p[i], 0, i);
	p[4 * pg() - 1] = 0x42;
	if (kind == MMAPKIT_FILE_SHARED) {
		unsigned char b;

		tu_pread(path, 7 + 4 * pg() - 1, &b, 1);
		ck_assert_uint_eq(b, 0x42);
	}
	ck_assert_int_eq(mmapkit_resize(m, 10, 0), 0);
	ck_assert_uint_eq(tu_file_size(path), 7 + 4 * pg());
	ck_assert_uint_eq(mmapkit_len(m), 10);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* An empty file's handle grows into a mapping with guards. */
START_TEST(from_empty)
{
	struct tu_snap s = tu_snap();
	const char *path = tu_file(0);
	struct rfx f = {.kind = MMAPKIT_FILE_SHARED, .path = path};

	ck_assert_int_eq(mmapkit_file_shared(&f.m, path, 0, 0, MMAPKIT_GUARD | MMAPKIT_GROW), 0);
	ck_assert_uint_eq(mmapkit_len(f.m), 0);
	ck_assert_int_eq(mmapkit_resize(f.m, 3 * pg(), MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(path), 3 * pg());
	expect_new(&f, 0, 3 * pg());
	expect_guards(&f);
	memset(mmapkit_ptr(f.m), 7, 3 * pg());
	rfx_close(&f);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * A shrink of MMAPKIT_SECURE memory that fails: the pages it wiped first read
 * zeros (mmapkit_resize(3)), but keep the protection they had (pages made
 * read-only by mmapkit_protect stay read-only), and the handle its length.
 */
START_TEST(secure_shrink_refused)
{
	struct tu_snap s = tu_snap();
	bool first = mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST);
	unsigned char *p;
	mmapkit_map *m;
	char perms[5];

	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * pg(), MMAPKIT_SECURE), 0);
	p = mmapkit_ptr(m);
	memset(p, 0x5a, 4 * pg());
	ck_assert_int_eq(mmapkit_protect(m, 2 * pg(), 2 * pg(), MMAPKIT_PROT_READ), 0);
	/* the guard page made aside (checks-first kernels), or the release past it (6.1) */
	mmapkit__fault_arm(first ? MMAPKIT__SYS_MMAP : MMAPKIT__SYS_MUNMAP, 1, ENOMEM);
	ck_assert_int_eq(mmapkit_resize(m, pg(), 0), -ENOMEM);
	ck_assert(mmapkit__fault_fired());
	mmapkit__fault_reset();
	ck_assert_uint_eq(mmapkit_len(m), 4 * pg());
	ck_assert_ptr_eq(mmapkit_ptr(m), p);
	TU_BYTE_EQ(p[0], 0x5a, 0);
	tu_perms(p, perms);
	ck_assert_str_eq(perms, "rw-p");
	for (size_t k = 2; k < 4; k++) {
		tu_perms(p + k * pg(), perms);
		ck_assert_msg(strcmp(perms, "r--p") == 0, "page %zu: %s, not r--p", k, perms);
	}
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

START_TEST(refusals)
{
	struct tu_snap s = tu_snap();
	const char *path = tu_file(2 * pg());
	mmapkit_map *m, *ro;

	ck_assert_int_eq(mmapkit_resize(NULL, pg(), 0), -EINVAL);
	ck_assert_int_eq(mmapkit_anon_private(&m, pg(), 0), 0);
	ck_assert_int_eq(mmapkit_resize(m, 0, 0), -EINVAL);
	tu_assert_errmsg("mmapkit_resize", TU_NUMS("new_len 0"), "new_len 0");
	ck_assert_int_eq(mmapkit_resize(m, pg(), 0x100), -EINVAL);
	tu_assert_errmsg("mmapkit_resize", TU_NUMS("0x100"), "unknown flags");
	ck_assert_int_eq(mmapkit_resize(m, pg(), MMAPKIT_GROW), -EINVAL);
	ck_assert_int_eq(mmapkit_resize(m, PTRDIFF_MAX, 0), -EOVERFLOW);
	ck_assert_int_eq(mmapkit_resize(m, SIZE_MAX, 0), -EOVERFLOW);
	ck_assert_uint_eq(mmapkit_len(m), pg());
	ck_assert_int_eq(mmapkit_file_private(&ro, path, 0, 0, MMAPKIT_RDONLY), 0);
	ck_assert_int_eq(mmapkit_resize(ro, 4 * pg(), MMAPKIT_GROW), -EACCES);
	ck_assert_uint_eq(tu_file_size(path), 2 * pg());
	/* same length, and a length within the last page: no system call */
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_resize(m, pg(), 0), 0);
	ck_assert_int_eq(mmapkit_resize(m, 10, 0), 0);
	ck_assert_uint_eq(mmapkit__fault_total(), 0);
	ck_assert_uint_eq(mmapkit_len(m), 10);
	mmapkit_unmap(ro);
	mmapkit_unmap(m);
	/* a ring's two copies cannot part */
	ck_assert_int_eq(mmapkit_ring(&m, 4 * pg(), 0), 0);
	ck_assert_int_eq(mmapkit_resize(m, 8 * pg(), 0), -EINVAL);
	tu_assert_errmsg("mmapkit_resize", TU_NUMS("ring"), "ring");
	ck_assert_uint_eq(mmapkit_len(m), 4 * pg());
	ck_assert_int_eq(mmapkit_name(m, "ring"), -EINVAL);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* The cost: growing a plain mapping is the one mremap a careful caller makes. */
START_TEST(cost)
{
	mmapkit_map *m;

	ck_assert_int_eq(mmapkit_anon_private(&m, pg(), 0), 0);
	for (size_t n = 2 * pg(); n <= 64 * pg(); n *= 2) {
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_resize(m, n, 0), 0);
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MREMAP), 1);
		ck_assert_uint_eq(mmapkit__fault_total(), 1);
	}
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_resize(m, pg(), 0), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MUNMAP), 1);
	ck_assert_uint_eq(mmapkit__fault_total(), 1);
	mmapkit_unmap(m);
}
END_TEST

/*
 * Two pages of 0x21, the second read-only (two VMAs), with a page of ours
 * right after them (*blocker): growing has to move them.
 */
static mmapkit_map *two_vmas_blocked(void **blocker)
{
	mmapkit_map *m;
	unsigned char *p;

	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * pg(), 0), 0);
	p = mmapkit_ptr(m);
	memset(p, 0x21, 4 * pg());
	ck_assert_int_eq(mmapkit_protect(m, pg(), pg(), MMAPKIT_PROT_READ), 0);
	ck_assert_int_eq(mmapkit_resize(m, 2 * pg(), 0), 0);
	*blocker = block_at(p + 2 * pg());
	ck_assert_ptr_nonnull(*blocker);
	return m;
}

/* Their bytes and protections, wherever they are now. */
static void two_vmas_kept(const unsigned char *p)
{
	char perms[5];

	for (size_t i = 0; i < 2 * pg(); i++)
		TU_BYTE_EQ(p[i], 0x21, i);
	tu_perms(p + pg(), perms);
	ck_assert_str_eq(perms, "r--p");
}

/*
 * Kernels before 6.17 move one VMA per mremap (EFAULT for more): moving
 * pages of different protections then goes half by half.
 */
START_TEST(move_per_vma)
{
	struct tu_snap s = tu_snap();
	unsigned char *p, *old;
	void *blocker;
	mmapkit_map *m;
	char perms[5];

	if (tu_skip_mremap_across("resize move_per_vma"))
		return;
	if (!mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA)) {
		printf("resize: move_per_vma: skipped: the kernel (model) moves one VMA per call, so no call over several is made; move_on_6_1 covers it\n");
		return;
	}
	m = two_vmas_blocked(&blocker);
	old = p = mmapkit_ptr(m);
	mmapkit__fault_arm(MMAPKIT__SYS_MREMAP, 1, EFAULT); /* the one call over both VMAs */
	ck_assert_int_eq(mmapkit_resize(m, 6 * pg(), 0), 0);
	ck_assert(mmapkit__fault_fired());
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MREMAP), 3);
	mmapkit__fault_reset();
	p = mmapkit_ptr(m);
	ck_assert_ptr_ne(p, old);
	two_vmas_kept(p);
	tu_perms(p + 2 * pg(), perms);
	ck_assert_str_eq(perms, "rw-p");
	ck_assert_int_eq(munmap(blocker, pg()), 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * The 6.1 model of the test build (a failing mremap unmaps its destination
 * first; one VMA per call): a mapping of two VMAs moves stretch by stretch,
 * never by a call over both; a failure of the second move puts the first
 * back, and nothing changed.
 */
START_TEST(move_on_6_1)
{
	struct tu_snap s = tu_snap();
	unsigned char *p, *old;
	void *blocker;
	mmapkit_map *m;
	int r;

	if (tu_skip_mremap_across("resize move_on_6_1"))
		return;
	m = two_vmas_blocked(&blocker);
	old = p = mmapkit_ptr(m);
	mmapkit__kernel_pretend(6, 1);
	mmapkit__fault_arm(MMAPKIT__SYS_MREMAP, 2, ENOMEM);
	r = mmapkit_resize(m, 6 * pg(), 0);
	ck_assert_int_eq(r, -ENOMEM);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MREMAP), 3); /* 2 forth, 1 back */
	ck_assert_ptr_eq(mmapkit_ptr(m), old);
	two_vmas_kept(p);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_resize(m, 6 * pg(), 0), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MREMAP), 2); /* one per VMA */
	mmapkit__kernel_pretend(0, 0);
	p = mmapkit_ptr(m);
	ck_assert_ptr_ne(p, old);
	two_vmas_kept(p);
	ck_assert_int_eq(munmap(blocker, pg()), 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * The 6.1 model with guards: the first page past the new end becomes the
 * guard in place (no call that could unmap the handle's pages), a grow moves
 * (never over the old guard); both keep the bytes and the guards.
 */
START_TEST(guard_on_6_1)
{
	int kind = kinds[_i];
	struct tu_snap s = tu_snap();
	unsigned char *p, *copy = malloc(8 * pg());
	struct rfx f;
	char perms[5];

	ck_assert_ptr_nonnull(copy);
	rfx_open(&f, kind, 8 * pg(), MMAPKIT_GUARD | MMAPKIT_LOCK);
	p = mmapkit_ptr(f.m);
	for (size_t i = 0; i < 8 * pg(); i++)
		p[i] = tu_other(i);
	memcpy(copy, p, 8 * pg());
	mmapkit__kernel_pretend(6, 1);
	/* the munmap failing: the page past the end gets its protection back */
	mmapkit__fault_arm(MMAPKIT__SYS_MUNMAP, 1, ENOMEM);
	ck_assert_int_eq(mmapkit_resize(f.m, 3 * pg(), 0), -ENOMEM);
	mmapkit__fault_reset();
	tu_perms(p + 3 * pg(), perms);
	ck_assert_str_eq(perms, tu_kind_is_shared(kind) ? "rw-s" : "rw-p");
	ck_assert_int_eq(mmapkit_resize(f.m, 3 * pg(), 0), 0);
	ck_assert_ptr_eq(mmapkit_ptr(f.m), p);
	tu_perms(p + 3 * pg(), perms);
	ck_assert(strncmp(perms, "---", 3) == 0);
	if (tu_fault_probes_work())
		ck_assert(tu_read_faults(p + 3 * pg()));
	ck_assert_int_eq(mmapkit_resize(f.m, 6 * pg(), MMAPKIT_RESIZE_NOMOVE), -ENOMEM);
	ck_assert_int_eq(mmapkit_resize(f.m, 6 * pg(), 0), 0);
	mmapkit__kernel_pretend(0, 0);
	expect_bytes(&f, copy, 3 * pg());
	expect_new(&f, 3 * pg(), 6 * pg());
	expect_guards(&f);
	rfx_close(&f);
	free(copy);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- shared anonymous memory and fork() ---- */

static int go[2], back[2];

/*
 * Forked before the grow: keeps the length it inherited, and still shares
 * the pages both have.
 */
static void before_child(void *arg)
{
	mmapkit_map *m = arg;
	volatile unsigned char *p = mmapkit_ptr(m);
	char c;

	TU_CHILD_OK(read(go[0], &c, 1) == 1);
	TU_CHILD_OK(mmapkit_len(m) == 2 * pg());
	TU_CHILD_OK(p[0] == 0x77); /* written by the parent after its grow */
	p[1] = 0x78;
}

START_TEST(anon_shared_fork)
{
	struct tu_snap s = tu_snap();
	volatile unsigned char *p;
	unsigned char *old;
	mmapkit_map *m;
	pid_t pid;
	int st;

	ck_assert_int_eq(mmapkit_anon_shared(&m, 2 * pg(), 0), 0);
	old = mmapkit_ptr(m);
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(back), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(10);
		before_child(m);
		_exit(0);
	}
	ck_assert_int_eq(mmapkit_resize(m, 5 * pg(), 0), 0);
	p = mmapkit_ptr(m);
	p[0] = 0x77;
	p[4 * pg()] = 0x44; /* the new pages are memory, no SIGBUS */
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(TU_EXITED(st, 0), "child before the grow: status %d", st);
	ck_assert_uint_eq(p[1], 0x78);
	/* a child forked after the grow shares the new pages too */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		p[4 * pg() + 1] = 0x45;
		p[2] = 0x46;
		_exit(p[4 * pg()] == 0x44 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(TU_EXITED(st, 0));
	ck_assert_uint_eq(p[4 * pg() + 1], 0x45);
	ck_assert_uint_eq(p[2], 0x46);
	(void)old;
	close(go[0]);
	close(go[1]);
	close(back[0]);
	close(back[1]);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

Suite *suite_resize(void)
{
	Suite *s = suite_create("resize");
	TCase *tc = tu_tcase(s, "resize", 60);

	tcase_add_loop_test(tc, grow_shrink, 0, 8);
	tcase_add_loop_test(tc, attributes, 0, 8);
	tcase_add_loop_test(tc, file_growth, 0, 2);
	tcase_add_test(tc, from_empty);
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, secure_shrink_refused);
	tcase_add_test(tc, cost);
	tcase_add_test(tc, move_per_vma);
	tcase_add_test(tc, move_on_6_1);
	tcase_add_loop_test(tc, guard_on_6_1, 0, 4);
	tcase_add_test(tc, anon_shared_fork);
	return s;
}
