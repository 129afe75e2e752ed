/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "testutil.h"
#include "internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* valgrind's client requests, when its header is installed (package valgrind). */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define TU_HAVE_VALGRIND_H 1
#endif
#endif
#ifndef TU_HAVE_VALGRIND_H
#define TU_HAVE_VALGRIND_H 0
#define RUNNING_ON_VALGRIND 0
#define VALGRIND_DISABLE_ERROR_REPORTING ((void)0)
#endif

int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/*
 * Less the heap: in a test forked from the runner a growing heap cannot extend
 * the runner's heap VMA and becomes a second one.  The library never maps there.
 */
int tu_count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n += strchr(line, '\n') && !strstr(line, "[heap]");
	fclose(f);
	return n;
}

struct tu_snap tu_snap(void)
{
	struct tu_snap s = {tu_count_fds(), tu_count_maps()};

	return s;
}

bool tu_on_valgrind(void)
{
	const char *env = getenv("MMAPKIT_VALGRIND");

	return RUNNING_ON_VALGRIND || (env && *env && strcmp(env, "0") != 0);
}

/* Does mlock2(MLOCK_ONFAULT) exist here?  Tried by number on a page of our own. */
static bool have_mlock2(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ok = syscall(SYS_mlock2, p, page, MLOCK_ONFAULT) == 0 || errno != ENOSYS;
	munmap(p, page);
	return ok;
}

/* Does mremap() move two pages of different protections as one? */
static bool have_mremap_across(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int f = MAP_PRIVATE | MAP_ANONYMOUS;
	unsigned char *to = mmap(NULL, 2 * page, PROT_NONE, f, -1, 0);
	unsigned char *from = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, f, -1, 0);
	bool ok;

	ck_assert_ptr_ne(to, MAP_FAILED);
	ck_assert_ptr_ne(from, MAP_FAILED);
	ck_assert_int_eq(mprotect(from + page, page, PROT_READ), 0);
	ok = mremap(from, 2 * page, 2 * page, MREMAP_MAYMOVE | MREMAP_FIXED, to) != MAP_FAILED;
	munmap(to, 2 * page);
	if (!ok)
		munmap(from, 2 * page);
	return ok;
}

/* Under valgrind, *have (-1: not tried yet) = works(); prints note once if it does not. */
static bool skip_under_valgrind(int *have, bool (*works)(void), bool *noted, const char *what,
				const char *note)
{
	if (!tu_on_valgrind())
		return false;
	if (*have < 0)
		*have = works();
	if (*have)
		return false;
	if (!*noted)
		printf("valgrind: %s: %s\n", what, note);
	*noted = true;
	return true;
}

bool tu_skip_lock_onfault(const char *what)
{
	static int have = -1;
	static bool noted;

	return skip_under_valgrind(&have, have_mlock2, &noted, what,
				   "MMAPKIT_LOCK_ONFAULT steps skipped (no mlock2 in valgrind)");
}

bool tu_skip_mremap_across(const char *what)
{
	static int have = -1;
	static bool noted;

	return skip_under_valgrind(&have, have_mremap_across, &noted, what,
				   "skipped (valgrind's mremap stays within one protection)");
}

/*
 * Can a fork() child map memory where its parent's MADV_DONTFORK pages are?
 * Valgrind's own record of the address space still holds them in the child.
 */
static bool have_dontfork_hole(void)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int st = -1;
	pid_t pid;

	ck_assert_ptr_ne(p, MAP_FAILED);
	ck_assert_int_eq(madvise(p, page, MADV_DONTFORK), 0);
	pid = fork();
	if (pid == 0)
		_exit(mmap(p, page, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) == p ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	munmap(p, page);
	return TU_EXITED(st, 0);
}

bool tu_skip_dontfork_hole(const char *what)
{
	static int have = -1;
	static bool noted;

	return skip_under_valgrind(&have, have_dontfork_hole, &noted, what,
				   "skipped (in a fork() child valgrind still counts the parent's "
				   "MADV_DONTFORK pages as mapped, and refuses mappings there)");
}

unsigned char tu_pattern(uint64_t i)
{
	return (unsigned char)(((i * 131u) ^ (i >> 12)) % 251u + 1u);
}

void tu_fill_pattern(unsigned char *buf, uint64_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		buf[i] = tu_pattern(off + i);
}

unsigned char tu_other(uint64_t i)
{
	return (unsigned char)(tu_pattern(i) % 251u + 1u);
}

static char dir[4096];
static unsigned serial;

static pid_t dir_owner;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* At exit of the process that made it (Check's per-test child, or the runner). */
static void remove_dir(void)
{
	if (dir[0] && getpid() == dir_owner)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tu_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!dir[0] || getpid() != dir_owner || access(dir, F_OK) != 0) {
		snprintf(dir, sizeof(dir), "%s/mmapkit-test-%d-XXXXXX", tmp && *tmp ? tmp : "/tmp",
			 (int)getpid());
		ck_assert_ptr_nonnull(mkdtemp(dir));
		if (!dir_owner)
			atexit(remove_dir);
		dir_owner = getpid();
	}
	return dir;
}

const char *tu_path(const char *name)
{
	static char paths[64][4352];
	char *p = paths[serial++ % 64];

	snprintf(p, sizeof(paths[0]), "%s/%u-%s", tu_dir(), serial, name);
	unlink(p);
	return p;
}

const char *tu_file(size_t size)
{
	const char *path = tu_path("data");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	unsigned char buf[65536];
	size_t done = 0;

	ck_assert_int_ge(fd, 0);
	while (done < size) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		tu_fill_pattern(buf, done, n);
		ck_assert_int_eq(pwrite(fd, buf, n, (off_t)done), (ssize_t)n);
		done += n;
	}
	close(fd);
	return path;
}

uint64_t tu_file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

void tu_pread(const char *path, uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

/* got[0, n) == want[0, n), else abort naming the first difference at offset base + i. */
static void bytes_eq(const unsigned char *got, const unsigned char *want, size_t n,
		     uint64_t base, const char *what, const char *verb)
{
	if (memcmp(got, want, n) == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (got[i] != want[i])
			ck_abort_msg("%s: file byte %llu is 0x%02x, %s 0x%02x", what,
				     (unsigned long long)(base + i), got[i], verb, want[i]);
}

void tu_assert_file_at(const char *path, uint64_t off, const unsigned char *want, size_t n,
		       const char *what)
{
	unsigned char *buf = malloc(n + 1);

	ck_assert_ptr_nonnull(buf);
	tu_pread(path, off, buf, n);
	bytes_eq(buf, want, n, off, what, "expected");
	free(buf);
}

void tu_assert_file_is(const char *path, const unsigned char *want, size_t n, const char *what)
{
	uint64_t size = tu_file_size(path);

	if (size != n)
		ck_abort_msg("%s: file size %llu, expected %zu", what, (unsigned long long)size, n);
	tu_assert_file_at(path, 0, want, n, what);
}

struct tu_fstate tu_fstate_take(const char *path)
{
	struct tu_fstate f = {false, 0, NULL};
	struct stat st;

	f.exists = path && stat(path, &st) == 0;
	if (!f.exists)
		return f;
	f.size = (uint64_t)st.st_size;
	f.bytes = malloc(f.size + 1);
	ck_assert_ptr_nonnull(f.bytes);
	tu_pread(path, 0, f.bytes, f.size);
	return f;
}

void tu_fstate_free(struct tu_fstate *f)
{
	free(f->bytes);
	f->bytes = NULL;
}

void tu_fstate_eq(const struct tu_fstate *was, const struct tu_fstate *now, const char *what)
{
	if (was->exists != now->exists)
		ck_abort_msg("%s: the file %s", what, now->exists ? "appeared" : "vanished");
	if (!was->exists)
		return;
	if (was->size != now->size)
		ck_abort_msg("%s: file size %llu, was %llu", what, (unsigned long long)now->size,
			     (unsigned long long)was->size);
	bytes_eq(now->bytes, was->bytes, was->size, 0, what, "was");
}

void tu_fstate_check(const char *path, struct tu_fstate *was, const char *what)
{
	struct tu_fstate now = tu_fstate_take(path);

	tu_fstate_eq(was, &now, what);
	tu_fstate_free(&now);
	tu_fstate_free(was);
}

size_t tu_resident_pages(const void *addr, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)addr & ~(page - 1);
	size_t n = ((uintptr_t)addr + len - a + page - 1) / page, r = 0;
	unsigned char *vec = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore((void *)a, n * page, vec), 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

/* Calls fn on each line of the smaps entry holding addr; false if none. */
static bool smaps_entry(const void *addr, void (*fn)(const char *line, void *ctx), void *ctx)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[1024];
	bool in = false, found = false;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char c;

		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			found |= in;
			continue;
		}
		if (in)
			fn(line, ctx);
	}
	fclose(f);
	return found;
}

struct flags_ctx {
	char *out;
	size_t cap;
};

static void flags_line(const char *line, void *ctx)
{
	struct flags_ctx *c = ctx;

	if (strncmp(line, "VmFlags:", 8) == 0)
		snprintf(c->out, c->cap, "%s", line + 8);
}

bool tu_vmflags(const void *addr, char *flags, size_t cap)
{
	struct flags_ctx c = {flags, cap};

	flags[0] = '\0';
	return smaps_entry(addr, flags_line, &c);
}

bool tu_has_vmflag(const void *addr, const char *code)
{
	char flags[512], *tok, *save;

	if (!tu_vmflags(addr, flags, sizeof(flags)))
		return false;
	for (tok = strtok_r(flags, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, code) == 0)
			return true;
	return false;
}

struct field_ctx {
	const char *field;
	long kb;
};

static void field_line(const char *line, void *ctx)
{
	struct field_ctx *c = ctx;
	size_t n = strlen(c->field);

	if (strncmp(line, c->field, n) == 0 && line[n] == ':')
		c->kb = strtol(line + n + 1, NULL, 10);
}

long tu_smaps_kb(const void *addr, const char *field)
{
	struct field_ctx c = {field, -1};

	smaps_entry(addr, field_line, &c);
	return c.kb;
}

void tu_perms(const void *addr, char out[5])
{
	FILE *fp = fopen("/proc/self/maps", "re");
	char line[512];

	ck_assert_ptr_nonnull(fp);
	out[0] = '\0';
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi;
		char perm[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 && (uintptr_t)addr >= lo &&
		    (uintptr_t)addr < hi) {
			memcpy(out, perm, 5);
			break;
		}
	}
	fclose(fp);
}

int tu_maps_lines(const void *lo, const void *hi)
{
	FILE *fp = fopen("/proc/self/maps", "re");
	char line[512];
	int n = 0;

	ck_assert_ptr_nonnull(fp);
	while (fgets(line, sizeof(line), fp)) {
		unsigned long a, z;

		if (sscanf(line, "%lx-%lx", &a, &z) == 2 && z > (uintptr_t)lo && a < (uintptr_t)hi)
			n++;
	}
	fclose(fp);
	return n;
}

bool tu_same_mapping(const void *a, const void *b)
{
	const void *lo = a < b ? a : b, *hi = a < b ? b : a;

	return tu_maps_lines(lo, (const unsigned char *)hi + 1) == 1;
}

bool tu_light_guards_expected(int kind, uint64_t map_off, unsigned flags)
{
	if (!(flags & (MMAPKIT_GUARD | MMAPKIT_SECURE)) || (flags & (MMAPKIT_HUGETLB | MMAPKIT_SECRET)) ||
	    ((flags & MMAPKIT_WIPEONFORK) && !(flags & MMAPKIT_SECURE)) ||
	    !mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL))
		return false;
	if (kind == MMAPKIT_ANON_PRIVATE && !(flags & MMAPKIT_RDONLY))
		return true;
	if (tu_kind_is_file(kind) && map_off < mmapkit_page_size())
		return false;
	return mmapkit__kernel_has(MMAPKIT__F_GUARD_FILE);
}

bool tu_punch_in_place(void)
{
	return !mmapkit__kernel_has(MMAPKIT__F_MREMAP_CHECKS_FIRST);
}

int tu_guard_span_lines(int kind, uint64_t map_off, unsigned flags)
{
	static int mlock2_here = -1;

	if (!tu_light_guards_expected(kind, map_off, flags))
		return 3;
	if (!(flags & (MMAPKIT_LOCK | MMAPKIT_SECURE)))
		return 1;
	if (mlock2_here < 0)
		mlock2_here = have_mlock2();
	return mlock2_here ? 1 : 3; /* without mlock2 the data pages are locked alone */
}

int tu_child(void (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL); /* not Check's handler, which kills the group */
		alarm(10);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

void tu_run_helper(const char *env, const char *path)
{
	const char *prog = getenv(env);
	pid_t pid;
	int st;

	if (!prog)
		prog = path;
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		execl(prog, prog, (char *)NULL);
		fprintf(stderr, "exec %s: %s\n", prog, strerror(errno));
		_exit(127);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(TU_EXITED(st, 0), "%s: status 0x%x (its message is above)", prog, st);
}

void tu_probe_quietly(void)
{
	if (RUNNING_ON_VALGRIND)
		VALGRIND_DISABLE_ERROR_REPORTING;
}

bool tu_fault_probes_work(void)
{
	return TU_HAVE_VALGRIND_H || !tu_on_valgrind();
}

/* Where tu_touch keeps what it read. */
static volatile unsigned char touched;

void tu_touch(const volatile unsigned char *p)
{
	touched = *p;
}

static void do_read(void *p)
{
	tu_probe_quietly();
	tu_touch(p);
}

static void do_write(void *p)
{
	tu_probe_quietly();
	*(volatile unsigned char *)p = 0x5a;
}

bool tu_read_faults(const volatile unsigned char *p)
{
	int st = tu_child(do_read, (void *)(uintptr_t)p);

	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

bool tu_write_faults(volatile unsigned char *p)
{
	int st = tu_child(do_write, (void *)(uintptr_t)p);

	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

/* ---- the four kinds ---- */

const char *tu_kind_name(int kind)
{
	static const char *const names[] = {"?", "anon private", "anon shared", "file private",
					    "file shared"};

	return names[kind >= 1 && kind <= 4 ? kind : 0];
}

bool tu_kind_is_file(int kind)
{
	return kind == MMAPKIT_FILE_PRIVATE || kind == MMAPKIT_FILE_SHARED;
}

bool tu_kind_is_shared(int kind)
{
	return kind == MMAPKIT_ANON_SHARED || kind == MMAPKIT_FILE_SHARED;
}

bool tu_kind_is_private(int kind)
{
	return kind == MMAPKIT_ANON_PRIVATE || kind == MMAPKIT_FILE_PRIVATE;
}

int tu_map_kind(int kind, mmapkit_map **m, const char *path, uint64_t off, size_t len,
		unsigned flags)
{
	static const int ctor[] = {
		[MMAPKIT_ANON_PRIVATE] = TU_AP,
		[MMAPKIT_ANON_SHARED] = TU_AS,
		[MMAPKIT_FILE_PRIVATE] = TU_FP,
		[MMAPKIT_FILE_SHARED] = TU_FS,
	};

	if (kind < MMAPKIT_ANON_PRIVATE || kind > MMAPKIT_FILE_SHARED)
		return -EINVAL; /* a broken test, not the library: no ck_assert in threads */
	return tu_make(ctor[kind], m, path, -1, off, len, flags);
}

/* ---- every constructor ---- */

const struct tu_ctor_info tu_ctors[TU_NCTORS] = {
	[TU_AP] = {"mmapkit_anon_private", "mmapkit_anon_private", MMAPKIT_ANON_PRIVATE, false,
		   false},
	[TU_AS] = {"mmapkit_anon_shared", "mmapkit_anon_shared", MMAPKIT_ANON_SHARED, false, false},
	[TU_FP] = {"mmapkit_file_private", "mmapkit_file_private", MMAPKIT_FILE_PRIVATE, true,
		   false},
	[TU_FS] = {"mmapkit_file_shared", "mmapkit_file_shared", MMAPKIT_FILE_SHARED, true, false},
	[TU_FDP] = {"mmapkit_fd_private", "mmapkit_fd_private", MMAPKIT_FILE_PRIVATE, false, true},
	[TU_FDS] = {"mmapkit_fd_shared", "mmapkit_fd_shared", MMAPKIT_FILE_SHARED, false, true},
	[TU_NEW_AP] = {"mmapkit_map_new", "mmapkit_map_new anon private", MMAPKIT_ANON_PRIVATE,
		       false, false},
	[TU_NEW_AS] = {"mmapkit_map_new", "mmapkit_map_new anon shared", MMAPKIT_ANON_SHARED,
		       false, false},
	[TU_NEW_FP] = {"mmapkit_map_new", "mmapkit_map_new path private", MMAPKIT_FILE_PRIVATE,
		       true, false},
	[TU_NEW_FS] = {"mmapkit_map_new", "mmapkit_map_new path shared", MMAPKIT_FILE_SHARED, true,
		       false},
	[TU_NEW_FDP] = {"mmapkit_map_new", "mmapkit_map_new fd private", MMAPKIT_FILE_PRIVATE,
			false, true},
	[TU_NEW_FDS] = {"mmapkit_map_new", "mmapkit_map_new fd shared", MMAPKIT_FILE_SHARED, false,
			true},
};

const int tu_anon_ctors[4] = {TU_AP, TU_AS, TU_NEW_AP, TU_NEW_AS};
const int tu_path_ctors[4] = {TU_FP, TU_FS, TU_NEW_FP, TU_NEW_FS};
const int tu_fd_ctors[4] = {TU_FDP, TU_FDS, TU_NEW_FDP, TU_NEW_FDS};
const int tu_file_ctors[8] = {TU_FP,     TU_FS,	TU_FDP,	    TU_FDS,
			      TU_NEW_FP, TU_NEW_FS, TU_NEW_FDP, TU_NEW_FDS};

bool tu_ctor_is_file(int c)
{
	return tu_ctors[c].by_path || tu_ctors[c].by_fd;
}

int tu_make(int c, mmapkit_map **m, const char *path, int fd, uint64_t off, size_t len,
	    unsigned flags)
{
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = tu_ctors[c].kind, .flags = flags,
				 .fd = -1, .offset = off, .len = len};

	switch (c) {
	case TU_AP:
		return mmapkit_anon_private(m, len, flags);
	case TU_AS:
		return mmapkit_anon_shared(m, len, flags);
	case TU_FP:
		return mmapkit_file_private(m, path, off, len, flags);
	case TU_FS:
		return mmapkit_file_shared(m, path, off, len, flags);
	case TU_FDP:
		return mmapkit_fd_private(m, fd, off, len, flags);
	case TU_FDS:
		return mmapkit_fd_shared(m, fd, off, len, flags);
	default:
		break;
	}
	if (tu_ctors[c].by_path)
		o.path = path;
	if (tu_ctors[c].by_fd)
		o.fd = fd;
	return mmapkit_map_new(m, &o);
}

struct tu_target tu_target_new(int c, uint64_t size)
{
	struct tu_target t = {NULL, -1, size};

	if (!tu_ctor_is_file(c))
		return t;
	t.path = tu_file(size);
	if (tu_ctors[c].by_fd) {
		t.fd = open(t.path, O_RDWR | O_CLOEXEC);
		ck_assert_int_ge(t.fd, 0);
	}
	return t;
}

void tu_target_free(struct tu_target *t)
{
	if (t->fd >= 0)
		close(t->fd);
	if (t->path)
		unlink(t->path);
	t->fd = -1;
	t->path = NULL;
}

void tu_warm_up(void)
{
	const char *path = tu_file(10);
	mmapkit_map *m = NULL;

	if (mmapkit_anon_private(&m, 1, 0) == 0)
		mmapkit_unmap(m);
	if (mmapkit_file_shared(&m, path, 0, 0, 0) == 0)
		mmapkit_unmap(m);
	mmapkit_file_shared(&m, path, 0, 11, 0);
	unlink(path);
}

TCase *tu_tcase(Suite *s, const char *name, int timeout)
{
	TCase *tc = tcase_create(name);

	if (timeout)
		tcase_set_timeout(tc, timeout);
	tcase_add_unchecked_fixture(tc, tu_warm_up, NULL);
	suite_add_tcase(s, tc);
	return tc;
}

/* ---- error messages ---- */

const char *tu_num(uint64_t v)
{
	static char bufs[16][32];
	static unsigned n;
	char *b = bufs[n++ % 16];

	snprintf(b, 32, "%llu", (unsigned long long)v);
	return b;
}

void tu_assert_errmsg(const char *call, const char *const *parts, const char *what)
{
	const char *msg = mmapkit_errmsg();

	if (!strstr(msg, call))
		ck_abort_msg("%s: \"%s\" does not name %s", what, msg, call);
	for (; *parts; parts++)
		if (!strstr(msg, *parts))
			ck_abort_msg("%s: \"%s\" lacks \"%s\"", what, msg, *parts);
}

bool tu_fault_at(size_t *byte, uint64_t *foff)
{
	const char *at = strstr(mmapkit_errmsg(), "SIGBUS at byte ");
	unsigned long long b, f;

	if (!at || sscanf(at, "SIGBUS at byte %llu of the range (file offset %llu)", &b, &f) != 2)
		return false;
	*byte = (size_t)b;
	*foff = f;
	return true;
}

/* ---- system-call counters ---- */

void tu_fault_calls(unsigned *calls)
{
	for (int sys = 0; sys < MMAPKIT__SYS_COUNT; sys++)
		calls[sys] = mmapkit__fault_calls(sys);
}

void tu_child_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: in child: %s (errmsg: %s)\n", file, line, what, mmapkit_errmsg());
	_exit(1);
}

/* ---- huge pages ---- */

static const char nr_hugepages[] = "/proc/sys/vm/nr_hugepages";

long tu_read_long(const char *path)
{
	FILE *f = fopen(path, "re");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

static bool write_count(const char *path, long v)
{
	FILE *f = fopen(path, "we");
	bool ok;

	if (!f)
		return false;
	ok = fprintf(f, "%ld\n", v) > 0;
	return fclose(f) == 0 && ok;
}

size_t tu_huge_page_size(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	unsigned long kb = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Hugepagesize: %lu kB", &kb) == 1)
			break;
	fclose(f);
	return (size_t)kb * 1024;
}

long tu_huge_reserve(long n, char *why, size_t cap)
{
	long old = tu_read_long(nr_hugepages), now;

	if (old < 0 || !tu_huge_page_size()) {
		snprintf(why, cap, "no hugetlb support (%s)", nr_hugepages);
		return 0;
	}
	if (geteuid() != 0) {
		snprintf(why, cap, "not root: cannot reserve huge pages in %s", nr_hugepages);
		return 0;
	}
	if (!write_count(nr_hugepages, old + n)) {
		snprintf(why, cap, "writing %s failed: %s", nr_hugepages, strerror(errno));
		return 0;
	}
	now = tu_read_long(nr_hugepages);
	if (now < old + n) {
		snprintf(why, cap, "only %ld of %ld huge pages could be reserved", now - old, n);
		tu_huge_release(now > old ? now - old : 0);
		return 0;
	}
	return n;
}

bool tu_huge_release(long got)
{
	long now = tu_read_long(nr_hugepages);

	if (got == 0)
		return true;
	return now >= got && write_count(nr_hugepages, now - got);
}

/* ---- sharing between processes ---- */

void tu_socketpair(int sv[2])
{
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
}

const char *tu_shm_name(void)
{
	static char names[64][64];
	static unsigned n;
	char *s = names[n % 64];

	snprintf(s, sizeof(names[0]), "/mmapkit-test-%ld-%u", (long)getpid(), n);
	n++;
	return s;
}

bool tu_shm_exists(const char *name)
{
	char path[300];
	struct stat st;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	return lstat(path, &st) == 0;
}

unsigned tu_fault_walk(const struct tu_walk *w, void *ctx, const int *errs)
{
	unsigned calls[MMAPKIT__SYS_COUNT], points = 0;
	int r;

	w->setup(ctx);
	mmapkit__fault_reset();
	r = w->run(ctx);
	tu_fault_calls(calls);
	ck_assert_msg(r == 0, "%s: %d: %s", w->name, r, mmapkit_errmsg());
	w->ok(ctx);
	TU_FOR_EACH_CALL(calls, sys, nth) {
		if (sys == MMAPKIT__SYS_CLOSE || sys == MMAPKIT__SYS_GETPID ||
		    sys == MMAPKIT__SYS_GETEUID) /* getpid and geteuid cannot fail */
			continue;
		for (const int *e = errs; *e; e++, points++) {
			char what[200];
			struct tu_snap s;

			snprintf(what, sizeof(what), "%s: %s #%u fails with %s", w->name,
				 mmapkit__sys_name(sys), nth, strerrorname_np(*e));
			w->setup(ctx);
			s = tu_snap();
			mmapkit__fault_arm(sys, nth, *e);
			r = w->run(ctx);
			ck_assert_msg(mmapkit__fault_fired(), "%s: did not fire", what);
			mmapkit__fault_reset();
			ck_assert_msg(r == -*e, "%s: returned %d (%s)", what, r, mmapkit_errmsg());
			ck_assert_msg(strstr(mmapkit_errmsg(), mmapkit__sys_name(sys)),
				      "%s: message \"%s\" does not name the call", what,
				      mmapkit_errmsg());
			ck_assert_msg(tu_count_fds() == s.fds, "%s: %d descriptors, were %d", what,
				      tu_count_fds(), s.fds);
			if (tu_maps_reliable())
				ck_assert_msg(tu_count_maps() == s.maps, "%s: %d mappings, were %d",
					      what, tu_count_maps(), s.maps);
			w->failed(ctx, what);
		}
	}
	return points;
}

void tu_walk_out_setup(void *ctx)
{
	*(mmapkit_map **)ctx = (mmapkit_map *)ctx;
}

void tu_walk_out_failed(void *ctx, const char *what)
{
	ck_assert_msg(*(mmapkit_map **)ctx == NULL, "%s: *out is not NULL", what);
}
