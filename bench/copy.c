/* SPDX-License-Identifier: MIT */
/*
 * Section 7: mmapkit_read and mmapkit_write against memcpy on resident pages.
 * A shared mapping of a tmpfs file, every page faulted in, is copied from (to)
 * one buffer in steps of n bytes, walking through a window of the mapping:
 * a small window whose bytes stay in the CPU caches, and a large one whose
 * bytes come from memory.  memcpy is called through a pointer, as a copy of a
 * size known only at run time is, so that neither side is inlined.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

struct cparg {
	mmapkit_map *m;
	unsigned char *map;
	unsigned char *buf;
	size_t window, n;
	bool write;
	bool mk;
};

static void *(*volatile copy_fn)(void *, const void *, size_t) = memcpy;

static int copy_measure(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct cparg *a = arg;
	void *(*mc)(void *, const void *, size_t) = copy_fn;
	size_t off = 0;
	double t0 = now_ns();
	int e = 0;

	for (long i = 0; i < iters; i++) {
		if (a->mk)
			e |= a->write ? mmapkit_write(a->m, off, a->buf, a->n)
				      : mmapkit_read(a->m, off, a->buf, a->n);
		else if (a->write)
			mc(a->map + off, a->buf, a->n);
		else
			mc(a->buf, a->map + off, a->n);
		off += a->n;
		if (off + a->n > a->window)
			off = 0;
	}
	*ns = now_ns() - t0;
	if (e)
		snprintf(err, errlen, "%s", mmapkit_errmsg());
	return e ? -1 : 0;
}

#define FIX_SMALL                                                                           \
	"the copy's fixed cost (argument checks, the thread's guard slot, sigsetjmp without " \
	"the mask, two calls) is a few ns: it shows against a copy that runs from the CPU "   \
	"caches; a cheaper guard would need a jump buffer of the library's own in assembly"

static void copy_case(struct opts *o, mmapkit_map *m, size_t window, size_t n, bool write,
		      bool cache)
{
	struct cparg a[2];
	struct bcase c = {.section = "copy"};
	const char *where = cache ? "from cache" : "from RAM";
	char title[160], label[64], sz[32], wz[32];
	unsigned char *buf = aligned_alloc(64, n);
	int mk;

	if (!buf) {
		fail(o, "copy: out of memory");
		return;
	}
	memset(buf, 0x3c, n);
	human_size(n, sz, sizeof(sz));
	human_size(window, wz, sizeof(wz));
	snprintf(title, sizeof(title), "%s %s, %s (window %s)", write ? "write" : "read", sz,
		 where, wz);
	snprintf(label, sizeof(label), "%s %s %s", write ? "write" : "read", sz,
		 cache ? "cache" : "RAM");
	c.title = title;
	c.label = label;
	c.bytes = (double)n;
	for (int i = 0; i < 2; i++)
		a[i] = (struct cparg){.m = m, .map = mmapkit_ptr(m), .buf = buf, .window = window,
				      .n = n, .write = write, .mk = i == 1};
	/* the copy is right, before anything is timed */
	if ((write ? mmapkit_write(m, n, buf, n) : mmapkit_read(m, n, buf, n)) != 0 ||
	    memcmp(buf, (unsigned char *)mmapkit_ptr(m) + n, n) != 0)
		fail(o, "copy: %s: mmapkit copied wrong bytes (%s)", title, mmapkit_errmsg());
	case_add(&c, "memcpy", copy_measure, &a[0]);
	mk = case_add(&c, write ? "mmapkit_write" : "mmapkit_read", copy_measure, &a[1]);
	case_cmp(&c, mk, 0, n >= 4 * KiB ? 1.05 : 0, FIX_SMALL);
	run_case(o, &c);
	free(buf);
}

void bench_copy(struct opts *o)
{
	static const size_t sizes[] = {64, 4 * KiB, 64 * KiB, 1 * MiB};
	size_t big = o->big < 256 * MiB ? o->big : 256 * MiB;
	mmapkit_map *m = NULL;
	char path[600];
	uint64_t sum;

	section_begin(o, "copy", "8. mmapkit_read / mmapkit_write against memcpy",
		      "Time per copy of n bytes between a buffer and a shared mapping of a tmpfs "
		      "file whose pages are all resident, stepping through a window of the "
		      "mapping: a small one (from cache: 512 KiB, 4 MiB for 1 MiB copies) and a "
		      "large one (from RAM). memcpy is the same copy through a function pointer. "
		      "Target: mmapkit / memcpy <= 1.05 for 4 KiB and more; 64 B is reported.");
	snprintf(path, sizeof(path), "%s/mmapkit-bench-copy-%d", o->shm_dir, (int)getpid());
	if (make_pattern_file(path, big, &sum) < 0 ||
	    mmapkit_file_shared(&m, path, 0, 0, MMAPKIT_POPULATE) < 0) {
		fail(o, "copy: %s: %s", path, m ? "" : mmapkit_errmsg());
		unlink(path);
		return;
	}
	for (int w = 0; w < 2; w++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			size_t n = sizes[i];
			size_t window = w ? big : n > 64 * KiB ? 4 * MiB : 512 * KiB;

			if (window > big || window < 2 * n)
				continue;
			copy_case(o, m, window, n, false, !w);
			copy_case(o, m, window, n, true, !w);
		}
	mmapkit_unmap(m);
	unlink(path);
}
