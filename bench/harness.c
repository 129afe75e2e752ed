/* SPDX-License-Identifier: MIT */
/*
 * The harness: calibrate each variant, then run them interleaved, round after
 * round (A B C C B A ...), so that whatever else the machine does falls on all
 * of them alike; report the median and the min/max of every ratio.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

#define MAX_MISSES 64

static struct {
	char what[256];
	const char *fix;
} misses[MAX_MISSES];
static int nmisses;

/*
 * The plot data of the current section, written when the section ends: one row
 * per case, three columns (median, low, high) per variant of any of its cases.
 */
#define MAX_DAT_ROWS 16
#define MAX_DAT_COLS 24
static FILE *dat;
static char dat_cols[MAX_DAT_COLS][48];
static int ndat_cols;
static struct {
	char label[96];
	double v[MAX_DAT_COLS][3];
} dat_rows[MAX_DAT_ROWS];
static int ndat_rows;

/*
 * CPU time of the calling thread, user and system: the other processes that
 * share these CPUs do not count, only what this thread (and the kernel on its
 * behalf) did.  Waiting does not count either: the IPC section uses wall_ns().
 */
double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

double wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

void fail(struct opts *o, const char *fmt, ...)
{
	va_list ap;

	o->failures++;
	fputs("FAIL: ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

void add_miss(const char *what, const char *fix)
{
	if (nmisses == MAX_MISSES)
		return;
	snprintf(misses[nmisses].what, sizeof(misses[nmisses].what), "%s", what);
	misses[nmisses].fix = fix;
	nmisses++;
}

int case_add(struct bcase *c, const char *name, measure_fn fn, void *arg)
{
	struct variant *v = &c->v[c->nv];

	memset(v, 0, sizeof(*v));
	v->name = name;
	v->fn = fn;
	v->arg = arg;
	return c->nv++;
}

int case_missing(struct bcase *c, const char *name, const char *why)
{
	int i = case_add(c, name, NULL, NULL);

	c->v[i].missing = why;
	return i;
}

void case_cmp(struct bcase *c, int var, int ref, double target, const char *fix)
{
	c->x[c->nx++] = (struct cmp){.var = var, .ref = ref, .target = target, .fix = fix};
}

/* Within the 5 % that counts as "the same" for mmapkit against raw. */
void case_cmp_peer(struct bcase *c, int peer, int mk, const char *fix)
{
	c->x[c->nx++] = (struct cmp){.var = peer, .ref = mk, .target = 1 / 1.05, .lower = true,
				     .fix = fix};
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	double med, min, max;
};

static struct stats stats_of(const double *x, int n)
{
	double s[MAX_ROUNDS];
	struct stats r = {NAN, NAN, NAN};

	if (n <= 0)
		return r;
	memcpy(s, x, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	r.min = s[0];
	r.max = s[n - 1];
	r.med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
	return r;
}

/* One measurement of v; on failure the variant is retired with the reason. */
static int measure(struct variant *v, long iters, double *ns)
{
	char err[200] = "";
	int r = v->fn(v->arg, iters, ns, err, sizeof(err));

	if (r < 0 || !(*ns > 0)) {
		snprintf(v->err, sizeof(v->err), "%s%s", r == -2 ? "" : "failed: ",
			 err[0] ? err : "no time measured");
		v->missing = v->err;
		return -1;
	}
	return 0;
}

/* Find iters so that one measurement lasts about min_ms; doubles as the warm-up. */
static void calibrate(const struct opts *o, const struct bcase *c, struct variant *v)
{
	double goal = o->min_ms * 1e6, ns;
	long iters = 1;

	if (c->once) {
		v->iters = 1;
		measure(v, 1, &ns);
		return;
	}
	for (;;) {
		if (measure(v, iters, &ns) < 0)
			return;
		if (ns >= goal / 8 || iters >= (1L << 26))
			break;
		iters *= ns < goal / 1000 ? 16 : 4;
	}
	v->iters = (long)ceil((double)iters * goal / ns);
	if (v->iters < 1)
		v->iters = 1;
}

/*
 * Round r runs every variant once, in order on even rounds and in reverse on
 * odd ones (A B C C B A ...), so that no variant always follows the same one.
 */
static void run_rounds(const struct opts *o, struct bcase *c)
{
	int rounds = c->once ? o->big_rounds : o->rounds;

	for (int r = 0; r < rounds && r < MAX_ROUNDS; r++) {
		for (int k = 0; k < c->nv; k++) {
			struct variant *v = &c->v[r % 2 ? c->nv - 1 - k : k];
			double ns;

			if (v->missing)
				continue;
			if (measure(v, v->iters, &ns) == 0)
				v->t[v->n++] = ns / (double)v->iters;
		}
	}
}

/* Ratios round by round, over the rounds both variants completed. */
static struct stats ratio_of(const struct bcase *c, const struct cmp *x)
{
	const struct variant *a = &c->v[x->var], *b = &c->v[x->ref];
	double r[MAX_ROUNDS];
	int n = a->n < b->n ? a->n : b->n;

	if (a->missing || b->missing)
		n = 0;
	for (int i = 0; i < n; i++)
		r[i] = a->t[i] / b->t[i];
	return stats_of(r, n);
}

const char *human_ns(double ns, char *buf, size_t len)
{
	if (isnan(ns))
		snprintf(buf, len, "-");
	else if (ns < 1e3)
		snprintf(buf, len, "%.1f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, len, "%.2f us", ns / 1e3);
	else if (ns < 1e9)
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	else
		snprintf(buf, len, "%.3f s", ns / 1e9);
	return buf;
}

const char *human_size(size_t n, char *buf, size_t len)
{
	if (n >= GiB && n % GiB == 0)
		snprintf(buf, len, "%zu GiB", n / GiB);
	else if (n >= MiB && n % MiB == 0)
		snprintf(buf, len, "%zu MiB", n / MiB);
	else if (n >= KiB && n % KiB == 0)
		snprintf(buf, len, "%zu KiB", n / KiB);
	else
		snprintf(buf, len, "%zu B", n);
	return buf;
}

static void csv_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
	fputc('"', f);
}

static void csv_num(FILE *f, double x)
{
	if (!isnan(x))
		fprintf(f, "%.6g", x);
}

void csv_row(struct opts *o, const char *section, const char *cas, const char *variant,
	     const char *ref, const char *metric, double median, double min, double max,
	     double ratio, double rmin, double rmax, double target, const char *verdict,
	     int rounds, const char *note)
{
	FILE *f = o->csv;

	if (!f)
		return;
	csv_str(f, section);
	fputc(',', f);
	csv_str(f, cas);
	fputc(',', f);
	csv_str(f, variant);
	fputc(',', f);
	csv_str(f, ref);
	fputc(',', f);
	csv_str(f, metric);
	fputc(',', f);
	csv_num(f, median);
	fputc(',', f);
	csv_num(f, min);
	fputc(',', f);
	csv_num(f, max);
	fputc(',', f);
	csv_num(f, ratio);
	fputc(',', f);
	csv_num(f, rmin);
	fputc(',', f);
	csv_num(f, rmax);
	fputc(',', f);
	csv_num(f, target);
	fputc(',', f);
	csv_str(f, verdict);
	fprintf(f, ",%d,", rounds);
	csv_str(f, note);
	fputc('\n', f);
	fflush(f);
}

static const char *verdict_of(const struct cmp *x, struct stats r)
{
	if (isnan(r.med))
		return "n/a";
	if (x->target <= 0)
		return "";
	if (x->lower)
		return r.med >= x->target ? "ok" : "MISS";
	return r.med <= x->target ? "ok" : "MISS";
}

static void print_variant(const struct bcase *c, const struct variant *v)
{
	char a[32], b[32], d[32];
	struct stats s = stats_of(v->t, v->n);

	if (v->missing) {
		printf("  %-26s %s\n", v->name, v->missing);
		return;
	}
	printf("  %-26s %11s %11s %11s", v->name, human_ns(s.med, a, sizeof(a)),
	       human_ns(s.min, b, sizeof(b)), human_ns(s.max, d, sizeof(d)));
	if (c->bytes > 0)
		printf("  %8.2f GB/s", c->bytes / s.med);
	printf("  (%ld op%s per measurement)\n", v->iters, v->iters == 1 ? "" : "s");
}

static void print_cmp(const struct bcase *c, const struct cmp *x, struct stats r)
{
	char name[80], tgt[24] = "";

	snprintf(name, sizeof(name), "%s / %s", c->v[x->var].name, c->v[x->ref].name);
	if (x->target > 0)
		snprintf(tgt, sizeof(tgt), "%s %.3g", x->lower ? ">=" : "<=", x->target);
	if (isnan(r.med)) {
		printf("  %-42s %s\n", name, "n/a (a variant is missing)");
		return;
	}
	printf("  %-42s %7.3f  [%.3f .. %.3f]  %-9s %s\n", name, r.med, r.min, r.max, tgt,
	       verdict_of(x, r));
}

/* The markdown row of a variant: its times, and its first comparison if any. */
static void md_variant(FILE *f, const struct bcase *c, int i, const struct stats *rs)
{
	const struct variant *v = &c->v[i];
	struct stats s = stats_of(v->t, v->n);
	char a[32], b[32], d[32];
	int k;

	for (k = 0; k < c->nx && c->x[k].var != i; k++)
		;
	if (v->missing) {
		fprintf(f, "| %s | %s | %s | | | | | |\n", c->title, v->name, v->missing);
		return;
	}
	fprintf(f, "| %s | %s | %s | %s .. %s | ", c->title, v->name,
		human_ns(s.med, a, sizeof(a)), human_ns(s.min, b, sizeof(b)),
		human_ns(s.max, d, sizeof(d)));
	if (c->bytes > 0)
		fprintf(f, "%.2f", c->bytes / s.med);
	if (k == c->nx || isnan(rs[k].med)) {
		fprintf(f, " | | | |\n");
		return;
	}
	fprintf(f, " | %s: **%.3f** [%.3f .. %.3f] | ", c->v[c->x[k].ref].name, rs[k].med,
		rs[k].min, rs[k].max);
	if (c->x[k].target > 0)
		fprintf(f, "%s %.3g", c->x[k].lower ? ">=" : "<=", c->x[k].target);
	fprintf(f, " | %s |\n", verdict_of(&c->x[k], rs[k]));
}

/* Comparisons beyond each variant's first get rows of their own. */
static void md_extra_cmps(FILE *f, const struct bcase *c, const struct stats *rs)
{
	for (int k = 0; k < c->nx; k++) {
		int first = 0;

		while (c->x[first].var != c->x[k].var)
			first++;
		if (first == k || isnan(rs[k].med))
			continue;
		fprintf(f, "| %s | %s | | | | %s: **%.3f** [%.3f .. %.3f] | ", c->title,
			c->v[c->x[k].var].name, c->v[c->x[k].ref].name, rs[k].med, rs[k].min,
			rs[k].max);
		if (c->x[k].target > 0)
			fprintf(f, "%s %.3g", c->x[k].lower ? ">=" : "<=", c->x[k].target);
		fprintf(f, " | %s |\n", verdict_of(&c->x[k], rs[k]));
	}
}

static int dat_col(const char *name)
{
	for (int i = 0; i < ndat_cols; i++)
		if (!strcmp(dat_cols[i], name))
			return i;
	if (ndat_cols == MAX_DAT_COLS)
		return -1;
	snprintf(dat_cols[ndat_cols], sizeof(dat_cols[0]), "%s", name);
	for (int r = 0; r < MAX_DAT_ROWS; r++)
		dat_rows[r].v[ndat_cols][0] = dat_rows[r].v[ndat_cols][1] =
			dat_rows[r].v[ndat_cols][2] = NAN;
	return ndat_cols++;
}

/* One row of plot data: ms (big operations), GB/s (throughput) or ns. */
static void dat_row(const struct bcase *c)
{
	int row = ndat_rows;

	if (!dat || row == MAX_DAT_ROWS)
		return;
	ndat_rows++;
	snprintf(dat_rows[row].label, sizeof(dat_rows[row].label), "%s",
		 c->label ? c->label : c->title);
	for (int i = 0; i < MAX_DAT_COLS; i++)
		dat_rows[row].v[i][0] = dat_rows[row].v[i][1] = dat_rows[row].v[i][2] = NAN;
	for (int i = 0; i < c->nv; i++) {
		int col = c->v[i].missing ? -1 : dat_col(c->v[i].name);
		struct stats s = stats_of(c->v[i].t, c->v[i].n);
		double *v;

		if (col < 0)
			continue;
		v = dat_rows[row].v[col];
		if (c->bytes > 0) {
			v[0] = c->bytes / s.med;
			v[1] = c->bytes / s.max;
			v[2] = c->bytes / s.min;
		} else {
			double k = c->once ? 1e6 : 1;

			v[0] = s.med / k;
			v[1] = s.min / k;
			v[2] = s.max / k;
		}
	}
}

static void dat_flush(void)
{
	if (!dat)
		return;
	fputs("case", dat);
	for (int i = 0; i < ndat_cols; i++)
		fprintf(dat, " \"%s\" lo hi", dat_cols[i]);
	fputc('\n', dat);
	for (int r = 0; r < ndat_rows; r++) {
		fprintf(dat, "\"%s\"", dat_rows[r].label);
		for (int i = 0; i < ndat_cols * 3; i++) {
			double x = dat_rows[r].v[i / 3][i % 3];

			if (isnan(x))
				fputs(" NaN", dat);
			else
				fprintf(dat, " %.6g", x);
		}
		fputc('\n', dat);
	}
	fclose(dat);
	dat = NULL;
	ndat_cols = 0;
	ndat_rows = 0;
}

void report_case(struct opts *o, const struct bcase *c)
{
	struct stats rs[MAX_CMPS];
	int rounds = 0;

	for (int i = 0; i < c->nv; i++)
		rounds = c->v[i].n > rounds ? c->v[i].n : rounds;
	printf("\n-- %s  (%d rounds; ratio = time / time of the reference, lower is faster)\n",
	       c->title, rounds);
	printf("  %-26s %11s %11s %11s\n", "variant", "median", "min", "max");
	for (int i = 0; i < c->nv; i++)
		print_variant(c, &c->v[i]);
	for (int k = 0; k < c->nx; k++) {
		rs[k] = ratio_of(c, &c->x[k]);
		print_cmp(c, &c->x[k], rs[k]);
	}
	if (c->note)
		printf("  note: %s\n", c->note);
	for (int i = 0; o->md && i < c->nv; i++)
		md_variant(o->md, c, i, rs);
	if (o->md)
		md_extra_cmps(o->md, c, rs);
	for (int i = 0; i < c->nv; i++) {
		const struct variant *v = &c->v[i];
		struct stats s = stats_of(v->t, v->n);
		struct stats none = {NAN, NAN, NAN};
		const struct cmp *x = NULL;

		for (int k = 0; k < c->nx && !x; k++)
			x = c->x[k].var == i ? &c->x[k] : NULL;
		csv_row(o, c->section, c->title, v->name, x ? c->v[x->ref].name : "", "ns/op",
			s.med, s.min, s.max, x ? rs[x - c->x].med : none.med,
			x ? rs[x - c->x].min : NAN, x ? rs[x - c->x].max : NAN,
			x ? x->target : NAN,
			v->missing ? "missing" : x ? verdict_of(x, rs[x - c->x]) : "", v->n,
			v->missing ? v->missing : c->note);
	}
	for (int k = 0; k < c->nx; k++) {
		const struct cmp *x = &c->x[k];
		char what[256];

		csv_row(o, c->section, c->title, c->v[x->var].name, c->v[x->ref].name, "ratio",
			NAN, NAN, NAN, rs[k].med, rs[k].min, rs[k].max, x->target,
			verdict_of(x, rs[k]), c->v[x->var].n, x->fix);
		if (strcmp(verdict_of(x, rs[k]), "MISS"))
			continue;
		snprintf(what, sizeof(what), "%s: %s / %s = %.3f (target %s %.3g)", c->title,
			 c->v[x->var].name, c->v[x->ref].name, rs[k].med, x->lower ? ">=" : "<=",
			 x->target);
		add_miss(what, x->fix);
	}
	dat_row(c);
	fflush(stdout);
}

void measure_case(struct opts *o, struct bcase *c)
{
	for (int i = 0; i < c->nv; i++)
		if (!c->v[i].missing)
			calibrate(o, c, &c->v[i]);
	run_rounds(o, c);
}

void run_case(struct opts *o, struct bcase *c)
{
	measure_case(o, c);
	report_case(o, c);
}

void section_begin(struct opts *o, const char *id, const char *title, const char *explain)
{
	dat_flush();
	printf("\n==== %s\n%s\n", title, explain);
	if (o->md)
		fprintf(o->md, "\n### %s\n\n%s\n\n", title, explain);
	if (o->out) {
		char path[1024];

		snprintf(path, sizeof(path), "%s/%s.dat", o->out, id);
		dat = fopen(path, "w");
	}
	if (o->md && !strstr(id, "count")) /* count sections write tables of their own */
		fputs("| case | variant | median | min .. max | GB/s | ratio vs: median [min .. max] | target | verdict |\n"
		      "| --- | --- | --- | --- | --- | --- | --- | --- |\n",
		      o->md);
	fflush(stdout);
}

void report_summary(struct opts *o)
{
	FILE *f = NULL;
	char path[1024];

	dat_flush();
	if (o->out) {
		snprintf(path, sizeof(path), "%s/summary.md", o->out);
		f = fopen(path, "w");
	}
	printf("\n==== summary: %d target%s missed, %d failure%s\n", nmisses,
	       nmisses == 1 ? "" : "s", o->failures, o->failures == 1 ? "" : "s");
	if (f)
		fprintf(f, nmisses ? "Targets missed in this run (or a peer ahead of mmapkit), and "
				     "what would fix each:\n\n"
				   : "Every target was met in this run, and no peer was ahead of "
				     "mmapkit.\n");
	for (int i = 0; i < nmisses; i++) {
		printf("  MISS %s\n       fix: %s\n", misses[i].what,
		       misses[i].fix ? misses[i].fix : "-");
		if (f)
			fprintf(f, "- **%s**: %s\n", misses[i].what,
				misses[i].fix ? misses[i].fix : "");
	}
	if (f && o->failures)
		fprintf(f, "\n**%d failure%s** (a count above raw or a wrong result): see the log.\n",
			o->failures, o->failures == 1 ? "" : "s");
	if (f)
		fclose(f);
}
