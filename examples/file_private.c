/* SPDX-License-Identifier: MIT */
/*
 * file_private: load a file copy-on-write, patch it in memory, show that the
 * file itself is unchanged, then take the patch back with mmapkit_revert().
 * A private mapping is writable even when the file is read-only to you.
 *
 * Usage: file_private [PATH]
 * Without PATH it writes a small temporary file (under $TMPDIR or /tmp) and
 * removes it.  With PATH it patches PATH's first bytes in memory only; the
 * file is never written.  Exits 1 if anything it shows does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define EXAMPLE_CLAIM_WIDTH 60
#include "example_util.h"

static const char sample[] = "greeting = hello\nvolume = 3\n";
static const char patch[] = "HOLA!";

/* A temporary file holding sample; its name goes to path. */
static int make_sample(char *path, size_t cap)
{
	const char *dir = getenv("TMPDIR");
	int fd;

	snprintf(path, cap, "%s/mmapkit-file_private-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		perror(path);
		return -1;
	}
	if (write(fd, sample, sizeof(sample) - 1) != (ssize_t)(sizeof(sample) - 1)) {
		perror(path);
		close(fd);
		unlink(path);
		return -1;
	}
	close(fd);
	return 0;
}

/* The first line of buf (at most 40 bytes), non-printing bytes as '.'. */
static void show(const char *label, const unsigned char *buf, size_t len)
{
	size_t n = 0;

	printf("  %-22s \"", label);
	for (; n < len && n < 40 && buf[n] != '\n'; n++)
		putchar(isprint(buf[n]) ? buf[n] : '.');
	printf("\"\n");
}

/* The file's first n bytes through read(), not through any mapping. */
static int read_file(const char *path, unsigned char *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t r = fd < 0 ? -1 : pread(fd, buf, n, 0);

	if (fd >= 0)
		close(fd);
	return r == (ssize_t)n ? 0 : -1;
}

/* Where to patch: the value after the first "= ", else the very start. */
static size_t patch_at(const unsigned char *p, size_t n)
{
	for (size_t i = 0; i + 2 + sizeof(patch) - 1 <= n; i++)
		if (p[i] == '=' && p[i + 1] == ' ')
			return i + 2;
	return 0;
}

static int run(const char *path)
{
	unsigned char before[64], now[64];
	mmapkit_map *m = NULL;
	unsigned char *p;
	size_t len, n, at, plen;

	if (mmapkit_file_private(&m, path, 0, 0, 0)) {
		fprintf(stderr, "file_private: %s\n", mmapkit_errmsg());
		return 1;
	}
	p = mmapkit_ptr(m);
	len = mmapkit_len(m);
	n = len < sizeof(before) ? len : sizeof(before);
	if (len == 0) {
		fprintf(stderr, "file_private: %s is empty: nothing to patch\n", path);
		mmapkit_unmap(m);
		return 1;
	}
	memcpy(before, p, n);
	printf("file_private: a copy-on-write view of %s (%zu bytes)\n", path, len);
	show("the file says:", before, n);

	at = patch_at(p, n);
	plen = n - at < sizeof(patch) - 1 ? n - at : sizeof(patch) - 1;
	memcpy(p + at, patch, plen);
	show("patched in memory:", p, n);
	check(memcmp(p + at, patch, plen) == 0, "this process sees its patch");

	check(read_file(path, now, n) == 0 && memcmp(now, before, n) == 0,
	      "the file is unchanged (read back with read())");

	if (mmapkit_revert(m, at, plen)) {
		fprintf(stderr, "file_private: %s\n", mmapkit_errmsg());
		mmapkit_unmap(m);
		return 1;
	}
	show("after mmapkit_revert:", p, n);
	check(memcmp(p, before, n) == 0, "the patch is gone: memory matches the file again");
	mmapkit_unmap(m);
	return 0;
}

int main(int argc, char **argv)
{
	char tmp[4096];
	const char *path = argc > 1 ? argv[1] : tmp;
	int rc;

	if (argc > 2) {
		fprintf(stderr, "usage: %s [PATH]\n", argv[0]);
		return 2;
	}
	if (argc == 1 && make_sample(tmp, sizeof(tmp)) < 0)
		return 1;
	rc = run(path);
	if (argc == 1)
		unlink(tmp);
	printf("file_private: %s\n", rc || failures ? "FAILED" : "ok");
	return rc || failures ? 1 : 0;
}
