/* SPDX-License-Identifier: MIT */
/*
 * Per-page attribute runs: a sorted array of (first page, attributes), each
 * run lasting until the next one starts.  Protect, lock and advice split and
 * merge runs; punch and revert read them to rebuild replaced pages exactly.
 */
#include <bsd/stdlib.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static size_t npages(const mmapkit_map *m)
{
	return m->map_len / m->gran;
}

void mmapkit__runs_init(mmapkit_map *m, uint32_t attr)
{
	m->runs = m->inline_runs;
	m->cap = MMAPKIT__INLINE_RUNS;
	m->nruns = m->map_len ? 1 : 0;
	m->runs[0].page = 0;
	m->runs[0].attr = attr;
	m->attr_any = m->nruns ? attr : 0;
}

void mmapkit__runs_free(mmapkit_map *m)
{
	if (m->runs != m->inline_runs)
		free(m->runs);
	m->runs = NULL;
}

/*
 * Make room for `extra` more runs, so that a later runs_set cannot fail.
 * reallocarray checks the size multiplication; the doubling stops short of
 * overflowing (a run count that large fails with -ENOMEM).
 */
int mmapkit__runs_reserve(mmapkit_map *m, size_t extra)
{
	size_t cap = m->cap, need = m->nruns + extra;
	bool inline_runs = m->runs == m->inline_runs;
	struct mmapkit__run *r;

	if (need <= cap)
		return 0;
	if (need < m->nruns) /* extra overflowed */
		return -ENOMEM;
	while (cap < need)
		cap = cap <= SIZE_MAX / 2 ? cap * 2 : need;
	r = reallocarray(inline_runs ? NULL : m->runs, cap, sizeof(*r));
	if (!r)
		return -ENOMEM;
	if (inline_runs)
		memcpy(r, m->runs, m->nruns * sizeof(*r));
	m->runs = r;
	m->cap = cap;
	return 0;
}

/* Index of the run holding `page`. */
size_t mmapkit__runs_find(const mmapkit_map *m, size_t page)
{
	size_t lo = 0, hi = m->nruns;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (m->runs[mid].page <= page)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* First page after run i. */
size_t mmapkit__runs_end(const mmapkit_map *m, size_t i)
{
	return i + 1 < m->nruns ? m->runs[i + 1].page : npages(m);
}

/* Start a run at `page` (if none starts there); returns its index. */
static size_t split(mmapkit_map *m, size_t page)
{
	size_t i = mmapkit__runs_find(m, page);

	if (m->runs[i].page == page)
		return i;
	memmove(&m->runs[i + 2], &m->runs[i + 1], (m->nruns - i - 1) * sizeof(m->runs[0]));
	m->runs[i + 1].page = page;
	m->runs[i + 1].attr = m->runs[i].attr;
	m->nruns++;
	return i + 1;
}

/* Join neighbouring runs with equal attributes; attr_any is their union again. */
static void merge(mmapkit_map *m)
{
	size_t w = 0;
	uint32_t any = m->runs[0].attr;

	for (size_t i = 1; i < m->nruns; i++) {
		any |= m->runs[i].attr;
		if (m->runs[i].attr == m->runs[w].attr)
			continue;
		m->runs[++w] = m->runs[i];
	}
	m->nruns = w + 1;
	m->attr_any = any;
}

/*
 * Set (attr & ~mask) | val on pages [p0, p1).  The caller reserved two runs
 * beforehand, so this never fails.
 */
void mmapkit__runs_set(mmapkit_map *m, size_t p0, size_t p1, uint32_t mask, uint32_t val)
{
	size_t i, end;

	if (p0 >= p1 || !mask) /* nothing changes: split nothing either */
		return;
	i = split(m, p0);
	end = p1 < npages(m) ? split(m, p1) : m->nruns;
	for (; i < end; i++)
		m->runs[i].attr = (m->runs[i].attr & ~mask) | val;
	merge(m);
}

/* Every run with an attribute of `from` gets exactly the attributes `to` instead. */
void mmapkit__runs_recode(mmapkit_map *m, uint32_t from, uint32_t to)
{
	if (!(m->attr_any & from))
		return;
	for (size_t i = 0; i < m->nruns; i++)
		if (m->runs[i].attr & from)
			m->runs[i].attr = to;
	merge(m);
}

/* Union of the attributes of pages [p0, p1). */
uint32_t mmapkit__runs_any(const mmapkit_map *m, size_t p0, size_t p1)
{
	uint32_t a = 0;

	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++)
		a |= m->runs[i].attr;
	return a;
}

/* Intersection of the attributes of pages [p0, p1). */
uint32_t mmapkit__runs_all(const mmapkit_map *m, size_t p0, size_t p1)
{
	uint32_t a = ~0u;

	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++)
		a &= m->runs[i].attr;
	return a;
}

/* The mapping now ends at npages (a shrink): runs starting there or later go. */
void mmapkit__runs_truncate(mmapkit_map *m, size_t npages)
{
	uint32_t any = 0;

	while (m->nruns && m->runs[m->nruns - 1].page >= npages)
		m->nruns--;
	for (size_t i = 0; i < m->nruns; i++)
		any |= m->runs[i].attr;
	m->attr_any = any;
}

/*
 * Pages from `page` on were added (a grow) with attr: a run of their own
 * unless the last run has the same attributes.  The caller reserved one run.
 */
void mmapkit__runs_append(mmapkit_map *m, size_t page, uint32_t attr)
{
	m->attr_any |= attr;
	if (m->nruns && m->runs[m->nruns - 1].attr == attr)
		return;
	m->runs[m->nruns].page = page;
	m->runs[m->nruns].attr = attr;
	m->nruns++;
}
