/* SPDX-License-Identifier: MIT */
/*
 * mmapkit.h - typed memory-mapping handles for Linux.
 *
 * One opaque handle, struct mmapkit_map, serves the four kinds of mapping
 * (private/shared x anonymous/file).  The handle knows its kind, access,
 * backing and byte range; every operation checks that it applies to the kind.
 *
 * Conventions (see mmapkit(7)):
 *  - Calls that can fail return int: 0 on success, a negative errno value on
 *    failure.  Constructors return the handle through an out-parameter that is
 *    set to NULL on failure.  A failed call changes nothing and leaks nothing
 *    (one documented exception: mmapkit_punch(3) of a locked shared anonymous
 *    range whose re-lock fails after the memory was released).
 *  - mmapkit_errmsg() describes the last failure of the calling thread.
 *  - Ranges are (off, len) in bytes relative to mmapkit_ptr(); len == 0 is an
 *    empty range (nothing is done, no system call is made) and MMAPKIT_TO_END
 *    means "from off to the end of the mapping".  The library rounds to pages
 *    itself and never touches a byte outside the named range.
 *  - Threads: distinct handles may be used from different threads at once.
 *    On one handle, the accessors and mmapkit_sync() may run concurrently
 *    with each other; a call that changes the handle (unmap, protect,
 *    punch, revert, lock, unlock, advise) must not run concurrently with any
 *    other call on it.
 *
 * The header is self-contained, compiles as C99 and C++ (MMAPKIT_AT needs C11
 * or C++11) and is FFI-safe: no inline functions, no struct passed by value,
 * no varargs, fixed-width offsets, and every constant has an explicit value
 * that never changes once released.
 */
#ifndef MMAPKIT_H
#define MMAPKIT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(MMAPKIT_NO_VISIBILITY)
#define MMAPKIT_API __attribute__((visibility("default")))
#else
#define MMAPKIT_API
#endif

#define MMAPKIT_VERSION_MAJOR 0
#define MMAPKIT_VERSION_MINOR 2
#define MMAPKIT_VERSION_PATCH 0
#define MMAPKIT_VERSION_STRING "0.2.0"

/** Opaque mapping handle.  Create with a constructor, release with mmapkit_unmap(). */
typedef struct mmapkit_map mmapkit_map;

/** The four kinds of mapping; mmapkit_kind() returns one of these. */
enum mmapkit_kind {
	MMAPKIT_ANON_PRIVATE = 1, /* zero-filled private memory */
	MMAPKIT_ANON_SHARED = 2,  /* zero-filled memory shared with fork() children */
	MMAPKIT_FILE_PRIVATE = 3, /* copy-on-write view of a file; writes never reach it */
	MMAPKIT_FILE_SHARED = 4,  /* memory-mapped I/O: writes reach the file and all sharers */
};

/*
 * Constructor flags.  Unknown bits, and bits that do not apply to the kind,
 * fail with -EINVAL.
 */
#define MMAPKIT_RDONLY 0x0001u     /* map read-only; the handle can never become writable */
#define MMAPKIT_CREATE 0x0002u     /* path kinds: create the file (mode 0600) if missing */
#define MMAPKIT_GROW 0x0004u       /* file kinds: extend the file with zeros to offset+len */
#define MMAPKIT_POPULATE 0x0008u   /* fault every page in now */
#define MMAPKIT_NORESERVE 0x0010u  /* reserve no swap; not with MMAPKIT_HUGETLB */
#define MMAPKIT_LOCK 0x0020u       /* lock the pages in RAM for the life of the mapping */
#define MMAPKIT_HUGETLB 0x0040u    /* anonymous kinds: explicit huge pages */
#define MMAPKIT_THP 0x0080u        /* ask for transparent huge pages (advisory) */
#define MMAPKIT_DONTFORK 0x0100u   /* fork() children do not inherit the mapping */
#define MMAPKIT_WIPEONFORK 0x0200u /* anonymous private: children see zeros */
#define MMAPKIT_DONTDUMP 0x0400u   /* left out of core dumps */
#define MMAPKIT_GUARD 0x0800u      /* an inaccessible guard page before and after */
#define MMAPKIT_ALLOCATE 0x1000u   /* file kinds: allocate the range's blocks now (fallocate) */
/*
 * Anonymous private memory for secrets: MMAPKIT_GUARD, MMAPKIT_LOCK (the call
 * fails when the memory cannot be locked), MMAPKIT_DONTDUMP and
 * MMAPKIT_WIPEONFORK, and zeroed (explicit_bzero) before it is unmapped.
 * mmapkit_flags() reports the flags it implies.
 */
#define MMAPKIT_SECURE 0x2000u
/*
 * MMAPKIT_SECURE over memfd_secret(2) memory, taken out of the kernel's direct
 * map; fork() children do not have it at all (MMAPKIT_DONTFORK instead of
 * MMAPKIT_WIPEONFORK).  -EOPNOTSUPP where the kernel lacks or disables it.
 */
#define MMAPKIT_SECRET 0x4000u

/** mmapkit_sync() modes; 0 writes back and waits. */
#define MMAPKIT_SYNC_ASYNC 0x1u      /* start the write-back now and return */
#define MMAPKIT_SYNC_INVALIDATE 0x2u /* also invalidate other mappings (MS_INVALIDATE) */
#define MMAPKIT_SYNC_FULL 0x4u       /* also fsync size, metadata and a created file's entry */

/** mmapkit_advise() advice values (mmapkit's own numbering, not the kernel's). */
#define MMAPKIT_ADV_NORMAL 0
#define MMAPKIT_ADV_RANDOM 1
#define MMAPKIT_ADV_SEQUENTIAL 2
#define MMAPKIT_ADV_WILLNEED 3
#define MMAPKIT_ADV_DONTNEED 4 /* destructive */
#define MMAPKIT_ADV_FREE 5     /* destructive; anonymous private only */
#define MMAPKIT_ADV_REMOVE 6   /* destructive; shared kinds only */
#define MMAPKIT_ADV_HUGEPAGE 7
#define MMAPKIT_ADV_NOHUGEPAGE 8
#define MMAPKIT_ADV_DONTDUMP 9
#define MMAPKIT_ADV_DODUMP 10
#define MMAPKIT_ADV_DONTFORK 11
#define MMAPKIT_ADV_DOFORK 12
#define MMAPKIT_ADV_WIPEONFORK 13 /* anonymous private only */
#define MMAPKIT_ADV_KEEPONFORK 14 /* anonymous private only */
#define MMAPKIT_ADV_COLD 15
#define MMAPKIT_ADV_PAGEOUT 16
#define MMAPKIT_ADV_POPULATE_READ 17
#define MMAPKIT_ADV_POPULATE_WRITE 18 /* not on an MMAPKIT_RDONLY handle */

/** mmapkit_protect() protection bits; WRITE together with EXEC is refused. */
#define MMAPKIT_PROT_NONE 0x0u
#define MMAPKIT_PROT_READ 0x1u
#define MMAPKIT_PROT_WRITE 0x2u
#define MMAPKIT_PROT_EXEC 0x4u

/** mmapkit_lock() modes; 0 locks and faults every page in now. */
#define MMAPKIT_LOCK_ONFAULT 0x1u /* lock pages as they are first touched */

/*
 * Extended constructor options, libbpf style: set sz to sizeof(struct
 * mmapkit_opts) and leave unused fields zero.  Fields are only ever appended,
 * and a zero field always means "as before".  Any sz from the size of the 0.1
 * struct (which ends at len) up is accepted: the library reads sz bytes and
 * takes fields past them as zero (a caller built against an older header); a
 * larger struct (a newer header) is accepted as long as every byte this
 * library does not know is zero, else -E2BIG; a smaller sz is -EINVAL.
 * Descriptor 0 is never taken from fd: a file kind with path NULL and fd 0 is
 * -EINVAL (a zeroed struct never maps stdin); map it with mmapkit_fd_private()
 * or mmapkit_fd_shared().
 */
struct mmapkit_opts {
	size_t sz;        /* sizeof(struct mmapkit_opts) */
	int kind;         /* an enum mmapkit_kind value */
	unsigned flags;   /* MMAPKIT_* constructor flags */
	const char *path; /* file kinds: the file to map; NULL to map fd instead */
	int fd;           /* file kinds with path == NULL: descriptor to duplicate (not 0) */
	uint32_t mode;    /* MMAPKIT_CREATE: mode of a new file; 0 means 0600 */
	uint64_t offset;  /* file kinds: first byte of the range */
	size_t len;       /* bytes; 0 means to end of file (file kinds) */
	/* 0.2: */
	void *addr;       /* nonzero: the first page of the mapping is here exactly,
			   * never replacing anything (-EEXIST); page-aligned (-EINVAL) */
	size_t align;     /* 0, or a power of two >= the page size: the address of
			   * mmapkit_ptr()'s page is a multiple of it (file kinds: so
			   * must the file offset of that page be, else -EINVAL) */
};

/* Constructors.  On failure *out is NULL and nothing is left behind. */

/** Zero-filled private memory of len bytes. */
MMAPKIT_API int mmapkit_anon_private(mmapkit_map **out, size_t len, unsigned flags);
/** Zero-filled memory shared with fork() children. */
MMAPKIT_API int mmapkit_anon_shared(mmapkit_map **out, size_t len, unsigned flags);
/** Copy-on-write view of path at [offset, offset+len); len 0 = to end of file. */
MMAPKIT_API int mmapkit_file_private(mmapkit_map **out, const char *path, uint64_t offset,
				     size_t len, unsigned flags);
/** Shared view of path: writes reach the file and every other mapping of it. */
MMAPKIT_API int mmapkit_file_shared(mmapkit_map **out, const char *path, uint64_t offset,
				    size_t len, unsigned flags);
/** As mmapkit_file_private() over a duplicate (close-on-exec) of fd. */
MMAPKIT_API int mmapkit_fd_private(mmapkit_map **out, int fd, uint64_t offset, size_t len,
				   unsigned flags);
/** As mmapkit_file_shared() over a duplicate (close-on-exec) of fd. */
MMAPKIT_API int mmapkit_fd_shared(mmapkit_map **out, int fd, uint64_t offset, size_t len,
				  unsigned flags);
/** Any kind, from an option struct (see struct mmapkit_opts). */
MMAPKIT_API int mmapkit_map_new(mmapkit_map **out, const struct mmapkit_opts *opts);
/** Release the mapping, its guard pages, its descriptor and the handle; NULL is a no-op. */
MMAPKIT_API void mmapkit_unmap(mmapkit_map *m);

/*
 * Accessors: safe to call concurrently on one handle.  NULL handle: NULL/0/-1.
 * mmapkit_ptr, _len, _kind, _flags, _offset, _fd, _page_size, _version and
 * mmapkit_strerror are async-signal-safe (mmapkit(7), Signals); no other call is.
 */

/** First byte of the range; not NULL, but not to be dereferenced, when the length is 0. */
MMAPKIT_API void *mmapkit_ptr(const mmapkit_map *m);
/** Bytes in the range. */
MMAPKIT_API size_t mmapkit_len(const mmapkit_map *m);
/** The enum mmapkit_kind value; 0 for NULL. */
MMAPKIT_API int mmapkit_kind(const mmapkit_map *m);
/** The constructor flags. */
MMAPKIT_API unsigned mmapkit_flags(const mmapkit_map *m);
/** File offset of mmapkit_ptr(); 0 for anonymous kinds. */
MMAPKIT_API uint64_t mmapkit_offset(const mmapkit_map *m);
/** The descriptor the handle owns (do not close it); -1 for anonymous kinds. */
MMAPKIT_API int mmapkit_fd(const mmapkit_map *m);
/**
 * Typed view: pointer to size bytes at off when they lie wholly inside the
 * range (overflow-safe) and the address is a multiple of align (0 means 1,
 * otherwise a power of two); NULL otherwise, with mmapkit_errmsg() saying why.
 */
MMAPKIT_API void *mmapkit_at(const mmapkit_map *m, size_t off, size_t size, size_t align);
/*
 * MMAPKIT_AT(m, T, off): mmapkit_at() for an object of type T, as a T *.  It needs
 * alignof (C++11) or _Alignof (C11); under C99 and C++98 it is not defined (call
 * mmapkit_at() with the alignment instead).
 */
#if defined(__cplusplus) && __cplusplus >= 201103L
#define MMAPKIT_AT(m, T, off) (static_cast<T *>(mmapkit_at((m), (off), sizeof(T), alignof(T))))
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define MMAPKIT_AT(m, T, off) ((T *)mmapkit_at((m), (off), sizeof(T), _Alignof(T)))
#endif
/** The system page size. */
MMAPKIT_API size_t mmapkit_page_size(void);
/** The library version, "0.1.0". */
MMAPKIT_API const char *mmapkit_version(void);

/*
 * Range operations: (off, len) relative to mmapkit_ptr().  len 0 is an empty
 * range (off must not exceed mmapkit_len(): -ERANGE; otherwise 0 and no system
 * call), so a length computed as 0 never punches, reverts or discards a whole
 * mapping; MMAPKIT_TO_END means from off to the end of the mapping (off must
 * not exceed mmapkit_len() either).  Constructors differ: their len 0 means
 * to the end of the file.
 */
#define MMAPKIT_TO_END ((size_t)-1)

/**
 * MMAPKIT_FILE_SHARED only: write dirty pages back (how: MMAPKIT_SYNC_*).
 * Safe to call concurrently on one handle.
 */
MMAPKIT_API int mmapkit_sync(mmapkit_map *m, size_t off, size_t len, unsigned how);
/** madvise() with an MMAPKIT_ADV_* value checked against the kind. */
MMAPKIT_API int mmapkit_advise(mmapkit_map *m, size_t off, size_t len, int advice);
/** Zero the range and release the memory (and file blocks) behind its whole pages. */
MMAPKIT_API int mmapkit_punch(mmapkit_map *m, size_t off, size_t len);
/** Private kinds: discard this process's changes; the range holds its backing again. */
MMAPKIT_API int mmapkit_revert(mmapkit_map *m, size_t off, size_t len);
/** Change protection (MMAPKIT_PROT_*) of the pages holding the range. */
MMAPKIT_API int mmapkit_protect(mmapkit_map *m, size_t off, size_t len, unsigned prot);
/** Lock the pages holding the range in RAM (how: 0 or MMAPKIT_LOCK_ONFAULT). */
MMAPKIT_API int mmapkit_lock(mmapkit_map *m, size_t off, size_t len, unsigned how);
/** Unlock the pages holding the range. */
MMAPKIT_API int mmapkit_unlock(mmapkit_map *m, size_t off, size_t len);

/*
 * Sharing between processes (0.2).  Handles made here are ordinary
 * MMAPKIT_FILE_SHARED handles (mmapkit_ring: MMAPKIT_ANON_SHARED); see
 * mmapkit(7), "Sharing between processes".
 */

/** Seals of a sealable file (memfd, named shm on tmpfs): mmapkit_seal(), mmapkit_seals(). */
#define MMAPKIT_SEAL_SHRINK 0x1u       /* the file can no longer shrink */
#define MMAPKIT_SEAL_GROW 0x2u         /* the file can no longer grow */
#define MMAPKIT_SEAL_WRITE 0x4u        /* nobody can write the file any more */
#define MMAPKIT_SEAL_FUTURE_WRITE 0x8u /* existing writable mappings stay; no new writers */
#define MMAPKIT_SEAL_SEAL 0x10u        /* no further seal can be added */

/**
 * A new memfd of len bytes (sealable, not executable, close-on-exec) mapped
 * shared; name (NULL: "mmapkit", at most 249 bytes) shows in /proc/PID/maps.
 */
MMAPKIT_API int mmapkit_memfd(mmapkit_map **out, const char *name, size_t len, unsigned flags);
/**
 * POSIX named shared memory: name is "/" and 1 to 255 bytes without "/".
 * Creates exclusively (-EEXIST), mode 0600, len bytes; a failure removes it.
 */
MMAPKIT_API int mmapkit_shm_create(mmapkit_map **out, const char *name, size_t len,
				   unsigned flags);
/** Maps [offset, offset+len) of an existing named shared memory object (len 0: to its end). */
MMAPKIT_API int mmapkit_shm_open(mmapkit_map **out, const char *name, uint64_t offset,
				 size_t len, unsigned flags);
/** Removes the name of a named shared memory object; mappings of it stay valid. */
MMAPKIT_API int mmapkit_shm_unlink(const char *name);
/**
 * Adds seals (MMAPKIT_SEAL_*) to the file of an MMAPKIT_FILE_SHARED handle;
 * never removes one.  MMAPKIT_SEAL_WRITE first remaps the handle read-only in
 * place (-EBUSY, handle unchanged, while another writable mapping exists).
 */
MMAPKIT_API int mmapkit_seal(mmapkit_map *m, unsigned seals);
/** The file's seals now (MMAPKIT_SEAL_*); 0 for NULL or a file without seals. */
MMAPKIT_API unsigned mmapkit_seals(const mmapkit_map *m);
/**
 * Sends the handle's descriptor, offset and length over a connected AF_UNIX
 * socket in one message of mmapkit's own format (MMAPKIT_FILE_SHARED and rings).
 */
MMAPKIT_API int mmapkit_send(const mmapkit_map *m, int sock);
/**
 * Receives a message of mmapkit_send() and maps it (a ring as a ring).  The
 * file's seals must include required_seals (-EPERM); the file must hold the
 * range (-ERANGE); anything not mmapkit's message is -EBADMSG.  Every
 * descriptor of a refused message is closed.  flags: constructor flags
 * (MMAPKIT_RDONLY, ...); a file sealed against writing is mapped read-only.
 */
MMAPKIT_API int mmapkit_receive(mmapkit_map **out, int sock, unsigned required_seals,
				unsigned flags);
/**
 * An MMAPKIT_ANON_SHARED ring of len bytes (a multiple of the page size)
 * mapped twice back to back: byte len + i is byte i.  mmapkit_at() accepts
 * spans up to 2 * len; punch and revert are -EINVAL; the other range
 * operations take the whole ring only and act on both copies.
 */
MMAPKIT_API int mmapkit_ring(mmapkit_map **out, size_t len, unsigned flags);

/*
 * Copies that survive the backing store (0.2).  Copy n bytes between the range
 * at off and buf; where the backing cannot supply a page (the file was
 * truncated by another process, an I/O error, no space to allocate the page)
 * the call returns -EFAULT instead of the process dying of SIGBUS, and
 * mmapkit_errmsg() says which page and why.  -ERANGE outside the mapping;
 * -EACCES for mmapkit_write on an MMAPKIT_RDONLY handle (or pages protected
 * against the access).  The first call installs a SIGBUS handler that passes
 * every other fault on to the handler installed before it (see mmapkit(7)).
 */
/** Copy n bytes at off in the range to buf. */
MMAPKIT_API int mmapkit_read(const mmapkit_map *m, size_t off, void *buf, size_t n);
/** Copy n bytes from buf to off in the range. */
MMAPKIT_API int mmapkit_write(mmapkit_map *m, size_t off, const void *buf, size_t n);

/* Errors. */

/** Thread-local text of the last failure in this thread, naming the call and cause. */
MMAPKIT_API const char *mmapkit_errmsg(void);
/** Static, thread-safe text for err or -err. */
MMAPKIT_API const char *mmapkit_strerror(int err);


/* ---- 0.2: resize, and looking at a mapping ---- */

/** mmapkit_resize() flags (MMAPKIT_GROW, the constructor flag, also applies). */
#define MMAPKIT_RESIZE_NOMOVE 0x1u /* fail with -ENOMEM rather than move the mapping */

/**
 * Grow or shrink the range to new_len bytes (every kind).  Growing may move
 * the mapping (pointers taken before are invalid) unless MMAPKIT_RESIZE_NOMOVE.
 * File kinds: the new range must fit in the file unless flags has
 * MMAPKIT_GROW, which extends it first; shrinking never changes the file.
 * New pages get the constructor flags; kept pages keep every attribute.
 */
MMAPKIT_API int mmapkit_resize(mmapkit_map *m, size_t new_len, unsigned flags);

/**
 * Bytes of the pages holding the range that are resident (*bytes), and, when
 * vec is not NULL, one byte per page (bit 0 set when resident).  File kinds:
 * the page cache's answer; -EPERM where the kernel hides it from the caller.
 */
MMAPKIT_API int mmapkit_resident(const mmapkit_map *m, size_t off, size_t len, uint64_t *bytes,
				 unsigned char *vec);

/** What a mapping costs (mmapkit_stats()); set sz, the rest is filled in. */
struct mmapkit_stats {
	size_t sz;                    /* sizeof(struct mmapkit_stats), set by the caller */
	uint64_t mapped;              /* bytes of the pages holding the range */
	uint64_t rss, pss;            /* resident in this process; proportional share */
	uint64_t shared_clean, shared_dirty, private_clean, private_dirty;
	uint64_t anonymous;           /* anonymous pages, including private copies of file pages */
	uint64_t swap, locked, huge;  /* swapped out; locked; mapped by huge pages */
	uint64_t cached, cache_dirty, cache_writeback; /* file kinds: the file range in the page cache */
};

/** The figures of exactly the handle's own mappings (guard pages excluded). */
MMAPKIT_API int mmapkit_stats(const mmapkit_map *m, struct mmapkit_stats *st);

/**
 * Anonymous kinds: show the range as [anon:NAME] / [anon_shmem:NAME] in
 * /proc/PID/maps, also for pages added later; NULL removes the name.
 * -EINVAL for rings, MMAPKIT_SECRET and MMAPKIT_HUGETLB memory;
 * -EOPNOTSUPP where the kernel cannot name mappings.
 */
MMAPKIT_API int mmapkit_name(mmapkit_map *m, const char *name);

#ifdef __cplusplus
}
#endif

#endif /* MMAPKIT_H */
