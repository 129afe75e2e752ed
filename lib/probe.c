/* SPDX-License-Identifier: MIT */
/*
 * What the running kernel offers.  Each feature is probed once, on first use,
 * by asking the kernel on memory or descriptors the library owns (never by
 * trusting uname alone), and the answer is stored once, atomically: racing
 * probes store the same answer.  docs/design.md lists how each is probed.
 *
 * The test build can pretend to be an older kernel, so that the suite runs the
 * fallback of every feature on a new kernel: mmapkit__kernel_pretend(6, 1), or
 * MMAPKIT_PRETEND_KERNEL=6.1 in the environment.
 */
#define _GNU_SOURCE
#include <bsd/stdlib.h>
#include <bsd/string.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

/* cachestat(2) answers for a memfd of our own (ENOSYS before 6.5). */
static bool probe_cachestat(void)
{
	uint64_t range[2] = {0, 0}, cs[5];
	int fd = memfd_create("mmapkit-probe", MFD_CLOEXEC);
	bool ok;

	if (fd < 0)
		return false;
	ok = syscall(SYS_cachestat, fd, range, cs, 0) == 0;
	close(fd);
	return ok;
}

/* Naming a scratch page works (EINVAL without CONFIG_ANON_VMA_NAME). */
static bool probe_anon_name(void)
{
	size_t len = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, len,
		   (unsigned long)"mmapkit-probe") == 0;
	munmap(p, len);
	return ok;
}

/* MADV_GUARD_INSTALL on the middle page of three of anonymous private memory. */
static bool probe_guard_install(void)
{
	size_t pg = mmapkit__page();
	unsigned char *p = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = madvise(p + pg, pg, MADV_GUARD_INSTALL) == 0;
	munmap(p, 3 * pg);
	return ok;
}

/*
 * 6.15 lets guards into file and shmem mappings, read-only ones included:
 * try a shared writable and a private read-only mapping of a memfd.
 */
static bool probe_guard_file(void)
{
	size_t pg = mmapkit__page();
	int fd = memfd_create("mmapkit-probe", MFD_CLOEXEC);
	unsigned char *s, *r;
	bool ok = false;

	if (fd < 0)
		return false;
	if (ftruncate(fd, (off_t)(2 * pg)) == 0) {
		s = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		r = mmap(NULL, 2 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
		ok = s != MAP_FAILED && r != MAP_FAILED &&
		     madvise(s, pg, MADV_GUARD_INSTALL) == 0 &&
		     madvise(r + pg, pg, MADV_GUARD_INSTALL) == 0;
		if (s != MAP_FAILED)
			munmap(s, 2 * pg);
		if (r != MAP_FAILED)
			munmap(r, 2 * pg);
	}
	close(fd);
	return ok;
}

/* memfd_secret(2): absent (ENOSYS) unless built in and enabled (secretmem.enable). */
static bool probe_memfd_secret(void)
{
#ifdef SYS_memfd_secret
	int fd = (int)syscall(SYS_memfd_secret, O_CLOEXEC);

	if (fd < 0)
		return false;
	close(fd);
	return true;
#else
	return false;
#endif
}

/* Kernels before 4.17 take MAP_FIXED_NOREPLACE as a hint: ask for a mapped page. */
static bool probe_fixed_noreplace(void)
{
	size_t pg = mmapkit__page();
	void *p = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *q;
	bool ok;

	if (p == MAP_FAILED)
		return false;
	q = mmap(p, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
		 MAP_FIXED_NOREPLACE, -1, 0);
	ok = q == MAP_FAILED && errno == EEXIST;
	if (q != MAP_FAILED && q != p)
		munmap(q, pg);
	munmap(p, pg);
	return ok;
}

/* 0: not probed yet; 1: absent; 2: present. */
static int known[MMAPKIT__F_COUNT];

struct feature {
	const char *name;
	unsigned major, minor; /* the first mainline kernel with it */
	bool (*probe)(void);
};

/* Does /proc/self/maps show one mapping of inode `ino` over all of [a, z)? */
static bool maps_has(uintptr_t a, uintptr_t z, unsigned long ino)
{
	FILE *fp = fopen("/proc/self/maps", "re");
	char line[256];
	bool found = false, at_start = true;

	if (!fp)
		return false;
	while (!found && fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi, inode;
		bool whole = strchr(line, '\n') != NULL;

		/* only the start of a line (a long path comes in several pieces) */
		if (at_start && sscanf(line, "%lx-%lx %*s %*s %*s %lu", &lo, &hi, &inode) == 3)
			found = lo <= a && z <= hi && inode == ino;
		at_start = whole;
	}
	fclose(fp);
	return found;
}

/*
 * How this kernel's mremap(MREMAP_FIXED) treats a source of several VMAs,
 * learned once on scratch memory of the probe's own: two pages of different
 * protections (two VMAs) are moved over two pages of a memfd mapping, which
 * /proc/self/maps tells from any other mapping by the memfd's inode.
 *   - moved: one call moves several VMAs (6.17 on; there every check comes
 *     before the destination is unmapped);
 *   - EFAULT, the destination still the memfd's: one VMA per call, and the
 *     check came first (EINVAL likewise: valgrind, which refuses a move
 *     across its segments before it touches anything; no kernel answers
 *     EINVAL to this call);
 *   - EFAULT (or anything else), the destination gone: the kernel unmapped
 *     it before it checked.  Another thread may have mapped that hole by now,
 *     so the probe leaves it alone, and the library never again issues a
 *     call whose failure could do that to the handle's pages.
 * Bits: 1 probed, 2 checks first, 4 several VMAs.  Racing probes agree.
 */
static int mremap_order;

#ifdef MMAPKIT_TESTING
/* The test build can stand in for the kernel's answer (mmapkit__kernel_reprobe). */
static void *(*probe_move)(void *old, size_t old_len, size_t new_len, int flags, void *new_addr);
#endif

static void *probe_mremap_call(void *src, size_t len, void *dst)
{
#ifdef MMAPKIT_TESTING
	void *(*fn)(void *, size_t, size_t, int, void *) = __atomic_load_n(&probe_move,
									    __ATOMIC_ACQUIRE);

	if (fn)
		return fn(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
#endif
	return mremap(src, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, dst);
}

static int probe_mremap(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	int v = __atomic_load_n(&mremap_order, __ATOMIC_ACQUIRE), fd;
	unsigned char *src, *dst;
	struct stat st;

	if (v)
		return v;
	v = 1;
	fd = memfd_create("mmapkit-probe", MFD_CLOEXEC);
	if (fd < 0)
		goto done;
	dst = fstat(fd, &st) == 0 && ftruncate(fd, (off_t)(2 * pg)) == 0
		      ? mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)
		      : MAP_FAILED;
	close(fd);
	if (dst == MAP_FAILED)
		goto done;
	src = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || mprotect(src + pg, pg, PROT_READ) < 0) {
		if (src != MAP_FAILED)
			munmap(src, 2 * pg);
		munmap(dst, 2 * pg);
		goto done;
	}
	if (probe_mremap_call(src, 2 * pg, dst) != MAP_FAILED) {
		v |= 2 | 4;
		munmap(dst, 2 * pg); /* the moved pages; src is a hole now, not ours */
		goto done;
	}
	if (maps_has((uintptr_t)dst, (uintptr_t)dst + 2 * pg, (unsigned long)st.st_ino)) {
		if (errno == EFAULT || errno == EINVAL)
			v |= 2;
		munmap(dst, 2 * pg);
	}
	munmap(src, 2 * pg); /* a failed move leaves its source in place */
done:
	__atomic_store_n(&mremap_order, v, __ATOMIC_RELEASE);
	return v;
}

static bool probe_checks_first(void)
{
	return probe_mremap() & 2;
}

static bool probe_multi_vma(void)
{
	return probe_mremap() & 4;
}

/* memfd_create(MFD_NOEXEC_SEAL) on a scratch memfd: older kernels answer EINVAL. */
static bool probe_mfd_noexec_seal(void)
{
	int fd = memfd_create("mmapkit-probe", MFD_CLOEXEC | MFD_ALLOW_SEALING | 0x0008U);

	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/*
 * Until a feature has a probe of its own it counts as absent: the library
 * then takes the path that works on every kernel.  The versions serve the
 * test build's pretence; the probes decide on a real kernel.
 */
static const struct feature features[MMAPKIT__F_COUNT] = {
	[MMAPKIT__F_MREMAP_CHECKS_FIRST] = {"mremap checks before unmapping", 6, 12,
					    probe_checks_first},
	[MMAPKIT__F_MREMAP_MULTI_VMA] = {"mremap of several VMAs", 6, 17, probe_multi_vma},
	[MMAPKIT__F_GUARD_INSTALL] = {"MADV_GUARD_INSTALL", 6, 13, probe_guard_install},
	[MMAPKIT__F_MFD_NOEXEC_SEAL] = {"MFD_NOEXEC_SEAL", 6, 3, probe_mfd_noexec_seal},
	[MMAPKIT__F_CACHESTAT] = {"cachestat", 6, 5, probe_cachestat},
	[MMAPKIT__F_PROCMAP_QUERY] = {"PROCMAP_QUERY", 6, 11, NULL},
	[MMAPKIT__F_ANON_NAME] = {"PR_SET_VMA_ANON_NAME", 5, 17, probe_anon_name},
	[MMAPKIT__F_MEMFD_SECRET] = {"memfd_secret", 5, 14, probe_memfd_secret},
	[MMAPKIT__F_GUARD_FILE] = {"MADV_GUARD_INSTALL in file mappings", 6, 15,
				   probe_guard_file},
	[MMAPKIT__F_FIXED_NOREPLACE] = {"MAP_FIXED_NOREPLACE", 4, 17, probe_fixed_noreplace},
};

#ifdef MMAPKIT_TESTING
/* Pretence of the test build: features newer than this version read as absent. */
static unsigned pretend_major, pretend_minor;
static int forced[MMAPKIT__F_COUNT]; /* 0: not forced; 1: absent; 2: present */
static int pretend_read;

void mmapkit__kernel_pretend(unsigned major, unsigned minor)
{
	__atomic_store_n(&pretend_read, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&pretend_major, major, __ATOMIC_RELAXED);
	__atomic_store_n(&pretend_minor, minor, __ATOMIC_RELAXED);
}

void mmapkit__kernel_force(enum mmapkit__feature f, int has)
{
	__atomic_store_n(&forced[f], has < 0 ? 0 : has ? 2 : 1, __ATOMIC_RELAXED);
}

/*
 * MMAPKIT_PRETEND_KERNEL=MAJOR.MINOR.  A value that is not one is said on
 * stderr (the test build only) and ignored: a suite run must not believe it
 * pretends when it does not.
 */
static void pretend_from_env(void)
{
	const char *v, *why = NULL;
	char buf[32], *dot;
	long long major = 0, minor = 0;

	if (__atomic_exchange_n(&pretend_read, 1, __ATOMIC_RELAXED))
		return;
	v = getenv("MMAPKIT_PRETEND_KERNEL");
	if (!v || !*v)
		return;
	strlcpy(buf, v, sizeof(buf));
	dot = strchr(buf, '.');
	if (!dot)
		why = "no MAJOR.MINOR";
	else
		*dot = '\0';
	if (!why)
		major = strtonum(buf, 1, 99, &why);
	if (!why)
		minor = strtonum(dot + 1, 0, 999, &why);
	if (why) {
		fprintf(stderr, "mmapkit (test build): MMAPKIT_PRETEND_KERNEL=%s: %s; ignored\n", v,
			why);
		return;
	}
	mmapkit__kernel_pretend((unsigned)major, (unsigned)minor);
}

void mmapkit__kernel_reprobe(void *(*move)(void *old, size_t old_len, size_t new_len, int flags,
					    void *new_addr))
{
	__atomic_store_n(&probe_move, move, __ATOMIC_RELEASE);
	__atomic_store_n(&mremap_order, 0, __ATOMIC_RELEASE);
	for (int f = 0; f < MMAPKIT__F_COUNT; f++)
		__atomic_store_n(&known[f], 0, __ATOMIC_RELEASE);
}

bool mmapkit__kernel_pretending(void)
{
	pretend_from_env();
	if (__atomic_load_n(&pretend_major, __ATOMIC_RELAXED) ||
	    __atomic_load_n(&pretend_minor, __ATOMIC_RELAXED))
		return true;
	for (int f = 0; f < MMAPKIT__F_COUNT; f++)
		if (__atomic_load_n(&forced[f], __ATOMIC_RELAXED))
			return true;
	return false;
}

/* 0: no pretence applies; else 1 (absent) or 2 (present, as far as pretence goes). */
static int pretended(enum mmapkit__feature f)
{
	unsigned major, minor;
	int v = __atomic_load_n(&forced[f], __ATOMIC_RELAXED);

	if (v)
		return v;
	pretend_from_env();
	major = __atomic_load_n(&pretend_major, __ATOMIC_RELAXED);
	minor = __atomic_load_n(&pretend_minor, __ATOMIC_RELAXED);
	if (!major && !minor)
		return 0;
	if (features[f].major > major || (features[f].major == major && features[f].minor > minor))
		return 1;
	return 0;
}
#endif

bool mmapkit__kernel_has(enum mmapkit__feature f)
{
	int v;

#ifdef MMAPKIT_TESTING
	v = pretended(f);
	if (v == 1)
		return false;
	if (v == 2)
		return true;
#endif
	v = __atomic_load_n(&known[f], __ATOMIC_ACQUIRE);
	if (!v) {
		v = features[f].probe && features[f].probe() ? 2 : 1;
		__atomic_store_n(&known[f], v, __ATOMIC_RELEASE);
	}
	return v == 2;
}
