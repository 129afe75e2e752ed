/* SPDX-License-Identifier: MIT */
/*
 * MMAPKIT_SECURE and MMAPKIT_SECRET: memory for secrets.  Each layer is shown
 * where the kernel makes it observable: locked (VmLck, Locked, `lo`), left
 * out of core dumps (`dd`, and a real core dump searched for the secret),
 * wiped in fork() children (`wf`, a child reads zeros) or absent there
 * (SECRET: SIGSEGV), guard pages, one mapping line per handle on the light
 * path (20,000 handles, against libsodium's sodium_malloc), secretmem in
 * /proc/self/maps, and zeroed before munmap (the test build's system-call
 * table shows the bytes at the moment of the munmap).
 *
 * What no test here can prove: that no copy of the secret exists elsewhere
 * (registers, stack, kernel buffers it passed through, the caller's own
 * copies), that the page frames the kernel frees are scrubbed (that is
 * init_on_free's job), or, for SECRET, that the direct map really lacks the
 * pages (only a kernel-side read could show it).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#ifdef MMAPKIT_HAVE_SODIUM
#include <sodium.h>
#endif

#include "internal.h"
#include "testutil.h"

#define LEN (4 * 4096)

static size_t pg(void)
{
	return mmapkit_page_size();
}

static const unsigned char secret[32] = "mmapkit-secret:7f3a9c1e5b2d8a04";

/* SECURE on the light path (_i 0) or with guard mappings of their own (_i 1). */
static bool secure_open(int i, mmapkit_map **m, size_t len, unsigned flags)
{
	bool light = i == 0 && mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL);
	int r;

	if (i == 0 && !light)
		printf("secure: no MADV_GUARD_INSTALL: the light case runs the old path\n");
	if (!light)
		mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	r = mmapkit_anon_private(m, len, flags);
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
	ck_assert_msg(r == 0, "%d: %s", r, mmapkit_errmsg());
	return light;
}

/*
 * The light path locks with mlock2(MLOCK_ONFAULT), which valgrind 3.19 lacks:
 * there SECURE on the light path fails (EINVAL), and case _i == 0 is skipped.
 */
static bool light_skipped(int i)
{
	return i == 0 && mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL) &&
	       tu_skip_lock_onfault("light-path MMAPKIT_SECURE");
}

/*
 * In-process fault probes make memcheck report an invalid read: under
 * valgrind the guards are probed by the other suites' children only.
 */
static bool probes_here(void)
{
	return !tu_on_valgrind();
}

/* SECRET where the kernel has memfd_secret; false (and a note) where not. */
static bool secret_open(mmapkit_map **m, size_t len)
{
	int r;

	if (!mmapkit__kernel_has(MMAPKIT__F_MEMFD_SECRET)) {
		printf("secure: memfd_secret(2) is disabled here: SECRET mapping checks skipped\n");
		return false;
	}
	r = mmapkit_anon_private(m, len, MMAPKIT_SECRET);
	ck_assert_msg(r == 0, "%d: %s", r, mmapkit_errmsg());
	return true;
}

/* fn(arg) in a fork() child, which must exit 0. */
static void child_ok(void (*fn)(void *), void *arg)
{
	int st = tu_child(fn, arg);

	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
}

/* VmLck of /proc/self/status, in kB. */
static long vmlck_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* In-process fault probe: a SIGSEGV handler jumps back (a fork() child would not do:
 * a WIPEONFORK child has no light guards, see secure_fork_zeros). */
static sigjmp_buf probe_env;

static void probe_segv(int sig)
{
	(void)sig;
	siglongjmp(probe_env, 1);
}

static bool faults_here(const volatile unsigned char *p)
{
	struct sigaction sa = {.sa_handler = probe_segv}, old;
	volatile bool faulted = false;

	sigemptyset(&sa.sa_mask);
	ck_assert_int_eq(sigaction(SIGSEGV, &sa, &old), 0);
	if (sigsetjmp(probe_env, 1) == 0)
		(void)*p;
	else
		faulted = true;
	sigaction(SIGSEGV, &old, NULL);
	return faulted;
}

START_TEST(secure_refusals)
{
	const char *path = tu_file(pg());
	const struct {
		int kind;
		unsigned flags;
		const char *part;
	} bad[] = {
		{MMAPKIT_ANON_SHARED, MMAPKIT_SECURE, "anonymous private"},
		{MMAPKIT_FILE_PRIVATE, MMAPKIT_SECURE, "anonymous private"},
		{MMAPKIT_FILE_SHARED, MMAPKIT_SECRET, "anonymous private"},
		{MMAPKIT_ANON_PRIVATE, MMAPKIT_SECURE | MMAPKIT_RDONLY, "MMAPKIT_RDONLY"},
		{MMAPKIT_ANON_PRIVATE, MMAPKIT_SECURE | MMAPKIT_HUGETLB, "MMAPKIT_HUGETLB"},
		{MMAPKIT_ANON_PRIVATE, MMAPKIT_SECURE | MMAPKIT_DONTFORK, "MMAPKIT_DONTFORK"},
		{MMAPKIT_ANON_PRIVATE, MMAPKIT_SECRET | MMAPKIT_WIPEONFORK, "MMAPKIT_WIPEONFORK"},
		{MMAPKIT_ANON_PRIVATE, MMAPKIT_SECRET | MMAPKIT_THP, "MMAPKIT_THP"},
		{MMAPKIT_ANON_PRIVATE, MMAPKIT_SECRET | MMAPKIT_RDONLY, "MMAPKIT_RDONLY"},
	};

	for (size_t i = 0; i < TU_LEN(bad); i++) {
		struct tu_snap s = tu_snap();
		mmapkit_map *m = (mmapkit_map *)&m;

		mmapkit__fault_reset();
		ck_assert_int_eq(tu_map_kind(bad[i].kind, &m, tu_kind_is_file(bad[i].kind) ? path : NULL,
					     0, pg(), bad[i].flags),
				 -EINVAL);
		ck_assert_msg(mmapkit__fault_total() == 0, "case %zu: %u calls", i,
			      mmapkit__fault_total());
		ck_assert_ptr_null(m);
		ck_assert_msg(strstr(mmapkit_errmsg(), bad[i].part), "case %zu: \"%s\" lacks \"%s\"",
			      i, mmapkit_errmsg(), bad[i].part);
		TU_ASSERT_NO_LEAK(s);
	}
}
END_TEST

/* The layers one by one.  _i: light path, old path. */
START_TEST(secure_layers)
{
	struct tu_snap s = tu_snap();
	long lck0 = vmlck_kb(), lck;
	mmapkit_map *m = NULL;
	unsigned char *p;
	bool light;

	if (light_skipped(_i))
		return;
	light = secure_open(_i, &m, LEN, MMAPKIT_SECURE);

	ck_assert_uint_eq(mmapkit_flags(m), MMAPKIT_SECURE | MMAPKIT_GUARD | MMAPKIT_LOCK |
						    MMAPKIT_DONTDUMP | MMAPKIT_WIPEONFORK);
	p = mmapkit_ptr(m);
	/* locked, all of it, now; the kernel counts a light path's guards in VmLck too */
	lck = vmlck_kb();
	ck_assert_int_eq(lck - lck0, (long)(LEN + (light ? 2 * pg() : 0)) / 1024);
	ck_assert_int_eq(tu_smaps_kb(p, "Locked"), LEN / 1024);
	ck_assert_uint_eq(tu_resident_pages(p, LEN), LEN / pg());
	ck_assert(tu_has_vmflag(p, "lo"));
	ck_assert(tu_has_vmflag(p, "dd"));
	ck_assert(tu_has_vmflag(p, "wf"));
	/* guards, and the mapping lines they cost */
	ck_assert(!probes_here() || faults_here(p - 1));
	ck_assert(!probes_here() || faults_here(p + LEN));
	ck_assert(!probes_here() || !faults_here(p + LEN - 1));
	ck_assert_int_eq(tu_maps_lines(p - pg(), p + LEN + pg()), light ? 1 : 3);
	memcpy(p + 100, secret, sizeof(secret));
	mmapkit_unmap(m);
	ck_assert_int_eq(vmlck_kb(), lck0);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

struct fork_arg {
	const unsigned char *p;
	size_t len;
};

static void child_zeros(void *arg)
{
	const struct fork_arg *a = arg;

	for (size_t i = 0; i < a->len; i++)
		TU_CHILD_OK(a->p[i] == 0);
	_exit(0);
}

static void child_guard(void *arg)
{
	const struct fork_arg *a = arg;

	tu_probe_quietly();
	tu_touch(a->p - 1);
	_exit(0);
}

/*
 * A fork() child reads zeros where the parent holds a secret.  Its guards: on
 * the old path the guard mappings are inherited; on the light path the child
 * has none, since fork() copies no page tables, where the guard markers live,
 * into a WIPEONFORK mapping (measured on 6.18; documented in mmapkit(7)).
 */
START_TEST(secure_fork_zeros)
{
	mmapkit_map *m = NULL;
	bool light;
	struct fork_arg a;
	int st;

	if (light_skipped(_i))
		return;
	light = secure_open(_i, &m, LEN, MMAPKIT_SECURE);
	a = (struct fork_arg){mmapkit_ptr(m), LEN};
	memset(mmapkit_ptr(m), 0xee, LEN);
	memcpy(mmapkit_ptr(m), secret, sizeof(secret));
	child_ok(child_zeros, &a);
	if (tu_fault_probes_work()) {
		st = tu_child(child_guard, &a);
		if (!light)
			ck_assert_msg(TU_KILLED(st, SIGSEGV), "child guard: status 0x%x", st);
		else
			printf("secure: light path: a fork() child's front guard %s\n",
			       TU_KILLED(st, SIGSEGV) ? "faults (the kernel copies guard markers now: update mmapkit(7))"
						      : "is gone, as mmapkit(7) says");
	}
	ck_assert_mem_eq(mmapkit_ptr(m), secret, sizeof(secret));
	mmapkit_unmap(m);
}
END_TEST

/* Over RLIMIT_MEMLOCK without CAP_IPC_LOCK: the call fails and leaves nothing. */
static void memlock_child(void *arg)
{
	struct rlimit rl = {pg(), pg()};
	struct tu_snap s;
	mmapkit_map *m = (mmapkit_map *)&m;
	int r;

	(void)arg;
	TU_CHILD_OK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	TU_CHILD_OK(setgid(65534) == 0);
	TU_CHILD_OK(setuid(65534) == 0); /* drops CAP_IPC_LOCK */
	TU_CHILD_OK(prctl(PR_SET_DUMPABLE, 1) == 0);
	s = tu_snap();
	for (int path = 0; path < 2; path++) {
		if (path)
			mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
		r = mmapkit_anon_private(&m, LEN, MMAPKIT_SECURE);
		TU_CHILD_OK(r == -ENOMEM || r == -EAGAIN);
		TU_CHILD_OK(m == NULL && strstr(mmapkit_errmsg(), "RLIMIT_MEMLOCK"));
		TU_CHILD_OK(tu_count_fds() == s.fds && (!tu_maps_reliable() || tu_count_maps() == s.maps));
	}
	if (mmapkit__kernel_has(MMAPKIT__F_MEMFD_SECRET)) {
		r = mmapkit_anon_private(&m, LEN, MMAPKIT_SECRET);
		TU_CHILD_OK(r == -ENOMEM || r == -EAGAIN);
		TU_CHILD_OK(m == NULL);
		TU_CHILD_OK(tu_count_fds() == s.fds && (!tu_maps_reliable() || tu_count_maps() == s.maps));
	}
	_exit(0);
}

START_TEST(secure_cannot_lock)
{
	if (geteuid() != 0 || tu_on_valgrind()) {
		printf("secure: not root, or valgrind (no mlock2): RLIMIT_MEMLOCK check skipped\n");
		return;
	}
	child_ok(memlock_child, NULL);
}
END_TEST

/* The same failure injected: mlock2 (light) or mlock (old) fails; nothing is left. */
START_TEST(secure_lock_injected)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = (mmapkit_map *)&m;
	bool light = _i == 0 && mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL);

	if (!light)
		mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	mmapkit__fault_arm(light ? MMAPKIT__SYS_MLOCK2 : MMAPKIT__SYS_MLOCK, 1, EAGAIN);
	ck_assert_int_eq(mmapkit_anon_private(&m, LEN, MMAPKIT_SECURE), -EAGAIN);
	mmapkit__fault_reset();
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
	ck_assert_ptr_null(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- core dumps ---- */

#define CORE_PATTERN "/proc/sys/kernel/core_pattern"

static bool read_small(const char *path, char *buf, size_t cap)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (!f)
		return false;
	n = fread(buf, 1, cap - 1, f);
	buf[n] = '\0';
	fclose(f);
	return true;
}

static bool write_small(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, text, strlen(text)) == (ssize_t)strlen(text);

	if (fd >= 0)
		close(fd);
	return ok;
}

struct dump_arg {
	unsigned flags;
	bool light;
};

/*
 * The 32 bytes searched for are computed where they are stored, byte by byte,
 * so that no other copy (a constant in the program, the parent's memory the
 * child inherits) can be in the dump: salt 1 for the secret, 2 for the control.
 */
static unsigned char dump_byte(size_t i, unsigned salt)
{
	return (unsigned char)(0x80 | ((i * 37 + 11 * salt) ^ (0x5a + salt)));
}

static void dump_bytes(unsigned char *out, unsigned salt)
{
	for (size_t i = 0; i < 32; i++)
		out[i] = dump_byte(i, salt);
}

static unsigned char *volatile dump_plain; /* escapes: the stores stay */

static void write_bytes(volatile unsigned char *p, unsigned salt)
{
	for (size_t i = 0; i < 32; i++)
		p[i] = dump_byte(i, salt);
}

/* Holds the secret in the handle and a control string in the heap, and dumps core. */
static void dump_child(void *arg)
{
	const struct dump_arg *a = arg;
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};
	mmapkit_map *m = NULL;

	dump_plain = malloc(64);
	if (!a->light)
		mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	TU_CHILD_OK(dump_plain != NULL);
	TU_CHILD_OK(mmapkit_anon_private(&m, LEN, a->flags) == 0);
	write_bytes(mmapkit_ptr(m), 1);
	write_bytes((unsigned char *)mmapkit_ptr(m) + LEN - 32, 1);
	write_bytes(dump_plain, 2);
	TU_CHILD_OK(setrlimit(RLIMIT_CORE, &rl) == 0);
	TU_CHILD_OK(prctl(PR_SET_DUMPABLE, 1) == 0);
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
	_exit(3);
}

/* Does the file hold needle anywhere? */
static bool file_holds(const char *path, const unsigned char *needle, size_t n)
{
	FILE *f = fopen(path, "re");
	static unsigned char buf[1 << 20];
	size_t have = 0, got;
	bool found = false;

	ck_assert_ptr_nonnull(f);
	while (!found && (got = fread(buf + have, 1, sizeof(buf) - have, f)) > 0) {
		have += got;
		found = memmem(buf, have, needle, n) != NULL;
		/* keep the last n - 1 bytes: a match may straddle two reads */
		memmove(buf, buf + have - (n - 1), n - 1);
		have = n - 1;
	}
	fclose(f);
	return found;
}

/*
 * A core dump of a child holding a 32-byte secret in SECURE (or SECRET)
 * memory does not contain it; the control string in its heap is there, so
 * the dump is real.  core_pattern points into a directory of the test's own
 * and is restored before any assertion.  _i: SECURE light, SECURE old path, SECRET.
 */
START_TEST(secure_core_dump)
{
	char old[512], dir[] = "/tmp/mmapkit-core-XXXXXX", pattern[128], core[320];
	struct dump_arg a = {_i == 2 ? MMAPKIT_SECRET : MMAPKIT_SECURE,
			     _i == 0 && mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL)};
	bool set, have_core, has_secret = false, has_control = false;
	int st;

#if !TU_MAPS_COUNTABLE
	printf("secure: sanitizer build: core dump check skipped (the shadow memory would be dumped)\n");
	return;
#endif
	if (tu_on_valgrind() || geteuid() != 0) {
		printf("secure: core dump check needs root and no valgrind: skipped\n");
		return;
	}
	if (_i == 2 && !mmapkit__kernel_has(MMAPKIT__F_MEMFD_SECRET)) {
		printf("secure: no memfd_secret: SECRET core dump check skipped\n");
		return;
	}
	ck_assert(read_small(CORE_PATTERN, old, sizeof(old)));
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(pattern, sizeof(pattern), "%s/core.%%p", dir);
	set = write_small(CORE_PATTERN, pattern);
	st = set ? tu_child(dump_child, &a) : -1;
	/* restored first, whatever happened */
	ck_assert(write_small(CORE_PATTERN, old));
	ck_assert_msg(set, "cannot write %s", CORE_PATTERN);
	/* tu_child does not say the child's pid: the one file in the directory */
	have_core = false;
	{
		DIR *d = opendir(dir);
		struct dirent *e;

		ck_assert_ptr_nonnull(d);
		while ((e = readdir(d)))
			if (strncmp(e->d_name, "core.", 5) == 0) {
				snprintf(core, sizeof(core), "%s/%s", dir, e->d_name);
				have_core = true;
			}
		closedir(d);
	}
	if (have_core) {
		unsigned char want[32];

		dump_bytes(want, 1);
		has_secret = file_holds(core, want, sizeof(want));
		dump_bytes(want, 2);
		has_control = file_holds(core, want, sizeof(want));
		unlink(core);
	}
	rmdir(dir);
	ck_assert_msg(WIFSIGNALED(st) && WCOREDUMP(st), "child status 0x%x: no core dumped", st);
	ck_assert(have_core);
	ck_assert_msg(has_control, "the control string is not in the core: the check would prove nothing");
	ck_assert_msg(!has_secret, "the secret is in the core dump");
}
END_TEST

/* ---- zeroed before unmap ---- */

/*
 * The test build's system-call table is writable: a munmap that looks at the
 * pages first.  It sees exactly what the kernel would free.
 */
static int (*real_munmap)(void *, size_t);
static size_t seen_nonzero, seen_checked, guard_bytes;

static int checking_munmap(void *addr, size_t len)
{
	const unsigned char *p = (const unsigned char *)addr + guard_bytes;

	for (size_t i = 0; i + 2 * guard_bytes < len; i++, seen_checked++)
		seen_nonzero += p[i] != 0;
	return real_munmap(addr, len);
}

static void unmap_watched(mmapkit_map *m)
{
	real_munmap = mmapkit__sys.munmap;
	seen_nonzero = seen_checked = 0;
	guard_bytes = pg();
	mmapkit__sys.munmap = checking_munmap;
	mmapkit_unmap(m);
	mmapkit__sys.munmap = real_munmap;
}

/* _i: SECURE light, SECURE old path, SECRET, and plain memory (which is not wiped). */
START_TEST(secure_zero_before_unmap)
{
	mmapkit_map *m = NULL;
	unsigned char *p;

	if (light_skipped(_i) || (_i == 3 && light_skipped(0)))
		return;
	if (_i == 2) {
		if (!secret_open(&m, LEN))
			return;
	} else if (_i == 3) {
		ck_assert_int_eq(mmapkit_anon_private(&m, LEN, MMAPKIT_GUARD | MMAPKIT_LOCK), 0);
	} else {
		secure_open(_i, &m, LEN, MMAPKIT_SECURE);
	}
	p = mmapkit_ptr(m);
	memset(p, 0xa5, LEN);
	memcpy(p + 64, secret, sizeof(secret));
	/* pages the caller made read-only or inaccessible are wiped too */
	ck_assert_int_eq(mmapkit_protect(m, 0, pg(), MMAPKIT_PROT_READ), 0);
	if (_i != 3) /* (the watch could not read plain memory left inaccessible) */
		ck_assert_int_eq(mmapkit_protect(m, LEN - pg(), pg(), MMAPKIT_PROT_NONE), 0);
	unmap_watched(m);
	ck_assert_uint_eq(seen_checked, LEN);
	if (_i == 3)
		ck_assert_uint_gt(seen_nonzero, 0); /* the watch sees bytes that are there */
	else
		ck_assert_msg(seen_nonzero == 0, "%zu bytes not zero at munmap", seen_nonzero);
}
END_TEST

/* ---- many handles: mapping lines, against libsodium ---- */

#define MANY 20000

struct many_result {
	int lines_secure;
	int lines_sodium;
	int sodium;
};

/* CAP_IPC_LOCK (bit 14 of CapEff) lets a process lock past RLIMIT_MEMLOCK. */
static bool can_lock_freely(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	unsigned long long eff = 0;
	char line[256];

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "CapEff: %llx", &eff) == 1)
			break;
	fclose(f);
	return eff & (1ull << 14);
}

/*
 * RLIMIT_MEMLOCK raised for `need` bytes: to infinity where allowed
 * (CAP_SYS_RESOURCE), else the soft limit to the hard one; false (with a
 * note) when that is not enough and the process cannot lock past it.
 */
static bool raise_memlock(rlim_t need)
{
	struct rlimit rl = {RLIM_INFINITY, RLIM_INFINITY};

	if (setrlimit(RLIMIT_MEMLOCK, &rl) == 0)
		return true;
	TU_CHILD_OK(getrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	rl.rlim_cur = rl.rlim_max;
	TU_CHILD_OK(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	if (rl.rlim_cur >= need || can_lock_freely())
		return true;
	printf("secure: RLIMIT_MEMLOCK is at most %llu bytes, %llu needed: 20,000 handles skipped\n",
	       (unsigned long long)rl.rlim_max, (unsigned long long)need);
	return false;
}

/* In a child (the rlimit and 20,000 handles stay there): lines per handle, per allocation. */
static void many_child(void *arg)
{
	struct many_result *r = arg;
	mmapkit_map **h = calloc(MANY, sizeof(*h));
	int before;

	(void)r;
	TU_CHILD_OK(h != NULL);
	/* each handle locks its page, and on the light path its two guards count too */
	if (!raise_memlock((rlim_t)MANY * 3 * pg()))
		_exit(0);
	before = tu_count_maps();
	for (int i = 0; i < MANY; i++) {
		int e = mmapkit_anon_private(&h[i], pg(), MMAPKIT_SECURE);

		if (e) {
			fprintf(stderr, "handle %d: %s\n", i, mmapkit_errmsg());
			TU_CHILD_OK(e == 0);
		}
	}
	printf("secure: %d live one-page MMAPKIT_SECURE handles: %d mapping lines (%.2f each)\n",
	       MANY, tu_count_maps() - before, (double)(tu_count_maps() - before) / MANY);
	fflush(stdout);
	/* (a sanitizer's runtime maps memory of its own meanwhile: counted in plain builds only) */
	TU_CHILD_OK(!tu_maps_reliable() || tu_count_maps() - before <= MANY);
	/* every one of them is its own: its guards fault, its page does not */
	for (int i = 0; i < MANY; i += MANY / 8) {
		unsigned char *p = mmapkit_ptr(h[i]);

		TU_CHILD_OK(faults_here(p - 1) && faults_here(p + pg()) && !faults_here(p));
	}
	for (int i = 0; i < MANY; i++)
		mmapkit_unmap(h[i]);
	TU_CHILD_OK(!tu_maps_reliable() || tu_count_maps() == before);
#ifdef MMAPKIT_HAVE_SODIUM
	{
		void **a = calloc(MANY, sizeof(*a));
		int got = 0;

		TU_CHILD_OK(a != NULL && sodium_init() >= 0);
		before = tu_count_maps();
		for (; got < MANY; got++) {
			a[got] = sodium_malloc(pg() / 2);
			if (!a[got])
				break;
		}
		printf("secure: libsodium: %d live sodium_malloc(%zu) allocations: %d mapping lines (%.2f each)%s\n",
		       got, pg() / 2, tu_count_maps() - before,
		       got ? (double)(tu_count_maps() - before) / got : 0.0,
		       got < MANY ? " (it ran out)" : "");
		for (int i = 0; i < got; i++)
			sodium_free(a[i]);
		free(a);
	}
#else
	printf("secure: built without libsodium: no comparison\n");
#endif
	free(h);
	fflush(stdout);
	_exit(0);
}

START_TEST(secure_many)
{
	if (!mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL)) {
		printf("secure: no light guards here: 20,000 handles would cost 60,000 lines; skipped\n");
		return;
	}
	if (tu_on_valgrind()) {
		printf("secure: valgrind: 20,000 handles skipped\n");
		return;
	}
	child_ok(many_child, NULL);
}
END_TEST

/* On the old path each handle costs its two guard mappings besides. */
START_TEST(secure_lines_old_path)
{
	mmapkit_map *h[64];
	int before = tu_count_maps();

	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, 0);
	for (size_t i = 0; i < TU_LEN(h); i++)
		ck_assert_int_eq(mmapkit_anon_private(&h[i], pg(), MMAPKIT_SECURE), 0);
	mmapkit__kernel_force(MMAPKIT__F_GUARD_INSTALL, -1);
	for (size_t i = 0; i < TU_LEN(h); i++) {
		unsigned char *p = mmapkit_ptr(h[i]);

		ck_assert_int_eq(tu_maps_lines(p - pg(), p + 2 * pg()), 3);
	}
	if (tu_maps_reliable())
		ck_assert_int_le(tu_count_maps() - before, 3 * (int)TU_LEN(h));
	for (size_t i = 0; i < TU_LEN(h); i++)
		mmapkit_unmap(h[i]);
}
END_TEST

/* ---- SECRET ---- */

static void child_reads(void *arg)
{
	tu_probe_quietly();
	tu_touch(arg);
	_exit(0);
}

START_TEST(secret_mapping)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *p;
	char perms[5];
	int st;

	if (!secret_open(&m, LEN))
		return;
	p = mmapkit_ptr(m);
	ck_assert_uint_eq(mmapkit_flags(m), MMAPKIT_SECRET | MMAPKIT_SECURE | MMAPKIT_GUARD |
						    MMAPKIT_LOCK | MMAPKIT_DONTDUMP |
						    MMAPKIT_DONTFORK);
	ck_assert_int_eq(mmapkit_kind(m), MMAPKIT_ANON_PRIVATE);
	ck_assert_int_eq(mmapkit_fd(m), -1);
	memcpy(p, secret, sizeof(secret));
	/* secretmem, locked, every page resident now, left out of dumps */
	{
		FILE *f = fopen("/proc/self/maps", "re");
		char line[512];
		bool found = false;

		ck_assert_ptr_nonnull(f);
		while (fgets(line, sizeof(line), f)) {
			unsigned long lo, hi;

			if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && (uintptr_t)p >= lo &&
			    (uintptr_t)p < hi)
				found = strstr(line, "secretmem") != NULL;
		}
		fclose(f);
		ck_assert_msg(found, "the mapping is not secretmem");
	}
	ck_assert(tu_has_vmflag(p, "lo"));
	ck_assert(tu_has_vmflag(p, "dd"));
	ck_assert_int_eq(tu_smaps_kb(p, "Locked"), LEN / 1024);
	tu_perms(p - 1, perms);
	ck_assert_str_eq(perms, "---p");
	ck_assert(!probes_here() || (faults_here(p - 1) && faults_here(p + LEN)));
	/* a fork() child has no mapping there at all */
	if (tu_fault_probes_work()) {
		st = tu_child(child_reads, p);
		ck_assert_msg(TU_KILLED(st, SIGSEGV), "child status 0x%x", st);
	}
	/* secret memory cannot grow (new pages would not be secret); it can shrink */
	ck_assert_int_eq(mmapkit_resize(m, 2 * LEN, 0), -EINVAL);
	/* advice for anonymous private memory does not apply to secret memory */
	ck_assert_int_eq(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_WIPEONFORK), -EINVAL);
	ck_assert_int_eq(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_FREE), -EINVAL);
	/* punch and revert zero the bytes (secret memory cannot drop its pages) */
	ck_assert_int_eq(mmapkit_punch(m, 1, 10), 0);
	ck_assert(p[0] == secret[0] && p[1] == 0 && p[10] == 0 && p[11] == secret[11]);
	ck_assert_int_eq(mmapkit_revert(m, 0, MMAPKIT_TO_END), 0);
	for (size_t i = 0; i < LEN; i++)
		TU_BYTE_EQ(p[i], 0, i);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* Where the kernel refuses memfd_secret: -EOPNOTSUPP and nothing left behind. */
START_TEST(secret_unsupported)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = (mmapkit_map *)&m;

	/* a kernel without it (pretended): refused before any call */
	mmapkit__kernel_force(MMAPKIT__F_MEMFD_SECRET, 0);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_anon_private(&m, LEN, MMAPKIT_SECRET), -EOPNOTSUPP);
	ck_assert_uint_eq(mmapkit__fault_total(), 0);
	mmapkit__kernel_force(MMAPKIT__F_MEMFD_SECRET, -1);
	ck_assert_ptr_null(m);
	tu_assert_errmsg("mmapkit_anon_private", TU_NUMS("memfd_secret"), "no secretmem");
	/* one that says so only when asked (ENOSYS: disabled at boot) */
	mmapkit__kernel_force(MMAPKIT__F_MEMFD_SECRET, 1);
	mmapkit__fault_arm(MMAPKIT__SYS_MEMFD_SECRET, 1, ENOSYS);
	m = (mmapkit_map *)&m;
	ck_assert_int_eq(mmapkit_anon_private(&m, LEN, MMAPKIT_SECRET), -EOPNOTSUPP);
	ck_assert_uint_eq(mmapkit__fault_total(), 1);
	mmapkit__fault_reset();
	mmapkit__kernel_force(MMAPKIT__F_MEMFD_SECRET, -1);
	ck_assert_ptr_null(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

Suite *suite_secure(void)
{
	Suite *s = suite_create("secure");
	TCase *tc = tu_tcase(s, "secure", 60);

	tcase_add_test(tc, secure_refusals);
	tcase_add_loop_test(tc, secure_layers, 0, 2);
	tcase_add_loop_test(tc, secure_fork_zeros, 0, 2);
	tcase_add_test(tc, secure_cannot_lock);
	tcase_add_loop_test(tc, secure_lock_injected, 0, 2);
	tcase_add_loop_test(tc, secure_core_dump, 0, 3);
	tcase_add_loop_test(tc, secure_zero_before_unmap, 0, 4);
	tcase_add_test(tc, secure_many);
	tcase_add_test(tc, secure_lines_old_path);
	tc = tu_tcase(s, "secret", 0);
	tcase_add_test(tc, secret_mapping);
	tcase_add_test(tc, secret_unsupported);
	return s;
}
