/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_share_peer: the unrelated process of check_share.c and
 * check_ring.c.  Started with fork+exec, it connects to a Unix socket
 * (SOCK_SEQPACKET), receives three handles with mmapkit_receive (a memfd, a
 * named shm, a ring), opens the named shm by name as a fourth, and obeys
 * one-packet commands on the socket, answering each with one packet:
 *
 *   usage: mmapkit_share_peer SOCKET SHM-NAME REQUIRED-SEALS
 *   (SOCKET: a path, or @NAME for NAME in the abstract namespace)
 *   (after connecting)  -> "ready L0 L1 L2 L3"  or "err -ERRNO MESSAGE" (exits 2)
 *   r H OFF             -> "v BYTE"        byte OFF of handle H (mmapkit_at)
 *   w H OFF BYTE        -> "ok"            store BYTE at OFF of handle H
 *   k H                 -> "k KIND RING"   mmapkit_kind, and 1 for a ring (len+0 is byte 0)
 *   q                   -> exits 0
 *
 * For the ring (H 2) OFF may reach up to twice its length.  Anything else exits 3.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "mmapkit.h"

#define NH 4

static void say(int s, const char *text)
{
	if (send(s, text, strlen(text), MSG_NOSIGNAL) < 0)
		exit(4);
}

static int serve(int s, mmapkit_map **h)
{
	char line[128], out[128];
	unsigned long hi, off, val;
	ssize_t n;

	while ((n = recv(s, line, sizeof(line) - 1, 0)) > 0) {
		unsigned char *p;

		line[n] = '\0';
		if (line[0] == 'q')
			return 0;
		if (line[0] == 'k' && sscanf(line + 1, "%lu", &hi) == 1 && hi < NH) {
			snprintf(out, sizeof(out), "k %d %d", mmapkit_kind(h[hi]),
				 mmapkit_at(h[hi], mmapkit_len(h[hi]), 1, 1) != NULL);
			say(s, out);
			continue;
		}
		if (sscanf(line + 1, "%lu %lu", &hi, &off) != 2 || hi >= NH)
			return 3;
		p = mmapkit_at(h[hi], off, 1, 1);
		if (!p)
			return 3;
		if (line[0] == 'r') {
			snprintf(out, sizeof(out), "v %u", *p);
			say(s, out);
		} else if (line[0] == 'w' && sscanf(line + 1, "%lu %lu %lu", &hi, &off, &val) == 3 &&
			   val < 256) {
			*p = (unsigned char)val;
			say(s, "ok");
		} else {
			return 3;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t alen = sizeof(a);
	mmapkit_map *h[NH] = {0};
	char out[256];
	int s, err = 0, rc;

	if (argc != 4 || strlen(argv[1]) >= sizeof(a.sun_path)) {
		fprintf(stderr, "usage: %s SOCKET SHM-NAME REQUIRED-SEALS\n", argv[0]);
		return 2;
	}
	strcpy(a.sun_path, argv[1]);
	if (argv[1][0] == '@') { /* abstract: a leading 0 byte, and no terminator */
		a.sun_path[0] = '\0';
		alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(argv[1]));
	}
	s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&a, alen) < 0) {
		perror("mmapkit_share_peer: connect");
		return 2;
	}
	for (int i = 0; i < 3 && !err; i++)
		err = mmapkit_receive(&h[i], s, i == 0 ? (unsigned)strtoul(argv[3], NULL, 0) : 0, 0);
	if (!err)
		err = mmapkit_shm_open(&h[3], argv[2], 0, 0, 0);
	if (err) {
		snprintf(out, sizeof(out), "err %d %s", err, mmapkit_errmsg());
		say(s, out);
		return 2;
	}
	snprintf(out, sizeof(out), "ready %zu %zu %zu %zu", mmapkit_len(h[0]), mmapkit_len(h[1]),
		 mmapkit_len(h[2]), mmapkit_len(h[3]));
	say(s, out);
	rc = serve(s, h);
	for (int i = 0; i < NH; i++)
		mmapkit_unmap(h[i]);
	close(s);
	return rc;
}
