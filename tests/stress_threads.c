/* SPDX-License-Identifier: MIT */
/*
 * stress_threads [WORKERS [CYCLES [READERS]]]: the contract's thread rules
 * under load, meant for ThreadSanitizer (tests/run_tsan.sh).
 *
 *  - WORKERS threads (default 8) each run CYCLES (default 10000) cycles of
 *    create / operate / unmap over all four kinds and all constructors: write,
 *    punch, revert, protect, lock, unlock, advise, sync, a refused call whose
 *    mmapkit_errmsg() must name this thread's numbers, and content checks.
 *  - READERS threads (default 2) meanwhile call every accessor of four shared
 *    handles (one per kind) and read their bytes, which nobody changes.
 *  - All threads start together, so the first calls race for the library's
 *    one-time state (page size, huge page size).
 *
 * Standalone: links the plain library sources.  Prints
 * "stress_threads: N passed, M failed" and exits non-zero on any failure.
 */
#define _GNU_SOURCE
#include <bsd/stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mmapkit.h"

#define FILE_PAGES 4

static size_t pg;
static char dir[256];
static pthread_barrier_t start;
static atomic_int failures;
static atomic_bool workers_done;
static atomic_ulong reader_passes;

/* Report a failed check; the run goes on so that one report shows them all. */
#define CHECK(cond, ...)                                                                    \
	do {                                                                                \
		if (!(cond)) {                                                              \
			if (atomic_fetch_add(&failures, 1) < 20) {                          \
				fprintf(stderr, "stress_threads: %s:%d: %s: ", __FILE__,    \
					__LINE__, #cond);                                   \
				fprintf(stderr, __VA_ARGS__);                               \
				fprintf(stderr, " (errmsg: %s)\n", mmapkit_errmsg());       \
			}                                                                   \
		}                                                                           \
	} while (0)

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 131u) % 251u + 1u);
}

static void make_file(const char *path)
{
	unsigned char *buf = malloc(FILE_PAGES * pg);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (!buf || fd < 0) {
		perror(path);
		exit(2);
	}
	for (size_t i = 0; i < FILE_PAGES * pg; i++)
		buf[i] = pattern(i);
	if (write(fd, buf, FILE_PAGES * pg) != (ssize_t)(FILE_PAGES * pg)) {
		perror(path);
		exit(2);
	}
	close(fd);
	free(buf);
}

/* ---- the shared handles and their readers ---- */

struct shared {
	mmapkit_map *m[4];
	unsigned char *ptr[4];
	size_t len[4];
	int fd[4];
	uint64_t off[4];
};

static struct shared sh;

static void make_shared(const char *path)
{
	int r[4];

	r[0] = mmapkit_anon_private(&sh.m[0], 3 * pg, MMAPKIT_POPULATE);
	r[1] = mmapkit_anon_shared(&sh.m[1], 2 * pg, MMAPKIT_GUARD);
	r[2] = mmapkit_file_private(&sh.m[2], path, 5, 0, MMAPKIT_RDONLY);
	r[3] = mmapkit_file_shared(&sh.m[3], path, pg, 2 * pg, MMAPKIT_RDONLY);
	for (int k = 0; k < 4; k++) {
		if (r[k]) {
			fprintf(stderr, "stress_threads: shared handle %d: %s\n", k,
				mmapkit_errmsg());
			exit(2);
		}
		sh.ptr[k] = mmapkit_ptr(sh.m[k]);
		sh.len[k] = mmapkit_len(sh.m[k]);
		sh.fd[k] = mmapkit_fd(sh.m[k]);
		sh.off[k] = mmapkit_offset(sh.m[k]);
	}
}

/* What byte i of shared handle k holds. */
static unsigned char shared_byte(int k, size_t i)
{
	return k < 2 ? 0 : pattern(sh.off[k] + i);
}

static void read_shared(int k, unsigned seed)
{
	const mmapkit_map *m = sh.m[k];
	size_t i = seed % sh.len[k];
	unsigned char *p;

	CHECK(mmapkit_ptr(m) == sh.ptr[k], "handle %d ptr", k);
	CHECK(mmapkit_len(m) == sh.len[k], "handle %d len", k);
	CHECK(mmapkit_kind(m) == k + 1, "handle %d kind", k);
	CHECK(mmapkit_fd(m) == sh.fd[k], "handle %d fd", k);
	CHECK(mmapkit_offset(m) == sh.off[k], "handle %d offset", k);
	CHECK((mmapkit_flags(m) & MMAPKIT_RDONLY) == (k >= 2 ? MMAPKIT_RDONLY : 0u), "flags %d", k);
	p = mmapkit_at(m, i, 1, 1);
	CHECK(p == sh.ptr[k] + i, "handle %d at %zu", k, i);
	if (p)
		CHECK(*p == shared_byte(k, i), "handle %d byte %zu is %u", k, i, *p);
	CHECK(mmapkit_at(m, sh.len[k], 1, 1) == NULL, "handle %d at past the end", k);
	CHECK(mmapkit_at(m, 0, 8, 3) == NULL, "handle %d at with align 3", k);
}

static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg * 7919u;

	pthread_barrier_wait(&start);
	CHECK(mmapkit_page_size() == pg, "page size");
	while (!atomic_load_explicit(&workers_done, memory_order_acquire)) {
		for (int k = 0; k < 4; k++)
			read_shared(k, seed += 104729u);
		CHECK(strcmp(mmapkit_strerror(-ERANGE), mmapkit_strerror(ERANGE)) == 0, "strerror");
		atomic_fetch_add_explicit(&reader_passes, 1, memory_order_relaxed);
	}
	return NULL;
}

/* ---- the workers ---- */

struct worker {
	int id;
	unsigned cycles;
	char rpath[300]; /* pattern file: only ever mapped privately */
	char wpath[300]; /* scratch file for the shared file mappings */
	int rfd, wfd;
};

static int create(struct worker *w, unsigned i, mmapkit_map **m, size_t *len)
{
	int kind = (int)(i % 4) + 1;
	unsigned flags = (i % 3 == 0 ? MMAPKIT_GUARD : 0) | (i % 7 == 0 ? MMAPKIT_LOCK : 0) |
			 (i % 5 == 0 ? MMAPKIT_DONTFORK : 0);
	uint64_t off = kind >= MMAPKIT_FILE_PRIVATE ? (i % 2) * pg + i % 50 : 0;
	bool by_fd = (i / 4) % 2;

	*len = (1 + i % 3) * pg - (kind >= MMAPKIT_FILE_PRIVATE ? i % 50 : 0);
	switch (kind) {
	case MMAPKIT_ANON_PRIVATE:
		if (i % 11 == 0 && !(flags & MMAPKIT_DONTFORK))
			flags |= MMAPKIT_WIPEONFORK;
		return mmapkit_anon_private(m, *len, flags);
	case MMAPKIT_ANON_SHARED:
		return mmapkit_anon_shared(m, *len, flags);
	case MMAPKIT_FILE_PRIVATE:
		return by_fd ? mmapkit_fd_private(m, w->rfd, off, *len, flags)
			     : mmapkit_file_private(m, w->rpath, off, *len, flags);
	default:
		return by_fd ? mmapkit_fd_shared(m, w->wfd, off, *len, flags)
			     : mmapkit_file_shared(m, w->wpath, off, *len, flags);
	}
}

/* What byte j of the range reads before any write: zeros, or the file's pattern. */
static unsigned char fresh(const mmapkit_map *m, size_t j)
{
	return mmapkit_kind(m) == MMAPKIT_FILE_PRIVATE ? pattern(mmapkit_offset(m) + j) : 0;
}

/* A refused call: the message is this thread's, with this thread's numbers. */
static void refused(struct worker *w, mmapkit_map *m, unsigned i)
{
	size_t off = mmapkit_len(m) + 1000u * (unsigned)w->id + i % 1000 + 1;
	char want[64];

	CHECK(mmapkit_punch(m, off, 1) == -ERANGE, "punch past the end");
	snprintf(want, sizeof(want), "range %zu+1 lies outside", off);
	CHECK(strstr(mmapkit_errmsg(), want) != NULL, "thread %d expected \"%s\"", w->id, want);
}

static void operate(struct worker *w, mmapkit_map *m, size_t len, unsigned i)
{
	unsigned char *p = mmapkit_ptr(m);
	int kind = mmapkit_kind(m);
	size_t a = len / 3, n = len / 3;

	memset(p, 0xa5, len);
	switch (i / 4 % 6) {
	case 0: /* punch: zeros in the range, the rest untouched */
		CHECK(mmapkit_punch(m, a, n) == 0, "punch kind %d", kind);
		CHECK(p[a] == 0 && p[a + n - 1] == 0 && p[a - 1] == 0xa5 && p[a + n] == 0xa5,
		      "punch bytes kind %d", kind);
		break;
	case 1: /* revert (private) or sync (shared) */
		if (kind == MMAPKIT_ANON_PRIVATE || kind == MMAPKIT_FILE_PRIVATE) {
			CHECK(mmapkit_revert(m, 0, MMAPKIT_TO_END) == 0, "revert kind %d", kind);
			CHECK(p[0] == fresh(m, 0) && p[len - 1] == fresh(m, len - 1),
			      "revert bytes");
		} else {
			bool file = kind == MMAPKIT_FILE_SHARED;

			CHECK(mmapkit_sync(m, 0, MMAPKIT_TO_END, file ? MMAPKIT_SYNC_ASYNC : 0) ==
				      (file ? 0 : -EINVAL),
			      "sync kind %d", kind);
		}
		break;
	case 2: /* protect read-only and back */
		CHECK(mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ) == 0, "protect");
		CHECK(p[len / 2] == 0xa5, "read after protect");
		CHECK(mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE) == 0,
		      "protect");
		p[len / 2] = 1;
		break;
	case 3: /* lock, punch the locked pages, unlock */
		CHECK(mmapkit_lock(m, 0, MMAPKIT_TO_END, i % 2 ? MMAPKIT_LOCK_ONFAULT : 0) == 0, "lock");
		CHECK(mmapkit_punch(m, 0, MMAPKIT_TO_END) == 0, "punch locked kind %d", kind);
		CHECK(p[0] == 0 && p[len - 1] == 0, "punch locked bytes");
		CHECK(mmapkit_unlock(m, 0, MMAPKIT_TO_END) == 0, "unlock");
		break;
	case 4: /* advice kept per mapping, then a punch that must keep it */
		CHECK(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_RANDOM) == 0, "advise random");
		CHECK(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DONTDUMP) == 0, "advise dontdump");
		CHECK(mmapkit_punch(m, 1, len - 2) == 0, "punch after advice");
		CHECK(p[0] == 0xa5 && p[1] == 0 && p[len - 1] == 0xa5, "punch bytes after advice");
		break;
	default: /* destructive advice */
		if (!(mmapkit_flags(m) & MMAPKIT_LOCK))
			CHECK(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DONTNEED) == 0, "dontneed");
		CHECK(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_WILLNEED) == 0, "willneed");
		break;
	}
	refused(w, m, i);
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	mmapkit_map *m = NULL;

	pthread_barrier_wait(&start);
	/* Every thread at once: races for the page size and the huge page size. */
	CHECK(mmapkit_page_size() == pg, "page size");
	if (mmapkit_anon_private(&m, pg, MMAPKIT_HUGETLB) == 0)
		mmapkit_unmap(m);
	for (unsigned i = 0; i < w->cycles; i++) {
		size_t len;
		int r = create(w, i, &m, &len);

		CHECK(r == 0, "thread %d cycle %u create", w->id, i);
		if (r)
			continue;
		CHECK(mmapkit_len(m) == len, "len");
		CHECK(((unsigned char *)mmapkit_ptr(m))[len - 1] == fresh(m, len - 1) ||
			      mmapkit_kind(m) == MMAPKIT_FILE_SHARED,
		      "fresh bytes");
		operate(w, m, len, i);
		mmapkit_unmap(m);
	}
	return NULL;
}

/* Argument i, checked (strtonum): a bad one ends the program naming it (exit 2). */
static unsigned arg(char **argv, int argc, int i, unsigned dflt, unsigned lo, unsigned hi)
{
	const char *why = NULL;
	unsigned v;

	if (argc <= i)
		return dflt;
	v = (unsigned)strtonum(argv[i], lo, hi, &why);
	if (why) {
		fprintf(stderr, "stress_threads: argument %d, %s: %s (%u to %u)\n", i, argv[i], why,
			lo, hi);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	unsigned nworkers = arg(argv, argc, 1, 8, 1, 256);
	unsigned cycles = arg(argv, argc, 2, 10000, 1, 100000000);
	unsigned nreaders = arg(argv, argc, 3, 2, 0, 256);
	pthread_t *tids = calloc(nworkers + nreaders, sizeof(*tids));
	struct worker *ws = calloc(nworkers, sizeof(*ws));
	const char *base = getenv("TMPDIR");
	char shared_path[300];
	struct timespec t0, t1;
	int failed;

	pg = (size_t)sysconf(_SC_PAGESIZE);
	snprintf(dir, sizeof(dir), "%s/stress-threads-XXXXXX", base && *base ? base : "/tmp");
	if (!tids || !ws || !mkdtemp(dir)) {
		perror("stress_threads: setup");
		return 2;
	}
	snprintf(shared_path, sizeof(shared_path), "%s/shared", dir);
	make_file(shared_path);
	make_shared(shared_path);
	pthread_barrier_init(&start, NULL, nworkers + nreaders);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned t = 0; t < nworkers; t++) {
		struct worker *w = &ws[t];

		w->id = (int)t;
		w->cycles = cycles;
		snprintf(w->rpath, sizeof(w->rpath), "%s/r%u", dir, t);
		snprintf(w->wpath, sizeof(w->wpath), "%s/w%u", dir, t);
		make_file(w->rpath);
		make_file(w->wpath);
		w->rfd = open(w->rpath, O_RDONLY | O_CLOEXEC);
		w->wfd = open(w->wpath, O_RDWR | O_CLOEXEC);
		pthread_create(&tids[t], NULL, worker, w);
	}
	for (unsigned t = 0; t < nreaders; t++)
		pthread_create(&tids[nworkers + t], NULL, reader, (void *)(uintptr_t)(t + 1));
	for (unsigned t = 0; t < nworkers; t++)
		pthread_join(tids[t], NULL);
	atomic_store_explicit(&workers_done, true, memory_order_release);
	for (unsigned t = 0; t < nreaders; t++)
		pthread_join(tids[nworkers + t], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (int k = 0; k < 4; k++)
		mmapkit_unmap(sh.m[k]);
	for (unsigned t = 0; t < nworkers; t++) {
		close(ws[t].rfd);
		close(ws[t].wfd);
		unlink(ws[t].rpath);
		unlink(ws[t].wpath);
	}
	unlink(shared_path);
	rmdir(dir);
	failed = atomic_load(&failures);
	printf("stress_threads: %u workers x %u cycles over 4 kinds, %u readers made %lu passes "
	       "over 4 shared handles, %.1f s\n",
	       nworkers, cycles, nreaders, atomic_load(&reader_passes),
	       (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	printf("stress_threads: %u passed, %d failed\n", failed ? 0 : nworkers * cycles, failed);
	free(tids);
	free(ws);
	return failed ? 1 : 0;
}
