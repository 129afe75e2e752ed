/* SPDX-License-Identifier: MIT */
/*
 * truncate_safe: reading a memory-mapped file that another process truncates
 * half-way through the read.  A plain access to a page past the new end of
 * the file kills the process with SIGBUS (shown in a child process, so that
 * this program survives to report); mmapkit_read() answers -EFAULT for each
 * such page instead, says why, and the read goes on.  Once the other process
 * makes the file long again, the same handle reads it again.
 *
 * Run with no arguments (a temporary file is made under $TMPDIR or /tmp and
 * removed).  Exits 1 if anything it shows does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAGES 64

static int failures;

static void check(int ok, const char *claim)
{
	printf("  %-66s %s\n", claim, ok ? "yes" : "NO - FAILED");
	failures += !ok;
}

static unsigned char byte_at(size_t i)
{
	return (unsigned char)(i % 251 + 1);
}

/*
 * The other process: waits for a command byte on `cmd`, then truncates the
 * file to half ('t') or makes it full length again ('g'), and answers.
 */
static void other_process(const int cmd[2], const int done[2], const char *path, size_t len)
{
	char c;

	close(cmd[1]); /* so that the reader's close is the end of the commands */
	close(done[0]);

	while (read(cmd[0], &c, 1) == 1) {
		int fd = open(path, O_WRONLY | O_CLOEXEC);
		int ok = fd >= 0 && ftruncate(fd, (off_t)(c == 't' ? len / 2 : len)) == 0;

		if (fd >= 0)
			close(fd);
		if (write(done[1], ok ? "y" : "n", 1) != 1)
			break;
	}
	_exit(0);
}

static int ask(int cmd, int done, char c)
{
	char answer = 'n';

	return write(cmd, &c, 1) == 1 && read(done, &answer, 1) == 1 && answer == 'y';
}

/*
 * In a child: read every byte of the mapping with plain loads.  The SIGBUS
 * handler mmapkit_read installed is still in place there: it turns only the
 * faults of its own copies into -EFAULT and leaves this one to the default
 * action.
 */
static int raw_read_in_child(const unsigned char *p, size_t len)
{
	unsigned long sum = 0;
	pid_t pid;
	int st;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		/*
		 * The default action, as in a program with no SIGBUS handler (a
		 * sanitizer's runtime would otherwise report the fault and abort).
		 */
		signal(SIGBUS, SIG_DFL);
		alarm(10);
		for (size_t i = 0; i < len; i++)
			sum += ((const volatile unsigned char *)p)[i];
		_exit(sum ? 0 : 2);
	}
	if (waitpid(pid, &st, 0) != pid)
		return -1;
	return st;
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	size_t page = mmapkit_page_size(), len = PAGES * page;
	unsigned char *buf = malloc(page), *data = malloc(len);
	int cmd[2], done[2], fd, st, read_ok = 0, faulted = 0, good = 1;
	char path[4096], first_msg[512] = "";
	mmapkit_map *m = NULL;
	pid_t other;

	if (!buf || !data || pipe2(cmd, O_CLOEXEC) || pipe2(done, O_CLOEXEC)) {
		perror("truncate_safe");
		return 1;
	}
	snprintf(path, sizeof(path), "%s/truncate_safe-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	fd = mkstemp(path);
	for (size_t i = 0; i < len; i++)
		data[i] = byte_at(i);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror("truncate_safe: temporary file");
		return 1;
	}
	close(fd);
	if (mmapkit_file_shared(&m, path, 0, 0, MMAPKIT_RDONLY)) {
		fprintf(stderr, "truncate_safe: %s\n", mmapkit_errmsg());
		unlink(path);
		return 1;
	}
	fflush(stdout);
	other = fork();
	if (other == 0)
		other_process(cmd, done, path, len);
	printf("truncate_safe: a %d-page file mapped shared; another process (pid %d) truncates "
	       "it to half while this one reads it page by page with mmapkit_read\n",
	       PAGES, (int)other);

	for (size_t p = 0; p < PAGES; p++) {
		int r;

		if (p == PAGES / 2 && !ask(cmd[1], done[0], 't'))
			good = 0;
		r = mmapkit_read(m, p * page, buf, page);
		if (r == 0) {
			read_ok++;
			good &= memcmp(buf, data + p * page, page) == 0;
		} else if (r == -EFAULT) {
			if (!faulted++)
				snprintf(first_msg, sizeof(first_msg), "%s", mmapkit_errmsg());
		} else {
			printf("  page %zu: unexpected %d: %s\n", p, r, mmapkit_errmsg());
			good = 0;
		}
	}
	printf("  read %d pages, %d answered -EFAULT; the first said:\n    %s\n", read_ok, faulted,
	       first_msg);
	check(good && read_ok == PAGES / 2, "the first half read back intact");
	check(faulted == PAGES / 2, "each page past the new end answered -EFAULT, and the read went on");

	st = raw_read_in_child(mmapkit_ptr(m), len);
	if (st >= 0 && WIFSIGNALED(st))
		printf("  a child reading the same mapping with plain loads was stopped by signal %d (%s)\n",
		       WTERMSIG(st), strsignal(WTERMSIG(st)));
	check(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
	      "plain loads past the new end kill the process with SIGBUS");

	check(ask(cmd[1], done[0], 'g') && mmapkit_read(m, len - page, buf, page) == 0 &&
		      buf[0] == 0 && buf[page - 1] == 0,
	      "once the file is long again, the same handle reads it (zeros)");

	close(cmd[1]);
	waitpid(other, NULL, 0);
	mmapkit_unmap(m);
	unlink(path);
	free(buf);
	free(data);
	if (failures) {
		printf("truncate_safe: %d claim(s) did not hold\n", failures);
		return 1;
	}
	printf("truncate_safe: all claims hold\n");
	return 0;
}
