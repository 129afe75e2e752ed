/* SPDX-License-Identifier: MIT */
/*
 * What every range operation shares: resolving (off, len) to bytes and pages,
 * the common refusals, and re-locking pages the way the handle records them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

static const char *const kind_names[] = {
	"?", "MMAPKIT_ANON_PRIVATE", "MMAPKIT_ANON_SHARED", "MMAPKIT_FILE_PRIVATE",
	"MMAPKIT_FILE_SHARED",
};

bool mmapkit__is_private(const mmapkit_map *m)
{
	return m->kind == MMAPKIT_ANON_PRIVATE || m->kind == MMAPKIT_FILE_PRIVATE;
}

int mmapkit__span_resolve(const mmapkit_map *m, const char *call, size_t off, size_t len,
			  struct mmapkit__span *s)
{
	size_t g;

	/* Set on every path: gcc -O3 cannot see that mmapkit__fail never returns 0. */
	*s = (struct mmapkit__span){0};
	if (len == MMAPKIT_TO_END && off <= m->len)
		len = m->len - off;
	if (off > m->len || len > m->len - off)
		return mmapkit__fail(ERANGE, "%s: range %zu+%zu lies outside the mapping (%zu bytes)",
				     call, off, len, m->len);
	/* len 0 is an empty range: s stays all zero, and every caller returns before a call. */
	if (len == 0)
		return 0;
	/*
	 * A ring's pages are mapped twice: an operation on part of them would
	 * leave the two copies different (protection, locks, fork advice), so a
	 * range is the whole ring and covers both copies.
	 */
	if (m->ring && (off || len != m->len))
		return mmapkit__fail(EINVAL, "%s: range %zu+%zu of a ring (mmapkit_ring): a ring takes the whole ring only (0 and MMAPKIT_TO_END), which covers both copies of its pages",
				     call, off, len);
	if (m->ring)
		len = 2 * m->len;
	g = m->gran;
	s->a = m->delta + off;
	s->z = s->a + len;
	s->p0 = s->a / g;
	s->p1 = (s->z + g - 1) / g;
	s->w0 = (s->a + g - 1) / g;
	s->w1 = s->z / g;
	if (s->w0 > s->w1) /* inside one page */
		s->w1 = s->w0;
	return 0;
}

unsigned char *mmapkit__page_addr(const mmapkit_map *m, size_t page)
{
	return m->base + page * m->gran;
}

size_t mmapkit__pages_len(const mmapkit_map *m, size_t p0, size_t p1)
{
	return (p1 - p0) * m->gran;
}

int mmapkit__null_handle(const char *call)
{
	return mmapkit__fail(EINVAL, "%s: handle is NULL", call);
}

int mmapkit__wrong_kind(const mmapkit_map *m, const char *call, const char *why)
{
	return mmapkit__fail(EINVAL, "%s: not for %s: %s", call, kind_names[m->kind], why);
}

/* Best effort: pages [p0, p1) get back the protection the runs record. */
void mmapkit__reprotect(mmapkit_map *m, size_t p0, size_t p1)
{
	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++) {
		size_t a = m->runs[i].page > p0 ? m->runs[i].page : p0;
		size_t z = mmapkit__runs_end(m, i) < p1 ? mmapkit__runs_end(m, i) : p1;

		mmapkit__sys.mprotect(mmapkit__page_addr(m, a), mmapkit__pages_len(m, a, z),
				      mmapkit__attr_prot(m->runs[i].attr));
	}
}

/* Lock pages [p0, p1) again the way the runs record them (after an unlock). */
int mmapkit__relock(mmapkit_map *m, const char *call, size_t p0, size_t p1)
{
	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++) {
		uint32_t at = m->runs[i].attr;
		size_t a = m->runs[i].page > p0 ? m->runs[i].page : p0;
		size_t z = mmapkit__runs_end(m, i) < p1 ? mmapkit__runs_end(m, i) : p1;
		bool onfault;
		int r;

		if (!(at & MMAPKIT__A_LOCKED))
			continue;
		/*
		 * mlock faults the pages in, which fails on pages that are neither
		 * readable nor writable (after marking them locked): lock those on
		 * fault, which gives them the same state.
		 */
		onfault = (at & MMAPKIT__A_ONFAULT) || !(at & (MMAPKIT__A_READ | MMAPKIT__A_WRITE));
		r = onfault ? mmapkit__sys.mlock2(mmapkit__page_addr(m, a), mmapkit__pages_len(m, a, z), MLOCK_ONFAULT)
			    : mmapkit__sys.mlock(mmapkit__page_addr(m, a), mmapkit__pages_len(m, a, z));
		if (r < 0)
			return mmapkit__fail_sys(errno, call, onfault ? "mlock2" : "mlock",
						 "re-locking %zu bytes", mmapkit__pages_len(m, a, z));
	}
	return 0;
}
