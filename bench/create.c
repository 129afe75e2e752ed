/* SPDX-License-Identifier: MIT */
/*
 * Section 2: create + touch one page + unmap, against raw mmap/munmap and the
 * peers; and the cost of one range call (advise, sync) on a live mapping.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

enum { K_ANON_PRIVATE, K_ANON_SHARED, K_FILE };

static const char *const kind_names[] = {"anon-private", "anon-shared", "file"};

struct carg {
	int kind;
	size_t size;
	char path[600];
	mmapkit_map *m; /* the call cases' mapping */
};

static volatile unsigned char sink;

static int mk_err(char *err, size_t len)
{
	snprintf(err, len, "%s", mmapkit_errmsg());
	return -1;
}

static int sys_err(char *err, size_t len, const char *call)
{
	snprintf(err, len, "%s: %m", call);
	return -1;
}

static int mk_create(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct carg *a = arg;
	double t0 = now_ns();

	for (long i = 0; i < iters; i++) {
		mmapkit_map *m;
		int e = a->kind == K_ANON_PRIVATE ? mmapkit_anon_private(&m, a->size, 0)
			: a->kind == K_ANON_SHARED ? mmapkit_anon_shared(&m, a->size, 0)
						     : mmapkit_file_shared(&m, a->path, 0, 0, 0);

		if (e)
			return mk_err(err, errlen);
		if (a->kind == K_FILE)
			sink = *(volatile unsigned char *)mmapkit_ptr(m);
		else
			*(volatile unsigned char *)mmapkit_ptr(m) = 1;
		mmapkit_unmap(m);
	}
	*ns = now_ns() - t0;
	return 0;
}

static int raw_anon(const struct carg *a)
{
	int f = (a->kind == K_ANON_SHARED ? MAP_SHARED : MAP_PRIVATE) | MAP_ANONYMOUS;
	void *p = mmap(NULL, a->size, PROT_READ | PROT_WRITE, f, -1, 0);

	if (p == MAP_FAILED)
		return -1;
	*(volatile unsigned char *)p = 1;
	return munmap(p, a->size);
}

/* The same work by hand: open, fstat for the size, mmap, touch, munmap, close. */
static int raw_file(const struct carg *a)
{
	int fd = open(a->path, O_RDWR | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) < 0) {
		close(fd);
		return -1;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		close(fd);
		return -1;
	}
	sink = *(volatile unsigned char *)p;
	munmap(p, (size_t)st.st_size);
	return close(fd);
}

static int raw_create(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct carg *a = arg;
	double t0 = now_ns();

	for (long i = 0; i < iters; i++)
		if ((a->kind == K_FILE ? raw_file(a) : raw_anon(a)) < 0)
			return sys_err(err, errlen, "mmap");
	*ns = now_ns() - t0;
	return 0;
}

/*
 * One range call on a live mapping, repeated: the per-call overhead.  raw and
 * mmapkit work on the same mapping (the handle's), since the cost of a cheap
 * call differs by a few percent from one mapping to the next.
 */
static int mk_call(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct carg *a = arg;
	double t0 = now_ns();
	int e = 0;

	for (long i = 0; i < iters && !e; i++)
		e = a->kind ? mmapkit_sync(a->m, 0, MMAPKIT_TO_END, 0)
			    : mmapkit_advise(a->m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_NORMAL);
	*ns = now_ns() - t0;
	return e ? mk_err(err, errlen) : 0;
}

static int raw_call(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct carg *a = arg;
	void *p = mmapkit_ptr(a->m);
	size_t len = mmapkit_len(a->m);
	double t0 = now_ns();
	int e = 0;

	for (long i = 0; i < iters && !e; i++)
		e = a->kind ? msync(p, len, MS_SYNC) : madvise(p, len, MADV_NORMAL);
	*ns = now_ns() - t0;
	return e ? sys_err(err, errlen, a->kind ? "msync" : "madvise") : 0;
}

#define FIX_RAW                                                                              \
	"mmapkit adds argument checks and one calloc/free of the handle to the raw calls; "  \
	"a per-thread cache of freed handles would take the allocator off this path"
#define FIX_PEER                                                                             \
	"the peer makes the same system calls (section 1), in a process of its own; what "   \
	"mmapkit adds is its handle (calloc/free and checks: compare mmapkit / raw), and "   \
	"the rest is the difference between the processes"

#define FIX_PEER_CALL                                                                        \
	"Boost and memmap2 make the bare madvise/msync, as raw does; raw itself runs a few "  \
	"percent slower in the benchmark's process than the peers do in theirs (the same "   \
	"call; the cause is the process, not the library), and the rest is mmapkit's checks " \
	"and attribute bookkeeping (compare mmapkit / raw)"

static void add_peers(struct opts *o, struct bcase *c, int mk, struct peer_op *ops,
		      const char *cmd, const char *fix)
{
	for (int i = 0; i < o->npeers; i++) {
		int v = c->nv;

		snprintf(ops[i].cmd, sizeof(ops[i].cmd), "%s", cmd);
		peer_variant(c, &o->peers[i], &ops[i]);
		case_cmp_peer(c, v, mk, fix);
	}
}

static void create_case(struct opts *o, int kind, size_t size)
{
	struct carg a;
	struct peer_op ops[MAX_PEERS];
	struct bcase c = {.section = "create"};
	char title[128], label[64], sz[32], cmd[700];
	uint64_t sum;
	int mk;

	memset(&a, 0, sizeof(a));
	memset(ops, 0, sizeof(ops));
	human_size(size, sz, sizeof(sz));
	snprintf(title, sizeof(title), "%s %s", kind_names[kind], sz);
	snprintf(label, sizeof(label), "%s %s", kind_names[kind], sz);
	c.title = title;
	c.label = label;
	a.kind = kind;
	a.size = size;
	a.path[0] = '\0';
	if (kind == K_FILE) {
		snprintf(a.path, sizeof(a.path), "%s/create-%zu", o->dir, size);
		if (make_pattern_file(a.path, size, &sum) < 0) {
			fail(o, "create: cannot write %s", a.path);
			return;
		}
	}
	case_add(&c, "raw", raw_create, &a);
	mk = case_add(&c, "mmapkit", mk_create, &a);
	case_cmp(&c, mk, 0, 1.05, FIX_RAW);
	snprintf(cmd, sizeof(cmd), "create %s %zu %s", kind_names[kind], size, a.path);
	add_peers(o, &c, mk, ops, cmd, FIX_PEER);
	run_case(o, &c);
	if (kind == K_FILE)
		unlink(a.path);
}

/* a->kind: 0 advise, 1 sync; both on a shared mapping of a 64 KiB tmpfs file. */
static void call_case(struct opts *o, const char *path, bool sync)
{
	struct carg a;
	struct peer_op ops[MAX_PEERS];
	struct bcase c = {.section = "call"};
	char cmd[700];
	int mk;

	memset(&a, 0, sizeof(a));
	memset(ops, 0, sizeof(ops));
	a.kind = sync;
	a.size = 64 * KiB;
	snprintf(a.path, sizeof(a.path), "%s", path);
	c.title = sync ? "sync (msync MS_SYNC), clean 64 KiB mapping of a tmpfs file"
		       : "advise(NORMAL), 64 KiB mapping of a tmpfs file";
	c.label = sync ? "sync" : "advise";
	if (mmapkit_file_shared(&a.m, a.path, 0, 0, 0) < 0) {
		fail(o, "call: %s", mmapkit_errmsg());
		return;
	}
	case_add(&c, "raw", raw_call, &a);
	mk = case_add(&c, "mmapkit", mk_call, &a);
	case_cmp(&c, mk, 0, 1.05,
		 sync ? "mmapkit checks the kind, the mode bits and the range before the msync; "
			"on tmpfs the msync itself does almost nothing, so those checks show"
		      : "mmapkit_advise checks the kind, the advice and the range, and records "
			"the advice in the handle's attribute runs (punch and revert restore it): "
			"a few tens of ns; shifts instead of the range divisions and skipping a record "
			"that does not change were tried and gained nothing measurable, so a "
			"cheaper advise would have to drop the record the contract needs");
	snprintf(cmd, sizeof(cmd), "%s %s", sync ? "sync" : "advise", a.path);
	add_peers(o, &c, mk, ops, cmd, FIX_PEER_CALL);
	run_case(o, &c);
	mmapkit_unmap(a.m);
}

void bench_create(struct opts *o)
{
	static const size_t sizes[] = {4 * KiB, 64 * KiB, 2 * MiB};
	char path[600];
	uint64_t sum;

	section_begin(o, "create", "2. Create + touch one page + unmap",
		      "Time per operation: create the mapping, write one byte (read one for a "
		      "file), unmap; a file case opens, sizes and maps a page-cached file of that "
		      "size. Target: mmapkit / raw <= 1.05; a peer faster than mmapkit by more "
		      "than 5 % is a miss.");
	for (int k = K_ANON_PRIVATE; k <= K_FILE; k++)
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
			create_case(o, k, sizes[i]);
	section_begin(o, "call", "2b. One range call on a live mapping",
		      "The per-call overhead of the wrapper (and of an interpreter, for Python): "
		      "the same system call, repeated on a shared mapping of a tmpfs file made "
		      "beforehand (tmpfs, so that no disk write-back comes into the sync); raw "
		      "makes its calls on mmapkit's mapping, each peer on its own.");
	snprintf(path, sizeof(path), "%s/mmapkit-bench-call-%d", o->shm_dir, (int)getpid());
	if (make_pattern_file(path, 64 * KiB, &sum) < 0) {
		fail(o, "call: cannot write %s", path);
		return;
	}
	call_case(o, path, false);
	call_case(o, path, true);
	unlink(path);
}
