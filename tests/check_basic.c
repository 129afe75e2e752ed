/* SPDX-License-Identifier: MIT */
/* A first pass over each kind: create, read and write, punch, revert, unmap. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
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

/*
 * Grow a file through the mapping, write a page past its old end, SYNC_FULL:
 * then the file holds it.  On an ext4 image on a loop device (as root) that
 * is checked at the device: before the sync the new page has no block there
 * (and cachestat counts it dirty), after it the image holds "hello" at the
 * block FIEMAP names (and no page is dirty).  A read through the page cache
 * would pass without the sync.  Elsewhere (not root) only the read-back.
 */
static void sync_full_body(const struct tu_ext4 *fs)
{
	size_t page = mmapkit_page_size();
	char path[4352];
	unsigned char buf[16], want[4096] = "hello";
	struct tu_cachestat cs;
	mmapkit_map *m = NULL;
	struct tu_snap s;
	struct stat st;
	unsigned char *p;
	int fd, dirty;

	TU_CHILD_OK(page <= sizeof(want));
	snprintf(path, sizeof(path), "%s/data", fs->mnt);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	TU_CHILD_OK(fd >= 0);
	TU_CHILD_OK(pwrite(fd, want, page, 0) == (ssize_t)page);
	TU_CHILD_OK(pwrite(fd, want, page, (off_t)page) == (ssize_t)page && fsync(fd) == 0);
	s = tu_snap();
	TU_CHILD_OK(mmapkit_file_shared(&m, path, 0, 4 * page, 0) == -ERANGE);
	TU_CHILD_OK(m == NULL && strstr(mmapkit_errmsg(), "MMAPKIT_GROW"));
	TU_CHILD_OK(mmapkit_file_shared(&m, path, 0, 4 * page, MMAPKIT_GROW) == 0);
	TU_CHILD_OK(fstat(fd, &st) == 0 && st.st_size == (off_t)(4 * page));
	p = mmapkit_ptr(m);
	memcpy(p + 3 * page, "hello", 5);
	dirty = tu_cachestat(fd, 3 * page, page, &cs) ? -1 : (int)cs.nr_dirty;
	if (fs->image) {
		TU_CHILD_OK(tu_on_device(fs, fd, 3 * page, want, page) == -1);
		TU_CHILD_OK(dirty == -1 || dirty == 1);
	}
	TU_CHILD_OK(mmapkit_sync(m, 3 * page, 5, MMAPKIT_SYNC_FULL) == 0);
	TU_CHILD_OK(pread(fd, buf, 5, 3 * page) == 5 && memcmp(buf, "hello", 5) == 0);
	if (fs->image) {
		TU_CHILD_OK(tu_on_device(fs, fd, 3 * page, want, page) == 1);
		TU_CHILD_OK(tu_cachestat(fd, 3 * page, page, &cs) != 0 ||
			    cs.nr_dirty + cs.nr_writeback == 0);
	}
	TU_CHILD_OK(mmapkit_punch(m, 3 * page + 1, 3) == 0);
	TU_CHILD_OK(pread(fd, buf, 5, 3 * page) == 5 && memcmp(buf, "h\0\0\0o", 5) == 0);
	mmapkit_unmap(m);
	TU_CHILD_OK(tu_count_fds() == s.fds && (!tu_maps_reliable() || tu_count_maps() == s.maps));
	close(fd);
}

static void sync_full_here(void *arg)
{
	sync_full_body(arg);
}

START_TEST(file_shared_sync)
{
	struct tu_ext4 here = {.mnt = tu_dir()};
	int st;

	if (tu_ext4_run("basic", sync_full_body, NULL))
		return;
	printf("basic: file_shared_sync reads back through the page cache only\n");
	st = tu_child(sync_full_here, &here);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
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
