/* SPDX-License-Identifier: MIT */
/*
 * What the example programs share: a claim checked and printed, sizes in
 * binary units, and the resident size of a range (mincore).  Each example is
 * one source file including this after <mmapkit.h>; nothing here is part of
 * the library.  An example may define EXAMPLE_CLAIM_WIDTH first to align its
 * claims.
 */
#ifndef MMAPKIT_EXAMPLE_UTIL_H
#define MMAPKIT_EXAMPLE_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#ifndef EXAMPLE_CLAIM_WIDTH
#define EXAMPLE_CLAIM_WIDTH 62
#endif

/* Claims that did not hold; main() returns non-zero if any. */
static int failures;

/* Prints the claim and whether it holds. */
static inline void check(int ok, const char *claim)
{
	printf("  %-*s %s\n", EXAMPLE_CLAIM_WIDTH, claim, ok ? "yes" : "NO - FAILED");
	failures += !ok;
}

/* Sizes in binary units: "0 B", "256 KiB", "1.5 GiB". */
static inline const char *human(uint64_t bytes, char *buf, size_t cap)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	unsigned u = 0;

	while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
		v /= 1024;
		u++;
	}
	snprintf(buf, cap, v == (double)(uint64_t)v ? "%.0f %s" : "%.1f %s", v, units[u]);
	return buf;
}

/* Bytes of [addr, addr + len) backed by memory right now, from mincore() in slices. */
static inline uint64_t resident(const void *addr, uint64_t len)
{
	static unsigned char vec[65536]; /* pages per call */
	uint64_t page = mmapkit_page_size(), pages = (len + page - 1) / page, r = 0;

	for (uint64_t i = 0; i < pages; i += sizeof(vec)) {
		uint64_t n = pages - i < sizeof(vec) ? pages - i : sizeof(vec);

		if (mincore((char *)addr + i * page, n * page, vec) != 0)
			return UINT64_MAX;
		for (uint64_t j = 0; j < n; j++)
			r += vec[j] & 1;
	}
	return r * page;
}

#endif
