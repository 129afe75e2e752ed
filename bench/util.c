/* SPDX-License-Identifier: MIT */
/* Helpers: the checksum, pattern files, residency (mincore, fincore, vmtouch). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

/*
 * The checksum every variant computes: the wrapping sum of the 64-bit words.
 * Four accumulators, so that it runs at memory speed even unvectorised; the
 * peers use the same arithmetic.
 */
uint64_t sum64(const void *p, size_t n)
{
	const uint64_t *w = p;
	size_t k = n / 8, i;
	uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0, tail = 0;

	for (i = 0; i + 4 <= k; i += 4) {
		s0 += w[i];
		s1 += w[i + 1];
		s2 += w[i + 2];
		s3 += w[i + 3];
	}
	for (; i < k; i++)
		s0 += w[i];
	memcpy(&tail, (const unsigned char *)p + k * 8, n % 8);
	return s0 + s1 + s2 + s3 + tail;
}

/* A file of `size` bytes (a multiple of 8) of distinct words; *sum is their sum64. */
int make_pattern_file(const char *path, size_t size, uint64_t *sum)
{
	size_t chunk = 1 * MiB, done = 0;
	uint64_t *buf = malloc(chunk), s = 0, word = 0;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || !buf) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while (done < size) {
		size_t n = size - done < chunk ? size - done : chunk;

		for (size_t i = 0; i < n / 8; i++) {
			buf[i] = ++word * 0x9E3779B97F4A7C15ull;
			s += buf[i];
		}
		if (write(fd, buf, n) != (ssize_t)n)
			break;
		done += n;
	}
	free(buf);
	/* Written back now, so that write-back does not run during the measurements. */
	if (done != size || fsync(fd) < 0) {
		close(fd);
		return -1;
	}
	*sum = s;
	return close(fd);
}

/* Bytes of [addr, addr+len) resident according to mincore(). */
size_t resident_bytes(const void *addr, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (len + page - 1) / page, res = 0;
	unsigned char *vec = malloc(n ? n : 1);

	if (!vec)
		return (size_t)-1;
	if (mincore((void *)addr, len, vec) < 0) {
		free(vec);
		return (size_t)-1;
	}
	for (size_t i = 0; i < n; i++)
		res += vec[i] & 1;
	free(vec);
	return res * page;
}

static long long parse_vmtouch(FILE *f)
{
	char line[512];
	long long pages = -1;

	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "Resident Pages:");

		if (p && sscanf(p, "Resident Pages: %lld", &pages) == 1)
			return pages * sysconf(_SC_PAGESIZE);
	}
	return -1;
}

/*
 * Resident bytes of a file's page cache according to util-linux fincore or
 * vmtouch; -1 (and why in msg) when the tool is missing or says nothing.
 */
long long tool_resident(const char *tool, const char *path, char *msg, size_t len)
{
	char cmd[1200], line[512];
	long long res = -1;
	FILE *f;
	int st;

	if (!strcmp(tool, "fincore"))
		snprintf(cmd, sizeof(cmd), "fincore --bytes --noheadings --output RES '%s' 2>&1", path);
	else
		snprintf(cmd, sizeof(cmd), "vmtouch '%s' 2>&1", path);
	f = popen(cmd, "r");
	if (!f) {
		snprintf(msg, len, "%s: popen: %s", tool, strerror(errno));
		return -1;
	}
	if (!strcmp(tool, "fincore")) {
		if (fgets(line, sizeof(line), f) && sscanf(line, "%lld", &res) != 1)
			snprintf(msg, len, "fincore said: %.200s", line);
	} else {
		res = parse_vmtouch(f);
	}
	st = pclose(f);
	if (st != 0) {
		snprintf(msg, len, "%s: not available (exit status %d)", tool, st);
		return -1;
	}
	if (res < 0 && !msg[0])
		snprintf(msg, len, "%s: no residency in its output", tool);
	return res;
}

void *map_anon(size_t len, bool shared)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       (shared ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set) < 0)
		fprintf(stderr, "mmapkit_bench: cannot pin to CPU %d: %s\n", cpu, strerror(errno));
}
