/* SPDX-License-Identifier: MIT */
/*
 * What check_fault.c shares with other suites (check_kernels.c): its
 * range-operation cases, their fixtures, the documented errnos of each system
 * call, and the snapshots that compare a handle's pages before and after.
 */
#ifndef MMAPKIT_FAULT_CASES_H
#define MMAPKIT_FAULT_CASES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "testutil.h"

#define NPAGES 5 /* the span of every range-operation fixture */
#define FLAGS_MAX 200

/* The observable state of a handle and its file. */
struct state {
	size_t npages;
	unsigned char *bytes;       /* the mapped pages, npages * page */
	char (*pages)[FLAGS_MAX];   /* per page: "rw-p|rd wr mr ..." */
	struct tu_fstate file;
	struct tu_snap counts;      /* descriptors and mappings of the process */
};

/*
 * fn(ctx, page, perms, inode, VmFlags) for each page of [lo, lo + npages pages)
 * that is mapped, from /proc/self/smaps (inode 0: anonymous memory).
 */
typedef void (*fault_page_fn)(void *ctx, size_t page, const char *perms, unsigned long ino,
			      const char *vmflags);
void fault_walk_smaps(const unsigned char *lo, size_t npages, fault_page_fn fn, void *ctx);
/* Per page of [lo, lo + npages pages): permissions and VmFlags of its VMA (all mapped). */
void fault_read_pages(const unsigned char *lo, size_t npages, char (*out)[FLAGS_MAX]);
/* lo may be NULL (no handle): then only the file and the counts. */
void fault_snap(struct state *s, const unsigned char *lo, size_t npages, const char *path);
void fault_state_free(struct state *s);
/* Abort with the first difference between a and b. */
void fault_state_eq(const struct state *a, const struct state *b, bool counts, const char *what);

/* A range-operation fixture: a handle over NPAGES pages, its file, its first page. */
struct fx {
	mmapkit_map *m;
	const char *path;
	unsigned char *lo; /* first mapped page */
	size_t delta;      /* mmapkit_ptr() - lo */
	size_t npages;     /* pages the state snapshots cover (a resize changes it) */
};

struct rcase {
	const char *name;
	const char *call;
	int kind;
	uint64_t foff;
	unsigned flags;
	void (*setup)(struct fx *f);
	int (*op)(struct fx *f);
	int known_sys[2]; /* failing these (1-based: sys + 1) is a known exception */
};

extern const struct rcase fault_rcases[];
extern const size_t fault_n_rcases;
void fault_fx_open(struct fx *f, const struct rcase *c);
void fault_fx_close(struct fx *f);
/* A case valgrind cannot run (lock on fault, a move across protections). */
bool fault_skip_under_valgrind(const struct rcase *c);

/* System calls made since the counters were reset, but getpid (it cannot fail). */
unsigned fault_memory_calls(void);
/* c punches file private pages, which this kernel (or the one pretended) writes in place. */
bool fault_punch_in_place(const struct rcase *c);
/*
 * Where punch writes in place, a whole page of the range (pages 1..2 lie
 * inside every punch of the table) that maps the file and is not writable
 * makes it refuse.  Judged from /proc/self/smaps, not from the handle.
 */
bool fault_in_place_refused(const struct fx *f);
/* c's op fails with -EACCES naming the cause, makes no memory system call, changes nothing. */
void fault_expect_refusal(const struct rcase *c, struct fx *f, const char *what);

/* Per system call, the errnos its man page documents, ending with 0. */
extern const int *const fault_documented[MMAPKIT__SYS_COUNT];
int fault_n_errs(int sys);
/* The result the library gives when sys #nth fails with err (0: it recovers). */
int fault_expected_err(const char *call, bool ctor, bool creating, int sys, unsigned nth,
		       int err);
/* r is -err, the armed fault fired, and the message names call, sys and the cause. */
void fault_expect_failure(int r, int sys, int err, const char *call, const char *what);
/* "case: sys #nth failing with EX" (", returning EY" where the library translates). */
void fault_name_point(char *what, size_t n, const char *name, int sys, unsigned nth, int err,
		      int exp);

#endif
