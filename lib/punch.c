/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_punch and mmapkit_revert: destructive work covers only the whole
 * pages inside the range and treats the partial pages at its edges byte by
 * byte, after the step that can fail.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>

#include "internal.h"

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

/* The partial pages at the range's edges: [a, head_end) and [tail_start, z). */
static void edges(const mmapkit_map *m, const struct mmapkit__span *s, size_t *head_end,
		  size_t *tail_start)
{
	size_t w0 = s->w0 * m->gran, w1 = s->w1 * m->gran;

	if (s->w0 == s->w1 && (w0 <= s->a || w0 >= s->z)) { /* within one page */
		*head_end = s->z;
		*tail_start = s->z;
		return;
	}
	*head_end = w0 < s->a ? s->a : w0;
	*tail_start = w1 > s->z ? s->z : w1;
	if (*tail_start < *head_end)
		*tail_start = *head_end;
}

/* Destructive edge work writes bytes: the edge pages must be writable now. */
static int edges_writable(const mmapkit_map *m, const struct mmapkit__span *s, const char *call)
{
	size_t head_end, tail_start;
	uint32_t need = MMAPKIT__A_WRITE;

	edges(m, s, &head_end, &tail_start);
	if (head_end > s->a && !(mmapkit__runs_all(m, s->a / m->gran, s->a / m->gran + 1) & need))
		return mmapkit__fail(EACCES, "%s: the page holding byte %zu is not writable; make it writable with mmapkit_protect first",
				     call, s->a - m->delta);
	if (s->z > tail_start &&
	    !(mmapkit__runs_all(m, tail_start / m->gran, tail_start / m->gran + 1) & need))
		return mmapkit__fail(EACCES, "%s: the page holding byte %zu is not writable; make it writable with mmapkit_protect first",
				     call, tail_start - m->delta);
	return 0;
}

static void zero_edges(mmapkit_map *m, const struct mmapkit__span *s)
{
	size_t head_end, tail_start;

	edges(m, s, &head_end, &tail_start);
	memset(m->base + s->a, 0, head_end - s->a);
	memset(m->base + tail_start, 0, s->z - tail_start);
}

static int check_destructive(mmapkit_map *m, const char *call, size_t off, size_t len,
			     struct mmapkit__span *s)
{
	int err;

	if (m->flags & MMAPKIT_RDONLY)
		return mmapkit__fail(EACCES, "%s: the mapping is MMAPKIT_RDONLY", call);
	err = mmapkit__span_resolve(m, call, off, len, s);
	if (!err)
		err = mmapkit__fork_check(m, call, s->p0, s->p1);
	if (err || m->kind == MMAPKIT_FILE_SHARED)
		return err;
	err = edges_writable(m, s, call);
	if (!err && mmapkit__runs_reserve(m, 2) < 0)
		err = mmapkit__fail(ENOMEM, "%s: out of memory", call);
	return err;
}

/* Drop anonymous (or file-private) pages: they read zeros (or the file) again. */
static int drop_pages(mmapkit_map *m, const char *call, size_t p0, size_t p1)
{
	bool locked = mmapkit__runs_any(m, p0, p1) & MMAPKIT__A_LOCKED;
	int adv = locked ? MADV_DONTNEED_LOCKED : MADV_DONTNEED;

	if (p0 == p1 || mmapkit__sys.madvise(mmapkit__page_addr(m, p0), mmapkit__pages_len(m, p0, p1), adv) == 0)
		return 0;
	return mmapkit__fail_sys(errno, call, "madvise", "%s over %zu bytes",
				 locked ? "MADV_DONTNEED_LOCKED" : "MADV_DONTNEED",
				 mmapkit__pages_len(m, p0, p1));
}

/*
 * MADV_REMOVE frees the shared memory for every sharer, but the kernel refuses
 * it on locked pages: unlock, remove, and lock again with the same mode.
 */
static int remove_shared(mmapkit_map *m, const char *call, const struct mmapkit__span *s)
{
	size_t p0 = s->w0, p1 = s->w1;
	bool locked = mmapkit__runs_any(m, p0, p1) & MMAPKIT__A_LOCKED;
	unsigned char *addr = mmapkit__page_addr(m, p0);
	size_t len = mmapkit__pages_len(m, p0, p1);
	int err = 0;

	if (p0 == p1)
		return 0;
	if (locked && mmapkit__sys.munlock(addr, len) < 0)
		return mmapkit__fail_sys(errno, call, "munlock", "%zu bytes", len);
	if (mmapkit__sys.madvise(addr, len, MADV_REMOVE) < 0)
		err = mmapkit__fail_sys(errno, call, "madvise", "MADV_REMOVE over %zu bytes", len);
	if (locked) {
		int e = mmapkit__relock(m, call, p0, p1);

		/* Removed but not locked again: the one failure not undone; zero it all. */
		if (e && !err)
			zero_edges(m, s);
		err = err ? err : e;
	}
	return err;
}

static int punch_file_shared(mmapkit_map *m, const char *call, const struct mmapkit__span *s)
{
	off_t at = (off_t)(m->offset - m->delta + s->a);
	off_t n = (off_t)(s->z - s->a);
	int err;

	if (mmapkit__sys.fallocate(m->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, at, n) == 0)
		return 0;
	/* ENODEV: not a regular file (a character device such as /dev/zero): no holes there. */
	err = errno == ENODEV ? EOPNOTSUPP : errno;
	return mmapkit__fail_sys(err, call, "fallocate",
				 "punching a hole of %lld bytes at file offset %lld",
				 (long long)n, (long long)at);
}

/*
 * Where the kernel's failing mremap or mmap(MAP_FIXED) may unmap its
 * destination first (mmapkit__replace_moves() false: mainline before 6.17),
 * punch writes the zeros into the pages in place instead of replacing them:
 * no call that could leave a hole.  The bytes must be writable for that.
 */
static int zero_whole_pages(mmapkit_map *m, const char *call, size_t p0, size_t p1)
{
	if (!(mmapkit__runs_all(m, p0, p1) & MMAPKIT__A_WRITE))
		return mmapkit__fail(EACCES, "%s: the whole pages of bytes %zu to %zu are not all writable; on this kernel a failing mremap may unmap what it was to replace, so punch writes the zeros in place: make them writable with mmapkit_protect first",
				     call, p0 * m->gran - m->delta, p1 * m->gran - m->delta);
	memset(mmapkit__page_addr(m, p0), 0, mmapkit__pages_len(m, p0, p1));
	return 0;
}

/* Whole pages of a file private mapping become anonymous zeros. */
static int punch_file_private(mmapkit_map *m, const char *call, size_t p0, size_t p1)
{
	size_t done;
	int err;

	if (p0 == p1)
		return 0;
	if (mmapkit__runs_all(m, p0, p1) & MMAPKIT__A_ANON)
		return drop_pages(m, call, p0, p1);
	if (!mmapkit__replace_moves())
		return zero_whole_pages(m, call, p0, p1);
	err = mmapkit__replace(m, call, p0, p1, false, &done);
	mmapkit__runs_set(m, p0, done, MMAPKIT__A_ANON, MMAPKIT__A_ANON);
	return err;
}

/*
 * MMAPKIT_SECRET memory is a shared mapping of a secretmem file, which can
 * neither drop nor punch its pages (and they stay locked anyway): punch and
 * revert zero the bytes themselves.
 */
static int wipe_secret(mmapkit_map *m, const char *call, const struct mmapkit__span *s)
{
	if (!(mmapkit__runs_all(m, s->p0, s->p1) & MMAPKIT__A_WRITE))
		return mmapkit__fail(EACCES, "%s: pages %zu..%zu of MMAPKIT_SECRET memory include pages that are not writable; make them writable with mmapkit_protect first",
				     call, s->p0, s->p1);
	explicit_bzero(m->base + s->a, s->z - s->a);
	return 0;
}

int mmapkit_punch(mmapkit_map *m, size_t off, size_t len)
{
	const char *call = __func__;
	struct mmapkit__span s;
	int err;

	if (!m)
		return mmapkit__null_handle(call);
	if (m->ring)
		return mmapkit__fail(EINVAL, "%s: not for a ring (mmapkit_ring): its pages are mapped twice",
				     call);
	err = check_destructive(m, call, off, len, &s);
	if (err || s.a == s.z)
		return err;
	if (m->flags & MMAPKIT_SECRET)
		return wipe_secret(m, call, &s);
	switch (m->kind) {
	case MMAPKIT_FILE_SHARED:
		return punch_file_shared(m, call, &s);
	case MMAPKIT_ANON_SHARED:
		err = remove_shared(m, call, &s);
		break;
	case MMAPKIT_ANON_PRIVATE:
		err = drop_pages(m, call, s.w0, s.w1);
		break;
	default:
		err = punch_file_private(m, call, s.w0, s.w1);
		break;
	}
	if (!err)
		zero_edges(m, &s);
	return err;
}

/* Read the file bytes behind [from, to) of the mapping; past end of file reads zeros. */
static int read_file(mmapkit_map *m, const char *call, size_t from, size_t to,
		     unsigned char *buf)
{
	size_t done = 0, n = to - from;
	off_t at = (off_t)(m->offset - m->delta + from);

	while (done < n) {
		ssize_t r = mmapkit__sys.pread(m->fd, buf + done, n - done, at + (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return mmapkit__fail_sys(errno, call, "pread", "%zu bytes at file offset %lld",
						 n, (long long)at);
		if (r == 0)
			break;
		done += (size_t)r;
	}
	memset(buf + done, 0, n - done);
	return 0;
}

static int revert_file_private(mmapkit_map *m, const char *call, const struct mmapkit__span *s)
{
	size_t head_end, tail_start, nh, nt;
	unsigned char *buf;
	int err;

	edges(m, s, &head_end, &tail_start);
	nh = head_end - s->a;
	nt = s->z - tail_start;
	buf = malloc(nh + nt + 1);
	if (!buf)
		return mmapkit__fail(ENOMEM, "%s: out of memory", call);
	err = read_file(m, call, s->a, head_end, buf);
	if (!err)
		err = read_file(m, call, tail_start, s->z, buf + nh);
	if (!err && s->w0 < s->w1) {
		if (!(mmapkit__runs_any(m, s->w0, s->w1) & MMAPKIT__A_ANON)) {
			err = drop_pages(m, call, s->w0, s->w1);
		} else if (!mmapkit__replace_moves()) {
			/* only a moving kernel replaces pages (punch.c's zero_whole_pages) */
			err = mmapkit__fail(EOPNOTSUPP, "%s: pages replaced by anonymous memory cannot be mapped from the file again on this kernel without risking a hole",
					    call);
		} else {
			size_t done;

			err = mmapkit__replace(m, call, s->w0, s->w1, true, &done);
			mmapkit__runs_set(m, s->w0, done, MMAPKIT__A_ANON, 0);
		}
	}
	if (!err) {
		mmapkit__runs_set(m, s->w0, s->w1, MMAPKIT__A_ANON, 0);
		memcpy(m->base + s->a, buf, nh);
		memcpy(m->base + tail_start, buf + nh, nt);
	}
	free(buf);
	return err;
}

int mmapkit_revert(mmapkit_map *m, size_t off, size_t len)
{
	const char *call = __func__;
	struct mmapkit__span s;
	int err;

	if (!m)
		return mmapkit__null_handle(call);
	if (!mmapkit__is_private(m))
		return mmapkit__wrong_kind(m, call, "a shared mapping has no private changes to discard");
	err = check_destructive(m, call, off, len, &s);
	if (err || s.a == s.z)
		return err;
	if (m->flags & MMAPKIT_SECRET)
		return wipe_secret(m, call, &s);
	if (m->kind == MMAPKIT_FILE_PRIVATE)
		return revert_file_private(m, call, &s);
	err = drop_pages(m, call, s.w0, s.w1);
	if (!err)
		zero_edges(m, &s);
	return err;
}
