/* SPDX-License-Identifier: MIT */
/*
 * Replacing whole pages of a private mapping in place (punch and revert of
 * MMAPKIT_FILE_PRIVATE).  Where the pages carry attributes that a fresh mmap
 * would lose, the replacement is built off to the side, given exactly those
 * attributes, and moved over the old pages with mremap(MREMAP_FIXED).
 *
 * Only on a kernel whose failing mremap leaves its destination mapped
 * (mmapkit__replace_moves): elsewhere a failure could leave a hole in the
 * handle's range that another thread's mmap(NULL) may take, so punch and
 * revert do their work in place there (punch.c) and never call this.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

struct repl {
	mmapkit_map *m;
	const char *call;
	unsigned char *at; /* replacement's first byte */
	size_t p0;         /* page of the mapping that `at` stands for */
	int prot0;         /* protection the replacement was created with */
	uint32_t drop;     /* attributes left out of the replacement (MMAPKIT__A_WRITE) */
	bool by_prot;      /* the lock walk also splits by protection */
	size_t done;       /* pages [p0, done) are replaced */
};

typedef int (*apply_fn)(struct repl *r, uint32_t val, unsigned char *addr, size_t len);

/*
 * Call fn on each maximal stretch of pages in [p0, p1) over which
 * (attr & mask) stays the same, so every attribute costs the fewest calls.
 */
static int walk(struct repl *r, size_t p0, size_t p1, uint32_t mask, apply_fn fn)
{
	const mmapkit_map *m = r->m;
	size_t i = mmapkit__runs_find(m, p0), start = p0;
	uint32_t cur = m->runs[i].attr & mask;

	for (;;) {
		size_t end = mmapkit__runs_end(m, i);
		uint32_t next;

		if (end >= p1) {
			end = p1;
			next = ~cur;
		} else {
			next = m->runs[i + 1].attr & mask;
		}
		if (next != cur) {
			int err = fn(r, cur, r->at + (start - r->p0) * m->gran,
				     (end - start) * m->gran);
			if (err || end == p1)
				return err;
			start = end;
			cur = next;
		}
		i++;
	}
}

static int repl_fail(struct repl *r, const char *step, size_t len)
{
	return mmapkit__fail_sys(errno, r->call, step, "rebuilding %zu bytes of replaced pages",
				 len);
}

static int apply_prot(struct repl *r, uint32_t val, unsigned char *addr, size_t len)
{
	int prot = mmapkit__attr_prot(val & ~r->drop);

	if (prot == r->prot0 || mmapkit__sys.mprotect(addr, len, prot) == 0)
		return 0;
	return repl_fail(r, "mprotect", len);
}

static int apply_lock(struct repl *r, uint32_t val, unsigned char *addr, size_t len)
{
	if (!(val & MMAPKIT__A_LOCKED))
		return 0;
	/*
	 * mlock faults the pages in, which fails on pages neither readable nor
	 * writable (after marking them locked): lock those on fault, same state.
	 */
	if ((val & MMAPKIT__A_ONFAULT) ||
	    (r->by_prot && !(val & (MMAPKIT__A_READ | MMAPKIT__A_WRITE)))) {
		if (mmapkit__sys.mlock2(addr, len, MLOCK_ONFAULT) == 0)
			return 0;
		return repl_fail(r, "mlock2", len);
	}
	if (mmapkit__sys.mlock(addr, len) == 0)
		return 0;
	return repl_fail(r, "mlock", len);
}

static const struct {
	uint32_t attr;
	int advice;
} advice_attrs[] = {
	{MMAPKIT__A_DONTFORK, MADV_DONTFORK},	{MMAPKIT__A_WIPEONFORK, MADV_WIPEONFORK},
	{MMAPKIT__A_DONTDUMP, MADV_DONTDUMP},	{MMAPKIT__A_HUGEPAGE, MADV_HUGEPAGE},
	{MMAPKIT__A_NOHUGEPAGE, MADV_NOHUGEPAGE}, {MMAPKIT__A_RANDOM, MADV_RANDOM},
	{MMAPKIT__A_SEQUENTIAL, MADV_SEQUENTIAL},
};

static int apply_advice(struct repl *r, uint32_t val, unsigned char *addr, size_t len)
{
	for (size_t i = 0; i < sizeof(advice_attrs) / sizeof(advice_attrs[0]); i++) {
		if (!(val & advice_attrs[i].attr))
			continue;
		if (mmapkit__sys.madvise(addr, len, advice_attrs[i].advice) < 0)
			return repl_fail(r, "madvise", len);
	}
	return 0;
}

/* Lock what was locked; inaccessible stretches need a call of their own (see apply_lock). */
static int lock_all(struct repl *r, size_t p0, size_t p1)
{
	const mmapkit_map *m = r->m;

	r->by_prot = false;
	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++)
		if ((m->runs[i].attr & MMAPKIT__A_LOCK) == MMAPKIT__A_LOCKED &&
		    !(m->runs[i].attr & (MMAPKIT__A_READ | MMAPKIT__A_WRITE)))
			r->by_prot = true;
	return walk(r, p0, p1, MMAPKIT__A_LOCK | (r->by_prot ? MMAPKIT__A_PROT : 0), apply_lock);
}

static int apply_all(struct repl *r, size_t p0, size_t p1)
{
	int err = walk(r, p0, p1, MMAPKIT__A_PROT, apply_prot);

	for (size_t i = 0; !err && i < sizeof(advice_attrs) / sizeof(advice_attrs[0]); i++)
		err = walk(r, p0, p1, advice_attrs[i].attr, apply_advice);
	if (!err) /* last: locking faults the pages in, with their final protection */
		err = lock_all(r, p0, p1);
	return err;
}

/* Attributes that split the replacement into separate VMAs where they change. */
#define VMA_ATTRS (MMAPKIT__A_PROT | MMAPKIT__A_LOCK | MMAPKIT__A_ADVICE)

/* Move one stretch of equal VMA attributes over the pages it replaces. */
static int move_stretch(struct repl *r, uint32_t val, unsigned char *addr, size_t len)
{
	size_t first = r->p0 + (size_t)(addr - r->at) / r->m->gran;
	unsigned char *to = mmapkit__page_addr(r->m, first);

	(void)val;
	if (mmapkit__sys.mremap(addr, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED)
		return repl_fail(r, "mremap", len);
	r->done = first + len / r->m->gran;
	return 0;
}

/*
 * From 6.17 one mremap moves the whole replacement, however many VMAs its
 * attributes split it into; EFAULT there (a file system whose mappings the
 * kernel will not move several at a time) comes before the destination is
 * touched, and each stretch then moves by its own call.  A kernel that
 * checks first but moves one VMA per call gets a call per stretch at once.
 * Only a per-stretch move can stop half-way: the stretches moved stay new.
 */
static int move_into_place(struct repl *r, size_t p0, size_t p1, size_t len)
{
	if (mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA)) {
		if (mmapkit__sys.mremap(r->at, len, len, MREMAP_MAYMOVE | MREMAP_FIXED,
					mmapkit__page_addr(r->m, p0)) != MAP_FAILED) {
			r->done = p1;
			return 0;
		}
		if (errno != EFAULT)
			return repl_fail(r, "mremap", len);
	}
	return walk(r, p0, p1, VMA_ATTRS, move_stretch);
}

bool mmapkit__replace_moves(void)
{
	return mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST);
}

/*
 * Pages [p0, p1) mapped again with flags from fd at foff, with the attributes
 * the runs record less r->drop.  On failure *done tells how far it got: pages
 * [p0, *done) are new, the rest are old, none unmapped.
 */
static int replace_with(struct repl *r, size_t p0, size_t p1, int flags, int fd, off_t foff,
			size_t *done)
{
	mmapkit_map *m = r->m;
	size_t len = (p1 - p0) * m->gran;
	unsigned char *target = m->base + p0 * m->gran;
	uint32_t first = m->runs[mmapkit__runs_find(m, p0)].attr;
	uint32_t any = mmapkit__runs_any(m, p0, p1), all = mmapkit__runs_all(m, p0, p1);
	void *p;
	int err;

	r->p0 = p0;
	r->prot0 = mmapkit__attr_prot(first & ~r->drop);
	r->done = p0;
	/* Nothing to carry over: the single mmap(MAP_FIXED) a careful caller would make. */
	if (any == all && !(any & (MMAPKIT__A_LOCK | MMAPKIT__A_ADVICE))) {
		p = mmapkit__sys.mmap(target, len, r->prot0, flags | MAP_FIXED, fd, foff);
		*done = p == MAP_FAILED ? p0 : p1;
		return p == MAP_FAILED ? repl_fail(r, "mmap", len) : 0;
	}
	/*
	 * Locked pages would count twice against RLIMIT_MEMLOCK while the locked
	 * replacement is built: unlock the old ones first, lock them again on failure.
	 */
	if ((any & MMAPKIT__A_LOCKED) && mmapkit__sys.munlock(target, len) < 0) {
		*done = p0;
		return repl_fail(r, "munlock", len);
	}
	p = mmapkit__sys.mmap(NULL, len, r->prot0, flags, fd, foff);
	if (p == MAP_FAILED) {
		err = repl_fail(r, "mmap", len);
	} else {
		r->at = p;
		err = apply_all(r, p0, p1);
		if (!err)
			err = move_into_place(r, p0, p1, len);
		/* only what was not moved: a moved stretch left a hole that is not ours */
		if (err)
			mmapkit__sys.munmap(r->at + (r->done - p0) * m->gran, (p1 - r->done) * m->gran);
	}
	if (err && (any & MMAPKIT__A_LOCKED) && r->done < p1) {
		r->at = target;
		r->drop = 0;
		lock_all(r, r->done, p1);
	}
	*done = r->done;
	return err;
}

/*
 * Replace pages [p0, p1) by fresh anonymous (or, from_file, file) pages with
 * the attributes the runs record.  On failure *done tells how far it got:
 * pages [p0, *done) are new, the rest are old, none unmapped.
 */
int mmapkit__replace(mmapkit_map *m, const char *call, size_t p0, size_t p1, bool from_file,
		     size_t *done)
{
	struct repl r = {.m = m, .call = call};
	off_t foff = (off_t)(m->offset - m->delta + p0 * m->gran);
	int flags = MAP_PRIVATE | (from_file ? 0 : MAP_ANONYMOUS) |
		    (m->flags & MMAPKIT_NORESERVE ? MAP_NORESERVE : 0);

	return replace_with(&r, p0, p1, flags, from_file ? m->fd : -1, from_file ? foff : 0,
			    done);
}

int mmapkit__replace_shared(mmapkit_map *m, const char *call, int fd, uint32_t drop,
			    size_t *done)
{
	struct repl r = {.m = m, .call = call, .drop = drop};
	int flags = MAP_SHARED | (m->flags & MMAPKIT_NORESERVE ? MAP_NORESERVE : 0);

	return replace_with(&r, 0, m->map_len / m->gran, flags, fd,
			    (off_t)(m->offset - m->delta), done);
}
