/* SPDX-License-Identifier: MIT */
/*
 * MMAPKIT_GUARD on both paths: light guards (MADV_GUARD_INSTALL, 6.13; file
 * and shared kinds 6.15) inside the mapping's one VMA, and inaccessible
 * mappings of their own where the kernel lacks them (the test build pretends).
 * The byte before and the byte after fault, and keep faulting after punch,
 * revert, protect and lock next to them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define NP 4

static size_t pg(void)
{
	return mmapkit_page_size();
}

static const int kinds[4] = {MMAPKIT_ANON_PRIVATE, MMAPKIT_ANON_SHARED, MMAPKIT_FILE_PRIVATE,
			     MMAPKIT_FILE_SHARED};

struct gx {
	int kind;
	bool light; /* the path this case asks for */
	mmapkit_map *m;
	unsigned char *lo, *hi; /* first data page; the byte after the last one */
};

/* _i: kind (4) x path (light, pretended 6.1).  File kinds map from their second page. */
static void gx_open(struct gx *g, int i, unsigned flags)
{
	uint64_t off;
	int r;

	g->kind = kinds[i % 4];
	g->light = i < 4;
	off = tu_kind_is_file(g->kind) ? pg() : 0;
	if (g->light && !tu_light_guards_expected(g->kind, off, flags | MMAPKIT_GUARD)) {
		printf("guard: this kernel has no light guards for %s: the light case runs the old path\n",
		       tu_kind_name(g->kind));
		g->light = false;
	}
	if (!g->light)
		mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	r = tu_map_kind(g->kind, &g->m, tu_kind_is_file(g->kind) ? tu_file((NP + 2) * pg()) : NULL,
			off, NP * pg(), flags | MMAPKIT_GUARD);
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
	ck_assert_msg(r == 0, "%s: %s", tu_kind_name(g->kind), mmapkit_errmsg());
	g->lo = mmapkit_ptr(g->m);
	g->hi = g->lo + NP * pg();
}

struct probe2 {
	const volatile unsigned char *a, *b;
	bool second;
};

/* In a child: read a (which must fault); or, second, read b. */
static void probe_child(void *arg)
{
	const struct probe2 *p = arg;

	tu_probe_quietly();
	tu_touch(p->second ? p->b : p->a);
	_exit(0);
}

/* The guards fault (each in a child), the data pages next to them do not. */
static void guards_hold(const struct gx *g, const char *after)
{
	struct probe2 p = {g->lo - 1, g->hi, false};
	int st;

	if (!tu_fault_probes_work())
		return;
	st = tu_child(probe_child, &p);
	ck_assert_msg(TU_KILLED(st, SIGSEGV), "%s, %s: the byte before: status 0x%x",
		      tu_kind_name(g->kind), after, st);
	p.second = true;
	st = tu_child(probe_child, &p);
	ck_assert_msg(TU_KILLED(st, SIGSEGV), "%s, %s: the byte after: status 0x%x",
		      tu_kind_name(g->kind), after, st);
	ck_assert(!tu_read_faults(g->lo));
	ck_assert(!tu_read_faults(g->hi - 1));
}

/* Lines of /proc/self/maps over the guards and the pages. */
static int lines(const struct gx *g)
{
	return tu_maps_lines(g->lo - pg(), g->hi + pg());
}

START_TEST(guard_both_paths)
{
	struct tu_snap s = tu_snap();
	struct gx g;

	gx_open(&g, _i, 0);
	guards_hold(&g, "new");
	/* light: one VMA for guards and pages; else the two guard mappings besides */
	ck_assert_int_eq(lines(&g), g.light ? 1 : 3);
	memset(g.lo, 0x5a, NP * pg());
	mmapkit_unmap(g.m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* Every byte of the pages is c. */
static void all_are(const struct gx *g, unsigned char c, const char *what)
{
	for (size_t i = 0; i < NP * pg(); i++)
		if (g->lo[i] != c)
			ck_abort_msg("%s, %s: byte %zu is %u, want %u", tu_kind_name(g->kind), what, i,
				     g->lo[i], c);
}

START_TEST(guard_ops_keep)
{
	struct tu_snap s = tu_snap();
	struct gx g;

	gx_open(&g, _i, 0);
	memset(g.lo, 0x77, NP * pg());
	/* punch all of it, and its edge pages alone */
	ck_assert_int_eq(mmapkit_punch(g.m, 0, MMAPKIT_TO_END), 0);
	all_are(&g, 0, "punch");
	guards_hold(&g, "punch");
	memset(g.lo, 0x77, NP * pg());
	ck_assert_int_eq(mmapkit_punch(g.m, 0, pg()), 0);
	ck_assert_int_eq(mmapkit_punch(g.m, (NP - 1) * pg(), pg()), 0);
	guards_hold(&g, "edge punch");
	if (tu_kind_is_private(g.kind)) {
		memset(g.lo, 0x77, NP * pg());
		ck_assert_int_eq(mmapkit_revert(g.m, 0, MMAPKIT_TO_END), 0);
		if (g.kind == MMAPKIT_ANON_PRIVATE)
			all_are(&g, 0, "revert");
		guards_hold(&g, "revert");
		ck_assert_int_eq(mmapkit_revert(g.m, (NP - 1) * pg(), pg()), 0);
		guards_hold(&g, "edge revert");
	}
	/* protect the edge pages next to the guards, and give them back */
	ck_assert_int_eq(mmapkit_protect(g.m, 0, pg(), MMAPKIT_PROT_NONE), 0);
	ck_assert_int_eq(mmapkit_protect(g.m, (NP - 1) * pg(), pg(), MMAPKIT_PROT_READ), 0);
	ck_assert(tu_read_faults(g.lo));
	ck_assert_int_eq(mmapkit_protect(g.m, 0, MMAPKIT_TO_END,
					 MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE),
			 0);
	guards_hold(&g, "protect");
	/* lock and unlock all the pages, both ways */
	ck_assert_int_eq(mmapkit_lock(g.m, 0, MMAPKIT_TO_END, 0), 0);
	ck_assert_int_eq(tu_smaps_kb(g.lo, "Locked") > 0, 1);
	guards_hold(&g, "lock");
	if (tu_kind_is_private(g.kind)) {
		ck_assert_int_eq(mmapkit_punch(g.m, pg(), 2 * pg()), 0);
		guards_hold(&g, "punch of locked pages");
	}
	ck_assert_int_eq(mmapkit_unlock(g.m, 0, MMAPKIT_TO_END), 0);
	if (!tu_skip_lock_onfault("guard_ops_keep")) {
		ck_assert_int_eq(mmapkit_lock(g.m, 0, pg(), MMAPKIT_LOCK_ONFAULT), 0);
		guards_hold(&g, "lock on fault");
	}
	memset(g.lo, 0x11, NP * pg());
	all_are(&g, 0x11, "written at the end");
	/* resize: the back guard follows the end, shrinking and growing (in place or moved) */
	ck_assert_int_eq(mmapkit_resize(g.m, (NP - 1) * pg(), 0), 0);
	g.lo = mmapkit_ptr(g.m);
	g.hi = g.lo + (NP - 1) * pg();
	guards_hold(&g, "shrink");
	ck_assert_int_eq(mmapkit_resize(g.m, (NP + 1) * pg(), 0), 0);
	g.lo = mmapkit_ptr(g.m);
	g.hi = g.lo + (NP + 1) * pg();
	guards_hold(&g, "grow");
	for (size_t i = 0; i < (NP - 1) * pg(); i++)
		TU_BYTE_EQ(g.lo[i], 0x11, i);
	mmapkit_unmap(g.m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * GUARD | LOCK: on the light path the order the kernel allows (guards, then
 * mlock2(MLOCK_ONFAULT) over the whole VMA, then the pages populated): one
 * VMA, every page locked and resident now, guards faulting.
 */
START_TEST(guard_lock_order)
{
	struct tu_snap s = tu_snap();
	struct gx g;

	if (tu_skip_lock_onfault("guard_lock_order"))
		return;
	gx_open(&g, _i, MMAPKIT_LOCK);
	ck_assert_int_eq(lines(&g), g.light ? 1 : 3);
	ck_assert(tu_has_vmflag(g.lo, "lo"));
	ck_assert_int_eq(tu_smaps_kb(g.lo, "Locked"), (long)(NP * pg() / 1024));
	ck_assert_uint_eq(tu_resident_pages(g.lo, NP * pg()), NP);
	guards_hold(&g, "locked");
	mmapkit_unmap(g.m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * GUARD | DONTFORK in a fork() child: light guards share the VMA and its
 * DONTFORK, so the child has neither pages nor guards, and may map memory of
 * its own there; mmapkit_unmap in the child must leave that alone.  Guard
 * mappings of their own are inherited, and the child's unmap releases them.
 * The third case makes the pages DOFORK again before the fork: the child has
 * them, but still not the light guards.
 */
static bool dofork_case;

static void dontfork_child(void *arg)
{
	const struct gx *g = arg;
	unsigned char *spots[2] = {g->lo - pg(), g->hi};
	bool mine[2];
	unsigned char v, vs[NP];

	if (dofork_case)
		TU_CHILD_OK(!tu_read_faults(g->lo) && !tu_read_faults(g->hi - 1));

	for (int i = 0; i < 2; i++) {
		void *p = mmap(spots[i], pg(), PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
				MAP_FIXED_NOREPLACE, -1, 0);

		mine[i] = p == spots[i];
		TU_CHILD_OK(mine[i] == g->light); /* free exactly where the guards were light */
	}
	mmapkit_unmap(g->m);
	for (int i = 0; i < 2; i++) {
		errno = 0;
		TU_CHILD_OK((mincore(spots[i], pg(), &v) == 0) == mine[i]);
	}
	/* the pages the child had are gone */
	TU_CHILD_OK(!dofork_case || (mincore(g->lo, NP * pg(), vs) < 0 && errno == ENOMEM));
	_exit(0);
}

START_TEST(guard_dontfork_child)
{
	struct gx g;
	int st;

	if (tu_on_valgrind()) { /* it refuses mappings where DONTFORK pages were */
		printf("guard: valgrind: the DONTFORK child check is skipped\n");
		return;
	}
	gx_open(&g, _i == 1 ? 4 : 0, MMAPKIT_DONTFORK);
	dofork_case = _i == 2;
	if (dofork_case)
		ck_assert_int_eq(mmapkit_advise(g.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DOFORK), 0);
	st = tu_child(dontfork_child, &g);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
	mmapkit_unmap(g.m);
}
END_TEST

/*
 * Without mlock2 (ENOSYS: valgrind 3.19, kernels before 4.4) GUARD | LOCK on
 * the light path locks the data pages with mlock: locked, resident, guards
 * faulting, at the price of the VMA split in three.
 */
START_TEST(guard_lock_no_mlock2)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *p;

	if (!tu_light_guards_expected(MMAPKIT_ANON_PRIVATE, 0, MMAPKIT_GUARD)) {
		printf("guard: no light guards here: the mlock2 fallback is not reached\n");
		return;
	}
	mmapkit__fault_arm(MMAPKIT__SYS_MLOCK2, 1, ENOSYS);
	ck_assert_msg(mmapkit_anon_private(&m, NP * pg(), MMAPKIT_GUARD | MMAPKIT_LOCK) == 0, "%s",
		      mmapkit_errmsg());
	ck_assert(mmapkit__fault_fired());
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MLOCK), 1);
	mmapkit__fault_reset();
	p = mmapkit_ptr(m);
	ck_assert_int_eq(tu_maps_lines(p - pg(), p + (NP + 1) * pg()), 3);
	ck_assert_int_eq(tu_smaps_kb(p, "Locked"), (long)(NP * pg() / 1024));
	ck_assert(tu_read_faults(p - 1) && tu_read_faults(p + NP * pg()));
	/* a punch re-locks the way the pages were locked */
	ck_assert_int_eq(mmapkit_punch(m, pg(), pg()), 0);
	ck_assert(tu_has_vmflag(p + pg(), "lo") && !tu_has_vmflag(p + pg(), "lf"));
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* What the light path costs: one mmap, a madvise per guard; LOCK: mlock2 and populate. */
START_TEST(guard_light_cost)
{
	mmapkit_map *m = NULL;

	if (tu_skip_lock_onfault("guard_light_cost"))
		return;
	if (!mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL)) {
		printf("guard: no MADV_GUARD_INSTALL on this kernel: light cost not counted\n");
		return;
	}
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * pg(), MMAPKIT_GUARD | MMAPKIT_LOCK), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MMAP), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MADVISE), 3);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MLOCK2), 1);
	ck_assert_uint_eq(mmapkit__fault_total(), 5);
	mmapkit__fault_reset();
	mmapkit_unmap(m);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MUNMAP), 1);
	ck_assert_uint_eq(mmapkit__fault_total(), 1);
}
END_TEST

Suite *suite_guard(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tu_tcase(s, "guard", 60);

	tcase_add_loop_test(tc, guard_both_paths, 0, 8);
	tcase_add_loop_test(tc, guard_ops_keep, 0, 8);
	tcase_add_loop_test(tc, guard_lock_order, 0, 8);
	tcase_add_test(tc, guard_light_cost);
	tcase_add_test(tc, guard_lock_no_mlock2);
	tcase_add_loop_test(tc, guard_dontfork_child, 0, 3);
	return s;
}
