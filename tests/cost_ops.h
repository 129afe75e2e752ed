/* SPDX-License-Identifier: MIT */
/*
 * The contract's Cost section as data: each mmapkit call beside the same work
 * written carefully by hand with libc, and the system calls that hand-written
 * sequence makes, in order.  check_cost.c holds the test build's counts to
 * these names (through the library's call table); cost_kernel.c runs both
 * sides against the release library under ptrace and holds the kernel's view
 * of each to them, in order.
 */
#ifndef MMAPKIT_COST_OPS_H
#define MMAPKIT_COST_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "mmapkit.h"

/* Files and handles the operations work on; made outside the counted calls. */
struct cost_env {
	size_t page;
	char file[4200];  /* FILE_PAGES pages of data */
	char empty[4200]; /* an empty file */
	char fresh[4200]; /* no file there before the operation that creates it */
	int fd;           /* file, open read-write */
	mmapkit_map *m;   /* the handle an operation works on */
	void *p;          /* the hand-written side's mapping ... */
	size_t len;       /* ... its length ... */
	int pfd;          /* ... and descriptor (-1 if none) */
};

struct cost_op {
	const char *call; /* the mmapkit call, for messages */
	/*
	 * The system calls of the hand-written sequence, in order, by the names
	 * of the library's call table (open, fstat, fcntl, mmap, ...).
	 */
	const char *raw;
	/*
	 * Before Linux 6.12 a failing mmap(MAP_FIXED) or mremap(MREMAP_FIXED)
	 * may unmap its destination: where a careful program then works in place
	 * instead, its sequence there (NULL: the same as raw).
	 */
	const char *raw_before_6_12;
	int (*setup)(struct cost_env *e);   /* uncounted, before either side; may be NULL */
	int (*by_hand)(struct cost_env *e); /* the hand-written sequence: 0, or -1 */
	int (*lib)(struct cost_env *e);     /* the mmapkit call: 0, or its error */
	void (*undo)(struct cost_env *e);   /* uncounted, after either side */
	/*
	 * Where the kernel has light guards (MADV_GUARD_INSTALL, 6.13): the
	 * sequence then (NULL: the same as raw).
	 */
	const char *raw_light_guards;
};

extern const struct cost_op cost_ops[];
extern const size_t cost_nops;

/* Makes the files in dir (which must exist); 0 or -1. */
int cost_env_init(struct cost_env *e, const char *dir);
void cost_env_free(struct cost_env *e);

/*
 * Whether the hand-written sequences take the path of Linux 6.12 on (from
 * uname); cost_fixed_is_safe_set() overrides it (the test build asks the
 * library's own probe).  cost_raw(op) is the sequence for the kernel at hand.
 */
bool cost_fixed_is_safe(void);
void cost_fixed_is_safe_set(int safe);
const char *cost_raw(const struct cost_op *op);
/*
 * Whether the hand-written sequences guard with MADV_GUARD_INSTALL (asked of
 * the kernel once); cost_light_guards_set() overrides it (the test build asks
 * the library's own probe, which it can pretend about).
 */
bool cost_light_guards(void);
void cost_light_guards_set(int light);

/* The number of words of raw equal to name. */
unsigned cost_raw_count(const char *raw, const char *name);

#endif
