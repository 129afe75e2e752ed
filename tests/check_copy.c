/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_read and mmapkit_write: copies in every kind; every bad input with
 * its errno; a file truncated under the copy (by this process, by a second
 * process flipping its size while this one copies in a loop, and under eight
 * threads) answers -EFAULT, never SIGBUS, and the same handle works again once
 * the file is long enough; the signal mask is as it was after a failed copy;
 * and the SIGBUS handler leaves every other fault to the application: its
 * handler (SA_SIGINFO or plain, with its sa_mask and SA_NODEFER) still runs,
 * SIG_IGN and SIG_DFL keep their meaning (the default still kills), and a
 * handler the application installs later replaces mmapkit's, as mmapkit(7)
 * says.  The tests that need a fresh disposition run in a child that first
 * forgets the handler the test process may have installed already.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define FILE_PAGES 16
#define SHORT_PAGES 4 /* what the truncating side leaves */

static size_t pg(void)
{
	return mmapkit_page_size();
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int open_rw(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* fn(arg) in a child, which must exit 0. */
static void child_ok(void (*fn)(void *), void *arg)
{
	int st = tu_child(fn, arg);

	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
}

/* ---- copies that work ---- */

START_TEST(copy_kinds)
{
	int kind = _i + 1;
	size_t page = pg(), len = 3 * page + 100, n = len - 12;
	uint64_t foff = tu_kind_is_file(kind) ? 7 : 0;
	const char *path = tu_kind_is_file(kind) ? tu_file(4 * page) : NULL;
	unsigned char *in = malloc(len), *out = malloc(len), *file = malloc(len);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;

	ck_assert_ptr_nonnull(in);
	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(file);
	ck_assert_int_eq(tu_map_kind(kind, &m, path, foff, len, 0), 0);
	for (size_t i = 0; i < n; i++)
		in[i] = tu_other(i);
	/* the mapping's own bytes first */
	ck_assert_int_eq(mmapkit_read(m, 0, out, len), 0);
	ck_assert_mem_eq(out, mmapkit_ptr(m), len);
	ck_assert_int_eq(mmapkit_write(m, 5, in, n), 0);
	ck_assert_mem_eq((unsigned char *)mmapkit_ptr(m) + 5, in, n);
	memset(out, 0, len);
	ck_assert_int_eq(mmapkit_read(m, 5, out, n), 0);
	ck_assert_mem_eq(out, in, n);
	/* one byte at the very end, and nothing at the end */
	ck_assert_int_eq(mmapkit_write(m, len - 1, in, 1), 0);
	ck_assert_int_eq(mmapkit_read(m, len - 1, out, 1), 0);
	ck_assert_uint_eq(out[0], in[0]);
	ck_assert_int_eq(mmapkit_read(m, len, out, 0), 0);
	/* the buffer may lie in the mapping itself (memmove) */
	ck_assert_int_eq(mmapkit_read(m, 5, (unsigned char *)mmapkit_ptr(m) + 6, 100), 0);
	ck_assert_uint_eq(((unsigned char *)mmapkit_ptr(m))[6 + 99], in[99]);
	if (kind == MMAPKIT_FILE_SHARED) { /* written through to the file */
		tu_pread(path, foff, file, len);
		ck_assert_mem_eq(file, mmapkit_ptr(m), len);
	} else if (kind == MMAPKIT_FILE_PRIVATE) { /* never reaches it */
		tu_pread(path, foff, file, len);
		for (size_t i = 0; i < len; i++)
			TU_BYTE_EQ(file[i], tu_pattern(foff + i), i);
	}
	mmapkit_unmap(m);
	if (path)
		unlink(path);
	free(in);
	free(out);
	free(file);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* A fork() child lacks the DONTFORK pages: -EFAULT (not SIGSEGV), the others copy. */
static void copy_in_child(void *arg)
{
	mmapkit_map *m = arg;
	unsigned char buf[16];

	TU_CHILD_OK(mmapkit_read(m, pg() - 8, buf, sizeof(buf)) == -EFAULT);
	TU_CHILD_OK(strstr(mmapkit_errmsg(), "not in this process") != NULL);
	TU_CHILD_OK(mmapkit_write(m, 2 * pg(), buf, 1) == -EFAULT);
	TU_CHILD_OK(mmapkit_read(m, 0, buf, sizeof(buf)) == 0);
	_exit(0);
}

START_TEST(copy_fork_child)
{
	mmapkit_map *m = NULL;
	unsigned char buf[16] = {1};

	ck_assert_int_eq(mmapkit_anon_private(&m, 4 * pg(), 0), 0);
	ck_assert_int_eq(mmapkit_advise(m, pg(), 2 * pg(), MMAPKIT_ADV_DONTFORK), 0);
	child_ok(copy_in_child, m);
	ck_assert_int_eq(mmapkit_write(m, pg() - 8, buf, sizeof(buf)), 0);
	ck_assert_int_eq(mmapkit_read(m, 2 * pg(), buf, 1), 0);
	mmapkit_unmap(m);
}
END_TEST

/* ---- bad inputs: the exact errno, the message, and no system call ---- */

#define NO_CALLS(expr, want)                                                                \
	do {                                                                                \
		mmapkit__fault_reset();                                                     \
		ck_assert_int_eq((expr), (want));                                           \
		ck_assert_uint_eq(mmapkit__fault_total(), 0);                               \
	} while (0)

START_TEST(copy_bad_inputs)
{
	size_t page = pg(), len = 3 * page;
	const char *path = tu_file(len), *empty = tu_file(0);
	unsigned char buf[64];
	mmapkit_map *m = NULL, *ro = NULL, *e = NULL;
	struct tu_snap s;

	/* the handler first, so that the counts below are those of the refusals */
	ck_assert_int_eq(mmapkit_anon_private(&m, page, 0), 0);
	ck_assert_int_eq(mmapkit_read(m, 0, buf, 1), 0);
	mmapkit_unmap(m);
	s = tu_snap();
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, 0), 0);
	ck_assert_int_eq(mmapkit_file_shared(&ro, path, 0, 0, MMAPKIT_RDONLY), 0);
	ck_assert_int_eq(mmapkit_file_shared(&e, empty, 0, 0, 0), 0);

	NO_CALLS(mmapkit_read(NULL, 0, buf, 1), -EINVAL);
	tu_assert_errmsg("mmapkit_read", TU_NUMS("NULL"), "NULL handle");
	NO_CALLS(mmapkit_write(NULL, 0, buf, 1), -EINVAL);
	tu_assert_errmsg("mmapkit_write", TU_NUMS("NULL"), "NULL handle");
	NO_CALLS(mmapkit_read(m, 0, NULL, 1), -EINVAL);
	tu_assert_errmsg("mmapkit_read", TU_NUMS("buf"), "NULL buf");
	NO_CALLS(mmapkit_write(m, 0, NULL, 0), -EINVAL);
	tu_assert_errmsg("mmapkit_write", TU_NUMS("buf"), "NULL buf");

	NO_CALLS(mmapkit_read(m, len + 1, buf, 0), -ERANGE);
	tu_assert_errmsg("mmapkit_read", TU_NUMS(tu_num(len + 1), tu_num(len)), "off past the end");
	NO_CALLS(mmapkit_write(m, len - 10, buf, 11), -ERANGE);
	tu_assert_errmsg("mmapkit_write", TU_NUMS(tu_num(len - 10), "11", tu_num(len)),
			 "end past the end");
	NO_CALLS(mmapkit_read(m, 1, buf, SIZE_MAX), -ERANGE); /* off + n overflows */
	NO_CALLS(mmapkit_write(m, SIZE_MAX, buf, 2), -ERANGE);
	NO_CALLS(mmapkit_read(m, len, buf, 0), 0);

	NO_CALLS(mmapkit_write(ro, 0, buf, 1), -EACCES);
	tu_assert_errmsg("mmapkit_write", TU_NUMS("MMAPKIT_RDONLY"), "read-only handle");
	NO_CALLS(mmapkit_write(ro, 0, buf, 0), -EACCES);
	NO_CALLS(mmapkit_read(ro, 10, buf, sizeof(buf)), 0);

	/* pages protected against the access */
	ck_assert_int_eq(mmapkit_protect(m, page, 1, MMAPKIT_PROT_NONE), 0);
	NO_CALLS(mmapkit_read(m, page - 1, buf, 2), -EACCES);
	tu_assert_errmsg("mmapkit_read", TU_NUMS("reading", tu_num(page - 1)), "PROT_NONE");
	NO_CALLS(mmapkit_write(m, 2 * page, buf, 2), 0);
	ck_assert_int_eq(mmapkit_protect(m, page, 1, MMAPKIT_PROT_READ), 0);
	NO_CALLS(mmapkit_write(m, page + 5, buf, 2), -EACCES);
	tu_assert_errmsg("mmapkit_write", TU_NUMS("writing"), "PROT_READ");
	NO_CALLS(mmapkit_read(m, page + 5, buf, 2), 0);

	/* an empty mapping: only the empty copy at 0 */
	NO_CALLS(mmapkit_read(e, 0, buf, 0), 0);
	NO_CALLS(mmapkit_write(e, 0, buf, 0), 0);
	NO_CALLS(mmapkit_read(e, 0, buf, 1), -ERANGE);
	NO_CALLS(mmapkit_write(e, 1, buf, 0), -ERANGE);

	mmapkit_unmap(m);
	mmapkit_unmap(ro);
	mmapkit_unmap(e);
	TU_ASSERT_NO_LEAK(s);
	unlink(path);
	unlink(empty);
}
END_TEST

/* The first copy of a process installs the handler: two sigaction calls, then none. */
START_TEST(copy_cost)
{
	unsigned char buf[16];
	mmapkit_map *m = NULL;

	ck_assert_int_eq(mmapkit_anon_shared(&m, pg(), 0), 0);
	mmapkit__sigbus_forget();
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_read(m, 0, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_SIGACTION), 2);
	ck_assert_uint_eq(mmapkit__fault_total(), 2);
	ck_assert(mmapkit__sigbus_installed());
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_write(m, 0, buf, sizeof(buf)), 0);
	ck_assert_int_eq(mmapkit_read(m, 1, buf, sizeof(buf)), 0);
	ck_assert_uint_eq(mmapkit__fault_total(), 0);
	/* a failed installation is an error of the copy, and the next copy tries again */
	mmapkit__sigbus_forget();
	mmapkit__fault_arm(MMAPKIT__SYS_SIGACTION, 2, EINVAL);
	ck_assert_int_eq(mmapkit_read(m, 0, buf, sizeof(buf)), -EINVAL);
	tu_assert_errmsg("mmapkit_read", TU_NUMS("sigaction", "SIGBUS"), "failed install");
	ck_assert(!mmapkit__sigbus_installed());
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_read(m, 0, buf, sizeof(buf)), 0);
	ck_assert(mmapkit__sigbus_installed());
	mmapkit_unmap(m);
}
END_TEST

/* ---- truncation ---- */

static bool same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig < SIGRTMIN; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return false;
	return true;
}

/* The end of a truncation test: handle, descriptor and file gone, nothing leaked. */
static void finish(mmapkit_map *m, int fd, struct tu_snap s, const char *path, void *buf)
{
	mmapkit_unmap(m);
	close(fd);
	TU_ASSERT_NO_LEAK(s);
	unlink(path);
	free(buf);
}

START_TEST(copy_truncated)
{
	int kind = _i ? MMAPKIT_FILE_PRIVATE : MMAPKIT_FILE_SHARED;
	size_t page = pg(), len = FILE_PAGES * page;
	const char *path = tu_file(len);
	unsigned char *buf = malloc(len);
	struct tu_snap s = tu_snap();
	int fd = open_rw(path);
	sigset_t block, before, after;
	char cut[80];
	size_t at;
	uint64_t foff;
	mmapkit_map *m = NULL;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(tu_map_kind(kind, &m, path, 0, 0, 0), 0);
	ck_assert_int_eq(mmapkit_read(m, 0, buf, len), 0);
	/* a mask with something in it, to see that it is kept exactly */
	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, &block, NULL), 0);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &before), 0);

	ck_assert_int_eq(ftruncate(fd, (off_t)(SHORT_PAGES * page - 10)), 0);
	snprintf(cut, sizeof(cut), "the file was truncated to %zu bytes", SHORT_PAGES * page - 10);
	ck_assert_int_eq(mmapkit_read(m, 0, buf, len), -EFAULT);
	tu_assert_errmsg("mmapkit_read", TU_NUMS("SIGBUS", cut), "read past the new end");
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &after), 0);
	ck_assert_msg(same_mask(&before, &after), "the signal mask changed after a failed copy");
	ck_assert(!sigismember(&after, SIGBUS));
	ck_assert_int_eq(mmapkit_write(m, 9 * page + 3, buf, 10), -EFAULT);
	tu_assert_errmsg("mmapkit_write", TU_NUMS(cut), "write past the new end");
	ck_assert(tu_fault_at(&at, &foff));
	ck_assert_msg(at >= 9 * page + 3 && at < 9 * page + 13 && foff == at,
		      "write of 9 * page + 3 + [0, 10): fault named at byte %zu, file offset %llu",
		      at, (unsigned long long)foff);
	ck_assert_int_eq(pthread_sigmask(SIG_BLOCK, NULL, &after), 0);
	ck_assert(same_mask(&before, &after));
	/* what the file still holds (the last page in part) works */
	ck_assert_int_eq(mmapkit_read(m, 0, buf, SHORT_PAGES * page), 0);
	for (size_t i = 0; i < SHORT_PAGES * page - 10; i++)
		TU_BYTE_EQ(buf[i], tu_pattern(i), i);
	ck_assert_int_eq(mmapkit_write(m, page, buf, 100), 0);
	/* the file grows back: the same handle works, over zeros */
	ck_assert_int_eq(ftruncate(fd, (off_t)len), 0);
	ck_assert_int_eq(mmapkit_read(m, 0, buf, len), 0);
	for (size_t i = SHORT_PAGES * page; i < len; i++)
		TU_BYTE_EQ(buf[i], 0, i);
	memset(buf, 0x5a, page);
	ck_assert_int_eq(mmapkit_write(m, 10 * page, buf, page), 0);
	if (kind == MMAPKIT_FILE_SHARED) {
		unsigned char back[64];

		tu_pread(path, 10 * page, back, sizeof(back));
		for (size_t i = 0; i < sizeof(back); i++)
			TU_BYTE_EQ(back[i], 0x5a, i);
	}
	ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &block, NULL), 0);
	finish(m, fd, s, path, buf);
}
END_TEST

/* The other process: flips the file between short and full for `secs`, ends full. */
static void flip_size(int fd, size_t full, double secs)
{
	double end = now_s() + secs;

	while (now_s() < end) {
		if (ftruncate(fd, (off_t)(SHORT_PAGES * pg())) < 0 || ftruncate(fd, (off_t)full) < 0)
			_exit(2);
	}
}

START_TEST(copy_truncate_race)
{
	size_t page = pg(), len = FILE_PAGES * page;
	const char *path = tu_file(len);
	unsigned char *buf = malloc(len);
	unsigned long ok = 0, faults = 0;
	struct tu_snap s = tu_snap();
	int fd = open_rw(path), st = 0;
	mmapkit_map *m = NULL;
	pid_t pid;

	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, 0), 0);
	ck_assert_int_eq(mmapkit_read(m, 0, buf, len), 0); /* handler in place before the fork */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		flip_size(fd, len, 1.0);
		_exit(0);
	}
	while (waitpid(pid, &st, WNOHANG) == 0) {
		int r = ok % 2 ? mmapkit_write(m, page, buf, len - page)
			       : mmapkit_read(m, 0, buf, len);

		if (r == 0) {
			ok++;
		} else {
			ck_assert_msg(r == -EFAULT, "copy returned %d: %s", r, mmapkit_errmsg());
			faults++;
		}
	}
	ck_assert(TU_EXITED(st, 0));
	printf("copy_truncate_race: %lu copies succeeded, %lu answered -EFAULT\n", ok, faults);
	ck_assert_uint_gt(ok, 0);
	ck_assert_uint_gt(faults, 0);
	/* full again: the same handle works */
	ck_assert_uint_eq(tu_file_size(path), len);
	ck_assert_int_eq(mmapkit_read(m, 0, buf, len), 0);
	ck_assert_int_eq(mmapkit_write(m, 0, buf, len), 0);
	finish(m, fd, s, path, buf);
}
END_TEST

#define NTHREADS 8

struct copier {
	mmapkit_map *m;
	atomic_bool *stop;
	int id;
	unsigned long ok, faults;
	char fail[300];
};

static void *copier_run(void *arg)
{
	struct copier *c = arg;
	size_t page = pg(), len = mmapkit_len(c->m);
	unsigned char buf[3 * 4096 + 64];
	unsigned long i = 0;

	memset(buf, c->id, sizeof(buf));
	while (!atomic_load(c->stop)) {
		size_t n = page < 4096 ? 2 * page : 2 * 4096;
		size_t off = (i * 7919 + (unsigned long)c->id * 104729) % (len - n);
		int r = i % 2 ? mmapkit_write(c->m, off, buf, n) : mmapkit_read(c->m, off, buf, n);

		if (r == 0) {
			c->ok++;
		} else if (r == -EFAULT && strstr(mmapkit_errmsg(), "SIGBUS")) {
			c->faults++;
		} else {
			snprintf(c->fail, sizeof(c->fail), "thread %d: %d: %s", c->id, r,
				 mmapkit_errmsg());
			break;
		}
		i++;
	}
	return NULL;
}

/* NTHREADS threads copy while this one flips the size for secs; totals in *ok, *faults. */
static void run_copiers(mmapkit_map *m, int fd, double secs, unsigned long *ok,
			unsigned long *faults)
{
	struct copier c[NTHREADS];
	pthread_t th[NTHREADS];
	atomic_bool stop = false;

	*ok = *faults = 0;
	for (int i = 0; i < NTHREADS; i++) {
		c[i] = (struct copier){.m = m, .stop = &stop, .id = i + 1};
		ck_assert_int_eq(pthread_create(&th[i], NULL, copier_run, &c[i]), 0);
	}
	flip_size(fd, mmapkit_len(m), secs);
	atomic_store(&stop, true);
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], NULL), 0);
		ck_assert_msg(!c[i].fail[0], "%s", c[i].fail);
		*ok += c[i].ok;
		*faults += c[i].faults;
	}
}

START_TEST(copy_threads)
{
	size_t len = FILE_PAGES * pg();
	const char *path = tu_file(len);
	unsigned long ok, faults;
	int fd = open_rw(path);
	mmapkit_map *m = NULL;
	unsigned char probe[8];
	struct tu_snap s;

	ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, 0, 0), 0);
	/* a first short run gives each thread its stack, kept for reuse */
	run_copiers(m, fd, 0.05, &ok, &faults);
	s = tu_snap();
	run_copiers(m, fd, 1.0, &ok, &faults);
	TU_ASSERT_NO_LEAK(s);
	printf("copy_threads: %d threads, %lu copies succeeded, %lu answered -EFAULT\n", NTHREADS,
	       ok, faults);
	ck_assert_uint_gt(ok, 0);
	ck_assert_uint_gt(faults, 0);
	ck_assert_int_eq(mmapkit_read(m, len - sizeof(probe), probe, sizeof(probe)), 0);
	mmapkit_unmap(m);
	close(fd);
	unlink(path);
}
END_TEST

/*
 * Each thread that copies takes a slot of a table of 4096 (lib/copy.c) and
 * gives it back when it exits: NTHREADS threads alive at once hold NTHREADS
 * more, none once they are gone; and 5000 threads one after the other all copy.
 */
struct churn {
	mmapkit_map *m;
	pthread_barrier_t *held, *done;
};

static void *copy_once(void *arg)
{
	const struct churn *c = arg;
	unsigned char b[8];
	intptr_t r = mmapkit_read(c->m, 0, b, sizeof(b));

	if (c->held) { /* stay alive until the main thread has counted */
		pthread_barrier_wait(c->held);
		pthread_barrier_wait(c->done);
	}
	return (void *)r;
}

START_TEST(copy_thread_churn)
{
	pthread_barrier_t held, done;
	struct churn c = {.held = &held, .done = &done};
	pthread_t th[NTHREADS];
	unsigned before;
	void *r;

	ck_assert_int_eq(mmapkit_anon_shared(&c.m, pg(), 0), 0);
	ck_assert_int_eq(mmapkit_read(c.m, 0, &r, 1), 0); /* this thread's slot */
	before = mmapkit__copy_slots_used();
	ck_assert_int_eq(pthread_barrier_init(&held, NULL, NTHREADS + 1), 0);
	ck_assert_int_eq(pthread_barrier_init(&done, NULL, NTHREADS + 1), 0);
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_create(&th[i], NULL, copy_once, &c), 0);
	pthread_barrier_wait(&held);
	ck_assert_uint_eq(mmapkit__copy_slots_used(), before + NTHREADS);
	pthread_barrier_wait(&done);
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_int_eq(pthread_join(th[i], &r), 0);
		ck_assert_ptr_null(r);
	}
	ck_assert_uint_eq(mmapkit__copy_slots_used(), before);
	c.held = NULL;
	for (int i = 0; i < 5000; i++) {
		r = (void *)1;
		ck_assert_int_eq(pthread_create(&th[0], NULL, copy_once, &c), 0);
		ck_assert_int_eq(pthread_join(th[0], &r), 0);
		ck_assert_msg(r == NULL, "thread %d: %d: %s", i, (int)(intptr_t)r, mmapkit_errmsg());
	}
	ck_assert_uint_eq(mmapkit__copy_slots_used(), before);
	pthread_barrier_destroy(&held);
	pthread_barrier_destroy(&done);
	mmapkit_unmap(c.m);
}
END_TEST

/*
 * A new thread whose very first call into the library is a copy that faults:
 * it has no guard yet when the copy starts, and gets -EFAULT, not SIGBUS.
 * In a child that forgot the handler: _i == 0, that copy is the process's
 * first too (it installs the handler); _i == 1, the main thread copied
 * first.  Three threads one after another (a new thread may reuse the stack
 * and thread pointer of one that exited).
 */
static int fresh_i;

struct first_copy {
	mmapkit_map *m;
	int r;
	bool truncated, mask_kept;
};

static void *first_copy_run(void *arg)
{
	struct first_copy *f = arg;
	unsigned char b[16];
	sigset_t before, after;

	pthread_sigmask(SIG_BLOCK, NULL, &before);
	f->r = mmapkit_read(f->m, 3 * pg() + 5, b, sizeof(b)); /* past the file's new end */
	pthread_sigmask(SIG_BLOCK, NULL, &after);
	f->truncated = strstr(mmapkit_errmsg(), "the file was truncated to") != NULL;
	f->mask_kept = same_mask(&before, &after);
	return NULL;
}

static void fresh_threads(void *arg)
{
	const char *path = arg;
	int fd = open(path, O_RDWR | O_CLOEXEC);
	struct first_copy f = {0};
	unsigned char b;

	TU_CHILD_OK(fd >= 0);
	TU_CHILD_OK(mmapkit_file_shared(&f.m, path, 0, 0, 0) == 0);
	mmapkit__sigbus_forget();
	if (fresh_i) /* the main thread copies first: the handler is there */
		TU_CHILD_OK(mmapkit_read(f.m, 0, &b, 1) == 0);
	TU_CHILD_OK(mmapkit__sigbus_installed() == (fresh_i == 1));
	TU_CHILD_OK(ftruncate(fd, (off_t)pg()) == 0);
	for (int i = 0; i < 3; i++) {
		pthread_t th;

		f.r = 1;
		TU_CHILD_OK(pthread_create(&th, NULL, first_copy_run, &f) == 0);
		TU_CHILD_OK(pthread_join(th, NULL) == 0);
		TU_CHILD_OK(f.r == -EFAULT);
		TU_CHILD_OK(f.truncated);
		TU_CHILD_OK(f.mask_kept);
		TU_CHILD_OK(mmapkit__sigbus_installed());
	}
	mmapkit_unmap(f.m);
	close(fd);
	_exit(0);
}

START_TEST(copy_fresh_thread_faults)
{
	const char *path = tu_file(FILE_PAGES * pg());

	fresh_i = _i;
	child_ok(fresh_threads, (void *)path);
	unlink(path);
}
END_TEST

#ifndef MMAPKIT_DLCOPY_PATH
#define MMAPKIT_DLCOPY_PATH "mmapkit_dlcopy"
#endif

/*
 * The shared library loaded with dlopen(), where its TLS is allocated per
 * thread on first use (tests/dlcopy.c): a new thread's first call, a copy that
 * faults, answers -EFAULT; the handler allocates no TLS in a thread that takes
 * SIGBUS without ever calling the library.
 */
START_TEST(copy_dlopened)
{
	tu_run_helper("MMAPKIT_DLCOPY", MMAPKIT_DLCOPY_PATH);
}
END_TEST

/* ---- the application's own SIGBUS handling ---- */

/* A file of FILE_PAGES pages mapped shared, then cut to one page: the rest faults. */
struct cut {
	mmapkit_map *m;
	volatile unsigned char *beyond; /* a byte past the new end */
	int fd;
	const char *path;
};

static struct cut cut_file(void)
{
	struct cut c = {.path = tu_file(FILE_PAGES * pg())};
	unsigned char byte;

	c.fd = open(c.path, O_RDWR | O_CLOEXEC);
	TU_CHILD_OK(c.fd >= 0);
	TU_CHILD_OK(mmapkit_file_shared(&c.m, c.path, 0, 0, 0) == 0);
	TU_CHILD_OK(mmapkit_read(c.m, 0, &byte, 1) == 0); /* installs the handler */
	TU_CHILD_OK(ftruncate(c.fd, (off_t)pg()) == 0);
	c.beyond = (unsigned char *)mmapkit_ptr(c.m) + 3 * pg() + 5;
	return c;
}

static sigjmp_buf app_env;
static volatile sig_atomic_t app_calls, app_code, app_bus_blocked, app_usr2_blocked;
static void *volatile app_addr;

static void note_mask(void)
{
	sigset_t cur;

	pthread_sigmask(SIG_BLOCK, NULL, &cur);
	app_bus_blocked = sigismember(&cur, SIGBUS);
	app_usr2_blocked = sigismember(&cur, SIGUSR2);
}

static void app_siginfo(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	app_calls++;
	app_addr = si->si_addr;
	app_code = si->si_code;
	note_mask();
	if (si->si_code > 0) /* a fault: returning would fault again */
		siglongjmp(app_env, 1);
}

static void app_plain(int sig)
{
	(void)sig;
	app_calls++;
	note_mask();
	siglongjmp(app_env, 1);
}

/* The raw access faults, the application's handler sees it, and mmapkit's copies go on. */
/*
 * The application's handler first (mmapkit's forgotten), then a cut file (its
 * first copy installs mmapkit's over it), and a raw access past the end: the
 * application's handler is called, once, and leaves with siglongjmp.
 */
static struct cut app_first(void (*plain)(int), void (*info)(int, siginfo_t *, void *),
			    int flags, int blocked)
{
	struct sigaction sa;
	struct cut c;

	memset(&sa, 0, sizeof(sa));
	if (info)
		sa.sa_sigaction = info;
	else
		sa.sa_handler = plain;
	sa.sa_flags = flags | (info ? SA_SIGINFO : 0);
	sigemptyset(&sa.sa_mask);
	if (blocked)
		sigaddset(&sa.sa_mask, blocked);
	mmapkit__sigbus_forget();
	TU_CHILD_OK(sigaction(SIGBUS, &sa, NULL) == 0);
	c = cut_file();
	if (sigsetjmp(app_env, 1) == 0)
		tu_touch(c.beyond);
	TU_CHILD_OK(app_calls == 1);
	return c;
}

static void chain_siginfo(void *arg)
{
	mmapkit_map *other = NULL;
	unsigned char buf[16];
	struct cut c = app_first(NULL, app_siginfo, 0, SIGUSR2);

	(void)arg;
	TU_CHILD_OK(mmapkit_read(c.m, 3 * pg(), buf, sizeof(buf)) == -EFAULT);
	TU_CHILD_OK(app_calls == 1);
	TU_CHILD_OK(app_addr == (void *)c.beyond);
	TU_CHILD_OK(app_code == BUS_ADRERR);
	TU_CHILD_OK(app_bus_blocked && app_usr2_blocked); /* its sa_mask, and no SA_NODEFER */
	/* inside a copy, but on the other side of it (the buffer): the application's */
	TU_CHILD_OK(mmapkit_anon_private(&other, pg(), 0) == 0);
	if (sigsetjmp(app_env, 1) == 0)
		mmapkit_read(other, 0, (void *)c.beyond, sizeof(buf));
	TU_CHILD_OK(app_calls == 2);
	TU_CHILD_OK(app_addr == (void *)c.beyond);
	/* sent, not raised by a fault: the handler runs and returns */
	TU_CHILD_OK(raise(SIGBUS) == 0);
	TU_CHILD_OK(app_calls == 3 && app_code == SI_TKILL);
	TU_CHILD_OK(mmapkit_write(c.m, 5 * pg(), buf, sizeof(buf)) == -EFAULT);
	TU_CHILD_OK(mmapkit_read(other, 0, buf, sizeof(buf)) == 0);
	TU_CHILD_OK(app_calls == 3);
	_exit(0);
}

/* A plain handler with SA_NODEFER: called as the kernel would, SIGBUS not blocked. */
static void chain_plain(void *arg)
{
	unsigned char buf[16];
	struct cut c = app_first(app_plain, NULL, SA_NODEFER, 0);

	(void)arg;
	TU_CHILD_OK(!app_bus_blocked && !app_usr2_blocked);
	TU_CHILD_OK(mmapkit_read(c.m, 2 * pg(), buf, sizeof(buf)) == -EFAULT);
	TU_CHILD_OK(app_calls == 1);
	_exit(0);
}

START_TEST(copy_chain_handler)
{
	child_ok(_i ? chain_plain : chain_siginfo, NULL);
}
END_TEST

/*
 * No handler of the application's: a copy answers -EFAULT, a raw access still
 * kills (arg 0: SIG_DFL, 1: SIG_IGN), and so does a fault on the buffer's side
 * of a copy (2).
 */
static void default_kills(void *arg)
{
	int how = (int)(intptr_t)arg;
	unsigned char buf[16];
	mmapkit_map *other = NULL;
	struct cut c;

	mmapkit__sigbus_forget();
	signal(SIGBUS, how == 1 ? SIG_IGN : SIG_DFL);
	c = cut_file();
	TU_CHILD_OK(mmapkit_read(c.m, 3 * pg(), buf, sizeof(buf)) == -EFAULT);
	if (how == 1) /* SIG_IGN: a SIGBUS sent with kill() is ignored */
		TU_CHILD_OK(kill(getpid(), SIGBUS) == 0);
	tu_probe_quietly();
	if (how == 2) {
		TU_CHILD_OK(mmapkit_anon_private(&other, pg(), 0) == 0);
		mmapkit_read(other, 0, (void *)c.beyond, sizeof(buf)); /* dies here */
		_exit(4);
	}
	tu_touch(c.beyond); /* dies here, SIG_IGN or not: a fault cannot be ignored */
	_exit(3);
}

START_TEST(copy_default_kills)
{
	int st = tu_child(default_kills, (void *)(intptr_t)_i);

	ck_assert_msg(TU_KILLED(st, SIGBUS), "child status 0x%x, want killed by SIGBUS", st);
}
END_TEST

/*
 * mmapkit(7): a handler the application installs after the first copy
 * replaces mmapkit's; if it passes on what it does not handle to the action
 * sigaction() returned, copies answer -EFAULT again.
 */
static struct sigaction mmapkit_action;

static void app_chaining(int sig, siginfo_t *si, void *uc)
{
	app_calls++;
	mmapkit_action.sa_sigaction(sig, si, uc);
}

static void replaced_later(void *arg)
{
	struct sigaction sa;
	unsigned char buf[16];
	struct cut c;

	(void)arg;
	mmapkit__sigbus_forget();
	signal(SIGBUS, SIG_DFL);
	c = cut_file();
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = app_siginfo;
	sa.sa_flags = SA_SIGINFO;
	TU_CHILD_OK(sigaction(SIGBUS, &sa, &mmapkit_action) == 0);
	TU_CHILD_OK(mmapkit_action.sa_flags & SA_SIGINFO);
	if (sigsetjmp(app_env, 1) == 0)
		TU_CHILD_OK(mmapkit_read(c.m, 3 * pg(), buf, sizeof(buf)) == 12345); /* never returns */
	TU_CHILD_OK(app_calls == 1); /* the application's handler got the copy's fault */
	sa.sa_sigaction = app_chaining;
	TU_CHILD_OK(sigaction(SIGBUS, &sa, NULL) == 0);
	TU_CHILD_OK(mmapkit_read(c.m, 3 * pg(), buf, sizeof(buf)) == -EFAULT);
	TU_CHILD_OK(app_calls == 2);
	_exit(0);
}

START_TEST(copy_replaced_later)
{
	child_ok(replaced_later, NULL);
}
END_TEST

Suite *suite_copy(void)
{
	Suite *s = suite_create("copy");
	TCase *tc = tu_tcase(s, "copies", 0);

	tcase_add_loop_test(tc, copy_kinds, 0, 4);
	tcase_add_test(tc, copy_bad_inputs);
	tcase_add_test(tc, copy_cost);
	tcase_add_test(tc, copy_fork_child);

	tc = tu_tcase(s, "truncation", 30);
	tcase_add_loop_test(tc, copy_truncated, 0, 2);
	tcase_add_test(tc, copy_truncate_race);
	tcase_add_test(tc, copy_threads);
	tcase_add_test(tc, copy_thread_churn);
	tcase_add_loop_test(tc, copy_fresh_thread_faults, 0, 2);
	tcase_add_test(tc, copy_dlopened);

	tc = tu_tcase(s, "handlers", 0);
	tcase_add_loop_test(tc, copy_chain_handler, 0, 2);
	tcase_add_loop_test(tc, copy_default_kills, 0, 3);
	tcase_add_test(tc, copy_replaced_later);
	return s;
}
