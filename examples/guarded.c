/* SPDX-License-Identifier: MIT */
/*
 * guarded: a buffer mapped with MMAPKIT_GUARD has an inaccessible page
 * directly before and after it.  A write one byte past the end (or one byte
 * before the start) stops the process with SIGSEGV at that very write,
 * instead of silently corrupting whatever lies next to the buffer.  The
 * overruns are made in child processes, so this program survives to report.
 *
 * Run with no arguments.  Exits 1 if anything it shows does not hold.
 * (The guard is page-granular: size a buffer in whole pages, as here, so
 * that its end is the guard page's start.)
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define EXAMPLE_CLAIM_WIDTH 64
#include "example_util.h"

/* In a child: fill the buffer from `from` for `n` bytes, one byte at a time. */
static int fill_in_child(unsigned char *buf, long from, long n)
{
	pid_t pid;
	int st;

	fflush(stdout); /* the child must not inherit unwritten output */
	pid = fork();
	if (pid < 0) {
		perror("guarded: fork");
		return -1;
	}
	if (pid == 0) {
		alarm(10);
		signal(SIGSEGV, SIG_DFL);
		for (long i = from; i < from + n; i++)
			((volatile unsigned char *)buf)[i] = 0xee;
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

static void report(int st)
{
	if (st < 0)
		printf("    the child could not be run\n");
	else if (WIFSIGNALED(st))
		printf("    the child was stopped by signal %d (%s)\n", WTERMSIG(st),
		       strsignal(WTERMSIG(st)));
	else
		printf("    the child exited with status %d\n", WEXITSTATUS(st));
}

int main(void)
{
	size_t len = 2 * mmapkit_page_size();
	mmapkit_map *m = NULL;
	unsigned char *buf;
	size_t intact = 0;
	int st;

	if (mmapkit_anon_private(&m, len, MMAPKIT_GUARD)) {
		fprintf(stderr, "guarded: %s\n", mmapkit_errmsg());
		return 1;
	}
	buf = mmapkit_ptr(m);
	memset(buf, 0x11, len);
	printf("guarded: a buffer of %zu bytes with a guard page on each side (MMAPKIT_GUARD)\n",
	       len);

	printf("  a child writes all %zu bytes, in bounds\n", len);
	st = fill_in_child(buf, 0, (long)len);
	report(st);
	check(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0, "writing inside the buffer works");

	printf("  a child writes %zu bytes from the start: one byte too many\n", len + 1);
	st = fill_in_child(buf, 0, (long)len + 1);
	report(st);
	check(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "the overrun is caught by SIGSEGV at the first byte past the end");

	printf("  a child writes starting one byte before the buffer\n");
	st = fill_in_child(buf, -1, 2);
	report(st);
	check(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "the underrun is caught by SIGSEGV too");

	for (size_t i = 0; i < len; i++)
		intact += buf[i] == 0x11;
	check(intact == len, "the parent's buffer is intact (the children wrote their copies)");

	mmapkit_unmap(m);
	printf("guarded: %s\n", failures ? "FAILED" : "ok");
	return failures ? 1 : 0;
}
