/* SPDX-License-Identifier: MIT */
/*
 * Distinct handles from different threads at the same time: 8 threads each
 * create, write, punch, revert (private kinds), sync (file shared) and unmap
 * their own handles of every kind, thousands of times, checking every byte;
 * afterwards the process has exactly the descriptors and mappings it had.
 * The error text and the system-call counters are per thread, too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

#define NTHREADS 8
#define ROUNDS 400 /* per thread, each over the four kinds */
#define FILE_PAGES 4

struct worker {
	int id;
	unsigned rounds;
	const char *priv_path;   /* file private: never written */
	const char *shared_path; /* file shared: this thread's own */
	pthread_barrier_t *barrier;
	unsigned handles;
	char fail[512]; /* the first failure, empty if none */
};

#define FAIL(w, ...)                                                                        \
	do {                                                                                \
		if (!(w)->fail[0])                                                          \
			snprintf((w)->fail, sizeof((w)->fail), __VA_ARGS__);                \
		return false;                                                               \
	} while (0)

static unsigned char byte_of(const struct worker *w, unsigned round, size_t i)
{
	return (unsigned char)((i * 13 + round * 7 + (unsigned)w->id * 31) % 251 + 1);
}

static int open_kind(struct worker *w, int kind, mmapkit_map **m, uint64_t foff, size_t len)
{
	const char *path = kind == MMAPKIT_FILE_PRIVATE ? w->priv_path : w->shared_path;

	return tu_map_kind(kind, m, path, foff, len, 0);
}

/* The bytes [0, n) of the handle: punched range zero, the rest what was written. */
static bool check_bytes(struct worker *w, const unsigned char *p, size_t n, unsigned round,
			size_t a, size_t z, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char want = i >= a && i < z ? 0 : byte_of(w, round, i);

		if (p[i] != want)
			FAIL(w, "thread %d round %u: %s: byte %zu is 0x%02x, expected 0x%02x", w->id,
			     round, what, i, p[i], want);
	}
	return true;
}

/* One handle of one kind through its life. */
static bool one(struct worker *w, int kind, unsigned round)
{
	size_t page = mmapkit_page_size();
	uint64_t foff = round % 3 * 7;
	size_t len = (1 + round % FILE_PAGES) * page - foff - round % 5;
	size_t a = round % 97 + 1, z = a + (round % 3) * page + round % 11 + 1;
	mmapkit_map *m = NULL;
	unsigned char *p;
	int r;

	if (z > len)
		z = len;
	r = open_kind(w, kind, &m, foff, len);
	if (r)
		FAIL(w, "thread %d round %u: kind %d: %d %s", w->id, round, kind, r, mmapkit_errmsg());
	w->handles++;
	p = mmapkit_ptr(m);
	for (size_t i = 0; i < len; i++)
		p[i] = byte_of(w, round, i);
	r = mmapkit_punch(m, a, z - a);
	if (r)
		FAIL(w, "thread %d: punch: %d %s", w->id, r, mmapkit_errmsg());
	if (!check_bytes(w, p, len, round, a, z, "punch"))
		return false;
	if (kind == MMAPKIT_FILE_SHARED) {
		unsigned char buf[64];
		size_t at = z < len ? z : a - 1; /* a written byte, not punched */

		r = mmapkit_sync(m, 0, MMAPKIT_TO_END, round % 8 ? MMAPKIT_SYNC_ASYNC : 0);
		if (r)
			FAIL(w, "thread %d: sync: %d %s", w->id, r, mmapkit_errmsg());
		if (pread(mmapkit_fd(m), buf, 1, (off_t)(foff + at)) != 1 || buf[0] != p[at])
			FAIL(w, "thread %d round %u: the file does not hold byte %zu", w->id, round, at);
		if (pread(mmapkit_fd(m), buf, 1, (off_t)(foff + a)) != 1 || buf[0] != 0)
			FAIL(w, "thread %d round %u: the file is not punched", w->id, round);
	}
	if (kind == MMAPKIT_ANON_PRIVATE || kind == MMAPKIT_FILE_PRIVATE) {
		r = mmapkit_revert(m, 0, MMAPKIT_TO_END);
		if (r)
			FAIL(w, "thread %d: revert: %d %s", w->id, r, mmapkit_errmsg());
		for (size_t i = 0; i < len; i++) {
			unsigned char want = kind == MMAPKIT_FILE_PRIVATE ? tu_pattern(foff + i) : 0;

			if (p[i] != want)
				FAIL(w, "thread %d round %u: revert: byte %zu is 0x%02x", w->id, round,
				     i, p[i]);
		}
	}
	mmapkit_unmap(m);
	return true;
}

/* The counters belong to this thread: an anonymous handle costs exactly its calls. */
static bool counted(struct worker *w, unsigned round)
{
	mmapkit_map *m = NULL;
	int r;

	mmapkit__fault_reset();
	r = mmapkit_anon_private(&m, 2 * mmapkit_page_size(), 0);
	if (!r)
		r = mmapkit_punch(m, 0, MMAPKIT_TO_END);
	mmapkit_unmap(m);
	if (r)
		FAIL(w, "thread %d: %d %s", w->id, r, mmapkit_errmsg());
	if (mmapkit__fault_calls(MMAPKIT__SYS_MMAP) != 1 ||
	    mmapkit__fault_calls(MMAPKIT__SYS_MADVISE) != 1 ||
	    mmapkit__fault_calls(MMAPKIT__SYS_MUNMAP) != 1 || mmapkit__fault_total() != 3)
		FAIL(w, "thread %d round %u: counted %u calls, not this thread's 3", w->id, round,
		     mmapkit__fault_total());
	return true;
}

/*
 * The error text belongs to this thread: set it, wait until every thread has
 * set its own, then read it back.  Every thread reaches both barriers.
 */
static bool own_errmsg(struct worker *w)
{
	mmapkit_map *m = NULL;
	char want[32];
	int r;

	snprintf(want, sizeof(want), "unknown advice %d", 1000 + w->id);
	r = mmapkit_anon_private(&m, mmapkit_page_size(), 0);
	if (!r)
		r = mmapkit_advise(m, 0, MMAPKIT_TO_END, 1000 + w->id);
	mmapkit_unmap(m);
	pthread_barrier_wait(w->barrier);
	pthread_barrier_wait(w->barrier);
	if (r != -EINVAL)
		FAIL(w, "thread %d: advice %d: %d", w->id, 1000 + w->id, r);
	if (!strstr(mmapkit_errmsg(), want))
		FAIL(w, "thread %d: errmsg \"%s\" is not its own (\"%s\")", w->id, mmapkit_errmsg(),
		     want);
	return true;
}

static void *work(void *arg)
{
	struct worker *w = arg;

	if (!own_errmsg(w))
		return NULL;
	for (unsigned round = 0; round < w->rounds; round++) {
		for (int kind = MMAPKIT_ANON_PRIVATE; kind <= MMAPKIT_FILE_SHARED; kind++)
			if (!one(w, kind, round))
				return NULL;
		if (round % 16 == 0 && !counted(w, round))
			return NULL;
	}
	return NULL;
}

/* Run NTHREADS workers of `rounds` rounds; returns the handles they made. */
static unsigned run(unsigned rounds, const char *priv[], const char *shared[])
{
	pthread_t t[NTHREADS];
	struct worker w[NTHREADS];
	pthread_barrier_t barrier;
	pthread_attr_t attr;
	unsigned handles = 0;

	/* small stacks: glibc caches them all, so the mappings count comes back */
	ck_assert_int_eq(pthread_attr_init(&attr), 0);
	ck_assert_int_eq(pthread_attr_setstacksize(&attr, 256 * 1024), 0);
	ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, NTHREADS), 0);
	for (int i = 0; i < NTHREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].id = i;
		w[i].rounds = rounds;
		w[i].priv_path = priv[i];
		w[i].shared_path = shared[i];
		w[i].barrier = &barrier;
		ck_assert_int_eq(pthread_create(&t[i], &attr, work, &w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		ck_assert_int_eq(pthread_join(t[i], NULL), 0);
	pthread_barrier_destroy(&barrier);
	pthread_attr_destroy(&attr);
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_msg(!w[i].fail[0], "%s", w[i].fail);
		ck_assert_uint_eq(w[i].handles, rounds * 4);
		handles += w[i].handles;
	}
	return handles;
}

START_TEST(threads_churn)
{
	size_t page = mmapkit_page_size();
	const char *priv[NTHREADS], *shared[NTHREADS];
	struct tu_snap s;
	unsigned handles;

	for (int i = 0; i < NTHREADS; i++) {
		priv[i] = tu_file(FILE_PAGES * page + 100);
		shared[i] = tu_file(FILE_PAGES * page + 100);
	}
	/* a first short run gives each thread its stack and malloc arena, kept for reuse */
	run(2, priv, shared);
	s = tu_snap();
	handles = run(ROUNDS, priv, shared);
	TU_ASSERT_NO_LEAK(s);
	for (int i = 0; i < NTHREADS; i++) {
		ck_assert_uint_eq(tu_file_size(priv[i]), FILE_PAGES * page + 100);
		ck_assert_uint_eq(tu_file_size(shared[i]), FILE_PAGES * page + 100);
		ck_assert_int_eq(unlink(priv[i]), 0);
		ck_assert_int_eq(unlink(shared[i]), 0);
	}
	printf("threads: %d threads made %u handles\n", NTHREADS, handles);
}
END_TEST

/* ---- one handle, synced from every thread at once ---- */

#define SYNC_ROUNDS 40

struct syncer {
	mmapkit_map *m;
	int id;
	pthread_barrier_t *barrier;
	int err;
	unsigned dir_syncs; /* readlink calls: this thread synced the directory */
};

/*
 * mmapkit_sync may run concurrently on one handle: each thread writes its own
 * page and syncs it, half of them with SYNC_FULL, whose first call on a
 * created file also syncs the directory and records that in the handle.
 */
static void *syncer_main(void *arg)
{
	struct syncer *t = arg;
	size_t page = mmapkit_page_size();
	static const unsigned hows[] = {MMAPKIT_SYNC_FULL, 0, MMAPKIT_SYNC_FULL,
					MMAPKIT_SYNC_ASYNC};

	memset((unsigned char *)mmapkit_ptr(t->m) + (size_t)t->id * page, t->id + 1, page);
	pthread_barrier_wait(t->barrier);
	mmapkit__fault_reset();
	t->err = mmapkit_sync(t->m, (size_t)t->id * page, page, hows[t->id % 4]);
	t->dir_syncs = mmapkit__fault_calls(MMAPKIT__SYS_READLINK);
	return NULL;
}

START_TEST(threads_sync_one_handle)
{
	size_t page = mmapkit_page_size();
	struct syncer t[NTHREADS];
	pthread_t tid[NTHREADS];
	pthread_barrier_t barrier;
	unsigned most = 0;

	ck_assert_int_eq(pthread_barrier_init(&barrier, NULL, NTHREADS), 0);
	for (int round = 0; round < SYNC_ROUNDS; round++) {
		const char *path = tu_path("synced");
		mmapkit_map *m = NULL;
		unsigned dir_syncs = 0;

		ck_assert_int_eq(mmapkit_file_shared(&m, path, 0, NTHREADS * page,
						     MMAPKIT_CREATE | MMAPKIT_GROW), 0);
		for (int i = 0; i < NTHREADS; i++) {
			t[i] = (struct syncer){.m = m, .id = i, .barrier = &barrier};
			ck_assert_int_eq(pthread_create(&tid[i], NULL, syncer_main, &t[i]), 0);
		}
		for (int i = 0; i < NTHREADS; i++) {
			ck_assert_int_eq(pthread_join(tid[i], NULL), 0);
			ck_assert_msg(t[i].err == 0, "round %d thread %d: %d", round, i, t[i].err);
			dir_syncs += t[i].dir_syncs;
		}
		/* at least one SYNC_FULL synced the directory; now it is recorded as done */
		ck_assert_uint_ge(dir_syncs, 1);
		most = dir_syncs > most ? dir_syncs : most;
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_sync(m, 0, 1, MMAPKIT_SYNC_FULL), 0);
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_READLINK), 0);
		for (size_t i = 0; i < NTHREADS * page; i++)
			TU_BYTE_EQ(((unsigned char *)mmapkit_ptr(m))[i], i / page + 1, i);
		mmapkit_unmap(m);
		ck_assert_int_eq(unlink(path), 0);
	}
	pthread_barrier_destroy(&barrier);
	printf("threads: %d rounds of %d concurrent syncs of one handle; up to %u directory "
	       "syncs in a round\n", SYNC_ROUNDS, NTHREADS, most);
}
END_TEST

Suite *suite_threads(void)
{
	Suite *s = suite_create("threads");
	TCase *tc = tu_tcase(s, "threads", 60);

	tcase_add_test(tc, threads_churn);
	tcase_add_test(tc, threads_sync_one_handle);
	return s;
}
