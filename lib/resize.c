/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_resize: grow or shrink a handle's range.
 *
 * Pages kept keep every attribute (they are the same pages, or moved with
 * mremap, which keeps each VMA's flags).  Pages added get the constructor's
 * attributes: they are a fresh mapping made exactly as the constructor makes
 * one (same kind, protection, flags, advice, lock, name), except on the fast
 * path where the whole mapping is one VMA that still has the constructor's
 * attributes, so that one mremap() gives the new pages the same ones.
 *
 * Every step that can fail comes before the step that changes the handle's
 * pages, or is undone when a later one fails; new pages are built off to the
 * side and moved into place with one mremap(MREMAP_FIXED) where they would
 * replace something (the old back guard).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

#define RESIZE_KNOWN (MMAPKIT_RESIZE_NOMOVE | MMAPKIT_GROW)

struct rsz {
	mmapkit_map *m;
	const char *call;
	size_t new_map; /* mapped bytes after the resize */
	size_t guard;   /* guard bytes on each side after the resize */
	bool nomove;
	bool fast;      /* grown by one mremap: the single run covers the new pages */
};

/*
 * File kinds growing: the new range must fit in the file, which MMAPKIT_GROW
 * extends first.  *old_size is set when the file was grown (to put it back).
 */
static int fit_file(struct rsz *r, size_t new_len, unsigned flags, bool *grown,
		    uint64_t *old_size)
{
	mmapkit_map *m = r->m;
	uint64_t size, end = m->offset + new_len;
	bool regular, sized;
	int err;

	*grown = false;
	if (!mmapkit__is_file(m) || new_len <= m->len)
		return 0; /* shrinking never changes the file */
	err = mmapkit__file_size(m, r->call, &size, &regular, &sized);
	if (err || !sized || end <= size)
		return err;
	if (!regular)
		return mmapkit__fail(ERANGE, "%s: new range %llu+%zu ends past end of device (%llu bytes); a block device cannot grow",
				     r->call, (unsigned long long)m->offset, new_len,
				     (unsigned long long)size);
	if (!(flags & MMAPKIT_GROW))
		return mmapkit__fail(ERANGE, "%s: new range %llu+%zu ends past end of file (%llu bytes); pass MMAPKIT_GROW to extend the file",
				     r->call, (unsigned long long)m->offset, new_len,
				     (unsigned long long)size);
	if (mmapkit__sys.ftruncate(m->fd, (off_t)end) < 0) {
		/* EBADF/EINVAL: the handle's descriptor is not open for writing */
		err = errno == EINVAL || errno == EBADF ? EACCES : errno;
		return mmapkit__fail_sys(err, r->call, "ftruncate", "growing the file to %llu bytes",
					 (unsigned long long)end);
	}
	*grown = true;
	*old_size = size;
	return 0;
}

/*
 * Shrink with guards on a kernel whose failing mremap(MREMAP_FIXED) may unmap
 * its destination (before 6.12): no call that could leave a hole in the
 * handle's pages.  The first page past the new end becomes the guard where it
 * is (mprotect PROT_NONE, its memory dropped); the pages after it and the old
 * guard go with one munmap, and if that fails the page gets its protection back.
 */
static int shrink_in_place(struct rsz *r)
{
	mmapkit_map *m = r->m;
	size_t old = m->map_len, g = m->guard, p = r->new_map / m->gran;
	unsigned char *end = m->base + r->new_map;
	uint32_t attr = m->runs[mmapkit__runs_find(m, p)].attr;

	if (mmapkit__sys.mprotect(end, g, PROT_NONE) < 0)
		return mmapkit__fail_sys(errno, r->call, "mprotect", "making the page past the new end the guard");
	if (mmapkit__sys.munmap(end + g, old - r->new_map + m->guard_extra) < 0) {
		int err = mmapkit__fail_sys(errno, r->call, "munmap",
					    "releasing %zu bytes past the new end", old - r->new_map);

		mmapkit__sys.mprotect(end, g, mmapkit__attr_prot(attr));
		return err;
	}
	m->guard_extra = 0;
	m->back_light = false; /* the new back guard is a page of the handle made inaccessible */
	/* best effort, after the fact: the guard holds no memory (unlocked, dropped) */
	if (attr & MMAPKIT__A_LOCKED)
		mmapkit__sys.munlock(end, g);
	if (mmapkit__is_private(m))
		mmapkit__sys.madvise(end, g, MADV_DONTNEED);
	mmapkit__name_clear(m, end, g);
	return 0;
}

/*
 * Shrink: release the pages past the new end.  With guards, the back guard
 * follows the new end: a fresh guard page, made aside, replaces the first
 * page past the end in one mremap; then the pages past it and the old guard
 * go.  That last munmap covers whole mappings only; should it fail anyway,
 * the handle keeps them (inaccessible past its guard) until it is unmapped.
 */
static int shrink(struct rsz *r)
{
	mmapkit_map *m = r->m;
	size_t old = m->map_len, g = m->guard;
	unsigned char *end = m->base + r->new_map;
	void *gp;
	int err;

	if (!g) {
		if (mmapkit__sys.munmap(end, old - r->new_map) == 0)
			return 0;
		return mmapkit__fail_sys(errno, r->call, "munmap", "releasing %zu bytes past the new end",
					 old - r->new_map);
	}
	if (!mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST))
		return shrink_in_place(r);
	gp = mmapkit__sys.mmap(NULL, g, PROT_NONE, mmapkit__guard_flags(m), -1, 0);
	if (gp == MAP_FAILED)
		return mmapkit__fail_sys(errno, r->call, "mmap", "a guard page of %zu bytes", g);
	if (mmapkit__sys.mremap(gp, g, g, MREMAP_MAYMOVE | MREMAP_FIXED, end) == MAP_FAILED) {
		err = mmapkit__fail_sys(errno, r->call, "mremap", "moving a guard page to the new end");
		mmapkit__sys.munmap(gp, g);
		return err;
	}
	if (mmapkit__sys.munmap(end + g, old - r->new_map + m->guard_extra) == 0)
		m->guard_extra = 0;
	else
		m->guard_extra += old - r->new_map;
	m->back_light = false; /* the new back guard is a mapping of its own */
	return 0;
}

/* The whole mapping is one VMA with the constructor's attributes: mremap can grow it. */
static bool fast_ok(const mmapkit_map *m)
{
	return m->map_len && !m->guard && m->kind != MMAPKIT_ANON_SHARED &&
	       !(m->flags & (MMAPKIT_HUGETLB | MMAPKIT_POPULATE)) && m->nruns == 1 &&
	       m->runs[0].attr == mmapkit__initial_attr(m->flags);
}

/* 0: done; 1: take the general path (several VMAs after all); < 0: failed. */
static int grow_fast(struct rsz *r)
{
	mmapkit_map *m = r->m;
	void *p = mmapkit__sys.mremap(m->base, m->map_len, r->new_map,
				      r->nomove ? 0 : MREMAP_MAYMOVE, NULL);

	if (p != MAP_FAILED) {
		m->base = p;
		r->fast = true;
		return 0;
	}
	if (errno == EFAULT)
		return 1;
	if (r->nomove && errno == ENOMEM)
		return mmapkit__fail_sys(ENOMEM, r->call, "mremap", "growing %zu bytes to %zu in place (MMAPKIT_RESIZE_NOMOVE forbids moving; the address space after the mapping is in use)",
					 m->map_len, r->new_map);
	return mmapkit__fail_sys(errno, r->call, "mremap", "growing %zu bytes to %zu",
				 m->map_len, r->new_map);
}

/*
 * Fresh pages for [map_len, new_map) of the handle, made as the constructor
 * makes them, at `at` with mmap flags `extra`.  1: not there (no room).
 */
static int new_pages(struct rsz *r, void *at, int extra, unsigned char **out)
{
	mmapkit_map *m = r->m;
	size_t add = r->new_map - m->map_len;
	off_t foff = mmapkit__is_file(m) ? (off_t)(m->offset - m->delta + m->map_len) : 0;
	void *p = mmapkit__sys.mmap(at, add, mmapkit__map_prot(m->flags),
				    mmapkit__map_flags(m) | extra, m->fd, foff);
	int err;

	if (p == MAP_FAILED) {
		if ((extra & MAP_FIXED_NOREPLACE) && errno == EEXIST)
			return 1;
		return mmapkit__fail_sys(errno, r->call, "mmap", "%zu new bytes", add);
	}
	if ((extra & MAP_FIXED_NOREPLACE) && p != at) { /* a kernel that took it as a hint */
		mmapkit__sys.munmap(p, add);
		return 1;
	}
	err = mmapkit__apply_flags(m, r->call, p, add);
	if (!err)
		err = mmapkit__name_apply(m, r->call, p, add);
	if (err) {
		mmapkit__sys.munmap(p, add);
		return err;
	}
	*out = p;
	return 0;
}

/* 0: done; 1: the address space after the mapping is in use; < 0: failed. */
static int grow_in_place(struct rsz *r)
{
	mmapkit_map *m = r->m;
	size_t add = r->new_map - m->map_len, g = m->guard;
	unsigned char *end = m->base + m->map_len, *p;
	void *res;
	int err;

	if (!g)
		return new_pages(r, end, MAP_FIXED_NOREPLACE, &p);
	if (m->guard_extra)
		return 1; /* a shrink left more than the guard: move, which releases it */
	/* Before 6.12 the move over the old guard could fail having unmapped it. */
	if (!mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST))
		return 1;
	/* Reserve what lies past the old guard; its last page will be the new guard. */
	res = mmapkit__sys.mmap(end + g, add, PROT_NONE, mmapkit__guard_flags(m) | MAP_FIXED_NOREPLACE,
				-1, 0);
	if (res == MAP_FAILED) {
		if (errno == EEXIST)
			return 1;
		return mmapkit__fail_sys(errno, r->call, "mmap", "reserving %zu bytes past the guard", add);
	}
	if (res != end + g) {
		mmapkit__sys.munmap(res, add);
		return 1;
	}
	err = new_pages(r, NULL, 0, &p);
	if (!err && mmapkit__sys.mremap(p, add, add, MREMAP_MAYMOVE | MREMAP_FIXED, end) == MAP_FAILED) {
		err = mmapkit__fail_sys(errno, r->call, "mremap", "moving %zu new bytes into place", add);
		mmapkit__sys.munmap(p, add);
	}
	if (err)
		mmapkit__sys.munmap(res, add);
	else
		m->back_light = false; /* the new back guard is the reservation's last page */
	return err;
}

/* Attributes that split the handle's pages into separate VMAs where they change. */
#define VMA_BOUNDS                                                                          \
	(MMAPKIT__A_PROT | MMAPKIT__A_LOCK | MMAPKIT__A_ADVICE | MMAPKIT__A_ANON |          \
	 MMAPKIT__A_SEGMENT)

static int move_one(struct rsz *r, unsigned char *from, unsigned char *to, size_t len)
{
	if (mmapkit__sys.mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) != MAP_FAILED)
		return 0;
	return mmapkit__fail_sys(errno, r->call, "mremap", "moving %zu bytes of the mapping", len);
}

/*
 * Halves of [from, from + len) moved one by one, for a kernel that checks
 * before it unmaps (a failing call leaves the destination as it was): a
 * range the runs call one stretch that the kernel keeps as several VMAs.
 */
static int move_halves(struct rsz *r, unsigned char *from, unsigned char *to, size_t len)
{
	size_t gran = r->m->gran, half;
	int err;

	if (mmapkit__sys.mremap(from, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to) != MAP_FAILED)
		return 0;
	if (errno != EFAULT || len <= gran ||
	    !mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST))
		return mmapkit__fail_sys(errno, r->call, "mremap", "moving %zu bytes of the mapping",
					 len);
	half = len / gran / 2 * gran;
	err = move_halves(r, from, to, half);
	if (!err) {
		err = move_halves(r, from + half, to + half, len - half);
		if (err)
			move_one(r, to, from, half);
	}
	return err;
}

/*
 * Move the handle's len bytes of pages from `from` to `to` (our reservation).
 * From 6.17 one mremap moves them however many VMAs they are; before, a
 * call moves one VMA, and before 6.12 a call over several unmaps its
 * destination first and then fails: there each stretch of equal VMA
 * attributes moves by its own call and a call over several is never made.
 * A failure moves back the stretches that moved.
 */
/* Stretches of equal VMA attributes of pages [0, limit), each moved from `from` to `to`. */
static int move_stretches(struct rsz *r, unsigned char *from, unsigned char *to, size_t limit,
			  size_t *moved)
{
	const mmapkit_map *m = r->m;
	size_t i = 0, start = 0, end;
	int err = 0;

	while (!err && start < limit) {
		uint32_t a = m->runs[i].attr & VMA_BOUNDS;

		while (i + 1 < m->nruns && (m->runs[i + 1].attr & VMA_BOUNDS) == a)
			i++;
		end = mmapkit__runs_end(m, i++);
		if (end > limit)
			end = limit;
		err = move_halves(r, from + start * m->gran, to + start * m->gran,
				  (end - start) * m->gran);
		if (!err)
			start = end;
	}
	*moved = start;
	return err;
}

static int move_pages(struct rsz *r, unsigned char *from, unsigned char *to, size_t len)
{
	size_t moved, back;
	int err;

	if (r->m->nruns <= 1 || mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA))
		return move_halves(r, from, to, len);
	err = move_stretches(r, from, to, len / r->m->gran, &moved);
	if (err && moved)
		move_stretches(r, to, from, moved, &back);
	return err;
}

/*
 * Grow by moving: one reservation holds the guards, the old pages (moved
 * there) and the new ones (mapped over it); then the old place is released.
 */
static int grow_moving(struct rsz *r)
{
	mmapkit_map *m = r->m;
	size_t g = r->guard, old = m->map_len, total = r->new_map + 2 * g;
	unsigned char *res, *dst, *p;
	int err;

	res = mmapkit__sys.mmap(NULL, total, PROT_NONE, mmapkit__guard_flags(m), -1, 0);
	if (res == (unsigned char *)MAP_FAILED)
		return mmapkit__fail_sys(errno, r->call, "mmap", "reserving %zu bytes to move to",
					 total);
	dst = res + g;
	err = new_pages(r, dst + old, MAP_FIXED, &p);
	if (!err && old)
		err = move_pages(r, m->base, dst, old);
	if (!err && old && m->guard &&
	    mmapkit__sys.munmap(m->base - m->guard, old + 2 * m->guard + m->guard_extra) < 0) {
		err = mmapkit__fail_sys(errno, r->call, "munmap", "releasing the old guard pages");
		move_pages(r, dst, m->base, old);
	}
	if (err) {
		mmapkit__sys.munmap(res, total);
		return err;
	}
	m->base = dst;
	m->guard = g;
	m->guard_extra = 0;
	m->guard_light = m->back_light = false; /* the reservation's guards are mappings */
	return 0;
}

static int grow(struct rsz *r)
{
	mmapkit_map *m = r->m;
	int err = fast_ok(m) ? grow_fast(r) : 1;

	if (err == 1 && m->map_len)
		err = grow_in_place(r);
	if (err == 1 && r->nomove && m->map_len)
		return mmapkit__fail(ENOMEM, "%s: cannot grow %zu bytes to %zu in place: the address space after the mapping is in use, and MMAPKIT_RESIZE_NOMOVE forbids moving it",
				     r->call, m->map_len, r->new_map);
	if (err == 1)
		err = grow_moving(r);
	return err;
}

/* The attribute runs follow: new pages start a run of the constructor's attributes. */
static void runs_follow(struct rsz *r)
{
	mmapkit_map *m = r->m;
	uint32_t attr = mmapkit__initial_attr(m->flags);

	if (r->new_map < m->map_len) {
		mmapkit__runs_truncate(m, r->new_map / m->gran);
		return;
	}
	if (r->fast || r->new_map == m->map_len)
		return;
	/*
	 * A mapping of its own: the kernel may keep it a VMA apart from the pages
	 * before it (an anonymous shared one always does), so a run never spans both.
	 */
	if (m->nruns)
		attr |= (m->runs[m->nruns - 1].attr & MMAPKIT__A_SEGMENT) ^ MMAPKIT__A_SEGMENT;
	mmapkit__runs_append(m, m->map_len / m->gran, attr);
}

int mmapkit_resize(mmapkit_map *m, size_t new_len, unsigned flags)
{
	struct rsz r = {.m = m, .call = __func__, .nomove = flags & MMAPKIT_RESIZE_NOMOVE};
	uint64_t old_size = 0;
	bool grown;
	int err;

	if (!m)
		return mmapkit__null_handle(r.call);
	if (flags & ~RESIZE_KNOWN)
		return mmapkit__fail(EINVAL, "%s: unknown flag bits 0x%x", r.call, flags & ~RESIZE_KNOWN);
	if (new_len == 0)
		return mmapkit__fail(EINVAL, "%s: new_len 0 (unmap the handle instead)", r.call);
	if (m->ring)
		return mmapkit__fail(EINVAL, "%s: a ring (mmapkit_ring) cannot be resized: its two copies would part",
				     r.call);
	if ((m->flags & MMAPKIT_SECRET) && new_len > m->len)
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_SECRET memory cannot grow (new pages would not be secret memory); shrinking works",
				     r.call);
	if ((flags & MMAPKIT_GROW) && !mmapkit__is_file(m))
		return mmapkit__wrong_kind(m, r.call, "MMAPKIT_GROW extends a file");
	if ((flags & MMAPKIT_GROW) && (m->flags & MMAPKIT_RDONLY))
		return mmapkit__fail(EACCES, "%s: MMAPKIT_GROW writes the file; the mapping is MMAPKIT_RDONLY",
				     r.call);
	if (new_len > PTRDIFF_MAX - m->delta - m->gran)
		return mmapkit__fail(EOVERFLOW, "%s: new_len %zu is too large to map", r.call, new_len);
	if (mmapkit__is_file(m) && new_len > INT64_MAX - m->offset)
		return mmapkit__fail(EOVERFLOW, "%s: offset %llu + new_len %zu overflows a file offset",
				     r.call, (unsigned long long)m->offset, new_len);
	err = mmapkit__fork_check(m, r.call, 0, m->map_len / m->gran);
	if (err)
		return err;
	r.new_map = (m->delta + new_len + m->gran - 1) / m->gran * m->gran;
	r.guard = m->flags & MMAPKIT_GUARD ? m->gran : 0;
	if (r.new_map > m->map_len && mmapkit__runs_reserve(m, 1) < 0)
		return mmapkit__fail(ENOMEM, "%s: out of memory", r.call);
	err = fit_file(&r, new_len, flags, &grown, &old_size);
	if (err)
		return err;
	if (r.new_map < m->map_len && (m->flags & MMAPKIT_SECURE))
		mmapkit__wipe(m, r.new_map / m->gran, m->map_len / m->gran); /* before they go */
	if (r.new_map < m->map_len)
		err = shrink(&r);
	else if (r.new_map > m->map_len)
		err = grow(&r);
	if (err) {
		if (r.new_map < m->map_len && (m->flags & MMAPKIT_SECURE)) /* wiped, made writable */
			mmapkit__reprotect(m, r.new_map / m->gran, m->map_len / m->gran);
		if (grown)
			mmapkit__sys.ftruncate(m->fd, (off_t)old_size);
		return err;
	}
	runs_follow(&r);
	m->map_len = r.new_map;
	m->len = new_len;
	return 0;
}
