/* SPDX-License-Identifier: MIT */
/*
 * Punch and revert on every kernel from 6.1 up.  The test build's system-call
 * shim models how older kernels fail (lib/sys.c): under the 6.1 model a
 * failing mremap(MREMAP_FIXED) or mmap(MAP_FIXED) has unmapped its
 * destination first, and a move whose source spans several VMAs fails with
 * EFAULT after unmapping it; under the 6.12 model that move fails with EFAULT
 * and leaves the destination alone; 6.17 is the kernel itself (6.18 here).
 *
 * Every punch and revert case of check_fault.c runs under each model: every
 * system call it makes is failed in turn, while a second thread maps memory
 * of its own with mmap(NULL) in a loop and checks its bytes.  After each
 * failure: no hole in the handle's range and no mapping of that thread in it,
 * that thread's bytes intact, each page's protection and flags as the handle
 * records them, each page old or new, the result the documented one; where
 * the model allows it, nothing changed at all.  A retry then ends where a
 * first success does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "fault_cases.h"

static size_t pgsz(void)
{
	return mmapkit_page_size();
}

/* ---- the kernel models ---- */

struct model {
	const char *name;
	unsigned major, minor;
	bool in_place;       /* punch writes zeros into file pages rather than replace them */
	bool all_or_nothing; /* a failure changes nothing (else: each page old or new) */
};

static const struct model models[] = {
	{"6.1", 6, 1, true, true},
	{"6.12", 6, 12, false, false},
	{"6.17", 6, 17, false, true},
};

#define NMODELS TU_LEN(models)

/* Is this kernel (not a model of it) one that moves several VMAs per mremap? */
static bool kernel_moves_several(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	return uname(&u) == 0 && sscanf(u.release, "%u.%u", &major, &minor) == 2 &&
	       (major > 6 || (major == 6 && minor >= 17));
}

/*
 * The shim makes a newer kernel behave like an older one, not the reverse:
 * the 6.12 model needs a kernel that checks first, the 6.17 one a kernel that
 * moves several VMAs (the probes say, without a pretence).
 */
static bool model_runs_here(const struct model *mo, const char *what)
{
	bool checks, several;

	mmapkit__kernel_pretend(0, 0);
	checks = mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST);
	several = mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA);
	if ((mo->minor >= 12 && !checks) || (mo->minor >= 17 && !several)) {
		printf("kernels: %s: the %s model needs a newer kernel than this one: skipped\n",
		       what, mo->name);
		return false;
	}
	return true;
}

/* ---- the other thread: its own mappings, made and checked in a loop ---- */

#define FOREIGN_SLOTS 8
#define FAULT_DELAY_US 500

static struct {
	pthread_t thread;
	atomic_bool stop;
	atomic_uintptr_t lo, hi;  /* the handle's range now (0, 0: none) */
	atomic_uintptr_t landed;  /* first mapping of the thread found inside it */
	atomic_uintptr_t changed; /* first byte of the thread's found changed */
	atomic_ulong maps;        /* mappings made so far */
} foreign;

static unsigned char foreign_byte(unsigned long seed, size_t i)
{
	return (unsigned char)((seed * 7 + i / 4096 * 13 + 1) % 251 + 1);
}

/* Every page's first and last byte still as written. */
static void foreign_check(const unsigned char *p, size_t len, unsigned long seed)
{
	for (size_t i = 0; i < len; i += pgsz()) {
		size_t last = i + pgsz() - 1;

		if (p[i] != foreign_byte(seed, i) || p[last] != foreign_byte(seed, last)) {
			uintptr_t none = 0;

			atomic_compare_exchange_strong(&foreign.changed, &none, (uintptr_t)(p + i));
		}
	}
}

static void *foreign_main(void *arg)
{
	unsigned char *slot[FOREIGN_SLOTS] = {0};
	size_t len[FOREIGN_SLOTS] = {0};
	unsigned long seed[FOREIGN_SLOTS] = {0};

	(void)arg;
	for (unsigned long n = 1; !atomic_load(&foreign.stop); n++) {
		int i = (int)(n % FOREIGN_SLOTS);
		uintptr_t a, lo, hi;

		if (slot[i]) {
			foreign_check(slot[i], len[i], seed[i]);
			munmap(slot[i], len[i]);
			slot[i] = NULL;
		}
		len[i] = pgsz() * (1 + n % 3); /* small: a hole of a page or two fits it */
		slot[i] = mmap(NULL, len[i], PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (slot[i] == MAP_FAILED) {
			slot[i] = NULL;
			continue;
		}
		atomic_fetch_add(&foreign.maps, 1);
		a = (uintptr_t)slot[i];
		lo = atomic_load(&foreign.lo);
		hi = atomic_load(&foreign.hi);
		if (a < hi && a + len[i] > lo) {
			uintptr_t none = 0;

			atomic_compare_exchange_strong(&foreign.landed, &none, a);
		}
		seed[i] = n;
		for (size_t k = 0; k < len[i]; k += pgsz()) {
			slot[i][k] = foreign_byte(n, k);
			slot[i][k + pgsz() - 1] = foreign_byte(n, k + pgsz() - 1);
		}
		for (int j = 0; j < FOREIGN_SLOTS; j++)
			if (slot[j] && j != i)
				foreign_check(slot[j], len[j], seed[j]);
	}
	for (int j = 0; j < FOREIGN_SLOTS; j++)
		if (slot[j]) {
			foreign_check(slot[j], len[j], seed[j]);
			munmap(slot[j], len[j]);
		}
	return NULL;
}

static void foreign_start(void)
{
	atomic_store(&foreign.stop, false);
	atomic_store(&foreign.lo, 0);
	atomic_store(&foreign.hi, 0);
	atomic_store(&foreign.landed, 0);
	atomic_store(&foreign.changed, 0);
	atomic_store(&foreign.maps, 0);
	ck_assert_int_eq(pthread_create(&foreign.thread, NULL, foreign_main, NULL), 0);
}

static void foreign_stop(void)
{
	atomic_store(&foreign.stop, true);
	ck_assert_int_eq(pthread_join(foreign.thread, NULL), 0);
}

/* Watch the handle's range (or nothing: before its pages go back to the kernel). */
static void foreign_watch(const struct fx *f)
{
	uintptr_t lo = f ? (uintptr_t)f->lo : 0;

	atomic_store(&foreign.lo, lo);
	atomic_store(&foreign.hi, f ? lo + NPAGES * pgsz() : 0);
}

static void foreign_intact(const char *what)
{
	uintptr_t landed = atomic_load(&foreign.landed), changed = atomic_load(&foreign.changed);

	if (landed)
		ck_abort_msg("%s: the other thread's mmap(NULL) got %#lx, inside the handle's range",
			     what, (unsigned long)landed);
	if (changed)
		ck_abort_msg("%s: the other thread's byte at %#lx changed", what,
			     (unsigned long)changed);
}

/* ---- the handle against the kernel ---- */

static const struct {
	uint32_t attr;
	const char *flag; /* in /proc/self/smaps VmFlags */
} vm_flags[] = {
	{MMAPKIT__A_LOCKED, " lo "},	 {MMAPKIT__A_ONFAULT, " lf "},
	{MMAPKIT__A_DONTFORK, " dc "},	 {MMAPKIT__A_WIPEONFORK, " wf "},
	{MMAPKIT__A_DONTDUMP, " dd "},	 {MMAPKIT__A_HUGEPAGE, " hg "},
	{MMAPKIT__A_NOHUGEPAGE, " nh "}, {MMAPKIT__A_RANDOM, " rr "},
	{MMAPKIT__A_SEQUENTIAL, " sr "},
};

/* Per page of the span: its VMA's permissions, VmFlags, and whether it maps a file. */
struct vma_page {
	char perms[5];
	char flags[FLAGS_MAX];
	bool file;
};

static void vma_page(void *ctx, size_t k, const char *perms, unsigned long ino,
		     const char *vmflags)
{
	struct vma_page *v = (struct vma_page *)ctx + k;

	snprintf(v->perms, sizeof(v->perms), "%.4s", perms);
	snprintf(v->flags, sizeof(v->flags), " %.190s ", vmflags);
	v->file = ino != 0;
}

static void read_vmas(const unsigned char *lo, struct vma_page *out)
{
	memset(out, 0, NPAGES * sizeof(*out));
	fault_walk_smaps(lo, NPAGES, vma_page, out);
}

/*
 * Each page of the span is mapped, with the protection, lock state and advice
 * the handle records for it, and (file private) anonymous exactly where the
 * handle says it was replaced.
 */
static void check_recorded(const struct fx *f, const char *what)
{
	const mmapkit_map *m = f->m;
	struct vma_page v[NPAGES];

	read_vmas(f->lo, v);
	for (size_t k = 0; k < NPAGES; k++) {
		uint32_t attr = m->runs[mmapkit__runs_find(m, k)].attr;
		char want[5];

		if (!v[k].perms[0])
			ck_abort_msg("%s: page %zu of the handle is not mapped", what, k);
		snprintf(want, sizeof(want), "%c%c%c", attr & MMAPKIT__A_READ ? 'r' : '-',
			 attr & MMAPKIT__A_WRITE ? 'w' : '-', attr & MMAPKIT__A_EXEC ? 'x' : '-');
		if (strncmp(v[k].perms, want, 3) != 0)
			ck_abort_msg("%s: page %zu is %s, the handle records %s", what, k, v[k].perms,
				     want);
		for (size_t i = 0; i < TU_LEN(vm_flags); i++) {
			bool has = strstr(v[k].flags, vm_flags[i].flag) != NULL;

			if (has != !!(attr & vm_flags[i].attr))
				ck_abort_msg("%s: page %zu %s%s, the handle records otherwise (VmFlags:%s)",
					     what, k, has ? "has" : "lacks", vm_flags[i].flag,
					     v[k].flags);
		}
		if (m->kind == MMAPKIT_FILE_PRIVATE && v[k].file == !!(attr & MMAPKIT__A_ANON))
			ck_abort_msg("%s: page %zu maps %s, the handle records it %s", what, k,
				     v[k].file ? "the file" : "anonymous memory",
				     attr & MMAPKIT__A_ANON ? "replaced" : "from the file");
	}
}

/* Each page holds what it held before, or what a successful call leaves. */
static void check_old_or_new(const struct state *before, const struct state *ok,
			     const struct fx *f, const char *what)
{
	size_t pg = pgsz();

	for (size_t k = 0; k < NPAGES; k++) {
		const unsigned char *p = f->lo + k * pg;

		if (memcmp(p, before->bytes + k * pg, pg) != 0 && memcmp(p, ok->bytes + k * pg, pg) != 0)
			ck_abort_msg("%s: page %zu is neither as before nor as after success", what, k);
	}
}

/* ---- the walk ---- */

static const struct rcase *kcases[64];
static size_t nkcases;

static void find_cases(void)
{
	nkcases = 0;
	for (size_t i = 0; i < fault_n_rcases; i++) {
		const char *call = fault_rcases[i].call;

		/* (no ck_assert: this also runs while the suite is made) */
		if ((strcmp(call, "mmapkit_punch") == 0 || strcmp(call, "mmapkit_revert") == 0) &&
		    nkcases < TU_LEN(kcases))
			kcases[nkcases++] = &fault_rcases[i];
	}
}

/* The errno a walk gives each failing call: ENOMEM where documented (it is for all here). */
static int walk_err(int sys)
{
	for (int e = 0; fault_documented[sys][e]; e++)
		if (fault_documented[sys][e] == ENOMEM)
			return ENOMEM;
	return fault_documented[sys][0];
}

/* Open the fixture, watch its range, and let the other thread map twice meanwhile. */
static void open_watched(struct fx *f, const struct rcase *c)
{
	unsigned long n;

	fault_fx_open(f, c);
	foreign_watch(f);
	n = atomic_load(&foreign.maps);
	while (atomic_load(&foreign.maps) < n + 2)
		sched_yield();
}

static void close_watched(struct fx *f)
{
	foreign_watch(NULL);
	fault_fx_close(f);
}

/*
 * Where punch writes its zeros in place, a whole page it cannot write (pages
 * 1..2 lie inside every punch of the table) makes it refuse: -EACCES, no
 * system call, nothing changed.  Judged from /proc/self/smaps, not the handle.
 */
static bool refuses_in_place(const struct rcase *c, const struct model *mo, const struct fx *f)
{
	return mo->in_place && c->kind == MMAPKIT_FILE_PRIVATE &&
	       strcmp(c->call, "mmapkit_punch") == 0 && fault_in_place_refused(f);
}

static void expect_refusal(const struct rcase *c, const struct model *mo, struct fx *f)
{
	char what[40];

	snprintf(what, sizeof(what), "%s model", mo->name);
	fault_expect_refusal(c, f, what);
	check_recorded(f, c->name);
	printf("kernels: %s model: %s: refused, a whole page is not writable\n", mo->name,
	       c->name);
}

static void kernels_point(const struct rcase *c, bool all_or_nothing, const char *model,
			  int sys, unsigned nth, const struct state *ok)
{
	int err = walk_err(sys);
	int exp = fault_expected_err(c->call, false, false, sys, nth, err);
	bool known = c->known_sys[0] == sys + 1 || c->known_sys[1] == sys + 1;
	struct state before, after;
	char what[240];
	struct fx f;
	int r, k;

	k = snprintf(what, sizeof(what), "%s model: ", model);
	fault_name_point(what + k, sizeof(what) - (size_t)k, c->name, sys, nth, err, exp);
	open_watched(&f, c);
	fault_snap(&before, f.lo, NPAGES, f.path);
	mmapkit__fault_arm(sys, nth, err);
	r = c->op(&f);
	if (exp)
		fault_expect_failure(r, sys, exp, c->call, what);
	else
		ck_assert_msg(r == 0, "%s: returned %d (%s)", what, r, mmapkit_errmsg());
	mmapkit__fault_reset();
	foreign_intact(what);
	if (!known) /* the known exception: pages the failed re-lock left unlocked */
		check_recorded(&f, what);
	check_old_or_new(&before, ok, &f, what);
	if (exp && all_or_nothing && !known) {
		fault_snap(&after, f.lo, NPAGES, f.path);
		fault_state_eq(&before, &after, false, what);
		fault_state_free(&after);
	}
	r = c->op(&f);
	ck_assert_msg(r == 0, "%s, then a retry: returned %d (%s)", what, r, mmapkit_errmsg());
	foreign_intact(what);
	check_recorded(&f, what);
	fault_snap(&after, f.lo, NPAGES, f.path);
	fault_state_eq(ok, &after, false, what);
	fault_state_free(&after);
	fault_state_free(&before);
	close_watched(&f);
}

static bool foreign_running;

START_TEST(kernels_walk)
{
	const struct rcase *c;
	const struct model *mo = &models[(size_t)_i % NMODELS];
	unsigned calls[MMAPKIT__SYS_COUNT], points = 0;
	bool all_or_nothing;
	struct state ok;
	struct fx f;
	int r;

	find_cases();
	c = kcases[(size_t)_i / NMODELS];
	if (fault_skip_under_valgrind(c))
		return;
	if (!model_runs_here(mo, c->name))
		return;
	mmapkit__kernel_pretend(mo->major, mo->minor);
	/* a failing call lasts a while: time for the other thread to map into any hole */
	mmapkit__fault_delay(FAULT_DELAY_US);
	foreign_start();
	foreign_running = true;
	/* a first success: the calls it makes and where it ends */
	open_watched(&f, c);
	if (refuses_in_place(c, mo, &f)) {
		expect_refusal(c, mo, &f);
		close_watched(&f);
		foreign_stop();
		foreign_running = false;
		foreign_intact(c->name);
		return;
	}
	mmapkit__fault_reset();
	r = c->op(&f);
	ck_assert_msg(r == 0, "%s model: %s: %d: %s", mo->name, c->name, r, mmapkit_errmsg());
	tu_fault_calls(calls);
	check_recorded(&f, c->name);
	fault_snap(&ok, f.lo, NPAGES, f.path);
	close_watched(&f);
	/* 6.17 moves stretch by stretch too where the file system makes it (EFAULT first) */
	all_or_nothing = mo->all_or_nothing && calls[MMAPKIT__SYS_MREMAP] <= 1;
	TU_FOR_EACH_CALL(calls, sys, nth) {
		kernels_point(c, all_or_nothing, mo->name, sys, nth, &ok);
		points++;
	}
	fault_state_free(&ok);
	foreign_stop();
	foreign_running = false;
	foreign_intact(c->name);
	mmapkit__kernel_pretend(0, 0);
	printf("kernels: %s model: %s: %u failure points (%s), the other thread made %lu mappings\n",
	       mo->name, c->name, points, all_or_nothing ? "all or nothing" : "each page old or new",
	       atomic_load(&foreign.maps));
}
END_TEST

/*
 * What mmapkit_punch(3) BUGS says of a kernel that unmaps first (the 6.1
 * model): the zeros are written into the file pages, which stay mapped from
 * the file with every attribute; MMAPKIT_ADV_DONTNEED and revert show the
 * file again; pages replaced under another kernel cannot be reverted there.
 */
START_TEST(kernels_in_place)
{
	size_t pg = pgsz();
	const char *path = tu_file(NPAGES * pg);
	struct fx f = {0};
	struct vma_page v[NPAGES];
	unsigned char *p;

	mmapkit__kernel_pretend(6, 1);
	ck_assert_int_eq(mmapkit_file_private(&f.m, path, 0, NPAGES * pg, MMAPKIT_DONTFORK), 0);
	p = mmapkit_ptr(f.m);
	f.lo = p;
	ck_assert_int_eq(mmapkit_advise(f.m, 2 * pg, pg, MMAPKIT_ADV_RANDOM), 0);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_punch(f.m, pg, 2 * pg), 0);
	ck_assert_uint_eq(fault_memory_calls(), 0);
	for (size_t i = pg; i < 3 * pg; i++)
		TU_BYTE_EQ(p[i], 0, i);
	TU_BYTE_EQ(p[pg - 1], tu_pattern(pg - 1), pg - 1);
	TU_BYTE_EQ(p[3 * pg], tu_pattern(3 * pg), 3 * pg);
	/* written in place: still mapped from the file, attributes untouched */
	memset(v, 0, sizeof(v));
	fault_walk_smaps(p, NPAGES, vma_page, v);
	ck_assert(v[1].file && v[2].file);
	ck_assert_ptr_nonnull(strstr(v[2].flags, " rr "));
	ck_assert_ptr_nonnull(strstr(v[1].flags, " dc "));
	/* DONTNEED shows the file again, as revert does */
	ck_assert_int_eq(mmapkit_advise(f.m, pg, pg, MMAPKIT_ADV_DONTNEED), 0);
	TU_BYTE_EQ(p[pg], tu_pattern(pg), pg);
	ck_assert_int_eq(mmapkit_revert(f.m, 2 * pg, pg), 0);
	TU_BYTE_EQ(p[2 * pg], tu_pattern(2 * pg), 2 * pg);
	/* a read-only whole page: refused before anything changes */
	ck_assert_int_eq(mmapkit_protect(f.m, pg, pg, MMAPKIT_PROT_READ), 0);
	ck_assert_int_eq(mmapkit_punch(f.m, 0, 3 * pg), -EACCES);
	TU_BYTE_EQ(p[0], tu_pattern(0), 0);
	TU_BYTE_EQ(p[2 * pg], tu_pattern(2 * pg), 2 * pg);
	/* pages replaced by another kernel's punch: never re-mapped here */
	mmapkit__kernel_pretend(6, 17);
	ck_assert_int_eq(mmapkit_punch(f.m, 3 * pg, pg), 0);
	mmapkit__kernel_pretend(6, 1);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_revert(f.m, 3 * pg, pg), -EOPNOTSUPP);
	ck_assert_uint_eq(fault_memory_calls(), 0);
	TU_BYTE_EQ(p[3 * pg], 0, 3 * pg);
	check_recorded(&f, "in place");
	mmapkit_unmap(f.m);
	mmapkit__kernel_pretend(0, 0);
}
END_TEST

/* The probes answer for this kernel what its version says (6.18 here: both present). */
START_TEST(kernels_probe)
{
	bool several = kernel_moves_several();

	mmapkit__kernel_pretend(0, 0);
	mmapkit__kernel_reprobe(NULL);
	ck_assert_int_eq(mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA), several);
	if (several)
		ck_assert(mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST));
	/* the pretence answers for the models */
	mmapkit__kernel_pretend(6, 1);
	ck_assert(!mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST));
	ck_assert(!mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA));
	mmapkit__kernel_pretend(6, 12);
	ck_assert(!mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA));
	mmapkit__kernel_pretend(0, 0);
}
END_TEST

/*
 * The probe's move, answered by a stand-in for each kind of kernel.  Where
 * the stand-in unmaps the destination, another thread's mapping may take its
 * place at once: the probe must leave that alone, and free its own source.
 */
static struct {
	unsigned char *src, *dst;
	size_t len;
	bool refill;           /* map a page of "another thread" into the hole */
	unsigned char *other;  /* that page */
} move_seen;

static void *move_unmaps_first(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	(void)flags;
	move_seen.src = old;
	move_seen.dst = new_addr;
	move_seen.len = old_len;
	ck_assert_int_eq(munmap(new_addr, new_len), 0);
	if (move_seen.refill) {
		move_seen.other = mmap(new_addr, pgsz(), PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		ck_assert_ptr_eq(move_seen.other, new_addr);
		move_seen.other[0] = 0x5a;
	}
	errno = EFAULT;
	return MAP_FAILED;
}

static void *move_checks_first(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	(void)new_len;
	(void)flags;
	move_seen.src = old;
	move_seen.dst = new_addr;
	move_seen.len = old_len;
	errno = EFAULT;
	return MAP_FAILED;
}

static void *move_out_of_memory(void *old, size_t old_len, size_t new_len, int flags,
				void *new_addr)
{
	move_checks_first(old, old_len, new_len, flags, new_addr);
	errno = ENOMEM;
	return MAP_FAILED;
}

/* Is any byte of [p, p + len) mapped? */
static bool any_mapped(const unsigned char *p, size_t len)
{
	unsigned char vec[16];

	for (size_t i = 0; i < len; i += pgsz())
		if (mincore((void *)(p + i), pgsz(), vec) == 0)
			return true;
	return false;
}

static const struct {
	const char *name;
	void *(*move)(void *, size_t, size_t, int, void *);
	bool refill;
	bool checks_first, several;
} probe_kernels[] = {
	{"unmaps first (6.1), the hole left empty", move_unmaps_first, false, false, false},
	{"unmaps first (6.1), another thread maps into the hole", move_unmaps_first, true, false,
	 false},
	{"checks first, one VMA per move", move_checks_first, false, true, false},
	{"out of memory", move_out_of_memory, false, false, false},
};

START_TEST(kernels_probe_answers)
{
	struct tu_snap s = tu_snap();

	memset(&move_seen, 0, sizeof(move_seen));
	move_seen.refill = probe_kernels[_i].refill;
	mmapkit__kernel_pretend(0, 0);
	mmapkit__kernel_reprobe(probe_kernels[_i].move);
	ck_assert_int_eq(mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST),
			 probe_kernels[_i].checks_first);
	ck_assert_int_eq(mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA), probe_kernels[_i].several);
	mmapkit__kernel_reprobe(NULL);
	ck_assert_ptr_nonnull(move_seen.src);
	/* its own memory freed, the other thread's untouched */
	ck_assert(!any_mapped(move_seen.src, move_seen.len));
	if (move_seen.other) {
		ck_assert_int_eq(move_seen.other[0], 0x5a);
		ck_assert(!any_mapped(move_seen.dst + pgsz(), move_seen.len - pgsz()));
		ck_assert_int_eq(munmap(move_seen.other, pgsz()), 0);
	} else {
		ck_assert(!any_mapped(move_seen.dst, move_seen.len));
	}
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* After each test, also a failed one: no pretence, no other thread. */
static void forget_pretence(void)
{
	mmapkit__kernel_pretend(0, 0);
	mmapkit__kernel_reprobe(NULL);
	mmapkit__fault_delay(0);
	if (foreign_running) {
		atomic_store(&foreign.stop, true);
		pthread_join(foreign.thread, NULL);
		foreign_running = false;
	}
}

Suite *suite_kernels(void)
{
	Suite *s = suite_create("kernels");
	TCase *tc = tu_tcase(s, "walk", 120);

	find_cases();
	/* valgrind runs one thread at a time: the other thread would spin alone */
	tcase_set_tags(tc, "novalgrind");
	tcase_add_checked_fixture(tc, NULL, forget_pretence);
	tcase_add_loop_test(tc, kernels_walk, 0, (int)(nkcases * NMODELS));
	tc = tu_tcase(s, "in place", 0);
	tcase_add_checked_fixture(tc, NULL, forget_pretence);
	tcase_add_test(tc, kernels_in_place);
	tc = tu_tcase(s, "probe", 0);
	tcase_set_tags(tc, "novalgrind"); /* valgrind's mremap moves one segment per call */
	tcase_add_checked_fixture(tc, NULL, forget_pretence);
	tcase_add_test(tc, kernels_probe);
	tcase_add_loop_test(tc, kernels_probe_answers, 0, (int)TU_LEN(probe_kernels));
	return s;
}
