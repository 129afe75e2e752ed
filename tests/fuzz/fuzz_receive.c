/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer harness for mmapkit_receive: the input is one message (arbitrary
 * bytes, or an mmapkit header whose fields come from the input) sent over a
 * fresh AF_UNIX socket pair of one of three types with 0 to 3 descriptors of
 * every type: a pipe, a socket, a directory, a regular file too short, a
 * memfd sealed against writing, an unsealed memfd, and a memfd sealed
 * against shrinking and future writes.  A model predicts the exact result
 * (0 or the negative errno, in the contract's order of checks); after each
 * call the process must hold exactly the descriptors it held before (every
 * received descriptor closed when refused) and no mapping of the files, and
 * an accepted message must map exactly the range it names.
 *
 * Build and run: FUZZ_HARNESS=receive tests/run_fuzz.sh SECONDS.
 * Files live in $FUZZ_DIR, else /dev/shm, else /tmp.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mmapkit.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

#if defined(__clang__)
#define NO_COV __attribute__((no_sanitize("coverage")))
#else
#define NO_COV
#endif

enum { T_PIPE, T_SOCK, T_DIR, T_SHORT, T_SEALED, T_UNSEALED, T_SHRINK, NTYPES };
static const char *const type_names[NTYPES] = {
	"pipe", "socket", "directory", "short file", "sealed memfd", "unsealed memfd",
	"shrink-sealed memfd",
};

static size_t pg;
static int fds[NTYPES];        /* one descriptor of each type, sent again and again */
static unsigned seals[NTYPES]; /* their seals as MMAPKIT_SEAL_* bits, asked of the kernel */
static uint64_t sizes[NTYPES];
static unsigned char *content[NTYPES]; /* the regular files' bytes */
static char dir[PATH_MAX];
static bool trace;

/* the wire format, written by hand from the documentation */
struct wire {
	uint32_t magic;
	uint16_t version, kind;
	uint64_t offset, length;
};
#define MAGIC 0x48534b4du

__attribute__((format(printf, 1, 2), noreturn)) static void fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "fuzz_receive: ");
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nfuzz_receive: last errmsg: %s\n", mmapkit_errmsg());
	abort();
}

NO_COV static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		fail("opendir /proc/self/fd: %s", strerror(errno));
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/* Mappings of the harness's files: memfds named fz-*, and the short file. */
NO_COV static int count_our_maps(void)
{
	FILE *fp = fopen("/proc/self/maps", "re");
	char line[1024];
	int n = 0;

	if (!fp)
		fail("fopen /proc/self/maps: %s", strerror(errno));
	while (fgets(line, sizeof(line), fp))
		n += strstr(line, "memfd:fz-") || strstr(line, "fz-short");
	fclose(fp);
	return n;
}

static unsigned from_kernel(int k)
{
	return (k & F_SEAL_SHRINK ? MMAPKIT_SEAL_SHRINK : 0) |
	       (k & F_SEAL_GROW ? MMAPKIT_SEAL_GROW : 0) |
	       (k & F_SEAL_WRITE ? MMAPKIT_SEAL_WRITE : 0) |
	       (k & F_SEAL_FUTURE_WRITE ? MMAPKIT_SEAL_FUTURE_WRITE : 0) |
	       (k & F_SEAL_SEAL ? MMAPKIT_SEAL_SEAL : 0);
}

static int new_memfd(const char *name, int kseals)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)(2 * pg)) < 0)
		fail("memfd %s: %s", name, strerror(errno));
	for (size_t i = 0; i < 2 * pg; i++) {
		unsigned char b = (unsigned char)(i * 7 + 1);

		if (pwrite(fd, &b, 1, (off_t)i) != 1)
			fail("pwrite: %s", strerror(errno));
	}
	if (kseals && fcntl(fd, F_ADD_SEALS, kseals) < 0)
		fail("F_ADD_SEALS %s: %s", name, strerror(errno));
	return fd;
}

static void setup(void)
{
	const char *d = getenv("FUZZ_DIR");
	int p[2], s[2];
	char path[PATH_MAX + 32];

	pg = (size_t)sysconf(_SC_PAGESIZE);
	trace = getenv("FUZZ_TRACE") != NULL;
	if (!d || !*d)
		d = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(dir, sizeof(dir), "%s", d);
	if (pipe2(p, O_CLOEXEC) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s) < 0)
		fail("pipe/socketpair: %s", strerror(errno));
	fds[T_PIPE] = p[0];
	fds[T_SOCK] = s[0];
	fds[T_DIR] = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/fz-short-%ld", dir, (long)getpid());
	fds[T_SHORT] = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fds[T_DIR] < 0 || fds[T_SHORT] < 0 || pwrite(fds[T_SHORT], "0123456789", 10, 0) != 10)
		fail("%s: %s", path, strerror(errno));
	unlink(path);
	fds[T_SEALED] = new_memfd("fz-sealed",
				  F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	fds[T_UNSEALED] = new_memfd("fz-unsealed", 0);
	fds[T_SHRINK] = new_memfd("fz-shrink", F_SEAL_SHRINK | F_SEAL_FUTURE_WRITE);
	for (int t = 0; t < NTYPES; t++) {
		struct stat st;
		int k = fcntl(fds[t], F_GET_SEALS);

		seals[t] = k < 0 ? 0 : from_kernel(k);
		if (fstat(fds[t], &st) < 0)
			fail("fstat: %s", strerror(errno));
		sizes[t] = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
		if (S_ISREG(st.st_mode)) {
			content[t] = malloc(sizes[t]);
			if (!content[t] || pread(fds[t], content[t], sizes[t], 0) != (ssize_t)sizes[t])
				fail("reading %s", type_names[t]);
		}
	}
}

/* ---- the input ---- */

struct input {
	int socktype;
	int nfds;
	int types[3];
	unsigned required;
	unsigned flags;
	unsigned char payload[64];
	size_t len;
};

static const unsigned flag_choices[] = {
	0, MMAPKIT_RDONLY, MMAPKIT_GUARD, MMAPKIT_LOCK | MMAPKIT_POPULATE, MMAPKIT_GROW,
	MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP, MMAPKIT_HUGETLB, MMAPKIT_RDONLY | MMAPKIT_GUARD,
};

static uint64_t le(const uint8_t *b, int n)
{
	uint64_t v = 0;

	for (int i = n - 1; i >= 0; i--)
		v = v << 8 | b[i];
	return v;
}

/*
 * Bytes 0-6: socket type, descriptor count and types, required seals, flags,
 * and the payload's mode; then either the payload itself (raw) or 8 bytes
 * that choose the header's fields, the rest appended after the 24 bytes.
 */
static bool decode(const uint8_t *d, size_t n, struct input *in)
{
	static const int socktypes[] = {SOCK_STREAM, SOCK_SEQPACKET, SOCK_DGRAM};
	const uint8_t *rest;
	size_t nrest;

	if (n < 7)
		return false;
	memset(in, 0, sizeof(*in));
	in->socktype = socktypes[d[0] % 3];
	in->nfds = d[1] % 4;
	for (int i = 0; i < 3; i++)
		in->types[i] = d[2 + i] % NTYPES;
	in->required = d[5] & 0x3f; /* 0x20: an unknown bit */
	in->flags = flag_choices[d[6] % 8];
	rest = d + 7;
	nrest = n - 7;
	if (d[6] & 0x80 && nrest >= 8) { /* a header the input only steers */
		struct wire w = {MAGIC, 1, 1, 0, 0};
		uint8_t m = rest[0];

		w.kind = (uint16_t)(1 + m % 3);
		if (m & 0x08)
			w.magic ^= 1u << (rest[1] % 32);
		if (m & 0x10)
			w.version = (uint16_t)(rest[1] % 3);
		w.offset = m & 0x20 ? le(rest + 2, 2) % (3 * pg) : 0;
		w.length = m & 0x40 ? le(rest + 4, 2) % (3 * pg + 1) : (m >> 7) ? pg : 2 * pg;
		if (rest[6] == 0xff)
			w.offset = UINT64_MAX - le(rest + 7, 1);
		memcpy(in->payload, &w, sizeof(w));
		in->len = sizeof(w);
		rest += 8;
		nrest -= 8;
		if (rest > d + n)
			return false;
		/* a few more bytes, or a truncation */
		if (nrest && (rest[0] & 1))
			in->len = sizeof(w) + 1 + rest[0] % 16;
		else if (nrest && (rest[0] & 2))
			in->len = rest[0] % sizeof(w);
	} else {
		in->len = nrest < sizeof(in->payload) ? nrest : sizeof(in->payload);
		memcpy(in->payload, rest, in->len);
	}
	if (in->socktype == SOCK_STREAM && in->len == 0) /* a stream sends nothing of 0 bytes */
		in->len = 1;
	return true;
}

/* ---- the model ---- */

#define SHARE_FLAGS                                                                         \
	(MMAPKIT_RDONLY | MMAPKIT_POPULATE | MMAPKIT_NORESERVE | MMAPKIT_LOCK | MMAPKIT_THP |  \
	 MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP | MMAPKIT_GUARD)
#define RING_FLAGS (SHARE_FLAGS & ~MMAPKIT_GUARD)

NO_COV static int expect(const struct input *in)
{
	struct wire w;
	size_t got = in->len < sizeof(w) ? in->len : sizeof(w);
	bool trunc = in->socktype != SOCK_STREAM && in->len > sizeof(w);
	int t = in->types[0];

	if (in->required & ~0x1fu || in->flags & ~SHARE_FLAGS)
		return -EINVAL;
	if (got == 0 && in->nfds == 0)
		return -ECONNRESET;
	if (trunc || got != sizeof(w))
		return -EBADMSG;
	memcpy(&w, in->payload, sizeof(w));
	if (w.magic != MAGIC || w.version != 1 || in->nfds != 1 || (w.kind != 1 && w.kind != 2))
		return -EBADMSG;
	if (w.length == 0 || w.length > PTRDIFF_MAX || w.offset > INT64_MAX - w.length)
		return -EBADMSG;
	if (w.kind == 2 && (w.offset || w.length % pg || w.length > PTRDIFF_MAX / 2))
		return -EBADMSG;
	if (t == T_DIR)
		return -EISDIR;
	if (t == T_PIPE || t == T_SOCK)
		return -ENODEV;
	if (sizes[t] < w.offset + w.length)
		return -ERANGE;
	if (w.kind == 2 && in->flags & ~RING_FLAGS)
		return -EINVAL;
	if ((seals[t] & in->required) != in->required)
		return -EPERM;
	return 0;
}

/* An accepted message: the handle maps exactly the range, of the right kind. */
NO_COV static void check_handle(const struct input *in, mmapkit_map *m)
{
	struct wire w;
	const unsigned char *p = mmapkit_ptr(m);
	int t = in->types[0];

	memcpy(&w, in->payload, sizeof(w));
	if (mmapkit_len(m) != w.length)
		fail("len %zu, message said %llu", mmapkit_len(m), (unsigned long long)w.length);
	if (mmapkit_kind(m) != (w.kind == 2 ? MMAPKIT_ANON_SHARED : MMAPKIT_FILE_SHARED))
		fail("kind %d for message kind %u", mmapkit_kind(m), w.kind);
	if (w.kind == 1 && mmapkit_offset(m) != w.offset)
		fail("offset %llu, message said %llu", (unsigned long long)mmapkit_offset(m),
		     (unsigned long long)w.offset);
	if (((seals[t] & (MMAPKIT_SEAL_WRITE | MMAPKIT_SEAL_FUTURE_WRITE)) ||
	     (in->flags & MMAPKIT_RDONLY)) != !!(mmapkit_flags(m) & MMAPKIT_RDONLY))
		fail("RDONLY is %d", !!(mmapkit_flags(m) & MMAPKIT_RDONLY));
	for (uint64_t i = 0; i < w.length; i++)
		if (p[i] != content[t][w.offset + i])
			fail("byte %llu is 0x%02x, the file has 0x%02x", (unsigned long long)i, p[i],
			     content[t][w.offset + i]);
	if (w.kind == 2 && memcmp(p, p + w.length, w.length) != 0)
		fail("the received ring is not mapped twice");
}

NO_COV static void send_input(int sock, const struct input *in)
{
	union {
		char buf[CMSG_SPACE(3 * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = (void *)in->payload, .iov_len = in->len};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};

	if (in->nfds) {
		struct cmsghdr *c;

		memset(&ctl, 0, sizeof(ctl));
		msg.msg_control = ctl.buf;
		msg.msg_controllen = CMSG_SPACE(in->nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&msg);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(in->nfds * sizeof(int));
		for (int i = 0; i < in->nfds; i++)
			memcpy(CMSG_DATA(c) + i * sizeof(int), &fds[in->types[i]], sizeof(int));
	}
	if (sendmsg(sock, &msg, MSG_NOSIGNAL) != (ssize_t)in->len)
		fail("sendmsg of %zu bytes: %s", in->len, strerror(errno));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct input in;
	mmapkit_map *m = (mmapkit_map *)&m;
	int sv[2], want, got, before;

	if (!pg)
		setup();
	if (!decode(data, size, &in))
		return 0;
	/* counted for each input: libFuzzer's symbolizer may open pipes between inputs */
	before = count_fds();
	if (socketpair(AF_UNIX, in.socktype | SOCK_CLOEXEC, 0, sv) < 0)
		fail("socketpair: %s", strerror(errno));
	send_input(sv[0], &in);
	close(sv[0]); /* nothing more will come: a blocking receive cannot hang */
	want = expect(&in);
	got = mmapkit_receive(&m, sv[1], in.required, in.flags);
	if (trace)
		fprintf(stderr, "socktype %d, %d fds (%s...), %zu bytes, seals 0x%x, flags 0x%x: %d (%s)\n",
			in.socktype, in.nfds, type_names[in.types[0]], in.len, in.required, in.flags,
			got, got ? mmapkit_errmsg() : "ok");
	if (got != want)
		fail("returned %d (%s), the model says %d", got, strerror(-got), want);
	if (got) {
		if (m)
			fail("*out is not NULL after %d", got);
	} else {
		check_handle(&in, m);
		mmapkit_unmap(m);
	}
	close(sv[1]);
	if (count_fds() != before)
		fail("%d descriptors open, %d before", count_fds(), before);
	if (count_our_maps())
		fail("%d mappings of the harness's files remain", count_our_maps());
	return 0;
}
