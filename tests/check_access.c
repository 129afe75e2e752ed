/* SPDX-License-Identifier: MIT */
/*
 * Accessors: the NULL handle, version and page size, the bytes of file
 * mappings at every kind of offset and length, empty ranges, and the typed
 * view mmapkit_at / MMAPKIT_AT.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

START_TEST(access_null_handle)
{
	ck_assert_ptr_null(mmapkit_ptr(NULL));
	ck_assert_uint_eq(mmapkit_len(NULL), 0);
	ck_assert_int_eq(mmapkit_kind(NULL), 0);
	ck_assert_uint_eq(mmapkit_flags(NULL), 0);
	ck_assert_uint_eq(mmapkit_offset(NULL), 0);
	ck_assert_int_eq(mmapkit_fd(NULL), -1);
	ck_assert_ptr_null(mmapkit_at(NULL, 0, 0, 0));
	ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), "mmapkit_at"));
	ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), "NULL"));
	ck_assert_ptr_null(MMAPKIT_AT((mmapkit_map *)NULL, int, 0));
	mmapkit_unmap(NULL); /* a no-op */
}
END_TEST

START_TEST(access_version_page_size)
{
	ck_assert_str_eq(mmapkit_version(), "0.2.0");
	ck_assert_str_eq(mmapkit_version(), MMAPKIT_VERSION_STRING);
	ck_assert_int_eq(MMAPKIT_VERSION_MAJOR, 0);
	ck_assert_int_eq(MMAPKIT_VERSION_MINOR, 2);
	ck_assert_int_eq(MMAPKIT_VERSION_PATCH, 0);
	ck_assert_uint_eq(mmapkit_page_size(), (size_t)sysconf(_SC_PAGESIZE));
}
END_TEST

/* ---- the bytes of file mappings ---- */

/* The ways a file is mapped here: six of the file constructors, two read-only. */
static const struct {
	int c;
	unsigned flags;
} ways[] = {
	{TU_FP, MMAPKIT_RDONLY}, {TU_FS, 0}, {TU_FDP, 0},
	{TU_FDS, MMAPKIT_RDONLY}, {TU_NEW_FS, 0}, {TU_NEW_FDP, 0},
};

static int map_file(int how, mmapkit_map **m, const char *path, int fd, uint64_t off,
		    size_t len)
{
	return tu_make(ways[how].c, m, path, fd, off, len, ways[how].flags);
}

/* Maps [off, off+len) and compares every byte with the file's pattern. */
static void check_range(int how, const char *path, int fd, uint64_t size, uint64_t off,
			size_t len)
{
	size_t page = mmapkit_page_size(), want = len ? len : (size_t)(size - off);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	const unsigned char *p;

	ck_assert_msg(map_file(how, &m, path, fd, off, len) == 0, "how %d %llu+%zu: %s", how,
		      (unsigned long long)off, len, mmapkit_errmsg());
	p = mmapkit_ptr(m);
	ck_assert_ptr_nonnull(p);
	ck_assert_uint_eq(mmapkit_len(m), want);
	ck_assert_uint_eq(mmapkit_offset(m), off);
	if (want)
		ck_assert_uint_eq((uintptr_t)p % page, off % page);
	for (size_t i = 0; i < want; i++)
		if (p[i] != tu_pattern(off + i))
			ck_abort_msg("how %d %llu+%zu: byte %zu is %u, not %u", how,
				     (unsigned long long)off, len, i, p[i], tu_pattern(off + i));
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}

/* Unaligned offsets and lengths that cross pages, for every file constructor. */
START_TEST(access_file_bytes)
{
	size_t page = mmapkit_page_size();
	uint64_t size = 3 * page + 123;
	const char *path = tu_file(size);
	const uint64_t offs[] = {0, 1, page - 1, page, page + 1, 2 * page + 5, size - 1};
	const size_t lens[] = {0, 1, 2, page - 1, page, page + 1, 2 * page + 3};
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++)
		for (size_t j = 0; j < sizeof(lens) / sizeof(lens[0]); j++)
			if (offs[i] + lens[j] <= size)
				check_range(_i, path, fd, size, offs[i], lens[j]);
	/* The whole file, and exactly up to its end. */
	check_range(_i, path, fd, size, 0, size);
	check_range(_i, path, fd, size, page + 1, size - page - 1);
	close(fd);
	unlink(path);
}
END_TEST

/* An empty range: a valid handle, length 0, a pointer that memcpy of 0 bytes accepts. */
static void check_empty(int how, const char *path, int fd, uint64_t off)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	char buf[1] = {'x'};

	ck_assert_int_eq(map_file(how, &m, path, fd, off, 0), 0);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_nonnull(mmapkit_ptr(m));
	ck_assert_uint_eq(mmapkit_len(m), 0);
	ck_assert_uint_eq(mmapkit_offset(m), off);
	ck_assert_int_ge(mmapkit_fd(m), 0);
	memcpy(buf, mmapkit_ptr(m), 0);
	ck_assert_int_eq(buf[0], 'x');
	/* The typed view of an empty range: zero bytes fit, one does not. */
	ck_assert_ptr_eq(mmapkit_at(m, 0, 0, 1), mmapkit_ptr(m));
	ck_assert_ptr_null(mmapkit_at(m, 0, 1, 1));
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}

START_TEST(access_empty)
{
	size_t page = mmapkit_page_size();
	const char *empty = tu_file(0), *full = tu_file(page + 7);
	int efd = open(empty, O_RDONLY | O_CLOEXEC), ffd = open(full, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(efd, 0);
	ck_assert_int_ge(ffd, 0);
	check_empty(_i, empty, efd, 0);
	check_empty(_i, full, ffd, page + 7); /* offset == size */
	ck_assert_uint_eq(tu_file_size(empty), 0);
	ck_assert_uint_eq(tu_file_size(full), page + 7);
	close(efd);
	close(ffd);
	unlink(empty);
	unlink(full);
}
END_TEST

/* ---- mmapkit_at ---- */

/* After a failure, errmsg names the call and each number in nums. */
static void check_at_fails(const mmapkit_map *m, size_t off, size_t size, size_t align,
			   const char *const *nums)
{
	ck_assert_ptr_null(mmapkit_at(m, off, size, align));
	tu_assert_errmsg("mmapkit_at", nums, "mmapkit_at");
	/* A NULL handle's message replaces it, so the next check sees a fresh one. */
	ck_assert_ptr_null(mmapkit_at(NULL, 0, 0, 0));
}

START_TEST(access_at_anon)
{
	size_t page = mmapkit_page_size(), len = 3 * page;
	mmapkit_map *m = NULL;
	unsigned char *p;

	ck_assert_int_eq(mmapkit_anon_private(&m, len, 0), 0);
	p = mmapkit_ptr(m);
	/* in range */
	ck_assert_ptr_eq(mmapkit_at(m, 0, 1, 1), p);
	ck_assert_ptr_eq(mmapkit_at(m, 0, len, 1), p);
	ck_assert_ptr_eq(mmapkit_at(m, 10, 20, 1), p + 10);
	ck_assert_ptr_eq(mmapkit_at(m, len - 8, 8, 8), p + len - 8);
	ck_assert_ptr_eq(mmapkit_at(m, page, page, page), p + page);
	/* align 0 means 1: any address */
	ck_assert_ptr_eq(mmapkit_at(m, 3, 5, 0), p + 3);
	ck_assert_ptr_eq(mmapkit_at(m, len - 1, 1, 0), p + len - 1);
	/* exactly at the end with size 0 */
	ck_assert_ptr_eq(mmapkit_at(m, len, 0, 1), p + len);
	ck_assert_ptr_eq(mmapkit_at(m, len, 0, 0), p + len);
	/* outside, and off + size overflowing */
	check_at_fails(m, len, 1, 1, TU_NUMS(tu_num(len)));
	check_at_fails(m, len + 1, 0, 1, TU_NUMS(tu_num(len + 1), tu_num(len)));
	check_at_fails(m, len - 7, 8, 1, TU_NUMS(tu_num(len - 7), tu_num(len)));
	check_at_fails(m, 1, SIZE_MAX, 1, TU_NUMS(tu_num(SIZE_MAX), tu_num(len)));
	check_at_fails(m, SIZE_MAX, 1, 1, TU_NUMS(tu_num(SIZE_MAX), tu_num(len)));
	check_at_fails(m, SIZE_MAX, SIZE_MAX, 0, TU_NUMS(tu_num(SIZE_MAX)));
	check_at_fails(m, 8, SIZE_MAX - 7, 1, TU_NUMS(tu_num(SIZE_MAX - 7)));
	/* misaligned */
	check_at_fails(m, 2, 4, 4, TU_NUMS(tu_num(2), "4"));
	check_at_fails(m, 4, 8, 8, TU_NUMS(tu_num(4), "8"));
	check_at_fails(m, 8, 1, page, TU_NUMS(tu_num(8), tu_num(page)));
	check_at_fails(m, 0, 1, (size_t)1 << (sizeof(size_t) * 8 - 1),
		       TU_NUMS(tu_num((size_t)1 << (sizeof(size_t) * 8 - 1))));
	/* align not a power of two, even where the address would be a multiple */
	check_at_fails(m, 0, 1, 3, TU_NUMS("3"));
	check_at_fails(m, 0, 1, 6, TU_NUMS("6"));
	check_at_fails(m, 12, 1, 12, TU_NUMS("12"));
	check_at_fails(m, 0, 1, SIZE_MAX, TU_NUMS(tu_num(SIZE_MAX)));
	mmapkit_unmap(m);
}
END_TEST

struct three {
	char c[3];
};

START_TEST(access_at_macro)
{
	size_t page = mmapkit_page_size(), len = 2 * page;
	mmapkit_map *m = NULL;
	unsigned char *p;
	uint64_t *q;

	ck_assert_int_eq(mmapkit_anon_shared(&m, len, 0), 0);
	p = mmapkit_ptr(m);
	q = MMAPKIT_AT(m, uint64_t, 8);
	ck_assert_ptr_eq(q, p + 8);
	*q = 0x0102030405060708ull;
	ck_assert_uint_eq(*MMAPKIT_AT(m, uint64_t, 8), 0x0102030405060708ull);
	ck_assert_ptr_eq(MMAPKIT_AT(m, uint64_t, len - 8), p + len - 8);
	ck_assert_ptr_null(MMAPKIT_AT(m, uint64_t, 4));     /* misaligned */
	ck_assert_ptr_null(MMAPKIT_AT(m, uint64_t, len - 4)); /* past the end */
	ck_assert_ptr_null(MMAPKIT_AT(m, uint64_t, len));
	ck_assert_ptr_null(MMAPKIT_AT(m, uint64_t, SIZE_MAX));
	ck_assert_ptr_eq(MMAPKIT_AT(m, struct three, len - 3), p + len - 3);
	ck_assert_ptr_null(MMAPKIT_AT(m, struct three, len - 2));
	ck_assert_ptr_eq(MMAPKIT_AT(m, char, len - 1), p + len - 1);
	mmapkit_unmap(m);
}
END_TEST

/* An unaligned file offset: alignment is of the address, not of off. */
START_TEST(access_at_unaligned_file)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(2 * page);
	mmapkit_map *m = NULL;
	const unsigned char *p;
	uint32_t v, *q;

	ck_assert_int_eq(mmapkit_file_private(&m, path, 1, 0, 0), 0);
	p = mmapkit_ptr(m);
	ck_assert_uint_eq((uintptr_t)p % page, 1);
	ck_assert_uint_eq(mmapkit_len(m), 2 * page - 1);
	ck_assert_ptr_null(MMAPKIT_AT(m, uint32_t, 0));
	q = MMAPKIT_AT(m, uint32_t, 3);
	ck_assert_ptr_eq(q, p + 3);
	memcpy(&v, p + 3, sizeof(v));
	ck_assert_uint_eq(*q, v);
	ck_assert_uint_eq(((const unsigned char *)q)[0], tu_pattern(4));
	/* the last whole aligned uint32_t in the range, and one that would stick out */
	ck_assert_ptr_eq(MMAPKIT_AT(m, uint32_t, 2 * page - 5), p + 2 * page - 5);
	ck_assert_ptr_null(MMAPKIT_AT(m, uint64_t, 2 * page - 5));
	check_at_fails(m, 1, 2 * page, 1, TU_NUMS(tu_num(2 * page), tu_num(2 * page - 1)));
	mmapkit_unmap(m);
	unlink(path);
}
END_TEST

Suite *suite_access(void)
{
	Suite *s = suite_create("access");
	TCase *tc = tu_tcase(s, "accessors", 0);

	tcase_add_test(tc, access_null_handle);
	tcase_add_test(tc, access_version_page_size);
	tcase_add_test(tc, access_at_anon);
	tcase_add_test(tc, access_at_macro);
	tcase_add_test(tc, access_at_unaligned_file);

	tc = tu_tcase(s, "bytes", 30);
	tcase_add_loop_test(tc, access_file_bytes, 0, (int)TU_LEN(ways));
	tcase_add_loop_test(tc, access_empty, 0, (int)TU_LEN(ways));
	return s;
}
