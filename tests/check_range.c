/* SPDX-License-Identifier: MIT */
/*
 * Range operations on every kind: refusals leave the handle exactly as it was,
 * and every operation changes exactly the bytes its range names (or none), for
 * unaligned ranges and an unaligned file offset.  Also mmapkit_sync.
 *
 * Byte checks compare the whole mapped span, including the bytes outside the
 * range in its first and last page (file data before an unaligned offset and
 * after the range), against a model of what the span must hold.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "testutil.h"

static size_t pg(void)
{
	return mmapkit_page_size();
}

/* Index of the first byte where a and b differ, or SIZE_MAX. */
static size_t first_diff(const unsigned char *a, const unsigned char *b, size_t n)
{
	if (memcmp(a, b, n) == 0)
		return SIZE_MAX;
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return i;
	return SIZE_MAX;
}

/*
 * One handle and the model of its bytes.  The model covers the whole mapped
 * span [lo, lo + span), so bytes outside the range but inside its pages count.
 */
struct fx {
	int kind;
	uint64_t foff;       /* file offset of the range */
	size_t flen;         /* file size */
	const char *path;    /* file kinds */
	mmapkit_map *m;
	unsigned char *lo;   /* first mapped page */
	size_t delta;        /* mmapkit_ptr() - lo */
	size_t len;          /* mmapkit_len() */
	size_t span;         /* mapped bytes from lo */
	unsigned char *exp;  /* expected bytes of [lo, lo + span) */
	unsigned char *fexp; /* expected file contents (file kinds) */
	const char *what;    /* the step being checked, for messages */
};

static void fx_check(struct fx *f, const char *what);

/* flen: size of the file to create (file kinds); len: 0 = to end of file. */
static void fx_open(struct fx *f, int kind, uint64_t foff, size_t len, size_t flen,
		    unsigned flags)
{
	unsigned char *ptr;

	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->foff = foff;
	if (tu_kind_is_file(kind)) {
		f->flen = flen;
		f->path = tu_file(flen);
		f->fexp = malloc(flen + 1);
		ck_assert_ptr_nonnull(f->fexp);
		tu_fill_pattern(f->fexp, 0, flen);
	}
	ck_assert_int_eq(tu_map_kind(kind, &f->m, f->path, foff, len, flags), 0);
	ptr = mmapkit_ptr(f->m);
	f->len = mmapkit_len(f->m);
	f->delta = (uintptr_t)ptr % pg();
	f->lo = ptr - f->delta;
	f->span = (f->delta + f->len + pg() - 1) / pg() * pg();
	f->exp = calloc(1, f->span);
	ck_assert_ptr_nonnull(f->exp);
	for (size_t i = 0; tu_kind_is_file(kind) && i < f->span; i++) {
		uint64_t at = foff - f->delta + i;

		f->exp[i] = at < flen ? f->fexp[at] : 0; /* past end of file reads zeros */
	}
	fx_check(f, "fresh mapping");
}

static void fx_close(struct fx *f)
{
	mmapkit_unmap(f->m);
	if (f->path)
		ck_assert_int_eq(unlink(f->path), 0);
	free(f->exp);
	free(f->fexp);
	f->m = NULL;
}

static void fx_check_file(struct fx *f)
{
	char what[160];

	snprintf(what, sizeof(what), "%s: %s", tu_kind_name(f->kind), f->what);
	tu_assert_file_is(f->path, f->fexp, f->flen, what);
}

static void fx_check(struct fx *f, const char *what)
{
	size_t bad = first_diff(f->lo, f->exp, f->span);

	f->what = what;
	if (bad != SIZE_MAX)
		ck_abort_msg("%s (file offset %llu): %s: byte %lld of the range (page %zu) is 0x%02x, expected 0x%02x",
			     tu_kind_name(f->kind), (unsigned long long)f->foff, what,
			     (long long)bad - (long long)f->delta, bad / pg(), f->lo[bad],
			     f->exp[bad]);
	if (tu_kind_is_file(f->kind))
		fx_check_file(f);
}

/* Write bytes that differ from both zero and the file into the whole range. */
static void fx_fill(struct fx *f)
{
	unsigned char *p = f->lo + f->delta;

	for (size_t i = 0; i < f->len; i++) {
		p[i] = tu_other(f->foff + i);
		f->exp[f->delta + i] = p[i];
		if (f->kind == MMAPKIT_FILE_SHARED)
			f->fexp[f->foff + i] = p[i];
	}
}

/* The range as byte offsets from lo: [*a, *z); whole pages inside: [*w0, *w1) bytes. */
static void fx_span(const struct fx *f, size_t off, size_t len, size_t *a, size_t *z,
		    size_t *w0, size_t *w1)
{
	*a = f->delta + off;
	*z = *a + (len == MMAPKIT_TO_END ? f->len - off : len);
	*w0 = (*a + pg() - 1) / pg() * pg();
	*w1 = *z / pg() * pg();
	if (*w1 < *w0)
		*w1 = *w0;
}

static void model_zero(struct fx *f, size_t a, size_t z)
{
	memset(f->exp + a, 0, z - a);
	if (f->kind == MMAPKIT_FILE_SHARED)
		memset(f->fexp + (f->foff - f->delta + a), 0, z - a);
}

/* The span's bytes [a, z) read the file again. */
static void model_file(struct fx *f, size_t a, size_t z)
{
	for (size_t i = a; i < z; i++) {
		uint64_t at = f->foff - f->delta + i;

		f->exp[i] = at < f->flen ? f->fexp[at] : 0;
	}
}

/* The span's bytes [a, z) after a revert (private kinds): the file's, or zeros. */
static void model_revert(struct fx *f, size_t a, size_t z)
{
	if (f->kind == MMAPKIT_FILE_PRIVATE)
		model_file(f, a, z);
	else
		model_zero(f, a, z);
}

/* ---- refusals ---- */

static const struct {
	size_t off, len;
} bad_ranges[] = {
	{3, SIZE_MAX - 1},	/* off + len overflows */
	{SIZE_MAX, MMAPKIT_TO_END}, /* to the end from far outside */
	{SIZE_MAX, 0},		/* off far outside */
	{SIZE_MAX, 1},
	{2, SIZE_MAX - 1},	/* off + len wraps to exactly 0 */
	{0, SIZE_MAX - 0x100},	/* absurd length */
};

/* Out-of-range (off, len) pairs relative to the mapping's length n. */
static void bad_range(size_t i, size_t n, size_t *off, size_t *len)
{
	static const long rel[][2] = {
		{1, 0},	 /* off = n + 1, len 0 */
		{0, 1},	 /* off = n, len 1 */
		{-1, 2}, /* one byte past the end */
		{-2, 3},
		{1, -1}, /* off = n + 1, MMAPKIT_TO_END */
	};
	size_t nrel = sizeof(rel) / sizeof(rel[0]);
	size_t nb = sizeof(bad_ranges) / sizeof(bad_ranges[0]);

	if (i < nb) {
		*off = bad_ranges[i].off;
		*len = bad_ranges[i].len;
		return;
	}
	i -= nb;
	if (i < nrel) {
		*off = (size_t)((long)n + rel[i][0]);
		*len = (size_t)rel[i][1];
		return;
	}
	/* one byte more than there is, from 0 and from 1 */
	*off = i - nrel;
	*len = n - *off + 1;
}

#define N_BAD_RANGES (sizeof(bad_ranges) / sizeof(bad_ranges[0]) + 5 + 2)

enum op { OP_SYNC, OP_ADVISE, OP_PUNCH, OP_REVERT, OP_PROTECT, OP_LOCK, OP_UNLOCK, N_OPS };

static const char *const op_names[] = {"mmapkit_sync",	  "mmapkit_advise", "mmapkit_punch",
				       "mmapkit_revert",  "mmapkit_protect", "mmapkit_lock",
				       "mmapkit_unlock"};

/* Run op with a valid extra argument (how/advice/prot). */
static int run_op(enum op op, mmapkit_map *m, size_t off, size_t len)
{
	switch (op) {
	case OP_SYNC:
		return mmapkit_sync(m, off, len, 0);
	case OP_ADVISE:
		return mmapkit_advise(m, off, len, MMAPKIT_ADV_WILLNEED);
	case OP_PUNCH:
		return mmapkit_punch(m, off, len);
	case OP_REVERT:
		return mmapkit_revert(m, off, len);
	case OP_PROTECT:
		return mmapkit_protect(m, off, len, MMAPKIT_PROT_READ);
	case OP_LOCK:
		return mmapkit_lock(m, off, len, 0);
	default:
		return mmapkit_unlock(m, off, len);
	}
}

/* Does op apply to the kind at all? */
static bool op_applies(enum op op, int kind)
{
	if (op == OP_SYNC)
		return kind == MMAPKIT_FILE_SHARED;
	if (op == OP_REVERT)
		return tu_kind_is_private(kind);
	return true;
}

/* The call failed with err, named itself, and changed nothing. */
static void refused(struct fx *f, int got, int err, const char *call, const char *what)
{
	if (got != -err)
		ck_abort_msg("%s: %s: returned %d, expected %d (%s)", tu_kind_name(f->kind), what,
			     got, -err, mmapkit_errmsg());
	if (!strstr(mmapkit_errmsg(), call))
		ck_abort_msg("%s: %s: message \"%s\" does not name %s", tu_kind_name(f->kind), what,
			     mmapkit_errmsg(), call);
	fx_check(f, what);
}

/* protect(prot), lock, unlock, advise(advice) and (file shared) sync of it all work. */
static void valid_calls(struct fx *f, unsigned prot, int advice, const char *what)
{
	ck_assert_int_eq(mmapkit_protect(f->m, 0, MMAPKIT_TO_END, prot), 0);
	ck_assert_int_eq(mmapkit_lock(f->m, 0, MMAPKIT_TO_END, 0), 0);
	ck_assert_int_eq(mmapkit_unlock(f->m, 0, MMAPKIT_TO_END), 0);
	ck_assert_int_eq(mmapkit_advise(f->m, 0, MMAPKIT_TO_END, advice), 0);
	if (f->kind == MMAPKIT_FILE_SHARED)
		ck_assert_int_eq(mmapkit_sync(f->m, 0, MMAPKIT_TO_END, 0), 0);
	fx_check(f, what);
}

START_TEST(null_handle)
{
	struct tu_snap s = tu_snap();

	for (int op = 0; op < N_OPS; op++) {
		ck_assert_int_eq(run_op(op, NULL, 0, 0), -EINVAL);
		ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), op_names[op]));
		ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), "NULL"));
	}
	ck_assert_int_eq(mmapkit_sync(NULL, 0, 1, MMAPKIT_SYNC_FULL), -EINVAL);
	ck_assert_int_eq(mmapkit_advise(NULL, 0, MMAPKIT_TO_END, 999), -EINVAL);
	ck_assert_int_eq(mmapkit_protect(NULL, 0, MMAPKIT_TO_END, 0x80), -EINVAL);
	ck_assert_int_eq(mmapkit_lock(NULL, 0, MMAPKIT_TO_END, MMAPKIT_LOCK_ONFAULT), -EINVAL);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* Fixtures used by the refusal and byte tests: 4 mapped pages each. */
struct shape {
	int kind;
	uint64_t foff;
	size_t len;  /* in bytes; for file kinds 0 = to end of file */
	size_t flen; /* file size */
};

static struct shape shape(int i)
{
	size_t p = pg();
	const struct shape s[] = {
		{MMAPKIT_ANON_PRIVATE, 0, 3 * p + 500, 0}, /* last page partly outside the range */
		{MMAPKIT_ANON_SHARED, 0, 4 * p, 0},
		{MMAPKIT_FILE_PRIVATE, 0, 0, 4 * p},
		{MMAPKIT_FILE_PRIVATE, 7, 3 * p + 100, 3 * p + 407}, /* file data on both sides */
		{MMAPKIT_FILE_SHARED, 0, 3 * p + 1000, 4 * p},	  /* file data after the range */
		{MMAPKIT_FILE_SHARED, 7, 4 * p - 7, 4 * p + 50},   /* ends on a page boundary */
	};

	return s[i];
}

#define N_SHAPES 6

static void shape_open(struct fx *f, int i, unsigned flags)
{
	struct shape s = shape(i);

	fx_open(f, s.kind, s.foff, s.len, s.flen, flags);
}

/* Every refusal of the operation on a writable handle of the shape's kind. */
START_TEST(refusals)
{
	struct tu_snap s = tu_snap(), with_handle;
	struct fx f;
	char what[128];

	shape_open(&f, _i, 0);
	fx_fill(&f);
	fx_check(&f, "filled");
	with_handle = tu_snap();
	for (int op = 0; op < N_OPS; op++) {
		if (!op_applies(op, f.kind)) {
			snprintf(what, sizeof(what), "%s on the wrong kind", op_names[op]);
			refused(&f, run_op(op, f.m, 0, 0), EINVAL, op_names[op], what);
			refused(&f, run_op(op, f.m, 1, 1), EINVAL, op_names[op], what);
			continue;
		}
		for (size_t i = 0; i < N_BAD_RANGES; i++) {
			size_t off, len;

			bad_range(i, f.len, &off, &len);
			snprintf(what, sizeof(what), "%s over %zu+%zu", op_names[op], off, len);
			refused(&f, run_op(op, f.m, off, len), ERANGE, op_names[op], what);
		}
	}
	/* unknown extra arguments */
	if (f.kind == MMAPKIT_FILE_SHARED) {
		refused(&f, mmapkit_sync(f.m, 0, MMAPKIT_TO_END, 0x8), EINVAL, "mmapkit_sync", "sync how 0x8");
		refused(&f, mmapkit_sync(f.m, 0, MMAPKIT_TO_END, 0x80000000u), EINVAL, "mmapkit_sync",
			"sync how 0x80000000");
		refused(&f, mmapkit_sync(f.m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_FULL), EINVAL,
			"mmapkit_sync", "sync ASYNC|FULL");
	} else {
		refused(&f, mmapkit_sync(f.m, 0, MMAPKIT_TO_END, 0x8), EINVAL, "mmapkit_sync",
			"sync how 0x8 on the wrong kind");
	}
	refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, -1), EINVAL, "mmapkit_advise", "advice -1");
	refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_POPULATE_WRITE + 1), EINVAL,
		"mmapkit_advise", "advice 19");
	refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, INT32_MIN), EINVAL, "mmapkit_advise", "advice INT_MIN");
	refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, 1000), EINVAL, "mmapkit_advise", "advice 1000");
	refused(&f, mmapkit_protect(f.m, 0, MMAPKIT_TO_END, 0x8), EINVAL, "mmapkit_protect", "prot 0x8");
	refused(&f, mmapkit_protect(f.m, 0, MMAPKIT_TO_END, 0x80000001u), EINVAL, "mmapkit_protect",
		"prot 0x80000001");
	refused(&f, mmapkit_lock(f.m, 0, MMAPKIT_TO_END, 0x2), EINVAL, "mmapkit_lock", "lock how 0x2");
	refused(&f, mmapkit_lock(f.m, 0, MMAPKIT_TO_END, ~0u), EINVAL, "mmapkit_lock", "lock how ~0");
	/* advice that does not apply to the kind */
	if (f.kind != MMAPKIT_ANON_PRIVATE) {
		refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_FREE), EINVAL, "mmapkit_advise",
			"MMAPKIT_ADV_FREE");
		refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_WIPEONFORK), EINVAL,
			"mmapkit_advise", "MMAPKIT_ADV_WIPEONFORK");
		refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_KEEPONFORK), EINVAL,
			"mmapkit_advise", "MMAPKIT_ADV_KEEPONFORK");
	}
	if (tu_kind_is_private(f.kind))
		refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_REMOVE), EINVAL, "mmapkit_advise",
			"MMAPKIT_ADV_REMOVE");
	/* write with exec, whatever the range */
	refused(&f, mmapkit_protect(f.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_WRITE | MMAPKIT_PROT_EXEC), EACCES,
		"mmapkit_protect", "WRITE|EXEC");
	refused(&f, mmapkit_protect(f.m, 1, 1, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE |
						     MMAPKIT_PROT_EXEC),
		EACCES, "mmapkit_protect", "READ|WRITE|EXEC");
	TU_ASSERT_NO_LEAK(with_handle); /* the refusals made no descriptor or mapping */
	/* an empty range at the very end is accepted and changes nothing */
	for (int op = 0; op < N_OPS; op++) {
		if (!op_applies(op, f.kind))
			continue;
		ck_assert_int_eq(run_op(op, f.m, f.len, 0), 0);
		fx_check(&f, "empty range at the end");
	}
	/* the handle still works: a valid call of each operation does its job */
	valid_calls(&f, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE, MMAPKIT_ADV_NORMAL,
		    "valid calls after the refusals");
	ck_assert_int_eq(mmapkit_punch(f.m, 1, 2 * pg()), 0);
	model_zero(&f, f.delta + 1, f.delta + 1 + 2 * pg());
	fx_check(&f, "punch after the refusals");
	if (tu_kind_is_private(f.kind)) {
		size_t a, z, w0, w1;

		ck_assert_int_eq(mmapkit_revert(f.m, 0, MMAPKIT_TO_END), 0);
		fx_span(&f, 0, MMAPKIT_TO_END, &a, &z, &w0, &w1);
		model_revert(&f, a, z);
		fx_check(&f, "revert after the refusals");
	}
	fx_close(&f);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* An MMAPKIT_RDONLY handle refuses to become writable or to change data. */
START_TEST(rdonly_refusals)
{
	struct tu_snap s = tu_snap(), with_handle;
	struct fx f;

	shape_open(&f, _i, MMAPKIT_RDONLY);
	with_handle = tu_snap();
	refused(&f, mmapkit_protect(f.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_WRITE), EACCES, "mmapkit_protect",
		"RDONLY protect(WRITE)");
	refused(&f, mmapkit_protect(f.m, 1, 1, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE), EACCES,
		"mmapkit_protect", "RDONLY protect(READ|WRITE)");
	refused(&f, mmapkit_protect(f.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_WRITE | MMAPKIT_PROT_EXEC), EACCES,
		"mmapkit_protect", "RDONLY protect(WRITE|EXEC)");
	refused(&f, mmapkit_punch(f.m, 0, MMAPKIT_TO_END), EACCES, "mmapkit_punch", "RDONLY punch");
	refused(&f, mmapkit_punch(f.m, 1, pg()), EACCES, "mmapkit_punch", "RDONLY punch 1+page");
	refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_POPULATE_WRITE), EACCES,
		"mmapkit_advise", "RDONLY POPULATE_WRITE");
	if (tu_kind_is_private(f.kind)) {
		refused(&f, mmapkit_revert(f.m, 0, MMAPKIT_TO_END), EACCES, "mmapkit_revert", "RDONLY revert");
		refused(&f, mmapkit_revert(f.m, 3, 2 * pg()), EACCES, "mmapkit_revert",
			"RDONLY revert 3+2 pages");
	} else {
		/* MADV_REMOVE writes the backing: the kernel refuses it on a read-only mapping */
		refused(&f, mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_REMOVE), EACCES, "mmapkit_advise",
			"RDONLY MMAPKIT_ADV_REMOVE");
	}
	ck_assert(tu_write_faults(f.lo + f.delta));
	TU_ASSERT_NO_LEAK(with_handle);
	/* what a read-only handle may do still works */
	ck_assert_int_eq(mmapkit_protect(f.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_NONE), 0);
	ck_assert(tu_read_faults(f.lo + f.delta));
	valid_calls(&f, MMAPKIT_PROT_READ, MMAPKIT_ADV_POPULATE_READ,
		    "valid calls on a read-only handle");
	ck_assert(tu_write_faults(f.lo + f.delta));
	fx_close(&f);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* Every operation on an empty file mapping: (0, 0) does nothing, anything else is out. */
START_TEST(empty_mapping)
{
	const char *path = tu_file(pg());
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;

	for (int kind = MMAPKIT_FILE_PRIVATE; kind <= MMAPKIT_FILE_SHARED; kind++) {
		ck_assert_int_eq(tu_map_kind(kind, &m, path, pg(), 0, 0), 0);
		ck_assert_uint_eq(mmapkit_len(m), 0);
		for (int op = 0; op < N_OPS; op++) {
			if (!op_applies(op, kind))
				continue;
			ck_assert_int_eq(run_op(op, m, 0, 0), 0);
			ck_assert_int_eq(run_op(op, m, 0, 1), -ERANGE);
			ck_assert_int_eq(run_op(op, m, 1, 0), -ERANGE);
		}
		mmapkit_unmap(m);
	}
	ck_assert_uint_eq(tu_file_size(path), pg());
	TU_ASSERT_NO_LEAK(s);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* ---- empty ranges and MMAPKIT_TO_END ---- */

/*
 * len 0 is an empty range wherever off lies inside the mapping or at its end:
 * every operation returns 0 without a system call and changes no byte (a
 * punch zeroes nothing).  Past the end it is -ERANGE, as MMAPKIT_TO_END is.
 */
START_TEST(empty_ranges)
{
	struct tu_snap s = tu_snap();
	struct fx f;
	char what[128];

	shape_open(&f, _i, 0);
	fx_fill(&f);
	fx_check(&f, "filled");
	/* a computed length of zero never punches the whole mapping */
	ck_assert_int_eq(mmapkit_punch(f.m, 0, 0), 0);
	fx_check(&f, "punch 0+0 zeroes nothing");
	for (int op = 0; op < N_OPS; op++) {
		const size_t offs[] = {0, pg() + 1, f.len};

		if (!op_applies(op, f.kind))
			continue;
		for (size_t i = 0; i < TU_LEN(offs); i++) {
			int r;

			snprintf(what, sizeof(what), "%s over %zu+0", op_names[op], offs[i]);
			mmapkit__fault_reset();
			r = run_op(op, f.m, offs[i], 0);
			ck_assert_msg(r == 0, "%s: %d (%s)", what, r, mmapkit_errmsg());
			ck_assert_msg(mmapkit__fault_total() == 0, "%s: %u system calls", what,
				      mmapkit__fault_total());
			fx_check(&f, what);
		}
		snprintf(what, sizeof(what), "%s over %zu+0", op_names[op], f.len + 1);
		refused(&f, run_op(op, f.m, f.len + 1, 0), ERANGE, op_names[op], what);
		snprintf(what, sizeof(what), "%s over %zu+MMAPKIT_TO_END", op_names[op], f.len + 1);
		refused(&f, run_op(op, f.m, f.len + 1, MMAPKIT_TO_END), ERANGE, op_names[op], what);
	}
	/* the variants that would do the most: destructive advice, a full sync, PROT_NONE */
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_advise(f.m, pg(), 0, MMAPKIT_ADV_DONTNEED), 0);
	ck_assert_int_eq(mmapkit_protect(f.m, 1, 0, MMAPKIT_PROT_NONE), 0);
	ck_assert_int_eq(mmapkit_lock(f.m, 0, 0, MMAPKIT_LOCK_ONFAULT), 0);
	if (f.kind == MMAPKIT_FILE_SHARED) {
		ck_assert_int_eq(mmapkit_sync(f.m, 0, 0, MMAPKIT_SYNC_FULL), 0);
		ck_assert_int_eq(mmapkit_advise(f.m, 0, 0, MMAPKIT_ADV_REMOVE), 0);
	}
	if (f.kind == MMAPKIT_ANON_PRIVATE)
		ck_assert_int_eq(mmapkit_advise(f.m, 0, 0, MMAPKIT_ADV_FREE), 0);
	ck_assert_uint_eq(mmapkit__fault_total(), 0);
	fx_check(&f, "empty destructive advice, PROT_NONE, lock, full sync");
	fx_close(&f);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* Does the page holding byte off of the range have VmFlag code (two letters)? */
static bool page_has(const struct fx *f, size_t off, const char *code)
{
	return tu_has_vmflag(f->lo + f->delta + off, code);
}

/*
 * MMAPKIT_TO_END from off covers every page from off's to the last, with one
 * system call, and nothing before off's page; from off == len it is empty.
 */
START_TEST(to_end)
{
	struct tu_snap s = tu_snap();
	struct fx f;
	char perms[5], what[96];
	size_t off = pg() + 1, last;
	size_t a, z, w0, w1;

	shape_open(&f, _i, 0);
	last = f.len - 1;
	fx_fill(&f);
	/* protect: the last page read-only, the page before off's still writable */
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_protect(f.m, off, MMAPKIT_TO_END, MMAPKIT_PROT_READ), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MPROTECT), 1);
	tu_perms(f.lo + f.delta + last, perms);
	ck_assert_msg(perms[0] == 'r' && perms[1] == '-', "last page is %s", perms);
	tu_perms(f.lo + f.delta, perms);
	ck_assert_msg(perms[1] == 'w', "page 0 is %s", perms);
	ck_assert_int_eq(mmapkit_protect(f.m, 0, MMAPKIT_TO_END,
					 MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE), 0);
	tu_perms(f.lo + f.delta + last, perms);
	ck_assert_msg(perms[1] == 'w', "last page is %s", perms);
	/* advise and lock, seen in VmFlags; unlock from off keeps page 0 locked */
	ck_assert_int_eq(mmapkit_advise(f.m, off, MMAPKIT_TO_END, MMAPKIT_ADV_DONTDUMP), 0);
	ck_assert(page_has(&f, last, "dd"));
	ck_assert(!page_has(&f, 0, "dd"));
	if (!tu_skip_lock_onfault("to_end")) {
		ck_assert_int_eq(mmapkit_lock(f.m, 0, MMAPKIT_TO_END, MMAPKIT_LOCK_ONFAULT), 0);
		ck_assert(page_has(&f, last, "lo") && page_has(&f, 0, "lo"));
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_unlock(f.m, off, MMAPKIT_TO_END), 0);
		ck_assert_uint_eq(mmapkit__fault_total(), 1);
		ck_assert(!page_has(&f, last, "lo"));
		ck_assert(page_has(&f, 0, "lo"));
		ck_assert_int_eq(mmapkit_unlock(f.m, 0, MMAPKIT_TO_END), 0);
	}
	if (f.kind == MMAPKIT_FILE_SHARED) {
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_sync(f.m, off, MMAPKIT_TO_END, 0), 0);
		ck_assert_uint_eq(mmapkit__fault_total(), 1);
	}
	fx_check(&f, "non-destructive work to the end");
	/* punch and revert: exactly the bytes from off to the end */
	ck_assert_int_eq(mmapkit_punch(f.m, off, MMAPKIT_TO_END), 0);
	fx_span(&f, off, MMAPKIT_TO_END, &a, &z, &w0, &w1);
	ck_assert_uint_eq(z, f.delta + f.len);
	model_zero(&f, a, z);
	snprintf(what, sizeof(what), "punch %zu+MMAPKIT_TO_END", off);
	fx_check(&f, what);
	if (tu_kind_is_private(f.kind)) {
		fx_fill(&f);
		ck_assert_int_eq(mmapkit_revert(f.m, off, MMAPKIT_TO_END), 0);
		model_revert(&f, a, z);
		snprintf(what, sizeof(what), "revert %zu+MMAPKIT_TO_END", off);
		fx_check(&f, what);
	}
	/* from the very end: an empty range */
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_punch(f.m, f.len, MMAPKIT_TO_END), 0);
	ck_assert_int_eq(mmapkit_protect(f.m, f.len, MMAPKIT_TO_END, MMAPKIT_PROT_NONE), 0);
	ck_assert_uint_eq(mmapkit__fault_total(), 0);
	fx_check(&f, "MMAPKIT_TO_END from the end");
	fx_close(&f);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- byte-exactness ---- */

/* Non-destructive work: the span must be exactly as before after each call. */
static void non_destructive(struct fx *f, size_t off, size_t len)
{
	static const int advice[] = {
		MMAPKIT_ADV_RANDOM,	MMAPKIT_ADV_SEQUENTIAL,	   MMAPKIT_ADV_NORMAL,
		MMAPKIT_ADV_WILLNEED,	MMAPKIT_ADV_HUGEPAGE,	   MMAPKIT_ADV_NOHUGEPAGE,
		MMAPKIT_ADV_DONTDUMP,	MMAPKIT_ADV_DODUMP,	   MMAPKIT_ADV_DONTFORK,
		MMAPKIT_ADV_DOFORK,	MMAPKIT_ADV_WIPEONFORK,	   MMAPKIT_ADV_KEEPONFORK,
		MMAPKIT_ADV_COLD,	MMAPKIT_ADV_PAGEOUT,	   MMAPKIT_ADV_POPULATE_READ,
		MMAPKIT_ADV_POPULATE_WRITE,
	};
	char what[96];

	if (f->kind == MMAPKIT_FILE_SHARED) {
		static const unsigned hows[] = {0, MMAPKIT_SYNC_ASYNC, MMAPKIT_SYNC_INVALIDATE,
						MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE,
						MMAPKIT_SYNC_FULL};

		for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
			ck_assert_int_eq(mmapkit_sync(f->m, off, len, hows[i]), 0);
			snprintf(what, sizeof(what), "sync 0x%x over %zu+%zu", hows[i], off, len);
			fx_check(f, what);
		}
	}
	ck_assert_int_eq(mmapkit_lock(f->m, off, len, 0), 0);
	fx_check(f, "lock");
	ck_assert_int_eq(mmapkit_unlock(f->m, off, len), 0);
	fx_check(f, "unlock");
	if (!tu_skip_lock_onfault("range")) {
		ck_assert_int_eq(mmapkit_lock(f->m, off, len, MMAPKIT_LOCK_ONFAULT), 0);
		fx_check(f, "lock on fault");
		ck_assert_int_eq(mmapkit_unlock(f->m, off, len), 0);
	}
	ck_assert_int_eq(mmapkit_protect(f->m, off, len, MMAPKIT_PROT_READ), 0);
	fx_check(f, "protect read-only");
	ck_assert_int_eq(mmapkit_protect(f->m, off, len, MMAPKIT_PROT_NONE), 0);
	ck_assert_int_eq(mmapkit_protect(f->m, off, len, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE),
			 0);
	fx_check(f, "protect none, then read-write");
	for (size_t i = 0; i < sizeof(advice) / sizeof(advice[0]); i++) {
		int a = advice[i], r = mmapkit_advise(f->m, off, len, a);

		if ((a == MMAPKIT_ADV_WIPEONFORK || a == MMAPKIT_ADV_KEEPONFORK) &&
		    f->kind != MMAPKIT_ANON_PRIVATE) {
			ck_assert_int_eq(r, -EINVAL);
			continue;
		}
		if (r != 0)
			ck_abort_msg("%s: advice %d over %zu+%zu: %d (%s)",
				     tu_kind_name(f->kind), a, off, len, r, mmapkit_errmsg());
		snprintf(what, sizeof(what), "advice %d over %zu+%zu", a, off, len);
		fx_check(f, what);
	}
}

/* Destructive advice: only the whole pages inside the range lose their bytes. */
static void destructive_advice(struct fx *f, size_t off, size_t len)
{
	size_t a, z, w0, w1;
	char what[96];

	fx_span(f, off, len, &a, &z, &w0, &w1);
	ck_assert_int_eq(mmapkit_advise(f->m, off, len, MMAPKIT_ADV_DONTNEED), 0);
	if (f->kind == MMAPKIT_ANON_PRIVATE)
		model_zero(f, w0, w1);
	else if (f->kind == MMAPKIT_FILE_PRIVATE)
		model_file(f, w0, w1);
	snprintf(what, sizeof(what), "MMAPKIT_ADV_DONTNEED over %zu+%zu", off, len);
	fx_check(f, what);
	if (tu_kind_is_private(f->kind))
		return;
	fx_fill(f);
	ck_assert_int_eq(mmapkit_advise(f->m, off, len, MMAPKIT_ADV_REMOVE), 0);
	model_zero(f, w0, w1);
	snprintf(what, sizeof(what), "MMAPKIT_ADV_REMOVE over %zu+%zu", off, len);
	fx_check(f, what);
}

static void punch_revert(struct fx *f, size_t off, size_t len)
{
	size_t a, z, w0, w1;
	char what[96];

	fx_span(f, off, len, &a, &z, &w0, &w1);
	fx_fill(f);
	ck_assert_int_eq(mmapkit_punch(f->m, off, len), 0);
	model_zero(f, a, z);
	snprintf(what, sizeof(what), "punch %zu+%zu", off, len);
	fx_check(f, what);
	if (!tu_kind_is_private(f->kind))
		return;
	/* revert of the punched range, then of written bytes */
	for (int round = 0; round < 2; round++) {
		ck_assert_int_eq(mmapkit_revert(f->m, off, len), 0);
		model_revert(f, a, z);
		snprintf(what, sizeof(what), "revert %zu+%zu %s", off, len,
			 round ? "after writes" : "after punch");
		fx_check(f, what);
		fx_fill(f);
	}
	/* punch then write part of it, then revert */
	ck_assert_int_eq(mmapkit_punch(f->m, off, len), 0);
	model_zero(f, a, z);
	f->lo[a] = 0xee;
	f->exp[a] = 0xee;
	fx_check(f, "punch, then a write");
	ck_assert_int_eq(mmapkit_revert(f->m, off, len), 0);
	model_revert(f, a, z);
	snprintf(what, sizeof(what), "revert %zu+%zu after punch and write", off, len);
	fx_check(f, what);
}

/* Ranges: offsets and lengths around the page boundaries of the mapping. */
static size_t gen_ranges(const struct fx *f, size_t (*out)[2], size_t cap)
{
	size_t p = pg(), n = 0, b1 = p - f->delta, b2 = 2 * p - f->delta;
	size_t offs[] = {0, 1, p - 1, p, p + 1, b1 - 1, b1, b1 + 1, b2 + 3, f->len - 1};
	size_t lens[] = {0, 1, 2, 10, p - 1, p, p + 1, 2 * p, 2 * p + 1, 3 * p - 2, 3 * p + 1};

	for (size_t i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		size_t o = offs[i];
		/* ending exactly on a page boundary, and at the very end (twice) */
		size_t extra[5] = {b1 - o, b2 - o, 3 * p - f->delta - o, f->len - o, MMAPKIT_TO_END};
		size_t nl = sizeof(lens) / sizeof(lens[0]);

		if (o >= f->len)
			continue;
		for (size_t j = 0; j < nl + 5; j++) {
			size_t l = j < nl ? lens[j] : extra[j - nl]; /* may wrap: then too long */
			bool dup = false;

			if ((l == 0 && j >= nl) || (l != MMAPKIT_TO_END && l > f->len - o))
				continue;
			for (size_t k = 0; k < n && !dup; k++)
				dup = out[k][0] == o && out[k][1] == l;
			if (dup)
				continue;
			ck_assert_uint_lt(n, cap);
			out[n][0] = o;
			out[n][1] = l;
			n++;
		}
	}
	return n;
}

START_TEST(bytes_exact)
{
	struct tu_snap s = tu_snap();
	size_t ranges[256][2], n;
	struct fx f;

	shape_open(&f, _i, 0);
	n = gen_ranges(&f, ranges, 256);
	fx_close(&f);
	for (size_t i = 0; i < n; i++) {
		shape_open(&f, _i, 0);
		fx_fill(&f);
		fx_check(&f, "filled");
		non_destructive(&f, ranges[i][0], ranges[i][1]);
		destructive_advice(&f, ranges[i][0], ranges[i][1]);
		punch_revert(&f, ranges[i][0], ranges[i][1]);
		fx_close(&f);
	}
	printf("range: %s at file offset %llu: %zu ranges byte-checked\n",
	       tu_kind_name(shape(_i).kind), (unsigned long long)shape(_i).foff, n);
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

/* ---- sync ---- */

START_TEST(sync_modes)
{
	static const unsigned hows[] = {0, MMAPKIT_SYNC_ASYNC, MMAPKIT_SYNC_INVALIDATE,
					MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_INVALIDATE,
					MMAPKIT_SYNC_FULL, MMAPKIT_SYNC_FULL | MMAPKIT_SYNC_INVALIDATE};
	/* the calls, beside the raw sequences in tests/check_cost.c */
	static const unsigned sfr[] = {0, 1, 0, 1, 0, 0};
	static const unsigned msyncs[] = {1, 0, 1, 1, 0, 1};
	size_t p = pg();
	const char *path = tu_file(3 * p + 11);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *ptr;

	ck_assert_int_eq(mmapkit_file_shared(&m, path, 7, 0, 0), 0);
	ptr = mmapkit_ptr(m);
	for (size_t i = 0; i < sizeof(hows) / sizeof(hows[0]); i++) {
		size_t off = i * 300 + 1, len = p + i;

		for (size_t j = 0; j < len; j++)
			ptr[off + j] = (unsigned char)(i + j * 3 + 1);
		mmapkit__fault_reset();
		ck_assert_int_eq(mmapkit_sync(m, off, len, hows[i]), 0);
		/*
		 * ASYNC: one sync_file_range (with INVALIDATE, an msync first); FULL:
		 * one fsync (with INVALIDATE, an msync first; the file was not created
		 * by the handle); otherwise one msync
		 */
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_SYNC_FILE_RANGE), sfr[i]);
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_MSYNC), msyncs[i]);
		ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FSYNC),
				  hows[i] & MMAPKIT_SYNC_FULL ? 1 : 0);
		ck_assert_uint_eq(mmapkit__fault_total(),
				  sfr[i] + msyncs[i] + (hows[i] & MMAPKIT_SYNC_FULL ? 1 : 0));
		tu_assert_file_at(path, 7 + off, ptr + off, len, path);
	}
	ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_ASYNC | MMAPKIT_SYNC_FULL), -EINVAL);
	ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), "MMAPKIT_SYNC_FULL"));
	tu_assert_file_at(path, 7, ptr, mmapkit_len(m), path);
	ck_assert_uint_eq(tu_file_size(path), 3 * p + 11);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* A file the handle created and grew: FULL makes its size, data and entry durable. */
START_TEST(sync_full_created)
{
	size_t p = pg(), len = 3 * p + 10;
	const char *path = tu_path("created");
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *ptr, *zero;

	ck_assert_int_eq(mmapkit_file_shared(&m, path, 5, len, MMAPKIT_CREATE | MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(path), 5 + len);
	ptr = mmapkit_ptr(m);
	for (size_t i = 0; i < len; i++)
		ck_assert_uint_eq(ptr[i], 0);
	for (size_t i = 0; i < len; i++)
		ptr[i] = tu_pattern(i);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL), 0);
	/*
	 * fsync of the file, and once: readlink of its descriptor (where is it
	 * now?), open, fsync and close of its directory
	 */
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FSYNC), 2);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_READLINK), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_OPEN), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_CLOSE), 1);
	ck_assert_uint_eq(mmapkit__fault_total(), 5);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_sync(m, 1, 2, MMAPKIT_SYNC_FULL), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FSYNC), 1);
	ck_assert_uint_eq(mmapkit__fault_total(), 1);
	ck_assert_uint_eq(tu_file_size(path), 5 + len);
	tu_assert_file_at(path, 5, ptr, len, path);
	zero = calloc(1, 5);
	ck_assert_ptr_nonnull(zero);
	tu_assert_file_at(path, 0, zero, 5, path);
	free(zero);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s); /* the directory's descriptor was closed too */
	ck_assert_uint_eq(tu_file_size(path), 5 + len);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/* GROW on an existing file; FULL syncs only the file (the handle did not create it). */
START_TEST(sync_full_grown)
{
	size_t p = pg();
	const char *path = tu_file(p);
	struct tu_snap s = tu_snap();
	mmapkit_map *m = NULL;
	unsigned char *ptr, *want = malloc(p);

	ck_assert_ptr_nonnull(want);
	ck_assert_int_eq(mmapkit_file_shared(&m, path, 7, 2 * p, MMAPKIT_GROW), 0);
	ck_assert_uint_eq(tu_file_size(path), 2 * p + 7);
	ptr = mmapkit_ptr(m);
	memcpy(ptr + 2 * p - 64, "the last bytes of a grown file", 30);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_sync(m, 2 * p - 64, 64, MMAPKIT_SYNC_FULL), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_FSYNC), 1);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_OPEN), 0);
	ck_assert_uint_eq(tu_file_size(path), 2 * p + 7);
	memset(want, 0, 64);
	memcpy(want, "the last bytes of a grown file", 30);
	tu_assert_file_at(path, 2 * p + 7 - 64, want, 64, path);
	for (size_t i = 0; i < p; i++) /* the old data is still there, zeros after it */
		want[i] = tu_pattern(i);
	tu_assert_file_at(path, 0, want, p, path);
	memset(want, 0, p);
	tu_assert_file_at(path, p, want, p - 64 + 7, path);
	free(want);
	mmapkit_unmap(m);
	TU_ASSERT_NO_LEAK(s);
	ck_assert_int_eq(unlink(path), 0);
}
END_TEST

/*
 * The directory the first FULL sync of m opens: made to fail there (EIO), its
 * message names it; then the sync is run again for real.
 */
static void assert_syncs_dir(mmapkit_map *m, const char *dir)
{
	char want[PATH_MAX + 32];

	snprintf(want, sizeof(want), "directory %s: open failed", dir);
	mmapkit__fault_arm(MMAPKIT__SYS_OPEN, 1, EIO);
	ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL), -EIO);
	ck_assert_msg(strstr(mmapkit_errmsg(), want), "\"%s\" does not say \"%s\"",
		      mmapkit_errmsg(), want);
	mmapkit__fault_reset();
	ck_assert_msg(mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL) == 0, "%s",
		      mmapkit_errmsg());
	/* durable now: no second directory sync */
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_OPEN), 1);
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_OPEN), 0);
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_READLINK), 0);
}

/*
 * A created file's first FULL sync makes durable the directory that holds the
 * file at that moment, whatever became of the path it was created by: a
 * relative path after chdir(), a renamed directory, a file renamed into
 * another directory, an unlinked file (its old directory).  Without /proc the
 * path given at creation serves.
 */
START_TEST(sync_full_created_relative)
{
	size_t p = pg();
	char top[PATH_MAX], sub[PATH_MAX + 8], moved[PATH_MAX + 8], other[PATH_MAX + 8];
	char file[PATH_MAX + 16], cwd[PATH_MAX];
	mmapkit_map *m = NULL, *m2 = NULL, *m3 = NULL;
	unsigned char *want = malloc(p);
	struct tu_snap s;

	ck_assert_ptr_nonnull(want);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_ptr_nonnull(realpath(tu_dir(), top));
	snprintf(sub, sizeof(sub), "%s/sub", top);
	snprintf(moved, sizeof(moved), "%s/moved", top);
	snprintf(other, sizeof(other), "%s/other", top);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	ck_assert_int_eq(mkdir(other, 0700), 0);
	s = tu_snap();
	ck_assert_int_eq(chdir(top), 0);
	ck_assert_int_eq(mmapkit_file_shared(&m, "sub/new", 0, p, MMAPKIT_CREATE | MMAPKIT_GROW), 0);
	ck_assert_int_eq(mmapkit_file_shared(&m2, "sub/two", 0, p, MMAPKIT_CREATE | MMAPKIT_GROW), 0);
	ck_assert_int_eq(mmapkit_file_shared(&m3, "sub/gone", 0, p, MMAPKIT_CREATE | MMAPKIT_GROW),
			 0);
	ck_assert_int_eq(chdir("/"), 0);
	ck_assert_int_eq(rename(sub, moved), 0);

	/* the directory was renamed and the path is relative to another directory */
	tu_fill_pattern(mmapkit_ptr(m), 0, p);
	assert_syncs_dir(m, moved);
	snprintf(file, sizeof(file), "%s/new", moved);
	tu_fill_pattern(want, 0, p);
	tu_assert_file_is(file, want, p, file);
	/* the file itself moved to another directory */
	{
		char from[PATH_MAX + 16], to[PATH_MAX + 16];

		snprintf(from, sizeof(from), "%s/two", moved);
		snprintf(to, sizeof(to), "%s/two", other);
		ck_assert_int_eq(rename(from, to), 0);
		assert_syncs_dir(m2, other);
		ck_assert_int_eq(unlink(to), 0);
	}
	/* unlinked: the directory it was removed from */
	snprintf(file, sizeof(file), "%s/gone", moved);
	ck_assert_int_eq(unlink(file), 0);
	assert_syncs_dir(m3, moved);
	mmapkit_unmap(m2);
	mmapkit_unmap(m3);

	/* no /proc (readlink says ENOENT): the path given at creation, relative here */
	ck_assert_int_eq(chdir(moved), 0);
	ck_assert_int_eq(mmapkit_file_shared(&m2, "plain", 0, p, MMAPKIT_CREATE | MMAPKIT_GROW), 0);
	mmapkit__fault_arm(MMAPKIT__SYS_READLINK, 1, ENOENT);
	ck_assert_int_eq(mmapkit_sync(m2, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL), 0);
	ck_assert(mmapkit__fault_fired());
	ck_assert_uint_eq(mmapkit__fault_calls(MMAPKIT__SYS_OPEN), 1);
	mmapkit__fault_reset();
	/* any other readlink failure is the call's */
	ck_assert_int_eq(mmapkit_file_shared(&m3, "plain2", 0, p, MMAPKIT_CREATE | MMAPKIT_GROW), 0);
	mmapkit__fault_arm(MMAPKIT__SYS_READLINK, 1, EACCES);
	ck_assert_int_eq(mmapkit_sync(m3, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL), -EACCES);
	ck_assert_ptr_nonnull(strstr(mmapkit_errmsg(), "readlink failed"));
	mmapkit__fault_reset();
	ck_assert_int_eq(mmapkit_sync(m3, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL), 0);
	mmapkit_unmap(m);
	mmapkit_unmap(m2);
	mmapkit_unmap(m3);
	TU_ASSERT_NO_LEAK(s);

	ck_assert_int_eq(chdir(cwd), 0);
	snprintf(file, sizeof(file), "%s/new", moved);
	ck_assert_int_eq(unlink(file), 0);
	snprintf(file, sizeof(file), "%s/plain", moved);
	ck_assert_int_eq(unlink(file), 0);
	snprintf(file, sizeof(file), "%s/plain2", moved);
	ck_assert_int_eq(unlink(file), 0);
	ck_assert_int_eq(rmdir(moved), 0);
	ck_assert_int_eq(rmdir(other), 0);
	free(want);
}
END_TEST

/* The handle's runs: sorted, starting at page 0, neighbours differ, within capacity. */
static void assert_runs_sane(const mmapkit_map *m, const char *what)
{
	ck_assert_msg(m->nruns >= 1 && m->nruns <= m->cap, "%s: %zu runs, room for %zu", what,
		      m->nruns, m->cap);
	ck_assert_msg(m->runs[0].page == 0, "%s: first run starts at page %zu", what,
		      m->runs[0].page);
	for (size_t i = 1; i < m->nruns; i++) {
		ck_assert_msg(m->runs[i].page > m->runs[i - 1].page &&
				      m->runs[i].page < m->map_len / m->gran,
			      "%s: run %zu starts at page %zu", what, i, m->runs[i].page);
		ck_assert_msg(m->runs[i].attr != m->runs[i - 1].attr, "%s: runs %zu and %zu not merged",
			      what, i - 1, i);
	}
}

/*
 * Advice that records no attribute (WILLNEED, COLD, POPULATE_*, ...) over the
 * middle of a run, with the handle holding every run count from 1 to 41: the
 * count crosses the inline capacity and each heap doubling, where an
 * unreserved split would write past the array (a fuzzer find).  Protection of
 * every page, and every byte outside destructive advice, stays as it was.
 */
START_TEST(advice_at_run_capacity)
{
	int adv = _i;
	size_t p = pg(), npg = 6 * 20 + 3;
	struct tu_snap s = tu_snap();

	if (adv == MMAPKIT_ADV_REMOVE)
		return; /* shared kinds only; refused on ANON_PRIVATE by the refusals test */
	for (size_t k = 0; k <= 20; k++) {
		mmapkit_map *m = NULL;
		unsigned char *b;
		char what[64];

		snprintf(what, sizeof(what), "advice %d with %zu runs", adv, 2 * k + 1);
		ck_assert_int_eq(mmapkit_anon_private(&m, npg * p, 0), 0);
		b = mmapkit_ptr(m);
		tu_fill_pattern(b, 0, npg * p);
		for (size_t j = 0; j < k; j++)
			ck_assert_int_eq(mmapkit_protect(m, (6 * j + 3) * p, 3 * p, MMAPKIT_PROT_READ), 0);
		ck_assert_uint_eq(m->nruns, 2 * k + 1);
		/* page 1 of the first run (pages 0..2): a split on each side */
		ck_assert_msg(mmapkit_advise(m, p, p, adv) == 0, "%s: %s", what, mmapkit_errmsg());
		assert_runs_sane(m, what);
		/* the advised run, its neighbour, and the last run boundary */
		for (size_t i = 0; i < npg; i = i == 8 ? (6 * k > 8 ? 6 * k : 9) : i + 1) {
			bool ro = i >= 3 && i < 6 * k + 3 && (i - 3) % 6 < 3;
			char perms[5];

			tu_perms(b + i * p, perms);
			ck_assert_msg(perms[1] == (ro ? '-' : 'w'), "%s: page %zu is %s", what, i, perms);
		}
		if (adv != MMAPKIT_ADV_DONTNEED && adv != MMAPKIT_ADV_FREE) {
			for (size_t i = 0; i < npg * p; i++)
				if (b[i] != tu_pattern(i))
					ck_abort_msg("%s: byte %zu changed", what, i);
		}
		mmapkit_unmap(m);
	}
	TU_ASSERT_NO_LEAK(s);
}
END_TEST

Suite *suite_range(void)
{
	Suite *s = suite_create("range");
	TCase *tc = tu_tcase(s, "refusals", 0);

	tcase_add_test(tc, null_handle);
	tcase_add_loop_test(tc, refusals, 0, N_SHAPES);
	tcase_add_loop_test(tc, rdonly_refusals, 0, N_SHAPES);
	tcase_add_test(tc, empty_mapping);
	tcase_add_loop_test(tc, empty_ranges, 0, N_SHAPES);
	tcase_add_loop_test(tc, to_end, 0, N_SHAPES);

	tc = tu_tcase(s, "bytes", 60);
	tcase_add_loop_test(tc, bytes_exact, 0, N_SHAPES);

	tc = tu_tcase(s, "runs", 60);
	tcase_add_loop_test(tc, advice_at_run_capacity, MMAPKIT_ADV_NORMAL,
			    MMAPKIT_ADV_POPULATE_WRITE + 1);

	tc = tu_tcase(s, "sync", 0);
	tcase_add_test(tc, sync_modes);
	tcase_add_test(tc, sync_full_created);
	tcase_add_test(tc, sync_full_grown);
	tcase_add_test(tc, sync_full_created_relative);
	return s;
}
