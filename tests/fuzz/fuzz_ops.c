/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness: the input is a program of operations over a few live
 * handles of all four kinds (create, write, read, sync, advise, punch, revert,
 * protect, lock, unlock, unmap) with offsets and lengths in and out of range.
 * A shadow model predicts every result (the exact negative errno, following
 * the contract's order of checks) and every byte: written data, zeros after
 * punch, the file's content after revert, nothing changed by a refused call.
 * After each operation every readable byte of every handle and every backing
 * file is compared with the model, pages the model says are inaccessible (or
 * read-only) are probed for the fault, and an unmapped handle must leave no
 * page, no descriptor and no file behind.
 *
 * Build and run: tests/run_fuzz.sh SECONDS.  Files live in $FUZZ_DIR, else
 * /dev/shm, else /tmp.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmapkit.h"

#define NSLOT 4
#define MAX_OPS 200
#define MAX_PAGES 6 /* longest mapping, in pages, for lengths chosen in range */

enum { AP = MMAPKIT_ANON_PRIVATE, AS = MMAPKIT_ANON_SHARED, FP = MMAPKIT_FILE_PRIVATE,
       FS = MMAPKIT_FILE_SHARED };

#define PR MMAPKIT_PROT_READ
#define PW MMAPKIT_PROT_WRITE
#define PX MMAPKIT_PROT_EXEC

/* An expected result that no model predicts: any failure, as long as it is clean. */
#define ANY_ERROR 1000

static size_t pg;
static char dir[PATH_MAX];
static bool file_exec_ok; /* mprotect(PROT_EXEC) allowed on files in dir */
static unsigned long n_calls;
static bool trace; /* FUZZ_TRACE=1: print every call (to replay a crash) */
static bool vmflags_checked; /* in this input */

/*
 * The checking code is left out of coverage: the feedback should be the
 * library's branches, not the model's byte loops (which are also the slow part).
 */
#if defined(__clang__)
#define NO_COV __attribute__((no_sanitize("coverage")))
#else
#define NO_COV
#endif

/* ---- failing ---- */

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_ops: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfuzz_ops: last errmsg: %s\n", mmapkit_errmsg());
	abort();
}

/* A call returned r where the model expected exp (0, -errno or -ANY_ERROR). */
static void check_ret(const char *call, int r, int exp, const char *what)
{
	n_calls++;
	if (trace)
		fprintf(stderr, "%s(%s) = %d\n", call, what, r);
	if (exp == -ANY_ERROR ? r >= 0 : r != exp)
		fail("%s(%s) returned %d, expected %d", call, what, r, exp);
	if (r < 0 && strncmp(mmapkit_errmsg(), call, strlen(call)) != 0)
		fail("%s(%s) failed with %d but errmsg does not name it: \"%s\"", call, what, r,
		     mmapkit_errmsg());
}

/* ---- input ---- */

struct in {
	const uint8_t *p;
	size_t n;
};

static unsigned u8(struct in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

static size_t u16(struct in *in)
{
	return u8(in) | (size_t)u8(in) << 8;
}

/* ---- model ---- */

struct slot {
	mmapkit_map *m;
	int kind;
	unsigned flags;
	size_t len, delta, npages;
	uint64_t off;
	unsigned char *ptr, *base;
	unsigned char *shadow; /* expected bytes of the range */
	unsigned char prot[MAX_PAGES + 2];
	bool locked[MAX_PAGES + 2];
	bool anon[MAX_PAGES + 2];  /* file private: page replaced by anonymous memory */
	bool freed[MAX_PAGES + 2]; /* MADV_FREE pending: reads the old bytes or zeros */
	unsigned adv[MAX_PAGES + 2]; /* V_* advice the kernel keeps per mapping */
	int fd;
	/* The slot's file (file kinds), alive from create until the slot is reused. */
	char path[PATH_MAX];
	bool has_file;
	unsigned char *file;
	size_t fsize;
};

static struct slot slots[NSLOT];

static bool is_file_kind(int k)
{
	return k == FP || k == FS;
}

static bool is_private_kind(int k)
{
	return k == AP || k == FP;
}

/* Map byte i of the range to its page. */
static size_t page_of(const struct slot *s, size_t i)
{
	return (s->delta + i) / pg;
}

/* ---- the kernel's view: VmFlags in /proc/self/smaps ---- */

enum { V_RD = 1 << 0, V_WR = 1 << 1, V_EX = 1 << 2, V_LO = 1 << 3, V_DC = 1 << 4,
       V_WF = 1 << 5, V_DD = 1 << 6, V_HG = 1 << 7, V_NH = 1 << 8, V_RR = 1 << 9,
       V_SR = 1 << 10 };

static const char *const vnames[] = {"rd", "wr", "ex", "lo", "dc", "wf",
				     "dd", "hg", "nh", "rr", "sr"};

struct vma {
	uintptr_t lo, hi;
	unsigned flags;
};

NO_COV static unsigned parse_vmflags(const char *line)
{
	unsigned f = 0;

	for (const char *p = line + 8; *p; p++) {
		if (p[0] == ' ' || p[0] == '\n' || !p[1])
			continue;
		for (unsigned i = 0; i < sizeof(vnames) / sizeof(vnames[0]); i++)
			if (p[0] == vnames[i][0] && p[1] == vnames[i][1] &&
			    (p[2] == ' ' || p[2] == '\n' || !p[2]))
				f |= 1u << i;
		p += 2;
	}
	return f;
}

/* The mappings overlapping [lo, hi) with their flags; returns how many. */
NO_COV static size_t read_vmas(struct vma *v, size_t cap, uintptr_t lo, uintptr_t hi)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	size_t n = 0;
	bool in = false;

	if (!f)
		fail("cannot open /proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		unsigned long a, z;

		if (sscanf(line, "%lx-%lx ", &a, &z) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = a < hi && z > lo && n < cap;
			if (in)
				v[n++] = (struct vma){a, z, 0};
		} else if (in && strncmp(line, "VmFlags:", 8) == 0) {
			v[n - 1].flags = parse_vmflags(line);
		}
	}
	fclose(f);
	return n;
}

/* ---- probing faults ---- */

static sigjmp_buf probe_jmp;

static void probe_handler(int sig)
{
	siglongjmp(probe_jmp, sig);
}

/* Does reading (writing the same value back to) *p fault?  0 if not, else the signal. */
static int probe(volatile unsigned char *p, bool write)
{
	struct sigaction sa = {.sa_handler = probe_handler}, old_segv, old_bus;
	volatile int sig;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, &old_segv);
	sigaction(SIGBUS, &sa, &old_bus);
	sig = sigsetjmp(probe_jmp, 1);
	if (!sig) {
		unsigned char c = *p;

		if (write)
			*p = c;
	}
	sigaction(SIGSEGV, &old_segv, NULL);
	sigaction(SIGBUS, &old_bus, NULL);
	return sig;
}

/* ---- files ---- */

static void write_file(const char *path, const unsigned char *data, size_t n)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0 || (n && write(fd, data, n) != (ssize_t)n))
		fail("cannot write %s: %s", path, strerror(errno));
	close(fd);
}

/* The file on disk is exactly the model (or absent when it should be). */
NO_COV static void check_file(const struct slot *s, const char *when)
{
	unsigned char *buf;
	struct stat st;
	int fd = open(s->path, O_RDONLY | O_CLOEXEC);

	if (!s->has_file) {
		if (fd >= 0)
			fail("%s: %s exists, but the model has no file", when, s->path);
		return;
	}
	if (fd < 0 || fstat(fd, &st) < 0)
		fail("%s: %s: %s", when, s->path, strerror(errno));
	if ((size_t)st.st_size != s->fsize)
		fail("%s: %s has %lld bytes, model %zu", when, s->path, (long long)st.st_size,
		     s->fsize);
	buf = malloc(s->fsize + 1);
	if (!buf || pread(fd, buf, s->fsize, 0) != (ssize_t)s->fsize)
		fail("%s: cannot read %s", when, s->path);
	for (size_t i = 0; i < s->fsize; i++)
		if (buf[i] != s->file[i])
			fail("%s: %s byte %zu is 0x%02x, model 0x%02x", when, s->path, i, buf[i],
			     s->file[i]);
	free(buf);
	close(fd);
}

NO_COV static size_t count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		fail("cannot open /proc/self/fd");
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/*
 * Where the kernel would put a new one-page mapping now.  The sanitizers map
 * memory of their own at any time, so counting /proc/self/maps lines cannot
 * tell a leak; a leaked mapping, though, takes the gap that a fresh mmap
 * would have used, so the next one lands elsewhere.
 */
static void *next_map(void)
{
	void *p = mmap(NULL, pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap: %s", strerror(errno));
	munmap(p, pg);
	return p;
}

/* Mappings of files in our directory, and shared anonymous ones. */
NO_COV static size_t count_ours(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[PATH_MAX + 128];
	size_t n = 0;

	if (!f)
		fail("cannot open /proc/self/maps");
	while (fgets(line, sizeof(line), f))
		n += strstr(line, dir) || strstr(line, "/dev/zero") || strstr(line, "SYSV");
	fclose(f);
	return n;
}

/* ---- verification ---- */

NO_COV static void check_page(struct slot *s, size_t j, const char *when)
{
	size_t lo = j * pg > s->delta ? j * pg - s->delta : 0;
	size_t hi = (j + 1) * pg - s->delta < s->len ? (j + 1) * pg - s->delta : s->len;
	unsigned prot = s->prot[j];
	bool zeros = true, same = true;

	if (lo >= hi)
		return;
	if (prot == 0) {
		if (!probe(s->ptr + lo, false))
			fail("%s: slot %td page %zu reads, but the model has PROT_NONE", when,
			     s - slots, j);
		return;
	}
	if (!(prot & PR))
		return; /* write- or exec-only: whether it reads depends on the CPU */
	for (size_t i = lo; i < hi; i++) {
		zeros &= s->ptr[i] == 0;
		same &= s->ptr[i] == s->shadow[i];
	}
	if (!same && !(s->freed[j] && zeros)) {
		for (size_t i = lo; i < hi; i++)
			if (s->ptr[i] != s->shadow[i])
				fail("%s: slot %td (kind %d) byte %zu is 0x%02x, model 0x%02x",
				     when, s - slots, s->kind, i, s->ptr[i], s->shadow[i]);
	}
	if (!(prot & PW) && !probe(s->ptr + lo, true))
		fail("%s: slot %td page %zu is writable, model prot %u", when, s - slots, j, prot);
}

NO_COV static void check_slot(struct slot *s, const char *when)
{
	if (!s->m)
		return;
	if (mmapkit_len(s->m) != s->len || mmapkit_ptr(s->m) != s->ptr ||
	    mmapkit_kind(s->m) != s->kind || mmapkit_flags(s->m) != s->flags)
		fail("%s: slot %td accessors changed", when, s - slots);
	for (size_t j = 0; j < s->npages; j++)
		check_page(s, j, when);
	if ((s->flags & MMAPKIT_GUARD) && s->len &&
	    (!probe(s->base - 1, false) || !probe(s->base + s->npages * pg, false)))
		fail("%s: slot %td guard page readable", when, s - slots);
}

/* Every page's protection, lock and kept advice as the kernel reports them. */
NO_COV static void check_vmflags(void)
{
	struct vma v[64];

	for (int i = 0; i < NSLOT; i++) {
		struct slot *s = &slots[i];
		size_t n;

		if (!s->m || !s->npages)
			continue;
		n = read_vmas(v, 64, (uintptr_t)s->base, (uintptr_t)(s->base + s->npages * pg));
		for (size_t j = 0; j < s->npages; j++) {
			uintptr_t a = (uintptr_t)(s->base + j * pg);
			unsigned want = (s->prot[j] & PR ? V_RD : 0) |
					(s->prot[j] & PW ? V_WR : 0) |
					(s->prot[j] & PX ? V_EX : 0) |
					(s->locked[j] ? V_LO : 0) | s->adv[j];
			size_t k = 0;

			while (k < n && !(v[k].lo <= a && a < v[k].hi))
				k++;
			if (k == n)
				fail("slot %d page %zu is not mapped", i, j);
			if (v[k].flags != want)
				fail("slot %d (kind %d) page %zu has VmFlags 0x%x, model 0x%x", i,
				     s->kind, j, v[k].flags, want);
		}
	}
}

NO_COV static void check_all(const char *when)
{
	for (int i = 0; i < NSLOT; i++) {
		check_slot(&slots[i], when);
		if (slots[i].path[0])
			check_file(&slots[i], when);
	}
}

/* ---- ranges ---- */

struct span {
	size_t a, z;   /* bytes from the first page */
	size_t p0, p1; /* pages holding the range */
	size_t w0, w1; /* whole pages inside it */
};

/*
 * The model's own reading of a range, not the library's arithmetic: the
 * bytes the range names are enumerated one by one, each counted in the page
 * that holds it (byte i of the range is byte delta + i of the first page).  A
 * page is touched when it holds a named byte, whole when every one of its
 * bytes is named.  A range names bytes off .. off + len - 1 (off .. the last
 * byte for MMAPKIT_TO_END, none for len 0), and is -ERANGE when one of them,
 * or off itself, lies past the mapping.
 */
NO_COV static int resolve(const struct slot *s, size_t off, size_t len, struct span *r)
{
	size_t named[MAX_PAGES + 2] = {0}, end;
	bool touched = false, whole = false;

	memset(r, 0, sizeof(*r));
	if (len == MMAPKIT_TO_END)
		end = s->len;
	else if (__builtin_add_overflow(off, len, &end))
		return -ERANGE;
	if (off > s->len || end > s->len)
		return -ERANGE;
	for (size_t i = off; i < end; i++)
		named[page_of(s, i)]++;
	r->a = s->delta + off;
	r->z = s->delta + end;
	for (size_t j = 0; j < s->npages; j++) {
		if (named[j] && !touched)
			r->p0 = j;
		if (named[j])
			r->p1 = j + 1, touched = true;
		if (named[j] == pg && !whole)
			r->w0 = j;
		if (named[j] == pg)
			r->w1 = j + 1, whole = true;
	}
	if (!whole)
		r->w0 = r->w1 = 0;
	return 0;
}

static bool any_locked(const struct slot *s, size_t p0, size_t p1)
{
	for (size_t j = p0; j < p1; j++)
		if (s->locked[j])
			return true;
	return false;
}

static bool all_prot(const struct slot *s, size_t p0, size_t p1, unsigned bits)
{
	for (size_t j = p0; j < p1; j++)
		if ((s->prot[j] & bits) != bits)
			return false;
	return true;
}

/* Destructive work writes the partial pages at the range's edges. */
static bool edges_writable(const struct slot *s, const struct span *r)
{
	if (r->a == r->z)
		return true;
	if (r->a % pg && !(s->prot[r->a / pg] & PW))
		return false;
	return !(r->z % pg) || (s->prot[r->z / pg] & PW);
}

/* Offsets and lengths, in and out of range, aligned and not. */
static void gen_range(struct in *in, const struct slot *s, size_t *off, size_t *len)
{
	size_t L = s ? s->len : 0, d = s ? s->delta : 0, k;

	switch (u8(in) % 14) {
	case 0:
		*off = 0, *len = MMAPKIT_TO_END;
		break;
	case 1:
		*off = u16(in) % (L + 1), *len = MMAPKIT_TO_END;
		break;
	case 2:
		*off = u16(in) % (L + 1);
		*len = u16(in) % (L - *off + 1);
		break;
	case 3: /* page boundaries of the mapping */
		k = u8(in) % (MAX_PAGES + 1);
		*off = k * pg >= d && k * pg - d <= L ? k * pg - d : 0;
		*len = (u8(in) % (MAX_PAGES + 1)) * pg;
		if (*len > L - *off)
			*len = L - *off;
		break;
	case 4: /* empty ranges */
		*off = L, *len = 0;
		break;
	case 12:
		*off = u16(in) % (L + 1), *len = 0;
		break;
	case 13:
		*off = L + 1 + u8(in), *len = MMAPKIT_TO_END;
		break;
	case 5:
		*off = L + 1 + u8(in), *len = 0;
		break;
	case 6:
		*off = u16(in) % (L + 1);
		*len = L - *off + 1 + u8(in);
		break;
	case 7:
		*off = 1, *len = SIZE_MAX;
		break;
	case 8:
		*off = SIZE_MAX, *len = 2;
		break;
	case 9:
		*off = u16(in) % (L + 1), *len = 1;
		break;
	case 10: /* straddle a page boundary */
		k = 1 + u8(in) % MAX_PAGES;
		*off = k * pg - d - 1 <= L ? k * pg - d - 1 : 0;
		*len = 2;
		break;
	default:
		*off = u16(in), *len = u16(in);
		break;
	}
}

static struct slot *pick(struct in *in)
{
	return &slots[u8(in) % NSLOT];
}

/* ---- MADV_FREE pages ---- */

/*
 * A page given MADV_FREE reads either its old bytes or zeros until it is next
 * written; the first write settles which.  After bytes [wlo, whi) of page j
 * were written (the model already holds them), pick the model that matches.
 */
NO_COV static void settle_freed(struct slot *s, size_t j, size_t wlo, size_t whi)
{
	size_t lo = j * pg > s->delta ? j * pg - s->delta : 0;
	size_t hi = (j + 1) * pg - s->delta < s->len ? (j + 1) * pg - s->delta : s->len;

	if (!s->freed[j])
		return;
	s->freed[j] = false;
	if (memcmp(s->ptr + lo, s->shadow + lo, hi - lo) == 0)
		return;
	for (size_t i = lo; i < hi; i++) /* the page was dropped: zeros where not written */
		if (i < wlo || i >= whi)
			s->shadow[i] = 0;
}

/* ---- operations ---- */

static void slot_reset(struct slot *s)
{
	free(s->shadow);
	free(s->file);
	if (s->path[0])
		unlink(s->path);
	memset(s, 0, sizeof(*s));
	s->fd = -1;
}

/* Unmap; check that pages, guard pages and the descriptor are gone and the file is right. */
static void op_unmap(struct slot *s)
{
	unsigned char v;
	size_t from, to;

	if (!s->m) {
		mmapkit_unmap(NULL);
		return;
	}
	if (trace)
		fprintf(stderr, "mmapkit_unmap(slot %td)\n", s - slots);
	from = (s->flags & MMAPKIT_GUARD) && s->len ? 1 : 0;
	to = s->npages + from;
	mmapkit_unmap(s->m);
	s->m = NULL;
	for (size_t j = 0; s->len && j < to + from; j++) {
		errno = 0;
		if (mincore(s->base + j * pg - from * pg, pg, &v) == 0 || errno != ENOMEM)
			fail("unmap: slot %td page %zu still mapped", s - slots, j);
	}
	if (s->fd >= 0 && (fcntl(s->fd, F_GETFD) != -1 || errno != EBADF))
		fail("unmap: slot %td descriptor %d still open", s - slots, s->fd);
	check_file(s, "after unmap");
	free(s->shadow);
	s->shadow = NULL;
	s->len = s->npages = 0;
}

struct ctor_req {
	int kind;
	int via;       /* 0: the kind's constructor, 1: fd constructor, 2: mmapkit_map_new */
	bool by_fd;
	bool fd_rw;
	bool missing;  /* path kinds: the file does not exist */
	unsigned flags;
	uint64_t off;
	size_t len;
};

static int predict_flags(const struct ctor_req *q)
{
	unsigned f = q->flags;
	bool file = is_file_kind(q->kind);

	if (f & ~(0x1fffu | MMAPKIT_SECURE | MMAPKIT_SECRET))
		return -EINVAL;
	if ((f & (MMAPKIT_CREATE | MMAPKIT_GROW)) && !file)
		return -EINVAL;
	if ((f & MMAPKIT_CREATE) && q->by_fd)
		return -EINVAL;
	if ((f & MMAPKIT_HUGETLB) && file)
		return -EINVAL;
	if ((f & MMAPKIT_WIPEONFORK) && q->kind != AP)
		return -EINVAL;
	if ((f & MMAPKIT_RDONLY) && (f & MMAPKIT_GROW))
		return -EINVAL;
	if ((f & MMAPKIT_NORESERVE) && (f & MMAPKIT_HUGETLB))
		return -EINVAL;
	if ((f & MMAPKIT_THP) && (f & MMAPKIT_HUGETLB))
		return -EINVAL;
	if ((f & MMAPKIT_DONTFORK) && (f & MMAPKIT_WIPEONFORK))
		return -EINVAL;
	return 0;
}

/* The constructor's result; for a file kind also the length and the file's new size. */
static int predict_ctor(const struct ctor_req *q, const struct slot *s, size_t *len,
			size_t *fsize)
{
	bool file = is_file_kind(q->kind);
	uint64_t size = s->has_file ? s->fsize : 0, end;
	int err;

	*len = q->len;
	*fsize = size;
	if (!file && q->len == 0)
		return -EINVAL;
	if (!file && q->off)
		return -EINVAL;
	if (q->len > PTRDIFF_MAX)
		return -EOVERFLOW;
	if (q->off > INT64_MAX || q->len > INT64_MAX - q->off)
		return -EOVERFLOW;
	err = predict_flags(q);
	if (err)
		return err;
	if (!file)
		return q->len > PTRDIFF_MAX - pg ? -EOVERFLOW : 0; /* not whole pages */
	if (q->missing && !(q->flags & MMAPKIT_CREATE))
		return -ENOENT;
	if (q->off > size && !(q->len && (q->flags & MMAPKIT_GROW)))
		return -ERANGE;
	if (q->len == 0) {
		*len = (size_t)(size - q->off);
		goto map;
	}
	end = q->off + q->len;
	if (end > size && !(q->flags & MMAPKIT_GROW))
		return -ERANGE;
	if (end > size && q->by_fd && !q->fd_rw)
		return -EACCES;
	if (end > (uint64_t)1 << 40)
		return -ANY_ERROR; /* a file too large for the file system, or an mmap offset */
	if (end > size)
		*fsize = (size_t)end;
map:
	if (*len && q->kind == FS && !(q->flags & MMAPKIT_RDONLY) && q->by_fd && !q->fd_rw)
		return -EACCES;
	return 0;
}

static const unsigned safe_flags[] = {
	MMAPKIT_RDONLY,	  MMAPKIT_CREATE, MMAPKIT_GROW,	    MMAPKIT_POPULATE,
	MMAPKIT_NORESERVE, MMAPKIT_LOCK,   MMAPKIT_THP,	    MMAPKIT_DONTFORK,
	MMAPKIT_WIPEONFORK, MMAPKIT_DONTDUMP, MMAPKIT_GUARD,
};

static unsigned gen_flags(struct in *in, int kind)
{
	unsigned bits = (unsigned)u16(in), f = 0;

	for (size_t i = 0; i < sizeof(safe_flags) / sizeof(safe_flags[0]); i++)
		if (bits & (1u << i))
			f |= safe_flags[i];
	if ((bits & 0xf800) == 0xf800)
		f |= 1u << (15 + u8(in) % 17); /* an unknown bit */
	/* HUGETLB only where it is refused: whether huge pages exist is not ours to model. */
	if ((bits & 0x0800) && (is_file_kind(kind) || (f & (MMAPKIT_NORESERVE | MMAPKIT_THP))))
		f |= MMAPKIT_HUGETLB;
	/* Usually drop the flags that refuse the call, so that most calls succeed. */
	if (!(bits & 0x1000)) {
		if (kind != AP)
			f &= ~MMAPKIT_WIPEONFORK;
		if (f & MMAPKIT_WIPEONFORK)
			f &= ~MMAPKIT_DONTFORK;
		if (f & MMAPKIT_RDONLY)
			f &= ~MMAPKIT_GROW;
		if (!is_file_kind(kind))
			f &= ~(MMAPKIT_CREATE | MMAPKIT_GROW);
	}
	return f;
}

static size_t gen_len(struct in *in, bool file)
{
	switch (u8(in) % 8) {
	case 0:
		return 0;
	case 1:
	case 2:
		return (1 + u8(in) % MAX_PAGES) * pg;
	case 3:
		return file ? (size_t)u8(in) : 1 + u8(in) % 64;
	case 4:
		return SIZE_MAX - u8(in);
	case 5:
		return (size_t)PTRDIFF_MAX + 1 - (u8(in) & 1);
	default:
		return 1 + u16(in) % (MAX_PAGES * pg - 1);
	}
}

static uint64_t gen_off(struct in *in, size_t size)
{
	switch (u8(in) % 7) {
	case 0:
		return 0;
	case 1:
		return u16(in) % (size + 1);
	case 2:
		return (u8(in) % 3) * pg;
	case 3:
		return size;
	case 4:
		return size + 1 + u8(in);
	case 5:
		return u8(in) & 1 ? UINT64_MAX - u8(in) : (uint64_t)INT64_MAX - u8(in);
	default:
		return (u8(in) % 2) * pg + 1 + u8(in);
	}
}

/* The file before the call: its pattern, size and whether it exists. */
static void make_file(struct in *in, struct slot *s, int idx, bool missing)
{
	size_t size = u8(in) % 4 == 0 ? 0 : u16(in) % ((MAX_PAGES - 1) * pg);
	unsigned seed = u8(in);

	snprintf(s->path, sizeof(s->path), "%s/slot%d", dir, idx);
	unlink(s->path);
	s->has_file = !missing;
	s->fsize = missing ? 0 : size;
	s->file = calloc(1, s->fsize + 1);
	for (size_t i = 0; i < s->fsize; i++)
		s->file[i] = (unsigned char)(seed + i * 7 + (i >> 9));
	if (!missing)
		write_file(s->path, s->file, s->fsize);
}

static int call_ctor(const struct ctor_req *q, const struct slot *s, int fd, mmapkit_map **m,
		     const char **name)
{
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = q->kind, .flags = q->flags,
				 .path = q->by_fd ? NULL : s->path, .fd = fd, .offset = q->off,
				 .len = q->len};

	if (q->via == 2) {
		*name = "mmapkit_map_new";
		if (!is_file_kind(q->kind))
			o.path = NULL;
		return mmapkit_map_new(m, &o);
	}
	switch (q->kind) {
	case AP:
		*name = "mmapkit_anon_private";
		return mmapkit_anon_private(m, q->len, q->flags);
	case AS:
		*name = "mmapkit_anon_shared";
		return mmapkit_anon_shared(m, q->len, q->flags);
	case FP:
		*name = q->by_fd ? "mmapkit_fd_private" : "mmapkit_file_private";
		return q->by_fd ? mmapkit_fd_private(m, fd, q->off, q->len, q->flags)
				: mmapkit_file_private(m, s->path, q->off, q->len, q->flags);
	default:
		*name = q->by_fd ? "mmapkit_fd_shared" : "mmapkit_file_shared";
		return q->by_fd ? mmapkit_fd_shared(m, fd, q->off, q->len, q->flags)
				: mmapkit_file_shared(m, s->path, q->off, q->len, q->flags);
	}
}

/* The model of a handle the constructor just returned. */
static void adopt(struct slot *s, const struct ctor_req *q, mmapkit_map *m, size_t len,
		  size_t fsize)
{
	bool file = is_file_kind(q->kind);

	s->m = m;
	s->kind = q->kind;
	s->flags = q->flags;
	s->off = file ? q->off : 0;
	s->len = len;
	s->delta = (size_t)(s->off % pg);
	s->npages = len ? (s->delta + len + pg - 1) / pg : 0;
	s->ptr = mmapkit_ptr(m);
	s->base = s->ptr - s->delta;
	s->fd = mmapkit_fd(m);
	s->shadow = calloc(1, len + 1);
	if (file) {
		if (fsize > s->fsize) {
			s->file = realloc(s->file, fsize + 1);
			memset(s->file + s->fsize, 0, fsize - s->fsize);
			s->fsize = fsize;
		}
		s->has_file = true;
		memcpy(s->shadow, s->file + s->off, len);
	}
	for (size_t j = 0; j < s->npages; j++) {
		s->prot[j] = q->flags & MMAPKIT_RDONLY ? PR : PR | PW;
		s->locked[j] = q->flags & MMAPKIT_LOCK;
		s->anon[j] = s->freed[j] = false;
		s->adv[j] = (q->flags & MMAPKIT_THP ? V_HG : 0) |
			    (q->flags & MMAPKIT_DONTFORK ? V_DC : 0) |
			    (q->flags & MMAPKIT_WIPEONFORK ? V_WF : 0) |
			    (q->flags & MMAPKIT_DONTDUMP ? V_DD : 0);
	}
	if (len && ((uintptr_t)s->base % pg || !s->ptr))
		fail("create: pointer %p is not delta %zu past a page", (void *)s->ptr, s->delta);
	if (mmapkit_kind(m) != q->kind || mmapkit_len(m) != len || mmapkit_flags(m) != q->flags ||
	    mmapkit_offset(m) != s->off || (file ? s->fd < 0 : s->fd != -1))
		fail("create: accessors disagree with the request");
}

static void op_create(struct in *in, struct slot *s)
{
	int idx = (int)(s - slots), fd = -1, exp, r;
	struct ctor_req q = {0};
	size_t len, fsize, fds, ours = 0;
	void *gap = NULL;
	const char *name = "?";
	mmapkit_map *m = (mmapkit_map *)&q;
	char what[160];

	op_unmap(s);
	slot_reset(s);
	q.kind = 1 + u8(in) % 4;
	q.via = u8(in) % 3;
	q.by_fd = is_file_kind(q.kind) && (q.via == 1 || (q.via == 2 && (u8(in) & 1)));
	q.fd_rw = u8(in) % 4 != 0;
	q.missing = is_file_kind(q.kind) && !q.by_fd && u8(in) % 5 == 0;
	q.flags = gen_flags(in, q.kind);
	if (is_file_kind(q.kind)) {
		make_file(in, s, idx, q.missing);
		q.off = gen_off(in, s->fsize);
	} else if (q.via == 2 && u8(in) % 16 == 0) {
		q.off = 1 + u8(in); /* refused: an anonymous mapping takes no offset */
	}
	q.len = gen_len(in, is_file_kind(q.kind));
	if (q.by_fd) {
		fd = open(s->path, (q.fd_rw ? O_RDWR : O_RDONLY) | O_CLOEXEC);
		if (fd < 0)
			fail("open %s: %s", s->path, strerror(errno));
	}
	exp = predict_ctor(&q, s, &len, &fsize);
	fds = count_fds();
	if (exp) {
		ours = count_ours();
		gap = next_map();
	}
	r = call_ctor(&q, s, fd, &m, &name);
	snprintf(what, sizeof(what), "slot %d kind %d%s flags 0x%x off %llu len %zu, file %zu%s",
		 idx, q.kind,
		 q.by_fd ? (q.fd_rw ? " fd rw" : " fd ro") : "", q.flags,
		 (unsigned long long)q.off, q.len, s->fsize, q.missing ? " missing" : "");
	check_ret(name, r, exp, what);
	if (fd >= 0 && (fcntl(fd, F_GETFD) < 0 || close(fd) < 0))
		fail("%s closed the caller's descriptor", name);
	if (r < 0) {
		if (m)
			fail("%s failed but *out is %p", name, (void *)m);
		void *gap_now = next_map();
		size_t ours_now = count_ours(), fds_now = count_fds();

		if (gap_now != gap || ours_now != ours || fds_now != fds - (fd >= 0))
			fail("%s(%s) failed and left something: next mapping at %p (%p before), "
			     "%zu file or shared mappings (%zu before), "
			     "%zu descriptors (%zu before)",
			     name, what, gap_now, gap, ours_now, ours, fds_now, fds - (fd >= 0));
		check_file(s, "after a refused constructor");
		return;
	}
	if (q.missing) { /* created: an empty file */
		s->has_file = true;
		s->fsize = 0;
	}
	adopt(s, &q, m, len, fsize);
	check_slot(s, "after create");
}

/* Store a few bytes of the input and a pattern after them, where the model says it may. */
static void op_write(struct in *in, struct slot *s)
{
	uint8_t fill = (uint8_t)u8(in);
	size_t n = u8(in) % 33, off = u16(in), len = u16(in), p0, p1;

	if (!s->m || !s->len)
		return;
	off %= s->len;
	len = 1 + len % (s->len - off);
	p0 = page_of(s, off);
	p1 = page_of(s, off + len - 1) + 1;
	if (!all_prot(s, p0, p1, PW))
		return; /* would fault: the model knows */
	n = n < len ? n : len;
	n = n < in->n ? n : in->n;
	memcpy(s->shadow + off, in->p, n);
	in->p += n, in->n -= n;
	for (size_t i = n; i < len; i++)
		s->shadow[off + i] = (unsigned char)(fill + (off + i) * 13);
	memcpy(s->ptr + off, s->shadow + off, len);
	if (trace)
		fprintf(stderr, "write(slot %td, %zu, %zu)\n", s - slots, off, len);
	for (size_t j = p0; j < p1; j++)
		settle_freed(s, j, off, off + len);
	if (s->kind == FS)
		memcpy(s->file + s->off + off, s->shadow + off, len);
}

static void op_read(struct in *in, struct slot *s)
{
	static const size_t aligns[] = {0, 1, 2, 3, 4, 8, 16, 4096, 6, 64};
	size_t off, size, align = aligns[u8(in) % 10];
	unsigned char *p, *exp = NULL;

	gen_range(in, s->m ? s : NULL, &off, &size);
	if (s->m && !(align & (align - 1)) && off <= s->len && size <= s->len - off &&
	    (align < 2 || (uintptr_t)(s->ptr + off) % align == 0))
		exp = s->ptr + off;
	p = mmapkit_at(s->m, off, size, align);
	n_calls++;
	if (trace)
		fprintf(stderr, "mmapkit_at(slot %td, %zu, %zu, %zu) = %p\n", s - slots, off, size,
			align, (void *)p);
	if (p != exp)
		fail("mmapkit_at(off %zu, size %zu, align %zu) = %p, expected %p", off, size, align,
		     (void *)p, (void *)exp);
	if (!p && strncmp(mmapkit_errmsg(), "mmapkit_at: ", 12) != 0)
		fail("mmapkit_at failed without a message: %s", mmapkit_errmsg());
	if (!p || !size)
		return;
	for (size_t j = page_of(s, off); j <= page_of(s, off + size - 1); j++)
		if (!(s->prot[j] & PR))
			return;
	for (size_t i = 0; i < size; i++)
		if (p[i] != s->shadow[off + i] && !s->freed[page_of(s, off + i)])
			fail("read: byte %zu is 0x%02x, model 0x%02x", off + i, p[i],
			     s->shadow[off + i]);
}

static void op_sync(struct in *in, struct slot *s)
{
	unsigned how = u8(in) % 16;
	size_t off, len;
	struct span r;
	int exp = 0;
	char what[96];

	gen_range(in, s->m ? s : NULL, &off, &len);
	if (!s->m || s->kind != FS || (how & ~7u) ||
	    ((how & MMAPKIT_SYNC_ASYNC) && (how & MMAPKIT_SYNC_FULL)))
		exp = -EINVAL;
	else if ((exp = resolve(s, off, len, &r)) == 0 && r.p1 > r.p0 &&
		 (how & MMAPKIT_SYNC_INVALIDATE) && any_locked(s, r.p0, r.p1))
		exp = -EBUSY; /* the kernel's answer for MS_INVALIDATE on locked pages */
	snprintf(what, sizeof(what), "slot %td, %zu, %zu, how %u", s - slots, off, len, how);
	check_ret("mmapkit_sync", mmapkit_sync(s->m, off, len, how), exp, what);
}

struct advice_rule {
	unsigned kinds; /* bit per kind */
	bool destructive, no_locked;
	unsigned mask, val; /* V_* advice it sets or clears */
};

#define K(k) (1u << (k))
static const struct advice_rule rules[] = {
	[MMAPKIT_ADV_NORMAL] = {0x1e, false, false, V_RR | V_SR, 0},
	[MMAPKIT_ADV_RANDOM] = {0x1e, false, false, V_RR | V_SR, V_RR},
	[MMAPKIT_ADV_SEQUENTIAL] = {0x1e, false, false, V_RR | V_SR, V_SR},
	[MMAPKIT_ADV_WILLNEED] = {0x1e, false, false, 0, 0},
	[MMAPKIT_ADV_DONTNEED] = {0x1e, true, true, 0, 0},
	[MMAPKIT_ADV_FREE] = {K(AP), true, true, 0, 0},
	[MMAPKIT_ADV_REMOVE] = {K(AS) | K(FS), true, true, 0, 0},
	[MMAPKIT_ADV_HUGEPAGE] = {0x1e, false, false, V_HG | V_NH, V_HG},
	[MMAPKIT_ADV_NOHUGEPAGE] = {0x1e, false, false, V_HG | V_NH, V_NH},
	[MMAPKIT_ADV_DONTDUMP] = {0x1e, false, false, V_DD, V_DD},
	[MMAPKIT_ADV_DODUMP] = {0x1e, false, false, V_DD, 0},
	[MMAPKIT_ADV_DONTFORK] = {0x1e, false, false, V_DC, V_DC},
	[MMAPKIT_ADV_DOFORK] = {0x1e, false, false, V_DC, 0},
	[MMAPKIT_ADV_WIPEONFORK] = {K(AP), false, false, V_WF, V_WF},
	[MMAPKIT_ADV_KEEPONFORK] = {K(AP), false, false, V_WF, 0},
	[MMAPKIT_ADV_COLD] = {0x1e, false, true, 0, 0},
	[MMAPKIT_ADV_PAGEOUT] = {0x1e, false, true, 0, 0},
	[MMAPKIT_ADV_POPULATE_READ] = {0x1e, false, false, 0, 0},
	[MMAPKIT_ADV_POPULATE_WRITE] = {0x1e, false, false, 0, 0},
};
#define NADVICE ((int)(sizeof(rules) / sizeof(rules[0])))

static int predict_advise(const struct slot *s, int adv, size_t off, size_t len, struct span *r,
			  size_t *p0, size_t *p1)
{
	const struct advice_rule *a;
	int err;

	if (!s->m || adv < 0 || adv >= NADVICE)
		return -EINVAL;
	a = &rules[adv];
	if (!(a->kinds & K(s->kind)))
		return -EINVAL;
	if ((adv == MMAPKIT_ADV_POPULATE_WRITE || adv == MMAPKIT_ADV_REMOVE) &&
	    (s->flags & MMAPKIT_RDONLY))
		return -EACCES;
	err = resolve(s, off, len, r);
	if (err)
		return err;
	*p0 = a->destructive ? r->w0 : r->p0;
	*p1 = a->destructive ? r->w1 : r->p1;
	if (*p0 == *p1)
		return 0;
	if (a->no_locked && any_locked(s, *p0, *p1))
		return -EINVAL;
	if (adv == MMAPKIT_ADV_POPULATE_READ && !all_prot(s, *p0, *p1, PR))
		return -EACCES;
	if (adv == MMAPKIT_ADV_POPULATE_WRITE && !all_prot(s, *p0, *p1, PW))
		return -EACCES;
	return 0;
}

/* Bytes of page j inside the range: [lo, hi) as offsets from mmapkit_ptr(). */
static void page_bytes(const struct slot *s, size_t j, size_t *lo, size_t *hi)
{
	*lo = j * pg - s->delta;
	*hi = *lo + pg;
}

static void file_zero(struct slot *s, size_t lo, size_t hi)
{
	memset(s->file + s->off + lo, 0, hi - lo);
}

/* What a destructive advice did to whole pages [p0, p1). */
static void advise_effect(struct slot *s, int adv, size_t p0, size_t p1)
{
	for (size_t j = p0; j < p1; j++) {
		size_t lo, hi;

		page_bytes(s, j, &lo, &hi);
		if (adv == MMAPKIT_ADV_FREE) {
			s->freed[j] = true;
		} else if (adv == MMAPKIT_ADV_REMOVE ||
			   (adv == MMAPKIT_ADV_DONTNEED && (s->kind == AP || s->anon[j]))) {
			memset(s->shadow + lo, 0, hi - lo);
			s->freed[j] = false;
			if (s->kind == FS)
				file_zero(s, lo, hi);
		} else if (adv == MMAPKIT_ADV_DONTNEED && s->kind == FP) {
			memcpy(s->shadow + lo, s->file + s->off + lo, hi - lo);
		}
	}
}

static void op_advise(struct in *in, struct slot *s)
{
	int adv = (int)(u8(in) % (NADVICE + 2)) - 1, exp;
	size_t off, len, p0 = 0, p1 = 0;
	struct span r;
	char what[96];

	gen_range(in, s->m ? s : NULL, &off, &len);
	exp = predict_advise(s, adv, off, len, &r, &p0, &p1);
	snprintf(what, sizeof(what), "slot %td kind %d, %zu, %zu, advice %d", s - slots, s->kind,
		 off, len, adv);
	check_ret("mmapkit_advise", mmapkit_advise(s->m, off, len, adv), exp, what);
	if (exp == 0 && adv >= 0 && rules[adv].destructive)
		advise_effect(s, adv, p0, p1);
	for (size_t j = p0; exp == 0 && j < p1; j++)
		s->adv[j] = (s->adv[j] & ~rules[adv].mask) | rules[adv].val;
}

static int predict_destructive(const struct slot *s, bool revert, size_t off, size_t len,
			       struct span *r)
{
	int err;

	if (!s->m)
		return -EINVAL;
	if (revert && !is_private_kind(s->kind))
		return -EINVAL;
	if (s->flags & MMAPKIT_RDONLY)
		return -EACCES;
	err = resolve(s, off, len, r);
	if (err)
		return err;
	if (s->kind != FS && !edges_writable(s, r))
		return -EACCES;
	return 0;
}

/* Punch and revert: the range's new bytes, and the pages they replaced. */
static void destructive_effect(struct slot *s, bool revert, const struct span *r)
{
	size_t a = r->a - s->delta, z = r->z - s->delta;

	if (a == z) /* an empty range: nothing written, nothing replaced */
		return;
	if (revert && s->kind == FP)
		memcpy(s->shadow + a, s->file + s->off + a, z - a);
	else
		memset(s->shadow + a, 0, z - a);
	if (s->kind == FS)
		file_zero(s, a, z);
	for (size_t j = r->w0; j < r->w1; j++) {
		if (s->kind == FP)
			s->anon[j] = !revert;
		s->freed[j] = false; /* dropped: zeros for certain */
	}
	/* The partial edge pages were written. */
	if (r->a % pg)
		settle_freed(s, r->a / pg, a, z);
	if (r->z % pg)
		settle_freed(s, r->z / pg, a, z);
}

static void op_destructive(struct in *in, struct slot *s, bool revert)
{
	const char *call = revert ? "mmapkit_revert" : "mmapkit_punch";
	size_t off, len;
	struct span r;
	int exp, ret;
	char what[96];

	gen_range(in, s->m ? s : NULL, &off, &len);
	exp = predict_destructive(s, revert, off, len, &r);
	snprintf(what, sizeof(what), "slot %td kind %d, %zu, %zu", s - slots, s->kind, off, len);
	ret = revert ? mmapkit_revert(s->m, off, len) : mmapkit_punch(s->m, off, len);
	check_ret(call, ret, exp, what);
	if (exp == 0)
		destructive_effect(s, revert, &r);
}

static void op_protect(struct in *in, struct slot *s)
{
	unsigned prot = u8(in) % 9; /* 8: an unknown bit */
	size_t off, len;
	struct span r = {0};
	int exp;
	char what[96];

	if (prot == 8)
		prot = 0x10;
	gen_range(in, s->m ? s : NULL, &off, &len);
	if (!s->m || (prot & ~7u))
		exp = -EINVAL;
	else if ((prot & PW) && (prot & PX))
		exp = -EACCES;
	else if ((prot & PW) && (s->flags & MMAPKIT_RDONLY))
		exp = -EACCES;
	else
		exp = resolve(s, off, len, &r);
	if (exp == 0 && (prot & PX) && !file_exec_ok && is_file_kind(s->kind)) {
		for (size_t j = r.p0; j < r.p1; j++)
			if (!s->anon[j])
				exp = -EACCES; /* a file on a noexec mount */
	}
	snprintf(what, sizeof(what), "slot %td kind %d, %zu, %zu, prot %u", s - slots, s->kind,
		 off, len, prot);
	check_ret("mmapkit_protect", mmapkit_protect(s->m, off, len, prot), exp, what);
	for (size_t j = r.p0; exp == 0 && j < r.p1; j++)
		s->prot[j] = (unsigned char)prot;
}

static void op_lock(struct in *in, struct slot *s, bool lock)
{
	unsigned how = u8(in) % 3; /* 2: an unknown bit */
	size_t off, len;
	struct span r = {0};
	int exp, ret;
	char what[96];

	gen_range(in, s->m ? s : NULL, &off, &len);
	if (!s->m || (lock && (how & ~MMAPKIT_LOCK_ONFAULT)))
		exp = -EINVAL;
	else
		exp = resolve(s, off, len, &r);
	for (size_t j = r.p0; exp == 0 && lock && !how && j < r.p1; j++)
		if (!(s->prot[j] & (PR | PW)))
			exp = -ENOMEM; /* mlock cannot fault inaccessible pages in */
	snprintf(what, sizeof(what), "slot %td kind %d, %zu, %zu, how %u", s - slots, s->kind,
		 off, len, how);
	ret = lock ? mmapkit_lock(s->m, off, len, how) : mmapkit_unlock(s->m, off, len);
	check_ret(lock ? "mmapkit_lock" : "mmapkit_unlock", ret, exp, what);
	for (size_t j = r.p0; exp == 0 && j < r.p1; j++)
		s->locked[j] = lock;
}

/* ---- driver ---- */

/* At exit: the slots' files and the directory go (after a crash they stay, to look at). */
static void remove_dir(void)
{
	for (int i = 0; i < NSLOT; i++)
		if (slots[i].path[0])
			unlink(slots[i].path);
	rmdir(dir);
}

static void init_once(void)
{
	const char *base = getenv("FUZZ_DIR");
	char probe_path[PATH_MAX + 16];
	void *p;
	int fd;

	pg = mmapkit_page_size();
	trace = getenv("FUZZ_TRACE") != NULL;
	if (!base)
		base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s/mmapkit-fuzz-%d", base, (int)getpid());
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		fail("mkdir %s: %s", dir, strerror(errno));
	/* Is the directory on a noexec mount? Then PROT_EXEC on its files is refused. */
	snprintf(probe_path, sizeof(probe_path), "%s/exec-probe", dir);
	fd = open(probe_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || ftruncate(fd, (off_t)pg) < 0)
		fail("cannot create %s", probe_path);
	p = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
	file_exec_ok = p != MAP_FAILED && mprotect(p, pg, PROT_READ | PROT_EXEC) == 0;
	if (p != MAP_FAILED)
		munmap(p, pg);
	close(fd);
	unlink(probe_path);
	for (int i = 0; i < NSLOT; i++)
		slots[i].fd = -1;
	atexit(remove_dir);
}

static void run_op(struct in *in)
{
	unsigned op = u8(in) % 13;
	struct slot *s = pick(in);

	switch (op) {
	case 0:
		op_create(in, s);
		break;
	case 1:
	case 2:
		op_write(in, s);
		break;
	case 3:
		op_read(in, s);
		break;
	case 4:
		op_sync(in, s);
		break;
	case 5:
		op_advise(in, s);
		break;
	case 6:
		op_destructive(in, s, false);
		break;
	case 7:
		op_destructive(in, s, true);
		break;
	case 8:
		op_protect(in, s);
		break;
	case 9:
		op_lock(in, s, true);
		break;
	case 10:
		op_lock(in, s, false);
		break;
	case 11: /* reading smaps is slow (it walks the sanitizer's page tables): on request */
		if (u8(in) == 0x5a && !vmflags_checked) {
			check_vmflags();
			vmflags_checked = !trace; /* once per input, unless replaying */
		}
		break;
	default:
		op_unmap(s);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct in in = {data, size};
	size_t fds;

	if (!ready) {
		init_once();
		ready = true;
	}
	fds = count_fds();
	vmflags_checked = false;
	for (int ops = 0; in.n && ops < MAX_OPS; ops++) {
		run_op(&in);
		check_all("after an operation");
	}
	for (int i = 0; i < NSLOT; i++) {
		op_unmap(&slots[i]);
		slot_reset(&slots[i]);
	}
	if (count_fds() != fds)
		fail("%zu descriptors open after the input, %zu before", count_fds(), fds);
	return 0;
}
