/* SPDX-License-Identifier: MIT */
/*
 * anon_private: zero-filled private memory straight from the kernel, instead
 * of malloc() + memset(); then a hole punched in it gives the memory back
 * while the mapping stays.  The resident size is measured with mincore().
 *
 * Run with no arguments.  Exits 1 if anything it shows does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

#include "example_util.h"

#define LEN (16u << 20)       /* the buffer */
#define HOLE_OFF (4u << 20)   /* the hole punched into it */
#define HOLE_LEN (8u << 20)
#define FILL 0xab

static void show_resident(const char *when, const unsigned char *p, uint64_t want)
{
	char a[32], b[32], claim[128];
	uint64_t r = resident(p, LEN);

	snprintf(claim, sizeof(claim), "resident %s: %s (expected %s)", when,
		 human(r, a, sizeof(a)), human(want, b, sizeof(b)));
	check(r == want, claim);
}

int main(void)
{
	mmapkit_map *m = NULL;
	unsigned char *p;
	size_t nonzero = 0, wrong = 0;
	char size[32], at[32];
	int err;

	printf("anon_private: %s of private memory that reads as zeros without malloc() or memset()\n",
	       human(LEN, size, sizeof(size)));
	err = mmapkit_anon_private(&m, LEN, 0);
	if (err) {
		fprintf(stderr, "anon_private: %s\n", mmapkit_errmsg());
		return 1;
	}
	p = mmapkit_ptr(m);
	/* Nothing is allocated until a page is first touched. */
	show_resident("right after mapping", p, 0);
	for (size_t i = 0; i < LEN; i++)
		nonzero += p[i] != 0;
	check(nonzero == 0, "every byte reads as zero, no memset() needed");

	memset(p, FILL, LEN);
	show_resident("after writing every byte", p, LEN);

	printf("  punching a hole of %s at offset %s with mmapkit_punch()\n",
	       human(HOLE_LEN, size, sizeof(size)), human(HOLE_OFF, at, sizeof(at)));
	err = mmapkit_punch(m, HOLE_OFF, HOLE_LEN);
	if (err) {
		fprintf(stderr, "anon_private: %s\n", mmapkit_errmsg());
		return 1;
	}
	show_resident("after the punch", p, LEN - HOLE_LEN);
	for (size_t i = 0; i < LEN; i++)
		wrong += p[i] != (i >= HOLE_OFF && i < HOLE_OFF + HOLE_LEN ? 0 : FILL);
	check(wrong == 0, "the hole reads as zeros, the rest kept its data");

	mmapkit_unmap(m);
	printf("anon_private: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
