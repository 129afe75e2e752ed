/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_ring: a memfd of len bytes mapped twice, back to back, so that byte
 * len + i is byte i and a span across the wrap is one contiguous pointer.
 * One reservation of 2 * len bytes is made first and both halves are mapped
 * over it with MAP_FIXED, so no other thread can map into the gap; unmap
 * releases both halves (the reservation is gone once they replace it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>

#include "internal.h"

/* Constructor flags a ring takes: no file flags, no huge pages, no guard. */
#define RING_FLAGS                                                                          \
	(MMAPKIT_RDONLY | MMAPKIT_POPULATE | MMAPKIT_NORESERVE | MMAPKIT_LOCK | MMAPKIT_THP |  \
	 MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP)

int mmapkit__ring_pages(mmapkit_map *m, const char *call, int prot, int flags)
{
	size_t len = m->len;
	unsigned char *r;

	r = mmapkit__sys.mmap(NULL, 2 * len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			      -1, 0);
	if (r == MAP_FAILED)
		return mmapkit__fail_sys(errno, call, "mmap", "reserving %zu bytes for a ring of %zu",
					 2 * len, len);
	for (int half = 0; half < 2; half++) {
		if (mmapkit__sys.mmap(r + half * len, len, prot, flags | MAP_FIXED, m->fd, 0) !=
		    MAP_FAILED)
			continue;
		int err = errno;

		mmapkit__sys.munmap(r, 2 * len);
		return mmapkit__fail_sys(err, call, "mmap", "%s half of a ring of %zu bytes",
					 half ? "second" : "first", len);
	}
	m->base = r;
	return 0;
}

/* The checks of a ring's length and flags, shared with mmapkit_receive. */
int mmapkit__ring_check(const char *call, size_t len, unsigned flags)
{
	size_t page = mmapkit__page();

	if (flags & ~RING_FLAGS)
		return mmapkit__fail(EINVAL, "%s: flags 0x%x do not apply to a ring", call,
				     flags & ~RING_FLAGS);
	if (len == 0 || len % page)
		return mmapkit__fail(EINVAL, "%s: len %zu is not a positive multiple of the page size (%zu)",
				     call, len, page);
	if (len > PTRDIFF_MAX / 2)
		return mmapkit__fail(EOVERFLOW, "%s: len %zu: twice that exceeds PTRDIFF_MAX", call,
				     len);
	return 0;
}

/* Map an owned memfd of at least len bytes as a ring; the descriptor stays the caller's on failure. */
int mmapkit__ring_adopt(mmapkit_map **out, const char *call, int fd, size_t len, unsigned flags)
{
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = MMAPKIT_ANON_SHARED, .flags = flags,
				 .len = len};
	struct mmapkit__adopt a = {.fd = fd, .ring = true};

	return mmapkit__ctor(out, &o, call, &a);
}

int mmapkit_ring(mmapkit_map **out, size_t len, unsigned flags)
{
	const char *call = __func__;
	int fd, err;

	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	*out = NULL;
	err = mmapkit__ring_check(call, len, flags);
	if (err)
		return err;
	fd = mmapkit__memfd_new(call, "mmapkit-ring", len);
	if (fd < 0)
		return fd;
	err = mmapkit__ring_adopt(out, call, fd, len, flags);
	if (err)
		mmapkit__sys.close(fd);
	return err;
}
