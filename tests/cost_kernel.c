/* SPDX-License-Identifier: MIT */
/*
 * cost_kernel: the Cost section at the kernel boundary, for the library as
 * users get it (the release build: no counting call table).  Each operation of
 * tests/cost_ops.c runs twice under ptrace (bench/syscount.c), once written by
 * hand and once as the mmapkit call, ROUNDS times each (the run with the
 * fewest calls counts: a first run may grow the heap), and:
 *   - the hand-written side makes exactly the calls its table entry names, in
 *     order (the table is the truth about the hand-written program);
 *   - the mmapkit call makes exactly the same system calls, in the same order.
 * Prints one line per operation; exits 0 when all hold, 1 when one does not,
 * 77 when tracing is impossible here (CTest's "skipped").
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"
#include "cost_ops.h"

#define ROUNDS 3

/* Calls some architectures lack (their glibc uses the *at ones). */
#ifndef SYS_open
#define SYS_open -1
#endif
#ifndef SYS_fstat
#define SYS_fstat -1
#endif
#ifndef SYS_unlink
#define SYS_unlink -1
#endif
#ifndef SYS_readlink
#define SYS_readlink -1
#endif

/* The kernel's numbers for each name of the library's call table (glibc picks one). */
static const struct {
	const char *name;
	long nr[3];
} kernel_names[] = {
	{"open", {SYS_openat, SYS_open, -1}},
	{"close", {SYS_close, -1, -1}},
	{"fstat", {SYS_fstat, SYS_newfstatat, SYS_statx}},
	{"fcntl", {SYS_fcntl, -1, -1}},
	{"ioctl", {SYS_ioctl, -1, -1}},
	{"ftruncate", {SYS_ftruncate, -1, -1}},
	{"fallocate", {SYS_fallocate, -1, -1}},
	{"fsync", {SYS_fsync, -1, -1}},
	{"pread", {SYS_pread64, -1, -1}},
	{"unlink", {SYS_unlink, SYS_unlinkat, -1}},
	{"mmap", {SYS_mmap, -1, -1}},
	{"munmap", {SYS_munmap, -1, -1}},
	{"mremap", {SYS_mremap, -1, -1}},
	{"madvise", {SYS_madvise, -1, -1}},
	{"msync", {SYS_msync, -1, -1}},
	{"mprotect", {SYS_mprotect, -1, -1}},
	{"mlock", {SYS_mlock, -1, -1}},
	{"mlock2", {SYS_mlock2, -1, -1}},
	{"munlock", {SYS_munlock, -1, -1}},
	{"readlink", {SYS_readlink, SYS_readlinkat, -1}},
	{"sync_file_range", {SYS_sync_file_range, -1, -1}},
	{"getpid", {SYS_getpid, -1, -1}},
};

static char dir[4096];

/* Does kernel call nr stand for the table name word[0, n)? */
static bool is_call(const char *word, size_t n, int nr)
{
	for (size_t i = 0; i < sizeof(kernel_names) / sizeof(kernel_names[0]); i++)
		if (strlen(kernel_names[i].name) == n && !strncmp(kernel_names[i].name, word, n))
			for (int k = 0; k < 3; k++)
				if (kernel_names[i].nr[k] == nr)
					return true;
	return false;
}

/* "" when rec's calls are raw's names in order, else why not. */
static const char *matches_raw(const struct sc_rec *rec, const char *raw)
{
	static char why[160];
	int k = 0;

	for (const char *w = raw + strspn(raw, " "); *w; k++) {
		size_t n = strcspn(w, " ");

		if (k >= rec->n_min || k >= SC_MAX_SEQ || !is_call(w, n, rec->seq[k])) {
			snprintf(why, sizeof(why), "call %d is %s, not %.*s", k + 1,
				 k < rec->n_min ? sc_name(rec->seq[k]) : "missing", (int)n, w);
			return why;
		}
		w += n;
		w += strspn(w, " ");
	}
	if (k != rec->n_min) {
		snprintf(why, sizeof(why), "%d calls, not %d", rec->n_min, k);
		return why;
	}
	return "";
}

static void seq_text(const struct sc_rec *rec, char *buf, size_t cap)
{
	buf[0] = '\0';
	for (int k = 0; k < rec->n_min && k < SC_MAX_SEQ; k++)
		snprintf(buf + strlen(buf), cap - strlen(buf), "%s%s", k ? " " : "",
			 sc_name(rec->seq[k]));
}

/* One side of one operation, between the markers. */
static void run_side(struct cost_env *e, const struct cost_op *op, size_t i, bool lib)
{
	char mark[32];
	int r;

	snprintf(mark, sizeof(mark), "%s|%zu", lib ? "lib" : "hand", i);
	if (op->setup && op->setup(e) < 0) {
		sc_begin(mark);
		sc_error("setup failed");
		sc_end();
		op->undo(e);
		return;
	}
	sc_begin(mark);
	r = lib ? op->lib(e) : op->by_hand(e);
	if (r)
		sc_error(lib ? mmapkit_errmsg() : "the hand-written sequence failed");
	sc_end();
	op->undo(e);
}

/* In the traced child. */
static void run_all(void *arg)
{
	struct cost_env e;

	(void)arg;
	if (cost_env_init(&e, dir) < 0) {
		perror("cost_kernel: files");
		_exit(2);
	}
	for (int round = 0; round < ROUNDS; round++)
		for (size_t i = 0; i < cost_nops; i++) {
			run_side(&e, &cost_ops[i], i, false);
			run_side(&e, &cost_ops[i], i, true);
		}
	cost_env_free(&e);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	struct sc_result res = {0};
	int failed = 0;

	snprintf(dir, sizeof(dir), "%s/cost-kernel-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir)) {
		perror("cost_kernel: mkdtemp");
		return 2;
	}
	if (sc_trace(run_all, NULL, NULL, &res) < 0) {
		rmdir(dir);
		printf("cost_kernel: cannot trace system calls (%s); skipped\n", res.err);
		free(res.r);
		return strstr(res.err, "TRACEME") ? 77 : 1;
	}
	rmdir(dir);
	printf("cost_kernel: mmapkit %s, the release library, at the kernel boundary:\n",
	       mmapkit_version());
	for (size_t i = 0; i < cost_nops; i++) {
		const struct cost_op *op = &cost_ops[i];
		char idx[24], got[256];
		struct sc_rec *hand, *lib;
		const char *why;

		snprintf(idx, sizeof(idx), "%zu", i);
		hand = sc_find(&res, "hand", idx);
		lib = sc_find(&res, "lib", idx);
		if (!hand || !lib || hand->err[0] || lib->err[0]) {
			printf("FAIL %s: %s\n", op->call,
			       !hand || !lib ? "not run" : hand->err[0] ? hand->err : lib->err);
			failed++;
			continue;
		}
		why = matches_raw(hand, cost_raw(op));
		if (*why) {
			seq_text(hand, got, sizeof(got));
			printf("FAIL %s: by hand \"%s\", the table says \"%s\": %s\n", op->call, got,
			       cost_raw(op), why);
			failed++;
			continue;
		}
		seq_text(lib, got, sizeof(got));
		if (lib->n_min != hand->n_min ||
		    memcmp(lib->seq, hand->seq, sizeof(int) * (size_t)hand->n_min) != 0) {
			char want[256];

			seq_text(hand, want, sizeof(want));
			printf("FAIL %s: mmapkit makes \"%s\", by hand \"%s\"\n", op->call, got, want);
			failed++;
			continue;
		}
		printf("ok   %-56s %s\n", op->call, got);
	}
	free(res.r);
	printf("cost_kernel: %zu operations, %d failed\n", cost_nops, failed);
	return failed ? 1 : 0;
}
