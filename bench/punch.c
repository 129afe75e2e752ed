/* SPDX-License-Identifier: MIT */
/*
 * Section 6: punching a hole over a whole faulted-in mapping: mmapkit_punch
 * against the raw ways to drop memory (MADV_DONTNEED, MAP_FIXED over it,
 * munmap + mmap, MADV_REMOVE, fallocate), for anonymous private, anonymous
 * shared and a shared file on tmpfs.  Only the punch is timed; afterwards the
 * resident size is measured (mincore; fincore and vmtouch for the file) and
 * the bytes checked to read zero.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

enum { PK_ANON_PRIVATE, PK_ANON_SHARED, PK_FILE_SHARED };
enum { M_MK, M_DONTNEED, M_FIXED, M_REMAP, M_REMOVE, M_FALLOCATE };

struct parg {
	int kind, method;
	size_t size;
	const char *path;
	bool frees;          /* the method must leave nothing resident */
	size_t resident_max; /* the most seen after a punch */
	bool nonzero;        /* a byte did not read zero afterwards */
	long long tool[2];   /* fincore, vmtouch after the first punch (file) */
	char tool_msg[2][200];
	bool tools_done;
};

/* The mapping a measurement punches. */
struct target {
	mmapkit_map *m;
	unsigned char *p;
	int fd;
};

static int setup(struct parg *a, struct target *t, char *err, size_t len)
{
	int shared = a->kind == PK_ANON_PRIVATE ? MAP_PRIVATE : MAP_SHARED;
	int e = 0;

	*t = (struct target){.fd = -1};
	if (a->kind == PK_FILE_SHARED) { /* a fresh file: every block allocated anew */
		t->fd = open(a->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (t->fd < 0 || ftruncate(t->fd, 0) < 0 || ftruncate(t->fd, (off_t)a->size) < 0) {
			snprintf(err, len, "%s: %s", a->path, strerror(errno));
			return -1;
		}
	}
	if (a->method == M_MK) {
		e = a->kind == PK_ANON_PRIVATE	 ? mmapkit_anon_private(&t->m, a->size, 0)
		    : a->kind == PK_ANON_SHARED ? mmapkit_anon_shared(&t->m, a->size, 0)
						 : mmapkit_fd_shared(&t->m, t->fd, 0, a->size, 0);
		t->p = e ? NULL : mmapkit_ptr(t->m);
	} else {
		t->p = mmap(NULL, a->size, PROT_READ | PROT_WRITE,
			    shared | (t->fd < 0 ? MAP_ANONYMOUS : 0), t->fd, 0);
		t->p = t->p == MAP_FAILED ? NULL : t->p;
	}
	if (!t->p) {
		snprintf(err, len, "mapping: %s", e ? mmapkit_errmsg() : strerror(errno));
		if (t->fd >= 0)
			close(t->fd);
		return -1;
	}
	memset(t->p, 0x5a, a->size); /* fault every page in */
	return 0;
}

static int punch(const struct parg *a, struct target *t)
{
	int anon = MAP_ANONYMOUS | (a->kind == PK_ANON_PRIVATE ? MAP_PRIVATE : MAP_SHARED);
	void *p;

	switch (a->method) {
	case M_MK:
		return mmapkit_punch(t->m, 0, MMAPKIT_TO_END);
	case M_DONTNEED:
		return madvise(t->p, a->size, MADV_DONTNEED);
	case M_REMOVE:
		return madvise(t->p, a->size, MADV_REMOVE);
	case M_FALLOCATE:
		return fallocate(t->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
				 (off_t)a->size);
	case M_FIXED:
		p = mmap(t->p, a->size, PROT_READ | PROT_WRITE, anon | MAP_FIXED, -1, 0);
		return p == MAP_FAILED ? -1 : 0;
	default: /* M_REMAP */
		munmap(t->p, a->size);
		p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, anon, -1, 0);
		t->p = p == MAP_FAILED ? NULL : p;
		return t->p ? 0 : -1;
	}
}

/* What is left: resident bytes first (reading would fault pages in), then the bytes. */
static void inspect(struct parg *a, const struct target *t)
{
	size_t res = resident_bytes(t->p, a->size);

	if (res > a->resident_max)
		a->resident_max = res;
	if (a->kind == PK_FILE_SHARED && !a->tools_done) {
		a->tool[0] = tool_resident("fincore", a->path, a->tool_msg[0], sizeof(a->tool_msg[0]));
		a->tool[1] = tool_resident("vmtouch", a->path, a->tool_msg[1], sizeof(a->tool_msg[1]));
		a->tools_done = true;
	}
	for (size_t i = 0; a->frees && i < a->size; i += 64 * KiB)
		if (t->p[i] || t->p[a->size - 1 - i])
			a->nonzero = true;
}

static int punch_once(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	struct parg *a = arg;
	struct target t;
	double t0;
	int e;

	(void)iters;
	if (setup(a, &t, err, errlen) < 0)
		return -1;
	t0 = now_ns();
	e = punch(a, &t);
	*ns = now_ns() - t0;
	if (e)
		snprintf(err, errlen, "%s", a->method == M_MK ? mmapkit_errmsg() : strerror(errno));
	else
		inspect(a, &t);
	if (t.m)
		mmapkit_unmap(t.m);
	else if (t.p)
		munmap(t.p, a->size);
	if (t.fd >= 0)
		close(t.fd);
	return e ? -1 : 0;
}

/* The note: resident size after each method, and the verdict on it. */
static void residency_note(struct opts *o, struct bcase *c, struct parg *a, char *note,
			   size_t len)
{
	size_t at = (size_t)snprintf(note, len, "resident after the punch (most seen):");

	for (int i = 0; i < c->nv; i++) {
		char sz[32];

		if (c->v[i].missing)
			continue;
		at += (size_t)snprintf(note + at, len - at, " %s %s%s%s;", c->v[i].name,
				       human_size(a[i].resident_max, sz, sizeof(sz)),
				       a[i].frees ? "" : " (does not free)",
				       a[i].nonzero ? " NOT ZERO" : "");
		if (a[i].frees && (a[i].resident_max || a[i].nonzero))
			fail(o, "punch: %s, %s: %zu bytes resident, %s afterwards", c->title,
			     c->v[i].name, a[i].resident_max,
			     a[i].nonzero ? "non-zero bytes" : "all zero");
		csv_row(o, "punch-residency", c->title, c->v[i].name, "", "bytes",
			(double)a[i].resident_max, 0, 0, NAN, NAN, NAN, NAN,
			a[i].frees ? (a[i].resident_max ? "MISS" : "ok") : "does not free", 1, "");
	}
	if (a[0].kind != PK_FILE_SHARED)
		return;
	for (int i = 0; i < c->nv; i++) {
		const char *who[] = {"fincore", "vmtouch"};

		for (int k = 0; k < 2 && a[i].tools_done; k++) {
			if (a[i].tool[k] >= 0)
				at += (size_t)snprintf(note + at, len - at, " %s says %lld B for %s;",
						       who[k], a[i].tool[k], c->v[i].name);
			else if (i == 0)
				at += (size_t)snprintf(note + at, len - at, " %s;", a[i].tool_msg[k]);
		}
	}
}

struct method {
	const char *name;
	int method;
	bool frees;
};

static void punch_case(struct opts *o, int kind, const char *title, const struct method *ms,
		       int n, const char *path)
{
	struct parg a[MAX_VARIANTS];
	struct bcase c = {.section = "punch", .once = true, .title = title, .label = title};
	static char note[2048];

	for (int i = 0; i < n; i++) {
		a[i] = (struct parg){.kind = kind, .method = ms[i].method, .size = o->big,
				     .path = path, .frees = ms[i].frees};
		case_add(&c, ms[i].name, punch_once, &a[i]);
		if (i)
			case_cmp(&c, i, 0, ms[i].method == M_MK ? 1.05 : 0,
				 "mmapkit_punch is the same one system call here; the difference is "
				 "noise");
	}
	measure_case(o, &c);
	residency_note(o, &c, a, note, sizeof(note));
	c.note = note;
	report_case(o, &c);
}

void bench_punch(struct opts *o)
{
	static const struct method ap[] = {
		{"raw MADV_DONTNEED", M_DONTNEED, true},
		{"mmapkit_punch", M_MK, true},
		{"raw MAP_FIXED remap", M_FIXED, true},
		{"raw munmap + mmap", M_REMAP, true},
	};
	static const struct method as[] = {
		{"raw MADV_REMOVE", M_REMOVE, true},
		{"mmapkit_punch", M_MK, true},
		{"raw MAP_FIXED remap", M_FIXED, true},
		{"raw munmap + mmap", M_REMAP, true},
		{"raw MADV_DONTNEED (keeps the memory)", M_DONTNEED, false},
	};
	static const struct method fs[] = {
		{"raw fallocate PUNCH_HOLE", M_FALLOCATE, true},
		{"mmapkit_punch", M_MK, true},
		{"raw MADV_REMOVE", M_REMOVE, true},
		{"raw MADV_DONTNEED (keeps the memory)", M_DONTNEED, false},
	};
	char path[600], sz[32], t[3][96];

	section_begin(o, "punch", "6. Punching a hole over a whole mapping",
		      "The mapping is faulted in (memset) before each measurement; only the punch "
		      "is timed; then the resident size is read with mincore (and for the file with "
		      "fincore and vmtouch), and the bytes must read zero. The baseline is the one "
		      "system call mmapkit_punch makes for the kind. Target: mmapkit / baseline "
		      "<= 1.05.");
	human_size(o->big, sz, sizeof(sz));
	snprintf(t[0], sizeof(t[0]), "punch %s anon-private", sz);
	snprintf(t[1], sizeof(t[1]), "punch %s anon-shared", sz);
	snprintf(t[2], sizeof(t[2]), "punch %s file-shared (tmpfs)", sz);
	punch_case(o, PK_ANON_PRIVATE, t[0], ap, 4, NULL);
	punch_case(o, PK_ANON_SHARED, t[1], as, 5, NULL);
	snprintf(path, sizeof(path), "%s/mmapkit-bench-punch-%d", o->shm_dir, (int)getpid());
	punch_case(o, PK_FILE_SHARED, t[2], fs, 4, path);
	unlink(path);
}
