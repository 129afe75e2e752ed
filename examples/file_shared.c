/* SPDX-License-Identifier: MIT */
/*
 * file_shared: memory-mapped I/O.  A small text file is edited in place
 * through a shared mapping (a run counter and the last pid), mmapkit_sync()
 * writes the change back, and read() on a fresh descriptor returns it.
 *
 * Usage: file_shared [PATH]
 * Without PATH it uses a temporary file under $TMPDIR or /tmp and removes it.
 * With PATH the file is kept: run it again and the counter goes up.  PATH is
 * created if missing; an existing file is edited only if this example wrote
 * it (it starts with the example's first line), so no data of yours is
 * overwritten.  Exits 1 if anything it shows does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define EXAMPLE_CLAIM_WIDTH 58
#include "example_util.h"

#define MAGIC "mmapkit file_shared example\n"
#define RUNS "runs: "
#define PID "last pid: "
#define DIGITS 10
static const char template[] = MAGIC RUNS "0000000000\n" PID "0000000000\n";
#define FILE_LEN (sizeof(template) - 1)
#define RUNS_AT (sizeof(MAGIC) - 1 + sizeof(RUNS) - 1)
#define PID_AT (RUNS_AT + DIGITS + 1 + sizeof(PID) - 1)

/* Is path missing or empty (fresh), this example's file (ok), or someone else's (-1)? */
static int inspect(const char *path, bool *fresh)
{
	char head[sizeof(MAGIC) - 1];
	struct stat st;
	int fd;
	ssize_t n;

	*fresh = false;
	if (stat(path, &st) != 0) {
		*fresh = errno == ENOENT;
		if (!*fresh)
			perror(path);
		return *fresh ? 0 : -1;
	}
	if (S_ISREG(st.st_mode) && st.st_size == 0) {
		*fresh = true;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	n = fd < 0 ? -1 : pread(fd, head, sizeof(head), 0);
	if (fd >= 0)
		close(fd);
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < FILE_LEN || n != (ssize_t)sizeof(head) ||
	    memcmp(head, MAGIC, sizeof(head)) != 0) {
		fprintf(stderr, "file_shared: %s exists and was not written by this example; refusing to edit it\n",
			path);
		return -1;
	}
	return 0;
}

/* The DIGITS-digit decimal number at p; -1 if it is not one. */
static long parse(const unsigned char *p)
{
	long v = 0;

	for (int i = 0; i < DIGITS; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

/* Store v as DIGITS decimal digits at p, in place (no terminating NUL). */
static void store(unsigned char *p, long v)
{
	for (int i = DIGITS - 1; i >= 0; i--, v /= 10)
		p[i] = (unsigned char)('0' + v % 10);
}

static void print_file(const unsigned char *buf, size_t len)
{
	fputs("    | ", stdout);
	for (size_t i = 0; i < len; i++) {
		putchar(buf[i]);
		if (buf[i] == '\n' && i + 1 < len)
			fputs("    | ", stdout);
	}
}

static int run(const char *path, bool fresh)
{
	unsigned char back[FILE_LEN];
	mmapkit_map *m = NULL;
	unsigned char *p;
	char claim[128];
	long runs;
	int fd;

	/* CREATE makes a missing file, GROW extends an empty one to FILE_LEN bytes. */
	if (mmapkit_file_shared(&m, path, 0, FILE_LEN, MMAPKIT_CREATE | MMAPKIT_GROW)) {
		fprintf(stderr, "file_shared: %s\n", mmapkit_errmsg());
		return 1;
	}
	p = mmapkit_ptr(m);
	printf("file_shared: editing %s in place through a shared mapping\n", path);
	if (fresh)
		memcpy(p, template, FILE_LEN);
	runs = parse(p + RUNS_AT);
	if (runs < 0 || runs >= 9999999999L) {
		fprintf(stderr, "file_shared: %s: the run counter is damaged\n", path);
		mmapkit_unmap(m);
		return 1;
	}
	store(p + RUNS_AT, ++runs); /* plain stores into memory: this is the file */
	store(p + PID_AT, (long)getpid());
	printf("  stored through memory: runs %ld, last pid %ld\n", runs, (long)getpid());

	if (mmapkit_sync(m, 0, MMAPKIT_TO_END, 0)) {
		fprintf(stderr, "file_shared: %s\n", mmapkit_errmsg());
		mmapkit_unmap(m);
		return 1;
	}
	printf("  mmapkit_sync() wrote it back; read() on a new descriptor returns:\n");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || read(fd, back, FILE_LEN) != (ssize_t)FILE_LEN) {
		perror(path);
		if (fd >= 0)
			close(fd);
		mmapkit_unmap(m);
		return 1;
	}
	close(fd);
	print_file(back, FILE_LEN);
	snprintf(claim, sizeof(claim), "read() sees runs %ld and pid %ld", runs, (long)getpid());
	check(parse(back + RUNS_AT) == runs && parse(back + PID_AT) == (long)getpid(), claim);
	check(memcmp(back, p, FILE_LEN) == 0, "the file and the mapping agree byte for byte");
	mmapkit_unmap(m);
	return 0;
}

int main(int argc, char **argv)
{
	char tmp[4096];
	const char *path = argc > 1 ? argv[1] : tmp;
	bool fresh;
	int rc;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [PATH]\n", argv[0]);
		return 2;
	}
	if (argc == 1) {
		const char *dir = getenv("TMPDIR");
		int fd;

		snprintf(tmp, sizeof(tmp), "%s/mmapkit-file_shared-XXXXXX", dir && *dir ? dir : "/tmp");
		fd = mkstemp(tmp);
		if (fd < 0) {
			perror(tmp);
			return 1;
		}
		close(fd);
	}
	rc = inspect(path, &fresh) ? 1 : run(path, fresh);
	if (argc == 1)
		unlink(tmp);
	printf("file_shared: %s\n", rc || failures ? "FAILED" : "ok");
	return rc || failures ? 1 : 0;
}
