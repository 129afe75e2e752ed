/* SPDX-License-Identifier: MIT */
/*
 * sparse_array: a 64 GiB array of 64-bit integers in anonymous memory mapped
 * with MMAPKIT_NORESERVE: the address space is there at once, memory is used
 * only by the pages actually written, and punching a hole gives it back.  The
 * resident size is measured with mincore() at each step.
 *
 * Run with no arguments.  Needs a 64-bit system whose overcommit policy lets
 * MAP_NORESERVE through (vm.overcommit_memory 0 or 1, the defaults).
 * Exits 1 if anything it shows does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>

#define EXAMPLE_CLAIM_WIDTH 64
#include "example_util.h"

#define GIB (1ull << 30)
#define LEN (64 * GIB)
#define WRITES 64                        /* one element in every GiB */
#define STRIDE (GIB / sizeof(uint64_t))  /* elements per GiB */

static void step(const char *what, const uint64_t *a, uint64_t want)
{
	char got[32], exp[32], claim[128];
	uint64_t r = resident(a, LEN);

	snprintf(claim, sizeof(claim), "resident %s: %s (expected %s)", what,
		 human(r, got, sizeof(got)), human(want, exp, sizeof(exp)));
	check(r == want, claim);
}

int main(void)
{
	uint64_t page = mmapkit_page_size(), *a;
	mmapkit_map *m = NULL;
	char size[32], claim[128];
	int err, bad = 0;

	if (sizeof(void *) < 8) {
		printf("sparse_array: needs a 64-bit address space; nothing to show here\n");
		return 0;
	}
	err = mmapkit_anon_private(&m, LEN, MMAPKIT_NORESERVE);
	if (err) {
		fprintf(stderr, "sparse_array: %s\n", mmapkit_errmsg());
		return 1;
	}
	a = mmapkit_ptr(m);
	printf("sparse_array: a %s array of %llu 64-bit integers, mapped with MMAPKIT_NORESERVE\n",
	       human(LEN, size, sizeof(size)), (unsigned long long)(LEN / sizeof(*a)));
	/* Without this a single write could fault in a whole 2 MiB transparent huge page. */
	err = mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_NOHUGEPAGE);
	if (err && err != -EOPNOTSUPP) {
		fprintf(stderr, "sparse_array: %s\n", mmapkit_errmsg());
		return 1;
	}
	step("right after mapping", a, 0);

	for (uint64_t k = 0; k < WRITES; k++)
		a[k * STRIDE] = k + 1;
	printf("  wrote one element in each GiB: %d writes, %d pages touched\n", WRITES, WRITES);
	step("after the sparse writes", a, WRITES * page);
	for (uint64_t k = 0; k < WRITES; k++)
		bad += a[k * STRIDE] != k + 1 || a[k * STRIDE + 1] != 0;
	check(bad == 0, "each written element holds its value, its neighbour reads 0");

	if (mmapkit_punch(m, 0, LEN / 2)) {
		fprintf(stderr, "sparse_array: %s\n", mmapkit_errmsg());
		return 1;
	}
	printf("  punched the first %s with mmapkit_punch()\n", human(LEN / 2, size, sizeof(size)));
	step("after the punch", a, WRITES / 2 * page); /* measured before reading the hole */
	bad = 0;
	for (uint64_t k = 0; k < WRITES; k++)
		bad += a[k * STRIDE] != (k < WRITES / 2 ? 0 : k + 1);
	snprintf(claim, sizeof(claim), "the punched half reads 0, the other half kept its %d values",
		 WRITES / 2);
	check(bad == 0, claim);

	mmapkit_unmap(m);
	printf("sparse_array: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
