/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_peer: the unrelated process of check_fork.c.  Started with fork+exec,
 * it maps a file by name with mmapkit and obeys one-line commands on stdin,
 * answering each with one line on stdout:
 *
 *   usage: mmapkit_peer shared|private PATH     (maps the whole file)
 *   start            -> "ready LEN"  or "err -ERRNO MESSAGE" (then exits 2)
 *   r OFF            -> "v BYTE"      byte at OFF as the mapping shows it
 *   w OFF BYTE       -> "ok"          store BYTE at OFF through the mapping
 *   s                -> "ok" | "err -ERRNO MESSAGE"   mmapkit_sync (shared only)
 *   P OFF BYTE       -> "ok" | "err -ERRNO MESSAGE"   pwrite BYTE at OFF, own descriptor
 *   q                -> exits 0
 *
 * Numbers are decimal.  Anything else, or an offset outside the mapping, exits 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mmapkit.h"

/* One answer line, flushed at once: the test waits for it. */
static void answer(int err, const char *msg)
{
	if (err)
		printf("err %d %s\n", err, msg);
	else
		printf("ok\n");
	fflush(stdout);
}

static int map(const char *mode, const char *path, mmapkit_map **m)
{
	if (strcmp(mode, "shared") == 0)
		return mmapkit_file_shared(m, path, 0, 0, 0);
	if (strcmp(mode, "private") == 0)
		return mmapkit_file_private(m, path, 0, 0, 0);
	return -EINVAL;
}

/* pwrite through a descriptor of our own: not through any mapping. */
static int pwrite_byte(const char *path, unsigned long off, unsigned char b)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	int err = 0;

	if (fd < 0)
		return -errno;
	if (pwrite(fd, &b, 1, (off_t)off) != 1)
		err = errno ? -errno : -EIO;
	close(fd);
	return err;
}

static int serve(mmapkit_map *m, const char *path)
{
	unsigned char *p = mmapkit_ptr(m);
	char line[128];
	unsigned long off, val;
	int err;

	while (fgets(line, sizeof(line), stdin)) {
		if (line[0] == 'q')
			return 0;
		if (line[0] == 's') {
			err = mmapkit_sync(m, 0, MMAPKIT_TO_END, 0);
			answer(err, mmapkit_errmsg());
			continue;
		}
		if (line[0] == 'r' && sscanf(line + 1, "%lu", &off) == 1 && off < mmapkit_len(m)) {
			printf("v %u\n", p[off]);
			fflush(stdout);
			continue;
		}
		if (sscanf(line + 1, "%lu %lu", &off, &val) != 2 || val > 255 ||
		    off >= mmapkit_len(m))
			return 3;
		if (line[0] == 'w') {
			p[off] = (unsigned char)val;
			answer(0, "");
		} else if (line[0] == 'P') {
			err = pwrite_byte(path, off, (unsigned char)val);
			answer(err, strerror(-err));
		} else {
			return 3;
		}
	}
	return 0; /* stdin closed: the test is done with us */
}

int main(int argc, char **argv)
{
	mmapkit_map *m = NULL;
	int err, rc;

	if (argc != 3) {
		fprintf(stderr, "usage: %s shared|private PATH\n", argv[0]);
		return 2;
	}
	err = map(argv[1], argv[2], &m);
	if (err) {
		printf("err %d %s\n", err, mmapkit_errmsg());
		return 2;
	}
	printf("ready %zu\n", mmapkit_len(m));
	fflush(stdout);
	rc = serve(m, argv[2]);
	mmapkit_unmap(m);
	return rc;
}
