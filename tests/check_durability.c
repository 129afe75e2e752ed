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
#include <bsd/stdlib.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

static bool have_cachestat = true;

/* The pages [0, end) hold no data that is not on the disk. */
static void assert_clean(unsigned round, int fd, uint64_t end)
{
	struct tu_cachestat cs;
	int err;

	if (!have_cachestat || end == 0)
		return;
	err = tu_cachestat(fd, 0, end, &cs);
	if (err) {
		ck_assert_int_eq(err, -ENOSYS);
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
	const char *v = getenv(name), *why = NULL;
	unsigned n;

	if (!v || !*v)
		return dflt;
	n = (unsigned)strtonum(v, 0, UINT_MAX, &why);
	ck_assert_msg(!why, "%s=%s: %s", name, v, why);
	return n;
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

/* ---- at the storage: an ext4 image on a loop device ---- */

#define FILE_PAGES 6
#define ASYNC_BOUND_MS 2000 /* msync(MS_ASYNC) left a page unwritten this long */

static const unsigned storage_modes[] = {
	0,
	MMAPKIT_SYNC_FULL,
	MMAPKIT_SYNC_ASYNC,
	MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE,
};

static const char *mode_name(unsigned how)
{
	switch (how) {
	case 0:
		return "how 0";
	case MMAPKIT_SYNC_FULL:
		return "MMAPKIT_SYNC_FULL";
	case MMAPKIT_SYNC_ASYNC:
		return "MMAPKIT_SYNC_ASYNC";
	default:
		return "MMAPKIT_SYNC_ASYNC|MMAPKIT_SYNC_INVALIDATE";
	}
}

/* Pages of fd's bytes [a, z) dirty or under write-back; -1 without cachestat(2). */
static long long unclean_pages(int fd, uint64_t a, uint64_t z, bool dirty_only)
{
	struct tu_cachestat cs;
	int err = tu_cachestat(fd, a, z - a, &cs);

	TU_CHILD_OK(err == 0 || err == -ENOSYS);
	if (err)
		return -1;
	return (long long)(cs.nr_dirty + (dirty_only ? 0 : cs.nr_writeback));
}

static double ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) * 1e3 + (double)(t.tv_nsec - t0->tv_nsec) / 1e6;
}

/*
 * Until mmapkit_sync, bytes written through the mapping are in the page cache
 * only: the device (the image, read at the blocks FIEMAP names) holds the old
 * bytes, and cachestat counts the range's pages dirty.  Once it returns (for
 * SYNC_ASYNC: within ASYNC_BOUND_MS, polled) the device holds the new bytes
 * and no page of the range is dirty or under write-back.
 */
static void sync_reaches(const struct tu_ext4 *fs, int fd, mmapkit_map *m, size_t off, size_t n,
			 unsigned how, const unsigned char *old, const unsigned char *want)
{
	uint64_t page = mmapkit_page_size(), fa = mmapkit_offset(m) + off;
	uint64_t pa = fa / page * page, pz = (fa + n + page - 1) / page * page;
	long long dirty = unclean_pages(fd, pa, pz, true);
	struct timespec t0;
	int on;

	TU_CHILD_OK(tu_on_device(fs, fd, pa, old ? old + pa : NULL, pz - pa) == (old ? 1 : -1));
	TU_CHILD_OK(dirty == -1 || dirty == (long long)((pz - pa) / page));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	TU_CHILD_OK(mmapkit_sync(m, off, n, how) == 0);
	do {
		on = tu_on_device(fs, fd, pa, want + pa, pz - pa);
		dirty = unclean_pages(fd, pa, pz, false);
		if ((how & MMAPKIT_SYNC_ASYNC) && (on != 1 || dirty > 0))
			usleep(1000);
		else
			break;
	} while (ms_since(&t0) < ASYNC_BOUND_MS);
	if (on != 1 || dirty > 0)
		fprintf(stderr, "durability: %s: after %.0f ms the device %s the new bytes, "
				"%lld pages unclean\n",
			mode_name(how), ms_since(&t0), on == 1 ? "holds" : "lacks", dirty);
	TU_CHILD_OK(on == 1);
	TU_CHILD_OK(dirty <= 0);
	printf("durability: %s: %llu bytes on the device after %.1f ms%s\n", mode_name(how),
	       (unsigned long long)(pz - pa), ms_since(&t0),
	       dirty < 0 ? " (no cachestat: dirty counts not checked)" : ", none dirty");
}

static void storage_child(const struct tu_ext4 *fs)
{
	unsigned how = storage_modes[*(const int *)fs->arg];
	size_t page = mmapkit_page_size(), fsize = FILE_PAGES * page;
	/* the mapping starts one byte into the second page: file offsets are not mapping offsets */
	uint64_t map_off = page + 1;
	size_t off = page + 100, n = 2 * page;
	unsigned char *old = malloc(fsize + page), *want = malloc(fsize + page);
	char path[4352];
	mmapkit_map *m = NULL;
	int fd;

	TU_CHILD_OK(old && want);
	snprintf(path, sizeof(path), "%s/data", fs->mnt);
	tu_fill_pattern(old, 0, fsize);
	memcpy(want, old, fsize);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	TU_CHILD_OK(fd >= 0);
	TU_CHILD_OK(pwrite(fd, old, fsize, 0) == (ssize_t)fsize && fsync(fd) == 0);
	TU_CHILD_OK(tu_on_device(fs, fd, 0, old, fsize) == 1); /* FIEMAP names the right blocks */
	TU_CHILD_OK(mmapkit_file_shared(&m, path, map_off, 0, 0) == 0);
	for (size_t i = 0; i < n; i++)
		want[map_off + off + i] = tu_other(map_off + off + i);
	memcpy((unsigned char *)mmapkit_ptr(m) + off, want + map_off + off, n);
	sync_reaches(fs, fd, m, off, n, how, old, want);
	mmapkit_unmap(m);
	if (how == MMAPKIT_SYNC_FULL) {
		/* a page the file grows by has no block at all until the sync */
		TU_CHILD_OK(mmapkit_file_shared(&m, path, 0, fsize + page, MMAPKIT_GROW) == 0);
		for (size_t i = fsize; i < fsize + page; i++)
			want[i] = ((unsigned char *)mmapkit_ptr(m))[i] = tu_other(i);
		sync_reaches(fs, fd, m, fsize, page, how, NULL, want);
		mmapkit_unmap(m);
	}
	close(fd);
	free(old);
	free(want);
}

START_TEST(sync_reaches_device)
{
	tu_ext4_run("durability", storage_child, &_i);
}
END_TEST

Suite *suite_durability(void)
{
	Suite *s = suite_create("durability");
	TCase *tc = tcase_create("kill");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, killed_writer_keeps_synced_records);
	suite_add_tcase(s, tc);
	tc = tu_tcase(s, "storage", 30);
	tcase_add_loop_test(tc, sync_reaches_device, 0, (int)TU_LEN(storage_modes));
	return s;
}
