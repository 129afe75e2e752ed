/* SPDX-License-Identifier: MIT */
/* A first pass over each kind: create, read and write, punch, revert, unmap. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

static unsigned written(size_t i)
{
	(void)i;
	return 0xab;
}

/* The file's byte at mapping offset i: the tests map it from file offset 1. */
static unsigned from_file(size_t i)
{
	return tu_pattern(i + 1);
}

/* p[0, n) reads zero in the punched range [a, z) and outside(i) everywhere else. */
static void expect_bytes(const unsigned char *p, size_t n, size_t a, size_t z,
			 unsigned (*outside)(size_t), const char *step)
{
	for (size_t i = 0; i < n; i++) {
		unsigned want = i >= a && i < z ? 0 : outside(i);

		if (p[i] != want)
			ck_abort_msg("%s: byte %zu is %u, want %u", step, i, p[i], want);
	}
}

START_TEST(anon_private_roundtrip)
{
	struct tu_snap s = tu_snap();
	size_t page = mmapkit_page_size();
	mmapkit_map *m = NULL;
	unsigned char *p;

	ck_assert_int_eq(mmapkit_anon_private(&m, 3 * page, 0), 0);
	ck_assert_int_eq(mmapkit_kind(m), MMAPKIT_ANON_PRIVATE);
	ck_assert_uint_eq(mmapkit_len(m), 3 * page);
	ck_assert_int_eq(mmapkit_fd(m), -1);
	p = mmapkit_ptr(m);
	memset(p, 0xab, 3 * page);
	ck_assert_int_eq(mmapkit_punch(m, 10, 2 * page), 0);
	ck_assert_uint_eq(tu_resident_pages(p + page, page), 0); /* before reading it */
	expect_bytes(p, 3 * page, 10, 10 + 2 * page, written, "after punch");
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

START_TEST(file_private_punch_revert)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(4 * page);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *p;

	ck_assert_int_eq(mmapkit_file_private(&m, path, 1, 0, MMAPKIT_DONTFORK), 0);
	ck_assert_uint_eq(mmapkit_len(m), 4 * page - 1);
	p = mmapkit_ptr(m);
	expect_bytes(p, mmapkit_len(m), 0, 0, from_file, "mapped");
	ck_assert_int_eq(mmapkit_punch(m, 100, 2 * page), 0);
	ck_assert(tu_has_vmflag(p + page, "dc"));
	expect_bytes(p, mmapkit_len(m), 100, 100 + 2 * page, from_file, "after punch");
	ck_assert_int_eq(mmapkit_revert(m, 0, MMAPKIT_TO_END), 0);
	expect_bytes(p, mmapkit_len(m), 0, 0, from_file, "after revert");
	ck_assert(tu_has_vmflag(p + page, "dc"));
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

START_TEST(file_shared_sync)
{
	size_t page = mmapkit_page_size();
	const char *path = tu_file(2 * page);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *p, buf[16];

	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 4 * page, 0), -ERANGE);
	ck_assert_ptr_null(m);
	ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), "MMAPKIT_GROW"));
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 4 * page, MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(path), 4 * page);
	p = mmapkit_ptr(m);
	memcpy(p + 3 * page, "hello", 5);
	ck_assert_int_eq(mmapkit_sync(m, 3 * page, 5, MMAPKIT_SYNC_FULL), 0);
	tu_pread(path, 3 * page, buf, 5);
	ck_assert_mem_eq(buf, "hello", 5);
	ck_assert_int_eq(mmapkit_punch(m, 3 * page + 1, 3), 0);
	tu_pread(path, 3 * page, buf, 5);
	ck_assert_mem_eq(buf, "h\0\0\0o", 5);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

Suite *suite_basic(void)
{
	Suite *s = suite_create("basic");
	TCase *tc = tu_tcase(s, "kinds", 0);

	tcase_add_test(tc, anon_private_roundtrip);
	tcase_add_test(tc, file_private_punch_revert);
	tcase_add_test(tc, file_shared_sync);
	return s;
}
