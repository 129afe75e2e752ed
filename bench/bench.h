/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_bench: every number is a ratio against a baseline measured in the
 * same run, variants interleaved (A B C C B A ...) over several rounds.
 */
#ifndef MMAPKIT_BENCH_H
#define MMAPKIT_BENCH_H

#include <sched.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define KiB ((size_t)1024)
#define MiB (KiB * 1024)
#define GiB (MiB * 1024)

#define MAX_VARIANTS 12
#define MAX_ROUNDS 64
#define MAX_CMPS 24
#define MAX_PEERS 4

/* A peer library driven through a child process (bench/peers/). */
struct peer {
	char name[32];       /* "python", "boost", "memmap2" */
	const char *cmd;     /* shell command; the bench appends "serve" or "count DIR" */
	const char *missing; /* why it cannot be measured, or NULL */
	char why[256];       /* storage for a reason found at run time */
	pid_t pid;
	FILE *to, *from;
};

struct opts {
	bool smoke;          /* seconds-long mode for the test suite */
	int cpu;             /* pin to this CPU; -1: not pinned */
	cpu_set_t allowed;   /* the CPUs the benchmark may use, before any pinning */
	int rounds;          /* timed rounds per case of small operations */
	int big_rounds;      /* timed rounds per case of big ones (sections 3, 4, 6) */
	double min_ms;       /* one measurement lasts at least this long */
	size_t big;          /* the "1 GiB" of sections 3, 4 and 6 */
	char dir[512];       /* scratch directory (a disk file system) */
	char shm_dir[512];   /* tmpfs directory, for punching a shared file */
	const char *sections;
	const char *out;     /* directory for results.csv, *.md and plot data; or NULL */
	FILE *csv;
	FILE *md;            /* the detailed tables */
	struct peer peers[MAX_PEERS];
	int npeers;
	int failures;        /* counts above raw, wrong results: the smoke test fails */
	bool skipped;        /* the system calls could not be counted (no ptrace) */
};

/*
 * One measurement: do the operation `iters` times and store the nanoseconds
 * it took in *ns (setup may be left out of the timed part).  0, or -1 with
 * `err` filled in (the variant is then reported as failed, never estimated),
 * or -2 when the variant does not offer the operation (err says so).
 */
typedef int (*measure_fn)(void *arg, long iters, double *ns, char *err, size_t errlen);

struct variant {
	const char *name;
	measure_fn fn;
	void *arg;
	const char *missing; /* not measured, and why */
	long iters;
	double t[MAX_ROUNDS]; /* ns per operation, per round */
	int n;
	char err[256];
};

/* A ratio the report shows: time of var / time of ref, round by round. */
struct cmp {
	int var, ref;
	double target;   /* the ratio must be <= target (>= with lower); 0: no target */
	bool lower;
	const char *fix; /* what would fix a miss */
};

struct bcase {
	const char *section; /* "create", "checksum", ... (CSV and plot file name) */
	const char *title;   /* human-readable case name */
	const char *label;   /* short label for plots */
	double bytes;        /* bytes per operation (throughput), 0 for none */
	bool once;           /* one operation per measurement (the big ones) */
	struct variant v[MAX_VARIANTS];
	int nv;
	struct cmp x[MAX_CMPS];
	int nx;
	const char *note;    /* extra text for the report (residency, ...) */
};

/* harness.c */
double now_ns(void);  /* CPU time of this thread */
double wall_ns(void); /* CLOCK_MONOTONIC */
int case_add(struct bcase *c, const char *name, measure_fn fn, void *arg);
int case_missing(struct bcase *c, const char *name, const char *why);
void case_cmp(struct bcase *c, int var, int ref, double target, const char *fix);
/* A peer's ratio to mmapkit: mmapkit behind the peer (ratio < bound) is a miss. */
void case_cmp_peer(struct bcase *c, int peer, int mk, const char *fix);
void run_case(struct opts *o, struct bcase *c); /* measure_case, then report_case */
void measure_case(struct opts *o, struct bcase *c);
void report_case(struct opts *o, const struct bcase *c);
void section_begin(struct opts *o, const char *id, const char *title, const char *explain);
void report_summary(struct opts *o);
void csv_row(struct opts *o, const char *section, const char *cas, const char *variant,
	     const char *ref, const char *metric, double median, double min, double max,
	     double ratio, double rmin, double rmax, double target, const char *verdict,
	     int rounds, const char *note);
void add_miss(const char *what, const char *fix);
void fail(struct opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* util.c */
uint64_t sum64(const void *p, size_t n);
int make_pattern_file(const char *path, size_t size, uint64_t *sum);
size_t resident_bytes(const void *addr, size_t len);
long long tool_resident(const char *tool, const char *path, char *msg, size_t len);
void *map_anon(size_t len, bool shared);
void pin_cpu(int cpu);
const char *human_ns(double ns, char *buf, size_t len);
const char *human_size(size_t n, char *buf, size_t len);

/* peer.c */
void peer_start(struct peer *p);
void peer_stop(struct peer *p);
int peer_call(struct peer *p, const char *cmd, double *ns, uint64_t *sum, char *err,
	      size_t errlen);
/* A measure_fn arg that runs `fmt` (with %ld for iters) in a peer. */
struct peer_op {
	struct peer *p;
	char cmd[1024];
	bool has_sum;
	uint64_t want_sum;
};
int peer_measure(void *arg, long iters, double *ns, char *err, size_t errlen);
void peer_variant(struct bcase *c, struct peer *p, struct peer_op *op);

/* syscount.c */
#define SC_MAX_SEQ 24
struct sc_rec {
	char variant[32];
	char op[96];
	int n_min, n_first, runs;
	int seq[SC_MAX_SEQ]; /* the system calls of the run with the fewest */
	char err[160];
};
struct sc_result {
	struct sc_rec *r;
	int n, cap;
	char err[256];
};
void sc_begin(const char *variant_op);
void sc_end(void);
void sc_error(const char *msg);
int sc_trace(void (*fn)(void *), void *arg, char *const argv[], struct sc_result *res);
const char *sc_name(int nr);
struct sc_rec *sc_find(struct sc_result *res, const char *variant, const char *op);

/* ipc.c: parent and child CPUs (-1, -1 with one CPU); share.c uses it too. */
void pick_cpus(const struct opts *o, int *parent, int *child);

/* The sections. */
void bench_count(struct opts *o);
void bench_create(struct opts *o);
void bench_checksum(struct opts *o);
void bench_touch(struct opts *o);
void bench_ipc(struct opts *o);
void bench_punch(struct opts *o);
void bench_share(struct opts *o);
/* share.c: the system calls of a named shm cycle; before any peer runs (as count). */
void bench_share_count(struct opts *o);
void bench_copy(struct opts *o);
void bench_place(struct opts *o);

#endif
