/* SPDX-License-Identifier: MIT */
/*
 * MMAPKIT_ALLOCATE: the blocks of the range are allocated at construction, so
 * that a write through the mapping cannot die of SIGBUS for lack of space.
 * On a 1 MiB tmpfs this test mounts: a range larger than the free space fails
 * with -ENOSPC at construction and leaves the file as it was (no file when
 * MMAPKIT_CREATE made it); a range that fits is written in full with the file
 * system full; without the flag the same write dies of SIGBUS (in a child),
 * which is the point, and mmapkit_write answers -EFAULT naming the lack of
 * space.  On ramfs, which cannot allocate in advance, -EOPNOTSUPP; the same
 * through the system-call table where the test cannot mount.
 *
 * The scratch file systems are mounted on a fresh directory, opened, and
 * detached at once (umount2 MNT_DETACH) and the directory removed: the test
 * reaches them through /proc/self/fd/N only, and the kernel drops them when
 * the test process ends, on every path, failed assertions included.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static size_t pg(void)
{
	return mmapkit_page_size();
}

/* ---- a scratch file system, detached from the start ---- */

struct scratch {
	int dirfd;
	char base[64]; /* "/proc/self/fd/N" */
	char path[4][128];
	int npaths;
};

/* Mounts fstype with opts; false (with the reason printed) where the test cannot. */
static bool scratch_mount(struct scratch *s, const char *fstype, const char *opts,
			  const char *test)
{
	char dir[4352];

	memset(s, 0, sizeof(*s));
	s->dirfd = -1;
	if (geteuid() != 0) {
		printf("%s: skipped: mounting a %s needs root\n", test, fstype);
		return false;
	}
	snprintf(dir, sizeof(dir), "%s/mnt-XXXXXX", tu_dir());
	ck_assert_ptr_nonnull(mkdtemp(dir));
	if (mount(fstype, dir, fstype, MS_NOSUID | MS_NODEV | MS_NOEXEC, opts) < 0) {
		printf("%s: skipped: mount -t %s -o %s: %s\n", test, fstype, opts, strerror(errno));
		rmdir(dir);
		return false;
	}
	s->dirfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	ck_assert_int_eq(umount2(dir, MNT_DETACH), 0);
	ck_assert_int_eq(rmdir(dir), 0);
	ck_assert_int_ge(s->dirfd, 0);
	snprintf(s->base, sizeof(s->base), "/proc/self/fd/%d", s->dirfd);
	return true;
}

static const char *scratch_path(struct scratch *s, const char *name)
{
	char *p = s->path[s->npaths++ % 4];

	snprintf(p, sizeof(s->path[0]), "%s/%s", s->base, name);
	return p;
}

/* A file of `size` bytes in s: pattern bytes for the first `data`, a hole after. */
static const char *scratch_file(struct scratch *s, const char *name, size_t size, size_t data)
{
	const char *path = scratch_path(s, name);
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	unsigned char *buf = malloc(data + 1);

	ck_assert_int_ge(fd, 0);
	ck_assert_ptr_nonnull(buf);
	tu_fill_pattern(buf, 0, data);
	ck_assert_int_eq(pwrite(fd, buf, data, 0), (ssize_t)data);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
	free(buf);
	return path;
}

static uint64_t blocks_bytes(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (uint64_t)st.st_blocks * 512;
}

static void scratch_free(struct scratch *s)
{
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
}

/* ---- flags that do not apply, and a descriptor that cannot write ---- */

START_TEST(alloc_flags)
{
	int c = _i;
	struct tu_target t = tu_target_new(c, 4 * pg());
	struct tu_fstate was = tu_fstate_take(t.path);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = (mmapkit_map *)&m;

	if (!tu_ctor_is_file(c)) {
		ck_assert_int_eq(tu_make(c, &m, t.path, t.fd, 0, pg(), MMAPKIT_ALLOCATE), -EINVAL);
		tu_assert_errmsg(tu_ctors[c].name, TU_NUMS("MMAPKIT_ALLOCATE", "file kinds"),
				 tu_ctors[c].desc);
	} else {
		ck_assert_int_eq(tu_make(c, &m, t.path, t.fd, 0, pg(),
					 MMAPKIT_ALLOCATE | MMAPKIT_RDONLY),
				 -EINVAL);
		tu_assert_errmsg(tu_ctors[c].name, TU_NUMS("MMAPKIT_ALLOCATE", "MMAPKIT_RDONLY"),
				 tu_ctors[c].desc);
	}
	ck_assert_ptr_null(m);
	TU_ASSERT_NO_LEAK(s);
	tu_fstate_check(t.path, &was, tu_ctors[c].desc);
	tu_target_free(&t);
}
END_TEST

/* A read-only descriptor: fallocate's EBADF is the contract's -EACCES. */
START_TEST(alloc_readonly_fd)
{
	const char *path = tu_file(4 * pg());
	struct tu_fstate was = tu_fstate_take(path);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	mmapkit_map *m = (mmapkit_map *)&m;
	struct tu_snap s = tu_snap();

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(mmapkit_fd_private(&m, fd, 0, 0, MMAPKIT_ALLOCATE), -EACCES);
	tu_assert_errmsg("mmapkit_fd_private", TU_NUMS("fallocate", "MMAPKIT_ALLOCATE"),
			 "read-only fd");
	ck_assert_ptr_null(m);
	TU_ASSERT_NO_LEAK(s);
	close(fd);
	tu_fstate_check(path, &was, "read-only fd");
	unlink(path);
}
END_TEST

/* ---- the blocks are there, and nothing else changed ---- */

START_TEST(alloc_blocks)
{
	size_t page = pg(), size = 64 * page + 100;
	const char *path = tu_path("sparse"), *small = tu_file(page + 10);
	uint64_t foff = 3 * page + 7;
	size_t len = 20 * page;
	unsigned char *buf = calloc(1, size);
	mmapkit_map *m = NULL;
	struct tu_fstate was;
	int fd, r;

	ck_assert_ptr_nonnull(buf);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)size), 0);
	close(fd);
	ck_assert_uint_eq(blocks_bytes(path), 0);
	r = mmapkit_file_shared(&m, path, foff, len, MMAPKIT_ALLOCATE);
	if (r == -EOPNOTSUPP) {
		printf("alloc_blocks: skipped: %s\n", mmapkit_errmsg());
		unlink(path);
		unlink(small);
		free(buf);
		return;
	}
	ck_assert_msg(r == 0, "%d: %s", r, mmapkit_errmsg());
	/* the pages holding the range: from the page of foff to the page after its end */
	ck_assert_uint_ge(blocks_bytes(path), 21 * page);
	ck_assert_uint_eq(tu_file_size(path), size);
	tu_assert_file_is(path, buf, size, "allocated sparse file");
	mmapkit_unmap(m);

	/* a range ending inside the last page of a file that does not fill it: KEEP_SIZE */
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 60 * page, 0, MMAPKIT_ALLOCATE), 0);
	ck_assert_uint_eq(tu_file_size(path), size);
	mmapkit_unmap(m);

	/* with GROW: the one fallocate grows the file, its bytes kept */
	was = tu_fstate_take(small);
	ck_assert_int_eq(mmapkit_file_private(&m, small, 5, 3 * page, MMAPKIT_GROW | MMAPKIT_ALLOCATE),
			 0);
	ck_assert_uint_eq(tu_file_size(small), 3 * page + 5);
	ck_assert_uint_ge(blocks_bytes(small), 3 * page);
	tu_assert_file_at(small, 0, was.bytes, was.size, "grown with ALLOCATE");
	tu_fstate_free(&was);
	mmapkit_unmap(m);
	unlink(path);
	unlink(small);
	free(buf);
}
END_TEST

/* ---- no room: -ENOSPC at construction, the file as it was ---- */

static void write_raw(void *arg)
{
	mmapkit_map *m = arg;

	tu_probe_quietly();
	memset(mmapkit_ptr(m), 0x77, mmapkit_len(m)); /* dies of SIGBUS on the first page without room */
	_exit(3);
}

START_TEST(alloc_enospc)
{
	size_t page = pg(), big = 2 * 1024 * 1024;
	struct scratch sc;
	const char *old, *sparse, *created, *fill;
	struct tu_fstate was_old, was_sparse;
	mmapkit_map *m = (mmapkit_map *)&m, *ok = NULL;
	unsigned char *buf;
	struct tu_snap s;
	uint64_t foff;
	size_t at;
	int st, fd;

	if (!scratch_mount(&sc, "tmpfs", "size=1M,mode=0700", "alloc_enospc"))
		return;
	s = tu_snap();
	old = scratch_file(&sc, "old", page + 10, page + 10);
	sparse = scratch_file(&sc, "sparse", big, 0);
	created = scratch_path(&sc, "created");
	was_old = tu_fstate_take(old);
	was_sparse = tu_fstate_take(sparse);

	/* grown by the call: put back to its size and bytes */
	ck_assert_int_eq(mmapkit_file_shared(&m, old, 0, big, MMAPKIT_GROW | MMAPKIT_ALLOCATE),
			 -ENOSPC);
	tu_assert_errmsg("mmapkit_file_shared", TU_NUMS("fallocate", "MMAPKIT_ALLOCATE"), "grow");
	ck_assert_ptr_null(m);
	tu_fstate_check(old, &was_old, "ENOSPC growing");
	/* created by the call: gone again */
	m = (mmapkit_map *)&m;
	ck_assert_int_eq(mmapkit_file_shared(&m, created, 0, big,
					     MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_ALLOCATE),
			 -ENOSPC);
	ck_assert_ptr_null(m);
	ck_assert_int_eq(access(created, F_OK), -1);
	/* a sparse file already that long: size and (no) blocks unchanged */
	ck_assert_int_eq(mmapkit_file_shared(&m, sparse, 0, 0, MMAPKIT_ALLOCATE), -ENOSPC);
	tu_fstate_check(sparse, &was_sparse, "ENOSPC in place");
	ck_assert_uint_eq(blocks_bytes(sparse), 0);

	/* a range that fits: allocated, and written in full with the file system full */
	ck_assert_int_eq(mmapkit_file_shared(&ok, sparse, 0, 256 * 1024, MMAPKIT_ALLOCATE), 0);
	fill = scratch_path(&sc, "fill");
	fd = open(fill, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	ck_assert_int_ge(fd, 0);
	for (buf = calloc(1, page); write(fd, buf, page) == (ssize_t)page;)
		;
	ck_assert_int_eq(errno, ENOSPC);
	free(buf);
	close(fd);
	st = tu_child(write_raw, ok);
	ck_assert_msg(TU_EXITED(st, 3), "writing allocated pages: status 0x%x", st);

	/* without the flag, the same write dies of SIGBUS, and mmapkit_write says why */
	ck_assert_int_eq(mmapkit_file_shared(&m, sparse, 512 * 1024, 64 * 1024, 0), 0);
	st = tu_child(write_raw, m);
	ck_assert_msg(TU_KILLED(st, SIGBUS), "writing without room: status 0x%x", st);
	buf = calloc(1, page);
	ck_assert_int_eq(mmapkit_write(m, 0, buf, page), -EFAULT);
	tu_assert_errmsg("mmapkit_write", TU_NUMS("SIGBUS", "no space"), "no room");
	ck_assert(tu_fault_at(&at, &foff));
	ck_assert_msg(at < page && foff == 512 * 1024 + at, "fault named at byte %zu, offset %llu",
		      at, (unsigned long long)foff);
	free(buf);
	mmapkit_unmap(m);
	mmapkit_unmap(ok);
	unlink(fill);
	unlink(sparse);
	unlink(old);
	TU_ASSERT_NO_LEAK(s);
	tu_fstate_free(&was_old);
	tu_fstate_free(&was_sparse);
	scratch_free(&sc);
}
END_TEST

/* ---- a file system that cannot allocate in advance ---- */

START_TEST(alloc_eopnotsupp)
{
	size_t page = pg();
	struct scratch sc;
	const char *old, *created;
	struct tu_fstate was;
	mmapkit_map *m = (mmapkit_map *)&m;
	struct tu_snap s;

	if (!scratch_mount(&sc, "ramfs", "mode=0700", "alloc_eopnotsupp"))
		return;
	s = tu_snap();
	old = scratch_file(&sc, "old", 2 * page, 2 * page);
	created = scratch_path(&sc, "created");
	was = tu_fstate_take(old);
	/* ramfs maps shared files; only the advance allocation is refused */
	ck_assert_int_eq(mmapkit_file_shared(&m, old, 0, 0, 0), 0);
	mmapkit_unmap(m);
	ck_assert_int_eq(mmapkit_file_shared(&m, old, 0, 4 * page, MMAPKIT_GROW | MMAPKIT_ALLOCATE),
			 -EOPNOTSUPP);
	tu_assert_errmsg("mmapkit_file_shared", TU_NUMS("MMAPKIT_ALLOCATE", "cannot allocate"),
			 "ramfs");
	ck_assert_ptr_null(m);
	tu_fstate_check(old, &was, "ramfs, grow");
	ck_assert_int_eq(mmapkit_file_private(&m, created, 0, page,
					      MMAPKIT_CREATE | MMAPKIT_GROW | MMAPKIT_ALLOCATE),
			 -EOPNOTSUPP);
	ck_assert_int_eq(access(created, F_OK), -1);
	unlink(old);
	TU_ASSERT_NO_LEAK(s);
	scratch_free(&sc);
}
END_TEST

/* The same through the table, where the test cannot mount: each errno that means it. */
START_TEST(alloc_eopnotsupp_injected)
{
	static const int errs[] = {EOPNOTSUPP, ENOSYS, ENODEV};
	const char *path = tu_file(pg());
	struct tu_fstate was = tu_fstate_take(path);
	mmapkit_map *m = (mmapkit_map *)&m;
	struct tu_snap s = tu_snap();

	for (size_t i = 0; i < TU_LEN(errs); i++) {
		mmapkit__fault_arm(MMAPKIT__SYS_FALLOCATE, 1, errs[i]);
		ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 3 * pg(),
						     MMAPKIT_GROW | MMAPKIT_ALLOCATE),
				 -EOPNOTSUPP);
		ck_assert(mmapkit__fault_fired());
		ck_assert_ptr_null(m);
		tu_fstate_check(path, &was, "injected");
		was = tu_fstate_take(path);
	}
	mmapkit__fault_reset();
	tu_fstate_free(&was);
	TU_ASSERT_NO_LEAK(s);
	unlink(path);
}
END_TEST

Suite *suite_allocate(void)
{
	Suite *s = suite_create("allocate");
	TCase *tc = tu_tcase(s, "allocate", 30);

	tcase_add_loop_test(tc, alloc_flags, 0, TU_NCTORS);
	tcase_add_test(tc, alloc_readonly_fd);
	tcase_add_test(tc, alloc_blocks);
	tcase_add_test(tc, alloc_enospc);
	tcase_add_test(tc, alloc_eopnotsupp);
	tcase_add_test(tc, alloc_eopnotsupp_injected);
	return s;
}
