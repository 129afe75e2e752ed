/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_advise: madvise() checked against the kind, recorded in the
 * attribute runs where the kernel keeps it per mapping.
 */
#define _GNU_SOURCE
#include <stdbool.h>
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

enum { K_AP = 1 << MMAPKIT_ANON_PRIVATE, K_AS = 1 << MMAPKIT_ANON_SHARED,
       K_FP = 1 << MMAPKIT_FILE_PRIVATE, K_FS = 1 << MMAPKIT_FILE_SHARED,
       K_ALL = K_AP | K_AS | K_FP | K_FS };

struct advice {
	int madv;
	unsigned kinds;
	bool destructive;
	bool no_locked;  /* the kernel refuses it on locked pages */
	uint32_t mask;   /* attributes it sets or clears... */
	uint32_t val;    /* ...to this value */
};

static const struct advice advices[] = {
	[MMAPKIT_ADV_NORMAL] = {MADV_NORMAL, K_ALL, false, false,
				MMAPKIT__A_RANDOM | MMAPKIT__A_SEQUENTIAL, 0},
	[MMAPKIT_ADV_RANDOM] = {MADV_RANDOM, K_ALL, false, false,
				MMAPKIT__A_RANDOM | MMAPKIT__A_SEQUENTIAL, MMAPKIT__A_RANDOM},
	[MMAPKIT_ADV_SEQUENTIAL] = {MADV_SEQUENTIAL, K_ALL, false, false,
				    MMAPKIT__A_RANDOM | MMAPKIT__A_SEQUENTIAL,
				    MMAPKIT__A_SEQUENTIAL},
	[MMAPKIT_ADV_WILLNEED] = {MADV_WILLNEED, K_ALL, false, false, 0, 0},
	[MMAPKIT_ADV_DONTNEED] = {MADV_DONTNEED, K_ALL, true, true, 0, 0},
	[MMAPKIT_ADV_FREE] = {MADV_FREE, K_AP, true, true, 0, 0},
	[MMAPKIT_ADV_REMOVE] = {MADV_REMOVE, K_AS | K_FS, true, true, 0, 0},
	[MMAPKIT_ADV_HUGEPAGE] = {MADV_HUGEPAGE, K_ALL, false, false,
				  MMAPKIT__A_HUGEPAGE | MMAPKIT__A_NOHUGEPAGE, MMAPKIT__A_HUGEPAGE},
	[MMAPKIT_ADV_NOHUGEPAGE] = {MADV_NOHUGEPAGE, K_ALL, false, false,
				    MMAPKIT__A_HUGEPAGE | MMAPKIT__A_NOHUGEPAGE,
				    MMAPKIT__A_NOHUGEPAGE},
	[MMAPKIT_ADV_DONTDUMP] = {MADV_DONTDUMP, K_ALL, false, false, MMAPKIT__A_DONTDUMP,
				  MMAPKIT__A_DONTDUMP},
	[MMAPKIT_ADV_DODUMP] = {MADV_DODUMP, K_ALL, false, false, MMAPKIT__A_DONTDUMP, 0},
	[MMAPKIT_ADV_DONTFORK] = {MADV_DONTFORK, K_ALL, false, false, MMAPKIT__A_DONTFORK,
				  MMAPKIT__A_DONTFORK},
	[MMAPKIT_ADV_DOFORK] = {MADV_DOFORK, K_ALL, false, false, MMAPKIT__A_DONTFORK, 0},
	[MMAPKIT_ADV_WIPEONFORK] = {MADV_WIPEONFORK, K_AP, false, false, MMAPKIT__A_WIPEONFORK,
				    MMAPKIT__A_WIPEONFORK},
	[MMAPKIT_ADV_KEEPONFORK] = {MADV_KEEPONFORK, K_AP, false, false, MMAPKIT__A_WIPEONFORK,
				    0},
	[MMAPKIT_ADV_COLD] = {MADV_COLD, K_ALL, false, true, 0, 0},
	[MMAPKIT_ADV_PAGEOUT] = {MADV_PAGEOUT, K_ALL, false, true, 0, 0},
	[MMAPKIT_ADV_POPULATE_READ] = {MADV_POPULATE_READ, K_ALL, false, false, 0, 0},
	[MMAPKIT_ADV_POPULATE_WRITE] = {MADV_POPULATE_WRITE, K_ALL, false, false, 0, 0},
};

static int check_advice(const mmapkit_map *m, const char *call, int advice)
{
	const struct advice *a;

	if (advice < 0 || advice >= (int)(sizeof(advices) / sizeof(advices[0])))
		return mmapkit__fail(EINVAL, "%s: unknown advice %d", call, advice);
	a = &advices[advice];
	if (!(a->kinds & (1u << m->kind)))
		return mmapkit__wrong_kind(m, call, advice == MMAPKIT_ADV_REMOVE
						   ? "MMAPKIT_ADV_REMOVE frees shared backing; use mmapkit_punch"
						   : "this advice applies to anonymous private memory only");
	/* REMOVE frees the backing for every sharer: it changes data, as punch does. */
	if ((advice == MMAPKIT_ADV_POPULATE_WRITE || advice == MMAPKIT_ADV_REMOVE) &&
	    (m->flags & MMAPKIT_RDONLY))
		return mmapkit__fail(EACCES, "%s: %s on an MMAPKIT_RDONLY mapping", call,
				     advice == MMAPKIT_ADV_REMOVE ? "MMAPKIT_ADV_REMOVE"
								  : "MMAPKIT_ADV_POPULATE_WRITE");
	/* MMAPKIT_SECRET memory is a shared secretmem mapping behind an anonymous private handle. */
	if ((m->flags & MMAPKIT_SECRET) && (advice == MMAPKIT_ADV_WIPEONFORK ||
					    advice == MMAPKIT_ADV_KEEPONFORK ||
					    advice == MMAPKIT_ADV_FREE))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_SECRET memory is a shared mapping of secret memory: advice %d does not apply",
				     call, advice);
	if ((m->flags & MMAPKIT_HUGETLB) && a->no_locked && !a->destructive)
		return mmapkit__wrong_kind(m, call, "the kernel does not age MMAPKIT_HUGETLB pages");
	/* the kernel keeps huge pages in a file of its own: these are for anonymous memory */
	if ((m->flags & MMAPKIT_HUGETLB) &&
	    (advice == MMAPKIT_ADV_FREE || advice == MMAPKIT_ADV_WIPEONFORK))
		return mmapkit__wrong_kind(m, call, advice == MMAPKIT_ADV_FREE
			? "MMAPKIT_ADV_FREE does not apply to MMAPKIT_HUGETLB pages; use MMAPKIT_ADV_DONTNEED"
			: "MMAPKIT_ADV_WIPEONFORK does not apply to MMAPKIT_HUGETLB pages");
	return 0;
}

/*
 * MADV_POPULATE_READ (WRITE) fails with EINVAL on pages that are not readable
 * (writable), which would read as "the kernel lacks it": refuse it here instead.
 */
static int populate_access(const mmapkit_map *m, const char *call, int advice, size_t p0,
			   size_t p1)
{
	uint32_t need = advice == MMAPKIT_ADV_POPULATE_READ    ? MMAPKIT__A_READ
			: advice == MMAPKIT_ADV_POPULATE_WRITE ? MMAPKIT__A_WRITE
							       : 0;

	if (!need || (mmapkit__runs_all(m, p0, p1) & need))
		return 0;
	return mmapkit__fail(EACCES, "%s: pages %zu..%zu include pages that are not %s; use mmapkit_protect first",
			     call, p0, p1, need == MMAPKIT__A_READ ? "readable" : "writable");
}

int mmapkit_advise(mmapkit_map *m, size_t off, size_t len, int advice)
{
	const char *call = __func__;
	const struct advice *a;
	struct mmapkit__span s;
	size_t p0, p1;
	int err;

	if (!m)
		return mmapkit__null_handle(call);
	err = check_advice(m, call, advice);
	if (!err)
		err = mmapkit__span_resolve(m, call, off, len, &s);
	/* Recording DONTFORK pages makes the handle's DONTFORK pages this process's. */
	if (!err)
		err = advice == MMAPKIT_ADV_DONTFORK && s.p0 < s.p1
			      ? mmapkit__fork_own_check(m, call, s.p0, s.p1)
			      : mmapkit__fork_check(m, call, s.p0, s.p1);
	if (err)
		return err;
	a = &advices[advice];
	p0 = a->destructive ? s.w0 : s.p0;
	p1 = a->destructive ? s.w1 : s.p1;
	if (p0 == p1)
		return 0;
	if (a->no_locked && (mmapkit__runs_any(m, p0, p1) & MMAPKIT__A_LOCKED))
		return mmapkit__fail(EINVAL, "%s: pages %zu..%zu include locked pages, which the kernel will not release; %s",
				     call, p0, p1, a->destructive ? "use mmapkit_punch" : "unlock them first");
	err = populate_access(m, call, advice, p0, p1);
	if (err)
		return err;
	if (a->mask && mmapkit__runs_reserve(m, 2) < 0)
		return mmapkit__fail(ENOMEM, "%s: out of memory", call);
	if (mmapkit__sys.madvise(mmapkit__page_addr(m, p0), mmapkit__pages_len(m, p0, p1), a->madv) < 0) {
		/* Every case we know to be invalid was refused above: the kernel lacks it. */
		err = errno == EINVAL ? EOPNOTSUPP : errno;
		return mmapkit__fail_sys(err, call, "madvise", "advice %d over range %zu+%zu",
					 advice, off, s.z - s.a);
	}
	if (a->mask) /* only then was room reserved for the runs_set split */
		mmapkit__runs_set(m, p0, p1, a->mask, a->val);
	return 0;
}
