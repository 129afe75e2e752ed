/* SPDX-License-Identifier: MIT */
/*
 * line_count: count the lines of a file by mapping it, as `wc -l` would,
 * and what happens with a file that cannot be mapped.
 *
 * Usage: line_count [PATH...]
 * With PATHs it prints each file's line count, or mmapkit's error message for
 * a file it cannot map (exit status 1 then).  Without PATH it counts the lines
 * of a temporary file of its own (under $TMPDIR or /tmp), and of the same
 * file emptied (an empty mapping: 0 lines, no error), then tries
 * /proc/self/status: a pseudo-file that reports size 0 but has content.  mmap
 * cannot show that content, so mmapkit refuses it with -ENODEV and a message
 * that says to read it, where an empty mapping would have counted 0 lines
 * without a word; the program then reads it with read(2).  Exits 1 if
 * anything it shows does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SAMPLE_LINES 1000

/* Lines of path, counted through a read-only private mapping; -errno if it cannot map. */
static long count_mapped(const char *path)
{
	mmapkit_map *m;
	const char *p;
	long lines = 0;
	int err = mmapkit_file_private(&m, path, 0, 0, MMAPKIT_RDONLY);

	if (err)
		return err;
	p = mmapkit_ptr(m);
	for (size_t i = 0; i < mmapkit_len(m); i++)
		lines += p[i] == '\n';
	mmapkit_unmap(m);
	return lines;
}

/* Lines of path, counted with read(2); -1 on error. */
static long count_read(const char *path)
{
	char buf[4096];
	long lines = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
	close(fd);
	return n < 0 ? -1 : lines;
}

static int count_paths(int argc, char **argv)
{
	int status = 0;

	for (int i = 1; i < argc; i++) {
		long n = count_mapped(argv[i]);

		if (n < 0) {
			fprintf(stderr, "line_count: %s\n", mmapkit_errmsg());
			status = 1;
			continue;
		}
		printf("%ld %s\n", n, argv[i]);
	}
	return status;
}

int main(int argc, char **argv)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	long n, by_read;
	int fd, ok = 1;
	FILE *f;

	if (argc > 1)
		return count_paths(argc, argv);

	snprintf(path, sizeof(path), "%s/mmapkit-line_count-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		perror(path);
		return 1;
	}
	for (int i = 0; i < SAMPLE_LINES; i++)
		fprintf(f, "line %d of a file on a real file system\n", i + 1);
	if (fclose(f) != 0) {
		perror(path);
		unlink(path);
		return 1;
	}
	n = count_mapped(path);
	printf("line_count: a regular file of %d lines, mapped: %ld lines\n", SAMPLE_LINES, n);
	if (n != SAMPLE_LINES) {
		printf("  FAILED: expected %d\n", SAMPLE_LINES);
		ok = 0;
	}
	/* an empty file on a real file system is an empty mapping: 0 lines, no error */
	if (truncate(path, 0) == 0) {
		n = count_mapped(path);
		printf("line_count: the same file emptied, mapped: %ld lines\n", n);
		if (n != 0) {
			printf("  FAILED: expected 0 (%s)\n", mmapkit_errmsg());
			ok = 0;
		}
	}
	unlink(path);

	n = count_mapped("/proc/self/status");
	by_read = count_read("/proc/self/status");
	printf("line_count: /proc/self/status, mapped: %s\n",
	       n < 0 ? mmapkit_strerror((int)n) : "mapped (no error)");
	if (n < 0)
		printf("  mmapkit_errmsg(): %s\n", mmapkit_errmsg());
	printf("  read(2) instead: %ld lines\n", by_read);
	/* never a silent 0: the refusal, with a message that says to read the file */
	if (n != -ENODEV || !strstr(mmapkit_errmsg(), "read it")) {
		printf("  FAILED: expected -ENODEV and a message saying to read it, got %ld\n", n);
		ok = 0;
	}
	if (by_read <= 0) {
		printf("  FAILED: read(2) found no lines\n");
		ok = 0;
	}
	return ok ? 0 : 1;
}
