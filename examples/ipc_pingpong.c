/* SPDX-License-Identifier: MIT */
/*
 * ipc_pingpong: two processes exchange 100,000 messages through a shared
 * anonymous mapping, each message a round trip, synchronised with C11
 * atomics: a short spin, then a futex sleep.  The same exchange over a pair
 * of pipes is timed beside it.
 *
 * Run with no arguments.  Exits 1 if a message comes back wrong or a process
 * fails; the timings are printed, not judged (they depend on the machine).
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <limits.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "example_util.h"

#define ROUNDS 100000
#define SPINS 2000 /* loads before sleeping: the other side often answers within that */

/* futex(2) operations (the values of linux/futex.h, a kernel header, not libc's). */
#define FUTEX_WAIT 0
#define FUTEX_WAKE 1

/* The shared mapping. */
struct chan {
	_Atomic uint32_t seq;      /* 2i+1: message i sent; 2i+2: its answer is there */
	_Atomic uint32_t sleepers; /* processes asleep in FUTEX_WAIT on seq */
	uint32_t msg;              /* the message, published by the store to seq */
};

_Static_assert(sizeof(_Atomic uint32_t) == sizeof(uint32_t), "a futex word is 32 bits");

static long futex(_Atomic uint32_t *word, int op, uint32_t val)
{
	/* No FUTEX_PRIVATE_FLAG: the waiters are in different processes. */
	return syscall(SYS_futex, word, op, val, NULL, NULL, 0);
}

/* Wait until seq == want: spin a little, then sleep in the kernel. */
static void wait_for(struct chan *c, uint32_t want)
{
	uint32_t cur;

	for (int i = 0; i < SPINS; i++)
		if (atomic_load(&c->seq) == want)
			return;
	atomic_fetch_add(&c->sleepers, 1);
	/* FUTEX_WAIT returns at once if seq moved on since we loaded it. */
	while ((cur = atomic_load(&c->seq)) != want)
		futex(&c->seq, FUTEX_WAIT, cur);
	atomic_fetch_sub(&c->sleepers, 1);
}

/*
 * Publish seq = v, and wake the other side only if it sleeps.  Both sides use
 * sequentially consistent atomics: either the poster sees the sleeper count, or
 * the sleeper sees the new seq before it sleeps.
 */
static void post(struct chan *c, uint32_t v)
{
	atomic_store(&c->seq, v);
	if (atomic_load(&c->sleepers))
		futex(&c->seq, FUTEX_WAKE, INT_MAX);
}

/* The answer to message i, both ways. */
static uint32_t answer(uint32_t i)
{
	return ~i;
}

/* A wrong message is counted, and answered anyway: the parent must not wait forever. */
static void shm_child(struct chan *c)
{
	int bad = 0;

	for (uint32_t i = 0; i < ROUNDS; i++) {
		wait_for(c, 2 * i + 1);
		bad += c->msg != i;
		c->msg = answer(i);
		post(c, 2 * i + 2);
	}
	_exit(bad ? 1 : 0);
}

static int shm_parent(struct chan *c)
{
	int bad = 0;

	for (uint32_t i = 0; i < ROUNDS; i++) {
		c->msg = i;
		post(c, 2 * i + 1);
		wait_for(c, 2 * i + 2);
		bad += c->msg != answer(i);
	}
	return bad;
}

static void pipe_child(int in, int out)
{
	int bad = 0;

	for (uint32_t i = 0; i < ROUNDS; i++) {
		uint32_t m;

		if (read(in, &m, sizeof(m)) != sizeof(m))
			_exit(1);
		bad += m != i;
		m = answer(i);
		if (write(out, &m, sizeof(m)) != sizeof(m))
			_exit(1);
	}
	_exit(bad ? 1 : 0);
}

static int pipe_parent(int out, int in)
{
	int bad = 0;

	for (uint32_t i = 0; i < ROUNDS; i++) {
		uint32_t m = i;

		if (write(out, &m, sizeof(m)) != sizeof(m) || read(in, &m, sizeof(m)) != sizeof(m))
			return ROUNDS;
		bad += m != answer(i);
	}
	return bad;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int reaped_ok(pid_t pid)
{
	int st;

	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Seconds for ROUNDS round trips through the shared mapping; < 0 on failure. */
static double run_shm(void)
{
	mmapkit_map *m = NULL;
	struct chan *c;
	double t;
	pid_t pid;
	int bad;

	if (mmapkit_anon_shared(&m, sizeof(*c), 0)) {
		fprintf(stderr, "ipc_pingpong: %s\n", mmapkit_errmsg());
		return -1;
	}
	c = MMAPKIT_AT(m, struct chan, 0);
	pid = fork();
	if (pid < 0) {
		perror("ipc_pingpong: fork");
		mmapkit_unmap(m);
		return -1;
	}
	if (pid == 0)
		shm_child(c);
	t = now();
	bad = shm_parent(c);
	t = now() - t;
	check(reaped_ok(pid) && bad == 0 && atomic_load(&c->seq) == 2u * ROUNDS,
	      "shared mapping: every message and answer arrived intact");
	mmapkit_unmap(m);
	return t;
}

static double run_pipe(void)
{
	int down[2], up[2], bad;
	double t;
	pid_t pid;

	if (pipe(down) || pipe(up)) {
		perror("ipc_pingpong: pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		perror("ipc_pingpong: fork");
		return -1;
	}
	if (pid == 0) {
		close(down[1]);
		close(up[0]);
		pipe_child(down[0], up[1]);
	}
	close(down[0]);
	close(up[1]);
	t = now();
	bad = pipe_parent(down[1], up[0]);
	t = now() - t;
	close(down[1]);
	close(up[0]);
	check(reaped_ok(pid) && bad == 0, "pipes: every message and answer arrived intact");
	return t;
}

static void report(const char *how, double secs)
{
	printf("  %-38s %6.3f s in all, %7.2f us per round trip\n", how, secs,
	       secs / ROUNDS * 1e6);
}

int main(void)
{
	double shm, pipes;

	/* Both processes: if the other one crashed, a wait would never end. */
	alarm(120);
	printf("ipc_pingpong: two processes exchange %d messages, each a round trip\n", ROUNDS);
	fflush(stdout); /* the children must not inherit unwritten output */
	shm = run_shm();
	pipes = run_pipe();
	if (shm < 0 || pipes < 0)
		return 1;
	report("shared mapping (atomics + futex):", shm);
	report("pipe (write + read each way):", pipes);
	if (shm > 0)
		printf("  the shared mapping was %.1fx %s than the pipe\n",
		       shm < pipes ? pipes / shm : shm / pipes, shm < pipes ? "faster" : "slower");
	printf("ipc_pingpong: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
