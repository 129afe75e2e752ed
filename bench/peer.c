/* SPDX-License-Identifier: MIT */
/*
 * Peers run as child processes that take one command per line on stdin and
 * answer one line on stdout, timing the work themselves:
 *
 *   create ITERS KIND SIZE [PATH]   KIND: anon-private, anon-shared, file
 *   advise ITERS PATH               MADV_NORMAL over a shared mapping of PATH (64 KiB)
 *   sync ITERS PATH                 msync(MS_SYNC) of a clean shared mapping of PATH
 *   checksum ITERS PATH             map the file, sum64 it, unmap
 *
 * answered by "ok NS [SUM]", "unsupported WHY" or "error WHY".  So a peer's
 * measurements interleave with mmapkit's, round by round, like any variant.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define REPLY_TIMEOUT_MS 120000

static void peer_gone(struct peer *p, const char *why)
{
	snprintf(p->why, sizeof(p->why), "%s", why);
	p->missing = p->why;
	peer_stop(p);
}

static int read_line(struct peer *p, char *buf, size_t len)
{
	struct pollfd pfd = {.fd = fileno(p->from), .events = POLLIN};

	if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0)
		return -1;
	if (!fgets(buf, (int)len, p->from))
		return -1;
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

void peer_start(struct peer *p)
{
	int in[2], out[2];
	char cmd[1200], line[256];
	pid_t pid;

	if (p->missing)
		return;
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		peer_gone(p, "pipe failed");
		return;
	}
	snprintf(cmd, sizeof(cmd), "exec %s serve", p->cmd);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	p->pid = pid;
	p->to = fdopen(in[1], "w");
	p->from = fdopen(out[0], "r");
	if (pid < 0 || !p->to || !p->from || read_line(p, line, sizeof(line)) < 0 ||
	    strncmp(line, "ready", 5)) {
		snprintf(line, sizeof(line), "could not start `%s serve` (see stderr)", p->cmd);
		peer_gone(p, line);
		return;
	}
	printf("peer %s: %s\n", p->name, line);
}

void peer_stop(struct peer *p)
{
	if (p->to) {
		fputs("quit\n", p->to);
		fclose(p->to);
	}
	if (p->from)
		fclose(p->from);
	if (p->pid > 0)
		waitpid(p->pid, NULL, 0);
	p->to = p->from = NULL;
	p->pid = 0;
}

/* One command; -2: the peer does not offer it; -1: the peer failed. */
int peer_call(struct peer *p, const char *cmd, double *ns, uint64_t *sum, char *err,
	      size_t errlen)
{
	char line[512];
	double t;

	if (!p->to) {
		snprintf(err, errlen, "%s", p->missing ? p->missing : "not running");
		return -1;
	}
	if (fprintf(p->to, "%s\n", cmd) < 0 || fflush(p->to) != 0 ||
	    read_line(p, line, sizeof(line)) < 0) {
		snprintf(err, errlen, "%s stopped answering", p->name);
		peer_gone(p, err);
		return -1;
	}
	if (!strncmp(line, "unsupported", 11)) {
		snprintf(err, errlen, "not offered by %s:%s", p->name, line + 11);
		return -2;
	}
	if (sscanf(line, "ok %lf %" SCNu64, &t, sum) < 1) {
		snprintf(err, errlen, "%s: %s", p->name, line);
		return -1;
	}
	*ns = t;
	return 0;
}

int peer_measure(void *arg, long iters, double *ns, char *err, size_t errlen)
{
	struct peer_op *op = arg;
	char cmd[1200];
	uint64_t sum = 0;
	const char *sp = strchr(op->cmd, ' ');
	int r;

	/* "verb args" becomes "verb ITERS args" */
	snprintf(cmd, sizeof(cmd), "%.*s %ld%s", sp ? (int)(sp - op->cmd) : (int)strlen(op->cmd),
		 op->cmd, iters, sp ? sp : "");
	r = peer_call(op->p, cmd, ns, &sum, err, errlen);
	if (r == 0 && op->has_sum && sum != op->want_sum) {
		snprintf(err, errlen, "%s computed checksum %" PRIu64 ", expected %" PRIu64,
			 op->p->name, sum, op->want_sum);
		return -1;
	}
	return r;
}

void peer_variant(struct bcase *c, struct peer *p, struct peer_op *op)
{
	op->p = p;
	if (p->missing)
		case_missing(c, p->name, p->missing);
	else
		case_add(c, p->name, peer_measure, op);
}
