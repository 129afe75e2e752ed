/* SPDX-License-Identifier: MIT */
/*
 * ring_queue: a single-producer single-consumer queue between two processes
 * over mmapkit_ring, against the same stream of messages through a pipe.
 *
 * The ring's pages are mapped twice, back to back, so a message that runs
 * past the end of the ring is still one contiguous span: the producer writes
 * each message with one memcpy and the consumer reads it with one, without
 * splitting at the wrap.  Messages have lengths from 8 to 200 bytes, so they
 * straddle the wrap at every position.  Two counters in a small shared
 * mapping (C11 atomics) say how far each side has come.
 *
 * Run with no arguments.  Exits 1 if any message arrives wrong, out of
 * order or not at all; the timings are printed, not judged.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MESSAGES 2000000
#define RING (64 * 1024)
#define MAXMSG 200

struct counters {
	_Alignas(64) atomic_uint_fast64_t written; /* bytes the producer has published */
	_Alignas(64) atomic_uint_fast64_t read;    /* bytes the consumer is done with */
};

/* Message i: a 4-byte length, the sequence number, then bytes derived from it. */
static size_t message(uint64_t i, unsigned char *buf)
{
	uint32_t len = (uint32_t)(8 + (i * 37) % (MAXMSG - 8 + 1));

	memcpy(buf, &len, 4);
	memcpy(buf + 4, &i, 4);
	for (uint32_t k = 8; k < len; k++)
		buf[k] = (unsigned char)(i + k);
	return len;
}

static int message_ok(uint64_t i, const unsigned char *got)
{
	unsigned char want[MAXMSG];
	size_t len = message(i, want);

	return memcmp(got, want, len) == 0;
}

static void pause_a_little(unsigned *spins)
{
	if (++*spins % 128 == 0)
		sched_yield();
}

static void produce(struct counters *c, unsigned char *ring)
{
	uint64_t w = 0, r = 0;
	unsigned char buf[MAXMSG];

	for (uint64_t i = 0; i < MESSAGES; i++) {
		size_t len = message(i, buf);
		unsigned spins = 0;

		/* the consumer's position is read again only when the ring looks full */
		while (w + len - r > RING) {
			r = atomic_load_explicit(&c->read, memory_order_acquire);
			if (w + len - r > RING)
				pause_a_little(&spins);
		}
		memcpy(ring + w % RING, buf, len); /* one span, also across the wrap */
		w += len;
		atomic_store_explicit(&c->written, w, memory_order_release);
	}
}

static uint64_t consume(struct counters *c, const unsigned char *ring)
{
	uint64_t r = 0, i = 0;
	unsigned spins = 0;

	while (i < MESSAGES) {
		uint64_t w = atomic_load_explicit(&c->written, memory_order_acquire);

		if (w == r) {
			pause_a_little(&spins);
			continue;
		}
		while (r < w) {
			uint32_t len;

			memcpy(&len, ring + r % RING, 4);
			if (!message_ok(i, ring + r % RING))
				return i;
			r += len;
			i++;
		}
		atomic_store_explicit(&c->read, r, memory_order_release);
	}
	return i;
}

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static double run_ring(int *ok)
{
	mmapkit_map *ring = NULL, *cm = NULL;
	struct counters *c;
	uint64_t got;
	double t0, t;
	pid_t pid;
	int st;

	if (mmapkit_ring(&ring, RING, 0) || mmapkit_anon_shared(&cm, sizeof(*c), 0)) {
		fprintf(stderr, "ring_queue: %s\n", mmapkit_errmsg());
		*ok = 0;
		return 0;
	}
	c = MMAPKIT_AT(cm, struct counters, 0);
	t0 = now();
	pid = fork();
	if (pid == 0) {
		produce(c, mmapkit_ptr(ring));
		_exit(0);
	}
	got = consume(c, mmapkit_ptr(ring));
	t = now() - t0;
	waitpid(pid, &st, 0);
	*ok = got == MESSAGES && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	if (got != MESSAGES)
		printf("  message %llu arrived wrong\n", (unsigned long long)got);
	mmapkit_unmap(ring);
	mmapkit_unmap(cm);
	return t;
}

/*
 * The same messages through a pipe, with their length first: written one
 * write() per message (as a queue hands each one over at once), or batched
 * by stdio into 4 KiB writes (which a queue can only do when it may delay
 * messages).  The reader reads through stdio in both cases.
 */
static double run_pipe(int *ok, int batched)
{
	unsigned char buf[MAXMSG], in[MAXMSG];
	FILE *rf;
	int fd[2], st;
	uint64_t i;
	double t0, t;
	pid_t pid;

	if (pipe(fd) < 0) {
		*ok = 0;
		return 0;
	}
	t0 = now();
	pid = fork();
	if (pid == 0) {
		FILE *wf = fdopen(fd[1], "w");

		close(fd[0]);
		for (i = 0; i < MESSAGES; i++) {
			size_t len = message(i, buf);

			if (batched)
				fwrite(buf, 1, len, wf);
			else if (write(fd[1], buf, len) != (ssize_t)len)
				_exit(1);
		}
		fclose(wf);
		_exit(0);
	}
	close(fd[1]);
	rf = fdopen(fd[0], "r");
	for (i = 0; i < MESSAGES; i++) {
		uint32_t len;

		if (fread(in, 1, 4, rf) != 4)
			break;
		memcpy(&len, in, 4);
		if (len < 8 || len > MAXMSG || fread(in + 4, 1, len - 4, rf) != len - 4 ||
		    !message_ok(i, in))
			break;
	}
	t = now() - t0;
	fclose(rf);
	waitpid(pid, &st, 0);
	*ok = i == MESSAGES && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	return t;
}

int main(void)
{
	int ring_ok, pipe_ok, batch_ok;
	double tr, tp, tb;

	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("ring_queue: %d messages of 8 to %d bytes, producer and consumer processes\n",
	       MESSAGES, MAXMSG);
	tr = run_ring(&ring_ok);
	printf("  mmapkit_ring (%d KiB, mapped twice):   %.3f s, %.1f M messages/s, every message %s\n",
	       RING / 1024, tr, MESSAGES / tr / 1e6, ring_ok ? "checked" : "NOT RIGHT");
	tp = run_pipe(&pipe_ok, 0);
	printf("  pipe, a write() per message:          %.3f s, %.1f M messages/s, every message %s\n",
	       tp, MESSAGES / tp / 1e6, pipe_ok ? "checked" : "NOT RIGHT");
	tb = run_pipe(&batch_ok, 1);
	printf("  pipe, batched into 4 KiB writes:      %.3f s, %.1f M messages/s, every message %s\n",
	       tb, MESSAGES / tb / 1e6, batch_ok ? "checked" : "NOT RIGHT");
	if (ring_ok && pipe_ok && batch_ok)
		printf("  the ring is %.1fx the pipe message by message, %.1fx the batched pipe\n"
		       "  (the times include building and checking every byte of every message)\n",
		       tp / tr, tb / tr);
	ring_ok = ring_ok && pipe_ok && batch_ok;
	printf("ring_queue: %s\n", ring_ok ? "ok" : "FAILED");
	return ring_ok ? 0 : 1;
}
