/* SPDX-License-Identifier: MIT */
/*
 * Each mmapkit call beside the careful hand-written sequence it stands for.
 * "Careful" means: no descriptor leaks into exec'd programs (O_CLOEXEC), a
 * path that might name a FIFO never blocks the open (O_NONBLOCK, cleared on
 * the descriptor kept), a file is only removed by the call that created it
 * (O_EXCL), and a created file's directory entry is made durable where it is
 * now.  Both sides do the same work; the hand-written one is the minimum.
 */
#define _GNU_SOURCE
#include "cost_ops.h"

#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

#define FILE_PAGES 4
#define RW (PROT_READ | PROT_WRITE)

static int fail_if(int bad)
{
	return bad ? -1 : 0;
}

/* ---- setup and undo (not counted) ---- */

static void undo_all(struct cost_env *e)
{
	mmapkit_unmap(e->m);
	e->m = NULL;
	if (e->p && e->p != MAP_FAILED)
		munmap(e->p, e->len);
	e->p = NULL;
	if (e->pfd >= 0)
		close(e->pfd);
	e->pfd = -1;
	unlink(e->fresh);
	if (truncate(e->file, (off_t)(FILE_PAGES * e->page)) < 0)
		perror("cost_ops: truncate");
}

/* Both sides get a mapping of the whole file, every page written. */
static int both_file(struct cost_env *e, int shared)
{
	e->len = FILE_PAGES * e->page;
	e->p = mmap(NULL, e->len, RW, shared ? MAP_SHARED : MAP_PRIVATE, e->fd, 0);
	if (e->p == MAP_FAILED ||
	    (shared ? mmapkit_file_shared : mmapkit_file_private)(&e->m, e->file, 0, 0, 0))
		return -1;
	memset(e->p, 1 + shared, e->len);
	memset(mmapkit_ptr(e->m), 1 + shared, e->len);
	return 0;
}

static int both_file_shared(struct cost_env *e)
{
	return both_file(e, 1);
}

static int both_file_private(struct cost_env *e)
{
	return both_file(e, 0);
}

static int both_anon(struct cost_env *e, int shared)
{
	e->len = FILE_PAGES * e->page;
	e->p = mmap(NULL, e->len, RW, (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);
	if (e->p == MAP_FAILED ||
	    (shared ? mmapkit_anon_shared : mmapkit_anon_private)(&e->m, e->len, 0))
		return -1;
	memset(e->p, 3, e->len);
	memset(mmapkit_ptr(e->m), 3, e->len);
	return 0;
}

static int both_anon_private(struct cost_env *e)
{
	return both_anon(e, 0);
}

static int both_anon_shared(struct cost_env *e)
{
	return both_anon(e, 1);
}

/* A file each side created (as MMAPKIT_CREATE | MMAPKIT_GROW would), not synced yet. */
static int both_created(struct cost_env *e)
{
	char name[4300];

	snprintf(name, sizeof(name), "%s.hand", e->fresh);
	unlink(name);
	e->len = 2 * e->page;
	e->pfd = open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (e->pfd < 0 || ftruncate(e->pfd, (off_t)e->len) < 0 || unlink(name) < 0)
		return -1;
	e->p = mmap(NULL, e->len, RW, MAP_SHARED, e->pfd, 0);
	if (e->p == MAP_FAILED ||
	    mmapkit_file_shared(&e->m, e->fresh, 0, e->len, MMAPKIT_CREATE | MMAPKIT_GROW))
		return -1;
	memset(e->p, 4, e->len);
	memset(mmapkit_ptr(e->m), 4, e->len);
	return 0;
}

/* ---- constructors ---- */

static int hand_anon_private(struct cost_env *e)
{
	e->len = e->page;
	e->p = mmap(NULL, e->len, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return fail_if(e->p == MAP_FAILED);
}

static int lib_anon_private(struct cost_env *e)
{
	return mmapkit_anon_private(&e->m, e->page, 0);
}

static int hand_anon_shared(struct cost_env *e)
{
	e->len = 10 * e->page;
	e->p = mmap(NULL, e->len, RW, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return fail_if(e->p == MAP_FAILED);
}

static int lib_anon_shared(struct cost_env *e)
{
	return mmapkit_anon_shared(&e->m, 10 * e->page, 0);
}

/*
 * Reserve the pages and a guard on each side, then map the pages over the
 * middle; from 6.13 one mapping, its first and last page made guards.
 */
static int hand_guarded(struct cost_env *e)
{
	unsigned char *r;

	e->len = 3 * e->page;
	if (cost_light_guards()) {
		e->p = mmap(NULL, e->len, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		r = e->p;
		return fail_if(e->p == MAP_FAILED || madvise(r, e->page, MADV_GUARD_INSTALL) < 0 ||
			       madvise(r + 2 * e->page, e->page, MADV_GUARD_INSTALL) < 0);
	}
	e->p = mmap(NULL, e->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (e->p == MAP_FAILED)
		return -1;
	r = e->p;
	return fail_if(mmap(r + e->page, e->page, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
			    -1, 0) == MAP_FAILED);
}

static int lib_guarded(struct cost_env *e)
{
	return mmapkit_anon_private(&e->m, e->page, MMAPKIT_GUARD);
}

/*
 * DONTFORK pages are not in a fork() child: a program that must not touch
 * them there records which process has them (getpid) and checks it later.
 */
static int hand_locked_advised(struct cost_env *e)
{
	pid_t owner;

	e->len = 2 * e->page;
	e->p = mmap(NULL, e->len, RW, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	owner = getpid();
	return fail_if(e->p == MAP_FAILED || owner <= 0 || madvise(e->p, e->len, MADV_DONTFORK) < 0 ||
		       madvise(e->p, e->len, MADV_DONTDUMP) < 0 || mlock(e->p, e->len) < 0);
}

static int lib_locked_advised(struct cost_env *e)
{
	return mmapkit_anon_private(&e->m, 2 * e->page,
				    MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP | MMAPKIT_LOCK);
}

/*
 * By path: open without blocking on a FIFO, learn type and size, clear
 * O_NONBLOCK on the descriptor kept, map.
 */
static int hand_path(struct cost_env *e, const char *path, int oflags, off_t off, size_t len,
		     int prot, int flags)
{
	struct stat st;

	e->pfd = open(path, oflags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (e->pfd < 0 || fstat(e->pfd, &st) < 0 || fcntl(e->pfd, F_SETFL, oflags) < 0)
		return -1;
	e->len = len ? len : (size_t)st.st_size;
	e->p = mmap(NULL, e->len, prot, flags, e->pfd, off);
	return fail_if(e->p == MAP_FAILED);
}

static int hand_file_shared(struct cost_env *e)
{
	return hand_path(e, e->file, O_RDWR, 0, 0, RW, MAP_SHARED);
}

static int lib_file_shared(struct cost_env *e)
{
	return mmapkit_file_shared(&e->m, e->file, 0, 0, 0);
}

static int hand_file_private_ro(struct cost_env *e)
{
	return hand_path(e, e->file, O_RDONLY, 0, 11, PROT_READ, MAP_PRIVATE);
}

static int lib_file_private_ro(struct cost_env *e)
{
	return mmapkit_file_private(&e->m, e->file, 1, 10, MMAPKIT_RDONLY);
}

/* A descriptor of the caller's: duplicate it (close-on-exec), learn the size, map. */
static int hand_fd_shared(struct cost_env *e)
{
	struct stat st;

	e->pfd = fcntl(e->fd, F_DUPFD_CLOEXEC, 0);
	if (e->pfd < 0 || fstat(e->pfd, &st) < 0)
		return -1;
	e->len = (size_t)st.st_size;
	e->p = mmap(NULL, e->len, RW, MAP_SHARED, e->pfd, 0);
	return fail_if(e->p == MAP_FAILED);
}

static int lib_fd_shared(struct cost_env *e)
{
	return mmapkit_fd_shared(&e->m, e->fd, 0, 0, 0);
}

/* Past the end: grow the file first (the checks first, then the changes). */
static int hand_grow(struct cost_env *e)
{
	struct stat st;

	e->pfd = open(e->file, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (e->pfd < 0 || fstat(e->pfd, &st) < 0 ||
	    ftruncate(e->pfd, (off_t)(FILE_PAGES + 2) * (off_t)e->page) < 0 ||
	    fcntl(e->pfd, F_SETFL, O_RDWR) < 0)
		return -1;
	e->len = (FILE_PAGES + 1) * e->page;
	e->p = mmap(NULL, e->len, RW, MAP_SHARED, e->pfd, (off_t)e->page);
	return fail_if(e->p == MAP_FAILED);
}

static int lib_grow(struct cost_env *e)
{
	return mmapkit_file_shared(&e->m, e->file, e->page, (FILE_PAGES + 1) * e->page,
				   MMAPKIT_GROW);
}

/*
 * A new file: the open that finds none, the exclusive one that creates it (a
 * new regular file: no FIFO, so no O_NONBLOCK, and no fstat: it is empty),
 * grow, map.
 */
static int hand_create(struct cost_env *e)
{
	e->pfd = open(e->fresh, O_RDWR | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (e->pfd >= 0)
		return -1;
	e->pfd = open(e->fresh, O_RDWR | O_CLOEXEC | O_NOCTTY | O_CREAT | O_EXCL, 0600);
	e->len = 2 * e->page;
	if (e->pfd < 0 || ftruncate(e->pfd, (off_t)e->len) < 0)
		return -1;
	e->p = mmap(NULL, e->len, RW, MAP_SHARED, e->pfd, 0);
	return fail_if(e->p == MAP_FAILED);
}

static int lib_create(struct cost_env *e)
{
	return mmapkit_file_shared(&e->m, e->fresh, 0, 2 * e->page, MMAPKIT_CREATE | MMAPKIT_GROW);
}

/*
 * An empty file: nothing to map, but a regular file of size 0 may be a
 * pseudo-file with content (/proc, /sys), which cannot be mapped: one byte
 * read tells.
 */
static int hand_empty(struct cost_env *e)
{
	struct stat st;
	char byte;

	e->pfd = open(e->empty, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	return fail_if(e->pfd < 0 || fstat(e->pfd, &st) < 0 || st.st_size != 0 ||
		       pread(e->pfd, &byte, 1, 0) != 0 || fcntl(e->pfd, F_SETFL, O_RDONLY) < 0);
}

static int lib_empty(struct cost_env *e)
{
	return mmapkit_file_private(&e->m, e->empty, 0, 0, 0);
}

/* ---- unmap ---- */

static int hand_unmap(struct cost_env *e)
{
	int r = munmap(e->p, e->len);

	e->p = NULL;
	if (e->pfd >= 0)
		r |= close(e->pfd);
	e->pfd = -1;
	return r;
}

static int lib_unmap(struct cost_env *e)
{
	mmapkit_unmap(e->m);
	e->m = NULL;
	return 0;
}

static int setup_anon_guarded(struct cost_env *e)
{
	return fail_if(hand_guarded(e) < 0 || lib_guarded(e) != 0);
}

static int setup_file(struct cost_env *e)
{
	return fail_if(hand_file_shared(e) < 0 || lib_file_shared(e) != 0);
}

/* ---- sync ---- */

static int hand_msync(struct cost_env *e)
{
	return msync((char *)e->p, 3 * e->page, MS_SYNC);
}

static int lib_msync(struct cost_env *e)
{
	return mmapkit_sync(e->m, 10, 2 * e->page, 0);
}

static int hand_async(struct cost_env *e)
{
	return sync_file_range(e->fd, 0, (off_t)e->page, SYNC_FILE_RANGE_WRITE);
}

static int lib_async(struct cost_env *e)
{
	return mmapkit_sync(e->m, 0, 1, MMAPKIT_SYNC_ASYNC);
}

static int hand_async_invalidate(struct cost_env *e)
{
	return fail_if(msync(e->p, e->len, MS_ASYNC | MS_INVALIDATE) < 0 ||
		       sync_file_range(e->fd, 0, (off_t)e->len, SYNC_FILE_RANGE_WRITE) < 0);
}

static int lib_async_invalidate(struct cost_env *e)
{
	return mmapkit_sync(e->m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE);
}

/* fsync writes every dirty page of the file, the mapping's too. */
static int hand_full(struct cost_env *e)
{
	return fsync(e->fd);
}

static int lib_full(struct cost_env *e)
{
	return mmapkit_sync(e->m, e->page, e->page, MMAPKIT_SYNC_FULL);
}

/*
 * A created file, the first time: the file, then the directory that holds it
 * now (after a chdir or a rename, not the one its creation path named: ask
 * the kernel).
 */
static int hand_full_created(struct cost_env *e)
{
	char link[64], target[PATH_MAX];
	ssize_t n;
	int dfd, r;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", e->pfd);
	if (fsync(e->pfd) < 0 || (n = readlink(link, target, sizeof(target) - 1)) < 0)
		return -1;
	target[n] = '\0';
	dfd = open(dirname(target), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	r = fsync(dfd);
	return close(dfd) | r;
}

static int lib_full_created(struct cost_env *e)
{
	return mmapkit_sync(e->m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL);
}

/* ---- advise, protect, lock ---- */

static int hand_advise(struct cost_env *e)
{
	return madvise((char *)e->p + e->page, 2 * e->page, MADV_DONTDUMP);
}

static int lib_advise(struct cost_env *e)
{
	return mmapkit_advise(e->m, e->page, 2 * e->page, MMAPKIT_ADV_DONTDUMP);
}

static int hand_protect(struct cost_env *e)
{
	return mprotect((char *)e->p + e->page, e->page, PROT_READ);
}

static int lib_protect(struct cost_env *e)
{
	return mmapkit_protect(e->m, e->page + 1, 1, MMAPKIT_PROT_READ);
}

static int hand_lock(struct cost_env *e)
{
	return mlock(e->p, 2 * e->page);
}

static int lib_lock(struct cost_env *e)
{
	return mmapkit_lock(e->m, 0, 2 * e->page, 0);
}

static int hand_lock_onfault(struct cost_env *e)
{
	return mlock2(e->p, e->len, MLOCK_ONFAULT);
}

static int lib_lock_onfault(struct cost_env *e)
{
	return mmapkit_lock(e->m, 0, MMAPKIT_TO_END, MMAPKIT_LOCK_ONFAULT);
}

static int hand_unlock(struct cost_env *e)
{
	return munlock(e->p, e->page);
}

static int lib_unlock(struct cost_env *e)
{
	return mmapkit_unlock(e->m, 10, 10);
}

/* ---- punch and revert ---- */

/* Anonymous private: drop the whole pages (zeros), zero the edge bytes in memory. */
static int hand_punch_ap(struct cost_env *e)
{
	memset((char *)e->p + 1, 0, e->page - 1);
	return madvise((char *)e->p + e->page, 2 * e->page, MADV_DONTNEED);
}

static int lib_punch_1_3(struct cost_env *e)
{
	return mmapkit_punch(e->m, 1, 3 * e->page - 1);
}

static int hand_punch_as(struct cost_env *e)
{
	return madvise((char *)e->p + e->page, 2 * e->page, MADV_REMOVE);
}

static int lib_punch_1_2(struct cost_env *e)
{
	return mmapkit_punch(e->m, e->page, 2 * e->page);
}

static int hand_punch_fs(struct cost_env *e)
{
	return fallocate(e->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 5, 3);
}

static int lib_punch_fs(struct cost_env *e)
{
	return mmapkit_punch(e->m, 5, 3);
}

/*
 * File private: fresh anonymous pages in place; before 6.12, where a failing
 * MAP_FIXED may leave a hole, zeros written in place.
 */
static int hand_punch_fp(struct cost_env *e)
{
	if (!cost_fixed_is_safe()) {
		memset((char *)e->p + e->page, 0, 2 * e->page);
		return 0;
	}
	return fail_if(mmap((char *)e->p + e->page, 2 * e->page, RW,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED);
}

/* Private changes discarded: the pages read their backing again. */
static int hand_revert(struct cost_env *e)
{
	return madvise(e->p, e->len, MADV_DONTNEED);
}

static int lib_revert(struct cost_env *e)
{
	return mmapkit_revert(e->m, 0, MMAPKIT_TO_END);
}

const struct cost_op cost_ops[] = {
	/* constructors */
	{"mmapkit_anon_private(page, 0)", "mmap", NULL,
	 NULL, hand_anon_private, lib_anon_private, undo_all, NULL},
	{"mmapkit_anon_shared(10 pages, 0)", "mmap", NULL,
	 NULL, hand_anon_shared, lib_anon_shared, undo_all, NULL},
	{"mmapkit_anon_private(page, GUARD)", "mmap mmap", NULL,
	 NULL, hand_guarded, lib_guarded, undo_all, "mmap madvise madvise"},
	{"mmapkit_anon_private(2 pages, DONTFORK|DONTDUMP|LOCK)",
	 "mmap getpid madvise madvise mlock", NULL,
	 NULL, hand_locked_advised, lib_locked_advised, undo_all, NULL},
	{"mmapkit_file_shared(file, 0, 0, 0)", "open fstat fcntl mmap", NULL,
	 NULL, hand_file_shared, lib_file_shared, undo_all, NULL},
	{"mmapkit_file_private(file, 1, 10, RDONLY)", "open fstat fcntl mmap", NULL,
	 NULL, hand_file_private_ro, lib_file_private_ro, undo_all, NULL},
	{"mmapkit_fd_shared(fd, 0, 0, 0)", "fcntl fstat mmap", NULL,
	 NULL, hand_fd_shared, lib_fd_shared, undo_all, NULL},
	{"mmapkit_file_shared(file, page, past the end, GROW)", "open fstat ftruncate fcntl mmap",
	 NULL,
	 NULL, hand_grow, lib_grow, undo_all, NULL},
	{"mmapkit_file_shared(new file, 0, 2 pages, CREATE|GROW)", "open open ftruncate mmap", NULL,
	 NULL, hand_create, lib_create, undo_all, NULL},
	{"mmapkit_file_private(empty file, 0, 0, 0)", "open fstat pread fcntl", NULL,
	 NULL, hand_empty, lib_empty, undo_all, NULL},
	/* unmap */
	{"mmapkit_unmap(anonymous, guarded)", "munmap", NULL,
	 setup_anon_guarded, hand_unmap, lib_unmap, undo_all, NULL},
	{"mmapkit_unmap(file)", "munmap close", NULL,
	 setup_file, hand_unmap, lib_unmap, undo_all, NULL},
	/* range operations: each is its one system call */
	{"mmapkit_sync(10, 2 pages, 0)", "msync", NULL,
	 both_file_shared, hand_msync, lib_msync, undo_all, NULL},
	{"mmapkit_sync(0, 1, ASYNC)", "sync_file_range", NULL,
	 both_file_shared, hand_async, lib_async, undo_all, NULL},
	{"mmapkit_sync(0, TO_END, ASYNC|INVALIDATE)", "msync sync_file_range", NULL,
	 both_file_shared, hand_async_invalidate, lib_async_invalidate, undo_all, NULL},
	{"mmapkit_sync(page, page, FULL)", "fsync", NULL,
	 both_file_shared, hand_full, lib_full, undo_all, NULL},
	{"mmapkit_sync(created file, FULL), the first", "fsync readlink open fsync close", NULL,
	 both_created, hand_full_created, lib_full_created, undo_all, NULL},
	{"mmapkit_advise(page, 2 pages, DONTDUMP)", "madvise", NULL,
	 both_anon_private, hand_advise, lib_advise, undo_all, NULL},
	{"mmapkit_protect(page + 1, 1, READ)", "mprotect", NULL,
	 both_anon_shared, hand_protect, lib_protect, undo_all, NULL},
	{"mmapkit_lock(0, 2 pages, 0)", "mlock", NULL,
	 both_anon_shared, hand_lock, lib_lock, undo_all, NULL},
	{"mmapkit_lock(0, TO_END, ONFAULT)", "mlock2", NULL,
	 both_anon_private, hand_lock_onfault, lib_lock_onfault, undo_all, NULL},
	{"mmapkit_unlock(10, 10)", "munlock", NULL,
	 both_anon_shared, hand_unlock, lib_unlock, undo_all, NULL},
	{"mmapkit_punch(anon private, 1, 3 pages - 1)", "madvise", NULL,
	 both_anon_private, hand_punch_ap, lib_punch_1_3, undo_all, NULL},
	{"mmapkit_punch(anon shared, page, 2 pages)", "madvise", NULL,
	 both_anon_shared, hand_punch_as, lib_punch_1_2, undo_all, NULL},
	{"mmapkit_punch(file shared, 5, 3)", "fallocate", NULL,
	 both_file_shared, hand_punch_fs, lib_punch_fs, undo_all, NULL},
	{"mmapkit_punch(file private, page, 2 pages)", "mmap", "",
	 both_file_private, hand_punch_fp, lib_punch_1_2, undo_all, NULL},
	{"mmapkit_revert(anon private, 0, TO_END)", "madvise", NULL,
	 both_anon_private, hand_revert, lib_revert, undo_all, NULL},
	{"mmapkit_revert(file private, 0, TO_END)", "madvise", NULL,
	 both_file_private, hand_revert, lib_revert, undo_all, NULL},
};

const size_t cost_nops = sizeof(cost_ops) / sizeof(cost_ops[0]);

static int make_file(const char *path, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int r;

	if (fd < 0)
		return -1;
	r = ftruncate(fd, (off_t)size);
	for (size_t i = 0; !r && i < size; i += 512)
		r = pwrite(fd, "data", 4, (off_t)i) == 4 ? 0 : -1;
	close(fd);
	return r;
}

int cost_env_init(struct cost_env *e, const char *dir)
{
	memset(e, 0, sizeof(*e));
	e->page = mmapkit_page_size();
	cost_fixed_is_safe();
	cost_light_guards(); /* asked once, not while counted */
	e->pfd = -1;
	snprintf(e->file, sizeof(e->file), "%s/cost-file", dir);
	snprintf(e->empty, sizeof(e->empty), "%s/cost-empty", dir);
	snprintf(e->fresh, sizeof(e->fresh), "%s/cost-fresh", dir);
	if (make_file(e->file, FILE_PAGES * e->page) < 0 || make_file(e->empty, 0) < 0)
		return -1;
	e->fd = open(e->file, O_RDWR | O_CLOEXEC);
	return fail_if(e->fd < 0);
}

void cost_env_free(struct cost_env *e)
{
	undo_all(e);
	close(e->fd);
	unlink(e->file);
	unlink(e->empty);
}

static int fixed_safe = -1;

void cost_fixed_is_safe_set(int safe)
{
	fixed_safe = safe;
}

bool cost_fixed_is_safe(void)
{
	struct utsname u;
	unsigned major = 0, minor = 0;

	if (fixed_safe >= 0)
		return fixed_safe;
	if (uname(&u) == 0)
		sscanf(u.release, "%u.%u", &major, &minor);
	fixed_safe = major > 6 || (major == 6 && minor >= 12); /* asked once (not while counted) */
	return fixed_safe;
}

static int light_guards = -1;

void cost_light_guards_set(int light)
{
	light_guards = light;
}

bool cost_light_guards(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	if (light_guards >= 0)
		return light_guards;
	/* NORESERVE: no merge with a neighbour, which the guard would mark "gu" too */
	p = mmap(NULL, 2 * page, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	light_guards = p != MAP_FAILED && madvise(p, page, MADV_GUARD_INSTALL) == 0;
	if (p != MAP_FAILED)
		munmap(p, 2 * page);
	return light_guards;
}

const char *cost_raw(const struct cost_op *op)
{
	if (op->raw_light_guards && cost_light_guards())
		return op->raw_light_guards;
	return op->raw_before_6_12 && !cost_fixed_is_safe() ? op->raw_before_6_12 : op->raw;
}

unsigned cost_raw_count(const char *raw, const char *name)
{
	size_t n = strlen(name);
	unsigned count = 0;

	for (const char *w = raw; *w;) {
		size_t k = strcspn(w, " ");

		count += k == n && strncmp(w, name, n) == 0;
		w += k;
		w += strspn(w, " ");
	}
	return count;
}
