/* SPDX-License-Identifier: MIT */
/* A first pass over each kind: create, read and write, punch, revert, unmap. */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

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
	for (size_t i = 0; i < 3 * page; i++)
		if (p[i] != (i >= 10 && i < 10 + 2 * page ? 0 : 0xab))
			ck_abort_msg("byte %zu is %u after punch", i, p[i]);
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
	for (size_t i = 0; i < mmapkit_len(m); i++)
		if (p[i] != tu_pattern(i + 1))
			ck_abort_msg("byte %zu is %u, want the file's %u", i, p[i], tu_pattern(i + 1));
	ck_assert_int_eq(mmapkit_punch(m, 100, 2 * page), 0);
	ck_assert(tu_has_vmflag(p + page, "dc"));
	for (size_t i = 0; i < mmapkit_len(m); i++)
		if (p[i] != (i >= 100 && i < 100 + 2 * page ? 0 : tu_pattern(i + 1)))
			ck_abort_msg("byte %zu is %u after punch", i, p[i]);
	ck_assert_int_eq(mmapkit_revert(m, 0, 0), 0);
	for (size_t i = 0; i < mmapkit_len(m); i++)
		if (p[i] != tu_pattern(i + 1))
			ck_abort_msg("byte %zu is %u, want the file's %u", i, p[i], tu_pattern(i + 1));
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
	TCase *tc = tcase_create("kinds");

	tcase_add_test(tc, anon_private_roundtrip);
	tcase_add_test(tc, file_private_punch_revert);
	tcase_add_test(tc, file_shared_sync);
	suite_add_tcase(s, tc);
	return s;
}
