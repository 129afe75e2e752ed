/* SPDX-License-Identifier: MIT */
/*
 * Section 9: placement, guards and secrets.
 *  - create + write every page + unmap of a guarded 64 KiB mapping: light
 *    guards (MADV_GUARD_INSTALL) against guard pages of their own
 *    (inaccessible mappings, as by hand and as kernels before 6.13 get),
 *    MMAPKIT_SECURE, and libsodium's sodium_malloc/sodium_free; and the
 *    /proc/self/maps lines each costs per live allocation.
 *  - checksum of a file on a tmpfs mounted huge=always (mounted for the run,
 *    needs root), mapped 2 MiB-aligned (opts.align), deliberately unaligned
 *    (opts.addr 4 KiB past a 2 MiB boundary), and read().
 *  - first touch of anonymous memory with MMAPKIT_THP and align 2 MiB,
 *    against MMAPKIT_THP at an address 4 KiB past a 2 MiB boundary, and
 *    without THP.
 * The kernel itself places large anonymous and tmpfs mappings on 2 MiB
 * boundaries; "unaligned" takes opts.addr to show what alignment is worth.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

/* ---- guarded 64 KiB ---- */

enum { G_LIGHT, G_SECURE, G_RAW_RESERVED, G_RAW_LIGHT, G_SODIUM };

struct garg {
	int how;
	size_t size;
};

/* libsodium through dlopen: the benchmark builds and runs without it. */
static struct {
	int (*init)(void);
	void *(*alloc)(size_t);
	void (*release)(void *);
	const char *why;
} sodium;

static void sodium_load(void)
{
	void *h = dlopen("libsodium.so.23", RTLD_NOW | RTLD_LOCAL);

	if (!h) {
		sodium.why = "libsodium23 is not installed";
		return;
	}
	sodium.init = (int (*)(void))dlsym(h, "sodium_init");
	sodium.alloc = (void *(*)(size_t))dlsym(h, "sodium_malloc");
	sodium.release = (void (*)(void *))dlsym(h, "sodium_free");
	if (!sodium.init || !sodium.alloc || !sodium.release || sodium.init() < 0) {
		sodium.why = "libsodium could not be initialised";
		sodium.alloc = NULL;
	}
}

static void write_pages(unsigned char *p, size_t size)
{
	for (size_t i = 0; i < size; i += 4096)
		((volatile unsigned char *)p)[i] = 1;
}

static size_t pagesz(void)
{
	return (size_t)sysconf(_SC_PAGESIZE);
}

/* By hand, as before 6.13: an inaccessible reservation, the pages mapped over its middle. */
static unsigned char *raw_reserved(size_t size)
{
	size_t pg = pagesz();
	unsigned char *r = mmap(NULL, size + 2 * pg, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	if (r == MAP_FAILED)
		return NULL;
	if (mmap(r + pg, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
		 0) == MAP_FAILED) {
		munmap(r, size + 2 * pg);
		return NULL;
	}
	return r + pg;
}

/* By hand, 6.13: one mapping, a guard marker on its first and last page. */
static unsigned char *raw_light(size_t size)
{
	size_t pg = pagesz();
	unsigned char *r = mmap(NULL, size + 2 * pg, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (r == MAP_FAILED)
		return NULL;
	if (madvise(r, pg, MADV_GUARD_INSTALL) < 0 ||
	    madvise(r + pg + size, pg, MADV_GUARD_INSTALL) < 0) {
		munmap(r, size + 2 * pg);
		return NULL;
	}
	return r + pg;
}

/* One allocation of the variant; *h receives the handle where there is one. */
static unsigned char *g_alloc(const struct garg *a, mmapkit_map **h)
{
	switch (a->how) {
	case G_LIGHT:
	case G_SECURE:
		if (mmapkit_anon_private(h, a->size, a->how == G_LIGHT ? MMAPKIT_GUARD
								       : MMAPKIT_SECURE) < 0)
			return NULL;
		return mmapkit_ptr(*h);
	case G_RAW_RESERVED:
		return raw_reserved(a->size);
	case G_RAW_LIGHT:
		return raw_light(a->size);
	default:
		return sodium.alloc(a->size);
	}
}

static void g_free(const struct garg *a, unsigned char *p, mmapkit_map *h)
{
	if (a->how == G_LIGHT || a->how == G_SECURE)
		mmapkit_unmap(h);
	else if (a->how == G_SODIUM)
		sodium.release(p);
	else
		munmap(p - pagesz(), a->size + 2 * pagesz());
}

static int guarded(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct garg *a = arg;
	double t0 = now_ns();

	for (long i = 0; i < iters; i++) {
		mmapkit_map *h = NULL;
		unsigned char *p = g_alloc(a, &h);

		if (!p) {
			snprintf(err, errlen, "allocation failed: %s",
				 a->how <= G_SECURE ? mmapkit_errmsg() : strerror(errno));
			return -1;
		}
		write_pages(p, a->size);
		g_free(a, p, h);
	}
	*ns = now_ns() - t0;
	return 0;
}

static int maps_lines(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0, ch;

	if (!f)
		return -1;
	while ((ch = fgetc(f)) != EOF)
		n += ch == '\n';
	fclose(f);
	return n;
}

/* Mapping lines per live allocation, over n of them. */
static double lines_per(const struct garg *a, int n)
{
	unsigned char **p = calloc((size_t)n, sizeof(*p));
	mmapkit_map **h = calloc((size_t)n, sizeof(*h));
	int before = maps_lines(), after = before, got = 0;

	if (!p || !h)
		goto out;
	for (; got < n; got++) {
		p[got] = g_alloc(a, &h[got]);
		if (!p[got])
			break;
	}
	after = maps_lines();
	for (int i = 0; i < got; i++)
		g_free(a, p[i], h[i]);
out:
	free(p);
	free(h);
	return got ? (double)(after - before) / got : -1;
}

static void guard_case(struct opts *o)
{
	static const char *const names[] = {
		"mmapkit GUARD (light guards)", "mmapkit SECURE", "raw: guard mappings of their own",
		"raw: MADV_GUARD_INSTALL", "libsodium sodium_malloc",
	};
	struct garg a[5];
	struct bcase c = {.section = "guard"};
	static char note[512];
	size_t at = 0;
	int n = o->smoke ? 200 : 2000;

	section_begin(o, "guard", "9. Guarded 64 KiB allocations",
		      "Create, write every page, free; mapping lines per live allocation.");
	c.title = "guarded 64 KiB: create + write 16 pages + free";
	c.label = "guarded 64 KiB";
	sodium_load();
	for (int i = 0; i < 5; i++) {
		a[i] = (struct garg){.how = i, .size = 64 * KiB};
		if (i == G_SODIUM && !sodium.alloc)
			case_missing(&c, names[i], sodium.why);
		else
			case_add(&c, names[i], guarded, &a[i]);
	}
	/* light against guard mappings of their own, both by hand and through mmapkit */
	case_cmp(&c, G_LIGHT, G_RAW_RESERVED, 0, NULL);
	case_cmp(&c, G_RAW_LIGHT, G_RAW_RESERVED, 0, NULL);
	case_cmp(&c, G_LIGHT, G_RAW_LIGHT, 1.05, "mmapkit adds its handle to the three calls");
	if (sodium.alloc) {
		case_cmp(&c, G_LIGHT, G_SODIUM, 0, NULL);
		case_cmp(&c, G_SECURE, G_SODIUM, 0, NULL);
	}
	for (int i = 0; i < 5; i++) {
		double l = i == G_SODIUM && !sodium.alloc ? -1 : lines_per(&a[i], n);

		at += (size_t)snprintf(note + at, sizeof(note) - at, "%s%s: %.2f", at ? "; " : "",
				       names[i], l);
		csv_row(o, "guard", "maps lines per allocation", names[i], "", "lines", l, l, l, -1,
			-1, -1, 0, l < 0 ? "missing" : "", 1, "");
	}
	snprintf(note + at, sizeof(note) - at, " (/proc/self/maps lines per live allocation, %d live)",
		 n);
	c.note = note;
	run_case(o, &c);
}

/* ---- checksum on a tmpfs mounted huge=always ---- */

struct harg {
	const char *path;
	size_t size;
	uint64_t want;
	size_t align;       /* opts.align */
	bool misaligned;    /* opts.addr 4 KiB past a 2 MiB boundary */
	unsigned flags;
	unsigned char *buf; /* read() */
	double pmd_kb;      /* PMD-mapped kB seen by the last pass */
};

/* A free spot 4 KiB past a 2 MiB boundary, for size bytes. */
static void *misaligned_spot(size_t size)
{
	unsigned char *r = mmap(NULL, size + 4 * MiB, PROT_NONE,
				MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t a;

	if (r == MAP_FAILED)
		return NULL;
	munmap(r, size + 4 * MiB);
	a = ((uintptr_t)r + 2 * MiB - 1) / (2 * MiB) * (2 * MiB);
	return (void *)(a + 4 * KiB);
}

static long smaps_kb(const void *addr, const char *field)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[256];
	bool in = false;
	long kb = 0, v;
	size_t n = strlen(field);

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (in && strncmp(line, field, n) == 0 && line[n] == ':' &&
			 sscanf(line + n + 1, "%ld", &v) == 1)
			kb = v;
	}
	fclose(f);
	return kb;
}

static int mk_map(mmapkit_map **m, int kind, const char *path, size_t size, unsigned flags,
		  size_t align, bool misaligned)
{
	struct mmapkit_opts op = {.sz = sizeof(op), .kind = kind, .flags = flags, .path = path,
				  .fd = -1, .len = size, .align = align};

	if (misaligned && !(op.addr = misaligned_spot(size)))
		return -ENOMEM;
	return mmapkit_map_new(m, &op);
}

static int huge_sum(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	struct harg *a = arg;
	double t0 = now_ns();
	mmapkit_map *m;
	uint64_t s;

	(void)iters;
	if (mk_map(&m, MMAPKIT_FILE_SHARED, a->path, a->size, MMAPKIT_RDONLY | a->flags, a->align,
		   a->misaligned) < 0) {
		snprintf(err, errlen, "%s", mmapkit_errmsg());
		return -1;
	}
	s = sum64(mmapkit_ptr(m), mmapkit_len(m));
	*ns = now_ns() - t0;
	a->pmd_kb = (double)(smaps_kb(mmapkit_ptr(m), "ShmemPmdMapped") +
			     smaps_kb(mmapkit_ptr(m), "FilePmdMapped"));
	mmapkit_unmap(m);
	if (s != a->want) {
		snprintf(err, errlen, "checksum %" PRIu64 ", expected %" PRIu64, s, a->want);
		return -1;
	}
	return 0;
}

static int huge_read(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	struct harg *a = arg;
	double t0 = now_ns();
	int fd = open(a->path, O_RDONLY | O_CLOEXEC);
	uint64_t s = 0;
	ssize_t n;

	(void)iters;
	if (fd < 0) {
		snprintf(err, errlen, "open: %s", strerror(errno));
		return -1;
	}
	while ((n = read(fd, a->buf, 128 * KiB)) > 0)
		s += sum64(a->buf, (size_t)n);
	close(fd);
	*ns = now_ns() - t0;
	if (s != a->want) {
		snprintf(err, errlen, "checksum %" PRIu64 ", expected %" PRIu64, s, a->want);
		return -1;
	}
	return 0;
}

static void huge_checksum_case(struct opts *o)
{
	char dir[] = "/tmp/mmapkit-bench-huge-XXXXXX", path[64], opt[64], sz[32], title[96];
	static char note[256];
	struct harg base, a[3];
	struct bcase c = {.section = "hugecheck", .once = true};
	bool mounted = false;
	int r, al, un;

	section_begin(o, "hugecheck", "9b. Checksum over a tmpfs mounted huge=always",
		      "Map (opts.align 2 MiB, or opts.addr 4 KiB past a 2 MiB boundary), sum every "
		      "word, unmap; against read() into a 128 KiB buffer. Target: aligned "
		      "mapping >= 1.2x the throughput of read().");
	c.title = title;
	c.label = "tmpfs huge";
	c.bytes = (double)o->big;
	snprintf(title, sizeof(title), "checksum of %s on tmpfs huge=always",
		 human_size(o->big, sz, sizeof(sz)));
	memset(&base, 0, sizeof(base));
	if (geteuid() != 0 || !mkdtemp(dir)) {
		case_missing(&c, "mmapkit align 2 MiB", "mounting a tmpfs needs root");
		report_case(o, &c);
		return;
	}
	snprintf(opt, sizeof(opt), "huge=always,size=%zu", o->big + 8 * MiB);
	if (mount("mmapkit-bench", dir, "tmpfs", 0, opt) != 0) {
		case_missing(&c, "mmapkit align 2 MiB", "mount tmpfs huge=always failed");
		report_case(o, &c);
		rmdir(dir);
		return;
	}
	mounted = true;
	snprintf(path, sizeof(path), "%s/data", dir);
	base.path = path;
	base.size = o->big;
	base.buf = aligned_alloc(4096, 128 * KiB);
	if (!base.buf || make_pattern_file(path, o->big, &base.want) < 0) {
		fail(o, "hugecheck: cannot write %s", path);
		goto out;
	}
	case_add(&c, "read() 128 KiB", huge_read, &base);
	a[0] = base, a[0].align = 2 * MiB;
	a[1] = base, a[1].misaligned = true;
	a[2] = base;
	al = case_add(&c, "mmapkit align 2 MiB", huge_sum, &a[0]);
	un = case_add(&c, "mmapkit 4 KiB past 2 MiB", huge_sum, &a[1]);
	case_add(&c, "mmapkit, the kernel's choice", huge_sum, &a[2]);
	case_cmp(&c, al, 0, 1 / 1.2, "the pages must be PMD-mapped: huge folios in the file");
	case_cmp(&c, al, un, 0, NULL);
	r = 0;
	run_case(o, &c);
	snprintf(note, sizeof(note), "PMD-mapped after a pass: aligned %.0f kB, misaligned %.0f kB, kernel's choice %.0f kB",
		 a[0].pmd_kb, a[1].pmd_kb, a[2].pmd_kb);
	printf("  note: %s\n", note);
	csv_row(o, "hugecheck", "pmd-mapped kB", "aligned", "", "kB", a[0].pmd_kb, a[0].pmd_kb,
		a[0].pmd_kb, -1, -1, -1, 0, "", 1, note);
	(void)r;
out:
	free(base.buf);
	unlink(path);
	if (mounted && umount(dir) != 0)
		fail(o, "hugecheck: umount %s: %s", dir, strerror(errno));
	rmdir(dir);
}

/* ---- first touch with THP ---- */

struct targ2 {
	size_t size;
	unsigned flags;
	size_t align;
	bool misaligned;
	double huge_kb;
};

static int thp_touch(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	struct targ2 *a = arg;
	double t0 = now_ns();
	mmapkit_map *m;

	(void)iters;
	if (mk_map(&m, MMAPKIT_ANON_PRIVATE, NULL, a->size, a->flags, a->align, a->misaligned) < 0) {
		snprintf(err, errlen, "%s", mmapkit_errmsg());
		return -1;
	}
	write_pages(mmapkit_ptr(m), a->size);
	*ns = now_ns() - t0;
	a->huge_kb = (double)smaps_kb(mmapkit_ptr(m), "AnonHugePages");
	mmapkit_unmap(m);
	return 0;
}

static void thp_touch_case(struct opts *o)
{
	struct targ2 a[4] = {
		{o->big, MMAPKIT_THP, 2 * MiB, false, 0},
		{o->big, MMAPKIT_THP, 0, true, 0},
		{o->big, MMAPKIT_THP, 0, false, 0},
		{o->big, 0, 0, false, 0},
	};
	static const char *const names[] = {
		"THP + align 2 MiB", "THP, 4 KiB past 2 MiB", "THP, the kernel's choice", "no THP",
	};
	struct bcase c = {.section = "thptouch", .once = true};
	static char note[256];
	char sz[32], title[96];

	section_begin(o, "thptouch", "9c. First touch of anonymous memory with THP and align",
		      "Create, write one byte per 4 KiB page; the unmap is not timed.");
	snprintf(title, sizeof(title), "first touch of %s", human_size(o->big, sz, sizeof(sz)));
	c.title = title;
	c.label = "THP touch";
	c.bytes = (double)o->big;
	for (int i = 0; i < 4; i++)
		case_add(&c, names[i], thp_touch, &a[i]);
	case_cmp(&c, 0, 1, 0, NULL);
	case_cmp(&c, 0, 3, 0, NULL);
	run_case(o, &c);
	snprintf(note, sizeof(note), "AnonHugePages after touching: %.0f / %.0f / %.0f / %.0f kB",
		 a[0].huge_kb, a[1].huge_kb, a[2].huge_kb, a[3].huge_kb);
	printf("  note: %s\n", note);
}

void bench_place(struct opts *o)
{
	guard_case(o);
	huge_checksum_case(o);
	thp_touch_case(o);
}
