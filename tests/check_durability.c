/* SPDX-License-Identifier: MIT */
/*
 * Crash durability.  A child appends records to a file through a shared
 * mapping: mmapkit_sync over each record, the file grown with MMAPKIT_GROW and
 * made durable with MMAPKIT_SYNC_FULL when it is full, and each completed sync
 * reported through a pipe.  The parent SIGKILLs it at a random moment and
 * checks that every record reported synced is in the file, byte for byte.
 *
 * A SIGKILL loses no page cache, so the bytes alone prove that the library
 * writes the right place and never loses a reported record to a GROW.  That
 * the sync really reached the disk is checked with cachestat(2) (Linux 6.5):
 * no page holding only reported records may still be dirty or under
 * writeback.  Power loss is out of reach here.
 *
 * MMAPKIT_DURABILITY_SEED and MMAPKIT_DURABILITY_ROUNDS (at least 200) set
 * the random seed and the number of rounds; the seed is printed.  Under
 * valgrind, 40 rounds unless MMAPKIT_DURABILITY_ROUNDS says otherwise.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define RECSZ 100       /* not a divisor of the page size: records straddle pages */
#define MAX_RECORDS 600 /* a child never killed stops here */
#define MIN_ROUNDS 200

/* Byte j of record seq in round r: differs between rounds, records and bytes. */
static unsigned char rec_byte(unsigned r, unsigned seq, unsigned j)
{
	uint32_t x = (r * 2654435761u) ^ (seq * 40503u) ^ (j * 2246822519u);

	x ^= x >> 15;
	x *= 2246822519u;
	x ^= x >> 13;
	return (unsigned char)(x | (j == 0)); /* never a whole record of zeros */
}

static void die(const char *what)
{
	fprintf(stderr, "durability child: %s: %s\n", what, mmapkit_errmsg());
	_exit(2);
}

/* Close the mapping and map the file again, grown by a page, then make that durable. */
static mmapkit_map *grow(mmapkit_map *m, const char *path, size_t *cap)
{
	mmapkit_unmap(m);
	*cap += mmapkit_page_size();
	if (mmapkit_file_shared(&m, path, 0, *cap, MMAPKIT_GROW) < 0)
		die("grow");
	if (mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL) < 0)
		die("sync full after grow");
	return m;
}

static void writer(unsigned round, const char *path, int wfd)
{
	size_t cap = mmapkit_page_size();
	mmapkit_map *m = NULL;

	if (mmapkit_file_shared(&m, path, 0, cap, MMAPKIT_CREATE | MMAPKIT_GROW) < 0)
		die("create");
	if (mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL) < 0)
		die("sync full after create");
	for (unsigned seq = 0; seq < MAX_RECORDS; seq++) {
		size_t off = (size_t)seq * RECSZ;
		unsigned char *p;

		if (off + RECSZ > cap)
			m = grow(m, path, &cap);
		p = mmapkit_ptr(m);
		for (unsigned j = 0; j < RECSZ; j++)
			p[off + j] = rec_byte(round, seq, j);
		if (mmapkit_sync(m, off, RECSZ, 0) < 0)
			die("sync");
		if (write(wfd, &seq, sizeof(seq)) != sizeof(seq))
			die("report");
	}
	mmapkit_unmap(m);
	_exit(0);
}

/* Reads one report; false at end of file (the child is gone). */
static bool next_report(int rfd, unsigned *seq)
{
	ssize_t n;

	do
		n = read(rfd, seq, sizeof(*seq));
	while (n < 0 && errno == EINTR);
	ck_assert(n == 0 || n == (ssize_t)sizeof(*seq));
	return n == (ssize_t)sizeof(*seq);
}

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

/* cachestat(2)'s structures, not in every distribution's headers yet. */
struct cs_range {
	uint64_t off, len;
};

struct cs_stat {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

static bool have_cachestat = true;

/* The pages [0, end) hold no data that is not on the disk. */
static void assert_clean(unsigned round, int fd, uint64_t end)
{
	struct cs_range r = {0, end};
	struct cs_stat cs;

	if (!have_cachestat || end == 0)
		return;
	if (syscall(SYS_cachestat, fd, &r, &cs, 0) < 0) {
		ck_assert_int_eq(errno, ENOSYS);
		have_cachestat = false;
		printf("durability: no cachestat(2): written-back check skipped\n");
		return;
	}
	ck_assert_msg(cs.nr_dirty == 0 && cs.nr_writeback == 0,
		      "round %u: %llu dirty and %llu writeback pages in the first %llu bytes",
		      round, (unsigned long long)cs.nr_dirty, (unsigned long long)cs.nr_writeback,
		      (unsigned long long)end);
}

/* Every reported record is in the file, byte for byte, and on the disk. */
static void verify(unsigned round, const char *path, unsigned records)
{
	uint64_t page = mmapkit_page_size();
	unsigned char buf[RECSZ];
	int fd;

	if (records == 0)
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	ck_assert_uint_ge((uint64_t)lseek(fd, 0, SEEK_END), (uint64_t)records * RECSZ);
	for (unsigned seq = 0; seq < records; seq++) {
		ck_assert_int_eq(pread(fd, buf, RECSZ, (off_t)seq * RECSZ), RECSZ);
		for (unsigned j = 0; j < RECSZ; j++)
			ck_assert_msg(buf[j] == rec_byte(round, seq, j),
				      "round %u: record %u byte %u is 0x%02x, not 0x%02x", round,
				      seq, j, buf[j], rec_byte(round, seq, j));
	}
	/* Later, unreported records may share the page of the last reported one. */
	assert_clean(round, fd, (uint64_t)records * RECSZ / page * page);
	close(fd);
}

/* One round: returns how many records the child reported before it was killed. */
static unsigned round_once(unsigned round, unsigned kill_after)
{
	const char *path = tu_path("journal");
	unsigned seq, records = 0;
	int pfd[2], st;
	pid_t pid;

	ck_assert_int_eq(pipe2(pfd, O_CLOEXEC), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		alarm(10);
		close(pfd[0]);
		writer(round, path, pfd[1]);
	}
	close(pfd[1]);
	while (records < kill_after && next_report(pfd[0], &seq)) {
		ck_assert_uint_eq(seq, records);
		records++;
	}
	kill(pid, SIGKILL);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(TU_KILLED(st, SIGKILL) || TU_EXITED(st, 0), "round %u: status 0x%x", round,
		      st);
	while (next_report(pfd[0], &seq)) { /* sent before the kill landed */
		ck_assert_uint_eq(seq, records);
		records++;
	}
	close(pfd[0]);
	verify(round, path, records);
	unlink(path);
	return records;
}

static unsigned env_uint(const char *name, unsigned dflt)
{
	const char *v = getenv(name);

	return v && *v ? (unsigned)strtoul(v, NULL, 0) : dflt;
}

START_TEST(killed_writer_keeps_synced_records)
{
	unsigned seed = env_uint("MMAPKIT_DURABILITY_SEED",
				 (unsigned)time(NULL) ^ (unsigned)getpid());
	unsigned rounds = env_uint("MMAPKIT_DURABILITY_ROUNDS", MIN_ROUNDS);
	unsigned long total = 0;
	unsigned most = 0, immediate = 0;
	struct timespec t0, t1;

	if (rounds < MIN_ROUNDS)
		rounds = MIN_ROUNDS;
	if (tu_on_valgrind() && !getenv("MMAPKIT_DURABILITY_ROUNDS"))
		rounds = 40; /* a memory check of the same code paths, not the durability run */
	srand(seed);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned r = 0; r < rounds; r++) {
		/* Kill at once, or after some reports, some of them past a GROW. */
		unsigned after = rand() % 8 == 0 ? 0 : (unsigned)rand() % 120;
		unsigned n = round_once(r, after);

		total += n;
		most = n > most ? n : most;
		immediate += after == 0;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("durability: seed %u: %u rounds (%u killed at once), %lu synced records verified, "
	       "up to %u in one round, %.1f s\n",
	       seed, rounds, immediate, total, most,
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
}
END_TEST

Suite *suite_durability(void)
{
	Suite *s = suite_create("durability");
	TCase *tc = tcase_create("kill");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, killed_writer_keeps_synced_records);
	suite_add_tcase(s, tc);
	return s;
}
