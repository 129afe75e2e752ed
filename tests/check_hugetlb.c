/* SPDX-License-Identifier: MIT */
/*
 * MMAPKIT_HUGETLB mappings under every range operation: sync, advise (every
 * advice), punch, revert, protect, lock and unlock, on both anonymous kinds,
 * with and without MMAPKIT_GUARD.  Each operation works on whole huge pages
 * (the handle's granule), changes exactly the bytes it should, and keeps the
 * pages huge; advice that cannot apply to huge pages is refused with -EINVAL.
 *
 * The test needs root: it reserves huge pages in /proc/sys/vm/nr_hugepages
 * and gives them back after the work, which runs in a child, whatever the
 * child did.  Without them the skip says why.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

#define PAGES 3    /* huge pages in the mapping */
#define RESERVE 12 /* the mapping, its guards, and room for replacements */

static const struct {
	int kind;
	unsigned flags;
} combos[] = {
	{MMAPKIT_ANON_PRIVATE, 0},
	{MMAPKIT_ANON_PRIVATE, MMAPKIT_GUARD},
	{MMAPKIT_ANON_SHARED, 0},
	{MMAPKIT_ANON_SHARED, MMAPKIT_GUARD},
};

/* What each advice must do on a huge page mapping of a kind: 0 or -EINVAL. */
static int advice_result(int kind, int advice)
{
	bool priv = kind == MMAPKIT_ANON_PRIVATE;

	switch (advice) {
	case MMAPKIT_ADV_FREE:       /* anonymous private only, and not huge pages */
	case MMAPKIT_ADV_WIPEONFORK: /* the kernel refuses it for huge pages (a file of its own) */
	case MMAPKIT_ADV_COLD:       /* the kernel does not age huge pages */
	case MMAPKIT_ADV_PAGEOUT:
		return -EINVAL;
	case MMAPKIT_ADV_KEEPONFORK: /* anonymous private only */
		return priv ? 0 : -EINVAL;
	case MMAPKIT_ADV_REMOVE: /* shared kinds only */
		return priv ? -EINVAL : 0;
	default:
		return 0;
	}
}

/* The VmFlags code an advice sets on the pages it covers ("" for none to look at). */
static const char *advice_flag(int advice)
{
	switch (advice) {
	case MMAPKIT_ADV_RANDOM:
		return "rr";
	case MMAPKIT_ADV_SEQUENTIAL:
		return "sr";
	case MMAPKIT_ADV_DONTDUMP:
		return "dd";
	case MMAPKIT_ADV_DONTFORK:
		return "dc";
	default:
		return "";
	}
}

struct huge {
	mmapkit_map *m;
	int kind;
	unsigned flags;
	size_t hp, len;
	unsigned char *p;
	unsigned char *exp; /* the model of the mapping's bytes */
	char step[96];
};

/* Every byte is the model's, and every page is still a huge page. */
static void huge_check(struct huge *h, const char *step)
{
	snprintf(h->step, sizeof(h->step), "%s", step);
	for (size_t i = 0; i < h->len; i++)
		if (h->p[i] != h->exp[i]) {
			fprintf(stderr, "hugetlb: %s: byte %zu is 0x%02x, want 0x%02x\n", step, i,
				h->p[i], h->exp[i]);
			TU_CHILD_OK(h->p[i] == h->exp[i]);
		}
	for (size_t i = 0; i < h->len; i += h->hp) {
		TU_CHILD_OK(tu_has_vmflag(h->p + i, "ht"));
		TU_CHILD_OK(tu_smaps_kb(h->p + i, "KernelPageSize") == (long)(h->hp / 1024));
	}
}

static void huge_fill(struct huge *h, unsigned seed)
{
	for (size_t i = 0; i < h->len; i++)
		h->exp[i] = h->p[i] = (unsigned char)(tu_pattern(i) + seed);
}

static void model_zero(struct huge *h, size_t a, size_t z)
{
	memset(h->exp + a, 0, z - a);
}

/* sync applies to shared file mappings only */
static void huge_sync(struct huge *h)
{
	TU_CHILD_OK(mmapkit_sync(h->m, 0, h->len, 0) == -EINVAL);
	TU_CHILD_OK(mmapkit_sync(h->m, 1, 1, MMAPKIT_SYNC_ASYNC) == -EINVAL);
	huge_check(h, "sync refused");
}

/* A range inside the middle huge page protects all of it, and only it. */
static void huge_protect(struct huge *h)
{
	size_t hp = h->hp;
	char perms[5], want[5] = "rw-p";

	want[3] = h->kind == MMAPKIT_ANON_SHARED ? 's' : 'p';
	TU_CHILD_OK(mmapkit_protect(h->m, hp + 1, 1, MMAPKIT_PROT_READ) == 0);
	tu_perms(h->p + hp, perms);
	TU_CHILD_OK(memcmp(perms, "r--", 3) == 0);
	tu_perms(h->p + 2 * hp - 1, perms);
	TU_CHILD_OK(memcmp(perms, "r--", 3) == 0);
	tu_perms(h->p + hp - 1, perms);
	TU_CHILD_OK(strcmp(perms, want) == 0);
	tu_perms(h->p + 2 * hp, perms);
	TU_CHILD_OK(strcmp(perms, want) == 0);
	TU_CHILD_OK(mmapkit_protect(h->m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_NONE) == 0);
	tu_perms(h->p, perms);
	TU_CHILD_OK(memcmp(perms, "---", 3) == 0);
	TU_CHILD_OK(mmapkit_protect(h->m, 0, MMAPKIT_TO_END,
				    MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE) == 0);
	for (size_t i = 0; i < h->len; i += hp) {
		tu_perms(h->p + i, perms);
		TU_CHILD_OK(strcmp(perms, want) == 0);
	}
	huge_check(h, "protect");
}

/*
 * The kernel never marks huge page mappings locked (no "lo" in VmFlags: their
 * pages cannot be swapped anyway), so lock and unlock show in what the handle
 * records: MMAPKIT_ADV_DONTNEED, which the kernel refuses on locked pages, is
 * refused on exactly the huge pages locked.
 */
static bool dontneed_refused(struct huge *h, size_t page)
{
	int r = mmapkit_advise(h->m, page * h->hp, h->hp, MMAPKIT_ADV_DONTNEED);

	TU_CHILD_OK(r == 0 || r == -EINVAL);
	if (r)
		TU_CHILD_OK(strstr(mmapkit_errmsg(), "locked pages") != NULL);
	else if (h->kind == MMAPKIT_ANON_PRIVATE)
		model_zero(h, page * h->hp, (page + 1) * h->hp);
	return r != 0;
}

/* Lock the huge page holding one byte; on fault all of them; unlock. */
static void huge_lock(struct huge *h)
{
	size_t hp = h->hp;

	TU_CHILD_OK(mmapkit_lock(h->m, hp + 1, 1, 0) == 0);
	TU_CHILD_OK(tu_resident_pages(h->p + hp, hp) == hp / mmapkit_page_size());
	TU_CHILD_OK(dontneed_refused(h, 1) && !dontneed_refused(h, 0) && !dontneed_refused(h, 2));
	TU_CHILD_OK(mmapkit_unlock(h->m, 0, MMAPKIT_TO_END) == 0);
	TU_CHILD_OK(!dontneed_refused(h, 1));
	huge_check(h, "lock and unlock");
	if (!tu_skip_lock_onfault("hugetlb: huge_lock")) {
		TU_CHILD_OK(mmapkit_lock(h->m, 0, MMAPKIT_TO_END, MMAPKIT_LOCK_ONFAULT) == 0);
		TU_CHILD_OK(dontneed_refused(h, 0) && dontneed_refused(h, 2));
		TU_CHILD_OK(mmapkit_unlock(h->m, hp, 1) == 0);
		TU_CHILD_OK(!dontneed_refused(h, 1) && dontneed_refused(h, 0));
		TU_CHILD_OK(mmapkit_unlock(h->m, 0, MMAPKIT_TO_END) == 0);
		TU_CHILD_OK(!dontneed_refused(h, 0));
		huge_check(h, "lock on fault and unlock");
	}
	huge_fill(h, 4);
}

/*
 * Every advice over a range from the middle of the first huge page to the
 * middle of the last: non-destructive advice covers all three pages,
 * destructive advice only the whole one between.
 */
static void huge_advise(struct huge *h)
{
	size_t hp = h->hp, off = hp / 2, n = 2 * hp;

	for (int adv = MMAPKIT_ADV_NORMAL; adv <= MMAPKIT_ADV_POPULATE_WRITE; adv++) {
		int want = advice_result(h->kind, adv), got;
		char step[64];

		snprintf(step, sizeof(step), "advice %d", adv);
		got = mmapkit_advise(h->m, off, n, adv);
		if (got != want)
			fprintf(stderr, "hugetlb: %s: %d, want %d (%s)\n", step, got, want,
				mmapkit_errmsg());
		TU_CHILD_OK(got == want);
		if (want) {
			TU_CHILD_OK(strstr(mmapkit_errmsg(), "mmapkit_advise: ") != NULL);
			huge_check(h, step);
			continue;
		}
		if (*advice_flag(adv))
			for (size_t i = 0; i < h->len; i += hp)
				TU_CHILD_OK(tu_has_vmflag(h->p + i, advice_flag(adv)));
		/* private pages given up read zeros; shared memory is kept (DONTNEED) or freed */
		if ((adv == MMAPKIT_ADV_DONTNEED && h->kind == MMAPKIT_ANON_PRIVATE) ||
		    adv == MMAPKIT_ADV_REMOVE)
			model_zero(h, hp, 2 * hp);
		huge_check(h, step);
	}
	/* undo what the flags checked above would leave behind */
	TU_CHILD_OK(mmapkit_advise(h->m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_NORMAL) == 0);
	TU_CHILD_OK(mmapkit_advise(h->m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DOFORK) == 0);
	TU_CHILD_OK(!tu_has_vmflag(h->p + hp, "dc") && !tu_has_vmflag(h->p + hp, "rr"));
}

/*
 * Punch from the middle of the first huge page to the middle of the last: the
 * edge bytes are zeroed, the whole page between is released and still a huge
 * page with its attributes (here DONTDUMP, and a lock in a second round).
 */
static void huge_punch(struct huge *h)
{
	size_t hp = h->hp, off = hp / 2, n = 2 * hp;

	huge_fill(h, 1);
	TU_CHILD_OK(mmapkit_advise(h->m, hp, hp, MMAPKIT_ADV_DONTDUMP) == 0);
	TU_CHILD_OK(mmapkit_punch(h->m, off, n) == 0);
	TU_CHILD_OK(tu_resident_pages(h->p + hp, hp) == 0);
	TU_CHILD_OK(tu_has_vmflag(h->p + hp, "dd") && !tu_has_vmflag(h->p, "dd"));
	model_zero(h, off, off + n);
	huge_check(h, "punch");

	huge_fill(h, 2);
	TU_CHILD_OK(mmapkit_lock(h->m, 0, MMAPKIT_TO_END, 0) == 0);
	TU_CHILD_OK(mmapkit_punch(h->m, off, n) == 0);
	model_zero(h, off, off + n);
	huge_check(h, "punch of locked pages");
	TU_CHILD_OK(dontneed_refused(h, 1)); /* the new page is locked as the old one was */
	TU_CHILD_OK(mmapkit_unlock(h->m, 0, MMAPKIT_TO_END) == 0);
	TU_CHILD_OK(mmapkit_advise(h->m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DODUMP) == 0);
}

/* Private: the range reads zeros again (its backing), edges byte-exactly; shared: refused. */
static void huge_revert(struct huge *h)
{
	size_t hp = h->hp;

	huge_fill(h, 3);
	if (h->kind == MMAPKIT_ANON_SHARED) {
		TU_CHILD_OK(mmapkit_revert(h->m, 0, MMAPKIT_TO_END) == -EINVAL);
		huge_check(h, "revert refused");
		return;
	}
	TU_CHILD_OK(mmapkit_revert(h->m, 10, hp) == 0);
	model_zero(h, 10, 10 + hp);
	huge_check(h, "revert of a range");
	TU_CHILD_OK(mmapkit_revert(h->m, 0, MMAPKIT_TO_END) == 0);
	TU_CHILD_OK(tu_resident_pages(h->p, h->len) == 0); /* before reading faults them in */
	model_zero(h, 0, h->len);
	huge_check(h, "revert of everything");
}

static void huge_child(void *arg)
{
	int i = *(const int *)arg;
	struct huge h = {.kind = combos[i].kind, .flags = combos[i].flags};
	struct tu_snap s = tu_snap();
	unsigned flags = MMAPKIT_HUGETLB | h.flags;

	h.hp = tu_huge_page_size();
	h.len = PAGES * h.hp;
	h.exp = malloc(h.len);
	TU_CHILD_OK(h.exp != NULL);
	TU_CHILD_OK((h.kind == MMAPKIT_ANON_PRIVATE ? mmapkit_anon_private
						     : mmapkit_anon_shared)(&h.m, h.len, flags) == 0);
	h.p = mmapkit_ptr(h.m);
	TU_CHILD_OK((uintptr_t)h.p % h.hp == 0 && mmapkit_len(h.m) == h.len);
	huge_fill(&h, 0);
	huge_check(&h, "mapped");
	huge_sync(&h);
	huge_protect(&h);
	huge_lock(&h);
	huge_advise(&h);
	huge_punch(&h);
	huge_revert(&h);
	if ((h.flags & MMAPKIT_GUARD) && tu_fault_probes_work()) {
		TU_CHILD_OK(tu_read_faults(h.p - 1));
		TU_CHILD_OK(tu_read_faults(h.p + h.len));
	}
	mmapkit_unmap(h.m);
	free(h.exp);
	TU_CHILD_OK(tu_count_fds() == s.fds && (!tu_maps_reliable() || tu_count_maps() == s.maps));
}

START_TEST(hugetlb_range_ops)
{
	char why[128];
	long got = tu_huge_reserve(RESERVE, why, sizeof(why));
	int st;

	if (!got) {
		printf("hugetlb: %s; %s%s skipped\n", why, tu_kind_name(combos[_i].kind),
		       combos[_i].flags & MMAPKIT_GUARD ? " with MMAPKIT_GUARD" : "");
		return;
	}
	st = tu_child(huge_child, &_i);
	ck_assert_msg(tu_huge_release(got), "giving back %ld huge pages failed", got);
	ck_assert_msg(TU_EXITED(st, 0), "%s%s: child status 0x%x", tu_kind_name(combos[_i].kind),
		      combos[_i].flags & MMAPKIT_GUARD ? " with MMAPKIT_GUARD" : "", st);
}
END_TEST

Suite *suite_hugetlb(void)
{
	Suite *s = suite_create("hugetlb");
	TCase *tc = tu_tcase(s, "ranges", 30);

	tcase_add_loop_test(tc, hugetlb_range_ops, 0, (int)TU_LEN(combos));
	return s;
}
