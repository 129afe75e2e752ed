/* SPDX-License-Identifier: MIT */
/*
 * All or nothing, proved by fault injection.  For each call under test, a
 * first run on a fresh handle counts the system calls it makes; then every
 * occurrence of every one of them is made to fail in turn, on a fresh handle,
 * and the call must return exactly that error, name the failing step, and
 * change nothing: the bytes of every mapped page, each page's protection and
 * VmFlags, the file, the descriptors and mappings of the process.  A retry
 * without the fault must then leave exactly the state of the first run.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"
#include "fault_cases.h"


static size_t pg(void)
{
	return mmapkit_page_size();
}

/* ---- the observable state of a handle and its file ---- */

/*
 * "gu" (VM_MAYBE_GUARD, 6.18) is the kernel's note that a VMA may hold guard
 * markers: MADV_GUARD_INSTALL sets it on the whole VMA, also on what had
 * merged into it, and it sticks through later merges.  It is no attribute a
 * handle gives its pages, and in a process that made light guards before
 * (CK_FORK=no) it turns up on unrelated mappings: it is left out.
 */
static void drop_maybe_guard(char *vmflags)
{
	char *g = strstr(vmflags, " gu ");

	if (g)
		memmove(g, g + 3, strlen(g + 3) + 1);
}

/* Per page of [lo, lo + npages pages): permissions and VmFlags of its VMA. */
void fault_walk_smaps(const unsigned char *lo, size_t npages, fault_page_fn fn, void *ctx)
{
	FILE *fp = fopen("/proc/self/smaps", "re");
	char line[1024], perms[5] = "";
	uintptr_t vlo = 0, vhi = 0, a = (uintptr_t)lo, z = a + npages * pg();
	unsigned long ino = 0;

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long l, h, i;

		if (sscanf(line, "%lx-%lx %4s %*s %*s %lu", &l, &h, perms, &i) == 4 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			vlo = l;
			vhi = h;
			ino = i;
			continue;
		}
		if (strncmp(line, "VmFlags:", 8) != 0 || vhi <= a || vlo >= z)
			continue;
		line[strcspn(line, "\n")] = '\0';
		drop_maybe_guard(line);
		for (uintptr_t p = vlo > a ? vlo : a; p < vhi && p < z; p += pg())
			fn(ctx, (p - a) / pg(), perms, ino, line + 9);
	}
	fclose(fp);
}

static void page_flags(void *ctx, size_t k, const char *perms, unsigned long ino,
		       const char *vmflags)
{
	char (*out)[FLAGS_MAX] = ctx;

	(void)ino;
	snprintf(out[k], FLAGS_MAX, "%.4s|%.190s", perms, vmflags);
}

void fault_read_pages(const unsigned char *lo, size_t npages, char (*out)[FLAGS_MAX])
{
	for (size_t k = 0; k < npages; k++)
		out[k][0] = '\0';
	fault_walk_smaps(lo, npages, page_flags, out);
	for (size_t k = 0; k < npages; k++)
		ck_assert_msg(out[k][0], "page %zu of the span is not mapped", k);
}

/* lo may be NULL (no handle): then only the file and the counts. */
void fault_snap(struct state *s, const unsigned char *lo, size_t npages, const char *path)
{
	memset(s, 0, sizeof(*s));
	s->npages = lo ? npages : 0;
	if (s->npages) {
		s->bytes = malloc(npages * pg());
		s->pages = malloc(npages * sizeof(*s->pages));
		ck_assert_ptr_nonnull(s->bytes);
		ck_assert_ptr_nonnull(s->pages);
		memcpy(s->bytes, lo, npages * pg());
		fault_read_pages(lo, npages, s->pages);
	}
	s->file = tu_fstate_take(path);
	s->counts = tu_snap();
}

void fault_state_free(struct state *s)
{
	free(s->bytes);
	free(s->pages);
	tu_fstate_free(&s->file);
	memset(s, 0, sizeof(*s));
}

/* Abort with the first difference between a and b. */
void fault_state_eq(const struct state *a, const struct state *b, bool counts, const char *what)
{
	ck_assert_uint_eq(a->npages, b->npages);
	for (size_t i = 0; i < a->npages * pg(); i++)
		if (a->bytes[i] != b->bytes[i])
			ck_abort_msg("%s: byte %zu of page %zu is 0x%02x, was 0x%02x", what, i % pg(),
				     i / pg(), b->bytes[i], a->bytes[i]);
	for (size_t k = 0; k < a->npages; k++)
		if (strcmp(a->pages[k], b->pages[k]) != 0)
			ck_abort_msg("%s: page %zu is \"%s\", was \"%s\"", what, k, b->pages[k],
				     a->pages[k]);
	tu_fstate_eq(&a->file, &b->file, what);
	if (!counts)
		return;
	if (a->counts.fds != b->counts.fds)
		ck_abort_msg("%s: %d descriptors, were %d", what, b->counts.fds, a->counts.fds);
	if (TU_MAPS_RELIABLE && a->counts.maps != b->counts.maps)
		ck_abort_msg("%s: %d mappings, were %d", what, b->counts.maps, a->counts.maps);
}

/* ---- failure points ---- */

/*
 * The errnos the Linux man pages (section 2, manpages-dev 6.03) document for
 * each call, as the library makes it; each list ends with 0.  Where one page
 * covers several calls (stat, truncate, fcntl) only those that apply to the
 * variant made are listed: no path errors for fstat and ftruncate, only the
 * F_DUPFD_CLOEXEC errors for fcntl (the fd constructors; the path constructors'
 * F_SETFL has its own list, setfl_errs).  pread: those of read(2) and lseek(2).
 * mremap leaves out EFAULT: there it is not a failure but the signal for the
 * per-stretch fallback of lib/replace.c (move_into_place), whose own calls
 * then succeed, so the call succeeds too.
 */
#define E(...) ((const int[]){__VA_ARGS__, 0})
const int *const fault_documented[MMAPKIT__SYS_COUNT] = {
	[MMAPKIT__SYS_OPEN] = E(EACCES, EBADF, EBUSY, EDQUOT, EEXIST, EFAULT, EFBIG, EINTR, EINVAL,
				EISDIR, ELOOP, EMFILE, ENAMETOOLONG, ENFILE, ENODEV, ENOENT,
				ENOMEM, ENOSPC, ENOTDIR, ENXIO, EOPNOTSUPP, EOVERFLOW, EPERM,
				EROFS, ETXTBSY, EWOULDBLOCK),
	[MMAPKIT__SYS_CLOSE] = E(EBADF, EINTR, EIO, ENOSPC, EDQUOT),
	[MMAPKIT__SYS_FSTAT] = E(EBADF, EFAULT, ENOMEM, EOVERFLOW),
	[MMAPKIT__SYS_FCNTL] = E(EBADF, EINVAL, EMFILE),
	[MMAPKIT__SYS_IOCTL] = E(EBADF, EFAULT, EINVAL, ENOTTY),
	[MMAPKIT__SYS_FTRUNCATE] = E(EBADF, EFBIG, EINTR, EINVAL, EIO, EPERM, EROFS, ETXTBSY),
	[MMAPKIT__SYS_FALLOCATE] = E(EBADF, EFBIG, EINTR, EINVAL, EIO, ENODEV, ENOSPC, ENOSYS,
				     EOPNOTSUPP, EPERM, ESPIPE, ETXTBSY),
	[MMAPKIT__SYS_FSYNC] = E(EBADF, EINTR, EIO, ENOSPC, EROFS, EINVAL, EDQUOT),
	[MMAPKIT__SYS_PREAD] = E(EAGAIN, EBADF, EFAULT, EINTR, EINVAL, EIO, EISDIR, ENXIO,
				 EOVERFLOW, ESPIPE),
	[MMAPKIT__SYS_UNLINK] = E(EACCES, EBUSY, EFAULT, EIO, EISDIR, ELOOP, ENAMETOOLONG, ENOENT,
				  ENOMEM, ENOTDIR, EPERM, EROFS),
	[MMAPKIT__SYS_MMAP] = E(EACCES, EAGAIN, EBADF, EEXIST, EINVAL, ENFILE, ENODEV, ENOMEM,
				EOVERFLOW, EPERM, ETXTBSY),
	[MMAPKIT__SYS_MUNMAP] = E(EINVAL, ENOMEM),
	[MMAPKIT__SYS_MREMAP] = E(EAGAIN, EINVAL, ENOMEM),
	[MMAPKIT__SYS_MADVISE] = E(EACCES, EAGAIN, EBADF, EBUSY, EFAULT, EHWPOISON, EINVAL, EIO,
				   ENOMEM, EPERM),
	[MMAPKIT__SYS_MSYNC] = E(EBUSY, EINVAL, ENOMEM),
	[MMAPKIT__SYS_MPROTECT] = E(EACCES, EFAULT, EINVAL, ENOMEM),
	[MMAPKIT__SYS_MLOCK] = E(EAGAIN, EINVAL, ENOMEM, EPERM),
	[MMAPKIT__SYS_MLOCK2] = E(EAGAIN, EINVAL, ENOMEM, EPERM),
	[MMAPKIT__SYS_MUNLOCK] = E(EAGAIN, EINVAL, ENOMEM, EPERM),
	[MMAPKIT__SYS_READLINK] = E(EACCES, EBADF, EFAULT, EINVAL, EIO, ELOOP, ENAMETOOLONG, ENOENT,
				    ENOMEM, ENOTDIR),
	[MMAPKIT__SYS_SYNC_FILE_RANGE] = E(EBADF, EINVAL, EIO, ENOMEM, ENOSPC, ESPIPE),
	[MMAPKIT__SYS_MEMFD_CREATE] = E(EFAULT, EINVAL, EMFILE, ENFILE, ENOMEM, EPERM),
	[MMAPKIT__SYS_MEMFD_SECRET] = E(EINVAL, EMFILE, ENFILE, ENOMEM, ENOSYS),
	[MMAPKIT__SYS_SENDMSG] = E(EACCES, EAGAIN, EBADF, ECONNRESET, EDESTADDRREQ, EFAULT, EINTR,
				   EINVAL, EISCONN, EMSGSIZE, ENOBUFS, ENOMEM, ENOTCONN, ENOTSOCK,
				   EOPNOTSUPP, EPIPE),
	[MMAPKIT__SYS_RECVMSG] = E(EAGAIN, EBADF, ECONNREFUSED, EFAULT, EINTR, EINVAL, ENOMEM,
				   ENOTCONN, ENOTSOCK),
	[MMAPKIT__SYS_MINCORE] = E(EAGAIN, EFAULT, EINVAL, ENOMEM),
	[MMAPKIT__SYS_CACHESTAT] = E(EBADF, EFAULT, EINVAL, ENOSYS, EOPNOTSUPP, EPERM),
	[MMAPKIT__SYS_PRCTL] = E(EFAULT, EINVAL, ENOMEM, EPERM),
	[MMAPKIT__SYS_GETPID] = ((const int[]){0}), /* "always successful" */
	[MMAPKIT__SYS_GETEUID] = ((const int[]){0}), /* "always successful" */
	[MMAPKIT__SYS_SIGACTION] = E(EFAULT, EINVAL),
	[MMAPKIT__SYS_FSTATFS] = E(EBADF, EFAULT, EINTR, EIO, ENOMEM, ENOSYS, EOVERFLOW),
	[MMAPKIT__SYS_FACCESSAT] = E(EACCES, EBADF, EFAULT, EINVAL, EIO, ELOOP, ENAMETOOLONG,
				     ENOENT, ENOMEM, ENOTDIR, EPERM, EROFS, ETXTBSY),
};
/*
 * fcntl(F_SETFL), which clears O_NONBLOCK after a path constructor's open:
 * fcntl(2)'s errors for any command (EBADF, EINVAL) and F_SETFL's own (EPERM).
 */
static const int *const setfl_errs = E(EBADF, EINVAL, EPERM);
#undef E

/*
 * The errnos of sys in a walk: the documented ones; for fcntl in a path
 * constructor (setfl), those of F_SETFL.
 */
static const int *errs_of(int sys, bool setfl)
{
	return setfl && sys == MMAPKIT__SYS_FCNTL ? setfl_errs : fault_documented[sys];
}

/* How many of them the walk uses. */
static int n_errs_of(int sys, bool setfl)
{
	const int *e = errs_of(sys, setfl);
	int n = 0;

	while (e[n])
		n++;
	return n;
}

int fault_n_errs(int sys)
{
	return n_errs_of(sys, false);
}

/*
 * The result the library is documented to give when sys #nth fails with err
 * inside call (a constructor when ctor, creating its file when creating): the
 * errno as-is, or the translation it makes on purpose; 0 where it recovers
 * and the call succeeds.
 */
int fault_expected_err(const char *call, bool ctor, bool creating, int sys, unsigned nth,
			int err)
{
	switch (sys) {
	case MMAPKIT__SYS_OPEN:
		if (!ctor) /* the directory SYNC_FULL opens */
			return err;
		if (creating && nth == 1 && err == ENOENT) /* no file yet: it creates one */
			return 0;
		if (creating && nth == 2 && err == EEXIST) /* opens again, finds nothing */
			return ENOENT;
		return err == ENXIO ? ENODEV : err; /* open_path: a socket or a FIFO */
	case MMAPKIT__SYS_FTRUNCATE: /* fit_range: the descriptor is not writable */
		return err == EINVAL || err == EBADF ? EACCES : err;
	case MMAPKIT__SYS_MADVISE: /* mmapkit_advise refused every invalid case itself */
		return !ctor && strcmp(call, "mmapkit_advise") == 0 && err == EINVAL ? EOPNOTSUPP
										       : err;
	case MMAPKIT__SYS_FALLOCATE:
		if (ctor && err == EBADF) /* allocate_range: the descriptor is not writable */
			return EACCES;
		if (ctor && (err == ENOSYS || err == ESPIPE)) /* cannot allocate in advance */
			return EOPNOTSUPP;
		return err == ENODEV ? EOPNOTSUPP : err; /* also punch_file_shared */
	case MMAPKIT__SYS_PREAD: /* read_file reads again; a constructor's one-byte read does not */
		return !ctor && err == EINTR ? 0 : err;
	case MMAPKIT__SYS_READLINK: /* no /proc: the created file's path serves */
		return err == ENOENT ? 0 : err;
	case MMAPKIT__SYS_MEMFD_SECRET: /* ENOSYS: the kernel lacks or disables it */
		return err == ENOSYS ? EOPNOTSUPP : err;
	case MMAPKIT__SYS_CLOSE: /* a constructor closes only MMAPKIT_SECRET's descriptor */
		return ctor ? 0 : err;
	default:
		return err;
	}
}

/*
 * The one system-call failure the library lets through by design: close() of
 * the directory descriptor SYNC_FULL opened (Linux releases the descriptor
 * whatever close returns, and the data is already durable).
 */
static bool ignored_by_design(int sys)
{
	return sys == MMAPKIT__SYS_CLOSE;
}

/*
 * The shim fails close() without closing: close the directory descriptor it
 * kept open (exactly one), so that the test leaks nothing.
 */
static void close_kept_fd(const char *what)
{
	DIR *d = opendir("/proc/self/fd");
	char link[300], target[512];
	struct dirent *e;
	int n = 0, fd = -1;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d))) {
		ssize_t len;

		snprintf(link, sizeof(link), "/proc/self/fd/%s", e->d_name);
		len = readlink(link, target, sizeof(target) - 1);
		if (len <= 0)
			continue;
		target[len] = '\0';
		if (strcmp(target, what) == 0 ||
		    (strcmp(what, tu_dir()) == 0 && strstr(target, "/smaps"))) {
			n++;
			fd = atoi(e->d_name);
		}
	}
	closedir(d);
	ck_assert_int_eq(n, 1);
	close(fd);
}

static void close_kept_dir_fd(void)
{
	close_kept_fd(tu_dir());
}

void fault_expect_failure(int r, int sys, int err, const char *call, const char *what)
{
	const char *msg = mmapkit_errmsg();

	if (!mmapkit__fault_fired())
		ck_abort_msg("%s: the armed fault did not fire", what);
	if (r != -err)
		ck_abort_msg("%s: returned %d, expected %d (%s)", what, r, -err, msg);
	if (!strstr(msg, call) || !strstr(msg, mmapkit__sys_name(sys)) ||
	    !strstr(msg, mmapkit_strerror(err)))
		ck_abort_msg("%s: message \"%s\" does not name %s, %s and the cause", what, msg, call,
			     mmapkit__sys_name(sys));
}

/* ---- range operations ---- */

void fault_fx_open(struct fx *f, const struct rcase *c)
{
	size_t len = NPAGES * pg() - c->foff % pg() - 100; /* file data after the range */
	unsigned char *p;
	int r;

	memset(f, 0, sizeof(*f));
	if (tu_kind_is_file(c->kind))
		f->path = (c->flags & MMAPKIT_CREATE) ? tu_path("created") : tu_file(NPAGES * pg());
	mmapkit__fault_reset();
	r = tu_map_kind(c->kind, &f->m, f->path, c->foff, len, c->flags);
	ck_assert_msg(r == 0, "%s: %d: %s", c->name, r, mmapkit_errmsg());
	p = mmapkit_ptr(f->m);
	f->delta = (uintptr_t)p % pg();
	f->lo = p - f->delta;
	f->npages = NPAGES;
	for (size_t i = 0; i < mmapkit_len(f->m); i++)
		p[i] = tu_other(i);
	if (c->setup)
		c->setup(f);
}

void fault_fx_close(struct fx *f)
{
	mmapkit_unmap(f->m);
	if (f->path)
		ck_assert_int_eq(unlink(f->path), 0);
	f->m = NULL;
}

/* User offset of span byte i. */
static size_t at(const struct fx *f, size_t i)
{
	return i - f->delta;
}

/* Page 0 HUGEPAGE; 1 read-only, DONTDUMP, DONTFORK; 2 locked on fault, RANDOM; 3 locked, SEQUENTIAL, NOHUGEPAGE. */
static void setup_mixed(struct fx *f)
{
	size_t p = pg();

	ck_assert_int_eq(mmapkit_advise(f->m, 0, 1, MMAPKIT_ADV_HUGEPAGE), 0);
	ck_assert_int_eq(mmapkit_protect(f->m, at(f, p), p, MMAPKIT_PROT_READ), 0);
	ck_assert_int_eq(mmapkit_advise(f->m, at(f, p), p, MMAPKIT_ADV_DONTDUMP), 0);
	ck_assert_int_eq(mmapkit_advise(f->m, at(f, p), p, MMAPKIT_ADV_DONTFORK), 0);
	if (!tu_skip_lock_onfault("mixed pages")) /* page 2 then only RANDOM */
		ck_assert_int_eq(mmapkit_lock(f->m, at(f, 2 * p), p, MMAPKIT_LOCK_ONFAULT), 0);
	ck_assert_int_eq(mmapkit_advise(f->m, at(f, 2 * p), p, MMAPKIT_ADV_RANDOM), 0);
	ck_assert_int_eq(mmapkit_lock(f->m, at(f, 3 * p), p, 0), 0);
	ck_assert_int_eq(mmapkit_advise(f->m, at(f, 3 * p), p, MMAPKIT_ADV_SEQUENTIAL), 0);
	ck_assert_int_eq(mmapkit_advise(f->m, at(f, 3 * p), p, MMAPKIT_ADV_NOHUGEPAGE), 0);
}

static void setup_punched(struct fx *f) /* pages 1 and 2 punched, then page 2 written */
{
	ck_assert_int_eq(mmapkit_punch(f->m, at(f, pg()), 2 * pg()), 0);
	memset(f->lo + 2 * pg(), 0x77, 10);
}

static void setup_punched1(struct fx *f) /* page 1 punched: a mix of replaced and file pages */
{
	ck_assert_int_eq(mmapkit_punch(f->m, at(f, pg()), pg()), 0);
}

/* Pages 1..3 punched, then given setup_mixed's attributes (punch works on every kernel). */
static void setup_mixed_punched(struct fx *f)
{
	ck_assert_int_eq(mmapkit_punch(f->m, at(f, pg()), 3 * pg()), 0);
	setup_mixed(f);
}

static void setup_lock1(struct fx *f) /* page 1 locked on fault */
{
	if (!tu_skip_lock_onfault("page 1 locked on fault"))
		ck_assert_int_eq(mmapkit_lock(f->m, at(f, pg()), 1, MMAPKIT_LOCK_ONFAULT), 0);
}

static void setup_lock12(struct fx *f) /* page 1 locked, page 2 locked on fault */
{
	ck_assert_int_eq(mmapkit_lock(f->m, at(f, pg()), 1, 0), 0);
	if (!tu_skip_lock_onfault("page 2 locked on fault"))
		ck_assert_int_eq(mmapkit_lock(f->m, at(f, 2 * pg()), 1, MMAPKIT_LOCK_ONFAULT), 0);
}

/*
 * Every punch and revert below covers at least the whole pages 1..2
 * (check_kernels.c relies on it).
 */

/* Whole pages 1..2 and 3 bytes on each side. */
static int op_punch(struct fx *f)
{
	return mmapkit_punch(f->m, at(f, pg() - 3), 2 * pg() + 6);
}

/* Whole pages 1..3 and 3 bytes on each side. */
static int op_punch3(struct fx *f)
{
	return mmapkit_punch(f->m, at(f, pg() - 3), 3 * pg() + 6);
}

static int op_revert(struct fx *f)
{
	return mmapkit_revert(f->m, at(f, pg() - 3), 2 * pg() + 6);
}

static int op_revert3(struct fx *f)
{
	return mmapkit_revert(f->m, at(f, pg() - 3), 3 * pg() + 6);
}

static int op_protect_ro(struct fx *f)
{
	return mmapkit_protect(f->m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ);
}

static int op_protect_rw(struct fx *f)
{
	return mmapkit_protect(f->m, 1, 3 * pg(), MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE);
}

static int op_lock(struct fx *f)
{
	return mmapkit_lock(f->m, 0, MMAPKIT_TO_END, 0);
}

static int op_lock_onfault(struct fx *f)
{
	return mmapkit_lock(f->m, 5, 3 * pg(), MMAPKIT_LOCK_ONFAULT);
}

static int op_unlock(struct fx *f)
{
	return mmapkit_unlock(f->m, at(f, pg() + 1), 2 * pg());
}

static int op_random(struct fx *f)
{
	return mmapkit_advise(f->m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_RANDOM);
}

static int op_dontdump(struct fx *f)
{
	return mmapkit_advise(f->m, 1, pg(), MMAPKIT_ADV_DONTDUMP);
}

static int op_dontneed(struct fx *f)
{
	return mmapkit_advise(f->m, at(f, pg() - 3), 2 * pg() + 6, MMAPKIT_ADV_DONTNEED);
}

static int op_remove(struct fx *f)
{
	return mmapkit_advise(f->m, at(f, pg() - 3), 2 * pg() + 6, MMAPKIT_ADV_REMOVE);
}

static int op_wipeonfork(struct fx *f)
{
	return mmapkit_advise(f->m, at(f, pg()), pg(), MMAPKIT_ADV_WIPEONFORK);
}

static int op_populate_write(struct fx *f)
{
	return mmapkit_advise(f->m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_POPULATE_WRITE);
}

static int op_sync(struct fx *f)
{
	return mmapkit_sync(f->m, 3, 2 * pg(), 0);
}

static int op_sync_async(struct fx *f)
{
	return mmapkit_sync(f->m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE);
}

static int op_sync_full(struct fx *f)
{
	return mmapkit_sync(f->m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL);
}

/* A resize that succeeded: the snapshots follow the pages (they may have moved). */
static int resized(struct fx *f, int r)
{
	if (r == 0) {
		f->lo = (unsigned char *)mmapkit_ptr(f->m) - f->delta;
		f->npages = (f->delta + mmapkit_len(f->m) + pg() - 1) / pg();
	}
	return r;
}

static int op_grow(struct fx *f)
{
	return resized(f, mmapkit_resize(f->m, 8 * pg() - f->delta, 0));
}

static int op_grow_file(struct fx *f)
{
	return resized(f, mmapkit_resize(f->m, 8 * pg() - f->delta, MMAPKIT_GROW));
}

static int op_shrink(struct fx *f)
{
	return resized(f, mmapkit_resize(f->m, 2 * pg() + 1, 0));
}

static void setup_shrunk(struct fx *f) /* 2 pages, with room after them to grow in place */
{
	ck_assert_int_eq(resized(f, mmapkit_resize(f->m, 2 * pg() - f->delta, 0)), 0);
}

static int op_resident(struct fx *f)
{
	uint64_t bytes;

	return mmapkit_resident(f->m, 1, MMAPKIT_TO_END, &bytes, NULL);
}

static int op_resident_vec(struct fx *f)
{
	unsigned char vec[NPAGES];
	uint64_t bytes;

	return mmapkit_resident(f->m, 0, MMAPKIT_TO_END, &bytes, vec);
}

static int op_stats(struct fx *f)
{
	struct mmapkit_stats st = {.sz = sizeof(st)};

	return mmapkit_stats(f->m, &st);
}

#define AP MMAPKIT_ANON_PRIVATE
#define AS MMAPKIT_ANON_SHARED
#define FP MMAPKIT_FILE_PRIVATE
#define FS MMAPKIT_FILE_SHARED
#define ATTRS (MMAPKIT_LOCK | MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP | MMAPKIT_THP)
#define KNOWN_RELOCK {MMAPKIT__SYS_MLOCK + 1, MMAPKIT__SYS_MLOCK2 + 1}

const struct rcase fault_rcases[] = {
	/* punch and revert of a file private mapping: the replacement built off to the side */
	{"punch FP, flags", "mmapkit_punch", FP, 7, ATTRS, NULL, op_punch, {0}},
	{"punch FP, mixed", "mmapkit_punch", FP, 7, 0, setup_mixed, op_punch3, {0}},
	{"punch FP, plain", "mmapkit_punch", FP, 0, 0, NULL, op_punch, {0}},
	{"punch FP, punched", "mmapkit_punch", FP, 7, MMAPKIT_LOCK, setup_punched, op_punch, {0}},
	{"punch FP, half punched", "mmapkit_punch", FP, 7, ATTRS, setup_punched1, op_punch, {0}},
	{"revert FP, punched, flags", "mmapkit_revert", FP, 7, ATTRS, setup_punched, op_revert, {0}},
	{"revert FP, punched, mixed", "mmapkit_revert", FP, 7, 0, setup_mixed_punched, op_revert3, {0}},
	{"revert FP, punched, plain", "mmapkit_revert", FP, 0, 0, setup_punched, op_revert, {0}},
	{"revert FP, half punched", "mmapkit_revert", FP, 7, MMAPKIT_DONTDUMP, setup_punched1, op_revert, {0}},
	{"revert FP, written", "mmapkit_revert", FP, 7, 0, NULL, op_revert, {0}},
	{"revert FP, written, locked", "mmapkit_revert", FP, 7, MMAPKIT_LOCK, NULL, op_revert, {0}},
	/* the other kinds */
	{"punch AP", "mmapkit_punch", AP, 0, 0, NULL, op_punch, {0}},
	{"punch AP, locked", "mmapkit_punch", AP, 0, MMAPKIT_LOCK | MMAPKIT_WIPEONFORK, NULL, op_punch, {0}},
	{"punch AP, mixed", "mmapkit_punch", AP, 0, 0, setup_mixed, op_punch3, {0}},
	{"revert AP, mixed", "mmapkit_revert", AP, 0, 0, setup_mixed, op_revert3, {0}},
	{"punch AS", "mmapkit_punch", AS, 0, MMAPKIT_DONTDUMP, NULL, op_punch, {0}},
	{"punch AS, locked", "mmapkit_punch", AS, 0, MMAPKIT_LOCK, NULL, op_punch, KNOWN_RELOCK},
	{"punch AS, mixed locks", "mmapkit_punch", AS, 0, 0, setup_lock12, op_punch, KNOWN_RELOCK},
	{"punch FS", "mmapkit_punch", FS, 7, MMAPKIT_LOCK, NULL, op_punch, {0}},
	/* protect, lock, unlock over pages with different attributes */
	{"protect AP", "mmapkit_protect", AP, 0, 0, setup_mixed, op_protect_ro, {0}},
	{"protect AS", "mmapkit_protect", AS, 0, 0, setup_mixed, op_protect_ro, {0}},
	{"protect FP", "mmapkit_protect", FP, 7, 0, setup_mixed, op_protect_ro, {0}},
	{"protect FS", "mmapkit_protect", FS, 7, 0, setup_mixed, op_protect_ro, {0}},
	{"protect FP, rw", "mmapkit_protect", FP, 7, 0, setup_mixed_punched, op_protect_rw, {0}},
	{"lock AP", "mmapkit_lock", AP, 0, 0, setup_lock1, op_lock, {0}},
	{"lock AS", "mmapkit_lock", AS, 0, 0, setup_mixed, op_lock, {0}},
	{"lock FP", "mmapkit_lock", FP, 7, 0, setup_mixed_punched, op_lock, {0}},
	{"lock FS", "mmapkit_lock", FS, 7, 0, setup_lock1, op_lock, {0}},
	{"lock on fault FP", "mmapkit_lock", FP, 7, 0, setup_lock12, op_lock_onfault, {0}},
	{"lock on fault AS", "mmapkit_lock", AS, 0, MMAPKIT_LOCK, NULL, op_lock_onfault, {0}},
	{"unlock AP", "mmapkit_unlock", AP, 0, MMAPKIT_LOCK, NULL, op_unlock, {0}},
	{"unlock AS", "mmapkit_unlock", AS, 0, 0, setup_mixed, op_unlock, {0}},
	{"unlock FP", "mmapkit_unlock", FP, 7, 0, setup_mixed_punched, op_unlock, {0}},
	{"unlock FS", "mmapkit_unlock", FS, 0, MMAPKIT_LOCK, NULL, op_unlock, {0}},
	/* advice */
	{"advise RANDOM FP", "mmapkit_advise", FP, 7, 0, setup_mixed, op_random, {0}},
	{"advise DONTDUMP AS", "mmapkit_advise", AS, 0, 0, NULL, op_dontdump, {0}},
	{"advise DONTNEED AP", "mmapkit_advise", AP, 0, 0, NULL, op_dontneed, {0}},
	{"advise DONTNEED FP", "mmapkit_advise", FP, 7, 0, setup_punched1, op_dontneed, {0}},
	{"advise REMOVE AS", "mmapkit_advise", AS, 0, 0, NULL, op_remove, {0}},
	{"advise REMOVE FS", "mmapkit_advise", FS, 7, 0, NULL, op_remove, {0}},
	{"advise WIPEONFORK AP", "mmapkit_advise", AP, 0, 0, NULL, op_wipeonfork, {0}},
	{"advise POPULATE_WRITE FS", "mmapkit_advise", FS, 0, 0, NULL, op_populate_write, {0}},
	/* sync */
	{"sync", "mmapkit_sync", FS, 7, 0, NULL, op_sync, {0}},
	{"sync async", "mmapkit_sync", FS, 0, 0, NULL, op_sync_async, {0}},
	{"sync full", "mmapkit_sync", FS, 7, 0, NULL, op_sync_full, {0}},
	{"sync full, created", "mmapkit_sync", FS, 0, MMAPKIT_CREATE | MMAPKIT_GROW, NULL,
	 op_sync_full, {0}},
	/* resize: the fast path, in place, by moving (one VMA, several), guards, the file */
	{"resize grow AP", "mmapkit_resize", AP, 0, 0, NULL, op_grow, {0}},
	{"resize grow AP, mixed", "mmapkit_resize", AP, 0, 0, setup_mixed, op_grow, {0}},
	{"resize grow AP, guard", "mmapkit_resize", AP, 0, ATTRS | MMAPKIT_GUARD, NULL, op_grow, {0}},
	{"resize grow AP, in place", "mmapkit_resize", AP, 0, MMAPKIT_GUARD, setup_shrunk, op_grow, {0}},
	{"resize grow AS", "mmapkit_resize", AS, 0, MMAPKIT_DONTDUMP, NULL, op_grow, {0}},
	{"resize grow AS, in place", "mmapkit_resize", AS, 0, MMAPKIT_LOCK, setup_shrunk, op_grow, {0}},
	{"resize grow FP, punched", "mmapkit_resize", FP, 7, ATTRS | MMAPKIT_GROW, setup_punched1, op_grow_file, {0}},
	{"resize grow FS, GROW", "mmapkit_resize", FS, 7, MMAPKIT_LOCK | MMAPKIT_GUARD, NULL, op_grow_file, {0}},
	{"resize shrink AP, guard", "mmapkit_resize", AP, 0, MMAPKIT_GUARD | MMAPKIT_LOCK, setup_mixed, op_shrink, {0}},
	{"resize shrink FS", "mmapkit_resize", FS, 7, 0, NULL, op_shrink, {0}},
	/* looking at a mapping */
	{"resident FS", "mmapkit_resident", FS, 7, 0, NULL, op_resident, {0}},
	{"resident FP, vec", "mmapkit_resident", FP, 7, 0, NULL, op_resident_vec, {0}},
	{"resident AS, vec", "mmapkit_resident", AS, 0, 0, NULL, op_resident_vec, {0}},
	{"stats FS", "mmapkit_stats", FS, 7, MMAPKIT_GUARD, setup_mixed, op_stats, {0}},
	{"stats AP", "mmapkit_stats", AP, 0, 0, NULL, op_stats, {0}},
};

#define N_RCASES (sizeof(fault_rcases) / sizeof(fault_rcases[0]))
const size_t fault_n_rcases = N_RCASES;

/*
 * A case valgrind cannot run: its op is a lock on fault, or it punches or
 * reverts file private pages of different protections (setup_mixed's page 1).
 */
bool fault_skip_under_valgrind(const struct rcase *c)
{
	bool moves_mixed = ((c->op == op_grow || c->op == op_grow_file) &&
			    (c->setup == setup_mixed || c->setup == setup_punched1)) ||
			   (c->kind == FP && (c->setup == setup_mixed_punched ||
					      (c->setup == setup_mixed &&
					       (c->op == op_punch3 || c->op == op_revert3))));

	return (c->op == op_lock_onfault && tu_skip_lock_onfault(c->name)) ||
	       (moves_mixed && tu_skip_mremap_across(c->name));
}

unsigned fault_memory_calls(void)
{
	return mmapkit__fault_total() - mmapkit__fault_calls(MMAPKIT__SYS_GETPID) -
	       mmapkit__fault_calls(MMAPKIT__SYS_GETEUID);
}

bool fault_punch_in_place(const struct rcase *c)
{
	return c->kind == FP && strcmp(c->call, "mmapkit_punch") == 0 && tu_punch_in_place();
}

/* Page k of the fixture maps the file and is not writable: a flag per page. */
static void readonly_file_page(void *ctx, size_t k, const char *perms, unsigned long ino,
			       const char *vmflags)
{
	(void)vmflags;
	((bool *)ctx)[k] = ino != 0 && perms[1] != 'w';
}

bool fault_in_place_refused(const struct fx *f)
{
	bool ro[NPAGES] = {false};

	fault_walk_smaps(f->lo, NPAGES, readonly_file_page, ro);
	return ro[1] || ro[2];
}

void fault_expect_refusal(const struct rcase *c, struct fx *f, const char *what)
{
	struct state before, after;
	int r;

	fault_snap(&before, f->lo, NPAGES, f->path);
	mmapkit__fault_reset();
	r = c->op(f);
	ck_assert_msg(r == -EACCES, "%s: %s: returned %d (%s), want -EACCES", what, c->name, r,
		      r < 0 ? mmapkit_errmsg() : "success");
	ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), "writable"));
	ck_assert_uint_eq(fault_memory_calls(), 0);
	fault_snap(&after, f->lo, NPAGES, f->path);
	fault_state_eq(&before, &after, false, c->name);
	fault_state_free(&after);
	fault_state_free(&before);
}

static bool known(const struct rcase *c, int sys)
{
	return c->known_sys[0] == sys + 1 || c->known_sys[1] == sys + 1;
}

/* "case: sys #nth failing with EX" (", returning EY" where the library translates). */
void fault_name_point(char *what, size_t n, const char *name, int sys, unsigned nth, int err,
		       int exp)
{
	int k = snprintf(what, n, "%s: %s #%u failing with %s", name, mmapkit__sys_name(sys), nth,
			 strerrorname_np(err));

	if (exp != err && k > 0 && (size_t)k < n)
		snprintf(what + k, n - (size_t)k, exp ? ", returning %s" : ", recovered from",
			 strerrorname_np(exp));
}

/*
 * One failure point: fresh handle, fail the nth call of sys with err, check,
 * retry.  Where the library recovers (exp 0) the call must succeed instead and
 * end exactly where a first success does.
 */
/*
 * Where the library recovers from a failure that is no failure for it: a
 * grow's first mmap asks for the address right after the mapping
 * (MAP_FIXED_NOREPLACE), and EEXIST only means "no room: move"; a shrink's
 * last munmap (pages past the new guard) may fail, and the handle keeps them.
 */
static bool recovered(const struct rcase *c, int sys, unsigned nth, int err)
{
	if (strcmp(c->call, "mmapkit_resize") != 0)
		return sys == MMAPKIT__SYS_CLOSE && strcmp(c->call, "mmapkit_stats") == 0;
	/*
	 * Before 6.12 (the 6.1 model) a guarded handle neither grows in place nor
	 * moves a guard: a shrink makes the page past the end the guard where it is,
	 * and unlocking and dropping its memory afterwards is best effort.
	 */
	if ((c->flags & MMAPKIT_GUARD) && !mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST))
		return c->op == op_shrink &&
		       (sys == MMAPKIT__SYS_MADVISE || sys == MMAPKIT__SYS_MUNLOCK ||
			sys == MMAPKIT__SYS_PRCTL);
	if (c->op == op_shrink)
		return sys == MMAPKIT__SYS_MUNMAP && (c->flags & MMAPKIT_GUARD);
	return sys == MMAPKIT__SYS_MMAP && nth == 1 && err == EEXIST;
}

static void range_point(const struct rcase *c, int sys, unsigned nth, int err,
			const struct state *ok, unsigned *nknown)
{
	int exp = ignored_by_design(sys) || recovered(c, sys, nth, err)
			  ? 0
			  : fault_expected_err(c->call, false, false, sys, nth, err);
	struct state before, after;
	char what[200];
	struct fx f;
	int r;

	fault_name_point(what, sizeof(what), c->name, sys, nth, err, exp);
	fault_fx_open(&f, c);
	fault_snap(&before, f.lo, f.npages, f.path);
	mmapkit__fault_arm(sys, nth, err);
	r = c->op(&f);
	if (!exp) {
		ck_assert_msg(mmapkit__fault_fired(), "%s: did not fire", what);
		ck_assert_msg(r == 0, "%s: returned %d (%s)", what, r, mmapkit_errmsg());
		if (ignored_by_design(sys))
			close_kept_dir_fd();
	} else {
		fault_expect_failure(r, sys, exp, c->call, what);
	}
	mmapkit__fault_reset();
	if (exp && !known(c, sys)) {
		fault_snap(&after, f.lo, f.npages, f.path);
		fault_state_eq(&before, &after, true, what);
		fault_state_free(&after);
	}
	*nknown += known(c, sys);
	/* the handle still works: a retry ends exactly where a first success does */
	if (exp) {
		r = c->op(&f);
		ck_assert_msg(r == 0, "%s: retry returned %d (%s)", what, r, mmapkit_errmsg());
		strncat(what, ", then a retry", sizeof(what) - strlen(what) - 1);
	}
	fault_snap(&after, f.lo, f.npages, f.path);
	fault_state_eq(ok, &after, false, what);
	fault_state_free(&after);
	fault_state_free(&before);
	fault_fx_close(&f);
}

/* The calls a successful op makes; with ok, also the state it ends in. */
static void range_learn(const struct rcase *c, unsigned calls[MMAPKIT__SYS_COUNT],
			struct state *ok)
{
	struct fx f;
	int r;

	fault_fx_open(&f, c);
	mmapkit__fault_reset();
	r = c->op(&f);
	ck_assert_msg(r == 0, "%s: %d: %s", c->name, r, mmapkit_errmsg());
	tu_fault_calls(calls);
	if (ok)
		fault_snap(ok, f.lo, f.npages, f.path);
	fault_fx_close(&f);
}

/*
 * Where punch writes file private pages in place it makes no system call for
 * them (getpid aside, which cannot fail): nothing to fail.  Its one failure,
 * a whole page that is not writable, changes nothing.
 */
static void range_in_place(const struct rcase *c)
{
	struct fx f;
	int r;

	fault_fx_open(&f, c);
	if (fault_in_place_refused(&f)) {
		fault_expect_refusal(c, &f, "written in place");
		printf("fault: %s: written in place on this kernel: refused, a whole page is not writable\n",
		       c->name);
	} else {
		mmapkit__fault_reset();
		r = c->op(&f);
		ck_assert_msg(r == 0, "%s: %d: %s", c->name, r, mmapkit_errmsg());
		ck_assert_uint_eq(fault_memory_calls(), 0);
		printf("fault: %s: written in place on this kernel: no system call, no failure point\n",
		       c->name);
	}
	fault_fx_close(&f);
}

START_TEST(range_faults)
{
	const struct rcase *c = &fault_rcases[_i];
	unsigned calls[MMAPKIT__SYS_COUNT], points = 0, nknown = 0;
	struct tu_snap s = tu_snap();
	struct state ok;

	if (fault_skip_under_valgrind(c))
		return;
	if (fault_punch_in_place(c)) {
		range_in_place(c);
		TU_ASSERT_NO_LEAK(s);
		return;
	}
	range_learn(c, calls, &ok);
	TU_FOR_EACH_CALL(calls, sys, nth)
		for (int e = 0; e < fault_n_errs(sys); e++, points++)
			range_point(c, sys, nth, fault_documented[sys][e], &ok, &nknown);
	fault_state_free(&ok);
	ck_assert_uint_gt(points, 0);
	printf("fault: %s: %u failure points%s\n", c->name, points,
	       nknown ? ", some of them known exceptions (see below)" : "");
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- constructors ---- */

struct ccase {
	const char *name;
	int ctor;      /* enum tu_ctor */
	int exists;    /* the file exists beforehand (EMPTY: with size 0) */
	uint64_t foff;
	size_t len;    /* in pages, plus 100 bytes; 0 = to end of file */
	unsigned flags;
	size_t align;  /* opts.align (through mmapkit_map_new) */
};

#define CTOR_FILE_PAGES 3
#define EMPTY 2

static const struct ccase ccases[] = {
	{"anon private", TU_AP, false, 0, 3, 0, 0},
	{"anon private, every flag", TU_AP, false, 0, 3,
	 MMAPKIT_LOCK | MMAPKIT_THP | MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP | MMAPKIT_POPULATE |
		 MMAPKIT_GUARD | MMAPKIT_NORESERVE, 0},
	{"anon private, wipeonfork", TU_AP, false, 0, 3,
	 MMAPKIT_WIPEONFORK | MMAPKIT_LOCK | MMAPKIT_GUARD, 0},
	{"anon shared", TU_AS, false, 0, 3,
	 MMAPKIT_LOCK | MMAPKIT_DONTDUMP | MMAPKIT_GUARD | MMAPKIT_THP, 0},
	{"file private", TU_FP, true, 7, 0, 0, 0},
	{"file private, flags", TU_FP, true, 7, 4,
	 MMAPKIT_GROW | MMAPKIT_LOCK | MMAPKIT_THP | MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP |
		 MMAPKIT_GUARD, 0},
	{"file shared", TU_FS, true, 0, 0, 0, 0},
	{"file shared, flags", TU_FS, true, 7, 4,
	 MMAPKIT_GROW | MMAPKIT_LOCK | MMAPKIT_DONTDUMP | MMAPKIT_GUARD | MMAPKIT_POPULATE, 0},
	{"file shared, created", TU_FS, false, 0, 2, MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_LOCK, 0},
	{"file private, created", TU_FP, false, 5, 2,
	 MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_DONTFORK, 0},
	{"file shared, created empty", TU_FS, false, 0, 0, MMAPKIT_CREATE, 0},
	/* a file of size 0: one pread tells it from a pseudo-file */
	{"file private, empty", TU_FP, EMPTY, 0, 0, MMAPKIT_RDONLY, 0},
	{"map_new shared, empty", TU_NEW_FS, EMPTY, 0, 0, 0, 0},
	{"fd private", TU_FDP, true, 7, 0, MMAPKIT_DONTFORK, 0},
	{"fd shared, grown", TU_FDS, true, 0, 4, MMAPKIT_GROW | MMAPKIT_LOCK, 0},
	{"map_new shared, created", TU_NEW_FS, false, 3, 2,
	 MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_DONTDUMP, 0},
	{"map_new anon", TU_NEW_AS, false, 0, 1, MMAPKIT_POPULATE, 0},
	{"anon private, secure", TU_AP, false, 0, 3, MMAPKIT_SECURE, 0},
	{"anon private, secret", TU_AP, false, 0, 3, MMAPKIT_SECRET, 0},
	{"map_new anon, aligned, guarded", TU_NEW_AP, false, 0, 3, MMAPKIT_GUARD | MMAPKIT_LOCK,
	 (size_t)2 << 20},
	{"map_new shared, aligned", TU_NEW_FS, true, 0, 2, MMAPKIT_POPULATE, (size_t)2 << 20},
	{"map_new private, aligned, guarded", TU_NEW_FP, true, 0, 2, MMAPKIT_GUARD,
	 (size_t)1 << 30},
	{"file shared, allocate", TU_FS, true, 7, 2, MMAPKIT_ALLOCATE | MMAPKIT_LOCK, 0},
	{"file shared, grown and allocated", TU_FS, true, 7, 4,
	 MMAPKIT_GROW | MMAPKIT_ALLOCATE | MMAPKIT_GUARD, 0},
	{"file private, created and allocated", TU_FP, false, 5, 2,
	 MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_ALLOCATE, 0},
	{"fd private, allocate", TU_FDP, true, 0, 0, MMAPKIT_ALLOCATE, 0},
};

#define N_CCASES (sizeof(ccases) / sizeof(ccases[0]))

/* The file of a case: a pattern file, or (CREATE) a path with nothing there yet. */
static struct tu_target case_target(const struct ccase *c)
{
	if (c->exists || !tu_ctor_is_file(c->ctor))
		return tu_target_new(c->ctor, c->exists == EMPTY ? 0 : CTOR_FILE_PAGES * pg() + 11);
	return (struct tu_target){tu_path("created"), -1, 0};
}

static int construct(const struct ccase *c, const struct tu_target *t, mmapkit_map **out)
{
	size_t len = c->len ? c->len * pg() + 100 : 0;
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = tu_ctors[c->ctor].kind,
				 .flags = c->flags, .path = t->path, .fd = -1, .offset = c->foff,
				 .len = len, .mode = 0640};

	/* map_new creating a file: with a mode of its own (tu_make leaves it 0) */
	if (c->ctor == TU_NEW_FS && (c->flags & MMAPKIT_CREATE))
		return mmapkit_map_new(out, &o);
	if (c->align) {
		o.align = c->align;
		o.mode = 0;
		if (tu_ctors[c->ctor].by_fd)
			o.fd = t->fd;
		else
			o.path = t->path;
		return mmapkit_map_new(out, &o);
	}
	return tu_make(c->ctor, out, t->path, t->fd, c->foff, len, c->flags);
}

/* The state of a new handle: its pages (with the guard pages around them), file, counts. */
static void snap_handle(struct state *s, mmapkit_map *m, const struct tu_target *f)
{
	unsigned char *p = mmapkit_ptr(m);
	size_t delta = (uintptr_t)p % pg();
	size_t n = (delta + mmapkit_len(m) + pg() - 1) / pg();

	fault_snap(s, mmapkit_len(m) ? p - delta : NULL, n, f->path);
	if ((mmapkit_flags(m) & MMAPKIT_GUARD) && n) {
		char g[2][FLAGS_MAX];

		/* the guard pages are there: light ones inside the one mapping, else inaccessible */
		fault_read_pages(p - delta - pg(), 1, &g[0]);
		fault_read_pages(p - delta + n * pg(), 1, &g[1]);
		if (tu_light_guards_expected(mmapkit_kind(m), mmapkit_offset(m) - delta,
					     mmapkit_flags(m)))
			ck_assert_int_eq(tu_maps_lines(p - delta - pg(), p - delta + (n + 1) * pg()),
					 tu_guard_span_lines(mmapkit_kind(m), mmapkit_offset(m) - delta,
							     mmapkit_flags(m)));
		else
			ck_assert_msg(strncmp(g[0], "---p", 4) == 0 && strncmp(g[1], "---p", 4) == 0,
				      "guard pages \"%s\", \"%s\"", g[0], g[1]);
	}
}

/* A constructor that creates its file (its first open meets ENOENT). */
static bool creates(const struct ccase *c)
{
	return (c->flags & MMAPKIT_CREATE) && !c->exists;
}

static void ctor_point(const struct ccase *c, int sys, unsigned nth, int err,
		       const struct state *ok)
{
	int exp = fault_expected_err(tu_ctors[c->ctor].name, true, creates(c), sys, nth, err);
	struct state before, after;
	mmapkit_map *m = (mmapkit_map *)&m; /* not NULL: the call must set it */

	/* MMAPKIT_SECRET sizes its own secretmem descriptor: its errors pass as they are */
	if ((c->flags & MMAPKIT_SECRET) && sys == MMAPKIT__SYS_FTRUNCATE)
		exp = err;
	char what[200];
	struct tu_target f;
	int r;

	fault_name_point(what, sizeof(what), c->name, sys, nth, err, exp);
	f = case_target(c);
	fault_snap(&before, NULL, 0, f.path);
	mmapkit__fault_arm(sys, nth, err);
	r = construct(c, &f, &m);
	if (exp) {
		fault_expect_failure(r, sys, exp, tu_ctors[c->ctor].name, what);
		mmapkit__fault_reset();
		ck_assert_msg(m == NULL, "%s: *out is not NULL", what);
		fault_snap(&after, NULL, 0, f.path);
		fault_state_eq(&before, &after, true, what);
		fault_state_free(&after);
		/* nothing left behind that changes a retry */
		r = construct(c, &f, &m);
		strncat(what, ", then a retry", sizeof(what) - strlen(what) - 1);
	} else {
		ck_assert_msg(mmapkit__fault_fired(), "%s: did not fire", what);
		mmapkit__fault_reset();
		if (sys == MMAPKIT__SYS_CLOSE) /* the shim kept MMAPKIT_SECRET's descriptor open */
			close_kept_fd("/secretmem (deleted)");
	}
	fault_state_free(&before);
	ck_assert_msg(r == 0, "%s: returned %d (%s)", what, r, mmapkit_errmsg());
	snap_handle(&after, m, &f);
	fault_state_eq(ok, &after, false, what);
	fault_state_free(&after);
	mmapkit_unmap(m);
	tu_target_free(&f);
}

static void ctor_learn(const struct ccase *c, unsigned calls[MMAPKIT__SYS_COUNT],
		       struct state *ok)
{
	mmapkit_map *m = NULL;
	struct tu_target f = case_target(c);
	int r;

	mmapkit__fault_reset();
	r = construct(c, &f, &m);
	ck_assert_msg(r == 0, "%s: %d: %s", c->name, r, mmapkit_errmsg());
	tu_fault_calls(calls);
	if (ok)
		snap_handle(ok, m, &f);
	mmapkit_unmap(m);
	tu_target_free(&f);
}

/* An MMAPKIT_SECRET case where the kernel (or valgrind) has no memfd_secret. */
static bool no_secret_memory(const struct ccase *c)
{
	return (c->flags & MMAPKIT_SECRET) && !mmapkit__kernel_has(MMAPKIT__F_MEMFD_SECRET);
}

START_TEST(ctor_faults)
{
	const struct ccase *c = &ccases[_i];
	unsigned calls[MMAPKIT__SYS_COUNT], points = 0;
	struct tu_snap s = tu_snap();
	bool setfl = tu_ctors[c->ctor].by_path;
	struct state ok;

	if (no_secret_memory(c)) {
		printf("fault: %s: no memfd_secret here (or valgrind, which lacks it): skipped\n",
		       c->name);
		return;
	}
	ctor_learn(c, calls, &ok);
	/*
	 * a path constructor clears O_NONBLOCK (one fcntl(F_SETFL)) unless it
	 * created the file (opened without it); an fd one duplicates (F_DUPFD)
	 */
	ck_assert_uint_eq(calls[MMAPKIT__SYS_FCNTL],
			  tu_ctor_is_file(c->ctor) && (c->exists || !tu_ctors[c->ctor].by_path));
	/* only a file of size 0 is read, one byte */
	ck_assert_uint_eq(calls[MMAPKIT__SYS_PREAD], c->exists == EMPTY);
	TU_FOR_EACH_CALL(calls, sys, nth)
		for (int e = 0; e < n_errs_of(sys, setfl); e++, points++)
			ctor_point(c, sys, nth, errs_of(sys, setfl)[e], &ok);
	fault_state_free(&ok);
	ck_assert_uint_gt(points, 0);
	printf("fault: %s: %u failure points\n", c->name, points);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/*
 * How much the tests above cover, counted from the learning runs (each test
 * may run in its own process, so they cannot add it up themselves).
 */
START_TEST(report)
{
	unsigned calls[MMAPKIT__SYS_COUNT], range = 0, ctor = 0, nknown = 0, pos = 0;

	for (size_t i = 0; i < N_RCASES; i++) {
		if (fault_skip_under_valgrind(&fault_rcases[i]) ||
		    fault_punch_in_place(&fault_rcases[i])) /* no failure point */
			continue;
		range_learn(&fault_rcases[i], calls, NULL);
		for (int sys = 0; sys < MMAPKIT__SYS_COUNT; sys++) {
			pos += calls[sys];
			range += (unsigned)fault_n_errs(sys) * calls[sys];
			nknown += known(&fault_rcases[i], sys) ? (unsigned)fault_n_errs(sys) * calls[sys] : 0;
		}
	}
	for (size_t i = 0; i < N_CCASES; i++) {
		if (no_secret_memory(&ccases[i]))
			continue;
		ctor_learn(&ccases[i], calls, NULL);
		for (int sys = 0; sys < MMAPKIT__SYS_COUNT; sys++) {
			pos += calls[sys];
			ctor += (unsigned)n_errs_of(sys, tu_ctors[ccases[i].ctor].by_path) *
				calls[sys];
		}
	}
	printf("fault: %u failure points (%u call positions x documented errnos), all covered: "
	       "%u in %zu range-operation cases, %u in %zu constructor cases; %u of them are the "
	       "known exception (anon shared locked punch: re-locking after MADV_REMOVE fails)\n",
	       range + ctor, pos, range, N_RCASES, ctor, N_CCASES, nknown);
}
END_TEST

Suite *suite_fault(void)
{
	Suite *s = suite_create("fault");
	TCase *tc = tu_tcase(s, "range", 120);

	tcase_add_loop_test(tc, range_faults, 0, (int)N_RCASES);

	tc = tu_tcase(s, "constructors", 120);
	tcase_add_loop_test(tc, ctor_faults, 0, (int)N_CCASES);

	tc = tu_tcase(s, "report", 0);
	tcase_add_test(tc, report);
	return s;
}
