/* SPDX-License-Identifier: MIT */
/*
 * Section 7: sharing between processes.
 *
 *  - Hand-off of a buffer to another process: mmapkit_send + mmapkit_receive
 *    + mapping + reading every byte, against writing the same bytes through a
 *    socket and through a pipe (the receiver reads them into its buffer and
 *    reads every byte too).
 *  - Queue throughput: records of 64 B and 4 KiB from a producer to a
 *    consumer process through an mmapkit_ring (one memcpy each way, the
 *    indices in shared memory), through a pipe (a write and a read per
 *    record), and through Boost.Interprocess message_queue (the boost peer).
 *  - Named shared memory: create + map + unmap + unlink, mmapkit against the
 *    raw calls, Boost.Interprocess shared_memory_object + mapped_region and
 *    Python's multiprocessing.shared_memory: time, and system calls counted
 *    with the ptrace counter (bench_share_count, run before any peer starts).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "mmapkit.h"

#define SHM_SZ (64 * KiB)
#define RING_SZ (64 * KiB)

static int child_cpu = -1;

static void child_start(void)
{
	alarm(120);
	if (child_cpu >= 0)
		pin_cpu(child_cpu);
}

static int read_full(int fd, void *buf, size_t n)
{
	for (size_t got = 0; got < n;) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t n)
{
	for (size_t put = 0; put < n;) {
		ssize_t r = write(fd, (const char *)buf + put, n - put);

		if (r <= 0)
			return -1;
		put += (size_t)r;
	}
	return 0;
}

/* ---- hand-off ---- */

enum { H_MMAPKIT, H_SOCKET, H_PIPE };

struct handoff {
	int type;
	bool read_all;         /* the receiver reads every byte (else: only has them) */
	unsigned flags;        /* mmapkit_receive's flags */
	size_t size;
	mmapkit_map *src;      /* the sender's sealed memfd (mmapkit) */
	unsigned char *buf;    /* the sender's bytes (socket, pipe) */
	uint64_t sum;
};

/* The receiver: one hand-off, then the sum of every byte back through `reply`. */
static void handoff_child(const struct handoff *h, int in, int reply)
{
	uint64_t sum = 0;
	char go = 1;

	child_start();
	if (write(reply, &go, 1) != 1)
		_exit(1);
	if (h->type == H_MMAPKIT) {
		mmapkit_map *m = NULL;

		if (mmapkit_receive(&m, in, MMAPKIT_SEAL_SHRINK, MMAPKIT_RDONLY | h->flags) < 0)
			_exit(2);
		sum = h->read_all ? sum64(mmapkit_ptr(m), mmapkit_len(m)) : h->sum;
		mmapkit_unmap(m);
	} else {
		unsigned char *b = malloc(h->size);

		if (!b || read_full(in, b, h->size) < 0)
			_exit(2);
		sum = h->read_all ? sum64(b, h->size) : h->sum;
		free(b);
	}
	_exit(write(reply, &sum, sizeof(sum)) == sizeof(sum) ? 0 : 3);
}

static int handoff_once(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct handoff *h = arg;
	int data[2], reply[2], st, r = 0;
	uint64_t sum = 0;
	double t0;
	char go;
	pid_t pid;

	(void)iters;
	if ((h->type == H_PIPE ? pipe(data) : socketpair(AF_UNIX, SOCK_STREAM, 0, data)) < 0 ||
	    pipe(reply) < 0) {
		snprintf(err, errlen, "pipe/socketpair: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		close(reply[0]);
		close(data[h->type == H_PIPE ? 1 : 0]);
		handoff_child(h, data[h->type == H_PIPE ? 0 : 1], reply[1]);
	}
	close(reply[1]);
	close(data[h->type == H_PIPE ? 0 : 1]);
	if (read(reply[0], &go, 1) != 1) /* the child runs: fork is not timed */
		r = -1;
	t0 = wall_ns();
	if (!r && h->type == H_MMAPKIT)
		r = mmapkit_send(h->src, data[0]);
	else if (!r)
		r = write_full(data[h->type == H_PIPE ? 1 : 0], h->buf, h->size);
	if (!r && read_full(reply[0], &sum, sizeof(sum)) < 0)
		r = -1;
	*ns = wall_ns() - t0;
	close(data[h->type == H_PIPE ? 1 : 0]);
	close(reply[0]);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) || r) {
		snprintf(err, errlen, "the receiver failed (status 0x%x)", st);
		return -1;
	}
	if (sum != h->sum) {
		snprintf(err, errlen, "the receiver read a wrong sum");
		return -1;
	}
	return 0;
}

static void handoff_case(struct opts *o, struct handoff *proto, mmapkit_map *src,
			 unsigned char *buf, bool read_all)
{
	static char titles[2][120];
	char *title = titles[read_all], sz[32];
	struct handoff *h = proto;
	struct bcase c = {.section = "share", .label = read_all ? "hand-off+read" : "hand-off",
			  .once = true, .bytes = (double)proto->size};
	int mk, pop, sock;

	snprintf(title, sizeof(titles[0]), "hand-off of %s to another process, %s",
		 human_size(proto->size, sz, sizeof(sz)),
		 read_all ? "which reads every byte" : "which only maps it (or has it in its buffer)");
	c.title = title;
	for (int i = 0; i < 4; i++)
		h[i] = (struct handoff){.type = i == 3 ? H_MMAPKIT : i, .read_all = read_all,
					.flags = i == 3 ? MMAPKIT_POPULATE : 0, .size = proto->size,
					.src = src, .buf = buf, .sum = proto->sum};
	mk = case_add(&c, "mmapkit send+receive", handoff_once, &h[H_MMAPKIT]);
	pop = case_add(&c, "mmapkit, receiver POPULATE", handoff_once, &h[3]);
	sock = case_add(&c, "socket write+read", handoff_once, &h[H_SOCKET]);
	case_add(&c, "pipe write+read", handoff_once, &h[H_PIPE]);
	case_cmp(&c, mk, sock, 0.1,
		 "reading 64 MiB once costs the receiver what it costs (about 5 ms here) whichever "
		 "way the bytes came, and the socket's two copies cost about four times that: the "
		 "ratio cannot reach 10x while the receiver reads every byte (without reading, "
		 "the hand-off is 1000x faster; see the next case)");
	case_cmp(&c, pop, sock, 0, NULL);
	case_cmp(&c, mk, 3, 0, NULL);
	run_case(o, &c);
}

static void bench_handoff(struct opts *o)
{
	size_t size = o->smoke ? 4 * MiB : 64 * MiB;
	struct handoff h[2][4];
	mmapkit_map *src = NULL;
	unsigned char *buf = malloc(size);

	if (!buf || mmapkit_memfd(&src, "bench-handoff", size, 0) < 0) {
		fail(o, "share: hand-off: %s", buf ? mmapkit_errmsg() : "out of memory");
		free(buf);
		return;
	}
	for (size_t i = 0; i < size; i += 8) {
		uint64_t v = i * 0x9e3779b97f4a7c15ull;

		memcpy(buf + i, &v, 8);
	}
	memcpy(mmapkit_ptr(src), buf, size);
	if (mmapkit_seal(src, MMAPKIT_SEAL_SHRINK | MMAPKIT_SEAL_GROW | MMAPKIT_SEAL_WRITE) < 0)
		fail(o, "share: seal: %s", mmapkit_errmsg());
	for (int k = 0; k < 2; k++) {
		h[k][0] = (struct handoff){.size = size, .sum = sum64(buf, size)};
		handoff_case(o, h[k], src, buf, k == 0);
	}
	mmapkit_unmap(src);
	free(buf);
}

/* ---- queue throughput ---- */

enum { Q_RING, Q_PIPE, Q_BOOST };

struct qarg {
	int type;
	size_t rec;
	struct peer *boost;
};

struct qctl {
	_Alignas(64) atomic_uint_fast64_t tail; /* bytes produced */
	_Alignas(64) atomic_uint_fast64_t head; /* bytes consumed */
	_Alignas(64) atomic_uint_fast64_t bad;  /* records that arrived wrong */
	atomic_uint_fast64_t ready;             /* the consumer runs: time from here */
};

static void relax(unsigned *k)
{
	if (++*k % 64 == 0)
		sched_yield();
}

static void ring_consume(struct qctl *c, const unsigned char *ring, size_t rec, long n)
{
	uint64_t head = 0, end = (uint64_t)n * rec, seq = 0;
	unsigned k = 0;

	atomic_store(&c->ready, 1);
	while (head < end) {
		uint64_t tail = atomic_load_explicit(&c->tail, memory_order_acquire);

		if (tail == head) {
			relax(&k);
			continue;
		}
		for (; head < tail; head += rec, seq++) {
			uint64_t got;

			memcpy(&got, ring + head % RING_SZ, sizeof(got));
			if (got != seq)
				atomic_fetch_add(&c->bad, 1);
		}
		atomic_store_explicit(&c->head, head, memory_order_release);
	}
}

static double ring_produce(struct qctl *c, unsigned char *ring, size_t rec, long n)
{
	unsigned char msg[4096] = {0};
	uint64_t tail = 0, head = 0;
	unsigned k = 0;
	double t0;

	while (!atomic_load(&c->ready)) /* the consumer's start-up is not timed */
		relax(&k);
	t0 = wall_ns();

	for (uint64_t seq = 0; seq < (uint64_t)n; seq++) {
		memcpy(msg, &seq, sizeof(seq));
		/* the consumer's index is read again only when the ring looks full */
		while (tail + rec - head > RING_SZ) {
			head = atomic_load_explicit(&c->head, memory_order_acquire);
			if (tail + rec - head > RING_SZ)
				relax(&k);
		}
		memcpy(ring + tail % RING_SZ, msg, rec);
		tail += rec;
		atomic_store_explicit(&c->tail, tail, memory_order_release);
	}
	while (atomic_load_explicit(&c->head, memory_order_acquire) < tail)
		relax(&k);
	return wall_ns() - t0;
}

static int queue_ring(const struct qarg *a, long n, double *ns, char *err, size_t errlen)
{
	mmapkit_map *ring = NULL, *cm = NULL;
	struct qctl *c;
	pid_t pid;
	int st;

	if (mmapkit_ring(&ring, RING_SZ, 0) < 0 || mmapkit_anon_shared(&cm, sizeof(*c), 0) < 0) {
		snprintf(err, errlen, "%s", mmapkit_errmsg());
		mmapkit_unmap(ring);
		return -1;
	}
	c = MMAPKIT_AT(cm, struct qctl, 0);
	pid = fork();
	if (pid == 0) {
		child_start();
		ring_consume(c, mmapkit_ptr(ring), a->rec, n);
		_exit(0);
	}
	*ns = ring_produce(c, mmapkit_ptr(ring), a->rec, n);
	waitpid(pid, &st, 0);
	st = WIFEXITED(st) && !WEXITSTATUS(st) && !atomic_load(&c->bad);
	mmapkit_unmap(ring);
	mmapkit_unmap(cm);
	if (!st)
		snprintf(err, errlen, "the consumer failed or saw a wrong record");
	return st ? 0 : -1;
}

static int queue_pipe(const struct qarg *a, long n, double *ns, char *err, size_t errlen)
{
	unsigned char msg[4096] = {0};
	int fd[2], done[2], st, r = 0;
	double t0;
	char ok = 0;
	pid_t pid;

	if (pipe(fd) < 0 || pipe(done) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	pid = fork();
	if (pid == 0) {
		unsigned char in[4096];
		char good = 1;

		child_start();
		close(fd[1]);
		if (write(done[1], &good, 1) != 1) /* running */
			_exit(1);
		for (uint64_t seq = 0; seq < (uint64_t)n; seq++) {
			uint64_t got;

			if (read_full(fd[0], in, a->rec) < 0)
				_exit(1);
			memcpy(&got, in, sizeof(got));
			good &= got == seq;
		}
		_exit(write(done[1], &good, 1) == 1 ? 0 : 1);
	}
	close(fd[0]);
	close(done[1]);
	if (read(done[0], &ok, 1) != 1) /* the reader's start-up is not timed */
		r = -1;
	ok = 0;
	t0 = wall_ns();
	for (uint64_t seq = 0; seq < (uint64_t)n && !r; seq++) {
		memcpy(msg, &seq, sizeof(seq));
		r = write_full(fd[1], msg, a->rec); /* one record per write, as a queue sends */
	}
	if (!r && read(done[0], &ok, 1) != 1)
		r = -1;
	*ns = wall_ns() - t0;
	close(fd[1]);
	close(done[0]);
	waitpid(pid, &st, 0);
	if (r || !ok) {
		snprintf(err, errlen, "the reader failed or saw a wrong record");
		return -1;
	}
	return 0;
}

/* The boost peer's own producer and consumer processes: `boost_bench mq SIZE COUNT`. */
static int queue_boost(const struct qarg *a, long n, double *ns, char *err, size_t errlen)
{
	char cmd[1200], line[256] = "";
	FILE *f;
	double per;

	snprintf(cmd, sizeof(cmd), "%s mq %zu %ld %zu", a->boost->cmd, a->rec, n,
		 RING_SZ / a->rec);
	f = popen(cmd, "r");
	if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "ns %lf", &per) != 1) {
		snprintf(err, errlen, "boost peer: %s", line[0] ? line : "no answer");
		if (f)
			pclose(f);
		return -1;
	}
	pclose(f);
	*ns = per * (double)n;
	return 0;
}

/*
 * One measurement passes at least QUEUE_MIN records (a queue's start and end
 * are not what is measured) and reports the time of `iters` of them.
 */
#define QUEUE_MIN 20000L

static int queue_measure(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct qarg *a = arg;
	long n = iters > QUEUE_MIN ? iters : QUEUE_MIN;
	int r;

	if (a->type == Q_RING)
		r = queue_ring(a, n, ns, err, errlen);
	else if (a->type == Q_PIPE)
		r = queue_pipe(a, n, ns, err, errlen);
	else
		r = queue_boost(a, n, ns, err, errlen);
	*ns = *ns / (double)n * (double)iters;
	return r;
}

static struct peer *find_peer(struct opts *o, const char *name)
{
	for (int i = 0; i < o->npeers; i++)
		if (!strcmp(o->peers[i].name, name))
			return &o->peers[i];
	return NULL;
}

static void bench_queue(struct opts *o, size_t rec)
{
	static char titles[2][80];
	char *title = titles[rec > 64];
	struct qarg a[3];
	struct bcase c = {.section = "share", .label = rec > 64 ? "queue 4K" : "queue 64B",
			  .bytes = (double)rec};
	struct peer *boost = find_peer(o, "boost");
	int mk, pipe_v, b;

	snprintf(title, sizeof(titles[0]), "queue of %zu-byte records between two processes",
		 rec);
	c.title = title;
	for (int i = 0; i < 3; i++)
		a[i] = (struct qarg){.type = i, .rec = rec, .boost = boost};
	mk = case_add(&c, "mmapkit ring", queue_measure, &a[Q_RING]);
	pipe_v = case_add(&c, "pipe (write per record)", queue_measure, &a[Q_PIPE]);
	if (boost && !boost->missing)
		b = case_add(&c, "boost message_queue", queue_measure, &a[Q_BOOST]);
	else
		b = case_missing(&c, "boost message_queue",
				 boost ? boost->missing : "the boost peer was not given");
	case_cmp(&c, mk, pipe_v, 0.2,
		 "the producer and the consumer each spin on the other's index; on a machine "
		 "where the other process is often not running they wait for the scheduler");
	case_cmp(&c, mk, b, 0, NULL);
	run_case(o, &c);
}

/* ---- named shared memory: create + map + unmap + unlink ---- */

static int shm_serial;

static void shm_name(char *buf, size_t n)
{
	snprintf(buf, n, "/mmapkit-bench-%ld-%d", (long)getpid(), shm_serial++);
}

static int shm_cycle_mk(const char *name)
{
	mmapkit_map *m = NULL;

	if (mmapkit_shm_create(&m, name, SHM_SZ, 0) < 0)
		return -1;
	mmapkit_unmap(m);
	return mmapkit_shm_unlink(name);
}

/* By hand, as shm_open(3) does it (glibc: openat of /dev/shm/NAME). */
static int shm_cycle_raw(const char *name)
{
	char path[300];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "/dev/shm%s", name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, SHM_SZ) < 0 ||
	    (p = mmap(NULL, SHM_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED) {
		close(fd);
		unlink(path);
		return -1;
	}
	munmap(p, SHM_SZ);
	close(fd);
	return unlink(path);
}

struct sarg {
	int (*fn)(const char *name);
	struct peer *p; /* or a peer: `COMMAND shm-time ITERS` prints "ns N" per cycle */
};

static int shm_measure(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	const struct sarg *a = arg;
	char name[64];
	double t0;

	if (a->p) {
		char cmd[1200], line[256] = "";
		FILE *f;
		double per;

		snprintf(cmd, sizeof(cmd), "%s shm-time %ld", a->p->cmd, iters);
		f = popen(cmd, "r");
		if (!f || !fgets(line, sizeof(line), f) || sscanf(line, "ns %lf", &per) != 1) {
			snprintf(err, errlen, "%s: %s", a->p->name, line[0] ? line : "no answer");
			if (f)
				pclose(f);
			return -1;
		}
		pclose(f);
		*ns = per * (double)iters;
		return 0;
	}
	t0 = wall_ns(); /* the peers' cycles involve other processes: wall time for all */
	for (long i = 0; i < iters; i++) {
		shm_name(name, sizeof(name));
		if (a->fn(name) < 0) {
			snprintf(err, errlen, "%s: %s", name, strerror(errno));
			return -1;
		}
	}
	*ns = wall_ns() - t0;
	return 0;
}

static void bench_shm_time(struct opts *o)
{
	struct bcase c = {.section = "share", .title = "named shm: create + map + unmap + unlink",
			  .label = "shm cycle"};
	struct sarg a[2 + MAX_PEERS];
	int mk, raw, n = 2;

	a[0] = (struct sarg){.fn = shm_cycle_raw};
	a[1] = (struct sarg){.fn = shm_cycle_mk};
	raw = case_add(&c, "raw", shm_measure, &a[0]);
	mk = case_add(&c, "mmapkit", shm_measure, &a[1]);
	case_cmp(&c, mk, raw, 1.05, "mmapkit makes the raw calls; differences are noise");
	for (int i = 0; i < o->npeers; i++) {
		struct peer *p = &o->peers[i];
		int v;

		if (strcmp(p->name, "boost") && strcmp(p->name, "python"))
			continue;
		a[n] = (struct sarg){.p = p};
		v = p->missing ? case_missing(&c, p->name, p->missing)
			       : case_add(&c, p->name, shm_measure, &a[n]);
		n++;
		case_cmp_peer(&c, v, mk, "mmapkit should not be slower than a peer doing the same");
	}
	run_case(o, &c);
}

/* ---- the system calls of the shm cycle (before any peer runs) ---- */

static void count_shm(void *arg)
{
	char name[64], tag[64];

	(void)arg;
	for (int rep = 0; rep < 4; rep++) {
		shm_name(name, sizeof(name));
		snprintf(tag, sizeof(tag), "raw|shm cycle");
		sc_begin(tag);
		if (shm_cycle_raw(name) < 0)
			sc_error(strerror(errno));
		sc_end();
		shm_name(name, sizeof(name));
		snprintf(tag, sizeof(tag), "mmapkit|shm cycle");
		sc_begin(tag);
		if (shm_cycle_mk(name) < 0)
			sc_error(mmapkit_errmsg());
		sc_end();
	}
}

void bench_share_count(struct opts *o)
{
	struct sc_result res = {0};
	const char *who[2 + MAX_PEERS] = {"raw", "mmapkit"};
	int nwho = 2;

	section_begin(o, "share-count", "7a. Named shm: system calls per create + map + unmap + unlink",
		      "Counted with ptrace between marker calls, the minimum of 4 runs (64 KiB). "
		      "Python's multiprocessing.shared_memory also talks to its resource tracker "
		      "process; that is part of its cost.");
	if (sc_trace(count_shm, NULL, NULL, &res) < 0) {
		printf("  cannot count system calls: %s\n", res.err);
		if (strstr(res.err, "TRACEME"))
			o->skipped = true;
		free(res.r);
		return;
	}
	for (int i = 0; i < o->npeers; i++) {
		struct peer *p = &o->peers[i];
		char cmd[1200];
		char *argv[] = {"/bin/sh", "-c", cmd, NULL};

		if (p->missing || (strcmp(p->name, "boost") && strcmp(p->name, "python")))
			continue;
		who[nwho++] = p->name;
		snprintf(cmd, sizeof(cmd), "exec %s shm-count >/dev/null", p->cmd);
		if (sc_trace(NULL, NULL, argv, &res) < 0)
			printf("  %s: counting failed: %s\n", p->name, res.err);
	}
	if (o->md)
		fprintf(o->md, "\n| variant | system calls | the calls |\n| --- | --- | --- |\n");
	for (int i = 0; i < nwho; i++) {
		struct sc_rec *r = sc_find(&res, who[i], "shm cycle");
		char seq[600] = "";

		if (!r) {
			printf("  %-10s not counted\n", who[i]);
			if (!strcmp(who[i], "mmapkit"))
				fail(o, "share: the mmapkit shm cycle was not counted");
			continue;
		}
		for (int k = 0; k < r->n_min && k < SC_MAX_SEQ; k++)
			snprintf(seq + strlen(seq), sizeof(seq) - strlen(seq), "%s%s", k ? " " : "",
				 sc_name(r->seq[k]));
		if (r->n_min > SC_MAX_SEQ)
			snprintf(seq + strlen(seq), sizeof(seq) - strlen(seq), " ...");
		printf("  %-10s %3d  %s%s%s\n", who[i], r->n_min, seq, r->err[0] ? "  FAILED: " : "",
		       r->err);
		csv_row(o, "share", "shm cycle", who[i], "raw", "syscalls", r->n_min, r->n_min,
			r->n_first, NAN, NAN, NAN, NAN, r->err[0] ? "failed" : "", r->runs, seq);
		if (o->md)
			fprintf(o->md, "| %s | %d | %s |\n", who[i], r->n_min, seq);
	}
	struct sc_rec *mk = sc_find(&res, "mmapkit", "shm cycle"),
		      *raw = sc_find(&res, "raw", "shm cycle");
	if (mk && raw && mk->n_min > raw->n_min)
		fail(o, "share: mmapkit makes %d system calls for the shm cycle, raw %d",
		     mk->n_min, raw->n_min);
	free(res.r);
}

void bench_share(struct opts *o)
{
	int parent, child;
	cpu_set_t saved;

	section_begin(o, "share", "7. Sharing between processes",
		      "Hand-off of a buffer (sender to receiver, until the receiver has read every "
		      "byte; target: mmapkit >= 10x faster than the socket, time ratio <= 0.1), a "
		      "queue of records between a producer and a consumer process (target: the "
		      "ring >= 5x the pipe, time ratio <= 0.2), and a named shared memory cycle. "
		      "Wall-clock time; sender and receiver are not pinned (on a machine that other "
		      "work shares, a process pinned to a busy CPU waits while another CPU is free; "
		      "MMAPKIT_BENCH_SHARE_PIN=1 pins them to two CPUs as section 5 does).");
	sched_getaffinity(0, sizeof(saved), &saved);
	if (getenv("MMAPKIT_BENCH_SHARE_PIN")) {
		pick_cpus(o, &parent, &child);
		if (parent >= 0)
			pin_cpu(parent);
		child_cpu = child;
	} else {
		/* both processes free to run on any allowed CPU (see the section's text) */
		sched_setaffinity(0, sizeof(o->allowed), &o->allowed);
	}
	bench_handoff(o);
	bench_queue(o, 64);
	bench_queue(o, 4096);
	sched_setaffinity(0, sizeof(saved), &saved);
	bench_shm_time(o);
}
