/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_bench: is mmapkit as cheap as the raw system calls, and where does
 * it stand against its peers?  See docs/performance.md; bench/run.sh runs it
 * in full, the test suite runs `mmapkit_bench --smoke`.
 */
#define _GNU_SOURCE
#include <bsd/libutil.h>
#include <bsd/stdlib.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

#ifndef TMPFS_MAGIC
#define TMPFS_MAGIC 0x01021994
#endif

static const struct {
	const char *id;
	void (*run)(struct opts *o);
} sections[] = {
	{"count", bench_count}, {"create", bench_create}, {"checksum", bench_checksum},
	{"touch", bench_touch}, {"ipc", bench_ipc},	  {"punch", bench_punch},
	{"share", bench_share},
	{"copy", bench_copy},
	{"place", bench_place},
};

static void usage(FILE *f)
{
	fputs("usage: mmapkit_bench [options]\n"
	      "  --smoke               seconds-long run for the test suite; exit 1 if any system-call\n"
	      "                        count exceeds raw or any result is wrong\n"
	      "  --cpu N               pin to CPU N (the IPC child goes on the next CPU)\n"
	      "  --rounds N            timed rounds per case of small operations (default 31; smoke 2)\n"
	      "  --big-rounds N        timed rounds per case of big operations (default 13; smoke 2)\n"
	      "  --min-ms X            shortest measurement of a small operation (default 5)\n"
	      "  --size BYTES          the big size of sections 3, 4, 6 (default 1 GiB; smoke 8 MiB;\n"
	      "                        units accepted: 64K, 8M, 1G)\n"
	      "  --dir DIR             scratch directory on a disk file system ($TMPDIR or /var/tmp)\n"
	      "  --shm-dir DIR         tmpfs directory for section 6 (default /dev/shm)\n"
	      "  --sections LIST       count,create,checksum,touch,ipc,punch,share,copy,place (default all)\n"
	      "  --out DIR             write results.csv, tables.md, summary.md and plot data there\n"
	      "  --peer NAME=COMMAND   a peer program (bench/peers/); run as `COMMAND serve|count`\n"
	      "  --peer-missing NAME=WHY  a peer that could not be built, reported as missing\n",
	      f);
}

static void add_peer(struct opts *o, const char *spec, bool missing)
{
	const char *eq = strchr(spec, '=');
	struct peer *p;

	if (!eq || o->npeers == MAX_PEERS) {
		fprintf(stderr, "mmapkit_bench: bad or too many --peer: %s\n", spec);
		exit(2);
	}
	p = &o->peers[o->npeers++];
	snprintf(p->name, sizeof(p->name), "%.*s", (int)(eq - spec), spec);
	if (missing)
		p->missing = eq + 1;
	else
		p->cmd = eq + 1;
}

static bool writable_tmpfs(const char *dir)
{
	struct statfs s;

	return statfs(dir, &s) == 0 && s.f_type == TMPFS_MAGIC && access(dir, W_OK) == 0;
}

static void defaults(struct opts *o)
{
	const char *t = getenv("TMPDIR");

	if (!o->rounds)
		o->rounds = o->smoke ? 2 : 31;
	if (!o->big_rounds)
		o->big_rounds = o->smoke ? 2 : 13;
	if (o->min_ms <= 0)
		o->min_ms = o->smoke ? 1 : 5;
	if (!o->big)
		o->big = o->smoke ? 8 * MiB : 1 * GiB;
	if (!o->dir[0])
		snprintf(o->dir, sizeof(o->dir), "%s", t && *t ? t : "/var/tmp");
	if (!o->shm_dir[0])
		snprintf(o->shm_dir, sizeof(o->shm_dir), "%s",
			 writable_tmpfs("/dev/shm") ? "/dev/shm" : o->dir);
	if (!o->sections)
		o->sections = "count,create,checksum,touch,ipc,punch,share,copy,place";
}

/* A number on the command line: checked (strtonum), else a one-line error and exit 2. */
static long long num_arg(const char *opt, const char *s, long long lo, long long hi)
{
	const char *why = NULL;
	long long v = strtonum(s, lo, hi, &why);

	if (why) {
		fprintf(stderr, "mmapkit_bench: --%s %s: %s (%lld to %lld)\n", opt, s, why, lo, hi);
		exit(2);
	}
	return v;
}

/* A size: bytes, or with a unit (8M, 1G: expand_number). */
static size_t size_arg(const char *opt, const char *s)
{
	uint64_t v;

	if (expand_number(s, &v) < 0 || v == 0 || v > SIZE_MAX / 2) {
		fprintf(stderr, "mmapkit_bench: --%s %s: not a size (bytes, or 64K, 8M, 1G)\n", opt, s);
		exit(2);
	}
	return (size_t)v;
}

/* Milliseconds, fractions allowed: a whole decimal number and nothing after it. */
static double ms_arg(const char *opt, const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0 && v <= 60000)) {
		fprintf(stderr, "mmapkit_bench: --%s %s: not a time in ms (0 to 60000)\n", opt, s);
		exit(2);
	}
	return v;
}

static void parse(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{"smoke", no_argument, NULL, 's'},	   {"cpu", required_argument, NULL, 'c'},
		{"big-rounds", required_argument, NULL, 'R'},
		{"rounds", required_argument, NULL, 'r'},  {"min-ms", required_argument, NULL, 'm'},
		{"size", required_argument, NULL, 'z'},	   {"dir", required_argument, NULL, 'd'},
		{"shm-dir", required_argument, NULL, 'S'}, {"sections", required_argument, NULL, 'x'},
		{"out", required_argument, NULL, 'o'},	   {"peer", required_argument, NULL, 'p'},
		{"peer-missing", required_argument, NULL, 'P'}, {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 's': o->smoke = true; break;
		case 'c': o->cpu = (int)num_arg("cpu", optarg, 0, CPU_SETSIZE - 1); break;
		case 'r': o->rounds = (int)num_arg("rounds", optarg, 1, MAX_ROUNDS); break;
		case 'R': o->big_rounds = (int)num_arg("big-rounds", optarg, 1, MAX_ROUNDS); break;
		case 'm': o->min_ms = ms_arg("min-ms", optarg); break;
		case 'z': o->big = size_arg("size", optarg); break;
		case 'd': snprintf(o->dir, sizeof(o->dir), "%s", optarg); break;
		case 'S': snprintf(o->shm_dir, sizeof(o->shm_dir), "%s", optarg); break;
		case 'x': o->sections = optarg; break;
		case 'o': o->out = optarg; break;
		case 'p': add_peer(o, optarg, false); break;
		case 'P': add_peer(o, optarg, true); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (o->rounds > MAX_ROUNDS)
		o->rounds = MAX_ROUNDS;
	if (o->big_rounds > MAX_ROUNDS)
		o->big_rounds = MAX_ROUNDS;
	o->big -= o->big % (64 * KiB);
}

static FILE *out_file(const struct opts *o, const char *name)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", o->out, name);
	f = fopen(path, "w");
	if (!f) {
		fprintf(stderr, "mmapkit_bench: %s: %s\n", path, strerror(errno));
		exit(2);
	}
	return f;
}

static bool wanted(const struct opts *o, const char *id)
{
	size_t n = strlen(id);

	for (const char *s = o->sections; (s = strstr(s, id)); s += n)
		if ((s == o->sections || s[-1] == ',') && (s[n] == ',' || s[n] == '\0'))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	struct opts o = {.cpu = -1};

	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	parse(&o, argc, argv);
	defaults(&o);
	sched_getaffinity(0, sizeof(o.allowed), &o.allowed);
	if (o.cpu >= 0)
		pin_cpu(o.cpu);
	if (o.out) {
		mkdir(o.out, 0755);
		o.csv = out_file(&o, "results.csv");
		o.md = out_file(&o, "tables.md");
		fputs("section,case,variant,ref,metric,median,min,max,ratio,ratio_min,ratio_max,"
		      "target,verdict,rounds,note\n",
		      o.csv);
	}
	printf("mmapkit_bench: mmapkit %s, %s mode, %d rounds (%d for big operations), big size "
	       "%zu MiB, scratch %s, tmpfs %s, %s\n",
	       mmapkit_version(), o.smoke ? "smoke" : "full", o.rounds, o.big_rounds, o.big / MiB,
	       o.dir, o.shm_dir, o.cpu >= 0 ? "pinned" : "not pinned");
	/* Counting first: the tracer waits for any child, so no peer may run yet. */
	if (wanted(&o, "count"))
		bench_count(&o);
	if (wanted(&o, "share"))
		bench_share_count(&o);
	for (int i = 0; i < o.npeers; i++)
		peer_start(&o.peers[i]);
	for (size_t i = 1; i < sizeof(sections) / sizeof(sections[0]); i++)
		if (wanted(&o, sections[i].id))
			sections[i].run(&o);
	for (int i = 0; i < o.npeers; i++)
		peer_stop(&o.peers[i]);
	report_summary(&o);
	if (o.csv)
		fclose(o.csv);
	if (o.md)
		fclose(o.md);
	if (o.failures)
		return 1;
	return o.smoke && o.skipped ? 77 : 0; /* 77: CTest's "skipped" */
}
