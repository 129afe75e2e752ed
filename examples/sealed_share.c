/* SPDX-License-Identifier: MIT */
/*
 * sealed_share: hand a buffer to an unrelated process so that neither side
 * can pull it out from under the other.  The program starts itself again
 * (fork + exec) as the receiver, connected by a Unix socket.  The sender
 * fills a memfd, seals it (no shrinking, no growing, no more writes) and
 * sends it; the receiver demands exactly those seals before it maps the
 * file, so no access can ever die of SIGBUS.  Afterwards the sender tries to
 * shrink the file and is refused, and an unsealed memfd sent the same way is
 * refused by the receiver with -EPERM.
 *
 * Run with no arguments.  Exits 1 if any of that does not hold.
 */
#define _GNU_SOURCE
#include <mmapkit.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define SIZE (1u << 20)
#define SEALS (MMAPKIT_SEAL_SHRINK | MMAPKIT_SEAL_GROW | MMAPKIT_SEAL_WRITE)

static int check(int ok, const char *what)
{
	printf("  %-66s %s\n", what, ok ? "yes" : "NO");
	return ok ? 0 : 1;
}

static unsigned char byte_at(size_t i)
{
	return (unsigned char)(i * 31 + 7);
}

/* The second process: receives, demands the seals, reads, answers one byte. */
static int receiver(int sock)
{
	mmapkit_map *m = NULL;
	const unsigned char *p;
	size_t bad = 0;
	int err, fails = 0;
	char verdict;

	err = mmapkit_receive(&m, sock, SEALS, 0);
	printf("receiver (pid %d): demanding SHRINK|GROW|WRITE: %s\n", (int)getpid(),
	       err ? mmapkit_errmsg() : "accepted");
	fails += check(err == 0, "the sealed memfd is accepted");
	if (!err) {
		p = mmapkit_ptr(m);
		for (size_t i = 64; i < SIZE; i++)
			bad += p[i] != byte_at(i);
		printf("  message: \"%s\"\n", (const char *)p);
		fails += check(bad == 0 && mmapkit_len(m) == SIZE, "all 1 MiB arrived intact");
		fails += check((mmapkit_flags(m) & MMAPKIT_RDONLY) != 0,
			       "it is mapped read-only (the file is sealed against writing)");
		mmapkit_unmap(m);
	}
	err = mmapkit_receive(&m, sock, SEALS, 0);
	printf("receiver: an unsealed memfd: %d (%s)\n", err, mmapkit_strerror(err));
	fails += check(err == -EPERM && m == NULL, "an unsealed memfd is refused with -EPERM");
	verdict = fails ? 'n' : 'y';
	if (write(sock, &verdict, 1) != 1)
		return 1;
	return fails ? 1 : 0;
}

static pid_t start_receiver(const char *self, int sock)
{
	char arg[16];
	pid_t pid;

	snprintf(arg, sizeof(arg), "%d", sock);
	pid = fork();
	if (pid == 0) {
		/* the socket must survive exec: clear close-on-exec in the child only */
		fcntl(sock, F_SETFD, 0);
		execl(self, "sealed_share", "--receiver", arg, (char *)NULL);
		perror("sealed_share: exec");
		_exit(127);
	}
	return pid;
}

int main(int argc, char **argv)
{
	mmapkit_map *m = NULL, *plain = NULL;
	unsigned char *p;
	int sv[2], st, fails = 0, err;
	char verdict = 'n';
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 3 && strcmp(argv[1], "--receiver") == 0)
		return receiver(atoi(argv[2]));
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		perror("socketpair");
		return 1;
	}
	pid = start_receiver("/proc/self/exe", sv[1]);
	close(sv[1]);

	err = mmapkit_memfd(&m, "sealed_share", SIZE, 0);
	if (err) {
		fprintf(stderr, "mmapkit_memfd: %s\n", mmapkit_errmsg());
		return 1;
	}
	p = mmapkit_ptr(m);
	for (size_t i = 64; i < SIZE; i++)
		p[i] = byte_at(i);
	snprintf((char *)p, 64, "hello from pid %d", (int)getpid());
	printf("sender (pid %d): 1 MiB memfd filled; sealing it SHRINK|GROW|WRITE\n",
	       (int)getpid());
	err = mmapkit_seal(m, SEALS);
	fails += check(err == 0, "the seals are added");
	fails += check(mmapkit_seals(m) == SEALS, "mmapkit_seals reports exactly them");
	fails += check((mmapkit_flags(m) & MMAPKIT_RDONLY) != 0,
		       "the sender's own handle became read-only");
	fails += check(mmapkit_send(m, sv[0]) == 0, "sent to the receiver");

	err = mmapkit_memfd(&plain, "unsealed", 4096, 0);
	fails += check(err == 0 && mmapkit_send(plain, sv[0]) == 0, "an unsealed memfd is sent too");

	fails += check(read(sv[0], &verdict, 1) == 1 && verdict == 'y',
		       "the receiver reports every check passed");
	/* the point: the file can no longer shrink under the receiver */
	errno = 0;
	err = ftruncate(mmapkit_fd(m), 0);
	printf("sender: ftruncate(fd, 0): %s\n", err ? strerror(errno) : "succeeded");
	fails += check(err == -1 && errno == EPERM, "the sender cannot shrink the file any more");
	waitpid(pid, &st, 0);
	fails += check(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the receiver exits 0");
	mmapkit_unmap(plain);
	mmapkit_unmap(m);
	close(sv[0]);
	printf("sealed_share: %s\n", fails ? "FAILED" : "ok");
	return fails ? 1 : 0;
}
