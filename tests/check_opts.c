/* SPDX-License-Identifier: MIT */
/*
 * struct mmapkit_opts across versions of the header: a caller built against
 * 0.1's struct (which ends at len), a caller built against a newer header
 * (fields appended), sizes smaller than any struct, and the zeroed struct
 * naming only sz and a file kind, which must not map descriptor 0 (stdin).
 * Descriptor 0 is still mapped when named: mmapkit_fd_private/_shared.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static size_t pg(void)
{
	return mmapkit_page_size();
}

/* struct mmapkit_opts as 0.1 released it, as a program built against 0.1 has it. */
struct opts_0_1 {
	size_t sz;
	int kind;
	unsigned flags;
	const char *path;
	int fd;
	uint32_t mode;
	uint64_t offset;
	size_t len;
};

/* Fields are only ever appended: every 0.1 field is where today's header has it. */
#define SAME_PLACE(f)                                                                       \
	_Static_assert(offsetof(struct opts_0_1, f) == offsetof(struct mmapkit_opts, f),    \
		       "struct mmapkit_opts moved " #f)
SAME_PLACE(sz);
SAME_PLACE(kind);
SAME_PLACE(flags);
SAME_PLACE(path);
SAME_PLACE(fd);
SAME_PLACE(mode);
SAME_PLACE(offset);
SAME_PLACE(len);
_Static_assert(sizeof(struct opts_0_1) <= sizeof(struct mmapkit_opts), "opts shrank");

/* A failure: the errno, *out NULL, the call named with the numbers, nothing left behind. */
static void assert_refused(int r, int err, mmapkit_map *out, struct tu_snap s,
			   const char *const *parts, const char *what)
{
	ck_assert_msg(r == -err, "%s: returned %d, want %d (%s)", what, r, -err, mmapkit_errmsg());
	ck_assert_msg(out == NULL, "%s: *out not cleared", what);
	tu_assert_errmsg("mmapkit_map_new", parts, what);
	TU_ASSERT_NO_LEAK(s);
}

/*
 * Two pages, the second inaccessible: a struct of n bytes placed at the end
 * of the first, so that the library reading one byte past sz faults.
 */
static unsigned char *guarded_struct(size_t n, unsigned char **pages)
{
	*pages = mmap(NULL, 2 * pg(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(*pages, MAP_FAILED);
	ck_assert_int_eq(mprotect(*pages + pg(), pg(), PROT_NONE), 0);
	memset(*pages, 0xff, pg()); /* garbage before the struct: never read either */
	return *pages + pg() - n;
}

/*
 * A program built against 0.1 passes its smaller struct, sz = sizeof of it:
 * accepted, every 0.1 field honoured, nothing read past sz.  Sizes between
 * 0.1's and today's (a header in between) too: the fields past sz read zero.
 */
START_TEST(opts_caller_0_1)
{
	const size_t file_size = 3 * pg() + 11;
	const char *path = tu_file(file_size), *created = tu_path("created-0.1");
	struct tu_snap s = tu_snap();
	mode_t mask = umask(0);

	/* (a struct's size is a multiple of its alignment: the pointer stays aligned) */
	for (size_t sz = sizeof(struct opts_0_1); sz <= sizeof(struct mmapkit_opts);
	     sz += _Alignof(struct mmapkit_opts)) {
		unsigned char *pages, *at = guarded_struct(sz, &pages), *p;
		struct opts_0_1 *o = (struct opts_0_1 *)at;
		mmapkit_map *m = NULL;
		struct stat st;
		char what[64];

		snprintf(what, sizeof(what), "sz %zu", sz);
		memset(at, 0, sz);
		*o = (struct opts_0_1){.sz = sz, .kind = MMAPKIT_ANON_SHARED, .len = 3 * pg() + 1,
				       .flags = MMAPKIT_POPULATE};
		ck_assert_msg(mmapkit_map_new(&m, (const struct mmapkit_opts *)o) == 0, "%s: %s",
			      what, mmapkit_errmsg());
		ck_assert_uint_eq(mmapkit_len(m), 3 * pg() + 1);
		ck_assert_int_eq(mmapkit_kind(m), MMAPKIT_ANON_SHARED);
		ck_assert_uint_eq(mmapkit_flags(m), MMAPKIT_POPULATE);
		mmapkit_unmap(m);
		/* a file by path, from an unaligned offset to the end */
		*o = (struct opts_0_1){.sz = sz, .kind = MMAPKIT_FILE_PRIVATE, .path = path,
				       .fd = -1, .offset = 7, .flags = MMAPKIT_RDONLY};
		ck_assert_msg(mmapkit_map_new(&m, (const struct mmapkit_opts *)o) == 0, "%s: %s",
			      what, mmapkit_errmsg());
		ck_assert_uint_eq(mmapkit_len(m), file_size - 7);
		ck_assert_uint_eq(mmapkit_offset(m), 7);
		p = mmapkit_ptr(m);
		for (size_t i = 0; i < file_size - 7; i++)
			TU_BYTE_EQ(p[i], tu_pattern(7 + i), i);
		mmapkit_unmap(m);
		/* CREATE with the mode field */
		*o = (struct opts_0_1){.sz = sz, .kind = MMAPKIT_FILE_SHARED, .path = created,
				       .fd = -1, .mode = 0640, .len = pg(),
				       .flags = MMAPKIT_CREATE | MMAPKIT_GROW};
		ck_assert_msg(mmapkit_map_new(&m, (const struct mmapkit_opts *)o) == 0, "%s: %s",
			      what, mmapkit_errmsg());
		ck_assert_int_eq(stat(created, &st), 0);
		ck_assert_uint_eq(st.st_mode & 07777, 0640);
		ck_assert_uint_eq(st.st_size, pg());
		mmapkit_unmap(m);
		ck_assert_int_eq(unlink(created), 0);
		munmap(pages, 2 * pg());
	}
	umask(mask);
	TU_ASSERT_NO_LEAK(s);
	unlink(path);
}
END_TEST

/* sz smaller than 0.1's struct: -EINVAL naming both sizes, before any system call. */
START_TEST(opts_too_small)
{
	const size_t min = sizeof(struct opts_0_1);
	const size_t sizes[] = {0, 1, sizeof(size_t), min / 2, min - 1};
	struct mmapkit_opts o;
	mmapkit_map *out;

	for (size_t i = 0; i < TU_LEN(sizes); i++) {
		struct tu_snap s = tu_snap();
		char what[32];
		int r;

		snprintf(what, sizeof(what), "sz %zu", sizes[i]);
		o = (struct mmapkit_opts){.sz = sizes[i], .kind = MMAPKIT_ANON_PRIVATE,
					  .len = pg()};
		out = (mmapkit_map *)&o;
		mmapkit__fault_reset();
		r = mmapkit_map_new(&out, &o);
		ck_assert_uint_eq(mmapkit__fault_total(), 0);
		assert_refused(r, EINVAL, out, s, TU_NUMS(tu_num(sizes[i]), tu_num(min)), what);
	}
}
END_TEST

/* A program built against a newer header: fields appended after today's. */
struct opts_newer {
	struct mmapkit_opts o;
	uint64_t future_a;
	void *future_b;
	uint32_t future_c;
	unsigned char future_d[5];
};

/*
 * Accepted while the fields this library does not know are zero (the caller
 * asks for nothing new); any non-zero byte in them is -E2BIG, refused before
 * anything is done (no file created, no system call).
 */
START_TEST(opts_caller_newer)
{
	const size_t known = sizeof(struct mmapkit_opts);
	const char *path = tu_path("created-newer");
	struct opts_newer n;
	mmapkit_map *out = NULL;
	unsigned char *tail = (unsigned char *)&n + known;
	size_t ntail = sizeof(n) - known;

	memset(&n, 0, sizeof(n));
	n.o = (struct mmapkit_opts){.sz = sizeof(n), .kind = MMAPKIT_FILE_SHARED, .path = path,
				    .fd = -1, .len = pg(), .flags = MMAPKIT_CREATE | MMAPKIT_GROW};
	ck_assert_msg(mmapkit_map_new(&out, &n.o) == 0, "%s", mmapkit_errmsg());
	ck_assert_uint_eq(mmapkit_len(out), pg());
	mmapkit_unmap(out);
	ck_assert_int_eq(unlink(path), 0);
	/* every byte of every future field counts, the last one too */
	for (size_t i = 0; i < ntail; i++) {
		struct tu_snap s = tu_snap();
		char what[48];
		int r;

		snprintf(what, sizeof(what), "byte %zu of the future fields", i);
		tail[i] = i % 2 ? 0x80 : 1;
		out = (mmapkit_map *)&n;
		mmapkit__fault_reset();
		r = mmapkit_map_new(&out, &n.o);
		ck_assert_uint_eq(mmapkit__fault_total(), 0);
		assert_refused(r, E2BIG, out, s, TU_NUMS(tu_num(known)), what);
		ck_assert_int_ne(access(path, F_OK), 0);
		tail[i] = 0;
	}
	/* a non-zero byte past sz is not the library's business */
	n.o.sz = sizeof(n) - 1;
	tail[ntail - 1] = 0xff;
	ck_assert_msg(mmapkit_map_new(&out, &n.o) == 0, "%s", mmapkit_errmsg());
	mmapkit_unmap(out);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* The pattern file on descriptor 0, opened as asked; returns the file's path. */
static const char *stdin_is_file(int oflags)
{
	const char *path = tu_file(2 * pg());
	int fd = open(path, oflags | O_CLOEXEC);

	TU_CHILD_OK(fd > 0);
	TU_CHILD_OK(dup2(fd, 0) == 0);
	close(fd);
	return path;
}

/*
 * In a child whose stdin is a mappable file: a zeroed struct naming only sz
 * and a file kind (with or without a length) is -EINVAL before any system
 * call, leaves nothing behind and says how to map descriptor 0.
 */
static void zeroed_child(void *arg)
{
	(void)arg;
	stdin_is_file(O_RDWR);
	for (int kind = MMAPKIT_FILE_PRIVATE; kind <= MMAPKIT_FILE_SHARED; kind++) {
		for (size_t len = 0; len <= pg(); len += pg()) {
			struct mmapkit_opts o = {.sz = sizeof(o), .kind = kind, .len = len};
			mmapkit_map *m = (mmapkit_map *)&o;
			struct tu_snap s = tu_snap();

			mmapkit__fault_reset();
			TU_CHILD_OK(mmapkit_map_new(&m, &o) == -EINVAL);
			TU_CHILD_OK(m == NULL);
			TU_CHILD_OK(mmapkit__fault_total() == 0);
			TU_CHILD_OK(strstr(mmapkit_errmsg(), "mmapkit_map_new: no path and no descriptor"));
			TU_CHILD_OK(strstr(mmapkit_errmsg(), "mmapkit_fd_private"));
			TU_CHILD_OK(tu_count_fds() == s.fds);
			TU_CHILD_OK(!tu_maps_reliable() || tu_count_maps() == s.maps);
			/* an explicit fd 0 in the struct is refused the same way */
			o.flags = MMAPKIT_RDONLY;
			TU_CHILD_OK(mmapkit_map_new(&m, &o) == -EINVAL && m == NULL);
		}
	}
}

START_TEST(opts_zeroed_file_kind)
{
	int st = tu_child(zeroed_child, NULL);

	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
}
END_TEST

/*
 * Descriptor 0 named explicitly: mmapkit_fd_private and mmapkit_fd_shared map
 * it (a duplicate the handle owns), as any descriptor; fd 0 stays the caller's.
 */
static void fd0_child(void *arg)
{
	const char *path;
	mmapkit_map *m = NULL;
	unsigned char *p;

	(void)arg;
	path = stdin_is_file(O_RDWR);
	TU_CHILD_OK(mmapkit_fd_private(&m, 0, 1, 0, 0) == 0);
	TU_CHILD_OK(mmapkit_len(m) == 2 * pg() - 1);
	TU_CHILD_OK(mmapkit_fd(m) > 0);
	p = mmapkit_ptr(m);
	for (size_t i = 0; i < mmapkit_len(m); i++)
		TU_CHILD_OK(p[i] == tu_pattern(1 + i));
	mmapkit_unmap(m);
	TU_CHILD_OK(mmapkit_fd_shared(&m, 0, 0, pg(), 0) == 0);
	p = mmapkit_ptr(m);
	p[5] = 0;
	TU_CHILD_OK(mmapkit_sync(m, 0, MMAPKIT_TO_END, 0) == 0);
	mmapkit_unmap(m);
	TU_CHILD_OK(fcntl(0, F_GETFD) == 0); /* still open, still the caller's */
	{
		unsigned char b = 0xaa;

		TU_CHILD_OK(pread(0, &b, 1, 5) == 1 && b == 0);
	}
	unlink(path);
}

START_TEST(opts_fd0_by_name)
{
	int st = tu_child(fd0_child, NULL);

	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
}
END_TEST

Suite *suite_opts(void)
{
	Suite *s = suite_create("opts");
	TCase *tc = tu_tcase(s, "sizes", 0);

	tcase_add_test(tc, opts_caller_0_1);
	tcase_add_test(tc, opts_too_small);
	tcase_add_test(tc, opts_caller_newer);

	tc = tu_tcase(s, "fd0", 0);
	tcase_add_test(tc, opts_zeroed_file_kind);
	tcase_add_test(tc, opts_fd0_by_name);
	return s;
}
