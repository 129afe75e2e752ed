/* SPDX-License-Identifier: MIT */
/*
 * Section 1: system calls per operation, counted by the ptrace counter
 * (syscount.c), mmapkit against the minimal raw sequence that does the same
 * work by hand, and the peers.  Each operation runs four times, interleaved
 * with its raw twin; the run with the fewest calls counts (the first run of a
 * process can pay one-time costs, shown separately).  The counts are
 * deterministic: any mmapkit count above raw is a failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

#define SZ (64 * KiB)

/*
 * The raw lock calls go straight to the kernel: a sanitizer runtime replaces
 * libc's mlock/munlock with no-ops, which would make raw look cheaper.
 */
#define sys_mlock(p, n) syscall(SYS_mlock, (p), (n))
#define sys_mlock2(p, n, f) syscall(SYS_mlock2, (p), (n), (f))
#define sys_munlock(p, n) syscall(SYS_munlock, (p), (n))
#define REPS 4

enum { P_FILE, P_NEW, P_GROW, P_PUNCH };          /* which file a file case maps */
enum { PREP_NONE, PREP_TOUCH, PREP_DIRTY, PREP_LOCK, PREP_PUNCH }; /* before the op */

struct cc {
	char mark[160];
	char file[600];  /* SZ pattern bytes */
	char fresh[600]; /* does not exist */
	char small[600]; /* 4 KiB, grown by GROW */
	char holes[600]; /* punched */
	char msg[200];
};

struct rawmap {
	unsigned char *p;
	size_t len;
	int fd;
};

struct ccase;
typedef int (*mk_op)(mmapkit_map *m, const struct ccase *k);
typedef int (*raw_op)(struct rawmap *r, const struct ccase *k);

struct ccase {
	const char *op;
	void (*mk)(struct cc *c, const struct ccase *k);
	void (*raw)(struct cc *c, const struct ccase *k);
	int kind;
	unsigned flags;
	int path;
	int prep;
	mk_op mk_fn;
	raw_op raw_fn;
	int arg;                /* advice, sync mode, ... */
	int prot, mflags, madv; /* the raw sequence of a create case */
	const char *why;        /* what the raw sequence is, when not obvious */
};

static const char *path_of(struct cc *c, const struct ccase *k)
{
	switch (k->path) {
	case P_NEW:
		return c->fresh;
	case P_GROW:
		return c->small;
	case P_PUNCH:
		return c->holes;
	default:
		return c->file;
	}
}

static bool is_file(int kind)
{
	return kind == MMAPKIT_FILE_PRIVATE || kind == MMAPKIT_FILE_SHARED;
}

/* Report a failure of the marked operation (the tracer stores the message). */
static void oops(struct cc *c, const char *what, int err)
{
	snprintf(c->msg, sizeof(c->msg), "%s: %s", what,
		 err < 0 ? mmapkit_errmsg() : strerror(err));
	sc_error(c->msg);
}

static int mk_new(struct cc *c, const struct ccase *k, mmapkit_map **m)
{
	size_t len = k->path == P_FILE || k->path == P_PUNCH ? 0 : SZ;

	switch (k->kind) {
	case MMAPKIT_ANON_PRIVATE:
		return mmapkit_anon_private(m, SZ, k->flags);
	case MMAPKIT_ANON_SHARED:
		return mmapkit_anon_shared(m, SZ, k->flags);
	case MMAPKIT_FILE_PRIVATE:
		return mmapkit_file_private(m, path_of(c, k), 0, len, k->flags);
	default:
		return mmapkit_file_shared(m, path_of(c, k), 0, len, k->flags);
	}
}

/* Undo what a create case did to the files, outside the marks. */
static void reset_files(struct cc *c, const struct ccase *k)
{
	if (k->path == P_NEW)
		unlink(c->fresh);
	if (k->path == P_GROW && truncate(c->small, 4 * KiB) < 0)
		perror("truncate");
}

static void mk_create(struct cc *c, const struct ccase *k)
{
	mmapkit_map *m;
	int err;

	sc_begin(c->mark);
	err = mk_new(c, k, &m);
	mmapkit_unmap(m);
	if (err)
		oops(c, "create", err);
	sc_end();
	reset_files(c, k);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* Does this kernel have light guards (6.13)?  Asked once, outside any count. */
static bool light_guards_here(void)
{
	static int known; /* 0: not asked; 1: no; 2: yes */
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	unsigned char *p;

	if (!known) {
		p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		known = p != MAP_FAILED && madvise(p, page, MADV_GUARD_INSTALL) == 0 ? 2 : 1;
		if (p != MAP_FAILED)
			munmap(p, 2 * page);
	}
	return known == 2;
}

static void raw_create_anon(struct cc *c, const struct ccase *k)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p, *at = NULL;
	int f = k->mflags;
	bool light = (k->flags & MMAPKIT_GUARD) && light_guards_here();

	sc_begin(c->mark);
	if (light) { /* one mapping, a guard marker on its first and last page */
		p = mmap(NULL, SZ + 2 * page, k->prot, f, -1, 0);
		if (p == MAP_FAILED) {
			oops(c, "mmap", errno);
		} else {
			madvise(p, page, MADV_GUARD_INSTALL);
			madvise((unsigned char *)p + page + SZ, page, MADV_GUARD_INSTALL);
			munmap(p, SZ + 2 * page);
		}
		sc_end();
		return;
	}
	if (k->flags & MMAPKIT_GUARD) { /* reserve, then map the middle */
		at = mmap(NULL, SZ + 2 * page, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		at = (unsigned char *)at + page;
		f |= MAP_FIXED;
	}
	p = mmap(at, SZ, k->prot, f, -1, 0);
	if (p == MAP_FAILED) {
		oops(c, "mmap", errno);
	} else {
		if (k->flags & MMAPKIT_LOCK)
			sys_mlock(p, SZ);
		/*
		 * DONTFORK: the process the pages belong to, recorded when they are
		 * made and compared at unmap, for a fork() child that lacks them
		 * must not unmap what it mapped there since (mmapkit(7)).
		 */
		volatile pid_t owner = k->flags & MMAPKIT_DONTFORK ? getpid() : 0;

		if (k->madv >= 0)
			madvise(p, SZ, k->madv);
		if (!(k->flags & MMAPKIT_DONTFORK) || getpid() == owner) /* not a child */
			munmap(k->flags & MMAPKIT_GUARD ? (unsigned char *)p - page : p,
			       k->flags & MMAPKIT_GUARD ? SZ + 2 * page : SZ);
	}
	sc_end();
}

/*
 * By hand: open (O_NONBLOCK: a FIFO at the path must not block the open),
 * fstat (also for a new file: O_CREAT cannot say it made it), fcntl(F_SETFL)
 * clearing O_NONBLOCK again, mmap.
 */
static void raw_create_file(struct cc *c, const struct ccase *k)
{
	bool rw = (k->kind == MMAPKIT_FILE_SHARED && !(k->flags & MMAPKIT_RDONLY)) ||
		  (k->flags & MMAPKIT_GROW);
	int prot = k->flags & MMAPKIT_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE;
	int mf = (k->kind == MMAPKIT_FILE_SHARED ? MAP_SHARED : MAP_PRIVATE) |
		 (k->flags & MMAPKIT_POPULATE ? MAP_POPULATE : 0);
	int oflags = rw ? O_RDWR : O_RDONLY;
	struct stat st;
	void *p;
	int fd;

	sc_begin(c->mark);
	fd = open(path_of(c, k), oflags | O_NONBLOCK | O_CLOEXEC |
			(k->flags & MMAPKIT_CREATE ? O_CREAT : 0), 0600);
	if (fd < 0 || fstat(fd, &st) < 0 || fcntl(fd, F_SETFL, oflags) < 0) {
		oops(c, "open/fstat/fcntl", errno);
		goto out;
	}
	if ((size_t)st.st_size < SZ && (k->flags & MMAPKIT_GROW) && ftruncate(fd, SZ) < 0)
		oops(c, "ftruncate", errno);
	p = mmap(NULL, SZ, prot, mf, fd, 0);
	if (p == MAP_FAILED)
		oops(c, "mmap", errno);
	else
		munmap(p, SZ);
out:
	if (fd >= 0)
		close(fd);
	sc_end();
	reset_files(c, k);
}

/* The fd constructors own a duplicate (the contract): by hand that is fcntl + close. */
static void mk_fd(struct cc *c, const struct ccase *k)
{
	int fd = open(c->file, O_RDWR | O_CLOEXEC);
	mmapkit_map *m;
	int err;

	sc_begin(c->mark);
	err = mmapkit_fd_shared(&m, fd, 0, 0, k->flags);
	mmapkit_unmap(m);
	if (err)
		oops(c, "mmapkit_fd_shared", err);
	sc_end();
	close(fd);
}

static void raw_fd(struct cc *c, const struct ccase *k)
{
	int fd = open(c->file, O_RDWR | O_CLOEXEC), dup;
	struct stat st;
	void *p;

	(void)k;
	sc_begin(c->mark);
	dup = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	fstat(dup, &st);
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, dup, 0);
	if (p == MAP_FAILED)
		oops(c, "mmap", errno);
	else
		munmap(p, (size_t)st.st_size);
	close(dup);
	sc_end();
	close(fd);
}

/* ---- range operations: the mapping is made outside the marks ---- */

static void mk_prep(mmapkit_map *m, int prep)
{
	unsigned char *p = mmapkit_ptr(m);

	if (prep == PREP_TOUCH || prep == PREP_DIRTY)
		for (size_t i = 0; i < SZ; i += 4096)
			p[i] = 1;
	if (prep == PREP_LOCK)
		mmapkit_lock(m, 0, MMAPKIT_TO_END, 0);
	if (prep == PREP_PUNCH)
		mmapkit_punch(m, 0, MMAPKIT_TO_END);
}

static void mk_range(struct cc *c, const struct ccase *k)
{
	mmapkit_map *m;
	int err = mk_new(c, k, &m);

	if (err) {
		sc_begin(c->mark);
		oops(c, "setup", err);
		sc_end();
		return;
	}
	mk_prep(m, k->prep);
	sc_begin(c->mark);
	err = k->mk_fn(m, k);
	if (err)
		oops(c, k->op, err);
	sc_end();
	mmapkit_unmap(m);
}

static int raw_new(struct cc *c, const struct ccase *k, struct rawmap *r)
{
	int f = k->kind == MMAPKIT_ANON_SHARED || k->kind == MMAPKIT_FILE_SHARED ? MAP_SHARED
										 : MAP_PRIVATE;
	int prot = k->flags & MMAPKIT_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE;
	void *p;

	r->fd = -1;
	r->len = SZ;
	if (is_file(k->kind)) {
		r->fd = open(path_of(c, k), O_CLOEXEC |
				(k->kind == MMAPKIT_FILE_SHARED ? O_RDWR : O_RDONLY));
		if (r->fd < 0)
			return -1;
	} else {
		f |= MAP_ANONYMOUS;
	}
	p = mmap(NULL, SZ, prot, f, r->fd, 0);
	if (p == MAP_FAILED)
		return -1;
	r->p = p;
	if (k->flags & MMAPKIT_DONTDUMP)
		madvise(p, SZ, MADV_DONTDUMP);
	if (k->flags & MMAPKIT_LOCK)
		sys_mlock(p, SZ);
	return 0;
}

static void raw_prep(struct rawmap *r, int prep)
{
	if (prep == PREP_TOUCH || prep == PREP_DIRTY)
		for (size_t i = 0; i < SZ; i += 4096)
			r->p[i] = 1;
	if (prep == PREP_LOCK)
		sys_mlock(r->p, r->len);
	if (prep == PREP_PUNCH)
		mmap(r->p, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		     -1, 0);
}

static void raw_range(struct cc *c, const struct ccase *k)
{
	struct rawmap r;

	if (raw_new(c, k, &r) < 0) {
		sc_begin(c->mark);
		oops(c, "setup", errno);
		sc_end();
		return;
	}
	raw_prep(&r, k->prep);
	sc_begin(c->mark);
	if (k->raw_fn(&r, k) < 0)
		oops(c, k->op, errno);
	sc_end();
	munmap(r.p, r.len);
	if (r.fd >= 0)
		close(r.fd);
}

static int mk_sync(mmapkit_map *m, const struct ccase *k)
{
	return mmapkit_sync(m, 0, MMAPKIT_TO_END, (unsigned)k->arg);
}

static int raw_sync(struct rawmap *r, const struct ccase *k)
{
	int err = msync(r->p, r->len, k->arg & MMAPKIT_SYNC_ASYNC ? MS_ASYNC : MS_SYNC);

	if (!err && (k->arg & MMAPKIT_SYNC_FULL))
		err = fsync(r->fd);
	return err;
}

static int mk_advise(mmapkit_map *m, const struct ccase *k)
{
	return mmapkit_advise(m, 0, MMAPKIT_TO_END, k->arg);
}

static int raw_advise(struct rawmap *r, const struct ccase *k)
{
	return madvise(r->p, r->len, k->madv);
}

static int mk_punch(mmapkit_map *m, const struct ccase *k)
{
	(void)k;
	return mmapkit_punch(m, 0, MMAPKIT_TO_END);
}

static int mk_revert(mmapkit_map *m, const struct ccase *k)
{
	(void)k;
	return mmapkit_revert(m, 0, MMAPKIT_TO_END);
}

static int raw_fixed_anon(struct rawmap *r, const struct ccase *k)
{
	(void)k;
	return mmap(r->p, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
		    -1, 0) == MAP_FAILED ? -1 : 0;
}

/* Keeping an attribute, all or nothing: build aside, apply it, move into place. */
static int raw_fixed_kept(struct rawmap *r, const struct ccase *k)
{
	void *q = mmap(NULL, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (q == MAP_FAILED)
		return -1;
	madvise(q, r->len, k->madv);
	return mremap(q, r->len, r->len, MREMAP_MAYMOVE | MREMAP_FIXED, r->p) == MAP_FAILED ? -1
											      : 0;
}

static int raw_fixed_file(struct rawmap *r, const struct ccase *k)
{
	(void)k;
	return mmap(r->p, r->len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED, r->fd, 0) ==
			       MAP_FAILED
		       ? -1
		       : 0;
}

static int raw_fallocate(struct rawmap *r, const struct ccase *k)
{
	(void)k;
	return fallocate(r->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, (off_t)r->len);
}

static int mk_protect(mmapkit_map *m, const struct ccase *k)
{
	(void)k;
	return mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ);
}

static int raw_protect(struct rawmap *r, const struct ccase *k)
{
	(void)k;
	return mprotect(r->p, r->len, PROT_READ);
}

static int mk_lock(mmapkit_map *m, const struct ccase *k)
{
	return mmapkit_lock(m, 0, MMAPKIT_TO_END, (unsigned)k->arg);
}

static int raw_lock(struct rawmap *r, const struct ccase *k)
{
	return (int)(k->arg ? sys_mlock2(r->p, r->len, MLOCK_ONFAULT) : sys_mlock(r->p, r->len));
}

static int mk_unlock(mmapkit_map *m, const struct ccase *k)
{
	(void)k;
	return mmapkit_unlock(m, 0, MMAPKIT_TO_END);
}

static int raw_unlock(struct rawmap *r, const struct ccase *k)
{
	(void)k;
	return (int)sys_munlock(r->p, r->len);
}

#define AP MMAPKIT_ANON_PRIVATE
#define AS MMAPKIT_ANON_SHARED
#define FP MMAPKIT_FILE_PRIVATE
#define FS MMAPKIT_FILE_SHARED
#define RW (PROT_READ | PROT_WRITE)
#define PA (MAP_PRIVATE | MAP_ANONYMOUS)
#define ANON(name, fl, prot_, mf, adv, w)                                                    \
	{.op = name, .mk = mk_create, .raw = raw_create_anon, .kind = AP, .flags = fl,       \
	 .prot = prot_, .mflags = mf, .madv = adv, .why = w}
#define FILEC(name, k, fl, p, w)                                                             \
	{.op = name, .mk = mk_create, .raw = raw_create_file, .kind = k, .flags = fl,        \
	 .path = p, .why = w}
#define RANGE(name, k, fl, pr, mkf, rawf, a, adv, w)                                         \
	{.op = name, .mk = mk_range, .raw = raw_range, .kind = k, .flags = fl, .prep = pr,   \
	 .mk_fn = mkf, .raw_fn = rawf, .arg = a, .madv = adv, .why = w}

static const struct ccase cases[] = {
	ANON("anon-private create+unmap", 0, RW, PA, -1, "mmap munmap"),
	{.op = "anon-shared create+unmap", .mk = mk_create, .raw = raw_create_anon, .kind = AS,
	 .prot = RW, .mflags = MAP_SHARED | MAP_ANONYMOUS, .madv = -1, .why = "mmap munmap"},
	FILEC("file-shared map+unmap", FS, 0, P_FILE,
	      "open(O_NONBLOCK) fstat fcntl(F_SETFL) mmap munmap close"),
	FILEC("file-private map+unmap", FP, 0, P_FILE,
	      "open(O_NONBLOCK) fstat fcntl(F_SETFL) mmap munmap close"),
	FILEC("file-shared RDONLY map+unmap", FS, MMAPKIT_RDONLY, P_FILE,
	      "open(O_RDONLY|O_NONBLOCK) fstat fcntl(F_SETFL) mmap munmap close"),
	{.op = "fd-shared map+unmap", .mk = mk_fd, .raw = raw_fd, .kind = FS,
	 .why = "the handle owns a duplicate (contract): fcntl(F_DUPFD_CLOEXEC) fstat mmap munmap close"},
	ANON("flag RDONLY", MMAPKIT_RDONLY, PROT_READ, PA, -1, "mmap munmap"),
	ANON("flag POPULATE", MMAPKIT_POPULATE, RW, PA | MAP_POPULATE, -1, "mmap(MAP_POPULATE) munmap"),
	ANON("flag NORESERVE", MMAPKIT_NORESERVE, RW, PA | MAP_NORESERVE, -1, "mmap munmap"),
	ANON("flag LOCK", MMAPKIT_LOCK, RW, PA, -1,
	     "mmap mlock munmap (mlock, not MAP_LOCKED, which ignores failure)"),
	ANON("flag HUGETLB", MMAPKIT_HUGETLB, RW, PA | MAP_HUGETLB, -1,
	     "mmap(MAP_HUGETLB) munmap; fails where no huge pages are reserved"),
	ANON("flag THP", MMAPKIT_THP, RW, PA, MADV_HUGEPAGE, "mmap madvise munmap"),
	ANON("flag DONTFORK", MMAPKIT_DONTFORK, RW, PA, MADV_DONTFORK,
	     "mmap getpid madvise getpid munmap: whose pages they are, recorded and compared"),
	ANON("flag WIPEONFORK", MMAPKIT_WIPEONFORK, RW, PA, MADV_WIPEONFORK, "mmap madvise munmap"),
	ANON("flag DONTDUMP", MMAPKIT_DONTDUMP, RW, PA, MADV_DONTDUMP, "mmap madvise munmap"),
	ANON("flag GUARD", MMAPKIT_GUARD, RW, PA, -1,
	     "mmap madvise(GUARD_INSTALL) x2 munmap from 6.13 (one VMA); before: "
	     "mmap(PROT_NONE reserve) mmap(MAP_FIXED) munmap (three VMAs)"),
	FILEC("flag CREATE|GROW (new file)", FS, MMAPKIT_CREATE | MMAPKIT_GROW, P_NEW,
	      "open(O_CREAT) fstat fcntl(F_SETFL) ftruncate mmap munmap close; mmapkit: open, "
	      "open(O_CREAT|O_EXCL) "
	      "so that it knows the file is its own, and no fstat"),
	FILEC("flag CREATE (file exists)", FS, MMAPKIT_CREATE, P_FILE,
	      "open(O_CREAT) fstat fcntl(F_SETFL) mmap munmap close"),
	FILEC("flag GROW (4 KiB file)", FS, MMAPKIT_GROW, P_GROW,
	      "open fstat fcntl(F_SETFL) ftruncate mmap munmap close"),
	FILEC("flag POPULATE (file-shared)", FS, MMAPKIT_POPULATE, P_FILE,
	      "open fstat fcntl(F_SETFL) mmap(MAP_POPULATE) munmap close"),
	RANGE("sync", FS, 0, PREP_DIRTY, mk_sync, raw_sync, 0, 0, "msync(MS_SYNC)"),
	RANGE("sync ASYNC", FS, 0, PREP_DIRTY, mk_sync, raw_sync, MMAPKIT_SYNC_ASYNC, 0,
	      "msync(MS_ASYNC)"),
	RANGE("sync FULL", FS, 0, PREP_DIRTY, mk_sync, raw_sync, MMAPKIT_SYNC_FULL, 0,
	      "msync fsync"),
	RANGE("advise SEQUENTIAL", AP, 0, PREP_NONE, mk_advise, raw_advise, MMAPKIT_ADV_SEQUENTIAL,
	      MADV_SEQUENTIAL, "madvise"),
	RANGE("advise DONTNEED", AP, 0, PREP_TOUCH, mk_advise, raw_advise, MMAPKIT_ADV_DONTNEED,
	      MADV_DONTNEED, "madvise"),
	RANGE("advise WILLNEED", FS, 0, PREP_NONE, mk_advise, raw_advise, MMAPKIT_ADV_WILLNEED,
	      MADV_WILLNEED, "madvise"),
	RANGE("advise POPULATE_WRITE", AP, 0, PREP_NONE, mk_advise, raw_advise,
	      MMAPKIT_ADV_POPULATE_WRITE, MADV_POPULATE_WRITE, "madvise"),
	RANGE("punch anon-private", AP, 0, PREP_TOUCH, mk_punch, raw_advise, 0, MADV_DONTNEED,
	      "madvise(MADV_DONTNEED)"),
	RANGE("punch anon-private LOCK", AP, MMAPKIT_LOCK, PREP_TOUCH, mk_punch, raw_advise, 0,
	      MADV_DONTNEED_LOCKED, "madvise(MADV_DONTNEED_LOCKED)"),
	RANGE("punch anon-shared", AS, 0, PREP_TOUCH, mk_punch, raw_advise, 0, MADV_REMOVE,
	      "madvise(MADV_REMOVE)"),
	RANGE("punch file-private", FP, 0, PREP_DIRTY, mk_punch, raw_fixed_anon, 0, 0,
	      "mmap(MAP_FIXED|MAP_ANONYMOUS)"),
	RANGE("punch file-private DONTDUMP", FP, MMAPKIT_DONTDUMP, PREP_DIRTY, mk_punch,
	      raw_fixed_kept, 0, MADV_DONTDUMP,
	      "attribute kept, all or nothing: mmap aside, madvise, mremap(MREMAP_FIXED)"),
	{.op = "punch file-shared", .mk = mk_range, .raw = raw_range, .kind = FS, .path = P_PUNCH,
	 .prep = PREP_DIRTY, .mk_fn = mk_punch, .raw_fn = raw_fallocate,
	 .why = "fallocate(PUNCH_HOLE|KEEP_SIZE)"},
	RANGE("revert anon-private", AP, 0, PREP_TOUCH, mk_revert, raw_advise, 0, MADV_DONTNEED,
	      "madvise(MADV_DONTNEED)"),
	RANGE("revert file-private", FP, 0, PREP_DIRTY, mk_revert, raw_advise, 0, MADV_DONTNEED,
	      "madvise(MADV_DONTNEED)"),
	RANGE("revert file-private after punch", FP, 0, PREP_PUNCH, mk_revert, raw_fixed_file, 0,
	      0, "mmap(MAP_FIXED) of the file"),
	RANGE("protect READ", AP, 0, PREP_NONE, mk_protect, raw_protect, 0, 0, "mprotect"),
	RANGE("lock", AP, 0, PREP_NONE, mk_lock, raw_lock, 0, 0, "mlock"),
	RANGE("lock ONFAULT", AP, 0, PREP_NONE, mk_lock, raw_lock, MMAPKIT_LOCK_ONFAULT, 0,
	      "mlock2(MLOCK_ONFAULT)"),
	RANGE("unlock", AP, 0, PREP_LOCK, mk_unlock, raw_unlock, 0, 0, "munlock"),
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

/* The traced child: every case, mmapkit and raw interleaved, REPS times. */
static void count_all(void *arg)
{
	struct cc *c = arg;

	for (int rep = 0; rep < REPS; rep++) {
		for (size_t i = 0; i < NCASES; i++) {
			snprintf(c->mark, sizeof(c->mark), "mmapkit|%s", cases[i].op);
			cases[i].mk(c, &cases[i]);
			snprintf(c->mark, sizeof(c->mark), "raw|%s", cases[i].op);
			cases[i].raw(c, &cases[i]);
		}
	}
}

static void seq_text(const struct sc_rec *r, char *buf, size_t len)
{
	size_t at = 0;

	snprintf(buf, len, "%s", r->n_min ? "" : "(none)");
	for (int i = 0; i < r->n_min && i < SC_MAX_SEQ && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s", i ? " " : "", sc_name(r->seq[i]));
	if (r->n_min > SC_MAX_SEQ && at < len)
		snprintf(buf + at, len - at, " ...");
}

/* "2", "2 (first 5)", "error", "-" */
static const char *count_text(const struct sc_rec *r, char *buf, size_t len)
{
	if (!r)
		snprintf(buf, len, "-");
	else if (r->err[0] && !r->n_min)
		snprintf(buf, len, "error");
	else if (r->n_first != r->n_min)
		snprintf(buf, len, "%d (first %d)", r->n_min, r->n_first);
	else
		snprintf(buf, len, "%d", r->n_min);
	return buf;
}

static int make_files(struct opts *o, struct cc *c)
{
	uint64_t sum;

	snprintf(c->file, sizeof(c->file), "%s/count-64k", o->dir);
	snprintf(c->fresh, sizeof(c->fresh), "%s/count-new", o->dir);
	snprintf(c->small, sizeof(c->small), "%s/count-small", o->dir);
	snprintf(c->holes, sizeof(c->holes), "%s/count-holes", o->dir);
	unlink(c->fresh);
	if (make_pattern_file(c->file, SZ, &sum) < 0 ||
	    make_pattern_file(c->small, 4 * KiB, &sum) < 0 ||
	    make_pattern_file(c->holes, SZ, &sum) < 0) {
		fail(o, "count: cannot create files in %s: %s", o->dir, strerror(errno));
		return -1;
	}
	return 0;
}

static void trace_peers(struct opts *o, struct cc *c, struct sc_result *res)
{
	for (int i = 0; i < o->npeers; i++) {
		struct peer *p = &o->peers[i];
		char cmd[1400];
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};

		if (p->missing)
			continue;
		snprintf(cmd, sizeof(cmd), "exec %s count '%s' >/dev/null", p->cmd, c->file);
		if (sc_trace(NULL, NULL, argv, res) < 0)
			printf("  %s: counting failed: %s\n", p->name, res->err);
	}
}

/* Compare one operation: mmapkit must not exceed raw. */
static void judge(struct opts *o, const struct ccase *k, struct sc_rec *mk, struct sc_rec *raw,
		  const char **verdict)
{
	*verdict = mk && mk->err[0] ? "= raw, both fail" : "= raw";
	if (!mk || !raw || (mk->err[0] && !raw->err[0])) {
		*verdict = "ERROR";
		fail(o, "count: %s: mmapkit %s", k->op, mk ? mk->err : "not counted");
		return;
	}
	if (mk->n_min > raw->n_min) {
		*verdict = "MORE";
		fail(o, "count: %s: mmapkit makes %d system calls, raw %d", k->op, mk->n_min,
		     raw->n_min);
	} else if (mk->n_min < raw->n_min) {
		*verdict = "fewer";
	}
}

/* Why a peer makes fewer calls than mmapkit for an operation, and what would change it. */
static const char *peer_fewer_why(const char *op, const struct sc_rec *r)
{
	if (!strcmp(op, "fd-shared map+unmap"))
		return "the contract has the handle own a duplicate of the descriptor (fcntl + "
		       "close), so that the caller may close its own at once; a borrowing fd "
		       "constructor (the caller keeps the fd open for the handle's life) would "
		       "make it fstat mmap munmap, as the peer does";
	if (r->n_min == 0)
		return "the peer makes no system call at all: Boost's advice_dontneed goes to "
		       "posix_madvise(POSIX_MADV_DONTNEED), which glibc implements as a no-op, "
		       "so nothing is released; nothing for mmapkit to copy";
	return "the peer skips a call that mmapkit makes (see the sequences)";
}

/* The markdown of one operation: a row of counts, and the sequences that differ from raw's. */
struct md_op {
	char row[600];
	char diff[1200];
};

/* Append "; who: `calls`" to a list of differing sequences. */
static void md_diff(char *buf, size_t len, const char *who, const char *calls)
{
	size_t at = strlen(buf);

	if (at < len)
		snprintf(buf + at, len - at, "; %s: `%s`", who, calls);
}

static void md_cell(char *buf, size_t len, const char *cell)
{
	size_t at = strlen(buf);

	if (at < len)
		snprintf(buf + at, len - at, " %s |", cell);
}

static void report_peer_counts(struct opts *o, struct sc_result *res, const struct ccase *k,
			       const struct sc_rec *mk, const char *rseq, char *line, size_t len,
			       struct md_op *md)
{
	size_t at = strlen(line);

	for (int i = 0; i < o->npeers; i++) {
		struct sc_rec *r = sc_find(res, o->peers[i].name, k->op);
		const char *cell = o->peers[i].missing ? "missing" : "-";
		char seq[300] = "", n[32];

		if (r)
			cell = count_text(r, n, sizeof(n));
		at += (size_t)snprintf(line + at, len - at, " %12s", cell);
		md_cell(md->row, sizeof(md->row), cell);
		if (!r)
			continue;
		seq_text(r, seq, sizeof(seq));
		csv_row(o, "count", k->op, o->peers[i].name, "mmapkit", "syscalls", r->n_min,
			r->n_min, r->n_first, mk && mk->n_min ? (double)r->n_min / mk->n_min : NAN,
			NAN, NAN, NAN, r->err[0] ? "error" : "", r->runs,
			r->err[0] ? r->err : seq);
		if (strcmp(seq, rseq) || r->err[0])
			md_diff(md->diff, sizeof(md->diff), o->peers[i].name,
				r->err[0] ? r->err : seq);
		if (mk && !r->err[0] && !mk->err[0] && r->n_min < mk->n_min) {
			char what[256];

			snprintf(what, sizeof(what), "system calls, %s: %s makes %d, mmapkit %d",
				 k->op, o->peers[i].name, r->n_min, mk->n_min);
			add_miss(what, peer_fewer_why(k->op, r));
		}
	}
}

/* An operation's name in a markdown table cell ("CREATE|GROW" would end the cell). */
static const char *md_name(const char *op, char *buf, size_t len)
{
	size_t at = 0;

	for (; *op && at + 3 < len; op++) {
		if (*op == '|')
			buf[at++] = '\\';
		buf[at++] = *op;
	}
	buf[at] = '\0';
	return buf;
}

static void report_op(struct opts *o, struct sc_result *res, const struct ccase *k,
		      FILE *seqs)
{
	struct sc_rec *mk = sc_find(res, "mmapkit", k->op), *raw = sc_find(res, "raw", k->op);
	char line[600], a[32], b[32], seq[300] = "", rseq[300] = "", name[128];
	struct md_op md = {.row = "", .diff = ""};
	const char *verdict;

	judge(o, k, mk, raw, &verdict);
	if (mk)
		seq_text(mk, seq, sizeof(seq));
	if (raw)
		seq_text(raw, rseq, sizeof(rseq));
	if (raw && raw->err[0])
		snprintf(rseq, sizeof(rseq), "%s", raw->err);
	snprintf(line, sizeof(line), "  %-34s %12s %12s", k->op, count_text(raw, a, sizeof(a)),
		 count_text(mk, b, sizeof(b)));
	if (mk && (mk->err[0] || strcmp(seq, rseq)))
		md_diff(md.diff, sizeof(md.diff), "mmapkit", mk->err[0] ? mk->err : seq);
	report_peer_counts(o, res, k, mk, rseq, line, sizeof(line), &md);
	printf("%s  %-9s %s%s%s\n", line, verdict, mk && mk->err[0] ? mk->err : seq,
	       raw && raw->err[0] ? "  raw: " : "", raw && raw->err[0] ? raw->err : "");
	csv_row(o, "count", k->op, "raw", "", "syscalls", raw ? raw->n_min : NAN,
		raw ? raw->n_min : NAN, raw ? raw->n_first : NAN, NAN, NAN,
		NAN, NAN, "", raw ? raw->runs : 0, rseq);
	csv_row(o, "count", k->op, "mmapkit", "raw", "syscalls", mk ? mk->n_min : NAN,
		mk ? mk->n_min : NAN, mk ? mk->n_first : NAN,
		mk && raw && raw->n_min ? (double)mk->n_min / raw->n_min : NAN, NAN,
		NAN, raw ? raw->n_min : NAN, verdict, mk ? mk->runs : 0,
		mk && mk->err[0] ? mk->err : seq);
	md_name(k->op, name, sizeof(name));
	if (o->md)
		fprintf(o->md, "| %s | %s | **%s** |%s %s |\n", name, count_text(raw, a, sizeof(a)),
			count_text(mk, b, sizeof(b)), md.row, verdict);
	if (seqs)
		fprintf(seqs, "| %s | `%s`%s |\n", name, rseq, md.diff);
}

/* The markdown tables of the section: counts, then the sequences. */
static void md_head(struct opts *o)
{
	fputs("| operation | raw | mmapkit |", o->md);
	for (int i = 0; i < o->npeers; i++)
		fprintf(o->md, " %s |", o->peers[i].name);
	fputs(" verdict |\n| --- | --- | --- |", o->md);
	for (int i = 0; i < o->npeers; i++)
		fputs(" --- |", o->md);
	fputs(" --- |\n", o->md);
}

void bench_count(struct opts *o)
{
	struct sc_result res = {0};
	struct cc c;
	char head[300], *seqs_text = NULL;
	size_t seqs_len = 0;
	FILE *seqs = NULL;

	section_begin(o, "count", "1. System calls per operation",
		      "Counted with ptrace between two marker system calls, the minimum of 4 runs "
		      "(a first run that differs is shown as `(first N)`); 64 KiB mappings. "
		      "mmapkit must not exceed raw: the smoke test fails if it does.");
	if (make_files(o, &c) < 0)
		return;
	if (sc_trace(count_all, &c, NULL, &res) < 0) {
		printf("  cannot count system calls: %s\n", res.err);
		csv_row(o, "count", "*", "mmapkit", "", "syscalls", NAN, NAN, NAN,
			NAN, NAN, NAN, NAN, "missing", 0, res.err);
		if (strstr(res.err, "TRACEME"))
			o->skipped = true; /* no ptrace here (a container's seccomp policy) */
		else
			o->failures++;
		free(res.r);
		return;
	}
	trace_peers(o, &c, &res);
	snprintf(head, sizeof(head), "  %-34s %12s %12s", "operation", "raw", "mmapkit");
	for (int i = 0; i < o->npeers; i++)
		snprintf(head + strlen(head), sizeof(head) - strlen(head), " %12s", o->peers[i].name);
	printf("%s  %-9s %s\n", head, "verdict", "mmapkit's calls");
	if (o->md) {
		md_head(o);
		seqs = open_memstream(&seqs_text, &seqs_len);
	}
	for (size_t i = 0; i < NCASES; i++)
		report_op(o, &res, &cases[i], seqs);
	if (seqs) {
		fclose(seqs);
		fprintf(o->md, "\nThe system calls, in order: raw's, and every sequence that "
			       "differs from it.\n\n| operation | calls |\n| --- | --- |\n%s",
			seqs_text);
		free(seqs_text);
	}
	for (size_t i = 0; i < NCASES; i++)
		if (cases[i].why && strchr(cases[i].why, ';'))
			printf("  note: %s: %s\n", cases[i].op, cases[i].why);
	free(res.r);
	unlink(c.file);
	unlink(c.small);
	unlink(c.holes);
}
