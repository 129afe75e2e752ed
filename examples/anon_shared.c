/* SPDX-License-Identifier: MIT */
/*
 * anon_shared: memory shared between a parent and its fork() children.
 * Several children add to one counter with C11 atomics in a shared anonymous
 * mapping; the parent sees every addition.  The same counter in a private
 * anonymous mapping stays 0 in the parent: each child added to its own copy.
 *
 * Run with no arguments.  Exits 1 if anything it shows does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXAMPLE_CLAIM_WIDTH 66
#include "example_util.h"

#define CHILDREN 4
#define ADDS 100000

/* What the shared mapping holds. */
struct board {
	atomic_ulong counter;             /* every child adds to this */
	unsigned long own_copy[CHILDREN]; /* each child's view of its private counter */
};

static void child(int id, struct board *b, unsigned long *priv)
{
	alarm(30); /* never hang the caller, whatever happens */
	for (int i = 0; i < ADDS; i++) {
		atomic_fetch_add_explicit(&b->counter, 1, memory_order_relaxed);
		(*priv)++; /* copy-on-write: this child's own page */
	}
	b->own_copy[id] = *priv;
	_exit(0);
}

int main(void)
{
	mmapkit_map *shared = NULL, *private = NULL;
	struct board *b;
	unsigned long *priv;
	char claim[128];
	int ok = 1;

	if (mmapkit_anon_shared(&shared, sizeof(*b), 0) ||
	    mmapkit_anon_private(&private, sizeof(*priv), 0)) {
		fprintf(stderr, "anon_shared: %s\n", mmapkit_errmsg());
		return 1;
	}
	/* Typed, bounds- and alignment-checked views of the mappings. */
	b = MMAPKIT_AT(shared, struct board, 0);
	priv = MMAPKIT_AT(private, unsigned long, 0);
	atomic_init(&b->counter, 0);

	printf("anon_shared: %d child processes each add 1 to a counter %d times\n", CHILDREN,
	       ADDS);
	fflush(stdout); /* the children must not inherit unwritten output */
	for (int id = 0; id < CHILDREN; id++) {
		pid_t pid = fork();

		if (pid < 0) {
			perror("anon_shared: fork");
			return 1;
		}
		if (pid == 0)
			child(id, b, priv);
	}
	for (int id = 0; id < CHILDREN; id++) {
		int st;

		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			ok = 0;
	}
	check(ok, "every child finished normally");

	snprintf(claim, sizeof(claim), "counter in shared memory: %lu (expected %d)",
		 atomic_load(&b->counter), CHILDREN * ADDS);
	check(atomic_load(&b->counter) == (unsigned long)CHILDREN * ADDS, claim);

	ok = 1;
	for (int id = 0; id < CHILDREN; id++)
		ok &= b->own_copy[id] == ADDS;
	snprintf(claim, sizeof(claim), "counter in private memory, as each child saw it: %d",
		 ADDS);
	check(ok, claim);
	snprintf(claim, sizeof(claim), "the same private counter in the parent: %lu", *priv);
	check(*priv == 0, claim);

	mmapkit_unmap(private);
	mmapkit_unmap(shared);
	printf("anon_shared: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
