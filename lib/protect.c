/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_protect, mmapkit_lock and mmapkit_unlock: non-destructive page
 * operations over the pages holding the range.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

#define PROT_KNOWN (MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE | MMAPKIT_PROT_EXEC)

/* Common head of the non-destructive page operations. */
static int pages_op(mmapkit_map *m, const char *call, size_t off, size_t len, struct mmapkit__span *s)
{
	int err = mmapkit__span_resolve(m, call, off, len, s);

	if (!err)
		err = mmapkit__fork_check(m, call, s->p0, s->p1);
	if (!err && mmapkit__runs_reserve(m, 2) < 0)
		err = mmapkit__fail(ENOMEM, "%s: out of memory", call);
	return err;
}

int mmapkit_protect(mmapkit_map *m, size_t off, size_t len, unsigned prot)
{
	const char *call = __func__;
	struct mmapkit__span s;
	int p, err;

	if (!m)
		return mmapkit__null_handle(call);
	if (prot & ~PROT_KNOWN)
		return mmapkit__fail(EINVAL, "%s: unknown bits 0x%x in prot", call, prot & ~PROT_KNOWN);
	if ((prot & MMAPKIT_PROT_WRITE) && (prot & MMAPKIT_PROT_EXEC))
		return mmapkit__fail(EACCES, "%s: write and exec together are refused", call);
	if ((prot & MMAPKIT_PROT_WRITE) && (m->flags & MMAPKIT_RDONLY))
		return mmapkit__fail(EACCES, "%s: the mapping is MMAPKIT_RDONLY", call);
	err = pages_op(m, call, off, len, &s);
	if (err || s.p0 == s.p1)
		return err;
	p = (prot & MMAPKIT_PROT_READ ? PROT_READ : 0) | (prot & MMAPKIT_PROT_WRITE ? PROT_WRITE : 0) |
	    (prot & MMAPKIT_PROT_EXEC ? PROT_EXEC : 0);
	if (mmapkit__sys.mprotect(mmapkit__page_addr(m, s.p0), mmapkit__pages_len(m, s.p0, s.p1), p) < 0) {
		err = mmapkit__fail_sys(errno, call, "mprotect", "range %zu+%zu to 0x%x", off,
					s.z - s.a, prot);
		mmapkit__reprotect(m, s.p0, s.p1); /* mprotect may stop half-way */
		return err;
	}
	mmapkit__runs_set(m, s.p0, s.p1, MMAPKIT__A_PROT, mmapkit__prot_attr(p));
	return 0;
}

/*
 * Does [p0, p1) hold a page that is neither readable nor writable?  Faulting
 * it in fails: PROT_NONE always, exec-only where the CPU has protection keys.
 */
static bool inaccessible(const mmapkit_map *m, size_t p0, size_t p1)
{
	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++)
		if (!(m->runs[i].attr & (MMAPKIT__A_READ | MMAPKIT__A_WRITE)))
			return true;
	return false;
}

int mmapkit_lock(mmapkit_map *m, size_t off, size_t len, unsigned how)
{
	const char *call = __func__;
	struct mmapkit__span s;
	int r, err;

	if (!m)
		return mmapkit__null_handle(call);
	if (how & ~MMAPKIT_LOCK_ONFAULT)
		return mmapkit__fail(EINVAL, "%s: unknown bits 0x%x in how", call,
				     how & ~MMAPKIT_LOCK_ONFAULT);
	err = pages_op(m, call, off, len, &s);
	if (err || s.p0 == s.p1)
		return err;
	/* The kernel would mark them locked, fail to fault them in, and say ENOMEM. */
	if (!how && inaccessible(m, s.p0, s.p1))
		return mmapkit__fail(ENOMEM, "%s: range %zu+%zu holds pages that are neither readable nor writable, which mlock cannot fault in; pass MMAPKIT_LOCK_ONFAULT or make them accessible first",
				     call, off, s.z - s.a);
	r = how ? mmapkit__sys.mlock2(mmapkit__page_addr(m, s.p0), mmapkit__pages_len(m, s.p0, s.p1), MLOCK_ONFAULT)
		: mmapkit__sys.mlock(mmapkit__page_addr(m, s.p0), mmapkit__pages_len(m, s.p0, s.p1));
	if (r < 0) {
		/* mlock can leave pages marked locked when faulting them in fails. */
		err = mmapkit__fail_sys(errno, call, how ? "mlock2" : "mlock",
					"range %zu+%zu (see RLIMIT_MEMLOCK)", off, s.z - s.a);
		mmapkit__sys.munlock(mmapkit__page_addr(m, s.p0), mmapkit__pages_len(m, s.p0, s.p1));
		mmapkit__relock(m, call, s.p0, s.p1);
		return err;
	}
	mmapkit__runs_set(m, s.p0, s.p1, MMAPKIT__A_LOCK,
			  MMAPKIT__A_LOCKED | (how ? MMAPKIT__A_ONFAULT : 0));
	return 0;
}

int mmapkit_unlock(mmapkit_map *m, size_t off, size_t len)
{
	const char *call = __func__;
	struct mmapkit__span s;
	int err;

	if (!m)
		return mmapkit__null_handle(call);
	err = pages_op(m, call, off, len, &s);
	if (err || s.p0 == s.p1)
		return err;
	if (mmapkit__sys.munlock(mmapkit__page_addr(m, s.p0), mmapkit__pages_len(m, s.p0, s.p1)) < 0)
		return mmapkit__fail_sys(errno, call, "munlock", "range %zu+%zu", off, s.z - s.a);
	mmapkit__runs_set(m, s.p0, s.p1, MMAPKIT__A_LOCK, 0);
	return 0;
}
