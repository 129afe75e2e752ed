/* SPDX-License-Identifier: MIT */
/*
 * The system-call table.  Release builds call straight through a const table;
 * the test build (MMAPKIT_TESTING) puts a shim in front of every entry that
 * counts calls per thread and can make the Nth call of one of them fail.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

static int sys_open(const char *path, int flags, mode_t mode)
{
	return open(path, flags, mode);
}

static int sys_fcntl(int fd, int cmd, int arg)
{
	return fcntl(fd, cmd, arg);
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg);
}

static void *sys_mremap(void *old, size_t old_len, size_t new_len, int flags, void *new_addr)
{
	return mremap(old, old_len, new_len, flags, new_addr);
}

/*
 * mlock and munlock by number: AddressSanitizer intercepts the libc functions
 * as no-ops (but not mlock2), so pages locked with mlock2 could not be
 * unlocked, and MMAPKIT_LOCK would lock nothing, in a sanitized program.
 */
static int sys_mlock(const void *addr, size_t len)
{
	return (int)syscall(SYS_mlock, addr, len);
}

static int sys_munlock(const void *addr, size_t len)
{
	return (int)syscall(SYS_munlock, addr, len);
}

/* By number too: glibc's mlock2 turns ENOSYS (valgrind 3.19) into EINVAL. */
static int sys_mlock2(const void *addr, size_t len, unsigned flags)
{
	return (int)syscall(SYS_mlock2, addr, len, flags);
}

static int sys_sync_file_range(int fd, off_t off, off_t n, unsigned flags)
{
	return sync_file_range(fd, off, n, flags);
}

static int sys_memfd_create(const char *name, unsigned flags)
{
	return memfd_create(name, flags);
}

static int sys_memfd_secret(unsigned flags)
{
#ifdef SYS_memfd_secret
	return (int)syscall(SYS_memfd_secret, flags);
#else
	(void)flags;
	errno = ENOSYS;
	return -1;
#endif
}

static int sys_mincore(void *addr, size_t len, unsigned char *vec)
{
	return mincore(addr, len, vec);
}

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
static int sys_cachestat(int fd, void *range, void *cstat, unsigned flags)
{
	return (int)syscall(SYS_cachestat, fd, range, cstat, flags);
}

static int sys_prctl(int option, unsigned long a2, unsigned long a3, unsigned long a4,
		     unsigned long a5)
{
	return prctl(option, a2, a3, a4, a5);
}

static int sys_faccessat(int dirfd, const char *path, int mode, int flags)
{
	return faccessat(dirfd, path, mode, flags);
}

#define MMAPKIT__REAL_TABLE                                                                 \
	{                                                                                   \
		.open = sys_open, .close = close, .fstat = fstat, .fcntl = sys_fcntl,       \
		.ioctl = sys_ioctl, .ftruncate = ftruncate, .fallocate = fallocate,         \
		.fsync = fsync, .pread = pread, .unlink = unlink, .mmap = mmap,             \
		.munmap = munmap, .mremap = sys_mremap, .madvise = madvise,                 \
		.msync = msync, .mprotect = mprotect, .mlock = sys_mlock,                   \
		.mlock2 = sys_mlock2, .munlock = sys_munlock, .readlink = readlink,         \
		.sync_file_range = sys_sync_file_range, .memfd_create = sys_memfd_create,   \
		.memfd_secret = sys_memfd_secret, .sendmsg = sendmsg, .recvmsg = recvmsg,   \
		.mincore = sys_mincore, .cachestat = sys_cachestat, .prctl = sys_prctl,     \
		.getpid = getpid, .geteuid = geteuid,                                                           \
		.sigaction = sigaction, .fstatfs = fstatfs,                                 \
		.faccessat = sys_faccessat,                                                 \
	}

#ifndef MMAPKIT_TESTING

const struct mmapkit__sys mmapkit__sys = MMAPKIT__REAL_TABLE;

#else

static const struct mmapkit__sys real = MMAPKIT__REAL_TABLE;

static const char *const names[MMAPKIT__SYS_COUNT] = {
	"open",	  "close",  "fstat",   "fcntl",	  "ioctl",    "ftruncate", "fallocate",
	"fsync",  "pread",  "unlink",  "mmap",	  "munmap",   "mremap",	   "madvise",
	"msync",  "mprotect", "mlock", "mlock2", "munlock", "readlink",
	"sync_file_range", "memfd_create", "memfd_secret", "sendmsg", "recvmsg", "mincore",
	"cachestat", "prctl", "getpid", "sigaction", "fstatfs", "faccessat",
	"geteuid",
};

/* Per thread, so that concurrent tests do not see each other's calls. */
static _Thread_local unsigned calls[MMAPKIT__SYS_COUNT];
static _Thread_local int armed_sys = -1;
static _Thread_local unsigned armed_nth;
static _Thread_local int armed_err;
static _Thread_local bool fired;
static unsigned fault_delay_us; /* global: set by a test before its threads start */

void mmapkit__fault_reset(void)
{
	for (int i = 0; i < MMAPKIT__SYS_COUNT; i++)
		calls[i] = 0;
	armed_sys = -1;
	fired = false;
}

void mmapkit__fault_arm(enum mmapkit__sysno sys, unsigned nth, int err)
{
	mmapkit__fault_reset();
	armed_sys = (int)sys;
	armed_nth = nth;
	armed_err = err;
}

void mmapkit__fault_delay(unsigned usec)
{
	__atomic_store_n(&fault_delay_us, usec, __ATOMIC_RELAXED);
}

unsigned mmapkit__fault_calls(enum mmapkit__sysno sys)
{
	return calls[sys];
}

unsigned mmapkit__fault_total(void)
{
	unsigned n = 0;

	for (int i = 0; i < MMAPKIT__SYS_COUNT; i++)
		n += calls[i];
	return n;
}

bool mmapkit__fault_fired(void)
{
	return fired;
}

const char *mmapkit__sys_name(enum mmapkit__sysno sys)
{
	return names[sys];
}

/* Counts the call; returns the errno to fail it with, or 0 to let it through. */
static int hit(enum mmapkit__sysno sys)
{
	calls[sys]++;
	if ((int)sys != armed_sys || calls[sys] != armed_nth)
		return 0;
	fired = true;
	if (__atomic_load_n(&fault_delay_us, __ATOMIC_RELAXED)) {
		struct timespec ts = {0, (long)__atomic_load_n(&fault_delay_us, __ATOMIC_RELAXED) * 1000};

		nanosleep(&ts, NULL);
	}
	return armed_err;
}

#define SHIM(name, ret, fail, params, args)                                                 \
	static ret shim_##name params                                                       \
	{                                                                                   \
		int e = hit(MMAPKIT__SYS_##name);                                           \
		if (e) {                                                                    \
			errno = e;                                                          \
			return fail;                                                        \
		}                                                                           \
		return real.name args;                                                      \
	}

#define MMAPKIT__SYS_open MMAPKIT__SYS_OPEN
#define MMAPKIT__SYS_close MMAPKIT__SYS_CLOSE
#define MMAPKIT__SYS_fstat MMAPKIT__SYS_FSTAT
#define MMAPKIT__SYS_fcntl MMAPKIT__SYS_FCNTL
#define MMAPKIT__SYS_ioctl MMAPKIT__SYS_IOCTL
#define MMAPKIT__SYS_ftruncate MMAPKIT__SYS_FTRUNCATE
#define MMAPKIT__SYS_fallocate MMAPKIT__SYS_FALLOCATE
#define MMAPKIT__SYS_fsync MMAPKIT__SYS_FSYNC
#define MMAPKIT__SYS_pread MMAPKIT__SYS_PREAD
#define MMAPKIT__SYS_unlink MMAPKIT__SYS_UNLINK
#define MMAPKIT__SYS_mmap MMAPKIT__SYS_MMAP
#define MMAPKIT__SYS_munmap MMAPKIT__SYS_MUNMAP
#define MMAPKIT__SYS_mremap MMAPKIT__SYS_MREMAP
#define MMAPKIT__SYS_madvise MMAPKIT__SYS_MADVISE
#define MMAPKIT__SYS_msync MMAPKIT__SYS_MSYNC
#define MMAPKIT__SYS_mprotect MMAPKIT__SYS_MPROTECT
#define MMAPKIT__SYS_mlock MMAPKIT__SYS_MLOCK
#define MMAPKIT__SYS_mlock2 MMAPKIT__SYS_MLOCK2
#define MMAPKIT__SYS_munlock MMAPKIT__SYS_MUNLOCK
#define MMAPKIT__SYS_readlink MMAPKIT__SYS_READLINK
#define MMAPKIT__SYS_sync_file_range MMAPKIT__SYS_SYNC_FILE_RANGE
#define MMAPKIT__SYS_memfd_create MMAPKIT__SYS_MEMFD_CREATE
#define MMAPKIT__SYS_memfd_secret MMAPKIT__SYS_MEMFD_SECRET
#define MMAPKIT__SYS_sendmsg MMAPKIT__SYS_SENDMSG
#define MMAPKIT__SYS_recvmsg MMAPKIT__SYS_RECVMSG
#define MMAPKIT__SYS_mincore MMAPKIT__SYS_MINCORE
#define MMAPKIT__SYS_cachestat MMAPKIT__SYS_CACHESTAT
#define MMAPKIT__SYS_prctl MMAPKIT__SYS_PRCTL
#define MMAPKIT__SYS_getpid MMAPKIT__SYS_GETPID
#define MMAPKIT__SYS_geteuid MMAPKIT__SYS_GETEUID
#define MMAPKIT__SYS_sigaction MMAPKIT__SYS_SIGACTION
#define MMAPKIT__SYS_fstatfs MMAPKIT__SYS_FSTATFS
#define MMAPKIT__SYS_faccessat MMAPKIT__SYS_FACCESSAT

SHIM(open, int, -1, (const char *p, int f, mode_t m), (p, f, m))
SHIM(close, int, -1, (int fd), (fd))
SHIM(fstat, int, -1, (int fd, struct stat *st), (fd, st))
SHIM(fcntl, int, -1, (int fd, int cmd, int arg), (fd, cmd, arg))
SHIM(ioctl, int, -1, (int fd, unsigned long req, void *arg), (fd, req, arg))
SHIM(ftruncate, int, -1, (int fd, off_t len), (fd, len))
SHIM(fallocate, int, -1, (int fd, int mode, off_t off, off_t len), (fd, mode, off, len))
SHIM(fsync, int, -1, (int fd), (fd))
SHIM(pread, ssize_t, -1, (int fd, void *buf, size_t n, off_t off), (fd, buf, n, off))
SHIM(unlink, int, -1, (const char *p), (p))
/*
 * Kernel models for the pretence (mmapkit__kernel_pretend): the real kernel
 * here (6.18) checks an mremap before it unmaps the destination and moves
 * several VMAs in one call; an older one is modelled in front of it.
 *   - without MMAPKIT__F_MREMAP_CHECKS_FIRST (the 6.1 model): a failing
 *     mremap(MREMAP_FIXED) or mmap(MAP_FIXED) has unmapped its destination
 *     first, and an mremap whose source spans several VMAs fails with EFAULT
 *     after unmapping its destination;
 *   - without MMAPKIT__F_MREMAP_MULTI_VMA (also the 6.12 model): that mremap
 *     fails with EFAULT and leaves the destination alone.
 * Without a pretence every call goes straight to the kernel.
 */
static bool model_unmaps_first(void)
{
	return mmapkit__kernel_pretending() && !mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST);
}

static bool model_one_vma(void)
{
	return mmapkit__kernel_pretending() && !mmapkit__kernel_has(MMAPKIT__F_MREMAP_MULTI_VMA);
}

/* Does [a, a + len) reach past the end of the VMA that holds a? */
static bool spans_vmas(const void *a, size_t len)
{
	FILE *fp = fopen("/proc/self/maps", "re");
	uintptr_t at = (uintptr_t)a;
	char line[512];
	bool start = true, more = false;

	if (!fp)
		return false;
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi;

		if (start && sscanf(line, "%lx-%lx", &lo, &hi) == 2 && lo <= at && at < hi) {
			more = at + len > hi;
			break;
		}
		start = strchr(line, '\n') != NULL;
	}
	fclose(fp);
	return more;
}

/* The 6.1 model's failure: the destination is gone, then the error. */
static void *fail_unmapped(void *dst, size_t len, int err)
{
	real.munmap(dst, len);
	errno = err;
	return MAP_FAILED;
}

static void *shim_mmap(void *a, size_t l, int p, int f, int fd, off_t o)
{
	int e = hit(MMAPKIT__SYS_MMAP);

	if (e && (f & MAP_FIXED) && model_unmaps_first())
		return fail_unmapped(a, l, e);
	if (e) {
		errno = e;
		return MAP_FAILED;
	}
	return real.mmap(a, l, p, f, fd, o);
}

static void *shim_mremap(void *o, size_t ol, size_t nl, int f, void *na)
{
	int e = hit(MMAPKIT__SYS_MREMAP);
	bool fixed = f & MREMAP_FIXED;

	if (e && fixed && model_unmaps_first())
		return fail_unmapped(na, nl, e);
	if (e) {
		errno = e;
		return MAP_FAILED;
	}
	if (fixed && model_one_vma() && spans_vmas(o, ol)) {
		if (model_unmaps_first())
			return fail_unmapped(na, nl, EFAULT);
		errno = EFAULT;
		return MAP_FAILED;
	}
	return real.mremap(o, ol, nl, f, na);
}

SHIM(munmap, int, -1, (void *a, size_t l), (a, l))
SHIM(madvise, int, -1, (void *a, size_t l, int adv), (a, l, adv))
SHIM(msync, int, -1, (void *a, size_t l, int f), (a, l, f))
SHIM(mprotect, int, -1, (void *a, size_t l, int p), (a, l, p))
SHIM(mlock, int, -1, (const void *a, size_t l), (a, l))
SHIM(mlock2, int, -1, (const void *a, size_t l, unsigned f), (a, l, f))
SHIM(munlock, int, -1, (const void *a, size_t l), (a, l))
SHIM(readlink, ssize_t, -1, (const char *p, char *b, size_t n), (p, b, n))
SHIM(sync_file_range, int, -1, (int fd, off_t o, off_t n, unsigned f), (fd, o, n, f))
SHIM(memfd_create, int, -1, (const char *n, unsigned f), (n, f))
SHIM(memfd_secret, int, -1, (unsigned f), (f))
SHIM(sendmsg, ssize_t, -1, (int s, const struct msghdr *m, int f), (s, m, f))
SHIM(recvmsg, ssize_t, -1, (int s, struct msghdr *m, int f), (s, m, f))
SHIM(mincore, int, -1, (void *a, size_t l, unsigned char *v), (a, l, v))
SHIM(cachestat, int, -1, (int fd, void *r, void *c, unsigned f), (fd, r, c, f))
SHIM(prctl, int, -1, (int o, unsigned long a2, unsigned long a3, unsigned long a4,
		      unsigned long a5), (o, a2, a3, a4, a5))
SHIM(getpid, pid_t, -1, (void), ())
SHIM(geteuid, uid_t, (uid_t)-1, (void), ())
SHIM(sigaction, int, -1, (int sig, const struct sigaction *a, struct sigaction *o), (sig, a, o))
SHIM(fstatfs, int, -1, (int fd, struct statfs *st), (fd, st))
SHIM(faccessat, int, -1, (int d, const char *p, int m, int f), (d, p, m, f))

struct mmapkit__sys mmapkit__sys = {
	.open = shim_open,	     .close = shim_close,     .fstat = shim_fstat,
	.fcntl = shim_fcntl,	     .ioctl = shim_ioctl,     .ftruncate = shim_ftruncate,
	.fallocate = shim_fallocate, .fsync = shim_fsync,     .pread = shim_pread,
	.unlink = shim_unlink,	     .mmap = shim_mmap,	      .munmap = shim_munmap,
	.mremap = shim_mremap,	     .madvise = shim_madvise, .msync = shim_msync,
	.mprotect = shim_mprotect,   .mlock = shim_mlock,     .mlock2 = shim_mlock2,
	.munlock = shim_munlock,     .readlink = shim_readlink,
	.sync_file_range = shim_sync_file_range, .memfd_create = shim_memfd_create,
	.memfd_secret = shim_memfd_secret, .sendmsg = shim_sendmsg, .recvmsg = shim_recvmsg,
	.mincore = shim_mincore, .cachestat = shim_cachestat, .prctl = shim_prctl,
	.getpid = shim_getpid, .geteuid = shim_geteuid,
	.sigaction = shim_sigaction, .fstatfs = shim_fstatfs,
	.faccessat = shim_faccessat,
};

#endif
