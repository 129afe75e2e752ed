/* SPDX-License-Identifier: MIT */
/* Internal declarations shared by the library's sources; never installed. */
#ifndef MMAPKIT_INTERNAL_H
#define MMAPKIT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>

#include "mmapkit.h"

#define MMAPKIT__HIDDEN __attribute__((visibility("hidden")))

/* Newer than some C libraries' headers (Linux 6.13 and 4.17). */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

/*
 * Every system call the library makes goes through this table, as SQLite's
 * os_unix.c does, so that the test build can count calls and make any one of
 * them fail.  The release build declares it const.
 */
enum mmapkit__sysno {
	MMAPKIT__SYS_OPEN,
	MMAPKIT__SYS_CLOSE,
	MMAPKIT__SYS_FSTAT,
	MMAPKIT__SYS_FCNTL,
	MMAPKIT__SYS_IOCTL,
	MMAPKIT__SYS_FTRUNCATE,
	MMAPKIT__SYS_FALLOCATE,
	MMAPKIT__SYS_FSYNC,
	MMAPKIT__SYS_PREAD,
	MMAPKIT__SYS_UNLINK,
	MMAPKIT__SYS_MMAP,
	MMAPKIT__SYS_MUNMAP,
	MMAPKIT__SYS_MREMAP,
	MMAPKIT__SYS_MADVISE,
	MMAPKIT__SYS_MSYNC,
	MMAPKIT__SYS_MPROTECT,
	MMAPKIT__SYS_MLOCK,
	MMAPKIT__SYS_MLOCK2,
	MMAPKIT__SYS_MUNLOCK,
	MMAPKIT__SYS_READLINK,
	MMAPKIT__SYS_SYNC_FILE_RANGE,
	MMAPKIT__SYS_MEMFD_CREATE,
	MMAPKIT__SYS_MEMFD_SECRET,
	MMAPKIT__SYS_SENDMSG,
	MMAPKIT__SYS_RECVMSG,
	MMAPKIT__SYS_MINCORE,
	MMAPKIT__SYS_CACHESTAT,
	MMAPKIT__SYS_PRCTL,
	MMAPKIT__SYS_GETPID,
	MMAPKIT__SYS_SIGACTION,
	MMAPKIT__SYS_FSTATFS,
	MMAPKIT__SYS_FACCESSAT,
	MMAPKIT__SYS_GETEUID,
	MMAPKIT__SYS_COUNT
};

struct sigaction; /* <signal.h> declares it only for POSIX sources */
struct statfs;

struct mmapkit__sys {
	int (*open)(const char *path, int flags, mode_t mode);
	int (*close)(int fd);
	int (*fstat)(int fd, struct stat *st);
	int (*fcntl)(int fd, int cmd, int arg);
	int (*ioctl)(int fd, unsigned long req, void *arg);
	int (*ftruncate)(int fd, off_t len);
	int (*fallocate)(int fd, int mode, off_t off, off_t len);
	int (*fsync)(int fd);
	ssize_t (*pread)(int fd, void *buf, size_t n, off_t off);
	int (*unlink)(const char *path);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd, off_t off);
	int (*munmap)(void *addr, size_t len);
	void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
	int (*madvise)(void *addr, size_t len, int advice);
	int (*msync)(void *addr, size_t len, int flags);
	int (*mprotect)(void *addr, size_t len, int prot);
	int (*mlock)(const void *addr, size_t len);
	int (*mlock2)(const void *addr, size_t len, unsigned flags);
	int (*munlock)(const void *addr, size_t len);
	ssize_t (*readlink)(const char *path, char *buf, size_t n);
	int (*sync_file_range)(int fd, off_t off, off_t n, unsigned flags);
	int (*memfd_create)(const char *name, unsigned flags);
	int (*memfd_secret)(unsigned flags);
	ssize_t (*sendmsg)(int sock, const struct msghdr *msg, int flags);
	ssize_t (*recvmsg)(int sock, struct msghdr *msg, int flags);
	int (*mincore)(void *addr, size_t len, unsigned char *vec);
	/* range and cstat: struct cachestat_range and struct cachestat (Linux 6.5 uapi) */
	int (*cachestat)(int fd, void *range, void *cstat, unsigned flags);
	int (*prctl)(int option, unsigned long a2, unsigned long a3, unsigned long a4,
		     unsigned long a5);
	pid_t (*getpid)(void); /* never fails; only for handles with DONTFORK pages (fork.c) */
	int (*sigaction)(int sig, const struct sigaction *act, struct sigaction *old);
	int (*fstatfs)(int fd, struct statfs *st);
	int (*faccessat)(int dirfd, const char *path, int mode, int flags);
	uid_t (*geteuid)(void); /* never fails; mmapkit_resident's owner check (stats.c) */
};

#ifdef MMAPKIT_TESTING
extern struct mmapkit__sys mmapkit__sys MMAPKIT__HIDDEN;
/* Test build only: per-thread call counters and one armed fault. */
MMAPKIT__HIDDEN void mmapkit__fault_reset(void);
MMAPKIT__HIDDEN void mmapkit__fault_arm(enum mmapkit__sysno sys, unsigned nth, int err);
MMAPKIT__HIDDEN unsigned mmapkit__fault_calls(enum mmapkit__sysno sys);
MMAPKIT__HIDDEN unsigned mmapkit__fault_total(void);
MMAPKIT__HIDDEN bool mmapkit__fault_fired(void);
/* Sleep this long in each call the armed fault fails (0: not at all), for every thread. */
MMAPKIT__HIDDEN void mmapkit__fault_delay(unsigned usec);
MMAPKIT__HIDDEN const char *mmapkit__sys_name(enum mmapkit__sysno sys);
#else
extern const struct mmapkit__sys mmapkit__sys MMAPKIT__HIDDEN;
#endif

/*
 * What the running kernel offers, learned once by a probe (probe.c) and kept
 * in a global set once, atomically: the kernel makes these facts global.
 * The test build can pretend to be an older kernel (mmapkit__kernel_pretend),
 * so that the suite runs the fallback paths too.
 */
enum mmapkit__feature {
	MMAPKIT__F_MREMAP_CHECKS_FIRST, /* a failing mremap(MREMAP_FIXED) leaves the
					 * destination mapped (mainline: 6.17; the test
					 * build's model: 6.12, see docs/design.md) */
	MMAPKIT__F_MREMAP_MULTI_VMA,    /* 6.17: one mremap moves a source of several VMAs */
	MMAPKIT__F_GUARD_INSTALL,       /* 6.13: MADV_GUARD_INSTALL */
	MMAPKIT__F_MFD_NOEXEC_SEAL,     /* 6.3: memfd_create(MFD_NOEXEC_SEAL) */
	MMAPKIT__F_CACHESTAT,           /* 6.5: cachestat(2) */
	MMAPKIT__F_PROCMAP_QUERY,       /* 6.11: ioctl(PROCMAP_QUERY) on /proc/self/maps */
	MMAPKIT__F_ANON_NAME,           /* prctl(PR_SET_VMA_ANON_NAME) (CONFIG_ANON_VMA_NAME) */
	MMAPKIT__F_MEMFD_SECRET,        /* memfd_secret(2) enabled */
	MMAPKIT__F_GUARD_FILE,          /* 6.15: MADV_GUARD_INSTALL in file, shmem and
					 * read-only mappings too */
	MMAPKIT__F_FIXED_NOREPLACE,     /* 4.17: MAP_FIXED_NOREPLACE (before: a hint) */
	MMAPKIT__F_COUNT
};
MMAPKIT__HIDDEN bool mmapkit__kernel_has(enum mmapkit__feature f);
#ifdef MMAPKIT_TESTING
/*
 * Test build only: answer as kernel `major.minor` would (features newer than
 * it are absent; 0.0 forgets the pretence), or force one feature (-1 forgets).
 * MMAPKIT_PRETEND_KERNEL=6.1 in the environment does the first at start-up.
 */
MMAPKIT__HIDDEN void mmapkit__kernel_pretend(unsigned major, unsigned minor);
MMAPKIT__HIDDEN void mmapkit__kernel_force(enum mmapkit__feature f, int has);
/*
 * Test build only: forget what the probes learned; the next probe of mremap's
 * order asks move (a stand-in for mremap(2)) instead of the kernel, or the
 * kernel again when move is NULL.
 */
MMAPKIT__HIDDEN void mmapkit__kernel_reprobe(void *(*move)(void *old, size_t old_len,
							    size_t new_len, int flags,
							    void *new_addr));
/* Test build only: a pretence (version or forced feature) is in force. */
MMAPKIT__HIDDEN bool mmapkit__kernel_pretending(void);
#endif

/*
 * Per-page attributes the handle remembers, so that pages replaced by punch
 * or revert get exactly what the pages they replace had.
 */
enum {
	MMAPKIT__A_READ = 1u << 0,
	MMAPKIT__A_WRITE = 1u << 1,
	MMAPKIT__A_EXEC = 1u << 2,
	MMAPKIT__A_LOCKED = 1u << 3,
	MMAPKIT__A_ONFAULT = 1u << 4, /* with LOCKED: locked on fault */
	MMAPKIT__A_DONTFORK = 1u << 5,
	MMAPKIT__A_WIPEONFORK = 1u << 6,
	MMAPKIT__A_DONTDUMP = 1u << 7,
	MMAPKIT__A_HUGEPAGE = 1u << 8,
	MMAPKIT__A_NOHUGEPAGE = 1u << 9,
	MMAPKIT__A_RANDOM = 1u << 10,
	MMAPKIT__A_SEQUENTIAL = 1u << 11,
	MMAPKIT__A_ANON = 1u << 12, /* file private page replaced by anonymous memory */
	MMAPKIT__A_GONE = 1u << 13, /* not in this process: it was DONTFORK at a fork()
				     * between the process that made the handle and this one */
	/*
	 * Pages added by mmapkit_resize are a mapping of their own (for anonymous
	 * shared memory a shmem object of its own), which the kernel may keep a
	 * VMA apart: the bit alternates from one such segment to the next, so that
	 * a run never spans two of them and moves go VMA by VMA.
	 */
	MMAPKIT__A_SEGMENT = 1u << 14,
};
#define MMAPKIT__A_PROT (MMAPKIT__A_READ | MMAPKIT__A_WRITE | MMAPKIT__A_EXEC)
#define MMAPKIT__A_LOCK (MMAPKIT__A_LOCKED | MMAPKIT__A_ONFAULT)
#define MMAPKIT__A_ADVICE                                                                  \
	(MMAPKIT__A_DONTFORK | MMAPKIT__A_WIPEONFORK | MMAPKIT__A_DONTDUMP |               \
	 MMAPKIT__A_HUGEPAGE | MMAPKIT__A_NOHUGEPAGE | MMAPKIT__A_RANDOM |                 \
	 MMAPKIT__A_SEQUENTIAL)

/* A run of pages [page, next run's page) sharing one attribute set. */
struct mmapkit__run {
	size_t page;
	uint32_t attr;
};

#define MMAPKIT__INLINE_RUNS 4

struct mmapkit_map {
	unsigned char *base;    /* first mapped page (after the front guard) */
	size_t map_len;         /* mapped bytes, a multiple of gran */
	size_t delta;           /* mmapkit_ptr() == base + delta */
	size_t len;             /* bytes in the range */
	uint64_t offset;        /* file offset of mmapkit_ptr() */
	size_t gran;            /* page size, or huge page size for HUGETLB */
	size_t guard;           /* bytes of guard on each side, 0 without GUARD */
	size_t guard_extra;     /* inaccessible bytes past the back guard that the handle
				 * still holds (a shrink whose trimming munmap failed) */
	char *name;             /* mmapkit_name(): re-applied to pages added later */
	bool guard_light;       /* the front guard is an MADV_GUARD_INSTALL marker inside
				 * the pages' VMA, not a PROT_NONE mapping of its own */
	bool back_light;        /* the back guard, likewise (a resize makes it a mapping) */
	pid_t guard_pid;        /* light guards made DONTFORK by the constructor: the
				 * process that has them (no other ever does) */
	int kind;
	unsigned flags;
	int fd;                 /* owned descriptor, -1 for anonymous kinds */
	char *created_path;     /* file this handle created, for SYNC_FULL (where /proc
				 * cannot say where it is now); else NULL */
	atomic_bool dir_synced; /* created_path's directory entry made durable; atomic:
				 * concurrent mmapkit_sync calls may set it */
	pid_t pid;              /* process whose pages the runs describe; kept (and
				 * read) only while some page is DONTFORK (fork.c) */
	uint32_t attr_any;      /* union of every run's attributes */
	bool ring;              /* mmapkit_ring: map_len is 2 * len, the same pages twice */
	size_t nruns, cap;
	struct mmapkit__run *runs; /* inline_runs or heap */
	struct mmapkit__run inline_runs[MMAPKIT__INLINE_RUNS];
};

/* error.c */
MMAPKIT__HIDDEN int mmapkit__fail(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
MMAPKIT__HIDDEN int mmapkit__fail_sys(int err, const char *call, const char *step,
				      const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Appends "; " and a hint (what the caller can do instead) to the message just set. */
MMAPKIT__HIDDEN int mmapkit__fail_hint(int ret, const char *hint);

/* map.c */
MMAPKIT__HIDDEN size_t mmapkit__page(void);
MMAPKIT__HIDDEN uint32_t mmapkit__prot_attr(int prot);
MMAPKIT__HIDDEN int mmapkit__attr_prot(uint32_t attr);
MMAPKIT__HIDDEN bool mmapkit__is_file(const mmapkit_map *m);
MMAPKIT__HIDDEN int mmapkit__map_prot(unsigned flags);
MMAPKIT__HIDDEN int mmapkit__map_flags(const mmapkit_map *m);
MMAPKIT__HIDDEN int mmapkit__guard_flags(const mmapkit_map *m);
MMAPKIT__HIDDEN uint32_t mmapkit__initial_attr(unsigned flags);
MMAPKIT__HIDDEN int mmapkit__apply_flags(mmapkit_map *m, const char *call, unsigned char *at,
					 size_t len);
/* The size of the file behind a file handle; *sized false where it has none (char devices). */
MMAPKIT__HIDDEN int mmapkit__file_size(const mmapkit_map *m, const char *call, uint64_t *size,
				       bool *regular, bool *sized);

/* name.c: label [at, at + len) with the handle's name (no-op without one). */
MMAPKIT__HIDDEN int mmapkit__name_apply(const mmapkit_map *m, const char *call,
					unsigned char *at, size_t len);
/* Best effort: [at, len) (a data page become a guard) loses the handle's name. */
MMAPKIT__HIDDEN void mmapkit__name_clear(const mmapkit_map *m, unsigned char *at, size_t len);

/*
 * map.c: the constructor run behind the 0.2 constructors.  With a, the handle
 * takes over a->fd (no duplicate; on failure the descriptor is left open, the
 * caller's to clean up), of known size when a->sized (no fstat), mapped as a
 * ring when a->ring.
 */
struct mmapkit__adopt {
	int fd;
	bool sized;
	uint64_t size;
	bool ring;
};
MMAPKIT__HIDDEN int mmapkit__ctor(mmapkit_map **out, const struct mmapkit_opts *o,
				  const char *call, const struct mmapkit__adopt *a);

/* ring.c: map a ring's pages (m->fd, m->len twice) at a new reservation. */
MMAPKIT__HIDDEN int mmapkit__ring_pages(mmapkit_map *m, const char *call, int prot, int flags);
MMAPKIT__HIDDEN int mmapkit__ring_check(const char *call, size_t len, unsigned flags);
MMAPKIT__HIDDEN int mmapkit__ring_adopt(mmapkit_map **out, const char *call, int fd, size_t len,
					unsigned flags);

/* share.c */
/* A new sealable memfd of len bytes; the descriptor, or -errno (message set). */
MMAPKIT__HIDDEN int mmapkit__memfd_new(const char *call, const char *name, size_t len);
/* fd's seals as MMAPKIT_SEAL_* bits (0 for a file that cannot be sealed); or -errno. */
MMAPKIT__HIDDEN int mmapkit__seals_get(const char *call, int fd, unsigned *seals);
/* The flags a received or new shared file handle may take (-EINVAL otherwise). */
MMAPKIT__HIDDEN int mmapkit__share_flags(const char *call, unsigned flags);

/* runs.c */
MMAPKIT__HIDDEN void mmapkit__runs_init(mmapkit_map *m, uint32_t attr);
MMAPKIT__HIDDEN void mmapkit__runs_free(mmapkit_map *m);
MMAPKIT__HIDDEN int mmapkit__runs_reserve(mmapkit_map *m, size_t extra);
MMAPKIT__HIDDEN void mmapkit__runs_set(mmapkit_map *m, size_t p0, size_t p1, uint32_t mask,
				       uint32_t val);
MMAPKIT__HIDDEN uint32_t mmapkit__runs_any(const mmapkit_map *m, size_t p0, size_t p1);
MMAPKIT__HIDDEN uint32_t mmapkit__runs_all(const mmapkit_map *m, size_t p0, size_t p1);
MMAPKIT__HIDDEN size_t mmapkit__runs_find(const mmapkit_map *m, size_t page);
MMAPKIT__HIDDEN size_t mmapkit__runs_end(const mmapkit_map *m, size_t i);
MMAPKIT__HIDDEN void mmapkit__runs_recode(mmapkit_map *m, uint32_t from, uint32_t to);
/* The handle shrank to or grew from npages: drop runs past it / start one for new pages. */
MMAPKIT__HIDDEN void mmapkit__runs_truncate(mmapkit_map *m, size_t npages);
MMAPKIT__HIDDEN void mmapkit__runs_append(mmapkit_map *m, size_t page, uint32_t attr);

/* span.c: a resolved range, bytes [a, z) from m->base; all zero for an empty range. */
struct mmapkit__span {
	size_t a, z;
	size_t p0, p1; /* pages containing the range */
	size_t w0, w1; /* whole pages inside the range (w0 == w1: none) */
};
MMAPKIT__HIDDEN int mmapkit__span_resolve(const mmapkit_map *m, const char *call, size_t off,
					  size_t len, struct mmapkit__span *s);
MMAPKIT__HIDDEN bool mmapkit__is_private(const mmapkit_map *m);
MMAPKIT__HIDDEN unsigned char *mmapkit__page_addr(const mmapkit_map *m, size_t page);
MMAPKIT__HIDDEN size_t mmapkit__pages_len(const mmapkit_map *m, size_t p0, size_t p1);
MMAPKIT__HIDDEN int mmapkit__null_handle(const char *call);
MMAPKIT__HIDDEN int mmapkit__wrong_kind(const mmapkit_map *m, const char *call, const char *why);
MMAPKIT__HIDDEN void mmapkit__reprotect(mmapkit_map *m, size_t p0, size_t p1);
MMAPKIT__HIDDEN int mmapkit__relock(mmapkit_map *m, const char *call, size_t p0, size_t p1);

/* fork.c: pages a fork() child does not have. */
MMAPKIT__HIDDEN int mmapkit__fork_check(const mmapkit_map *m, const char *call, size_t p0,
					size_t p1);
MMAPKIT__HIDDEN void mmapkit__fork_own(mmapkit_map *m);
MMAPKIT__HIDDEN int mmapkit__fork_own_check(mmapkit_map *m, const char *call, size_t p0,
					    size_t p1);
MMAPKIT__HIDDEN bool mmapkit__fork_unmap(mmapkit_map *m);
/* copy.c: the SIGBUS handler, as mmapkit(7) describes it */
MMAPKIT__HIDDEN bool mmapkit__sigbus_installed(void);
#ifdef MMAPKIT_TESTING
/* Test build only: put back the disposition found at installation; the next copy installs anew. */
MMAPKIT__HIDDEN void mmapkit__sigbus_forget(void);
/* Test build only: slots of the copy table held by threads (lib/copy.c). */
MMAPKIT__HIDDEN unsigned mmapkit__copy_slots_used(void);
#endif
/*
 * MMAPKIT_SECURE: zero pages [p0, p1) before they go (explicit_bzero); pages
 * that are not writable are made so (mmapkit__reprotect undoes it).
 */
MMAPKIT__HIDDEN void mmapkit__wipe(mmapkit_map *m, size_t p0, size_t p1);
/* The page attributes that mark pages this process does not have (0: it has them all). */
MMAPKIT__HIDDEN uint32_t mmapkit__fork_absent(const mmapkit_map *m);

/* replace.c */
MMAPKIT__HIDDEN bool mmapkit__replace_moves(void);
MMAPKIT__HIDDEN int mmapkit__replace(mmapkit_map *m, const char *call, size_t p0, size_t p1,
				     bool from_file, size_t *done);
/*
 * Every page of a shared file handle mapped again from fd, the protections
 * less `drop`; *done as for mmapkit__replace.
 */
MMAPKIT__HIDDEN int mmapkit__replace_shared(mmapkit_map *m, const char *call, int fd,
					    uint32_t drop, size_t *done);

#endif
