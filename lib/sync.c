/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_sync: write-back of a shared file range, and for SYNC_FULL the file
 * and the directory entry of a file the handle created.
 *
 * SYNC_ASYNC starts the write-back with sync_file_range(SYNC_FILE_RANGE_WRITE):
 * Linux's msync(MS_ASYNC) starts no I/O at all.  With SYNC_INVALIDATE an
 * msync(MS_ASYNC | MS_INVALIDATE) comes first, for the kernel's check of
 * locked pages (-EBUSY), so that a refused call has started nothing.
 *
 * Concurrent syncs of one handle are safe: the only handle state a sync
 * changes is dir_synced, an atomic flag (two racing first SYNC_FULLs may both
 * sync the directory, which is harmless).
 */
#define _GNU_SOURCE
#include <bsd/string.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <stdatomic.h>
#include <sys/mman.h>

#include "internal.h"

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
		atomic_store_explicit(&m->dir_synced, true, memory_order_release);
	return err;
}

/*
 * SYNC_ASYNC: start writing the pages holding the range to the file, without
 * waiting.  sync_file_range() takes file offsets: the page p's is the file
 * offset of the mapping's first page plus p pages.
 */
static int start_writeback(mmapkit_map *m, const char *call, const struct mmapkit__span *s,
			   size_t off, unsigned how)
{
	uint64_t first = m->offset - m->delta + (uint64_t)s->p0 * m->gran;
	size_t n = mmapkit__pages_len(m, s->p0, s->p1);

	if ((how & MMAPKIT_SYNC_INVALIDATE) &&
	    mmapkit__sys.msync(mmapkit__page_addr(m, s->p0), n, MS_ASYNC | MS_INVALIDATE) < 0)
		return mmapkit__fail_sys(errno, call, "msync", "range %zu+%zu", off, s->z - s->a);
	if (mmapkit__sys.sync_file_range(m->fd, (off_t)first, (off_t)n, SYNC_FILE_RANGE_WRITE) < 0)
		return mmapkit__fail_sys(errno, call, "sync_file_range",
					 "range %zu+%zu (file bytes %llu+%zu)", off, s->z - s->a,
					 (unsigned long long)first, n);
	return 0;
}

#define SYNC_KNOWN (MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE | MMAPKIT_SYNC_FULL)

int mmapkit_sync(mmapkit_map *m, size_t off, size_t len, unsigned how)
{
	const char *call = __func__;
	struct mmapkit__span s;
	int flags, err;

	if (!m)
		return mmapkit__null_handle(call);
	if (m->kind != MMAPKIT_FILE_SHARED)
		return mmapkit__wrong_kind(m, call, "only a shared file mapping has changes to write back");
	if (how & ~SYNC_KNOWN)
		return mmapkit__fail(EINVAL, "%s: unknown bits 0x%x in how", call, how & ~SYNC_KNOWN);
	if ((how & MMAPKIT_SYNC_ASYNC) && (how & MMAPKIT_SYNC_FULL))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_SYNC_FULL waits; not with MMAPKIT_SYNC_ASYNC",
				     call);
	err = mmapkit__span_resolve(m, call, off, len, &s);
	if (!err)
		err = mmapkit__fork_check(m, call, s.p0, s.p1);
	if (err)
		return err;
	if (s.a == s.z) /* an empty range: nothing to write back, not even the size */
		return 0;
	if (how & MMAPKIT_SYNC_ASYNC)
		return start_writeback(m, call, &s, off, how);
	/*
	 * SYNC_FULL: fsync writes every dirty page of the file, the mapping's
	 * included (msync(MS_SYNC) is an fsync of the range on Linux), so an
	 * msync first would only repeat part of it; with SYNC_INVALIDATE an
	 * msync(MS_INVALIDATE) that writes nothing comes first, for its check.
	 */
	flags = (how & MMAPKIT_SYNC_FULL ? 0 : MS_SYNC) |
		(how & MMAPKIT_SYNC_INVALIDATE ? MS_INVALIDATE : 0);
	if (flags &&
	    mmapkit__sys.msync(mmapkit__page_addr(m, s.p0), mmapkit__pages_len(m, s.p0, s.p1), flags) < 0)
		return mmapkit__fail_sys(errno, call, "msync", "range %zu+%zu", off, s.z - s.a);
	if (!(how & MMAPKIT_SYNC_FULL))
		return 0;
	if (mmapkit__sys.fsync(m->fd) < 0)
		return mmapkit__fail_sys(errno, call, "fsync", "fd %d", m->fd);
	if (m->created_path && !atomic_load_explicit(&m->dir_synced, memory_order_acquire))
		return sync_dir(m, call);
	return 0;
}
