/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_send and mmapkit_receive: a handle's descriptor, offset and length
 * in one message of mmapkit's own format over an AF_UNIX socket.
 *
 * The message: 24 bytes of data in host byte order (both ends run on one
 * machine) with exactly one descriptor (SCM_RIGHTS):
 *
 *   u32 magic "MKSH"   u16 version (1)   u16 kind (1 plain, 2 ring)
 *   u64 offset         u64 length (> 0)
 *
 * The receiver trusts none of it: the message must be exactly that, the
 * descriptor a regular file (memfds are) holding the range, with the seals
 * the caller requires, before anything is mapped.  Every descriptor that
 * arrived with a refused message is closed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "internal.h"

#define MSG_MAGIC 0x48534b4du /* "MKSH" in memory on little-endian machines */
#define MSG_VERSION 1
#define MSG_PLAIN 1
#define MSG_RING 2

struct wire {
	uint32_t magic;
	uint16_t version;
	uint16_t kind;
	uint64_t offset;
	uint64_t length;
};
_Static_assert(sizeof(struct wire) == 24, "the message has no padding");

/* SCM_MAX_FD: the most descriptors one message can carry; all are received, to be closed. */
#define MAX_FDS 253

#define SEALS_KNOWN 0x1fu

int mmapkit_send(const mmapkit_map *m, int sock)
{
	const char *call = __func__;
	struct wire w = {.magic = MSG_MAGIC, .version = MSG_VERSION};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &w, .iov_len = sizeof(w)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};
	struct cmsghdr *c;
	ssize_t n;

	if (!m)
		return mmapkit__null_handle(call);
	if (m->kind != MMAPKIT_FILE_SHARED && !m->ring)
		return mmapkit__wrong_kind(m, call, "only shared file handles and rings can be sent");
	if (m->len == 0)
		return mmapkit__fail(EINVAL, "%s: the handle's range is empty", call);
	if (sock < 0)
		return mmapkit__fail(EBADF, "%s: bad socket descriptor %d", call, sock);
	w.kind = m->ring ? MSG_RING : MSG_PLAIN;
	w.offset = m->offset;
	w.length = m->len;
	memset(ctl.buf, 0, sizeof(ctl.buf));
	c = CMSG_FIRSTHDR(&msg);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &m->fd, sizeof(int));
	/* MSG_NOSIGNAL: a peer gone is -EPIPE, not a SIGPIPE that kills the caller */
	n = mmapkit__sys.sendmsg(sock, &msg, MSG_NOSIGNAL);
	if (n < 0)
		return mmapkit__fail_sys(errno, call, "sendmsg", "socket %d", sock);
	if ((size_t)n != sizeof(w)) /* an AF_UNIX socket sends 24 bytes whole or not at all */
		return mmapkit__fail(EIO, "%s: socket %d took %zd of %zu bytes", call, sock, n,
				     sizeof(w));
	return 0;
}

/* One received message: its data, and every descriptor that came with it. */
struct inbox {
	struct wire w;
	ssize_t n;
	int flags;
	int fds[MAX_FDS];
	int nfds;
};

static int receive_msg(const char *call, int sock, struct inbox *in)
{
	union {
		char buf[CMSG_SPACE(MAX_FDS * sizeof(int))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = {.iov_base = &in->w, .iov_len = sizeof(in->w)};
	struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
			     .msg_controllen = sizeof(ctl.buf)};

	memset(&in->w, 0, sizeof(in->w));
	in->nfds = 0;
	in->n = mmapkit__sys.recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
	if (in->n < 0)
		return mmapkit__fail_sys(errno, call, "recvmsg", "socket %d", sock);
	in->flags = msg.msg_flags;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS ||
		    c->cmsg_len < CMSG_LEN(0))
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k && in->nfds < MAX_FDS; i++)
			memcpy(&in->fds[in->nfds++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	}
	return 0;
}

static void close_all(struct inbox *in)
{
	for (int i = 0; i < in->nfds; i++)
		mmapkit__sys.close(in->fds[i]);
	in->nfds = 0;
}

/* The message is mmapkit's, whole, with one descriptor; else -EBADMSG saying why. */
static int check_msg(const char *call, const struct inbox *in)
{
	const struct wire *w = &in->w;

	if (in->flags & MSG_CTRUNC)
		return mmapkit__fail(EBADMSG, "%s: control data truncated (MSG_CTRUNC)", call);
	if (in->flags & MSG_TRUNC)
		return mmapkit__fail(EBADMSG, "%s: a message longer than mmapkit's %zu bytes", call,
				     sizeof(*w));
	if ((size_t)in->n != sizeof(*w))
		return mmapkit__fail(EBADMSG, "%s: a message of %zd bytes, not mmapkit's %zu", call,
				     in->n, sizeof(*w));
	if (w->magic != MSG_MAGIC)
		return mmapkit__fail(EBADMSG, "%s: not an mmapkit message (magic 0x%08x)", call,
				     w->magic);
	if (w->version != MSG_VERSION)
		return mmapkit__fail(EBADMSG, "%s: message version %u; this library reads %u",
				     call, w->version, MSG_VERSION);
	if (in->nfds != 1)
		return mmapkit__fail(EBADMSG, "%s: the message carries %d descriptors, not one",
				     call, in->nfds);
	if (w->kind != MSG_PLAIN && w->kind != MSG_RING)
		return mmapkit__fail(EBADMSG, "%s: unknown kind %u in the message", call, w->kind);
	if (w->length == 0 || w->length > PTRDIFF_MAX || w->offset > INT64_MAX - w->length)
		return mmapkit__fail(EBADMSG, "%s: range %llu+%llu in the message is empty or overflows",
				     call, (unsigned long long)w->offset,
				     (unsigned long long)w->length);
	if (w->kind == MSG_RING && (w->offset || w->length % mmapkit__page() ||
				    w->length > PTRDIFF_MAX / 2))
		return mmapkit__fail(EBADMSG, "%s: ring range %llu+%llu in the message is not a ring's",
				     call, (unsigned long long)w->offset,
				     (unsigned long long)w->length);
	return 0;
}

/* The descriptor is a regular file (memfds are) that holds the range. */
static int check_file(const char *call, int fd, const struct wire *w, uint64_t *size)
{
	struct stat st;

	if (mmapkit__sys.fstat(fd, &st) < 0)
		return mmapkit__fail_sys(errno, call, "fstat", "received fd %d", fd);
	if (S_ISDIR(st.st_mode))
		return mmapkit__fail(EISDIR, "%s: the received descriptor is a directory", call);
	if (!S_ISREG(st.st_mode))
		return mmapkit__fail(ENODEV, "%s: the received descriptor is not a regular file or memfd (mode 0%o)",
				     call, (unsigned)(st.st_mode & S_IFMT));
	*size = (uint64_t)st.st_size;
	if (*size < w->offset || *size - w->offset < w->length)
		return mmapkit__fail(ERANGE, "%s: range %llu+%llu ends past the end of the received file (%llu bytes)",
				     call, (unsigned long long)w->offset,
				     (unsigned long long)w->length, (unsigned long long)*size);
	return 0;
}

static int map_received(mmapkit_map **out, const char *call, int fd, const struct wire *w,
			uint64_t size, unsigned required, unsigned flags)
{
	unsigned seals;
	int err = mmapkit__seals_get(call, fd, &seals);

	if (err == -EINVAL) /* a file that cannot be sealed has no seals */
		err = 0;
	if (err)
		return err;
	if ((seals & required) != required)
		return mmapkit__fail(EPERM, "%s: the received file lacks required seals 0x%x (it has 0x%x)",
				     call, required & ~seals, seals);
	if (seals & (MMAPKIT_SEAL_WRITE | MMAPKIT_SEAL_FUTURE_WRITE))
		flags |= MMAPKIT_RDONLY;
	if (w->kind == MSG_RING)
		return mmapkit__ring_adopt(out, call, fd, (size_t)w->length, flags);
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = MMAPKIT_FILE_SHARED, .flags = flags,
				 .offset = w->offset, .len = (size_t)w->length};
	struct mmapkit__adopt a = {.fd = fd, .sized = true, .size = size};

	return mmapkit__ctor(out, &o, call, &a);
}

int mmapkit_receive(mmapkit_map **out, int sock, unsigned required_seals, unsigned flags)
{
	const char *call = __func__;
	struct inbox in;
	uint64_t size = 0;
	int err;

	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	*out = NULL;
	if (required_seals & ~SEALS_KNOWN)
		return mmapkit__fail(EINVAL, "%s: unknown seal bits 0x%x", call,
				     required_seals & ~SEALS_KNOWN);
	err = mmapkit__share_flags(call, flags);
	if (err)
		return err;
	if (sock < 0)
		return mmapkit__fail(EBADF, "%s: bad socket descriptor %d", call, sock);
	err = receive_msg(call, sock, &in);
	if (err)
		return err;
	/* (a message of 0 bytes on a SOCK_SEQPACKET socket looks the same) */
	if (in.n == 0 && in.nfds == 0 && !(in.flags & (MSG_TRUNC | MSG_CTRUNC)))
		return mmapkit__fail(ECONNRESET, "%s: the peer closed the connection", call);
	err = check_msg(call, &in);
	if (!err)
		err = check_file(call, in.fds[0], &in.w, &size);
	if (!err && in.w.kind == MSG_RING)
		err = mmapkit__ring_check(call, (size_t)in.w.length, flags);
	if (!err)
		err = map_received(out, call, in.fds[0], &in.w, size, required_seals, flags);
	if (err)
		close_all(&in);
	return err;
}
