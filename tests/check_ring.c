/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_ring: len bytes mapped twice back to back.  Byte len + i is byte i
 * for every i, both ways; spans across the wrap are one pointer; the ring is
 * shared with fork() children and with processes it is sent to; a producer
 * and a consumer process pass millions of records through it without loss.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bsd/stdlib.h>

#include "internal.h"
#include "testutil.h"

static size_t pg(void)
{
	return mmapkit_page_size();
}

START_TEST(ring_bad_args)
{
	static const unsigned bad_flags[] = {MMAPKIT_CREATE, MMAPKIT_GROW, MMAPKIT_HUGETLB,
					     MMAPKIT_GUARD, MMAPKIT_WIPEONFORK, 0x10000u};
	struct tu_snap s = tu_snap();
	mmapkit_map *m = (mmapkit_map *)&m;

	ck_assert_int_eq(mmapkit_ring(NULL, pg(), 0), -EINVAL);
	ck_assert_int_eq(mmapkit_ring(&m, 0, 0), -EINVAL);
	ck_assert_ptr_null(m);
	m = (mmapkit_map *)&m;
	ck_assert_int_eq(mmapkit_ring(&m, pg() + 1, 0), -EINVAL);
	ck_assert_ptr_null(m);
	tu_assert_errmsg("mmapkit_ring", TU_NUMS(tu_num(pg() + 1), "multiple"), "odd length");
	ck_assert_int_eq(mmapkit_ring(&m, pg() / 2, 0), -EINVAL);
	ck_assert_int_eq(mmapkit_ring(&m, (size_t)PTRDIFF_MAX / 2 / pg() * pg() + pg(), 0),
			 -EOVERFLOW);
	for (size_t i = 0; i < TU_LEN(bad_flags); i++) {
		m = (mmapkit_map *)&m;
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_ring(&m, pg(), bad_flags[i]), -EINVAL);
		ck_assert_ptr_null(m);
		ck_assert_uint_eq(mmapkit__fault_total(), 0);
	}
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* Byte len + i is byte i, for every i, whichever half is written. */
static void assert_mirror(mmapkit_map *m, unsigned seed)
{
	size_t n = mmapkit_len(m);
	unsigned char *p = mmapkit_ptr(m);

	for (size_t i = 0; i < n; i++)
		p[i] = tu_pattern(i + seed);
	for (size_t i = 0; i < n; i++)
		TU_BYTE_EQ(p[n + i], tu_pattern(i + seed), n + i);
	for (size_t i = 0; i < n; i++)
		p[n + i] = tu_other(i + seed);
	for (size_t i = 0; i < n; i++)
		TU_BYTE_EQ(p[i], tu_other(i + seed), i);
}

START_TEST(ring_mirror)
{
	static const size_t pages[] = {1, 3, 16, 256};
	struct tu_snap s = tu_snap();

	for (size_t k = 0; k < TU_LEN(pages); k++) {
		mmapkit_map *m = NULL;

		ck_assert_int_eq(mmapkit_ring(&m, pages[k] * pg(), 0), 0);
		ck_assert_int_eq(mmapkit_kind(m), MMAPKIT_ANON_SHARED);
		ck_assert_uint_eq(mmapkit_len(m), pages[k] * pg());
		ck_assert_uint_eq(mmapkit_offset(m), 0);
		ck_assert_int_ge(mmapkit_fd(m), 0); /* the memfd, for sending */
		assert_mirror(m, (unsigned)k);
		mmapkit_unmap(m);
	}
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

START_TEST(ring_at_spans_wrap)
{
	mmapkit_map *m = NULL;
	size_t n = 4 * pg();
	unsigned char *p, *q;

	ck_assert_int_eq(mmapkit_ring(&m, n, MMAPKIT_POPULATE), 0);
	p = mmapkit_ptr(m);
	/* a record written across the wrap reads back whole, and lands at both ends */
	q = mmapkit_at(m, n - 8, 16, 8);
	ck_assert_ptr_eq(q, p + n - 8);
	memcpy(q, "0123456789abcdef", 16);
	ck_assert_int_eq(memcmp(p, "89abcdef", 8), 0);
	ck_assert_int_eq(memcmp(p + n - 8, "01234567", 8), 0);
	ck_assert_ptr_eq(MMAPKIT_AT(m, uint64_t, n - 4 + 4), (uint64_t *)(p + n));
	/* spans up to 2 * len, no further */
	ck_assert_ptr_eq(mmapkit_at(m, 0, 2 * n, 1), p);
	ck_assert_ptr_eq(mmapkit_at(m, n, n, 1), p + n);
	ck_assert_ptr_eq(mmapkit_at(m, 2 * n, 0, 1), p + 2 * n);
	ck_assert_ptr_null(mmapkit_at(m, 1, 2 * n, 1));
	tu_assert_errmsg("mmapkit_at", TU_NUMS(tu_num(2 * n), "ring"), "past twice");
	ck_assert_ptr_null(mmapkit_at(m, 2 * n + 1, 0, 1));
	ck_assert_ptr_null(mmapkit_at(m, SIZE_MAX, 2, 1));
	ck_assert_ptr_null(mmapkit_at(m, n - 3, 8, 8)); /* misaligned */
	mmapkit_unmap(m);
}
END_TEST

/* Is any byte of [p, p + n) mapped?  mincore answers ENOMEM where nothing is. */
static bool any_mapped(void *p, size_t n)
{
	unsigned char v;

	for (size_t off = 0; off < n; off += pg())
		if (mincore((unsigned char *)p + off, pg(), &v) == 0)
			return true;
	return false;
}

START_TEST(ring_unmap_releases)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	size_t n = 8 * pg();
	unsigned char *p;
	char perms[5];

	ck_assert_int_eq(mmapkit_ring(&m, n, MMAPKIT_DONTDUMP), 0);
	p = mmapkit_ptr(m);
	tu_perms(p, perms);
	ck_assert_str_eq(perms, "rw-s");
	tu_perms(p + n, perms);
	ck_assert_str_eq(perms, "rw-s");
	ck_assert(tu_has_vmflag(p + n, "dd")); /* flags reach both halves */
	if (tu_maps_reliable())
		ck_assert_int_eq(tu_count_maps(), s.maps + 2);
	ck_assert_int_eq(tu_count_fds(), s.fds + 1);
	mmapkit_unmap(m);
	ck_assert(!any_mapped(p, 2 * n));
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

START_TEST(ring_refuses_punch_revert)
{
	mmapkit_map *m = NULL;
	unsigned char *p;

	ck_assert_int_eq(mmapkit_ring(&m, 2 * pg(), 0), 0);
	p = mmapkit_ptr(m);
	p[5] = 9;
	ck_assert_int_eq(mmapkit_punch(m, 0, pg()), -EINVAL);
	tu_assert_errmsg("mmapkit_punch", TU_NUMS("ring"), "punch");
	ck_assert_int_eq(mmapkit_revert(m, 0, pg()), -EINVAL);
	ck_assert_uint_eq(p[5], 9);
	ck_assert_uint_eq(p[2 * pg() + 5], 9);
	mmapkit_unmap(m);
}
END_TEST

/*
 * mmapkit_resident of a ring: the range is the ring's len bytes, so vec gets
 * one byte per page of len (not of both copies: the bytes after stay as they
 * were), and the two copies' shared pages count once (mmapkit_ring(3)).
 */
START_TEST(ring_resident)
{
	struct tu_snap s = tu_snap();
	const size_t n = 4;
	unsigned char vec[2 * 4];
	uint64_t bytes = 0;
	mmapkit_map *m;

	ck_assert_int_eq(mmapkit_ring(&m, n * pg(), 0), 0);
	memset(mmapkit_ptr(m), 0x33, n * pg()); /* every page resident, through the first copy */
	memset(vec, 0xee, sizeof(vec));
	ck_assert_int_eq(mmapkit_resident(m, 0, MMAPKIT_TO_END, &bytes, vec), 0);
	ck_assert_uint_eq(bytes, n * pg());
	for (size_t i = 0; i < n; i++)
		ck_assert_uint_eq(vec[i], 1);
	for (size_t i = n; i < sizeof(vec); i++)
		ck_assert_msg(vec[i] == 0xee, "vec[%zu] = 0x%x: written past the ring's %zu pages", i,
			      vec[i], n);
	bytes = 0;
	ck_assert_int_eq(mmapkit_resident(m, 0, n * pg(), &bytes, NULL), 0);
	ck_assert_uint_eq(bytes, n * pg());
	ck_assert_int_eq(mmapkit_resident(m, 0, 0, &bytes, vec), 0);
	ck_assert_uint_eq(bytes, 0);
	ck_assert_int_eq(mmapkit_resident(m, pg(), pg(), &bytes, vec), -EINVAL);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

static void ring_dontfork_child(void *arg)
{
	const unsigned char *p = arg;
	unsigned char v;

	/* neither copy is in the child */
	TU_CHILD_OK(mincore((void *)p, mmapkit_page_size(), &v) < 0 && errno == ENOMEM);
	TU_CHILD_OK(mincore((void *)(p + 2 * mmapkit_page_size()), mmapkit_page_size(), &v) < 0);
}

/* Range operations take the whole ring and act on both copies alike. */
START_TEST(ring_range_operations)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	size_t n = 2 * pg();
	unsigned char *p;
	char perms[5];
	int st;

	ck_assert_int_eq(mmapkit_ring(&m, n, 0), 0);
	p = mmapkit_ptr(m);
	/* part of a ring would leave its copies different */
	ck_assert_int_eq(mmapkit_protect(m, 0, pg(), MMAPKIT_PROT_READ), -EINVAL);
	tu_assert_errmsg("mmapkit_protect", TU_NUMS("whole ring"), "partial protect");
	ck_assert_int_eq(mmapkit_lock(m, pg(), MMAPKIT_TO_END, 0), -EINVAL);
	ck_assert_int_eq(mmapkit_advise(m, 1, n - 1, MMAPKIT_ADV_DONTFORK), -EINVAL);
	ck_assert_int_eq(mmapkit_protect(m, 0, 0, MMAPKIT_PROT_READ), 0); /* empty: nothing */
	ck_assert_int_eq(mmapkit_protect(m, 0, n + 1, MMAPKIT_PROT_READ), -ERANGE);
	/* the whole ring: both copies */
	ck_assert_int_eq(mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ), 0);
	tu_perms(p, perms);
	ck_assert_str_eq(perms, "r--s");
	tu_perms(p + n, perms);
	ck_assert_str_eq(perms, "r--s");
	ck_assert_int_eq(mmapkit_protect(m, 0, n, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE), 0);
	tu_perms(p + n + pg(), perms);
	ck_assert_str_eq(perms, "rw-s");
	ck_assert_int_eq(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_SEQUENTIAL), 0);
	ck_assert(tu_has_vmflag(p + n, "sr"));
	ck_assert_int_eq(mmapkit_lock(m, 0, MMAPKIT_TO_END, 0), 0);
	ck_assert(tu_has_vmflag(p, "lo"));
	ck_assert(tu_has_vmflag(p + n, "lo"));
	ck_assert_int_eq(mmapkit_unlock(m, 0, MMAPKIT_TO_END), 0);
	ck_assert(!tu_has_vmflag(p + n, "lo"));
	ck_assert_int_eq(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DONTFORK), 0);
	st = tu_child(ring_dontfork_child, p);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
	p[1] = 7;
	ck_assert_uint_eq(p[n + 1], 7);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

struct ring_arg {
	unsigned char *p;
	size_t n;
};

static void ring_child(void *arg)
{
	struct ring_arg *a = arg;

	TU_CHILD_OK(a->p[a->n + 1] == 0x21);
	a->p[a->n + 2] = 0x31; /* through the second half */
	a->p[3] = 0x41;        /* through the first */
}

START_TEST(ring_fork)
{
	mmapkit_map *m = NULL;
	struct ring_arg a;
	int st;

	ck_assert_int_eq(mmapkit_ring(&m, 4 * pg(), 0), 0);
	a.p = mmapkit_ptr(m);
	a.n = mmapkit_len(m);
	a.p[1] = 0x21;
	st = tu_child(ring_child, &a);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
	ck_assert_uint_eq(a.p[2], 0x31);
	ck_assert_uint_eq(a.p[a.n + 3], 0x41);
	mmapkit_unmap(m);
}
END_TEST

START_TEST(ring_send_receive)
{
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL, *r = NULL;
	size_t n = 4 * pg();
	unsigned char *p, *q;
	int sv[2];

	tu_socketpair(sv);
	ck_assert_int_eq(mmapkit_ring(&m, n, 0), 0);
	p = mmapkit_ptr(m);
	tu_fill_pattern(p, 0, n);
	ck_assert_int_eq(mmapkit_send(m, sv[0]), 0);
	ck_assert_int_eq(mmapkit_receive(&r, sv[1], 0, 0), 0);
	ck_assert_int_eq(mmapkit_kind(r), MMAPKIT_ANON_SHARED);
	ck_assert_uint_eq(mmapkit_len(r), n);
	q = mmapkit_ptr(r);
	ck_assert_ptr_nonnull(mmapkit_at(r, 1, n, 1)); /* a ring: spans past len */
	for (size_t i = 0; i < n; i++)
		TU_BYTE_EQ(q[n + i], tu_pattern(i), n + i);
	q[n + 10] = 0;
	ck_assert_uint_eq(p[10], 0);
	ck_assert_uint_eq(p[n + 10], 0);
	assert_mirror(r, 7);
	ck_assert_int_eq(mmapkit_punch(r, 0, 1), -EINVAL);
	/* and on again: a received ring can be sent */
	ck_assert_int_eq(mmapkit_send(r, sv[1]), 0);
	mmapkit_unmap(r);
	ck_assert_int_eq(mmapkit_receive(&r, sv[0], 0, MMAPKIT_RDONLY), 0);
	q = mmapkit_ptr(r);
	ck_assert_uint_eq(q[n + 10], p[10]);
	if (tu_fault_probes_work())
		ck_assert(tu_write_faults(q + n));
	mmapkit_unmap(r);
	/* a ring flag the receiver cannot give a ring */
	ck_assert_int_eq(mmapkit_send(m, sv[0]), 0);
	r = (mmapkit_map *)&r;
	ck_assert_int_eq(mmapkit_receive(&r, sv[1], 0, MMAPKIT_GUARD), -EINVAL);
	ck_assert_ptr_null(r);
	mmapkit_unmap(m);
	close(sv[0]);
	close(sv[1]);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- producer and consumer processes ---- */

/* A record of 24 bytes: never a divisor of the ring's length, so records straddle the wrap. */
struct rec {
	uint64_t seq, inv, mul;
};
#define MUL 0x9e3779b97f4a7c15ull

struct ctl {
	_Alignas(64) uint64_t tail; /* bytes written by the producer */
	_Alignas(64) uint64_t head; /* bytes read by the consumer */
};

static void spin(unsigned *k)
{
	if (++*k % 64 == 0)
		sched_yield();
}

static void produce(struct ctl *c, unsigned char *ring, size_t n, uint64_t count)
{
	uint64_t tail = 0;

	for (uint64_t seq = 0; seq < count; seq++) {
		struct rec r = {seq, ~seq, seq * MUL};
		unsigned k = 0;

		while (tail + sizeof(r) - __atomic_load_n(&c->head, __ATOMIC_ACQUIRE) > n)
			spin(&k);
		memcpy(ring + tail % n, &r, sizeof(r)); /* one span, across the wrap too */
		tail += sizeof(r);
		__atomic_store_n(&c->tail, tail, __ATOMIC_RELEASE);
	}
}

/* Returns the first sequence number that did not arrive right, or count. */
static uint64_t consume(struct ctl *c, const unsigned char *ring, size_t n, uint64_t count)
{
	uint64_t head = 0, seq = 0;
	unsigned k = 0;

	while (seq < count) {
		uint64_t tail = __atomic_load_n(&c->tail, __ATOMIC_ACQUIRE);

		if (tail == head) {
			spin(&k);
			continue;
		}
		for (; head < tail; head += sizeof(struct rec), seq++) {
			struct rec r;

			memcpy(&r, ring + head % n, sizeof(r));
			if (r.seq != seq || r.inv != ~seq || r.mul != seq * MUL)
				return seq;
		}
		__atomic_store_n(&c->head, head, __ATOMIC_RELEASE);
	}
	return seq;
}

static uint64_t records(void)
{
	const char *v = getenv("MMAPKIT_RING_RECORDS");
	const char *err = NULL;
	long long n;

	if (v && *v) {
		n = strtonum(v, 1, 1000000000000LL, &err);
		ck_assert_msg(!err, "MMAPKIT_RING_RECORDS=%s: %s", v, err);
		return (uint64_t)n;
	}
	return tu_on_valgrind() ? 100000 : 10000000;
}

START_TEST(ring_spsc_processes)
{
	uint64_t count = records(), got;
	mmapkit_map *ring = NULL, *cm = NULL;
	struct timespec t0, t1;
	struct ctl *c;
	size_t n = 16 * pg();
	double secs;
	pid_t pid;
	int st;

	ck_assert_int_eq(mmapkit_ring(&ring, n, 0), 0);
	ck_assert_int_eq(mmapkit_anon_shared(&cm, sizeof(*c), 0), 0);
	c = MMAPKIT_AT(cm, struct ctl, 0);
	ck_assert_ptr_nonnull(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL);
		alarm(60);
		produce(c, mmapkit_ptr(ring), n, count);
		_exit(0);
	}
	got = consume(c, mmapkit_ptr(ring), n, count);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (got != count)
		kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(got == count, "record %llu of %llu arrived wrong",
		      (unsigned long long)got, (unsigned long long)count);
	ck_assert_msg(TU_EXITED(st, 0), "producer status 0x%x", st);
	secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("ring: %llu records of %zu bytes through a %zu-byte ring in %.2f s (%.1f M/s)\n",
	       (unsigned long long)count, sizeof(struct rec), n, secs, (double)count / secs / 1e6);
	mmapkit_unmap(ring);
	mmapkit_unmap(cm);
}
END_TEST

/* ---- every failure of the constructor leaves nothing ---- */

static int rw_run(void *ctx)
{
	return mmapkit_ring(ctx, 2 * pg(), MMAPKIT_DONTFORK | MMAPKIT_LOCK);
}

static void rw_ok(void *ctx)
{
	mmapkit_map *m = *(mmapkit_map **)ctx;

	assert_mirror(m, 3);
	mmapkit_unmap(m);
}

START_TEST(ring_faults)
{
	static const struct tu_walk walk = {"mmapkit_ring", tu_walk_out_setup, rw_run, rw_ok,
					    tu_walk_out_failed};
	mmapkit_map *w;
	unsigned points = tu_fault_walk(&walk, &w, (const int[]){ENOMEM, EAGAIN, 0});

	printf("ring: mmapkit_ring: %u failure points\n", points);
	ck_assert_uint_ge(points, 14); /* memfd_create, ftruncate, mmap x3, madvise, mlock */
}
END_TEST

Suite *suite_ring(void)
{
	Suite *s = suite_create("ring");
	TCase *tc = tu_tcase(s, "ring", 0);

	tcase_add_test(tc, ring_bad_args);
	tcase_add_test(tc, ring_mirror);
	tcase_add_test(tc, ring_at_spans_wrap);
	tcase_add_test(tc, ring_unmap_releases);
	tcase_add_test(tc, ring_refuses_punch_revert);
	tcase_add_test(tc, ring_range_operations);
	tcase_add_test(tc, ring_resident);
	tcase_add_test(tc, ring_fork);
	tcase_add_test(tc, ring_send_receive);
	tcase_add_test(tc, ring_faults);

	tc = tu_tcase(s, "processes", 60);
	tcase_add_test(tc, ring_spsc_processes);
	return s;
}
