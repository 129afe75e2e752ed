/* SPDX-License-Identifier: MIT */
/*
 * Looking at a mapping: mmapkit_resident (which pages are in memory) and
 * mmapkit_stats (what the mapping costs, from /proc/self/smaps and the page
 * cache).  See docs/design.md, "Looking at a mapping", for the sources.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* Linux 6.5 uapi (<linux/mman.h> of older headers lacks them). */
struct mmapkit__cs_range {
	uint64_t off, len;
};
struct mmapkit__cs {
	uint64_t nr_cache, nr_dirty, nr_writeback, nr_evicted, nr_recently_evicted;
};

#define HIDDEN_WHY "the kernel hides the page cache of a file the caller can neither write nor owns (mincore would report every page resident, cachestat refuses): residency unknown"

/* The file range of pages [p0, p1). */
static struct mmapkit__cs_range file_range(const mmapkit_map *m, size_t p0, size_t p1)
{
	return (struct mmapkit__cs_range){m->offset - m->delta + p0 * m->gran,
					   mmapkit__pages_len(m, p0, p1)};
}

/* 0 with *cs filled; 1: the kernel has no cachestat; < 0: failed. */
static int cachestat_range(const mmapkit_map *m, const char *call, size_t p0, size_t p1,
			   struct mmapkit__cs *cs)
{
	struct mmapkit__cs_range r = file_range(m, p0, p1);

	if (!mmapkit__kernel_has(MMAPKIT__F_CACHESTAT))
		return 1;
	if (mmapkit__sys.cachestat(m->fd, &r, cs, 0) == 0)
		return 0;
	if (errno == EPERM)
		return mmapkit__fail_sys(EPERM, call, "cachestat", HIDDEN_WHY);
	return mmapkit__fail_sys(errno, call, "cachestat", "%llu bytes at file offset %llu",
				 (unsigned long long)r.len, (unsigned long long)r.off);
}

/*
 * mincore tells the truth about a file's pages only to a caller that owns
 * the file or may write it (the kernel's can_do_mincore, Linux 5.2 on);
 * root counts as owner (CAP_FOWNER).
 */
static int file_trusted(const mmapkit_map *m, const char *call)
{
	struct stat st;
	uid_t uid = mmapkit__sys.geteuid();

	if (mmapkit__sys.fstat(m->fd, &st) < 0)
		return mmapkit__fail_sys(errno, call, "fstat", "fd %d", m->fd);
	if (uid == 0 || st.st_uid == uid)
		return 0;
	if (mmapkit__sys.faccessat(m->fd, "", W_OK, AT_EMPTY_PATH | AT_EACCESS) == 0)
		return 0;
	if (errno != EACCES && errno != EPERM && errno != EROFS)
		return mmapkit__fail_sys(errno, call, "faccessat", "fd %d, W_OK", m->fd);
	return mmapkit__fail(EPERM, "%s: " HIDDEN_WHY, call);
}

/* Resident pages of [p0, p1) by mincore; vec (may be NULL) gets 0 or 1 per page. */
static int by_mincore(const mmapkit_map *m, const char *call, size_t p0, size_t p1,
		      uint64_t *bytes, unsigned char *vec)
{
	size_t page = mmapkit__page(), len = mmapkit__pages_len(m, p0, p1), n = len / page;
	size_t per = m->gran / page, count = 0;
	unsigned char *v = vec && per == 1 ? vec : malloc(n);

	if (!v)
		return mmapkit__fail(ENOMEM, "%s: out of memory for %zu page entries", call, n);
	if (mmapkit__sys.mincore(mmapkit__page_addr(m, p0), len, v) < 0) {
		int err = mmapkit__fail_sys(errno, call, "mincore", "%zu bytes", len);

		if (v != vec)
			free(v);
		return err;
	}
	for (size_t i = 0; i < n; i++) {
		v[i] &= 1;
		count += v[i];
	}
	if (vec && v != vec) /* huge pages: one entry per granule, resident if any part is */
		for (size_t i = 0; i < p1 - p0; i++) {
			vec[i] = 0;
			for (size_t k = 0; k < per; k++)
				vec[i] |= v[i * per + k];
		}
	if (v != vec)
		free(v);
	*bytes = (uint64_t)count * page;
	return 0;
}

int mmapkit_resident(const mmapkit_map *m, size_t off, size_t len, uint64_t *bytes,
		     unsigned char *vec)
{
	const char *call = __func__;
	struct mmapkit__span s;
	struct mmapkit__cs cs;
	int err;

	if (!m)
		return mmapkit__null_handle(call);
	if (!bytes)
		return mmapkit__fail(EINVAL, "%s: bytes is NULL", call);
	err = mmapkit__span_resolve(m, call, off, len, &s);
	if (err)
		return err;
	if (s.p0 == s.p1) {
		*bytes = 0;
		return 0;
	}
	err = mmapkit__fork_check(m, call, s.p0, s.p1);
	if (err)
		return err;
	if (m->ring) /* the range covers both copies of the same pages: count them once */
		s.p1 = s.p0 + (s.p1 - s.p0) / 2;
	if (mmapkit__is_file(m) && !vec) {
		err = cachestat_range(m, call, s.p0, s.p1, &cs);
		if (err <= 0) {
			if (!err)
				*bytes = cs.nr_cache * mmapkit__page();
			return err;
		}
	}
	if (mmapkit__is_file(m) && (err = file_trusted(m, call)))
		return err;
	return by_mincore(m, call, s.p0, s.p1, bytes, vec);
}

/* ---- mmapkit_stats ---- */

#define SMAPS_CHUNK 65536

static const struct {
	const char *key; /* with the colon */
	size_t off;      /* in struct mmapkit_stats */
} smaps_fields[] = {
	{"Rss:", offsetof(struct mmapkit_stats, rss)},
	{"Pss:", offsetof(struct mmapkit_stats, pss)},
	{"Shared_Clean:", offsetof(struct mmapkit_stats, shared_clean)},
	{"Shared_Dirty:", offsetof(struct mmapkit_stats, shared_dirty)},
	{"Private_Clean:", offsetof(struct mmapkit_stats, private_clean)},
	{"Private_Dirty:", offsetof(struct mmapkit_stats, private_dirty)},
	{"Anonymous:", offsetof(struct mmapkit_stats, anonymous)},
	{"Swap:", offsetof(struct mmapkit_stats, swap)},
	{"Locked:", offsetof(struct mmapkit_stats, locked)},
	{"AnonHugePages:", offsetof(struct mmapkit_stats, huge)},
	{"ShmemPmdMapped:", offsetof(struct mmapkit_stats, huge)},
	{"FilePmdMapped:", offsetof(struct mmapkit_stats, huge)},
	{"Shared_Hugetlb:", offsetof(struct mmapkit_stats, huge)},
	{"Private_Hugetlb:", offsetof(struct mmapkit_stats, huge)},
};

struct smaps_walk {
	uintptr_t lo, hi; /* the handle's pages */
	bool in;          /* the current VMA is one of them */
	bool done;        /* past the last one: stop reading */
	struct mmapkit_stats *st;
};

static uint64_t parse_kb(const char *p, const char *end)
{
	uint64_t v = 0;

	while (p < end && *p == ' ')
		p++;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (uint64_t)(*p++ - '0');
	return v * 1024;
}

/* A VMA header "start-end perms ...": its range; false for a field line. */
static bool vma_header(const char *p, const char *end, uintptr_t *lo, uintptr_t *hi)
{
	uintptr_t a = 0, z = 0;
	const char *q = p;

	for (; q < end && *q != '-'; q++) {
		int d = *q >= '0' && *q <= '9' ? *q - '0' : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10 : -1;

		if (d < 0)
			return false;
		a = a * 16 + (uintptr_t)d;
	}
	if (q == p || q == end)
		return false;
	for (q++; q < end && *q != ' '; q++) {
		int d = *q >= '0' && *q <= '9' ? *q - '0' : *q >= 'a' && *q <= 'f' ? *q - 'a' + 10 : -1;

		if (d < 0)
			return false;
		z = z * 16 + (uintptr_t)d;
	}
	*lo = a;
	*hi = z;
	return true;
}

static void smaps_line(struct smaps_walk *w, const char *p, const char *end)
{
	uintptr_t a, z;

	if (vma_header(p, end, &a, &z)) {
		w->in = z > w->lo && a < w->hi;
		w->done = a >= w->hi;
		return;
	}
	if (!w->in)
		return;
	for (size_t i = 0; i < sizeof(smaps_fields) / sizeof(smaps_fields[0]); i++) {
		size_t k = strlen(smaps_fields[i].key);

		if ((size_t)(end - p) > k && memcmp(p, smaps_fields[i].key, k) == 0) {
			uint64_t *f = (uint64_t *)((char *)w->st + smaps_fields[i].off);

			*f += parse_kb(p + k, end);
			return;
		}
	}
}

/*
 * Sum the smaps figures of the VMAs inside [lo, hi), reading /proc/self/smaps
 * in order and stopping at the first VMA past hi: the kernel then formats
 * (and walks the page tables of) no mapping above the handle's.
 */
static int read_smaps(const mmapkit_map *m, const char *call, struct mmapkit_stats *st)
{
	struct smaps_walk w = {.lo = (uintptr_t)m->base, .hi = (uintptr_t)m->base + m->map_len,
			       .st = st};
	char *buf = malloc(SMAPS_CHUNK + 1);
	size_t have = 0;
	off_t pos = 0;
	int fd, err = 0;

	if (!buf)
		return mmapkit__fail(ENOMEM, "%s: out of memory", call);
	fd = mmapkit__sys.open("/proc/self/smaps", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		free(buf);
		return mmapkit__fail_sys(errno, call, "open", "/proc/self/smaps");
	}
	while (!w.done) {
		ssize_t n = mmapkit__sys.pread(fd, buf + have, SMAPS_CHUNK - have, pos);
		char *p = buf, *end, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = mmapkit__fail_sys(errno, call, "pread", "/proc/self/smaps");
			break;
		}
		if (n == 0)
			break;
		pos += n;
		end = buf + have + n;
		while (!w.done && (nl = memchr(p, '\n', (size_t)(end - p)))) {
			smaps_line(&w, p, nl);
			p = nl + 1;
		}
		have = (size_t)(end - p);
		memmove(buf, p, have);
		if (have == SMAPS_CHUNK) /* a line longer than the buffer: skip it */
			have = 0;
	}
	mmapkit__sys.close(fd);
	free(buf);
	return err;
}

/* The first released struct mmapkit_stats: the smallest sz ever accepted. */
#define STATS_SIZE_0_2 (offsetof(struct mmapkit_stats, cache_writeback) + sizeof(uint64_t))

int mmapkit_stats(const mmapkit_map *m, struct mmapkit_stats *st)
{
	const char *call = __func__;
	struct mmapkit_stats t;
	struct mmapkit__cs cs;
	size_t n;
	int err = 0;

	if (!m)
		return mmapkit__null_handle(call);
	if (!st)
		return mmapkit__fail(EINVAL, "%s: st is NULL", call);
	if (st->sz < STATS_SIZE_0_2)
		return mmapkit__fail(EINVAL, "%s: st->sz %zu is smaller than struct mmapkit_stats (%zu)",
				     call, st->sz, (size_t)STATS_SIZE_0_2);
	err = mmapkit__fork_check(m, call, 0, m->map_len / m->gran);
	if (err)
		return err;
	memset(&t, 0, sizeof(t));
	t.mapped = m->map_len;
	if (m->map_len)
		err = read_smaps(m, call, &t);
	if (!err && m->map_len && mmapkit__is_file(m)) {
		err = cachestat_range(m, call, 0, m->map_len / m->gran, &cs);
		if (err == 1) {
			err = 0;
		} else if (!err) {
			t.cached = cs.nr_cache * mmapkit__page();
			t.cache_dirty = cs.nr_dirty * mmapkit__page();
			t.cache_writeback = cs.nr_writeback * mmapkit__page();
		}
	}
	if (err)
		return err;
	n = st->sz < sizeof(t) ? st->sz : sizeof(t);
	memcpy((char *)st + sizeof(st->sz), (char *)&t + sizeof(t.sz), n - sizeof(t.sz));
	return 0;
}
