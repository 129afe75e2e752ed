/* SPDX-License-Identifier: MIT */
/*
 * Section 3: a sequential checksum over a page-cached file, through an
 * mmapkit mapping (default, ADV_SEQUENTIAL, POPULATE, THP), raw mmap, read()
 * into a 128 KiB buffer, and the peers; against the same checksum over
 * anonymous memory faulted in beforehand: the memory-bandwidth ceiling.
 * Every variant's time includes opening, mapping and unmapping.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

#define READ_BUF (128 * KiB)

struct sarg {
	const char *path;
	size_t size;
	uint64_t want;
	unsigned flags; /* mmapkit constructor flags */
	int advice;     /* mmapkit advice after creating, or -1 */
	unsigned char *anon;
	unsigned char *buf;
};

static int check_sum(const struct sarg *a, uint64_t got, char *err, size_t len)
{
	if (got == a->want)
		return 0;
	snprintf(err, len, "checksum %" PRIu64 ", expected %" PRIu64, got, a->want);
	return -1;
}

static int read_sum(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct sarg *a = arg;
	double t0 = now_ns();
	uint64_t s = 0;
	int fd = open(a->path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	(void)iters;
	if (fd < 0) {
		snprintf(err, errlen, "open: %s", strerror(errno));
		return -1;
	}
	while ((n = read(fd, a->buf, READ_BUF)) > 0)
		s += sum64(a->buf, (size_t)n);
	close(fd);
	*ns = now_ns() - t0;
	return check_sum(a, s, err, errlen);
}

static int ceiling_sum(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct sarg *a = arg;
	double t0 = now_ns();
	uint64_t s = sum64(a->anon, a->size);

	(void)iters;
	*ns = now_ns() - t0;
	return check_sum(a, s, err, errlen);
}

static int raw_sum(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct sarg *a = arg;
	double t0 = now_ns();
	int fd = open(a->path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint64_t s;
	void *p;

	(void)iters;
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "open: %s", strerror(errno));
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %s", strerror(errno));
		close(fd);
		return -1;
	}
	s = sum64(p, (size_t)st.st_size);
	munmap(p, (size_t)st.st_size);
	close(fd);
	*ns = now_ns() - t0;
	return check_sum(a, s, err, errlen);
}

static int mk_sum(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct sarg *a = arg;
	double t0 = now_ns();
	mmapkit_map *m;
	uint64_t s;

	(void)iters;
	if (mmapkit_file_shared(&m, a->path, 0, 0, MMAPKIT_RDONLY | a->flags) < 0 ||
	    (a->advice >= 0 && mmapkit_advise(m, 0, MMAPKIT_TO_END, a->advice) < 0)) {
		snprintf(err, errlen, "%s", mmapkit_errmsg());
		mmapkit_unmap(m);
		return -1;
	}
	s = sum64(mmapkit_ptr(m), mmapkit_len(m));
	mmapkit_unmap(m);
	*ns = now_ns() - t0;
	return check_sum(a, s, err, errlen);
}

/* Page-cache residency of the file by three witnesses: mincore, fincore, vmtouch. */
static void residency(struct opts *o, const char *path, size_t size, const char *when,
		      char *note, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	void *p = fd >= 0 ? mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	long long res[3] = {-1, -1, -1};
	static const char *const who[] = {"mincore", "fincore", "vmtouch"};
	char msg[3][200] = {"", "", ""};
	size_t at = strlen(note);

	if (p != MAP_FAILED) {
		res[0] = (long long)resident_bytes(p, size);
		munmap(p, size);
	}
	if (fd >= 0)
		close(fd);
	res[1] = tool_resident("fincore", path, msg[1], sizeof(msg[1]));
	res[2] = tool_resident("vmtouch", path, msg[2], sizeof(msg[2]));
	at += (size_t)snprintf(note + at, len - at, "%sresident %s:", at ? "; " : "", when);
	for (int i = 0; i < 3; i++) {
		if (res[i] >= 0)
			at += (size_t)snprintf(note + at, len - at, " %s %.1f MiB", who[i],
					       (double)res[i] / MiB);
		else
			at += (size_t)snprintf(note + at, len - at, " %s n/a", who[i]);
		csv_row(o, "residency", path, who[i], "", "bytes", res[i] >= 0 ? (double)res[i] : -1,
			(double)size, (double)size, res[i] >= 0 ? (double)res[i] / (double)size : -1,
			-1, -1, 1, res[i] >= 0 ? "" : "missing", 1, res[i] >= 0 ? when : msg[i]);
	}
}

#define FIX_READ                                                                             \
	"each 4 KiB page of a mapping costs a page-table entry made (16 per fault with the "  \
	"kernel's fault-around) and torn down again, while read() copies from the page "    \
	"cache with no page-table work; MMAPKIT_POPULATE or ADV_POPULATE_READ makes the "   \
	"entries in one call, and large folios mapped by PMD (THP for the page cache) "     \
	"would cut the entries 512-fold"
#define FIX_CEILING                                                                          \
	"the ceiling's pages are mapped already; a fresh mapping pays the page-table set-up " \
	"and tear-down for every page, which only a mapping kept across passes (or huge "    \
	"page-cache folios) avoids"

#define FIX_POPULATE                                                                         \
	"MAP_POPULATE has the kernel walk the range page by page (get_user_pages: a "         \
	"page-table lookup and a page reference taken and dropped for every 4 KiB page, "     \
	"besides the faults), which costs more than the faults it saves when the pass itself " \
	"faults 16 pages at a time (fault-around); for one sequential pass leave it off "      \
	"(default or ADV_SEQUENTIAL); only a kernel populate that maps page-cache folios in "  \
	"batches would fix it"

static void add_mk(struct bcase *c, const struct sarg *base, struct sarg *a, const char *name,
		   unsigned flags, int advice, int read_idx, int ceil_idx)
{
	int v;

	*a = *base;
	a->flags = flags;
	a->advice = advice;
	v = case_add(c, name, mk_sum, a);
	case_cmp(c, v, read_idx, 1 / 1.2, flags & MMAPKIT_POPULATE ? FIX_POPULATE : FIX_READ);
	case_cmp(c, v, ceil_idx, 1.25, flags & MMAPKIT_POPULATE ? FIX_POPULATE : FIX_CEILING);
}

void bench_checksum(struct opts *o)
{
	struct sarg base, mk[4];
	struct peer_op ops[MAX_PEERS];
	struct bcase c = {.section = "checksum", .once = true};
	char path[600], title[96], sz[32], note[600] = "";
	int raw, def;

	section_begin(o, "checksum", "3. Sequential checksum over a page-cached file",
		      "Each measurement opens, maps, sums every 64-bit word and unmaps (read(): "
		      "opens and reads into a 128 KiB buffer). Targets: mapped >= 1.2x the "
		      "throughput of read() (time ratio <= 0.833), >= 0.8x the ceiling (<= 1.25).");
	memset(ops, 0, sizeof(ops));
	snprintf(path, sizeof(path), "%s/checksum-file", o->dir);
	base = (struct sarg){.path = path, .size = o->big, .advice = -1};
	base.anon = map_anon(o->big, false);
	base.buf = aligned_alloc(4096, READ_BUF);
	if (!base.anon || !base.buf || make_pattern_file(path, o->big, &base.want) < 0) {
		fail(o, "checksum: cannot set up %s: %s", path, strerror(errno));
		goto out;
	}
	/* The ceiling: the same words in anonymous memory, faulted in by this read. */
	{
		int fd = open(path, O_RDONLY | O_CLOEXEC);

		if (fd < 0 || read(fd, base.anon, o->big) != (ssize_t)o->big)
			fail(o, "checksum: cannot read %s", path);
		if (fd >= 0)
			close(fd);
	}
	residency(o, path, o->big, "before", note, sizeof(note));
	snprintf(title, sizeof(title), "checksum of %s", human_size(o->big, sz, sizeof(sz)));
	c.title = title;
	c.label = "checksum";
	c.bytes = (double)o->big;
	c.note = note;
	case_add(&c, "read() 128 KiB", read_sum, &base);
	case_add(&c, "ceiling (faulted anon)", ceiling_sum, &base);
	raw = case_add(&c, "raw mmap", raw_sum, &base);
	case_cmp(&c, raw, 0, 0, NULL);
	def = c.nv;
	add_mk(&c, &base, &mk[0], "mmapkit", 0, -1, 0, 1);
	case_cmp(&c, def, raw, 1.05, "mmapkit's mapping is the same mmap; the difference is noise");
	add_mk(&c, &base, &mk[1], "mmapkit ADV_SEQUENTIAL", 0, MMAPKIT_ADV_SEQUENTIAL, 0, 1);
	add_mk(&c, &base, &mk[2], "mmapkit POPULATE", MMAPKIT_POPULATE, -1, 0, 1);
	add_mk(&c, &base, &mk[3], "mmapkit THP", MMAPKIT_THP, -1, 0, 1);
	for (int i = 0; i < o->npeers; i++) {
		int v = c.nv;

		snprintf(ops[i].cmd, sizeof(ops[i].cmd), "checksum %s", path);
		ops[i].has_sum = true;
		ops[i].want_sum = base.want;
		peer_variant(&c, &o->peers[i], &ops[i]);
		case_cmp_peer(&c, v, def,
			      "the peer maps the same file the same way (see section 1); a lead "
			      "of a few percent is noise unless it repeats");
	}
	run_case(o, &c);
	for (int i = 0; i < c.nv; i++)
		if (c.v[i].missing && strstr(c.v[i].missing, "checksum"))
			fail(o, "checksum: %s: %s", c.v[i].name, c.v[i].missing);
	note[0] = '\0';
	residency(o, path, o->big, "after", note, sizeof(note));
	printf("  note: %s\n", note);
out:
	if (base.anon)
		munmap(base.anon, o->big);
	free(base.buf);
	unlink(path);
}
