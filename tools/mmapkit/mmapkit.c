/* SPDX-License-Identifier: MIT */
/*
 * mmapkit(1): page-cache and mapping tools for operators, next to vmtouch,
 * util-linux fincore and pmap -X.
 *
 *   mmapkit resident [-j] [-b] FILE...     what of each file is in the page cache
 *   mmapkit touch [-r RANGE] [-b] FILE...  read files (or a range) into the page cache
 *   mmapkit evict [-b] FILE...             drop files from the page cache
 *   mmapkit lock [--onfault] FILE...       lock files in memory until interrupted
 *   mmapkit maps [-j] [-b] [PID]           every mapping of a process, by category
 *
 * Exit status: 0 success, 1 an operation failed (the other files are still
 * processed), 2 bad usage.  Every failure is one line on stderr naming the
 * thing it is about.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/fs.h>

#include <bsd/libutil.h>
#include <bsd/stdlib.h>
#include <bsd/string.h>

#include "mmapkit.h"

#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE 2

static const char *prog = "mmapkit";
static bool exact_bytes; /* -b */
static bool json;        /* -j */

/* ---- output helpers ---- */

static const char *size_str(uint64_t n, char *buf, size_t cap)
{
	if (exact_bytes || n > INT64_MAX) {
		snprintf(buf, cap, "%" PRIu64, n);
		return buf;
	}
	if (humanize_number(buf, cap < 5 ? cap : 5, (int64_t)n, "", HN_AUTOSCALE,
			    HN_B | HN_NOSPACE | HN_DECIMAL) < 0)
		snprintf(buf, cap, "%" PRIu64, n);
	return buf;
}

static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

__attribute__((format(printf, 2, 3))) static void complain(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s %s: ", prog, cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* ---- files ---- */

struct file {
	const char *path;
	int fd;
	uint64_t size;
};

/*
 * Open a file to look at: never blocks (O_NONBLOCK: a FIFO), refuses what
 * has no page cache of its own.  false after one line on stderr.
 */
static bool open_file(const char *cmd, const char *path, struct file *f)
{
	struct stat st;

	f->path = path;
	f->fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (f->fd < 0) {
		complain(cmd, "%s: %s", path, strerror(errno));
		return false;
	}
	if (fstat(f->fd, &st) < 0) {
		complain(cmd, "%s: %s", path, strerror(errno));
		close(f->fd);
		return false;
	}
	if (S_ISREG(st.st_mode)) {
		f->size = (uint64_t)st.st_size;
	} else if (S_ISBLK(st.st_mode)) {
		if (ioctl(f->fd, BLKGETSIZE64, &f->size) < 0) {
			complain(cmd, "%s: %s", path, strerror(errno));
			close(f->fd);
			return false;
		}
	} else {
		complain(cmd, "%s: %s", path,
			 S_ISDIR(st.st_mode)    ? "is a directory"
			 : S_ISFIFO(st.st_mode) ? "is a FIFO, which has no page cache"
			 : S_ISSOCK(st.st_mode) ? "is a socket, which has no page cache"
						: "is a device without a page cache of its own");
		close(f->fd);
		return false;
	}
	if (f->size > PTRDIFF_MAX) {
		complain(cmd, "%s: %" PRIu64 " bytes are too many to map", path, f->size);
		close(f->fd);
		return false;
	}
	return true;
}

/* A read-only private handle over [off, off + len) of the file (len 0: to the end). */
static mmapkit_map *map_file(const char *cmd, const struct file *f, uint64_t off, size_t len,
			     unsigned flags)
{
	mmapkit_map *m;
	int r = mmapkit_fd_private(&m, f->fd, off, len, MMAPKIT_RDONLY | flags);

	if (r < 0) {
		complain(cmd, "%s: %s", f->path, mmapkit_errmsg());
		return NULL;
	}
	return m;
}

/* ---- resident ---- */

struct residency {
	bool known;
	char why[512];
	uint64_t resident, dirty, writeback;
	bool has_dirty; /* cachestat told */
};

/*
 * The page cache's answer: cachestat(2) where the kernel has it (one call
 * for any size, and dirty and writeback too), else mmapkit_resident (mincore
 * through a mapping).  Either refuses a file the caller can neither write
 * nor owns: then the answer is unknown, never the all-resident mincore makes up.
 */
static bool residency(const char *cmd, const struct file *f, struct residency *r)
{
	uint64_t range[2] = {0, f->size}, cs[5];
	mmapkit_map *m;
	int e;

	memset(r, 0, sizeof(*r));
	r->known = true;
	if (f->size == 0)
		return true;
	if (syscall(SYS_cachestat, f->fd, range, cs, 0) == 0) {
		r->resident = cs[0] * (uint64_t)mmapkit_page_size();
		r->dirty = cs[1] * (uint64_t)mmapkit_page_size();
		r->writeback = cs[2] * (uint64_t)mmapkit_page_size();
		r->has_dirty = true;
		return true;
	}
	if (errno == EPERM) {
		r->known = false;
		strlcpy(r->why, "the kernel hides the page cache of a file you can neither write nor own", sizeof(r->why));
		return true;
	}
	if (errno != ENOSYS) {
		complain(cmd, "%s: cachestat: %s", f->path, strerror(errno));
		return false;
	}
	if (!(m = map_file(cmd, f, 0, 0, 0)))
		return false;
	e = mmapkit_resident(m, 0, MMAPKIT_TO_END, &r->resident, NULL);
	if (e == -EPERM) {
		r->known = false;
		strlcpy(r->why, "the kernel hides the page cache of a file you can neither write nor own", sizeof(r->why));
	} else if (e < 0) {
		complain(cmd, "%s: %s", f->path, mmapkit_errmsg());
	}
	mmapkit_unmap(m);
	return e == 0 || e == -EPERM;
}

static uint64_t pages_of(uint64_t bytes)
{
	uint64_t pg = mmapkit_page_size();

	return (bytes + pg - 1) / pg;
}

static void resident_row(const struct file *f, const struct residency *r, bool *first)
{
	char a[32], b[32], c[32], d[32];
	double pct = f->size ? 100.0 * (double)r->resident / (double)(pages_of(f->size) * mmapkit_page_size()) : 0;

	if (json) {
		printf("%s\n    {\"file\": ", *first ? "" : ",");
		json_str(f->path);
		printf(", \"size\": %" PRIu64 ", \"pages\": %" PRIu64, f->size, pages_of(f->size));
		if (!r->known) {
			printf(", \"resident\": null, \"unknown\": ");
			json_str(r->why);
		} else {
			printf(", \"resident\": %" PRIu64 ", \"resident_pages\": %" PRIu64
			       ", \"percent\": %.1f",
			       r->resident, r->resident / mmapkit_page_size(), pct);
			if (r->has_dirty)
				printf(", \"dirty\": %" PRIu64 ", \"writeback\": %" PRIu64, r->dirty,
				       r->writeback);
		}
		putchar('}');
		*first = false;
		return;
	}
	if (!r->known) {
		printf("%10s %10s %21s %6s %9s %9s  %s (unknown: %s)\n", size_str(f->size, a, sizeof(a)),
		       "unknown", "unknown", "?", "-", "-", f->path, r->why);
		return;
	}
	snprintf(c, sizeof(c), "%" PRIu64 "/%" PRIu64, r->resident / mmapkit_page_size(),
		 pages_of(f->size));
	printf("%10s %10s %21s %5.1f%% ", size_str(f->size, a, sizeof(a)),
	       size_str(r->resident, b, sizeof(b)), c, pct);
	if (r->has_dirty)
		printf("%9s %9s  %s\n", size_str(r->dirty, c, sizeof(c)),
		       size_str(r->writeback, d, sizeof(d)), f->path);
	else
		printf("%9s %9s  %s\n", "-", "-", f->path);
}

static int cmd_resident(int argc, char **argv);
static int cmd_touch(int argc, char **argv);
static int cmd_evict(int argc, char **argv);
static int cmd_lock(int argc, char **argv);
static int cmd_maps(int argc, char **argv);

static const struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *usage;
	const char *help;
} commands[] = {
	{"resident", cmd_resident, "resident [-j] [-b] FILE...",
	 "Show, per file and in total, the size, the bytes and pages in the page cache, the\n"
	 "percentage, and dirty and writeback bytes where the kernel tells (cachestat).\n"
	 "A file whose page cache the kernel hides from you (you can neither write nor\n"
	 "own it) is \"unknown\", with the reason, never a made-up figure.\n"
	 "  -j  JSON output\n  -b  exact bytes rather than human sizes\n"},
	{"touch", cmd_touch, "touch [-r RANGE] [-b] FILE...",
	 "Read the files (or RANGE of each) into the page cache (vmtouch -t).\n"
	 "  -r RANGE  SIZE (the first SIZE bytes), OFF-END or OFF- (to the end);\n"
	 "            sizes like 4096, 64K, 1.5G (powers of 1024)\n"
	 "  -b        exact bytes rather than human sizes\n"},
	{"evict", cmd_evict, "evict [-b] FILE...",
	 "Drop the files' clean pages from the page cache (vmtouch -e); dirty pages are\n"
	 "written back first and stay until that finishes.\n"
	 "  -b  exact bytes rather than human sizes\n"},
	{"lock", cmd_lock, "lock [--onfault] FILE...",
	 "Read the files into memory and lock them there until interrupted (vmtouch -l).\n"
	 "  --onfault  lock pages only as they are touched (by anyone reading them)\n"},
	{"maps", cmd_maps, "maps [-j] [-b] [PID]",
	 "Every mapping of process PID (default: this one) with its category (anon\n"
	 "private, anon shared, file private, file shared, special: stack, heap, vdso,\n"
	 "device, guard) and its Rss, Pss, private and shared dirty, swap and locked\n"
	 "bytes; then the totals per category.\n"
	 "  -j  JSON output\n  -b  exact bytes rather than human sizes\n"},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage_all(FILE *to)
{
	fprintf(to, "usage: %s [--help] COMMAND [ARGS]\n\ncommands:\n", prog);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(to, "  %s %s\n", prog, commands[i].usage);
	fprintf(to, "\n'%s COMMAND --help' describes one; exit status: 0 success, 1 an operation failed, 2 bad usage.\n",
		prog);
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static int command_help(const char *name, FILE *to, int status)
{
	const struct command *c = find_command(name);

	fprintf(to, "usage: %s %s\n\n%s", prog, c->usage, c->help);
	return status;
}

/*
 * Options of one command: `opts` are the short options it takes besides -h;
 * returns the index of the first operand, or -1 after printing help (*status).
 */
static int parse_opts(const char *cmd, int argc, char **argv, const char *opts,
		      const struct option *extra, int (*take)(int c, const char *arg),
		      int *status)
{
	struct option longs[8] = {{"help", no_argument, NULL, 'h'}};
	char shorts[32];
	int c, n = 1;

	for (const struct option *o = extra; o && o->name; o++)
		longs[n++] = *o;
	memset(&longs[n], 0, sizeof(longs[n]));
	snprintf(shorts, sizeof(shorts), "+h%s", opts);
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, longs, NULL)) != -1) {
		if (c == 'h') {
			*status = command_help(cmd, stdout, 0);
			return -1;
		}
		if (c == '?' || c == ':') {
			if (optopt)
				complain(cmd, "-%c: %s", optopt,
					 strchr(opts, optopt) ? "needs an argument" : "unknown option");
			else
				complain(cmd, "%s: unknown option", argv[optind - 1]);
			*status = command_help(cmd, stderr, EXIT_USAGE);
			return -1;
		}
		if (take(c, optarg) < 0) {
			*status = EXIT_USAGE;
			return -1;
		}
	}
	return optind;
}

static int take_jb(int c, const char *arg)
{
	(void)arg;
	if (c == 'j')
		json = true;
	else if (c == 'b')
		exact_bytes = true;
	return 0;
}

static int need_files(const char *cmd, int first, int argc, int *status)
{
	if (first < argc)
		return 0;
	complain(cmd, "no FILE given");
	*status = command_help(cmd, stderr, EXIT_USAGE);
	return -1;
}

static int cmd_resident(int argc, char **argv)
{
	uint64_t tsize = 0, tres = 0, tdirty = 0, twb = 0, nfiles = 0, nunknown = 0;
	int status = 0, first = parse_opts("resident", argc, argv, "jb", NULL, take_jb, &status);
	bool first_row = true, all_dirty = true;
	char a[32], b[32], c[32], d[32], e[32];

	if (first < 0 || need_files("resident", first, argc, &status) < 0)
		return status;
	if (json)
		printf("{\"files\": [");
	else
		printf("%10s %10s %21s %6s %9s %9s  %s\n", "SIZE", "RESIDENT", "PAGES", "%", "DIRTY",
		       "WRITEBACK", "FILE");
	for (int i = first; i < argc; i++) {
		struct residency r;
		struct file f;

		if (!open_file("resident", argv[i], &f)) {
			status = EXIT_FAILED;
			continue;
		}
		if (residency("resident", &f, &r)) {
			resident_row(&f, &r, &first_row);
			nfiles++;
			if (r.known) {
				tsize += f.size;
				tres += r.resident;
				tdirty += r.dirty;
				twb += r.writeback;
				all_dirty &= r.has_dirty;
			} else {
				nunknown++;
				status = EXIT_FAILED;
			}
		} else {
			status = EXIT_FAILED;
		}
		close(f.fd);
	}
	if (json) {
		printf("\n  ],\n  \"total\": {\"files\": %" PRIu64 ", \"unknown\": %" PRIu64
		       ", \"size\": %" PRIu64 ", \"resident\": %" PRIu64,
		       nfiles, nunknown, tsize, tres);
		if (all_dirty)
			printf(", \"dirty\": %" PRIu64 ", \"writeback\": %" PRIu64, tdirty, twb);
		printf("}}\n");
		return status;
	}
	if (nfiles > 1) {
		snprintf(c, sizeof(c), "%" PRIu64 "/%" PRIu64, tres / mmapkit_page_size(),
			 pages_of(tsize));
		printf("%10s %10s %21s %5.1f%% %9s %9s  total of %" PRIu64 " file%s%s\n",
		       size_str(tsize, a, sizeof(a)), size_str(tres, b, sizeof(b)), c,
		       tsize ? 100.0 * (double)tres / (double)(pages_of(tsize) * mmapkit_page_size()) : 0.0,
		       all_dirty ? size_str(tdirty, d, sizeof(d)) : "-",
		       all_dirty ? size_str(twb, e, sizeof(e)) : "-", nfiles - nunknown,
		       nfiles - nunknown == 1 ? "" : "s", nunknown ? " (unknown ones left out)" : "");
	}
	return status;
}

/* ---- touch ---- */

static uint64_t range_off, range_end; /* range_end 0: to the end of the file */
static bool have_range;

static int parse_size(const char *what, const char *s, uint64_t *out)
{
	if (!*s || *s == '-' || *s == '+' || expand_number(s, out) < 0) {
		complain("touch", "-r %s: %s is not a size (examples: 4096, 64K, 1.5G)", what,
			 *s ? s : "\"\"");
		return -1;
	}
	return 0;
}

static int take_touch(int c, const char *arg)
{
	char buf[128];
	char *dash;

	if (c == 'b')
		exact_bytes = true;
	if (c != 'r')
		return 0;
	if (strlcpy(buf, arg, sizeof(buf)) >= sizeof(buf)) {
		complain("touch", "-r %s: too long", arg);
		return -1;
	}
	have_range = true;
	dash = strchr(buf, '-');
	if (!dash) { /* SIZE: the first SIZE bytes */
		range_off = 0;
		return parse_size(arg, buf, &range_end);
	}
	*dash = '\0';
	if (dash == buf) {
		complain("touch", "-r %s: not a range (SIZE, OFF-END or OFF-)", arg);
		return -1;
	}
	if (parse_size(arg, buf, &range_off) < 0)
		return -1;
	range_end = 0;
	if (dash[1] && parse_size(arg, dash + 1, &range_end) < 0)
		return -1;
	if (dash[1] && range_end <= range_off) {
		complain("touch", "-r %s: the end is not past the start", arg);
		return -1;
	}
	return 0;
}

static int cmd_touch(int argc, char **argv)
{
	int status = 0, first = parse_opts("touch", argc, argv, "r:b", NULL, take_touch, &status);
	char a[32];

	if (first < 0 || need_files("touch", first, argc, &status) < 0)
		return status;
	for (int i = first; i < argc; i++) {
		uint64_t off = have_range ? range_off : 0, end;
		struct file f;
		mmapkit_map *m;
		int r;

		if (!open_file("touch", argv[i], &f)) {
			status = EXIT_FAILED;
			continue;
		}
		end = have_range && range_end && range_end < f.size ? range_end : f.size;
		if (off >= end) {
			printf("touched %s: nothing (the range starts at or past its end, %s)\n", f.path,
			       size_str(f.size, a, sizeof(a)));
			close(f.fd);
			continue;
		}
		m = map_file("touch", &f, off, (size_t)(end - off), 0);
		if (!m) {
			status = EXIT_FAILED;
			close(f.fd);
			continue;
		}
		/*
		 * A range: exactly its pages (no read-ahead past it: RANDOM, then
		 * WILLNEED reads the range in large requests); a whole file may
		 * read ahead as it likes.
		 */
		r = 0;
		if (have_range)
			r = mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_RANDOM);
		if (!r && have_range)
			r = mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_WILLNEED);
		if (!r)
			r = mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_POPULATE_READ);
		if (r == -EOPNOTSUPP || r == -EINVAL) { /* before 5.14: read a byte of each page */
			volatile const unsigned char *p = mmapkit_ptr(m);
			unsigned sum = 0;

			for (size_t k = 0; k < mmapkit_len(m); k += mmapkit_page_size())
				sum += p[k];
			(void)sum;
			r = 0;
		}
		if (r < 0) {
			complain("touch", "%s: %s", f.path, mmapkit_errmsg());
			status = EXIT_FAILED;
		} else {
			printf("touched %s: %s from offset %" PRIu64 "\n", f.path,
			       size_str(end - off, a, sizeof(a)), off);
		}
		mmapkit_unmap(m);
		close(f.fd);
	}
	return status;
}

/* ---- evict ---- */

static int cmd_evict(int argc, char **argv)
{
	int status = 0, first = parse_opts("evict", argc, argv, "b", NULL, take_jb, &status);
	char a[32];

	if (first < 0 || need_files("evict", first, argc, &status) < 0)
		return status;
	for (int i = first; i < argc; i++) {
		struct file f;
		int e;

		if (!open_file("evict", argv[i], &f)) {
			status = EXIT_FAILED;
			continue;
		}
		e = posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED);
		if (e) {
			complain("evict", "%s: posix_fadvise: %s", f.path, strerror(e));
			status = EXIT_FAILED;
		} else {
			printf("evicted %s (%s)\n", f.path, size_str(f.size, a, sizeof(a)));
		}
		close(f.fd);
	}
	return status;
}

/* ---- lock ---- */

static bool onfault;

static int take_lock(int c, const char *arg)
{
	(void)arg;
	if (c == 'o')
		onfault = true;
	return 0;
}

static volatile sig_atomic_t stop_signal;

static void on_stop(int sig)
{
	stop_signal = sig;
}

static int cmd_lock(int argc, char **argv)
{
	static const struct option longs[] = {{"onfault", no_argument, NULL, 'o'}, {0}};
	int status = 0, first = parse_opts("lock", argc, argv, "", longs, take_lock, &status);
	mmapkit_map **maps;
	uint64_t total = 0;
	size_t n = 0;
	sigset_t block, old;
	struct sigaction sa = {.sa_handler = on_stop};
	char a[32];

	if (first < 0 || need_files("lock", first, argc, &status) < 0)
		return status;
	maps = reallocarray(NULL, (size_t)(argc - first), sizeof(*maps));
	if (!maps) {
		complain("lock", "out of memory");
		return EXIT_FAILED;
	}
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigprocmask(SIG_BLOCK, &block, &old);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	for (int i = first; i < argc; i++) {
		struct file f;
		mmapkit_map *m;
		int r;

		if (!open_file("lock", argv[i], &f)) {
			status = EXIT_FAILED;
			continue;
		}
		if (f.size == 0) {
			close(f.fd);
			continue;
		}
		m = map_file("lock", &f, 0, 0, onfault ? 0 : MMAPKIT_LOCK);
		close(f.fd);
		if (!m) {
			status = EXIT_FAILED;
			continue;
		}
		if (onfault && (r = mmapkit_lock(m, 0, MMAPKIT_TO_END, MMAPKIT_LOCK_ONFAULT)) < 0) {
			complain("lock", "%s: %s", f.path, mmapkit_errmsg());
			mmapkit_unmap(m);
			status = EXIT_FAILED;
			continue;
		}
		maps[n++] = m;
		total += mmapkit_len(m);
	}
	if (n) {
		printf("locked %zu file%s, %s%s; interrupt to unlock\n", n, n == 1 ? "" : "s",
		       size_str(total, a, sizeof(a)), onfault ? " (as touched)" : "");
		fflush(stdout);
		while (!stop_signal)
			sigsuspend(&old);
	}
	for (size_t i = 0; i < n; i++)
		mmapkit_unmap(maps[i]);
	free(maps);
	return status;
}

/* ---- maps ---- */

enum category { C_ANON_PRIVATE, C_ANON_SHARED, C_FILE_PRIVATE, C_FILE_SHARED, C_SPECIAL, C_COUNT };

static const char *const category_names[C_COUNT] = {"anon private", "anon shared",
						    "file private", "file shared", "special"};

struct vma {
	unsigned long lo, hi;
	char perms[5];
	char name[PATH_MAX + 32];
	enum category cat;
	const char *special; /* stack, heap, vdso, device, guard... */
	uint64_t size, rss, pss, private_dirty, shared_dirty, swap, locked;
};

static void classify(struct vma *v, unsigned long inode)
{
	const char *n = v->name;
	bool shared = v->perms[3] == 's';

	v->special = NULL;
	if (strcmp(n, "[heap]") == 0)
		v->special = "heap";
	else if (strncmp(n, "[stack", 6) == 0)
		v->special = "stack";
	else if (strcmp(n, "[vdso]") == 0 || strcmp(n, "[vvar]") == 0 ||
		 strcmp(n, "[vsyscall]") == 0 || strncmp(n, "[vvar_", 6) == 0)
		v->special = n[2] == 'd' ? "vdso" : n[2] == 's' ? "vsyscall" : "vvar";
	else if (strncmp(n, "/dev/", 5) == 0 && strncmp(n, "/dev/shm/", 9) != 0 &&
		 strncmp(n, "/dev/zero", 9) != 0 && strncmp(n, "/dev/hugepages", 14) != 0)
		v->special = "device";
	else if (!*n && !inode && strcmp(v->perms, "---p") == 0)
		v->special = "guard";
	if (v->special) {
		v->cat = C_SPECIAL;
		return;
	}
	if (!*n || strncmp(n, "[anon", 5) == 0 || strncmp(n, "/dev/zero", 9) == 0 ||
	    strncmp(n, "/SYSV", 5) == 0 || n[0] == '[')
		v->cat = strncmp(n, "[anon_shmem", 11) == 0 || strncmp(n, "/dev/zero", 9) == 0 ||
				 strncmp(n, "/SYSV", 5) == 0 || shared
			 ? C_ANON_SHARED
			 : C_ANON_PRIVATE;
	else
		v->cat = shared ? C_FILE_SHARED : C_FILE_PRIVATE;
}

static uint64_t *field_of(struct vma *v, const char *key)
{
	static const struct {
		const char *key;
		size_t off;
	} fields[] = {
		{"Size:", offsetof(struct vma, size)},
		{"Rss:", offsetof(struct vma, rss)},
		{"Pss:", offsetof(struct vma, pss)},
		{"Private_Dirty:", offsetof(struct vma, private_dirty)},
		{"Shared_Dirty:", offsetof(struct vma, shared_dirty)},
		{"Swap:", offsetof(struct vma, swap)},
		{"Locked:", offsetof(struct vma, locked)},
	};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		if (strcmp(key, fields[i].key) == 0)
			return (uint64_t *)((char *)v + fields[i].off);
	return NULL;
}

static void add_to(struct vma *t, const struct vma *v)
{
	t->size += v->size;
	t->rss += v->rss;
	t->pss += v->pss;
	t->private_dirty += v->private_dirty;
	t->shared_dirty += v->shared_dirty;
	t->swap += v->swap;
	t->locked += v->locked;
}

static void print_figures(const struct vma *v)
{
	char b[7][32];

	if (json) {
		printf("\"size\": %" PRIu64 ", \"rss\": %" PRIu64 ", \"pss\": %" PRIu64
		       ", \"private_dirty\": %" PRIu64 ", \"shared_dirty\": %" PRIu64
		       ", \"swap\": %" PRIu64 ", \"locked\": %" PRIu64,
		       v->size, v->rss, v->pss, v->private_dirty, v->shared_dirty, v->swap,
		       v->locked);
		return;
	}
	printf("%8s %8s %8s %8s %8s %8s %8s", size_str(v->size, b[0], 32), size_str(v->rss, b[1], 32),
	       size_str(v->pss, b[2], 32), size_str(v->private_dirty, b[3], 32),
	       size_str(v->shared_dirty, b[4], 32), size_str(v->swap, b[5], 32),
	       size_str(v->locked, b[6], 32));
}

static void print_vma(const struct vma *v, bool *first)
{
	if (json) {
		printf("%s\n    {\"start\": \"%lx\", \"end\": \"%lx\", \"perms\": \"%s\", \"category\": \"%s\"",
		       *first ? "" : ",", v->lo, v->hi, v->perms, category_names[v->cat]);
		if (v->special)
			printf(", \"special\": \"%s\"", v->special);
		printf(", ");
		print_figures(v);
		printf(", \"mapping\": ");
		json_str(v->name);
		putchar('}');
		*first = false;
		return;
	}
	printf("%012lx %s %-13s ", v->lo, v->perms,
	       v->special ? v->special : category_names[v->cat]);
	print_figures(v);
	printf("  %s\n", v->name);
}

static int take_maps(int c, const char *arg)
{
	return take_jb(c, arg);
}

static int cmd_maps(int argc, char **argv)
{
	int status = 0, first = parse_opts("maps", argc, argv, "jb", NULL, take_maps, &status);
	struct vma totals[C_COUNT + 1], v;
	char path[64], line[PATH_MAX + 256];
	long long pid = getpid();
	const char *err = NULL;
	bool in = false, first_row = true;
	FILE *fp;

	if (first < 0)
		return status;
	if (argc - first > 1) {
		complain("maps", "%s: one PID at most", argv[first + 1]);
		return command_help("maps", stderr, EXIT_USAGE);
	}
	if (first < argc) {
		pid = strtonum(argv[first], 1, INT_MAX, &err);
		if (err) {
			complain("maps", "PID %s: not a process ID (%s)", argv[first], err);
			return EXIT_USAGE;
		}
	}
	snprintf(path, sizeof(path), "/proc/%lld/smaps", pid);
	fp = fopen(path, "re");
	if (!fp) {
		complain("maps", "PID %lld: %s", pid,
			 errno == ENOENT ? "no such process"
			 : errno == EACCES || errno == EPERM ? "not allowed to inspect it (another user's process)"
							     : strerror(errno));
		return EXIT_FAILED;
	}
	memset(totals, 0, sizeof(totals));
	memset(&v, 0, sizeof(v));
	if (json)
		printf("{\"pid\": %lld, \"mappings\": [", pid);
	else
		printf("%-12s %-4s %-13s %8s %8s %8s %8s %8s %8s %8s  %s\n", "ADDRESS", "PERM",
		       "CATEGORY", "SIZE", "RSS", "PSS", "PRIV_DTY", "SHR_DTY", "SWAP", "LOCKED",
		       "MAPPING");
	while (fgets(line, sizeof(line), fp)) {
		unsigned long lo, hi, off, inode;
		char dev[16], key[64], perms[5];
		int name_at = 0;
		unsigned long long kb;

		if (sscanf(line, "%lx-%lx %4s %lx %15s %lu %n", &lo, &hi, perms, &off, dev, &inode,
			   &name_at) >= 6 && strchr(line, '-') < strchr(line, ' ')) {
			if (in) {
				print_vma(&v, &first_row);
				add_to(&totals[v.cat], &v);
				add_to(&totals[C_COUNT], &v);
			}
			in = true;
			memset(&v.size, 0, sizeof(v) - offsetof(struct vma, size));
			v.lo = lo;
			v.hi = hi;
			memcpy(v.perms, perms, sizeof(v.perms));
			strlcpy(v.name, name_at ? line + name_at : "", sizeof(v.name));
			v.name[strcspn(v.name, "\n")] = '\0';
			classify(&v, inode);
			continue;
		}
		if (in && sscanf(line, "%63s %llu kB", key, &kb) == 2) {
			uint64_t *f = field_of(&v, key);

			if (f)
				*f = (uint64_t)kb * 1024;
		}
	}
	if (ferror(fp)) {
		complain("maps", "PID %lld: reading %s: %s", pid, path, strerror(errno));
		status = EXIT_FAILED;
	}
	fclose(fp);
	if (in) {
		print_vma(&v, &first_row);
		add_to(&totals[v.cat], &v);
		add_to(&totals[C_COUNT], &v);
	} else if (!status) {
		complain("maps", "PID %lld: no mappings (a kernel thread, or it exited)", pid);
		status = EXIT_FAILED;
	}
	if (json) {
		printf("\n  ],\n  \"totals\": {");
		for (int c = 0; c <= C_COUNT; c++) {
			printf("%s\n    \"%s\": {", c ? "," : "", c < C_COUNT ? category_names[c] : "all");
			print_figures(&totals[c]);
			putchar('}');
		}
		printf("\n  }}\n");
		return status;
	}
	printf("\n%-31s %8s %8s %8s %8s %8s %8s %8s\n", "TOTAL", "SIZE", "RSS", "PSS", "PRIV_DTY",
	       "SHR_DTY", "SWAP", "LOCKED");
	for (int c = 0; c <= C_COUNT; c++) {
		printf("%-31s ", c < C_COUNT ? category_names[c] : "all");
		print_figures(&totals[c]);
		putchar('\n');
	}
	return status;
}

int main(int argc, char **argv)
{
	const struct command *c;

	if (argc < 2) {
		usage_all(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		if (argc > 2 && find_command(argv[2]))
			return command_help(argv[2], stdout, 0);
		usage_all(stdout);
		return 0;
	}
	c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "%s: %s: unknown command\n", prog, argv[1]);
		usage_all(stderr);
		return EXIT_USAGE;
	}
	return c->fn(argc - 1, argv + 1);
}
