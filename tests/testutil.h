/* SPDX-License-Identifier: MIT */
/* Helpers shared by the Check suites: leak snapshots, temp files, page state, children. */
#ifndef MMAPKIT_TESTUTIL_H
#define MMAPKIT_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmapkit.h"

/* Open descriptors (/proc/self/fd) and mappings (/proc/self/maps lines but [heap]) now. */
int tu_count_fds(void);
int tu_count_maps(void);

/* A snapshot of both, to assert that a call leaked neither. */
struct tu_snap {
	int fds;
	int maps;
};
struct tu_snap tu_snap(void);
/*
 * Whether the maps count finds leaks: not under AddressSanitizer or
 * ThreadSanitizer (decided at compile time: their runtimes map memory of their
 * own at any time; LeakSanitizer checks the heap there), nor under valgrind
 * (decided at run time: the tool maps memory of its own in the process).  The
 * plain build runs every test in its own process and compares the count.
 * Building with -DTU_MAPS_RELIABLE=0 turns the count off, too.
 */
#if defined(TU_MAPS_RELIABLE)
#if TU_MAPS_RELIABLE
#define TU_MAPS_COUNTABLE 1
#else
#define TU_MAPS_COUNTABLE 0
#endif
#undef TU_MAPS_RELIABLE
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define TU_MAPS_COUNTABLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define TU_MAPS_COUNTABLE 0
#endif
#endif
#ifndef TU_MAPS_COUNTABLE
#define TU_MAPS_COUNTABLE 1
#endif

/*
 * Running under valgrind: RUNNING_ON_VALGRIND (when <valgrind/valgrind.h> was
 * there at build time), or MMAPKIT_VALGRIND set to anything but "" or "0"
 * (tests/run_valgrind.sh sets it).
 */
bool tu_on_valgrind(void);

static inline bool tu_maps_reliable(void)
{
	return TU_MAPS_COUNTABLE && !tu_on_valgrind();
}
/* The older spelling, an expression now. */
#define TU_MAPS_RELIABLE tu_maps_reliable()

#define TU_ASSERT_NO_LEAK(s)                                                                \
	do {                                                                                \
		ck_assert_int_eq(tu_count_fds(), (s).fds);                                  \
		if (tu_maps_reliable())                                                     \
			ck_assert_int_eq(tu_count_maps(), (s).maps);                        \
	} while (0)

/*
 * MMAPKIT_LOCK_ONFAULT needs mlock2(), which valgrind 3.19 does not implement
 * (ENOSYS; glibc's wrapper turns that into EINVAL).  tu_skip_lock_onfault()
 * is true there only, so the step is skipped under valgrind and asserted
 * everywhere else; it prints a note, naming what, once per process.
 */
bool tu_skip_lock_onfault(const char *what);
/*
 * Punch and revert of MMAPKIT_FILE_PRIVATE pages with different protections
 * move the replacement with one mremap() across several mappings; valgrind
 * 3.19 refuses that (EINVAL: it handles mremap itself, within one of its
 * segments, which split by protection).  Like tu_skip_lock_onfault: true
 * there only.
 */
bool tu_skip_mremap_across(const char *what);
/*
 * A fork() child mapping memory where its parent's MADV_DONTFORK pages were:
 * valgrind 3.19 refuses it (its record of the address space still has them).
 * Like tu_skip_lock_onfault: true there only.
 */
bool tu_skip_dontfork_hole(const char *what);

/* The number of elements of an array. */
#define TU_LEN(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Compares one byte without a ck_assert when it is right: Check makes a
 * write(2) for every ck_assert that passes, too slow for every byte of a page.
 */
#define TU_BYTE_EQ(got, want, i)                                                            \
	do {                                                                                \
		unsigned g_ = (got), w_ = (want);                                           \
		if (g_ != w_)                                                               \
			ck_abort_msg("byte %lld is %u, want %u", (long long)(i), g_, w_);   \
	} while (0)

/* The byte the test pattern has at file offset i (never 0, so zeros stand out). */
unsigned char tu_pattern(uint64_t i);
/* buf[0, n) = the pattern bytes of offsets [off, off + n). */
void tu_fill_pattern(unsigned char *buf, uint64_t off, size_t n);
/* A byte that is neither 0 nor the pattern byte at i. */
unsigned char tu_other(uint64_t i);

/*
 * A fresh file of `size` pattern bytes in the per-process temp directory;
 * returns its path (one of 64 static slots; the directory is removed at exit).
 */
const char *tu_file(size_t size);
/* A path in the temp directory that does not exist yet. */
const char *tu_path(const char *name);
/* The temp directory itself. */
const char *tu_dir(void);
/* Read a whole file's size and bytes at [off, off+n). */
uint64_t tu_file_size(const char *path);
void tu_pread(const char *path, uint64_t off, void *buf, size_t n);

/*
 * The file's bytes [off, off + n) are want[0, n), compared one by one (read
 * with pread, not through a mapping); tu_assert_file_is also checks that the
 * file is exactly n bytes.  A difference aborts naming what and the offset.
 */
void tu_assert_file_at(const char *path, uint64_t off, const unsigned char *want, size_t n,
		       const char *what);
void tu_assert_file_is(const char *path, const unsigned char *want, size_t n, const char *what);

/* What a path held at one moment: whether it existed, its size and its bytes. */
struct tu_fstate {
	bool exists;
	uint64_t size;
	unsigned char *bytes;
};
/* path may be NULL (nothing there). */
struct tu_fstate tu_fstate_take(const char *path);
void tu_fstate_free(struct tu_fstate *f);
/* now is exactly was (existence, size, every byte); aborts at the first difference. */
void tu_fstate_eq(const struct tu_fstate *was, const struct tu_fstate *now, const char *what);
/* The path still holds what was took; frees was. */
void tu_fstate_check(const char *path, struct tu_fstate *was, const char *what);

/* Resident pages of [addr, addr+len) according to mincore(). */
size_t tu_resident_pages(const void *addr, size_t len);

/*
 * The smaps entry of the mapping holding addr: VmFlags (two-letter codes,
 * space separated, copied into flags) and a numeric field in kB ("Rss", ...).
 */
bool tu_vmflags(const void *addr, char *flags, size_t cap);
bool tu_has_vmflag(const void *addr, const char *code);
long tu_smaps_kb(const void *addr, const char *field);
/* The permissions ("rw-p") of the mapping holding addr, from /proc/self/maps; "" if none. */
void tu_perms(const void *addr, char out[5]);

/* /proc/self/maps lines that overlap [lo, hi); whether a and b lie in one line. */
int tu_maps_lines(const void *lo, const void *hi);
bool tu_same_mapping(const void *a, const void *b);
/*
 * The guard pages of a handle with these flags, whose first page maps file
 * offset map_off, are light (MADV_GUARD_INSTALL markers inside its one
 * mapping) on this kernel, or what the test build pretends: anonymous private
 * writable memory from 6.13, other kinds from 6.15 (file kinds from their
 * second file page on); never for HUGETLB or SECRET, nor for WIPEONFORK
 * without SECURE.
 */
bool tu_light_guards_expected(int kind, uint64_t map_off, unsigned flags);
/*
 * Whether mmapkit_punch writes the zeros of MMAPKIT_FILE_PRIVATE pages in place
 * on this kernel, or on the one the test build pretends (mmapkit_punch(3)
 * BUGS): where a failing mremap(MREMAP_FIXED) or mmap(MAP_FIXED) may unmap
 * its destination first, that is, where the kernel does not check before it
 * unmaps (mainline before 6.17; the 6.1 model).  There the pages stay mapped
 * from the file, stay resident, cost no system call, and a whole page that is
 * not writable makes the punch fail with -EACCES.  Elsewhere they are replaced
 * by anonymous zero pages that hold no memory.
 */
bool tu_punch_in_place(void);
/*
 * /proc/self/maps lines of such a handle's pages and guard pages: 1 with light
 * guards, 3 with guard mappings of their own, and 3 with light guards and
 * MMAPKIT_LOCK where mlock2 is missing (valgrind): the data pages locked alone.
 */
int tu_guard_span_lines(int kind, uint64_t map_off, unsigned flags);

/*
 * Run fn(arg) in a forked child with a 10 s alarm; returns the wait status.
 * TU_EXITED(st, code) / TU_KILLED(st, sig) test it.
 */
int tu_child(void (*fn)(void *), void *arg);
#define TU_EXITED(st, code) (WIFEXITED(st) && WEXITSTATUS(st) == (code))
#define TU_KILLED(st, sig) (WIFSIGNALED(st) && WTERMSIG(st) == (sig))

/*
 * Runs a helper program of the test build, without arguments: the one the
 * environment variable env names, else path; asserts that it exits 0 (it
 * writes its reasons on stderr).
 */
void tu_run_helper(const char *env, const char *path);

/*
 * Check's assertions must not run in a grandchild: a child reports the first
 * failed condition (and mmapkit_errmsg()) on stderr and exits 1, so that the
 * parent's assertion on its status fails.
 */
#define TU_CHILD_OK(cond)                                                                   \
	do {                                                                                \
		if (!(cond))                                                                \
			tu_child_fail(__FILE__, __LINE__, #cond);                           \
	} while (0)
__attribute__((noreturn)) void tu_child_fail(const char *file, int line, const char *what);

/* Does touching *p (read or write) fault?  Tried in a child. */
bool tu_read_faults(const volatile unsigned char *p);
bool tu_write_faults(volatile unsigned char *p);

/*
 * For a child that touches inaccessible memory on purpose: tells valgrind's
 * memcheck not to report it (an "Invalid read" would count as an error of the
 * run).  Elsewhere a no-op.  tu_fault_probes_work() is false under valgrind
 * when <valgrind/valgrind.h> was missing at build time, so that memcheck
 * cannot be told: such probes are then skipped.
 */
void tu_probe_quietly(void);
bool tu_fault_probes_work(void);
/*
 * Reads *p for its fault: the value is kept (volatile), as valgrind drops a
 * load whose value is unused, and with it the fault.
 */
void tu_touch(const volatile unsigned char *p);

/* ---- the four kinds, by their own constructor ---- */

/* "anon private", "anon shared", "file private", "file shared"; "?" for others. */
const char *tu_kind_name(int kind);
bool tu_kind_is_file(int kind);
bool tu_kind_is_shared(int kind);
bool tu_kind_is_private(int kind);
/*
 * Maps with the kind's path constructor (mmapkit_anon_private ...
 * mmapkit_file_shared); path and off are used by the file kinds only.
 */
int tu_map_kind(int kind, mmapkit_map **m, const char *path, uint64_t off, size_t len,
		unsigned flags);

/* ---- every constructor: the six functions, and mmapkit_map_new for each ---- */

enum tu_ctor {
	TU_AP,	/* mmapkit_anon_private */
	TU_AS,	/* mmapkit_anon_shared */
	TU_FP,	/* mmapkit_file_private */
	TU_FS,	/* mmapkit_file_shared */
	TU_FDP, /* mmapkit_fd_private */
	TU_FDS, /* mmapkit_fd_shared */
	TU_NEW_AP,
	TU_NEW_AS,
	TU_NEW_FP,
	TU_NEW_FS,
	TU_NEW_FDP,
	TU_NEW_FDS,
	TU_NCTORS
};

struct tu_ctor_info {
	const char *name; /* the function, as mmapkit_errmsg() names it */
	const char *desc; /* for messages: the function, and map_new's kind and target */
	int kind;
	bool by_path; /* takes a path (file kinds) */
	bool by_fd;   /* takes a descriptor */
};

extern const struct tu_ctor_info tu_ctors[TU_NCTORS];
/* Subsets, each in the order of enum tu_ctor. */
extern const int tu_anon_ctors[4]; /* TU_AP, TU_AS, TU_NEW_AP, TU_NEW_AS */
extern const int tu_path_ctors[4]; /* TU_FP, TU_FS, TU_NEW_FP, TU_NEW_FS */
extern const int tu_fd_ctors[4];   /* TU_FDP, TU_FDS, TU_NEW_FDP, TU_NEW_FDS */
extern const int tu_file_ctors[8]; /* every path and fd constructor */

bool tu_ctor_is_file(int c);
/*
 * Calls constructor c (map_new with the struct filled from the arguments);
 * path or fd is used as the constructor takes it.  Asserts nothing, so that
 * threads may call it.
 */
int tu_make(int c, mmapkit_map **m, const char *path, int fd, uint64_t off, size_t len,
	    unsigned flags);

/* The file a constructor maps: a pattern file, and a read-write descriptor for fd ones. */
struct tu_target {
	const char *path; /* NULL for anonymous constructors */
	int fd;		  /* -1 unless the constructor takes a descriptor */
	uint64_t size;
};
struct tu_target tu_target_new(int c, uint64_t size);
/* Closes the descriptor and removes the file (if still there); resets both. */
void tu_target_free(struct tu_target *t);

/*
 * The first handle, and the first failure, of a process may make the
 * allocator map memory (ASan's maps a region per size class): a suite's
 * unchecked fixture does both once before any test takes a leak snapshot, so
 * that a suite run alone counts only what the calls themselves leave behind.
 */
void tu_warm_up(void);
/* A test case of s: timeout in seconds (0: Check's default), tu_warm_up as its fixture. */
TCase *tu_tcase(Suite *s, const char *name, int timeout);

/* ---- error messages ---- */

/* A NULL-terminated list of strings, and a number as text (16 rotating buffers). */
#define TU_NUMS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define TU_NONUMS ((const char *const[]){NULL})
const char *tu_num(uint64_t v);
/* mmapkit_errmsg() names call and holds every string of parts; what leads the failure. */
void tu_assert_errmsg(const char *call, const char *const *parts, const char *what);

/*
 * The byte of the range and its file offset that mmapkit_errmsg() names after
 * a copy answered -EFAULT ("SIGBUS at byte B of the range (file offset F)");
 * false when it names none.  Which byte of a failing page faults first is the
 * copy routine's (memmove's, or a sanitizer's) choice.
 */
bool tu_fault_at(size_t *byte, uint64_t *foff);

/* ---- system-call counters (test build; the caller includes internal.h) ---- */

/* calls[sys] = how often the calling thread made system call sys since the last reset. */
void tu_fault_calls(unsigned *calls);
/* Every failure point of a learnt run: the nth call of sys, for each nth it made. */
#define TU_FOR_EACH_CALL(calls, sys, nth)                                                   \
	for (int sys = 0; sys < MMAPKIT__SYS_COUNT; sys++)                                  \
		for (unsigned nth = 1; nth <= (calls)[sys]; nth++)

/* ---- huge pages (MMAPKIT_HUGETLB) ---- */

/* The number a file such as /proc/sys/vm/nr_hugepages starts with; -1 if none. */
long tu_read_long(const char *path);
/* The default huge page size in bytes (/proc/meminfo's Hugepagesize); 0 if none. */
size_t tu_huge_page_size(void);
/*
 * Adds n huge pages to /proc/sys/vm/nr_hugepages and returns how many the
 * kernel really added (fewer when memory is short; 0 and why, when it cannot:
 * not root, no hugetlb).  tu_huge_release gives them back, relative to the
 * count then (other processes may change it meanwhile): call it on every path,
 * before asserting anything; false if the count could not be written.
 */
long tu_huge_reserve(long n, char *why, size_t cap);
bool tu_huge_release(long got);

/* ---- storage (tu_storage.c): bytes on the device, not in the page cache ---- */

/* A loop device over a file of our own. */
struct tu_loop {
	const char *file; /* the backing file (set by the caller) */
	ino_t ino;	  /* ... and its identity, to tell whether the device is still bound */
	dev_t dev;
	char path[32];	  /* /dev/loopN */
	int fd;		  /* the device, held open until detached */
	char step[64];	  /* the step that failed, for a skip note */
};
/*
 * Binds a free loop device to ld->file with LO_FLAGS_AUTOCLEAR (the kernel
 * detaches it at the last close, even if the test dies): 0, or the errno of
 * the step ld->step names; tu_loop_unavailable(err) says whether that means
 * "no loop devices here" (a skip) rather than a failure.
 */
int tu_loop_attach(struct tu_loop *ld);
bool tu_loop_unavailable(int err);
int tu_loop_detach(struct tu_loop *ld);
/* Is ld->path bound to ld->file?  (Not when unbound, nor when bound to another file.) */
bool tu_loop_bound(const struct tu_loop *ld);

/* A fresh ext4 file system (4 KiB blocks) on a loop device over an image file. */
struct tu_ext4 {
	const char *image; /* the loop device's backing file: what reached the device */
	const char *dev;   /* /dev/loopN */
	const char *mnt;   /* where it is mounted, in the child's own mount namespace */
	void *arg;	   /* tu_ext4_run's */
};
/*
 * Makes the image (mkfs.ext4), attaches it, and runs fn in a tu_child() that
 * mounts the file system in a mount namespace of its own (so that it is
 * unmounted however the child ends); then detaches the device and removes the
 * image and the mount point, on every path.  fn checks with TU_CHILD_OK.
 * Returns true when fn ran and the child exited 0 (else the test fails);
 * false, after printing why ("who: ...; skipped"), when it cannot run: not
 * root, no mkfs.ext4, no loop device, no ext4.
 */
bool tu_ext4_run(const char *who, void (*fn)(const struct tu_ext4 *fs), void *arg);
/*
 * FS_IOC_FIEMAP (without FIEMAP_FLAG_SYNC, which would write the file back):
 * the device offset of fd's byte at off; false when it has no written block
 * of its own (a hole, delayed allocation, unwritten, inline).
 */
bool tu_fiemap(int fd, uint64_t off, uint64_t *dev_off);
/*
 * The n bytes of fd at off, read from fs->image at the blocks FIEMAP names:
 * 1 when they are want[0, n), 0 when they differ (or want is NULL), -1 when a
 * block is missing.
 * For fn of tu_ext4_run only (checks with TU_CHILD_OK).
 */
int tu_on_device(const struct tu_ext4 *fs, int fd, uint64_t off, const unsigned char *want,
		 size_t n);
/* cachestat(2) (Linux 6.5): the page cache's view of fd's bytes [off, off + len). */
struct tu_cachestat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};
/* 0, or -errno (-ENOSYS before 6.5 and under valgrind 3.19). */
int tu_cachestat(int fd, uint64_t off, uint64_t len, struct tu_cachestat *cs);

/* ---- sharing between processes ---- */

/* A connected AF_UNIX SOCK_SEQPACKET pair, close-on-exec. */
void tu_socketpair(int sv[2]);
/* A named shm name unique to this process and call ("/mmapkit-test-PID-N"); 64 slots. */
const char *tu_shm_name(void);
/* Whether /dev/shm holds that name now. */
bool tu_shm_exists(const char *name);

/*
 * A small fault walk for one call (test build): setup() makes a fresh state,
 * run() makes the call; a first run learns its system calls and must succeed
 * (then ok() checks and cleans up).  Then every call position but close (a
 * cleanup step) and getpid (which cannot fail) fails with each errno of errs (0-terminated) in turn: run()
 * must return exactly -errno, name the call in its message, and leave the
 * process's descriptors and mappings as setup() left them; failed() checks
 * the rest and cleans up.  Returns the number of failure points.
 */
struct tu_walk {
	const char *name;
	void (*setup)(void *ctx);
	int (*run)(void *ctx);
	void (*ok)(void *ctx);
	void (*failed)(void *ctx, const char *what);
};
unsigned tu_fault_walk(const struct tu_walk *w, void *ctx, const int *errs);
/*
 * setup and failed for a constructor whose ctx is its mmapkit_map *out: out
 * starts not NULL (the call must set it), and is NULL after every failure.
 */
void tu_walk_out_setup(void *ctx);
void tu_walk_out_failed(void *ctx, const char *what);

#endif
