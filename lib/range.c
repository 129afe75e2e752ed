/* SPDX-License-Identifier: MIT */
/*
 * Range operations.  Non-destructive work covers the pages containing the
 * range; destructive work covers only the whole pages inside it and treats the
 * partial pages at its edges byte by byte, after the step that can fail.
 */
#define _GNU_SOURCE
#include <bsd/string.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

/* A resolved range: bytes [a, z) from m->base, pages touching it, whole pages in it. */
struct span {
	size_t a, z;
	size_t p0, p1; /* pages containing the range */
	size_t w0, w1; /* whole pages inside the range (w0 == w1: none) */
};

static const char *const kind_names[] = {
	"?", "MMAPKIT_ANON_PRIVATE", "MMAPKIT_ANON_SHARED", "MMAPKIT_FILE_PRIVATE",
	"MMAPKIT_FILE_SHARED",
};

static bool is_private(const mmapkit_map *m)
{
	return m->kind == MMAPKIT_ANON_PRIVATE || m->kind == MMAPKIT_FILE_PRIVATE;
}

static int resolve(const mmapkit_map *m, const char *call, size_t off, size_t len,
		   struct span *s)
{
	size_t g;

	/* Set on every path: gcc -O3 cannot see that mmapkit__fail never returns 0. */
	*s = (struct span){0};
	if (off > m->len || len > m->len - off)
		return mmapkit__fail(ERANGE, "%s: range %zu+%zu lies outside the mapping (%zu bytes)",
				     call, off, len, m->len);
	if (len == 0)
		len = m->len - off;
	g = m->gran;
	s->a = m->delta + off;
	s->z = s->a + len;
	s->p0 = s->a / g;
	s->p1 = (s->z + g - 1) / g;
	s->w0 = (s->a + g - 1) / g;
	s->w1 = s->z / g;
	if (s->w0 > s->w1) /* inside one page */
		s->w1 = s->w0;
	if (s->a == s->z)
		s->p0 = s->p1 = s->w0 = s->w1 = 0;
	return 0;
}

static unsigned char *page_addr(const mmapkit_map *m, size_t page)
{
	return m->base + page * m->gran;
}

static size_t pages_len(const mmapkit_map *m, size_t p0, size_t p1)
{
	return (p1 - p0) * m->gran;
}

static int null_handle(const char *call)
{
	return mmapkit__fail(EINVAL, "%s: handle is NULL", call);
}

static int wrong_kind(const mmapkit_map *m, const char *call, const char *why)
{
	return mmapkit__fail(EINVAL, "%s: not for %s: %s", call, kind_names[m->kind], why);
}

/* The partial pages at the range's edges: [a, head_end) and [tail_start, z). */
static void edges(const mmapkit_map *m, const struct span *s, size_t *head_end,
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
static int edges_writable(const mmapkit_map *m, const struct span *s, const char *call)
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

static void zero_edges(mmapkit_map *m, const struct span *s)
{
	size_t head_end, tail_start;

	edges(m, s, &head_end, &tail_start);
	memset(m->base + s->a, 0, head_end - s->a);
	memset(m->base + tail_start, 0, s->z - tail_start);
}

/* ---- sync ---- */

/* The directory part of path, in dir: "a/b" -> "a", "/b" -> "/", "b" -> ".". */
static int dir_of(const char *call, const char *path, char *dir, size_t cap)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) : 0;

	if (n + 1 > cap)
		return mmapkit__fail(ENAMETOOLONG, "%s: %s: directory name too long", call, path);
	strlcpy(dir, !slash ? "." : n ? path : "/", n ? n + 1 : cap);
	return 0;
}

/*
 * The directory that holds the created file now: the kernel's name for the
 * descriptor follows a chdir() after a relative path, and renames of the file
 * and of its directories.  Without /proc, the path given at creation.
 */
static int created_dir(mmapkit_map *m, const char *call, char *dir, size_t cap)
{
	char link[40], target[PATH_MAX];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
	n = mmapkit__sys.readlink(link, target, sizeof(target));
	if (n < 0 && errno == ENOENT)
		return dir_of(call, m->created_path, dir, cap);
	if (n < 0)
		return mmapkit__fail_sys(errno, call, "readlink", "%s", link);
	if ((size_t)n == sizeof(target))
		return mmapkit__fail(ENAMETOOLONG, "%s: %s: the file's name is too long", call,
				     link);
	target[n] = '\0'; /* an unlinked file reads "dir/name (deleted)": still its directory */
	return dir_of(call, target, dir, cap);
}

static int sync_dir(mmapkit_map *m, const char *call)
{
	char dir[PATH_MAX];
	int fd, err = created_dir(m, call, dir, sizeof(dir));

	if (err)
		return err;
	fd = mmapkit__sys.open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return mmapkit__fail_sys(errno, call, "open", "directory %s", dir);
	if (mmapkit__sys.fsync(fd) < 0)
		err = mmapkit__fail_sys(errno, call, "fsync", "directory %s", dir);
	mmapkit__sys.close(fd);
	if (!err)
		m->dir_synced = true;
	return err;
}

#define SYNC_KNOWN (MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE | MMAPKIT_SYNC_FULL)

int mmapkit_sync(mmapkit_map *m, size_t off, size_t len, unsigned how)
{
	const char *call = __func__;
	struct span s;
	int flags, err;

	if (!m)
		return null_handle(call);
	if (m->kind != MMAPKIT_FILE_SHARED)
		return wrong_kind(m, call, "only a shared file mapping has changes to write back");
	if (how & ~SYNC_KNOWN)
		return mmapkit__fail(EINVAL, "%s: unknown bits 0x%x in how", call, how & ~SYNC_KNOWN);
	if ((how & MMAPKIT_SYNC_ASYNC) && (how & MMAPKIT_SYNC_FULL))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_SYNC_FULL waits; not with MMAPKIT_SYNC_ASYNC",
				     call);
	err = resolve(m, call, off, len, &s);
	if (err)
		return err;
	flags = (how & MMAPKIT_SYNC_ASYNC ? MS_ASYNC : MS_SYNC) |
		(how & MMAPKIT_SYNC_INVALIDATE ? MS_INVALIDATE : 0);
	if (s.p1 > s.p0 &&
	    mmapkit__sys.msync(page_addr(m, s.p0), pages_len(m, s.p0, s.p1), flags) < 0)
		return mmapkit__fail_sys(errno, call, "msync", "range %zu+%zu", off, s.z - s.a);
	if (!(how & MMAPKIT_SYNC_FULL))
		return 0;
	if (mmapkit__sys.fsync(m->fd) < 0)
		return mmapkit__fail_sys(errno, call, "fsync", "fd %d", m->fd);
	if (m->created_path && !m->dir_synced)
		return sync_dir(m, call);
	return 0;
}

/* ---- advise ---- */

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
		return wrong_kind(m, call, advice == MMAPKIT_ADV_REMOVE
						   ? "MMAPKIT_ADV_REMOVE frees shared backing; use mmapkit_punch"
						   : "this advice applies to anonymous private memory only");
	/* REMOVE frees the backing for every sharer: it changes data, as punch does. */
	if ((advice == MMAPKIT_ADV_POPULATE_WRITE || advice == MMAPKIT_ADV_REMOVE) &&
	    (m->flags & MMAPKIT_RDONLY))
		return mmapkit__fail(EACCES, "%s: %s on an MMAPKIT_RDONLY mapping", call,
				     advice == MMAPKIT_ADV_REMOVE ? "MMAPKIT_ADV_REMOVE"
								  : "MMAPKIT_ADV_POPULATE_WRITE");
	if ((m->flags & MMAPKIT_HUGETLB) && a->no_locked && !a->destructive)
		return wrong_kind(m, call, "the kernel does not age MMAPKIT_HUGETLB pages");
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
	struct span s;
	size_t p0, p1;
	int err;

	if (!m)
		return null_handle(call);
	err = check_advice(m, call, advice);
	if (!err)
		err = resolve(m, call, off, len, &s);
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
	if (mmapkit__sys.madvise(page_addr(m, p0), pages_len(m, p0, p1), a->madv) < 0) {
		/* Every case we know to be invalid was refused above: the kernel lacks it. */
		err = errno == EINVAL ? EOPNOTSUPP : errno;
		return mmapkit__fail_sys(err, call, "madvise", "advice %d over range %zu+%zu",
					 advice, off, s.z - s.a);
	}
	if (a->mask) /* only then was room reserved for the runs_set split */
		mmapkit__runs_set(m, p0, p1, a->mask, a->val);
	return 0;
}

/* ---- punch and revert ---- */

static int check_destructive(mmapkit_map *m, const char *call, size_t off, size_t len,
			     struct span *s)
{
	int err;

	if (m->flags & MMAPKIT_RDONLY)
		return mmapkit__fail(EACCES, "%s: the mapping is MMAPKIT_RDONLY", call);
	err = resolve(m, call, off, len, s);
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

	if (p0 == p1 || mmapkit__sys.madvise(page_addr(m, p0), pages_len(m, p0, p1), adv) == 0)
		return 0;
	return mmapkit__fail_sys(errno, call, "madvise", "%s over %zu bytes",
				 locked ? "MADV_DONTNEED_LOCKED" : "MADV_DONTNEED",
				 pages_len(m, p0, p1));
}

static int relock(mmapkit_map *m, const char *call, size_t p0, size_t p1)
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
		r = onfault ? mmapkit__sys.mlock2(page_addr(m, a), pages_len(m, a, z), MLOCK_ONFAULT)
			    : mmapkit__sys.mlock(page_addr(m, a), pages_len(m, a, z));
		if (r < 0)
			return mmapkit__fail_sys(errno, call, onfault ? "mlock2" : "mlock",
						 "re-locking %zu bytes", pages_len(m, a, z));
	}
	return 0;
}

/*
 * MADV_REMOVE frees the shared memory for every sharer, but the kernel refuses
 * it on locked pages: unlock, remove, and lock again with the same mode.
 */
static int remove_shared(mmapkit_map *m, const char *call, const struct span *s)
{
	size_t p0 = s->w0, p1 = s->w1;
	bool locked = mmapkit__runs_any(m, p0, p1) & MMAPKIT__A_LOCKED;
	unsigned char *addr = page_addr(m, p0);
	size_t len = pages_len(m, p0, p1);
	int err = 0;

	if (p0 == p1)
		return 0;
	if (locked && mmapkit__sys.munlock(addr, len) < 0)
		return mmapkit__fail_sys(errno, call, "munlock", "%zu bytes", len);
	if (mmapkit__sys.madvise(addr, len, MADV_REMOVE) < 0)
		err = mmapkit__fail_sys(errno, call, "madvise", "MADV_REMOVE over %zu bytes", len);
	if (locked) {
		int e = relock(m, call, p0, p1);

		/* Removed but not locked again: the one failure not undone; zero it all. */
		if (e && !err)
			zero_edges(m, s);
		err = err ? err : e;
	}
	return err;
}

static int punch_file_shared(mmapkit_map *m, const char *call, const struct span *s)
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

/* Whole pages of a file private mapping become anonymous zeros. */
static int punch_file_private(mmapkit_map *m, const char *call, size_t p0, size_t p1)
{
	int err;

	if (p0 == p1)
		return 0;
	if (mmapkit__runs_all(m, p0, p1) & MMAPKIT__A_ANON)
		return drop_pages(m, call, p0, p1);
	err = mmapkit__replace(m, call, p0, p1, false);
	if (!err)
		mmapkit__runs_set(m, p0, p1, MMAPKIT__A_ANON, MMAPKIT__A_ANON);
	return err;
}

int mmapkit_punch(mmapkit_map *m, size_t off, size_t len)
{
	const char *call = __func__;
	struct span s;
	int err;

	if (!m)
		return null_handle(call);
	err = check_destructive(m, call, off, len, &s);
	if (err || s.a == s.z)
		return err;
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

static int revert_file_private(mmapkit_map *m, const char *call, const struct span *s)
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
		if (mmapkit__runs_any(m, s->w0, s->w1) & MMAPKIT__A_ANON)
			err = mmapkit__replace(m, call, s->w0, s->w1, true);
		else
			err = drop_pages(m, call, s->w0, s->w1);
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
	struct span s;
	int err;

	if (!m)
		return null_handle(call);
	if (!is_private(m))
		return wrong_kind(m, call, "a shared mapping has no private changes to discard");
	err = check_destructive(m, call, off, len, &s);
	if (err || s.a == s.z)
		return err;
	if (m->kind == MMAPKIT_FILE_PRIVATE)
		return revert_file_private(m, call, &s);
	err = drop_pages(m, call, s.w0, s.w1);
	if (!err)
		zero_edges(m, &s);
	return err;
}

/* ---- protect, lock, unlock ---- */

#define PROT_KNOWN (MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE | MMAPKIT_PROT_EXEC)

/* Common head of the non-destructive page operations. */
static int pages_op(mmapkit_map *m, const char *call, size_t off, size_t len, struct span *s)
{
	int err = resolve(m, call, off, len, s);

	if (!err && mmapkit__runs_reserve(m, 2) < 0)
		err = mmapkit__fail(ENOMEM, "%s: out of memory", call);
	return err;
}

static void restore_prot(mmapkit_map *m, size_t p0, size_t p1)
{
	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++) {
		size_t a = m->runs[i].page > p0 ? m->runs[i].page : p0;
		size_t z = mmapkit__runs_end(m, i) < p1 ? mmapkit__runs_end(m, i) : p1;

		mmapkit__sys.mprotect(page_addr(m, a), pages_len(m, a, z),
				      mmapkit__attr_prot(m->runs[i].attr));
	}
}

int mmapkit_protect(mmapkit_map *m, size_t off, size_t len, unsigned prot)
{
	const char *call = __func__;
	struct span s;
	int p, err;

	if (!m)
		return null_handle(call);
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
	if (mmapkit__sys.mprotect(page_addr(m, s.p0), pages_len(m, s.p0, s.p1), p) < 0) {
		err = mmapkit__fail_sys(errno, call, "mprotect", "range %zu+%zu to 0x%x", off,
					s.z - s.a, prot);
		restore_prot(m, s.p0, s.p1); /* mprotect may stop half-way */
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
	struct span s;
	int r, err;

	if (!m)
		return null_handle(call);
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
	r = how ? mmapkit__sys.mlock2(page_addr(m, s.p0), pages_len(m, s.p0, s.p1), MLOCK_ONFAULT)
		: mmapkit__sys.mlock(page_addr(m, s.p0), pages_len(m, s.p0, s.p1));
	if (r < 0) {
		/* mlock can leave pages marked locked when faulting them in fails. */
		err = mmapkit__fail_sys(errno, call, how ? "mlock2" : "mlock",
					"range %zu+%zu (see RLIMIT_MEMLOCK)", off, s.z - s.a);
		mmapkit__sys.munlock(page_addr(m, s.p0), pages_len(m, s.p0, s.p1));
		relock(m, call, s.p0, s.p1);
		return err;
	}
	mmapkit__runs_set(m, s.p0, s.p1, MMAPKIT__A_LOCK,
			  MMAPKIT__A_LOCKED | (how ? MMAPKIT__A_ONFAULT : 0));
	return 0;
}

int mmapkit_unlock(mmapkit_map *m, size_t off, size_t len)
{
	const char *call = __func__;
	struct span s;
	int err;

	if (!m)
		return null_handle(call);
	err = pages_op(m, call, off, len, &s);
	if (err || s.p0 == s.p1)
		return err;
	if (mmapkit__sys.munlock(page_addr(m, s.p0), pages_len(m, s.p0, s.p1)) < 0)
		return mmapkit__fail_sys(errno, call, "munlock", "range %zu+%zu", off, s.z - s.a);
	mmapkit__runs_set(m, s.p0, s.p1, MMAPKIT__A_LOCK, 0);
	return 0;
}
