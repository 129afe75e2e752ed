/* SPDX-License-Identifier: MIT */
/* Constructors, unmap and accessors. */
#define _GNU_SOURCE
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define KNOWN_FLAGS (0x1fffu | MMAPKIT_SECURE | MMAPKIT_SECRET)

/* What SECURE and SECRET add to the caller's flags. */
#define SECURE_IMPLIES (MMAPKIT_GUARD | MMAPKIT_LOCK | MMAPKIT_DONTDUMP | MMAPKIT_WIPEONFORK)
#define SECRET_IMPLIES                                                                      \
	(MMAPKIT_SECURE | MMAPKIT_GUARD | MMAPKIT_LOCK | MMAPKIT_DONTDUMP | MMAPKIT_DONTFORK)

/* Where mmapkit_ptr() of an empty mapping points: valid, read-only, never read. */
static const unsigned char empty_range[1];

/* The only global state: page sizes, set once (racing writers store the same value). */
static size_t page_size;
static size_t huge_page_size;

size_t mmapkit__page(void)
{
	size_t p = __atomic_load_n(&page_size, __ATOMIC_RELAXED);

	if (!p) { /* only before page_size_at_load ran: from another library's constructor */
		p = (size_t)getauxval(AT_PAGESZ);
		if (!p)
			p = (size_t)sysconf(_SC_PAGESIZE);
		__atomic_store_n(&page_size, p, __ATOMIC_RELAXED);
	}
	return p;
}

/*
 * The page size is known once the library is loaded, so that mmapkit_page_size()
 * is one load from its first call on: async-signal-safe (mmapkit(7), Signals).
 */
__attribute__((constructor)) static void page_size_at_load(void)
{
	(void)mmapkit__page();
}

/* Default huge page size from /proc/meminfo, read once; 0 if unknown. */
static size_t huge_page(void)
{
	size_t h = __atomic_load_n(&huge_page_size, __ATOMIC_RELAXED);
	char buf[4096], *p;
	ssize_t n;
	int fd;

	if (h)
		return h;
	fd = mmapkit__sys.open("/proc/meminfo", O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	n = mmapkit__sys.pread(fd, buf, sizeof(buf) - 1, 0);
	mmapkit__sys.close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "Hugepagesize:");
	if (!p || sscanf(p, "Hugepagesize: %zu kB", &h) != 1)
		return 0;
	h *= 1024;
	__atomic_store_n(&huge_page_size, h, __ATOMIC_RELAXED);
	return h;
}

size_t mmapkit_page_size(void)
{
	return mmapkit__page();
}

const char *mmapkit_version(void)
{
	return MMAPKIT_VERSION_STRING;
}

uint32_t mmapkit__prot_attr(int prot)
{
	return (prot & PROT_READ ? MMAPKIT__A_READ : 0) |
	       (prot & PROT_WRITE ? MMAPKIT__A_WRITE : 0) |
	       (prot & PROT_EXEC ? MMAPKIT__A_EXEC : 0);
}

int mmapkit__attr_prot(uint32_t attr)
{
	return (attr & MMAPKIT__A_READ ? PROT_READ : 0) |
	       (attr & MMAPKIT__A_WRITE ? PROT_WRITE : 0) |
	       (attr & MMAPKIT__A_EXEC ? PROT_EXEC : 0);
}

static bool is_file(int kind)
{
	return kind == MMAPKIT_FILE_PRIVATE || kind == MMAPKIT_FILE_SHARED;
}

bool mmapkit__is_file(const mmapkit_map *m)
{
	return is_file(m->kind);
}

static bool is_shared(int kind)
{
	return kind == MMAPKIT_ANON_SHARED || kind == MMAPKIT_FILE_SHARED;
}

/* One constructor call under way: what it did so far, so a failure can undo it. */
struct ctor {
	const char *call;
	struct mmapkit_opts o;
	mmapkit_map *m;
	const char *name; /* path for messages, or "fd N" */
	char fdname[32];
	bool created;
	bool grown;
	off_t old_size;
	uint64_t file_size;
	bool opened;  /* the library opened the path (with O_NONBLOCK) */
	bool sized;   /* file_size is meaningful (regular file or block device) */
	bool regular; /* a regular file: MMAPKIT_GROW can extend it */
	const struct mmapkit__adopt *adopt; /* a descriptor taken over (0.2 constructors) */
	bool locked_onfault; /* MMAPKIT_LOCK between light guards: mlock2(MLOCK_ONFAULT) */
};

/* MMAPKIT_SECURE and MMAPKIT_SECRET: anonymous private, writable, small pages. */
static int check_secure(const struct ctor *b)
{
	unsigned f = b->o.flags;
	const char *what = f & MMAPKIT_SECRET ? "MMAPKIT_SECRET" : "MMAPKIT_SECURE";

	if (!(f & (MMAPKIT_SECURE | MMAPKIT_SECRET)))
		return 0;
	if (b->o.kind != MMAPKIT_ANON_PRIVATE)
		return mmapkit__fail(EINVAL, "%s: %s applies to anonymous private mappings only",
				     b->call, what);
	if (f & (MMAPKIT_RDONLY | MMAPKIT_HUGETLB))
		return mmapkit__fail(EINVAL, "%s: %s: not with MMAPKIT_%s", b->call, what,
				     f & MMAPKIT_RDONLY ? "RDONLY" : "HUGETLB");
	if ((f & MMAPKIT_SECRET) && (f & (MMAPKIT_WIPEONFORK | MMAPKIT_THP)))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_SECRET: not with MMAPKIT_%s (fork() children do not have secret memory at all, and it has no huge pages)",
				     b->call, f & MMAPKIT_THP ? "THP" : "WIPEONFORK");
	if (!(f & MMAPKIT_SECRET) && (f & MMAPKIT_DONTFORK))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_SECURE wipes the memory in fork() children (MMAPKIT_WIPEONFORK); not with MMAPKIT_DONTFORK (MMAPKIT_SECRET keeps it from them)",
				     b->call);
	return 0;
}

/* addr and align: checked before anything is opened or mapped. */
static int check_place(const struct ctor *b)
{
	const struct mmapkit_opts *o = &b->o;
	size_t page = mmapkit__page();
	uintptr_t addr = (uintptr_t)o->addr;

	if (addr % page)
		return mmapkit__fail(EINVAL, "%s: addr %p is not a multiple of the page size (%zu)",
				     b->call, o->addr, page);
	if (o->align && (o->align & (o->align - 1) || o->align < page))
		return mmapkit__fail(EINVAL, "%s: align %zu is neither 0 nor a power of two of at least the page size (%zu)",
				     b->call, o->align, page);
	if (o->align > (size_t)PTRDIFF_MAX / 2 + 1)
		return mmapkit__fail(EINVAL, "%s: align %zu exceeds the address space", b->call,
				     o->align);
	if (o->align && addr % o->align)
		return mmapkit__fail(EINVAL, "%s: addr %p is not a multiple of align %zu", b->call,
				     o->addr, o->align);
	/* Huge pages of a file need address and file offset congruent modulo their size. */
	if (o->align && is_file(o->kind) && (o->offset - o->offset % page) % o->align)
		return mmapkit__fail(EINVAL, "%s: align %zu: the file offset of the range's first page (%llu) must be a multiple of align too",
				     b->call, o->align,
				     (unsigned long long)(o->offset - o->offset % page));
	return 0;
}

static int check_flags(const struct ctor *b)
{
	const struct mmapkit_opts *o = &b->o;
	unsigned f = o->flags;

	if (f & ~KNOWN_FLAGS)
		return mmapkit__fail(EINVAL, "%s: unknown flag bits 0x%x", b->call, f & ~KNOWN_FLAGS);
	if ((f & (MMAPKIT_CREATE | MMAPKIT_GROW)) && !is_file(o->kind))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_CREATE and MMAPKIT_GROW apply to file kinds only",
				     b->call);
	if ((f & MMAPKIT_ALLOCATE) && !is_file(o->kind))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_ALLOCATE applies to file kinds only",
				     b->call);
	if ((f & MMAPKIT_CREATE) && !o->path)
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_CREATE needs a path, not a descriptor",
				     b->call);
	if ((f & MMAPKIT_HUGETLB) && is_file(o->kind))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_HUGETLB applies to anonymous kinds only",
				     b->call);
	if ((f & MMAPKIT_WIPEONFORK) && o->kind != MMAPKIT_ANON_PRIVATE)
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_WIPEONFORK applies to anonymous private mappings only",
				     b->call);
	if ((f & MMAPKIT_RDONLY) && (f & MMAPKIT_GROW))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_GROW writes the file; not with MMAPKIT_RDONLY",
				     b->call);
	if ((f & MMAPKIT_RDONLY) && (f & MMAPKIT_ALLOCATE))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_ALLOCATE writes the file; not with MMAPKIT_RDONLY",
				     b->call);
	if ((f & MMAPKIT_NORESERVE) && (f & MMAPKIT_HUGETLB))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_NORESERVE with MMAPKIT_HUGETLB would die of SIGBUS on first touch",
				     b->call);
	if ((f & MMAPKIT_THP) && (f & MMAPKIT_HUGETLB))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_THP and MMAPKIT_HUGETLB conflict", b->call);
	if ((f & MMAPKIT_DONTFORK) && (f & MMAPKIT_WIPEONFORK))
		return mmapkit__fail(EINVAL, "%s: MMAPKIT_DONTFORK and MMAPKIT_WIPEONFORK conflict",
				     b->call);
	return check_secure(b);
}

static int check_args(const struct ctor *b)
{
	const struct mmapkit_opts *o = &b->o;
	int err;

	if (o->kind < MMAPKIT_ANON_PRIVATE || o->kind > MMAPKIT_FILE_SHARED)
		return mmapkit__fail(EINVAL, "%s: unknown kind %d", b->call, o->kind);
	if (!is_file(o->kind) && o->len == 0)
		return mmapkit__fail(EINVAL, "%s: an anonymous mapping needs len > 0", b->call);
	if (!is_file(o->kind) && (o->path || o->offset))
		return mmapkit__fail(EINVAL, "%s: an anonymous mapping takes no path or offset",
				     b->call);
	if (o->len > PTRDIFF_MAX)
		return mmapkit__fail(EOVERFLOW, "%s: len %zu exceeds PTRDIFF_MAX", b->call, o->len);
	if (o->offset > INT64_MAX || o->len > INT64_MAX - o->offset)
		return mmapkit__fail(EOVERFLOW, "%s: offset %llu + len %zu overflows a file offset",
				     b->call, (unsigned long long)o->offset, o->len);
	if (is_file(o->kind) && !o->path && o->fd < 0 && !b->adopt)
		return mmapkit__fail(EBADF, "%s: bad file descriptor %d", b->call, o->fd);
	err = check_flags(b);
	return err ? err : check_place(b);
}

static bool needs_write_fd(const struct mmapkit_opts *o)
{
	return (o->kind == MMAPKIT_FILE_SHARED && !(o->flags & MMAPKIT_RDONLY)) ||
	       (o->flags & (MMAPKIT_GROW | MMAPKIT_ALLOCATE));
}

/* open() the path; with MMAPKIT_CREATE, create it exclusively so we know it is ours. */
static int open_path(struct ctor *b)
{
	const struct mmapkit_opts *o = &b->o;
	/* O_NONBLOCK: opening a FIFO must never wait for a peer. */
	int oflags = O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (needs_write_fd(o) ? O_RDWR : O_RDONLY);
	int fd = mmapkit__sys.open(o->path, oflags, 0);

	if (fd < 0 && errno == ENOENT && (o->flags & MMAPKIT_CREATE)) {
		/* O_EXCL opens only a new regular file, never a FIFO: no O_NONBLOCK to clear */
		fd = mmapkit__sys.open(o->path, (oflags & ~O_NONBLOCK) | O_CREAT | O_EXCL,
				       o->mode ? o->mode : 0600);
		b->created = fd >= 0;
		if (fd < 0 && errno == EEXIST) /* created by someone else meanwhile */
			fd = mmapkit__sys.open(o->path, oflags, 0);
	}
	if (fd < 0) {
		int err = errno == ENXIO ? ENODEV : errno; /* a socket, or a FIFO with no reader */

		return mmapkit__fail_sys(err, b->call, "open", "%s", b->name);
	}
	b->m->fd = fd;
	b->opened = true;
	return 0;
}

static int dup_fd(struct ctor *b)
{
	int fd = mmapkit__sys.fcntl(b->o.fd, F_DUPFD_CLOEXEC, 0);

	if (fd < 0)
		return mmapkit__fail_sys(errno, b->call, "dup", "%s: fcntl(F_DUPFD_CLOEXEC)", b->name);
	b->m->fd = fd;
	return 0;
}

/*
 * O_NONBLOCK served only to open a FIFO without waiting: the descriptor the
 * handle owns (and mmapkit_fd() hands out) must not keep it.  A careful
 * program that maps a path it did not check pays this same fcntl.
 */
static int clear_nonblock(struct ctor *b, int oflags)
{
	if (mmapkit__sys.fcntl(b->m->fd, F_SETFL, oflags & ~O_NONBLOCK) == 0)
		return 0;
	return mmapkit__fail_sys(errno, b->call, "fcntl", "%s: clearing O_NONBLOCK", b->name);
}

/* Learn what the descriptor is and how large; refuse what cannot be mapped. */
/*
 * What the descriptor is and how large: a regular file's size, a block
 * device's (BLKGETSIZE64); *sized false for anything else.
 */
static int fd_size(int fd, const char *call, const char *name, mode_t *mode, uint64_t *size,
		   bool *regular, bool *sized)
{
	struct stat st;

	*size = 0;
	*regular = *sized = false;
	if (mmapkit__sys.fstat(fd, &st) < 0)
		return mmapkit__fail_sys(errno, call, "fstat", "%s", name);
	*mode = st.st_mode;
	if (S_ISREG(st.st_mode)) {
		*size = (uint64_t)st.st_size;
		*regular = *sized = true;
	} else if (S_ISBLK(st.st_mode)) {
		if (mmapkit__sys.ioctl(fd, BLKGETSIZE64, size) < 0)
			return mmapkit__fail_sys(errno, call, "ioctl(BLKGETSIZE64)", "%s", name);
		*sized = true;
	}
	return 0;
}

static int stat_fd(struct ctor *b)
{
	mode_t mode;
	int err;

	if (b->created) { /* we just made it: an empty regular file, opened blocking */
		b->sized = b->regular = true;
		return 0;
	}
	err = fd_size(b->m->fd, b->call, b->name, &mode, &b->file_size, &b->regular, &b->sized);
	if (err)
		return err;
	if (S_ISDIR(mode))
		return mmapkit__fail(EISDIR, "%s: %s: is a directory", b->call, b->name);
	if (!b->sized && !S_ISCHR(mode)) /* a character device decides itself */
		return mmapkit__fail(ENODEV, "%s: %s: a FIFO, socket or other object that cannot be mapped",
				     b->call, b->name);
	return 0;
}

/*
 * A regular file that reports size 0 may be a pseudo-file with content that
 * cannot be mapped (/proc, /sys): one byte read tells it from an empty file.
 * Only empty files pay for it.
 */
static int refuse_pseudo_file(struct ctor *b)
{
	unsigned char byte;
	ssize_t n;

	if (!b->regular || b->created || b->adopt || b->file_size || b->o.len || b->o.offset)
		return 0;
	n = mmapkit__sys.pread(b->m->fd, &byte, 1, 0);
	if (n < 0)
		return mmapkit__fail_sys(errno, b->call, "pread", "%s: reading a file of size 0",
					 b->name);
	if (n <= 0)
		return 0;
	return mmapkit__fail(ENODEV, "%s: %s: reports size 0 but has content (a pseudo-file such as in /proc or /sys), which cannot be mapped; read it with read(2) instead",
			     b->call, b->name);
}

/* Resolve len 0, check the range against the size, grow the file if asked. */
static int fit_range(struct ctor *b)
{
	struct mmapkit_opts *o = &b->o;
	uint64_t size = b->file_size, end;

	if (!b->sized) {
		if (o->len == 0)
			return mmapkit__fail(EINVAL, "%s: %s: has no size; pass a length", b->call,
					     b->name);
		return 0;
	}
	if (o->offset > size && !(o->len && (o->flags & MMAPKIT_GROW)))
		return mmapkit__fail(ERANGE, "%s: %s: offset %llu is past end of file (%llu bytes)",
				     b->call, b->name, (unsigned long long)o->offset,
				     (unsigned long long)size);
	if (o->len == 0) {
		if (size - o->offset > PTRDIFF_MAX)
			return mmapkit__fail(EOVERFLOW, "%s: %s: %llu bytes to end of file exceed PTRDIFF_MAX",
					     b->call, b->name,
					     (unsigned long long)(size - o->offset));
		o->len = (size_t)(size - o->offset);
		return 0;
	}
	end = o->offset + o->len;
	if (end <= size)
		return 0;
	if (!b->regular) /* sized but not regular: a block device, whose size is fixed */
		return mmapkit__fail(ERANGE, "%s: %s: range %llu+%zu ends past end of device (%llu bytes); a block device cannot grow",
				     b->call, b->name, (unsigned long long)o->offset, o->len,
				     (unsigned long long)size);
	if (!(o->flags & MMAPKIT_GROW))
		return mmapkit__fail(ERANGE, "%s: %s: range %llu+%zu ends past end of file (%llu bytes); pass MMAPKIT_GROW to extend the file",
				     b->call, b->name, (unsigned long long)o->offset, o->len,
				     (unsigned long long)size);
	if (o->flags & MMAPKIT_ALLOCATE) /* one fallocate grows and allocates */
		return 0;
	if (mmapkit__sys.ftruncate(b->m->fd, (off_t)end) < 0) {
		int err = errno == EINVAL || errno == EBADF ? EACCES : errno;

		return mmapkit__fail_sys(err, b->call, "ftruncate", "%s: growing to %llu bytes",
					 b->name, (unsigned long long)end);
	}
	b->grown = true;
	b->old_size = (off_t)size;
	return 0;
}

/*
 * MMAPKIT_ALLOCATE: the blocks of the pages holding the range (a write to a
 * page may allocate all of its blocks), up to the end of the file.  A range
 * past the end (MMAPKIT_GROW) is grown by the same call (mode 0: what
 * ftruncate would do, and the blocks); otherwise KEEP_SIZE, so that a file
 * another process shrinks meanwhile is not grown back.
 */
static int allocate_range(struct ctor *b)
{
	const struct mmapkit_opts *o = &b->o;
	uint64_t page = mmapkit__page(), end = o->offset + o->len;
	uint64_t a = o->offset - o->offset % page, z = (end + page - 1) / page * page;
	int mode = FALLOC_FL_KEEP_SIZE, err;

	if (!(o->flags & MMAPKIT_ALLOCATE) || !o->len || (b->sized && !b->regular))
		return 0; /* nothing to allocate; a block device has all its blocks */
	if (!b->sized) { /* a character device answers for itself */
	} else if (end > b->file_size) { /* fit_range left the growing to this call */
		mode = 0;
		z = end;
		b->grown = true; /* a failure may have grown it part of the way */
		b->old_size = (off_t)b->file_size;
	} else if (z > b->file_size) {
		z = b->file_size;
	}
	if (mmapkit__sys.fallocate(b->m->fd, mode, (off_t)a, (off_t)(z - a)) == 0)
		return 0;
	err = errno;
	if (err == EBADF) /* a descriptor not open for writing */
		err = EACCES;
	if (err == ENODEV || err == ENOSYS || err == ESPIPE)
		err = EOPNOTSUPP;
	if (err == EOPNOTSUPP)
		return mmapkit__fail_sys(err, b->call, "fallocate", "%s: MMAPKIT_ALLOCATE: the file system cannot allocate blocks in advance",
					 b->name);
	return mmapkit__fail_sys(err, b->call, "fallocate", "%s: MMAPKIT_ALLOCATE: allocating %llu bytes at offset %llu%s",
				 b->name, (unsigned long long)(z - a), (unsigned long long)a,
				 mode ? "" : " (and growing the file to them)");
}

int mmapkit__map_prot(unsigned flags)
{
	return flags & MMAPKIT_RDONLY ? PROT_READ : PROT_READ | PROT_WRITE;
}

int mmapkit__map_flags(const mmapkit_map *m)
{
	int f = is_shared(m->kind) ? MAP_SHARED : MAP_PRIVATE;

	if (!is_file(m->kind))
		f |= MAP_ANONYMOUS;
	if (m->flags & MMAPKIT_POPULATE)
		f |= MAP_POPULATE;
	if (m->flags & MMAPKIT_NORESERVE)
		f |= MAP_NORESERVE;
	if (m->flags & MMAPKIT_HUGETLB)
		f |= MAP_HUGETLB;
	return f;
}

/* Inaccessible, unbacked memory: guard pages and reservations. */
int mmapkit__guard_flags(const mmapkit_map *m)
{
	return MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
	       (m->flags & MMAPKIT_HUGETLB ? MAP_HUGETLB : 0);
}

#define RESERVE_FLAGS (MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE)

/* One mmap the constructor makes: the whole span, guard pages included. */
struct mapreq {
	size_t len;   /* bytes of the span */
	size_t front; /* bytes before the page that addr or align places */
	int prot, flags, fd;
	off_t off;
	const char *name; /* for messages: the file, or NULL */
	const char *what; /* for messages: what the span is */
};

static void *mmap_req(const struct mapreq *q, void *at, int extra)
{
	return mmapkit__sys.mmap(at, q->len, q->prot, q->flags | extra, q->fd, q->off);
}

static int req_fail(struct ctor *b, const struct mapreq *q, const char *call)
{
	return mmapkit__fail_sys(errno, b->call, call, "%s%s%zu bytes at offset %llu (%s)",
				 q->name ? q->name : "", q->name ? ": " : "", q->len,
				 (unsigned long long)q->off, q->what);
}

/*
 * opts.addr: exactly there, never replacing anything.  Kernels before 4.17
 * take MAP_FIXED_NOREPLACE as a hint and may map elsewhere: that answer is
 * undone and means the place was taken.
 */
static int place_at(struct ctor *b, const struct mapreq *q, unsigned char **out)
{
	unsigned char *want = (unsigned char *)b->o.addr - q->front;
	bool noreplace = mmapkit__kernel_has(MMAPKIT__F_FIXED_NOREPLACE);
	unsigned char *p = mmap_req(q, want, noreplace ? MAP_FIXED_NOREPLACE : 0);

	if (p == MAP_FAILED && errno == EEXIST)
		return mmapkit__fail(EEXIST, "%s: addr %p: something is mapped in [%p, %p) already (%s)",
				     b->call, b->o.addr, (void *)want, (void *)(want + q->len),
				     q->what);
	if (p == MAP_FAILED)
		return req_fail(b, q, "mmap");
	if (p != want) {
		mmapkit__sys.munmap(p, q->len);
		return mmapkit__fail(EEXIST, "%s: addr %p: something is mapped in [%p, %p) already (%s; the kernel mapped elsewhere)",
				     b->call, b->o.addr, (void *)want, (void *)(want + q->len),
				     q->what);
	}
	*out = p;
	return 0;
}

/*
 * opts.align: reserve the span plus align - page of inaccessible, unbacked
 * address space, map the span at the aligned place inside it, and give the
 * rest back, so that nothing but the span stays mapped.  A span that is
 * itself such a reservation (the guard path) is just trimmed.
 */
static int place_aligned(struct ctor *b, const struct mapreq *q, size_t align,
			 unsigned char **out)
{
	bool reservation = q->prot == PROT_NONE && q->flags == RESERVE_FLAGS;
	size_t rlen = q->len + align - mmapkit__page(), head, tail;
	unsigned char *r, *a;

	if (rlen < q->len)
		return mmapkit__fail(ENOMEM, "%s: %s (%zu bytes) aligned to %zu overflows the address space",
				     b->call, q->what, q->len, align);
	r = mmapkit__sys.mmap(NULL, rlen, PROT_NONE, RESERVE_FLAGS, -1, 0);
	if (r == MAP_FAILED)
		return mmapkit__fail_sys(errno, b->call, "mmap",
					 "reserving %zu bytes to align %s (%zu bytes) to %zu", rlen,
					 q->what, q->len, align);
	a = (unsigned char *)(((uintptr_t)r + q->front + align - 1) / align * align - q->front);
	head = (size_t)(a - r);
	tail = rlen - head - q->len;
	if (!reservation && mmap_req(q, a, MAP_FIXED) == MAP_FAILED) {
		int err = req_fail(b, q, "mmap");

		mmapkit__sys.munmap(r, rlen);
		return err;
	}
	/* Trimming splits the reservation: it can fail (ENOMEM) at the VMA limit. */
	if ((head && mmapkit__sys.munmap(r, head) < 0) ||
	    (tail && mmapkit__sys.munmap(a + q->len, tail) < 0)) {
		int err = mmapkit__fail_sys(errno, b->call, "munmap",
					    "trimming the reservation that aligns %s to %zu", q->what,
					    align);

		mmapkit__sys.munmap(r, rlen); /* whatever is left of it */
		return err;
	}
	*out = a;
	return 0;
}

/* Map the span where opts asks: at addr, at an aligned address, or where the kernel likes. */
static int place(struct ctor *b, const struct mapreq *q, unsigned char **out)
{
	unsigned char *p;

	if (b->o.addr)
		return place_at(b, q, out);
	/* Huge pages come aligned to their size already. */
	if (b->o.align > b->m->gran)
		return place_aligned(b, q, b->o.align, out);
	p = mmap_req(q, NULL, 0);
	if (p == MAP_FAILED)
		return req_fail(b, q, "mmap");
	*out = p;
	return 0;
}

static void unmap_pages(mmapkit_map *m)
{
	/* base is NULL until something is mapped (e.g. the GUARD reservation failed) */
	if (m->base && (m->map_len || m->guard))
		mmapkit__sys.munmap(m->base - m->guard,
				    m->map_len + 2 * m->guard + m->guard_extra);
	m->map_len = 0;
	m->guard = 0;
	m->guard_extra = 0;
}

/*
 * Light guards (MADV_GUARD_INSTALL, 6.13): the span is one mapping of the
 * backing, and its first and last page become guards inside it, so the
 * handle costs one VMA.  Anonymous private memory from 6.13; shared, file and
 * read-only mappings from 6.15.  A file's front guard maps the file page
 * before the range, so a range in the file's first page keeps the old way.
 * The markers live in the page tables, which fork() does not copy for a
 * WIPEONFORK mapping: there the child would lose its guards, so
 * GUARD | WIPEONFORK keeps guard mappings of their own.  MMAPKIT_SECURE
 * takes the light guards all the same, for its one VMA (see mmapkit(7)).
 */
static bool light_guards(const struct ctor *b, uint64_t map_off)
{
	const mmapkit_map *m = b->m;

	if (!(m->flags & MMAPKIT_GUARD) || (m->flags & (MMAPKIT_HUGETLB | MMAPKIT_SECRET)) ||
	    ((m->flags & MMAPKIT_WIPEONFORK) && !(m->flags & MMAPKIT_SECURE)) ||
	    !mmapkit__kernel_has(MMAPKIT__F_GUARD_INSTALL))
		return false;
	if (m->kind == MMAPKIT_ANON_PRIVATE && !(m->flags & MMAPKIT_RDONLY))
		return true;
	if (is_file(m->kind) && (!b->regular || map_off < m->gran))
		return false;
	return mmapkit__kernel_has(MMAPKIT__F_GUARD_FILE);
}

static int install_guard(struct ctor *b, unsigned char *at, const char *which)
{
	if (mmapkit__sys.madvise(at, b->m->gran, MADV_GUARD_INSTALL) == 0)
		return 0;
	return mmapkit__fail_sys(errno, b->call, "madvise", "MADV_GUARD_INSTALL on the %s guard page",
				 which);
}

static int map_light(struct ctor *b, struct mapreq *q)
{
	mmapkit_map *m = b->m;
	unsigned char *p;
	int err;

	/* Populating comes after the guards (which would discard it), over the data only. */
	q->flags &= ~MAP_POPULATE;
	q->what = "the pages with a light guard page on each side";
	q->len += 2 * m->gran;
	q->front = m->gran;
	if (is_file(m->kind))
		q->off -= (off_t)m->gran;
	err = place(b, q, &p);
	if (err)
		return err;
	m->base = p + m->gran;
	m->guard = m->gran;
	m->guard_light = m->back_light = true;
	err = install_guard(b, p, "front");
	return err ? err : install_guard(b, m->base + m->map_len, "back");
}

/* Guard pages of their own: an inaccessible reservation, the pages mapped over its middle. */
static int map_reserved(struct ctor *b, const struct mapreq *q)
{
	mmapkit_map *m = b->m;
	struct mapreq r = {
		.len = m->map_len + 2 * m->gran, .front = m->gran, .prot = PROT_NONE,
		.flags = mmapkit__guard_flags(m), .fd = -1,
		.what = "reserving the pages with a guard page on each side",
	};
	unsigned char *p;
	int err = place(b, &r, &p);

	if (err)
		return err;
	m->base = p + m->gran;
	m->guard = m->gran;
	if (mmap_req(q, m->base, MAP_FIXED) == MAP_FAILED)
		return req_fail(b, q, "mmap");
	return 0;
}

/*
 * MMAPKIT_SECRET: a memfd_secret(2) file of the mapping's size, mapped shared
 * (the only way it maps) between guard pages of their own (secret memory is
 * locked, and a locked mapping takes no light guards).  The kernel populates
 * none of it (MAP_POPULATE and MADV_POPULATE_* go through get_user_pages,
 * which refuses secret memory): a write to each page faults it in now, as
 * MMAPKIT_LOCK promises.  The mapping keeps the file: the descriptor is
 * closed at once.
 */
static int map_secret(struct ctor *b, struct mapreq *q)
{
	mmapkit_map *m = b->m;
	int fd, err;

	if (!mmapkit__kernel_has(MMAPKIT__F_MEMFD_SECRET))
		return mmapkit__fail(EOPNOTSUPP, "%s: MMAPKIT_SECRET: the kernel lacks or disables memfd_secret(2) (Linux 5.14 with secretmem.enable=1)",
				     b->call);
	fd = mmapkit__sys.memfd_secret(O_CLOEXEC);
	if (fd < 0)
		return mmapkit__fail_sys(errno == ENOSYS ? EOPNOTSUPP : errno, b->call,
					 "memfd_secret", "MMAPKIT_SECRET");
	m->fd = fd; /* until the mapping holds the file: ctor_undo closes it */
	if (mmapkit__sys.ftruncate(fd, (off_t)m->map_len) < 0)
		return mmapkit__fail_sys(errno, b->call, "ftruncate",
					 "sizing secret memory to %zu bytes", m->map_len);
	q->flags = MAP_SHARED;
	q->fd = fd;
	q->off = 0;
	err = map_reserved(b, q);
	if (err)
		return err;
	for (size_t i = 0; i < m->map_len; i += m->gran)
		((volatile unsigned char *)m->base)[i] = 0;
	/* Linux releases the descriptor whatever close() answers; the mapping holds the file. */
	m->fd = -1;
	mmapkit__sys.close(fd);
	return 0;
}

static int map_pages(struct ctor *b)
{
	mmapkit_map *m = b->m;
	uint64_t map_off = b->o.offset - m->delta;
	struct mapreq q = {.len = m->map_len, .prot = mmapkit__map_prot(m->flags),
			   .flags = mmapkit__map_flags(m), .fd = m->fd, .off = (off_t)map_off,
			   .name = is_file(m->kind) ? b->name : NULL, .what = "the pages"};
	int err;

	if (m->ring)
		return mmapkit__ring_pages(m, b->call, mmapkit__map_prot(m->flags),
					   q.flags & ~(MAP_ANONYMOUS | MAP_PRIVATE));
	if (m->flags & MMAPKIT_SECRET)
		err = map_secret(b, &q);
	else if (light_guards(b, map_off))
		err = map_light(b, &q);
	else if (m->flags & MMAPKIT_GUARD)
		err = map_reserved(b, &q);
	else
		err = place(b, &q, &m->base);
	/* A pseudo-file with a size (/sys) or a device whose driver cannot map. */
	if (err == -ENODEV && is_file(m->kind))
		err = mmapkit__fail_hint(err, "the file cannot be mapped: read it with read(2) instead");
	return err;
}

static int advise_range(const char *call, unsigned char *at, size_t len, int advice,
			const char *what)
{
	if (mmapkit__sys.madvise(at, len, advice) == 0)
		return 0;
	return mmapkit__fail_sys(errno, call, "madvise", "%s over %zu bytes", what, len);
}

/* The advice the flags ask for, on [at, at + len): each costs exactly one call. */
static int apply_advice(mmapkit_map *m, const char *call, unsigned char *at, size_t len)
{
	int err = 0;

	if (m->flags & MMAPKIT_THP)
		err = advise_range(call, at, len, MADV_HUGEPAGE, "MMAPKIT_THP");
	if (!err && (m->flags & MMAPKIT_DONTFORK)) {
		mmapkit__fork_own(m); /* children must know these pages are not theirs */
		err = advise_range(call, at, len, MADV_DONTFORK, "MMAPKIT_DONTFORK");
	}
	if (!err && (m->flags & MMAPKIT_WIPEONFORK))
		err = advise_range(call, at, len, MADV_WIPEONFORK, "MMAPKIT_WIPEONFORK");
	/* (secret memory is left out of core dumps by the kernel already) */
	if (!err && (m->flags & MMAPKIT_DONTDUMP) && !(m->flags & MMAPKIT_SECRET))
		err = advise_range(call, at, len, MADV_DONTDUMP, "MMAPKIT_DONTDUMP");
	return err;
}

/*
 * The attributes the flags ask for, on [at, at + len) (the whole mapping at
 * construction, the pages a resize adds later): each costs exactly one call.
 */
int mmapkit__apply_flags(mmapkit_map *m, const char *call, unsigned char *at, size_t len)
{
	int err = apply_advice(m, call, at, len);

	/* Last, so that the pages it faults in already follow the advice (THP). */
	if (!err && (m->flags & MMAPKIT_LOCK) && mmapkit__sys.mlock(at, len) < 0)
		err = mmapkit__fail_sys(errno, call, "mlock", "locking %zu bytes (see RLIMIT_MEMLOCK)",
					len);
	return err;
}

/*
 * The data pages between light guards, faulted in as MAP_POPULATE and mlock
 * would: written where the mapping is private and writable (copy-on-write
 * breaks now), read otherwise.
 */
static int populate_light(struct ctor *b, const char *what)
{
	mmapkit_map *m = b->m;
	bool wr = !is_shared(m->kind) && !(m->flags & MMAPKIT_RDONLY);

	if (mmapkit__sys.madvise(m->base, m->map_len, wr ? MADV_POPULATE_WRITE : MADV_POPULATE_READ) == 0)
		return 0;
	return mmapkit__fail_sys(errno, b->call, "madvise", "%s (%zu bytes)", what, m->map_len);
}

/*
 * Light guards and locking (measured on 6.18): guards cannot be installed in
 * a locked VMA, mlock over guards fails, and mlock of the data pages alone
 * splits the VMA in three.  So: guards first, then mlock2(MLOCK_ONFAULT) over
 * the whole VMA (one VMA, guards intact), then populate the data pages, which
 * locks them now.
 */
static int lock_light(struct ctor *b)
{
	mmapkit_map *m = b->m;

	if (mmapkit__sys.mlock2(m->base - m->guard, m->map_len + 2 * m->guard, MLOCK_ONFAULT) == 0) {
		b->locked_onfault = true;
		return populate_light(b, "populating the locked pages");
	}
	if (errno != ENOSYS)
		return mmapkit__fail_sys(errno, b->call, "mlock2",
					 "locking %zu bytes (see RLIMIT_MEMLOCK)", m->map_len);
	/* No mlock2 (valgrind; kernels before 4.4): the data pages alone, three VMAs. */
	if (mmapkit__sys.mlock(m->base, m->map_len) == 0)
		return 0;
	return mmapkit__fail_sys(errno, b->call, "mlock", "locking %zu bytes (see RLIMIT_MEMLOCK)",
				 m->map_len);
}

/*
 * The constructor's attributes.  Light guards share the pages' VMA: the
 * advice covers them too (or it would split it), and locking goes as
 * lock_light says.  Secret memory is locked by the kernel.
 */
static int apply_flags(struct ctor *b)
{
	mmapkit_map *m = b->m;
	size_t g = m->guard_light ? m->guard : 0;
	int err;

	if (!g && !(m->flags & MMAPKIT_SECRET))
		err = mmapkit__apply_flags(m, b->call, m->base, m->map_len);
	else
		err = apply_advice(m, b->call, m->base - g, m->map_len + 2 * g);
	m->guard_pid = m->pid; /* light guards made DONTFORK belong to this process */
	if (err || !g)
		return err;
	if (m->flags & MMAPKIT_LOCK)
		return lock_light(b);
	if (m->flags & MMAPKIT_POPULATE) /* which the span's mmap left out */
		return populate_light(b, "MMAPKIT_POPULATE");
	return 0;
}

uint32_t mmapkit__initial_attr(unsigned flags)
{
	return mmapkit__prot_attr(mmapkit__map_prot(flags)) |
	       (flags & MMAPKIT_LOCK ? MMAPKIT__A_LOCKED : 0) |
	       (flags & MMAPKIT_THP ? MMAPKIT__A_HUGEPAGE : 0) |
	       (flags & MMAPKIT_DONTFORK ? MMAPKIT__A_DONTFORK : 0) |
	       (flags & MMAPKIT_WIPEONFORK ? MMAPKIT__A_WIPEONFORK : 0) |
	       (flags & MMAPKIT_DONTDUMP ? MMAPKIT__A_DONTDUMP : 0);
}

/* Undo whatever the failed build did, keeping errno-independent state. */
static void ctor_undo(struct ctor *b)
{
	mmapkit_map *m = b->m;

	unmap_pages(m);
	if (b->created)
		mmapkit__sys.unlink(b->o.path);
	else if (b->grown)
		mmapkit__sys.ftruncate(m->fd, b->old_size);
	if (m->fd >= 0 && !b->adopt) /* an adopted descriptor stays the caller's */
		mmapkit__sys.close(m->fd);
	free(m->created_path);
	free(m);
}

static int layout(struct ctor *b)
{
	mmapkit_map *m = b->m;
	size_t page = mmapkit__page();

	m->gran = page;
	if (m->flags & MMAPKIT_HUGETLB) {
		m->gran = huge_page();
		if (!m->gran)
			return mmapkit__fail(ENOMEM, "%s: the system has no huge page size", b->call);
		if ((uintptr_t)b->o.addr % m->gran)
			return mmapkit__fail(EINVAL, "%s: addr %p is not a multiple of the huge page size (%zu)",
					     b->call, b->o.addr, m->gran);
	}

	m->len = b->o.len;
	m->offset = is_file(m->kind) ? b->o.offset : 0;
	m->delta = (size_t)(b->o.offset % page);
	if (m->len == 0)
		return 0;
	if (m->delta + m->len > PTRDIFF_MAX - m->gran)
		return mmapkit__fail(EOVERFLOW, "%s: len %zu is too large to map", b->call, m->len);
	m->map_len = (m->delta + m->len + m->gran - 1) / m->gran * m->gran;
	if (m->ring) /* len is a multiple of the page size, at most PTRDIFF_MAX / 2 */
		m->map_len *= 2;
	return 0;
}

static int ctor_build(struct ctor *b)
{
	mmapkit_map *m = b->m;
	int err = 0;

	if (b->adopt) {
		m->fd = b->adopt->fd;
		m->ring = b->adopt->ring;
		b->file_size = b->adopt->size;
		b->sized = b->regular = b->adopt->sized;
	}
	if (is_file(m->kind)) {
		err = b->adopt ? 0 : b->o.path ? open_path(b) : dup_fd(b);
		if (!err && !b->sized)
			err = stat_fd(b);
		if (!err)
			err = refuse_pseudo_file(b);
		if (!err)
			err = fit_range(b);
		/* after the checks, so that a refused range costs no fcntl */
		if (!err && b->opened && !b->created)
			err = clear_nonblock(b, needs_write_fd(&b->o) ? O_RDWR : O_RDONLY);
		if (!err)
			err = allocate_range(b);
	}
	if (!err)
		err = layout(b);
	if (err || m->len == 0)
		return err;
	err = map_pages(b);
	if (!err)
		err = apply_flags(b);
	return err;
}

static int ctor_run(mmapkit_map **out, const struct mmapkit_opts *opts, const char *call,
		    const struct mmapkit__adopt *adopt)
{
	struct ctor b = {.call = call, .o = *opts, .adopt = adopt};
	mmapkit_map *m;
	int err;

	*out = NULL;
	err = check_args(&b);
	if (err)
		return err;
	b.name = b.o.path ? b.o.path : "";
	/* Only the fd kinds name their descriptor: no snprintf on the anonymous fast path. */
	if (!b.o.path && is_file(b.o.kind)) {
		snprintf(b.fdname, sizeof(b.fdname), "fd %d", b.o.fd);
		b.name = b.fdname;
	}
	m = calloc(1, sizeof(*m));
	if (m && (b.o.flags & MMAPKIT_CREATE) && !(m->created_path = strdup(b.o.path))) {
		free(m);
		m = NULL;
	}
	if (!m)
		return mmapkit__fail(ENOMEM, "%s: out of memory for the handle", call);
	m->kind = b.o.kind;
	if (b.o.flags & MMAPKIT_SECRET)
		b.o.flags |= SECRET_IMPLIES;
	else if (b.o.flags & MMAPKIT_SECURE)
		b.o.flags |= SECURE_IMPLIES;
	m->flags = b.o.flags;
	m->fd = -1;
	b.m = m;
	err = ctor_build(&b);
	if (err) {
		ctor_undo(&b);
		return err;
	}
	if (!b.created) {
		free(m->created_path);
		m->created_path = NULL;
	}
	/* between light guards pages are locked on fault (lock_light): re-locks keep one VMA */
	mmapkit__runs_init(m, mmapkit__initial_attr(m->flags) |
				      (b.locked_onfault ? MMAPKIT__A_ONFAULT : 0));
	*out = m;
	return 0;
}

int mmapkit__ctor(mmapkit_map **out, const struct mmapkit_opts *o, const char *call,
		  const struct mmapkit__adopt *a)
{
	return ctor_run(out, o, call, a);
}

/* struct mmapkit_opts as 0.1 released it: the smallest sz ever accepted. */
#define OPTS_SIZE_0_1 (offsetof(struct mmapkit_opts, len) + sizeof(size_t))

/*
 * Copy the caller's struct: any sz from 0.1's size up.  Fields past sz read as
 * zero (an older caller); bytes past the fields this library knows must be
 * zero (a newer caller asking for something this library cannot do).
 */
static int opts_copy(const char *call, const struct mmapkit_opts *opts,
		     struct mmapkit_opts *o)
{
	size_t known = sizeof(*o);

	if (opts->sz < OPTS_SIZE_0_1)
		return mmapkit__fail(EINVAL, "%s: opts->sz %zu is smaller than any struct mmapkit_opts (%zu)",
				     call, opts->sz, (size_t)OPTS_SIZE_0_1);
	for (size_t i = known; i < opts->sz; i++) {
		if (((const unsigned char *)opts)[i])
			return mmapkit__fail(E2BIG, "%s: opts has non-zero bytes past the %zu this library knows",
					     call, known);
	}
	memset(o, 0, sizeof(*o));
	memcpy(o, opts, opts->sz < known ? opts->sz : known);
	return 0;
}

int mmapkit_map_new(mmapkit_map **out, const struct mmapkit_opts *opts)
{
	const char *call = "mmapkit_map_new";
	struct mmapkit_opts o;
	int err;

	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	*out = NULL;
	if (!opts)
		return mmapkit__fail(EINVAL, "%s: opts is NULL", call);
	err = opts_copy(call, opts, &o);
	if (err)
		return err;
	if (o.mode & ~07777u)
		return mmapkit__fail(EINVAL, "%s: mode 0%o has bits beyond 07777", call, o.mode);
	if (o.mode && !(o.flags & MMAPKIT_CREATE))
		return mmapkit__fail(EINVAL, "%s: mode applies only with MMAPKIT_CREATE", call);
	/* A zeroed struct must not map stdin by accident: fd 0 is asked for by name only. */
	if (is_file(o.kind) && !o.path && o.fd == 0)
		return mmapkit__fail(EINVAL, "%s: no path and no descriptor (fd 0 is never taken from opts; map descriptor 0 with mmapkit_fd_private or mmapkit_fd_shared)",
				     call);
	return ctor_run(out, &o, call, NULL);
}

static int anon(mmapkit_map **out, int kind, size_t len, unsigned flags, const char *call)
{
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = kind, .flags = flags, .len = len};

	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	return ctor_run(out, &o, call, NULL);
}

int mmapkit_anon_private(mmapkit_map **out, size_t len, unsigned flags)
{
	return anon(out, MMAPKIT_ANON_PRIVATE, len, flags, __func__);
}

int mmapkit_anon_shared(mmapkit_map **out, size_t len, unsigned flags)
{
	return anon(out, MMAPKIT_ANON_SHARED, len, flags, __func__);
}

static int path_ctor(mmapkit_map **out, int kind, const char *path, int fd, uint64_t offset,
		size_t len, unsigned flags, const char *call)
{
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = kind, .flags = flags, .path = path,
				 .fd = fd, .offset = offset, .len = len};

	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	*out = NULL;
	if (fd == -1 && !path)
		return mmapkit__fail(EINVAL, "%s: path is NULL", call);
	return ctor_run(out, &o, call, NULL);
}

int mmapkit_file_private(mmapkit_map **out, const char *path, uint64_t offset, size_t len,
			 unsigned flags)
{
	return path_ctor(out, MMAPKIT_FILE_PRIVATE, path, -1, offset, len, flags, __func__);
}

int mmapkit_file_shared(mmapkit_map **out, const char *path, uint64_t offset, size_t len,
			unsigned flags)
{
	return path_ctor(out, MMAPKIT_FILE_SHARED, path, -1, offset, len, flags, __func__);
}

static int fd_kind(mmapkit_map **out, int kind, int fd, uint64_t offset, size_t len,
		   unsigned flags, const char *call)
{
	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	*out = NULL;
	if (fd < 0)
		return mmapkit__fail(EBADF, "%s: bad file descriptor %d", call, fd);
	return path_ctor(out, kind, NULL, fd, offset, len, flags, call);
}

int mmapkit_fd_private(mmapkit_map **out, int fd, uint64_t offset, size_t len, unsigned flags)
{
	return fd_kind(out, MMAPKIT_FILE_PRIVATE, fd, offset, len, flags, __func__);
}

int mmapkit_fd_shared(mmapkit_map **out, int fd, uint64_t offset, size_t len, unsigned flags)
{
	return fd_kind(out, MMAPKIT_FILE_SHARED, fd, offset, len, flags, __func__);
}

/*
 * MMAPKIT_SECURE: zero the pages before they go (explicit_bzero, which the
 * compiler cannot drop as a dead store), making them writable first where
 * mmapkit_protect took that away.  In a fork() child the pages kept from it
 * (DONTFORK: all of MMAPKIT_SECRET's) are not there; the rest is the child's
 * own copy and is wiped too.
 */
void mmapkit__wipe(mmapkit_map *m, size_t p0, size_t p1)
{
	uint32_t absent = mmapkit__fork_absent(m);

	for (size_t i = mmapkit__runs_find(m, p0); i < m->nruns && m->runs[i].page < p1; i++) {
		uint32_t at = m->runs[i].attr;
		size_t a = m->runs[i].page > p0 ? m->runs[i].page : p0;
		size_t z = mmapkit__runs_end(m, i) < p1 ? mmapkit__runs_end(m, i) : p1;
		unsigned char *addr = mmapkit__page_addr(m, a);
		size_t n = mmapkit__pages_len(m, a, z);

		if (at & absent)
			continue;
		/* cannot fail on pages the handle maps; if it did, munmap frees them as they are */
		if (!(at & MMAPKIT__A_WRITE) &&
		    mmapkit__sys.mprotect(addr, n, PROT_READ | PROT_WRITE) < 0)
			continue;
		explicit_bzero(addr, n);
	}
}

void mmapkit_unmap(mmapkit_map *m)
{
	if (!m)
		return;
	if ((m->flags & MMAPKIT_SECURE) && m->map_len)
		mmapkit__wipe(m, 0, m->map_len / m->gran);
	if (!mmapkit__fork_unmap(m)) /* a fork() child lacking pages unmaps only its own */
		unmap_pages(m);
	if (m->fd >= 0)
		mmapkit__sys.close(m->fd);
	mmapkit__runs_free(m);
	free(m->created_path);
	free(m->name);
	free(m);
}

void *mmapkit_ptr(const mmapkit_map *m)
{
	if (!m)
		return NULL;
	if (!m->len)
		return (void *)empty_range;
	return m->base + m->delta;
}

size_t mmapkit_len(const mmapkit_map *m)
{
	return m ? m->len : 0;
}

int mmapkit_kind(const mmapkit_map *m)
{
	return m ? m->kind : 0;
}

unsigned mmapkit_flags(const mmapkit_map *m)
{
	return m ? m->flags : 0;
}

uint64_t mmapkit_offset(const mmapkit_map *m)
{
	return m ? m->offset : 0;
}

int mmapkit_fd(const mmapkit_map *m)
{
	return m ? m->fd : -1;
}

void *mmapkit_at(const mmapkit_map *m, size_t off, size_t size, size_t align)
{
	const char *call = "mmapkit_at";
	unsigned char *p;
	size_t span;

	if (!m) {
		mmapkit__fail(EINVAL, "%s: handle is NULL", call);
		return NULL;
	}
	if (align & (align - 1)) {
		mmapkit__fail(EINVAL, "%s: align %zu is not a power of two", call, align);
		return NULL;
	}
	/* a ring's bytes [len, 2 * len) are its bytes [0, len) again */
	span = m->ring ? 2 * m->len : m->len;
	if (off > span || size > span - off) {
		mmapkit__fail(ERANGE, "%s: %zu bytes at offset %zu do not fit in the mapping (%zu bytes%s)",
			      call, size, off, span, m->ring ? ", a ring mapped twice" : "");
		return NULL;
	}
	p = (unsigned char *)mmapkit_ptr(m) + off;
	if (align > 1 && (uintptr_t)p % align) {
		mmapkit__fail(EINVAL, "%s: address of offset %zu is not aligned to %zu", call, off,
			      align);
		return NULL;
	}
	return p;
}

int mmapkit__file_size(const mmapkit_map *m, const char *call, uint64_t *size, bool *regular,
		       bool *sized)
{
	char name[32];
	mode_t mode;

	snprintf(name, sizeof(name), "fd %d", m->fd);
	return fd_size(m->fd, call, name, &mode, size, regular, sized);
}
