/* SPDX-License-Identifier: MIT */
/*
 * Section 4: first touch of fresh anonymous memory: create, then write one
 * byte per page (the kernel zeroes every page it hands out), by plain faults,
 * MMAPKIT_POPULATE, ADV_POPULATE_WRITE and MMAPKIT_THP; against memset of
 * memory that is faulted in already.  The unmap is not timed.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

struct targ {
	size_t size;
	unsigned flags; /* mmapkit flags; raw: MMAPKIT_THP means MADV_HUGEPAGE */
	int advice;     /* mmapkit advice, or -1 */
	unsigned char *buf;
};

static void touch_pages(unsigned char *p, size_t size)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);

	for (size_t i = 0; i < size; i += page)
		((volatile unsigned char *)p)[i] = 1;
}

static int memset_faulted(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct targ *a = arg;
	double t0 = now_ns();

	(void)iters, (void)err, (void)errlen;
	memset(a->buf, (int)(t0) & 0x7f, a->size);
	/* keep the compiler from dropping the stores */
	__asm__ volatile("" : : "r"(a->buf) : "memory");
	*ns = now_ns() - t0;
	return 0;
}

static int raw_touch(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct targ *a = arg;
	double t0 = now_ns();
	unsigned char *p = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)iters;
	if (p == MAP_FAILED) {
		snprintf(err, errlen, "mmap: %m");
		return -1;
	}
	if (a->flags & MMAPKIT_THP)
		madvise(p, a->size, MADV_HUGEPAGE);
	touch_pages(p, a->size);
	*ns = now_ns() - t0;
	munmap(p, a->size);
	return 0;
}

static int mk_touch(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct targ *a = arg;
	double t0 = now_ns();
	mmapkit_map *m;

	(void)iters;
	if (mmapkit_anon_private(&m, a->size, a->flags) < 0 ||
	    (a->advice >= 0 && mmapkit_advise(m, 0, MMAPKIT_TO_END, a->advice) < 0)) {
		snprintf(err, errlen, "%s", mmapkit_errmsg());
		mmapkit_unmap(m);
		return -1;
	}
	touch_pages(mmapkit_ptr(m), a->size);
	*ns = now_ns() - t0;
	mmapkit_unmap(m);
	return 0;
}

/*
 * Two cases, so that the THP variants only ever follow one another (or the
 * memset, which frees nothing): whether the kernel finds free 2 MiB blocks
 * depends on what the previous variant left behind.
 */
void bench_touch(struct opts *o)
{
	struct targ base = {.size = o->big, .advice = -1}, v[6];
	struct bcase c = {.section = "touch", .once = true};
	struct bcase h = {.section = "touch", .once = true};
	char title[2][96], sz[32];
	int raw, mk, raw_thp, mk_thp;

	section_begin(o, "touch", "4. First touch of fresh anonymous memory",
		      "Create, then write one byte per page; the kernel zeroes each page on the "
		      "way in. Baseline: memset of the same amount of memory faulted in already. "
		      "The unmap is not timed. No target: the ratios show what each way of "
		      "faulting costs; mmapkit against raw doing the same must be within 5 %.");
	base.buf = map_anon(o->big, false);
	if (!base.buf) {
		fail(o, "touch: cannot map %zu bytes", o->big);
		return;
	}
	memset(base.buf, 1, o->big);
	human_size(o->big, sz, sizeof(sz));
	snprintf(title[0], sizeof(title[0]), "first touch of %s, 4 KiB pages", sz);
	snprintf(title[1], sizeof(title[1]), "first touch of %s, transparent huge pages", sz);
	c.title = title[0];
	c.label = "4 KiB pages";
	h.title = title[1];
	h.label = "THP";
	c.bytes = h.bytes = (double)o->big;
	for (int i = 0; i < 6; i++)
		v[i] = base;
	case_add(&c, "memset (faulted)", memset_faulted, &base);
	raw = case_add(&c, "raw mmap + touch", raw_touch, &v[0]);
	case_cmp(&c, raw, 0, 0, NULL);
	mk = case_add(&c, "mmapkit + touch", mk_touch, &v[1]);
	case_cmp(&c, mk, 0, 0, NULL);
	case_cmp(&c, mk, raw, 1.05, "the same faults; the difference is noise");
	v[2].flags = MMAPKIT_POPULATE;
	case_cmp(&c, case_add(&c, "mmapkit POPULATE", mk_touch, &v[2]), 0, 0, NULL);
	v[3].advice = MMAPKIT_ADV_POPULATE_WRITE;
	case_cmp(&c, case_add(&c, "mmapkit ADV_POPULATE_WRITE", mk_touch, &v[3]), 0, 0, NULL);
	run_case(o, &c);

	case_add(&h, "memset (faulted)", memset_faulted, &base);
	v[4].flags = MMAPKIT_THP;
	raw_thp = case_add(&h, "raw MADV_HUGEPAGE", raw_touch, &v[4]);
	case_cmp(&h, raw_thp, 0, 0, NULL);
	v[5].flags = MMAPKIT_THP;
	mk_thp = case_add(&h, "mmapkit THP", mk_touch, &v[5]);
	case_cmp(&h, mk_thp, 0, 0, NULL);
	case_cmp(&h, mk_thp, raw_thp, 1.05, "the same madvise; the difference is noise");
	run_case(o, &h);
	munmap(base.buf, o->big);
}
