/* SPDX-License-Identifier: MIT */
/*
 * Handles in fork() children.  A child inherits a copy of every handle but not
 * the pages that were DONTFORK when it was forked (MMAPKIT_DONTFORK or
 * MMAPKIT_ADV_DONTFORK, recorded per page as MMAPKIT__A_DONTFORK): operations
 * touching them fail with -EFAULT, and unmap releases only what the process has.
 *
 * A handle with DONTFORK pages records the process those pages belong to
 * (m->pid); any other process holding the handle is a descendant that lacks
 * them.  Only such handles pay for getpid(), once per call: m->attr_any tells
 * every other handle apart with one load.  Where a process records DONTFORK
 * pages of its own on an inherited handle, the inherited ones become
 * MMAPKIT__A_GONE first, which stays absent in this process and all its
 * descendants whatever the pages' advice becomes later (a DOFORK in the child
 * cannot bring them back).
 */
#define _GNU_SOURCE
#include <errno.h>

#include "internal.h"

/* The attributes of pages this process does not have; self: getpid(), or 0 when not known. */
static uint32_t absent_attrs_of(const mmapkit_map *m, pid_t self)
{
	if (!(m->attr_any & (MMAPKIT__A_DONTFORK | MMAPKIT__A_GONE)))
		return 0; /* the handle never had DONTFORK pages: no system call */
	if ((m->attr_any & MMAPKIT__A_DONTFORK) &&
	    (self ? self : mmapkit__sys.getpid()) != m->pid)
		return MMAPKIT__A_GONE | MMAPKIT__A_DONTFORK;
	return MMAPKIT__A_GONE;
}

static uint32_t absent_attrs(const mmapkit_map *m)
{
	return absent_attrs_of(m, 0);
}

uint32_t mmapkit__fork_absent(const mmapkit_map *m)
{
	return absent_attrs(m);
}

/* -EFAULT when a page of [p0, p1) has an attribute of `absent`. */
static int refuse_absent(const mmapkit_map *m, const char *call, size_t p0, size_t p1,
			 uint32_t absent)
{
	size_t i;

	if (p0 == p1 || !(m->attr_any & absent))
		return 0;
	for (i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++) {
		if (m->runs[i].attr & absent) {
			size_t a = m->runs[i].page > p0 ? m->runs[i].page : p0;
			size_t z = mmapkit__runs_end(m, i) < p1 ? mmapkit__runs_end(m, i) : p1;

			return mmapkit__fail(EFAULT, "%s: pages %zu..%zu of the range are not in this process: they were MMAPKIT_DONTFORK when it was forked from the process that mapped them",
					     call, a, z);
		}
	}
	return 0;
}

int mmapkit__fork_check(const mmapkit_map *m, const char *call, size_t p0, size_t p1)
{
	return p0 == p1 ? 0 : refuse_absent(m, call, p0, p1, absent_attrs(m));
}

/*
 * Before this process records DONTFORK pages: pages recorded by an ancestor
 * become GONE, and the handle's DONTFORK pages are this process's from now on.
 */
void mmapkit__fork_own(mmapkit_map *m)
{
	pid_t self = mmapkit__sys.getpid();

	if ((m->attr_any & MMAPKIT__A_DONTFORK) && self != m->pid)
		mmapkit__runs_recode(m, MMAPKIT__A_DONTFORK, MMAPKIT__A_GONE);
	m->pid = self;
}

int mmapkit__fork_own_check(mmapkit_map *m, const char *call, size_t p0, size_t p1)
{
	mmapkit__fork_own(m); /* one getpid: afterwards only GONE pages are absent */
	return refuse_absent(m, call, p0, p1, MMAPKIT__A_GONE);
}

/* Consecutive stretches to unmap, joined so that each costs one munmap. */
struct fork_stretch {
	unsigned char *from, *to;
};

static void stretch_add(struct fork_stretch *s, unsigned char *a, size_t n, bool have)
{
	if (have && n && s->to == a && s->from) {
		s->to = a + n;
		return;
	}
	if (s->from != s->to)
		mmapkit__sys.munmap(s->from, (size_t)(s->to - s->from));
	s->from = have && n ? a : NULL;
	s->to = have && n ? a + n : NULL;
}

/*
 * Unmap what this process has of the handle, when it lacks some of its pages
 * or guard pages: the guard pages and the pages it has, never the address
 * ranges of those it lacks, where it may have mapped memory of its own since.
 * Guard mappings of their own are always inherited; light guards share the
 * VMA of the pages and the MMAPKIT_DONTFORK it got from the constructor
 * (mmapkit_advise never covers them, so no DOFORK brings them back): only the
 * process that made them has them.  Returns false, having done nothing, when
 * the process has every page and guard.
 */
bool mmapkit__fork_unmap(mmapkit_map *m)
{
	bool light_dontfork = (m->guard_light || m->back_light) && (m->flags & MMAPKIT_DONTFORK);
	pid_t self = light_dontfork ? mmapkit__sys.getpid() : 0;
	uint32_t absent = absent_attrs_of(m, self);
	bool mine = !light_dontfork || self == m->guard_pid;
	bool front = mine || !m->guard_light, back = mine || !m->back_light;
	struct fork_stretch s = {NULL, NULL};

	if (mine && (!absent || !(m->attr_any & absent)))
		return false;
	stretch_add(&s, m->base - m->guard, m->guard, front);
	for (size_t i = 0; i < m->nruns; i++)
		stretch_add(&s, mmapkit__page_addr(m, m->runs[i].page),
			    mmapkit__pages_len(m, m->runs[i].page, mmapkit__runs_end(m, i)),
			    !(m->runs[i].attr & absent));
	stretch_add(&s, m->base + m->map_len, m->guard, back);
	stretch_add(&s, NULL, 0, false);
	return true;
}
