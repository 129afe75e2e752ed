/* SPDX-License-Identifier: MIT */
/*
 * Section 5: round-trip latency between a parent and a forked child: one
 * counter each way in a shared anonymous mapping (mmapkit, or raw mmap),
 * against a pair of pipes and a socketpair carrying one byte each way.
 *
 * The shared-memory waiter spins for a while and then sleeps on a futex, so
 * that the test stays correct (if slow) when both processes share one CPU.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

#define SPIN_NS 20000.0 /* spin this long before sleeping */

/* One direction: a sequence number and whether the reader sleeps on it. */
struct chan {
	_Alignas(64) _Atomic uint32_t seq;
	_Atomic uint32_t sleeping;
};

struct shm {
	struct chan ping, pong;
};

enum { T_PIPE, T_SOCKET, T_RAW_SHM, T_MK_SHM };

struct iarg {
	int type;
	int child_cpu; /* -1: not pinned */
};

static void futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	/* Not FUTEX_PRIVATE_FLAG: the word lives in memory shared by two processes. */
	syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

static void wait_for(struct chan *c, uint32_t want)
{
	double until = 0;

	for (unsigned i = 1; atomic_load(&c->seq) != want; i++) {
		cpu_relax();
		if (i % 256)
			continue;
		if (!until)
			until = wall_ns() + SPIN_NS;
		else if (wall_ns() > until)
			break;
	}
	while (atomic_load(&c->seq) != want) {
		uint32_t cur = atomic_load(&c->seq);

		atomic_store(&c->sleeping, 1);
		if (atomic_load(&c->seq) == cur) /* the poster sees sleeping, or we see seq */
			futex(&c->seq, FUTEX_WAIT, cur);
		atomic_store(&c->sleeping, 0);
	}
}

static void post(struct chan *c, uint32_t v)
{
	atomic_store(&c->seq, v);
	if (atomic_load(&c->sleeping))
		futex(&c->seq, FUTEX_WAKE, 1);
}

static void child_shm(struct shm *s, long iters)
{
	for (uint32_t i = 1; i <= (uint32_t)iters + 1; i++) {
		wait_for(&s->ping, i);
		post(&s->pong, i);
	}
}

static void child_fd(int rd, int wr, long iters)
{
	char b;

	for (long i = 0; i <= iters; i++)
		if (read(rd, &b, 1) != 1 || write(wr, &b, 1) != 1)
			_exit(1);
}

/* The fds: [0] parent writes, [1] child reads, [2] child writes, [3] parent reads. */
static int open_fds(int type, int fd[4])
{
	int a[2], b[2];

	if (type == T_SOCKET) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, a) < 0)
			return -1;
		fd[0] = fd[3] = a[0];
		fd[1] = fd[2] = a[1];
		return 0;
	}
	if (pipe2(a, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(b, O_CLOEXEC) < 0) {
		close(a[0]);
		close(a[1]);
		return -1;
	}
	fd[0] = a[1];
	fd[1] = a[0];
	fd[2] = b[1];
	fd[3] = b[0];
	return 0;
}

static void close_fds(int type, int fd[4])
{
	close(fd[0]);
	close(fd[1]);
	if (type != T_SOCKET) {
		close(fd[2]);
		close(fd[3]);
	}
}

static double parent_fd(int wr, int rd, long iters)
{
	char b = 'x';
	double t0 = 0;

	for (long i = 0; i <= iters; i++) {
		if (i == 1) /* the first round trip only says the child is running */
			t0 = wall_ns();
		if (write(wr, &b, 1) != 1 || read(rd, &b, 1) != 1)
			return -1;
	}
	return wall_ns() - t0;
}

static double parent_shm(struct shm *s, long iters)
{
	double t0 = 0;

	for (uint32_t i = 1; i <= (uint32_t)iters + 1; i++) {
		if (i == 2)
			t0 = wall_ns();
		post(&s->ping, i);
		wait_for(&s->pong, i);
	}
	return wall_ns() - t0;
}

static void *shared_region(int type, mmapkit_map **m)
{
	*m = NULL;
	if (type == T_RAW_SHM)
		return map_anon(sizeof(struct shm), true);
	if (mmapkit_anon_shared(m, sizeof(struct shm), 0) < 0)
		return NULL;
	return mmapkit_ptr(*m);
}

static void run_child(const struct iarg *a, struct shm *s, int fd[4], long iters)
{
	alarm(60);
	if (a->child_cpu >= 0)
		pin_cpu(a->child_cpu);
	if (s)
		child_shm(s, iters);
	else
		child_fd(fd[1], fd[2], iters);
	_exit(0);
}

static int round_trips(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct iarg *a = arg;
	struct shm *s = NULL;
	mmapkit_map *m = NULL;
	int fd[4], st;
	pid_t pid;

	if (a->type >= T_RAW_SHM && !(s = shared_region(a->type, &m))) {
		snprintf(err, errlen, "shared mapping: %s", mmapkit_errmsg());
		return -1;
	}
	if (!s && open_fds(a->type, fd) < 0) {
		snprintf(err, errlen, "pipe/socketpair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0)
		run_child(a, s, fd, iters);
	*ns = pid < 0 ? -1 : s ? parent_shm(s, iters) : parent_fd(fd[0], fd[3], iters);
	if (s && a->type == T_RAW_SHM)
		munmap(s, sizeof(*s));
	mmapkit_unmap(m);
	if (!s)
		close_fds(a->type, fd);
	if (pid > 0 && (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st))) {
		snprintf(err, errlen, "the child failed");
		return -1;
	}
	return *ns < 0 ? -1 : 0;
}

/*
 * Parent and child on two different CPUs (the one --cpu names, or the first
 * allowed, and the next allowed one): a round trip through shared memory is
 * then two cache-line transfers, which is what this section measures.  With
 * one CPU, nothing is pinned and every round trip goes through the futex.
 */
void pick_cpus(const struct opts *o, int *parent, int *child)
{
	int first = -1;

	*parent = *child = -1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, &o->allowed))
			continue;
		if (first < 0)
			first = c;
		if (*parent < 0 && (o->cpu < 0 || c == o->cpu))
			*parent = c;
		else if (*parent >= 0 && *child < 0 && c != *parent)
			*child = c;
	}
	if (*child < 0 && first >= 0 && first != *parent)
		*child = first;
	if (*child < 0)
		*parent = -1;
}

void bench_ipc(struct opts *o)
{
	struct iarg a[4];
	struct bcase c = {.section = "ipc", .title = "round trip between two processes",
			  .label = "round trip"};
	int mk, raw, parent, child;
	cpu_set_t saved;
	char note[160];

	section_begin(o, "ipc", "5. Round-trip latency between two processes",
		      "Parent and forked child pass a counter back and forth; the time is per "
		      "round trip. Shared memory: spin (then futex) on a word in a shared "
		      "anonymous mapping. Targets: mmapkit >= 20x faster than the pipe (time ratio "
		      "<= 0.05); mmapkit / raw shared memory within 10 %.");
	pick_cpus(o, &parent, &child);
	sched_getaffinity(0, sizeof(saved), &saved);
	if (parent >= 0) {
		pin_cpu(parent);
		snprintf(note, sizeof(note), "parent on CPU %d, child on CPU %d", parent, child);
	} else {
		snprintf(note, sizeof(note), "one CPU: parent and child share it");
	}
	c.note = note;
	for (int i = 0; i < 4; i++)
		a[i] = (struct iarg){.type = i, .child_cpu = child};
	case_add(&c, "pipe", round_trips, &a[T_PIPE]);
	case_cmp(&c, case_add(&c, "socketpair", round_trips, &a[T_SOCKET]), 0, 0, NULL);
	raw = case_add(&c, "raw shared mmap", round_trips, &a[T_RAW_SHM]);
	case_cmp(&c, raw, 0, 0, NULL);
	mk = case_add(&c, "mmapkit anon-shared", round_trips, &a[T_MK_SHM]);
	case_cmp(&c, mk, 0, 0.05,
		 "a round trip through shared memory is two cache-line transfers when both "
		 "processes run on their own CPUs; on a loaded machine the partner is often not "
		 "running and the waiter falls back to the futex after spinning, which costs more "
		 "than a pipe; nothing in mmapkit changes that");
	case_cmp(&c, mk, raw, 1.10,
		 "the mapping is the same MAP_SHARED|MAP_ANONYMOUS memory; differences come from "
		 "scheduling noise, not from mmapkit");
	run_case(o, &c);
	sched_setaffinity(0, sizeof(saved), &saved);
}
