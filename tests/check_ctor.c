/* SPDX-License-Identifier: MIT */
/*
 * Constructors: every constructor with every flag that applies to it, checked
 * through the kernel's view of the mapping (mincore, smaps VmFlags, faults in
 * a child), the accessors of the handle it returns, CREATE, GROW and HUGETLB.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/*
 * AddressSanitizer intercepts mlock() and makes it a no-op, so under it a
 * locked mapping is neither "lo" nor resident.
 */
#if defined(__SANITIZE_ADDRESS__)
#define LOCK_SHOWS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define LOCK_SHOWS 0
#endif
#endif
#ifndef LOCK_SHOWS
#define LOCK_SHOWS 1
#endif

/* MAP_NORESERVE shows as "nr" unless the system never overcommits. */
static bool noreserve_shows(void)
{
	return tu_read_long("/proc/sys/vm/overcommit_memory") != 2;
}

/* The handle's descriptor is its own, close-on-exec, and refers to the file. */
static void check_fd(const mmapkit_map *m, const struct tu_target *t)
{
	struct stat a, b;
	int fd = mmapkit_fd(m);

	if (!t->path) {
		ck_assert_int_eq(fd, -1);
		return;
	}
	ck_assert_int_ge(fd, 0);
	ck_assert_int_ne(fd, t->fd);
	ck_assert_int_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	ck_assert_int_eq(fstat(fd, &a), 0);
	ck_assert_int_eq(stat(t->path, &b), 0);
	ck_assert_uint_eq(a.st_ino, b.st_ino);
	ck_assert_uint_eq(a.st_dev, b.st_dev);
}

static void check_accessors(const mmapkit_map *m, int c, const struct tu_target *t, uint64_t off,
			    size_t len, unsigned flags)
{
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(mmapkit_ptr(m));
	ck_assert_uint_eq(mmapkit_len(m), len);
	ck_assert_int_eq(mmapkit_kind(m), tu_ctors[c].kind);
	ck_assert_uint_eq(mmapkit_flags(m), flags);
	ck_assert_uint_eq(mmapkit_offset(m), tu_ctor_is_file(c) ? off : 0);
	ck_assert_uint_eq((uintptr_t)mmapkit_ptr(m) % mmapkit_page_size(),
			  off % mmapkit_page_size());
	check_fd(m, t);
}

/* Bytes as mapped right after construction: the file's, or zeros. */
static void check_content(const mmapkit_map *m, uint64_t off, bool file)
{
	const unsigned char *p = mmapkit_ptr(m);

	for (size_t i = 0; i < mmapkit_len(m); i++)
		TU_BYTE_EQ(p[i], file ? tu_pattern(off + i) : 0, i);
}

/* A write goes through for shared files and stays private otherwise. */
static void check_write(const mmapkit_map *m, const struct tu_target *t, uint64_t off)
{
	unsigned char *p = mmapkit_ptr(m), buf[3];
	size_t last = mmapkit_len(m) - 1;

	p[0] = 0xa5;
	p[last] = 0x5a;
	ck_assert_uint_eq(p[0], 0xa5);
	ck_assert_uint_eq(p[last], 0x5a);
	if (!t->path)
		return;
	tu_pread(t->path, off, buf, 1);
	tu_pread(t->path, off + last, buf + 1, 1);
	if (mmapkit_kind(m) == MMAPKIT_FILE_SHARED) {
		ck_assert_uint_eq(buf[0], 0xa5);
		ck_assert_uint_eq(buf[1], 0x5a);
	} else {
		ck_assert_uint_eq(buf[0], tu_pattern(off));
		ck_assert_uint_eq(buf[1], tu_pattern(off + last));
	}
}

static void child_all_zero(void *arg)
{
	const mmapkit_map *m = arg;
	const unsigned char *p = mmapkit_ptr(m);

	for (size_t i = 0; i < mmapkit_len(m); i++)
		if (p[i])
			_exit(1);
	_exit(0);
}

static void child_sees_a5(void *arg)
{
	const unsigned char *p = mmapkit_ptr(arg);

	_exit(p[0] == 0xa5 ? 0 : 1);
}

/* Flags whose mark right after construction is one VmFlags code. */
static const struct {
	unsigned flag;
	const char *code;
} one_vmflag[] = {
	{MMAPKIT_THP, "hg"},
	{MMAPKIT_DONTFORK, "dc"},
	{MMAPKIT_WIPEONFORK, "wf"},
	{MMAPKIT_DONTDUMP, "dd"},
};

/* What a flag must show right after construction, before any byte was read. */
static void check_flag_fresh(const mmapkit_map *m, unsigned flag)
{
	const unsigned char *p = mmapkit_ptr(m);
	size_t len = mmapkit_len(m), page = mmapkit_page_size();
	size_t pages = (len + page - 1) / page;
	bool anon = mmapkit_fd(m) < 0;

	switch (flag) {
	case 0:
		/* Nothing touched yet: an anonymous mapping holds no memory. */
		if (anon)
			ck_assert_uint_eq(tu_resident_pages(p, len), 0);
		ck_assert(!tu_has_vmflag(p, "lo"));
		ck_assert(!tu_has_vmflag(p, "dc"));
		ck_assert(!tu_has_vmflag(p, "dd"));
		ck_assert(!tu_has_vmflag(p, "wf"));
		ck_assert(tu_has_vmflag(p, "wr"));
		break;
	case MMAPKIT_POPULATE:
		ck_assert_uint_eq(tu_resident_pages(p, len), pages);
		/* Rss counts page-table entries: file pages too are mapped in, not just cached. */
		ck_assert_int_ge(tu_smaps_kb(p, "Rss"), (long)(pages * page / 1024));
		break;
	case MMAPKIT_LOCK:
		if (LOCK_SHOWS) {
			ck_assert(tu_has_vmflag(p, "lo"));
			ck_assert_uint_eq(tu_resident_pages(p, len), pages);
		}
		break;
	case MMAPKIT_RDONLY:
		ck_assert(tu_has_vmflag(p, "rd"));
		ck_assert(!tu_has_vmflag(p, "wr"));
		break;
	case MMAPKIT_NORESERVE:
		ck_assert(tu_has_vmflag(p, "nr") || !noreserve_shows());
		break;
	default:
		for (size_t i = 0; i < TU_LEN(one_vmflag); i++)
			if (one_vmflag[i].flag == flag)
				ck_assert(tu_has_vmflag(p, one_vmflag[i].code));
		break;
	}
}

static sigjmp_buf probe_jmp;

static void probe_handler(int sig)
{
	siglongjmp(probe_jmp, sig);
}

struct probes {
	const volatile unsigned char *addr[4];
	int n;
};

/* In a child: bit i of the exit status is set when reading addr[i] faults. */
static void child_probe(void *arg)
{
	const struct probes *p = arg;
	struct sigaction sa = {.sa_handler = probe_handler, .sa_flags = SA_NODEFER};
	volatile int bits = 0, i;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	tu_probe_quietly();
	for (i = 0; i < p->n; i++) {
		if (sigsetjmp(probe_jmp, 1) == 0)
			tu_touch(p->addr[i]);
		else
			bits |= 1 << i;
	}
	_exit(bits);
}

/*
 * Which of up to four addresses fault when read, as bits; -1 if the child
 * died otherwise.  One child for all (fork is slow under ASan).
 */
static int faulting(const void *a, const void *b, const void *c, const void *d)
{
	struct probes p = {{a, b, c, d}, d ? 4 : c ? 3 : b ? 2 : 1};
	int st = tu_child(child_probe, &p);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The guard pages: inaccessible mappings right before and after the mapped pages. */
static void check_guard(const mmapkit_map *m)
{
	size_t page = mmapkit_page_size();
	unsigned char *base = (unsigned char *)mmapkit_ptr(m) - mmapkit_offset(m) % page;
	size_t delta = (size_t)(mmapkit_offset(m) % page);
	unsigned char *end = base + (delta + mmapkit_len(m) + page - 1) / page * page;
	char flags[512];

	/* A DONTFORK mapping is not in the child at all: there, only the guards are. */
	if (!tu_fault_probes_work())
		printf("valgrind: guard fault probes skipped (no <valgrind/valgrind.h>)\n");
	else if (mmapkit_flags(m) & MMAPKIT_DONTFORK)
		ck_assert_int_eq(faulting(base - 1, end, NULL, NULL), 3);
	else
		ck_assert_int_eq(faulting(base - 1, end, base, end - 1), 3);
	ck_assert(tu_vmflags(base - 1, flags, sizeof(flags)));
	ck_assert(tu_vmflags(end, flags, sizeof(flags)));
	if (tu_light_guards_expected(mmapkit_kind(m), mmapkit_offset(m) - delta, mmapkit_flags(m))) {
		/* Light guards: markers inside the mapping's VMA. */
		ck_assert_int_eq(tu_maps_lines(base - 1, end + 1),
				 tu_guard_span_lines(mmapkit_kind(m), mmapkit_offset(m) - delta,
						     mmapkit_flags(m)));
		return;
	}
	/* They are the library's PROT_NONE reservations, not just holes. */
	ck_assert(!tu_has_vmflag(base - 1, "rd"));
	ck_assert(!tu_has_vmflag(end, "rd"));
}

/* What a flag must show after the bytes were read (and written). */
static void check_flag_used(mmapkit_map *m, unsigned flag)
{
	int st;

	switch (flag) {
	case MMAPKIT_RDONLY:
		ck_assert(tu_write_faults(mmapkit_ptr(m)));
		break;
	case MMAPKIT_DONTFORK:
		ck_assert(tu_read_faults(mmapkit_ptr(m)));
		break;
	case MMAPKIT_WIPEONFORK:
		st = tu_child(child_all_zero, m);
		ck_assert(TU_EXITED(st, 0));
		break;
	case MMAPKIT_GUARD:
		check_guard(m);
		break;
	case 0:
		/* Without DONTFORK/WIPEONFORK the child sees this process's bytes. */
		st = tu_child(child_sees_a5, m);
		ck_assert(TU_EXITED(st, 0));
		break;
	default:
		break;
	}
}

static bool flag_applies(int c, unsigned flag)
{
	if (flag == MMAPKIT_WIPEONFORK)
		return tu_ctors[c].kind == MMAPKIT_ANON_PRIVATE;
	return true;
}

static const unsigned flag_list[] = {
	0,		   MMAPKIT_RDONLY,   MMAPKIT_POPULATE,	 MMAPKIT_NORESERVE,
	MMAPKIT_LOCK,	   MMAPKIT_THP,	     MMAPKIT_DONTFORK,	 MMAPKIT_WIPEONFORK,
	MMAPKIT_DONTDUMP, MMAPKIT_GUARD,
};

/* One constructor with one flag: accessors, the flag's effect, content, no leak. */
static void one_flag(int c, unsigned flag)
{
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(c, 4 * page);
	uint64_t off = t.path ? page : 0; /* a non-zero, aligned file offset */
	size_t len = 2 * page;
	struct tu_snap s = tu_snap();
	mmapkit_map *m = (mmapkit_map *)&s;

	ck_assert_msg(tu_make(c, &m, t.path, t.fd, off, len, flag) == 0, "%s flags 0x%x: %s",
		      tu_ctors[c].name, flag, mmapkit_errmsg());
	check_accessors(m, c, &t, off, len, flag);
	check_flag_fresh(m, flag);
	check_content(m, off, t.path != NULL);
	if (!(flag & MMAPKIT_RDONLY))
		check_write(m, &t, off);
	check_flag_used(m, flag);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	tu_target_free(&t);
}

START_TEST(ctor_flags)
{
	for (size_t i = 0; i < sizeof(flag_list) / sizeof(flag_list[0]); i++)
		if (flag_applies(_i, flag_list[i]))
			one_flag(_i, flag_list[i]);
}
END_TEST

/* Several flags at once, as a real caller would combine them. */
START_TEST(ctor_flag_combination)
{
	unsigned flags = MMAPKIT_POPULATE | MMAPKIT_LOCK | MMAPKIT_THP | MMAPKIT_DONTDUMP |
			 MMAPKIT_GUARD | MMAPKIT_NORESERVE |
			 (tu_ctors[_i].kind == MMAPKIT_ANON_PRIVATE ? MMAPKIT_WIPEONFORK
								    : MMAPKIT_DONTFORK);
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(_i, 4 * page);
	uint64_t off = t.path ? 2 * page : 0;
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	const unsigned char *p;

	ck_assert_int_eq(tu_make(_i, &m, t.path, t.fd, off, 2 * page, flags), 0);
	check_accessors(m, _i, &t, off, 2 * page, flags);
	p = mmapkit_ptr(m);
	ck_assert(tu_has_vmflag(p, "lo") || !LOCK_SHOWS);
	ck_assert(tu_has_vmflag(p, "hg"));
	ck_assert(tu_has_vmflag(p, "dd"));
	ck_assert(tu_has_vmflag(p, "nr") || !noreserve_shows());
	ck_assert(tu_has_vmflag(p, flags & MMAPKIT_WIPEONFORK ? "wf" : "dc"));
	ck_assert_uint_eq(tu_resident_pages(p, 2 * page), 2);
	check_content(m, off, t.path != NULL);
	check_guard(m);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	tu_target_free(&t);
}
END_TEST

/* An unaligned file range with GUARD: the bytes before ptr in its first page are file data. */
START_TEST(ctor_guard_unaligned)
{
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(_i + TU_FP, 4 * page);
	uint64_t off = page + 100;
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	const unsigned char *p;

	ck_assert_int_eq(tu_make(_i + TU_FP, &m, t.path, t.fd, off, page, MMAPKIT_GUARD), 0);
	p = mmapkit_ptr(m);
	ck_assert_uint_eq(mmapkit_len(m), page);
	for (size_t i = 1; i <= 100; i++)
		TU_BYTE_EQ(p[-(ptrdiff_t)i], tu_pattern(off - i), -(long long)i);
	/* The page after the range's last page: 100 + page bytes need two pages. */
	for (size_t i = page; i < 2 * page - 100; i++)
		TU_BYTE_EQ(p[i], tu_pattern(off + i), i);
	check_guard(m);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	tu_target_free(&t);
}
END_TEST

/* The file is size bytes: the pattern up to pattern_end, zeros after it. */
static void check_file_bytes(const char *path, uint64_t size, uint64_t pattern_end)
{
	unsigned char *want = calloc(1, size + 1);

	ck_assert_ptr_nonnull(want);
	tu_fill_pattern(want, 0, pattern_end);
	tu_assert_file_is(path, want, size, path);
	free(want);
}

/* GROW extends the file with zeros, for private mappings too; a range that fits is left. */
START_TEST(ctor_grow)
{
	int c = tu_file_ctors[_i];
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(c, page + 100);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *p;

	ck_assert_int_eq(tu_make(c, &m, t.path, t.fd, 0, 3 * page, MMAPKIT_GROW), 0);
	check_accessors(m, c, &t, 0, 3 * page, MMAPKIT_GROW);
	check_file_bytes(t.path, 3 * page, page + 100);
	p = mmapkit_ptr(m);
	for (size_t i = 0; i < 3 * page; i++)
		TU_BYTE_EQ(p[i], i < page + 100 ? tu_pattern(i) : 0, i);
	p[3 * page - 1] = 7; /* the grown part is mapped and writable */
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	if (tu_ctors[c].kind == MMAPKIT_FILE_SHARED) {
		unsigned char b;

		tu_pread(t.path, 3 * page - 1, &b, 1);
		ck_assert_uint_eq(b, 7);
	} else {
		check_file_bytes(t.path, 3 * page, page + 100);
	}

	/* A range that fits: the file keeps its size. */
	ck_assert_int_eq(tu_make(c, &m, t.path, t.fd, page, page, MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(t.path), 3 * page);
	mmapkit_unmap(m);

	/* An offset past the end: the file grows to offset + len. */
	ck_assert_int_eq(tu_make(c, &m, t.path, t.fd, 5 * page + 1, page, MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(t.path), 6 * page + 1);
	ck_assert_uint_eq(mmapkit_offset(m), 5 * page + 1);
	p = mmapkit_ptr(m);
	for (size_t i = 0; i < page; i++)
		TU_BYTE_EQ(p[i], 0, i);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	tu_target_free(&t);
}
END_TEST

static unsigned file_mode(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	return st.st_mode & 07777;
}

/* CREATE makes a missing file (mode 0600), keeps an existing one as it is. */
START_TEST(ctor_create)
{
	int c = tu_path_ctors[_i];
	size_t page = mmapkit_page_size();
	const char *path = tu_path("created");
	const char *old = tu_file(page);
	struct tu_snap s = tu_snap();
	mode_t mask = umask(0);
	mmapkit_map *m = NULL;
	unsigned char *p;

	/* Empty: a zero-length handle over a new empty file. */
	ck_assert_int_eq(tu_make(c, &m, path, -1, 0, 0, MMAPKIT_CREATE), 0);
	ck_assert_uint_eq(mmapkit_len(m), 0);
	ck_assert_ptr_nonnull(mmapkit_ptr(m));
	ck_assert_uint_eq(tu_file_size(path), 0);
	ck_assert_uint_eq(file_mode(path), 0600);
	mmapkit_unmap(m);
	ck_assert_int_eq(unlink(path), 0);

	/* With GROW: a new file of the range's size, all zeros. */
	ck_assert_int_eq(tu_make(c, &m, path, -1, 0, 2 * page, MMAPKIT_CREATE | MMAPKIT_GROW), 0);
	check_accessors(m, c, &(struct tu_target){path, -1, 0}, 0, 2 * page,
			MMAPKIT_CREATE | MMAPKIT_GROW);
	ck_assert_uint_eq(file_mode(path), 0600);
	p = mmapkit_ptr(m);
	for (size_t i = 0; i < 2 * page; i++)
		TU_BYTE_EQ(p[i], 0, i);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	check_file_bytes(path, 2 * page, 0); /* the file stays after unmap */
	ck_assert_int_eq(unlink(path), 0);

	/* An existing file is used as it is: not truncated, not re-created. */
	ck_assert_int_eq(chmod(old, 0640), 0);
	ck_assert_int_eq(tu_make(c, &m, old, -1, 0, 0, MMAPKIT_CREATE), 0);
	ck_assert_uint_eq(mmapkit_len(m), page);
	check_content(m, 0, true);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	check_file_bytes(old, page, page);
	ck_assert_uint_eq(file_mode(old), 0640);
	umask(mask);
	unlink(old);
}
END_TEST

/* map_new: the mode of a created file. */
START_TEST(ctor_create_mode)
{
	const char *path = tu_path("mode");
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = MMAPKIT_FILE_SHARED,
				 .flags = MMAPKIT_CREATE | MMAPKIT_GROW, .path = path,
				 .mode = 0640, .len = 100};
	mode_t mask = umask(0);
	mmapkit_map *m = NULL;

	ck_assert_int_eq(mmapkit_map_new(&m, &o), 0);
	ck_assert_uint_eq(mmapkit_len(m), 100);
	ck_assert_uint_eq(file_mode(path), 0640);
	ck_assert_uint_eq(tu_file_size(path), 100);
	mmapkit_unmap(m);
	umask(mask);
	unlink(path);
}
END_TEST

/* ---- HUGETLB ---- */

static int make_anon(int c, mmapkit_map **m, size_t len, unsigned flags)
{
	return tu_make(c, m, NULL, -1, 0, len, flags);
}

/* No huge pages configured: HUGETLB fails with -ENOMEM and leaves nothing behind. */
static void huge_none(void)
{
	for (size_t i = 0; i < TU_LEN(tu_anon_ctors); i++) {
		int c = tu_anon_ctors[i];
		struct tu_snap s = tu_snap();
		mmapkit_map *m = (mmapkit_map *)&s;

		ck_assert_int_eq(make_anon(c, &m, 4096, MMAPKIT_HUGETLB), -ENOMEM);
		ck_assert_ptr_null(m);
		ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), tu_ctors[c].name));
		TU_ASSERT_NO_LEAK(s);
		m = (mmapkit_map *)&s;
		ck_assert_int_eq(make_anon(c, &m, 4096, MMAPKIT_HUGETLB | MMAPKIT_GUARD),
				 -ENOMEM);
		ck_assert_ptr_null(m);
		TU_ASSERT_NO_LEAK(s);
	}
}

static void child_huge_shared(void *arg)
{
	unsigned char *p = mmapkit_ptr(arg);

	p[1] = 0x42;
}

/* A working huge page mapping of kind c: 0, or an error code (asserting nothing). */
static int huge_one(int c, size_t hp, unsigned flags)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *p;
	int st, err;

	err = make_anon(c, &m, 100, MMAPKIT_HUGETLB | flags);
	if (err)
		return err;
	p = mmapkit_ptr(m);
	if (mmapkit_len(m) != 100 || (uintptr_t)p % hp || !tu_has_vmflag(p, "ht") ||
	    (tu_smaps_kb(p, "KernelPageSize") != (long)(hp / 1024)))
		err = -1000;
	/* The whole huge page is mapped, and zero. */
	for (size_t i = 0; !err && i < hp; i += 4096)
		err = p[i] ? -1001 : 0;
	p[0] = 1;
	p[hp - 1] = 2;
	if (!err && (flags & MMAPKIT_GUARD) && tu_fault_probes_work() &&
	    faulting(p - 1, p + hp, p, p + hp - 1) != 3)
		err = -1002;
	if (!err && tu_ctors[c].kind == MMAPKIT_ANON_SHARED) {
		st = tu_child(child_huge_shared, m);
		err = TU_EXITED(st, 0) && p[1] == 0x42 ? 0 : -1003;
	}
	mmapkit_unmap(m);
	if (!err && (tu_count_fds() != s.fds || (!tu_on_valgrind() && tu_count_maps() != s.maps)))
		err = -1004;
	return err;
}

/*
 * HUGETLB needs configured huge pages.  As root, the test reserves a few for
 * itself and gives them back before it asserts anything.
 */
START_TEST(ctor_hugetlb)
{
	const int *cs = tu_anon_ctors;
	size_t hp = tu_huge_page_size();
	int errs[2 * TU_LEN(tu_anon_ctors)];
	char why[128];
	size_t n = 0;
	long got;

	ck_assert_uint_gt(hp, 0);
	if (tu_read_long("/proc/sys/vm/nr_hugepages") == 0 &&
	    tu_read_long("/proc/sys/vm/nr_overcommit_hugepages") == 0)
		huge_none();
	got = tu_huge_reserve(4, why, sizeof(why));
	if (!got) {
		printf("ctor: %s; HUGETLB mappings not tested\n", why);
		return;
	}
	for (size_t i = 0; i < TU_LEN(tu_anon_ctors); i++) {
		errs[n++] = huge_one(cs[i], hp, 0);
		errs[n++] = huge_one(cs[i], hp, MMAPKIT_GUARD | MMAPKIT_POPULATE);
	}
	ck_assert(tu_huge_release(got));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(errs[i] == 0, "%s HUGETLB case %zu: %d (%s)",
			      tu_ctors[cs[i / 2]].name, i, errs[i],
			      errs[i] > -1000 ? mmapkit_strerror(errs[i]) : "check");
}
END_TEST

/* fd constructors duplicate the caller's descriptor: each side closes only its own. */
START_TEST(ctor_fd_kept)
{
	int c = tu_fd_ctors[_i];
	size_t page = mmapkit_page_size();
	struct tu_target t = tu_target_new(c, page);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char b;

	/* unmap leaves the caller's descriptor open */
	ck_assert_int_eq(tu_make(c, &m, NULL, t.fd, 0, 0, 0), 0);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	ck_assert_int_eq(pread(t.fd, &b, 1, 3), 1);
	ck_assert_uint_eq(b, tu_pattern(3));

	/* closing the caller's descriptor leaves the handle's open */
	ck_assert_int_eq(tu_make(c, &m, NULL, t.fd, 0, 0, 0), 0);
	ck_assert_uint_eq(mmapkit_len(m), page);
	ck_assert_int_eq(close(t.fd), 0);
	t.fd = -1;
	ck_assert_uint_eq(((unsigned char *)mmapkit_ptr(m))[page - 1], tu_pattern(page - 1));
	ck_assert_int_eq(pread(mmapkit_fd(m), &b, 1, 5), 1);
	ck_assert_uint_eq(b, tu_pattern(5));
	mmapkit_unmap(m);
	tu_target_free(&t);
}
END_TEST

/* A shared anonymous mapping is shared with a child in both directions. */
static void child_writes(void *arg)
{
	unsigned char *p = mmapkit_ptr(arg);

	if (p[0] != 0xa5)
		_exit(1);
	p[1] = 0x77;
}

START_TEST(ctor_anon_shared_child)
{
	mmapkit_map *m = NULL;
	unsigned char *p;
	int st;

	ck_assert_int_eq(make_anon(_i ? TU_NEW_AS : TU_AS, &m, 10, 0), 0);
	p = mmapkit_ptr(m);
	p[0] = 0xa5;
	st = tu_child(child_writes, m);
	ck_assert(TU_EXITED(st, 0));
	ck_assert_uint_eq(p[1], 0x77);
	mmapkit_unmap(m);
}
END_TEST

Suite *suite_ctor(void)
{
	Suite *s = suite_create("ctor");
	TCase *tc = tu_tcase(s, "flags", 60);

	tcase_add_loop_test(tc, ctor_flags, 0, TU_NCTORS);
	tcase_add_loop_test(tc, ctor_flag_combination, 0, TU_NCTORS);
	tcase_add_loop_test(tc, ctor_anon_shared_child, 0, 2);

	tc = tu_tcase(s, "files", 30);
	tcase_add_loop_test(tc, ctor_guard_unaligned, 0, 4);
	tcase_add_loop_test(tc, ctor_grow, 0, TU_LEN(tu_file_ctors));
	tcase_add_loop_test(tc, ctor_create, 0, TU_LEN(tu_path_ctors));
	tcase_add_test(tc, ctor_create_mode);
	tcase_add_loop_test(tc, ctor_fd_kept, 0, TU_LEN(tu_fd_ctors));

	tc = tu_tcase(s, "hugetlb", 30);
	tcase_add_test(tc, ctor_hugetlb);
	return s;
}
