/* SPDX-License-Identifier: MIT */
/*
 * Benchmarks of looking at a mapping and resizing it (bench/observe.sh runs them):
 *
 *   mmapkit_observe stats N       mmapkit_stats for one handle in a process with N
 *                                 other mappings, the handle made before them and
 *                                 after them, against reading and parsing the whole
 *                                 /proc/self/smaps for the same figures
 *   mmapkit_observe hold N        make N mappings, print "ready", wait (for maps/pmap)
 *   mmapkit_observe grow WAY STEP mapping grown 4 KiB -> 1 GiB (STEP "double") or to
 *                                 64 MiB (STEP "page", one page at a time) by WAY
 *                                 "mmapkit" (mmapkit_resize) or "raw" (mremap)
 *
 * Times are the median of rounds, in microseconds, printed as "key value".
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mmapkit.h"

static double now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* N one-page mappings that do not merge (alternating protection). */
static void make_mappings(long n)
{
	for (long i = 0; i < n; i++) {
		void *p = mmap(NULL, 4096, i % 2 ? PROT_READ : PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED) {
			perror("mmap");
			exit(1);
		}
		if (i % 2 == 0)
			*(volatile char *)p = 1;
	}
}

/* The whole of /proc/self/smaps read and parsed: the Rss and Pss of [lo, hi). */
static uint64_t whole_smaps(uintptr_t lo, uintptr_t hi)
{
	static char buf[1 << 16];
	int fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	uint64_t sum = 0;
	size_t have = 0;
	bool in = false;
	ssize_t n;

	while ((n = read(fd, buf + have, sizeof(buf) - have)) > 0) {
		char *p = buf, *end = buf + have + n, *nl;

		while ((nl = memchr(p, '\n', (size_t)(end - p)))) {
			unsigned long a, z;

			if (p[0] != ' ' && strchr("0123456789abcdef", p[0]) &&
			    sscanf(p, "%lx-%lx ", &a, &z) == 2)
				in = a >= lo && z <= hi;
			else if (in && (strncmp(p, "Rss:", 4) == 0 || strncmp(p, "Pss:", 4) == 0))
				sum += strtoull(p + 4, NULL, 10);
			p = nl + 1;
		}
		have = (size_t)(end - p);
		memmove(buf, p, have);
	}
	close(fd);
	return sum;
}

static void bench_stats(long n)
{
	enum { ROUNDS = 21 };
	double t[3][ROUNDS];
	mmapkit_map *before, *after;
	struct mmapkit_stats st = {.sz = sizeof(st)};
	uint64_t check = 0;

	if (mmapkit_anon_private(&before, 16 * 4096, MMAPKIT_GUARD | MMAPKIT_POPULATE) < 0)
		exit(1);
	make_mappings(n);
	if (mmapkit_anon_private(&after, 16 * 4096, MMAPKIT_GUARD | MMAPKIT_POPULATE) < 0)
		exit(1);
	for (int r = 0; r < ROUNDS; r++) {
		double a = now_us();

		if (mmapkit_stats(after, &st) < 0)
			exit(1);
		check += st.rss;
		double b = now_us();

		if (mmapkit_stats(before, &st) < 0)
			exit(1);
		check += st.rss;
		double c = now_us();

		check += whole_smaps((uintptr_t)mmapkit_ptr(after),
				     (uintptr_t)mmapkit_ptr(after) + mmapkit_len(after));
		double d = now_us();

		t[0][r] = b - a;
		t[1][r] = c - b;
		t[2][r] = d - c;
	}
	printf("stats_mappings %ld\n", n);
	printf("stats_after_us %.1f\n", median(t[0], ROUNDS));
	printf("stats_before_us %.1f\n", median(t[1], ROUNDS));
	printf("whole_smaps_us %.1f\n", median(t[2], ROUNDS));
	printf("stats_check %llu\n", (unsigned long long)check);
	mmapkit_unmap(before);
	mmapkit_unmap(after);
}

static void bench_grow(const char *way, const char *step)
{
	const size_t page = 4096, top = strcmp(step, "page") == 0 ? 64u << 20 : 1u << 30;
	bool raw = strcmp(way, "raw") == 0;
	size_t len = page, steps = 0;
	mmapkit_map *m = NULL;
	unsigned char *p;
	double t0 = now_us();

	if (raw)
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	else if (mmapkit_anon_private(&m, len, 0) == 0)
		p = mmapkit_ptr(m);
	else
		exit(1);
	p[0] = 1;
	while (len < top) {
		size_t next = strcmp(step, "page") == 0 ? len + page : len * 2;

		if (raw) {
			p = mremap(p, len, next, MREMAP_MAYMOVE);
			if (p == MAP_FAILED)
				exit(1);
		} else {
			if (mmapkit_resize(m, next, 0) < 0) {
				fprintf(stderr, "%s\n", mmapkit_errmsg());
				exit(1);
			}
			p = mmapkit_ptr(m);
		}
		len = next;
		p[len - 1] = 1; /* the new end is memory */
		steps++;
	}
	if (p[0] != 1)
		exit(1);
	printf("grow_%s_%s_us %.1f\n", way, step, now_us() - t0);
	printf("grow_%s_%s_steps %zu\n", way, step, steps);
	if (raw)
		munmap(p, len);
	else
		mmapkit_unmap(m);
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "stats") == 0) {
		bench_stats(atol(argv[2]));
	} else if (argc == 3 && strcmp(argv[1], "hold") == 0) {
		make_mappings(atol(argv[2]));
		printf("ready\n");
		fflush(stdout);
		pause();
	} else if (argc == 4 && strcmp(argv[1], "grow") == 0) {
		bench_grow(argv[2], argv[3]);
	} else {
		fprintf(stderr, "usage: %s stats N | hold N | grow mmapkit|raw double|page\n", argv[0]);
		return 2;
	}
	return 0;
}
