/* SPDX-License-Identifier: MIT */
/*
 * Shared files for sharing between processes: memfds, POSIX named shared
 * memory, and seals.  Every handle made here is an ordinary
 * MMAPKIT_FILE_SHARED handle over a descriptor the library opened itself,
 * taken over by the constructor run (no duplicate).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U
#endif

#define SEALS_KNOWN                                                                         \
	(MMAPKIT_SEAL_SHRINK | MMAPKIT_SEAL_GROW | MMAPKIT_SEAL_WRITE |                     \
	 MMAPKIT_SEAL_FUTURE_WRITE | MMAPKIT_SEAL_SEAL)

/* The flags a shared file handle made here may take: no file creation, no huge pages. */
#define SHARE_FLAGS                                                                         \
	(MMAPKIT_RDONLY | MMAPKIT_POPULATE | MMAPKIT_NORESERVE | MMAPKIT_LOCK | MMAPKIT_THP |  \
	 MMAPKIT_DONTFORK | MMAPKIT_DONTDUMP | MMAPKIT_GUARD)

/* mmapkit's seal bits and the kernel's F_SEAL_* bits. */
static const struct {
	unsigned mine;
	int kernel;
} seal_bits[] = {
	{MMAPKIT_SEAL_SHRINK, F_SEAL_SHRINK}, {MMAPKIT_SEAL_GROW, F_SEAL_GROW},
	{MMAPKIT_SEAL_WRITE, F_SEAL_WRITE},   {MMAPKIT_SEAL_FUTURE_WRITE, F_SEAL_FUTURE_WRITE},
	{MMAPKIT_SEAL_SEAL, F_SEAL_SEAL},
};

static int seals_to_kernel(unsigned seals)
{
	int k = 0;

	for (size_t i = 0; i < sizeof(seal_bits) / sizeof(seal_bits[0]); i++)
		if (seals & seal_bits[i].mine)
			k |= seal_bits[i].kernel;
	return k;
}

static unsigned seals_from_kernel(int k)
{
	unsigned seals = 0;

	for (size_t i = 0; i < sizeof(seal_bits) / sizeof(seal_bits[0]); i++)
		if (k & seal_bits[i].kernel)
			seals |= seal_bits[i].mine;
	return seals;
}

int mmapkit__share_flags(const char *call, unsigned flags)
{
	if (flags & ~SHARE_FLAGS)
		return mmapkit__fail(EINVAL, "%s: flags 0x%x do not apply (no file creation or growth, no huge pages)",
				     call, flags & ~SHARE_FLAGS);
	return 0;
}

int mmapkit__seals_get(const char *call, int fd, unsigned *seals)
{
	int k = mmapkit__sys.fcntl(fd, F_GET_SEALS, 0);

	*seals = 0;
	if (k >= 0) {
		*seals = seals_from_kernel(k);
		return 0;
	}
	if (errno == EINVAL)
		return mmapkit__fail(EINVAL, "%s: fd %d: the file cannot be sealed (not a memfd or a file on tmpfs or hugetlbfs)",
				     call, fd);
	return mmapkit__fail_sys(errno, call, "fcntl(F_GET_SEALS)", "fd %d", fd);
}

int mmapkit__memfd_new(const char *call, const char *name, size_t len)
{
	unsigned mfd = MFD_CLOEXEC | MFD_ALLOW_SEALING;
	int fd;

	/* Without MFD_NOEXEC_SEAL kernels from 6.3 log a warning for every memfd. */
	if (mmapkit__kernel_has(MMAPKIT__F_MFD_NOEXEC_SEAL))
		mfd |= MFD_NOEXEC_SEAL;
	fd = mmapkit__sys.memfd_create(name, mfd);
	if (fd < 0)
		return mmapkit__fail_sys(errno, call, "memfd_create", "%s", name);
	if (mmapkit__sys.ftruncate(fd, (off_t)len) < 0) {
		int err = errno;

		mmapkit__sys.close(fd);
		return mmapkit__fail_sys(err, call, "ftruncate", "%s: sizing the memfd to %zu bytes",
					 name, len);
	}
	return fd;
}

/* Checks common to the constructors that make a file of len bytes. */
static int new_file_args(mmapkit_map **out, const char *call, size_t len, unsigned flags)
{
	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	*out = NULL;
	if (len == 0)
		return mmapkit__fail(EINVAL, "%s: len is 0", call);
	if (len > PTRDIFF_MAX || len > INT64_MAX)
		return mmapkit__fail(EOVERFLOW, "%s: len %zu exceeds PTRDIFF_MAX", call, len);
	return mmapkit__share_flags(call, flags);
}

/* Map a descriptor of len bytes the caller just made; it stays the caller's on failure. */
static int adopt_new(mmapkit_map **out, const char *call, int fd, size_t len, unsigned flags)
{
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = MMAPKIT_FILE_SHARED, .flags = flags,
				 .len = len};
	struct mmapkit__adopt a = {.fd = fd, .sized = true, .size = len};

	return mmapkit__ctor(out, &o, call, &a);
}

int mmapkit_memfd(mmapkit_map **out, const char *name, size_t len, unsigned flags)
{
	const char *call = __func__;
	int fd, err = new_file_args(out, call, len, flags);

	if (err)
		return err;
	if (!name)
		name = "mmapkit";
	if (strlen(name) > 249) /* NAME_MAX less the "memfd:" prefix the kernel adds */
		return mmapkit__fail(EINVAL, "%s: name of %zu bytes is longer than 249", call,
				     strlen(name));
	fd = mmapkit__memfd_new(call, name, len);
	if (fd < 0)
		return fd;
	err = adopt_new(out, call, fd, len, flags);
	if (err)
		mmapkit__sys.close(fd);
	return err;
}

/* "/NAME" with 1 to 255 bytes and no other '/': the path under /dev/shm, as glibc uses. */
static int shm_path(const char *call, const char *name, char *path, size_t cap)
{
	size_t n;

	if (!name)
		return mmapkit__fail(EINVAL, "%s: name is NULL", call);
	n = strnlen(name, 257);
	if (name[0] != '/' || n < 2 || n > 256 || strchr(name + 1, '/'))
		return mmapkit__fail(EINVAL, "%s: name \"%.300s\" is not one '/' followed by 1 to 255 characters without '/'",
				     call, name);
	snprintf(path, cap, "/dev/shm%s", name);
	return 0;
}

#define SHM_PATH_MAX (sizeof("/dev/shm") + 256)

int mmapkit_shm_create(mmapkit_map **out, const char *name, size_t len, unsigned flags)
{
	const char *call = __func__;
	char path[SHM_PATH_MAX];
	int fd, err = new_file_args(out, call, len, flags);

	if (!err)
		err = shm_path(call, name, path, sizeof(path));
	if (err)
		return err;
	fd = mmapkit__sys.open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return mmapkit__fail_sys(errno, call, "open", "%s (exclusive create)", path);
	if (mmapkit__sys.ftruncate(fd, (off_t)len) < 0)
		err = mmapkit__fail_sys(errno, call, "ftruncate", "%s: sizing to %zu bytes", path, len);
	else
		err = adopt_new(out, call, fd, len, flags);
	if (err) { /* remove what this call made */
		mmapkit__sys.unlink(path);
		mmapkit__sys.close(fd);
	}
	return err;
}

int mmapkit_shm_open(mmapkit_map **out, const char *name, uint64_t offset, size_t len,
		     unsigned flags)
{
	const char *call = __func__;
	char path[SHM_PATH_MAX];
	struct mmapkit_opts o = {.sz = sizeof(o), .kind = MMAPKIT_FILE_SHARED, .flags = flags,
				 .path = path, .fd = -1, .offset = offset, .len = len};
	int err;

	if (!out)
		return mmapkit__fail(EINVAL, "%s: out is NULL", call);
	*out = NULL;
	err = mmapkit__share_flags(call, flags);
	if (!err)
		err = shm_path(call, name, path, sizeof(path));
	if (err)
		return err;
	return mmapkit__ctor(out, &o, call, NULL);
}

int mmapkit_shm_unlink(const char *name)
{
	const char *call = __func__;
	char path[SHM_PATH_MAX];
	int err = shm_path(call, name, path, sizeof(path));

	if (err)
		return err;
	if (mmapkit__sys.unlink(path) < 0)
		return mmapkit__fail_sys(errno, call, "unlink", "%s", path);
	return 0;
}

/*
 * The kernel refuses F_SEAL_WRITE while any writable shared mapping exists,
 * the handle's own included, even after mprotect(PROT_READ): remap the handle
 * read-only through a descriptor opened O_RDONLY (the mapping can then never
 * become writable), in place, keeping every attribute.
 */
static int remap_read_only(mmapkit_map *m, const char *call)
{
	char link[40];
	size_t done, again;
	int ro, err;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", m->fd);
	ro = mmapkit__sys.open(link, O_RDONLY | O_CLOEXEC, 0);
	if (ro < 0)
		return mmapkit__fail_sys(errno, call, "open", "%s (O_RDONLY, to remap the handle read-only)",
					 link);
	err = mmapkit__replace_shared(m, call, ro, MMAPKIT__A_WRITE, &done);
	mmapkit__sys.close(ro);
	/* a move stretch by stretch that stopped half-way: the first pages back as they were */
	if (err && done)
		mmapkit__replace_shared(m, call, m->fd, 0, &again);
	return err;
}

int mmapkit_seal(mmapkit_map *m, unsigned seals)
{
	const char *call = __func__;
	unsigned now = 0;
	bool remap;
	int err;

	if (!m)
		return mmapkit__null_handle(call);
	if (seals & ~SEALS_KNOWN)
		return mmapkit__fail(EINVAL, "%s: unknown seal bits 0x%x", call, seals & ~SEALS_KNOWN);
	if (m->kind != MMAPKIT_FILE_SHARED)
		return mmapkit__wrong_kind(m, call, "only a shared file can be sealed");
	if (!seals)
		return 0;
	remap = (seals & MMAPKIT_SEAL_WRITE) && m->map_len;
	if (remap) { /* learn first whether the remap can help at all */
		/* a fork() child lacking DONTFORK pages must not map over their addresses */
		err = mmapkit__fork_check(m, call, 0, m->map_len / m->gran);
		if (!err)
			err = mmapkit__seals_get(call, m->fd, &now);
		if (err)
			return err;
		if (now & MMAPKIT_SEAL_SEAL)
			return mmapkit__fail(EPERM, "%s: the file is sealed against further seals (MMAPKIT_SEAL_SEAL)",
					     call);
		remap = !(now & MMAPKIT_SEAL_WRITE);
	}
	if (remap) {
		err = remap_read_only(m, call);
		if (err)
			return err;
	}
	if (mmapkit__sys.fcntl(m->fd, F_ADD_SEALS, seals_to_kernel(seals)) < 0) {
		int e = errno;

		if (remap) { /* writable again, exactly as before (the runs were not changed) */
			size_t done;

			mmapkit__replace_shared(m, call, m->fd, 0, &done);
		}
		if (e == EBUSY)
			err = mmapkit__fail(EBUSY, "%s: MMAPKIT_SEAL_WRITE refused: another writable mapping of the file exists (another handle, a fork() child or another process)",
					    call);
		else if (e == EPERM)
			err = mmapkit__fail(EPERM, "%s: the file is sealed against further seals (MMAPKIT_SEAL_SEAL), or was made without sealing",
					    call);
		else if (e == EINVAL)
			err = mmapkit__fail(EINVAL, "%s: the file cannot be sealed (not a memfd or a file on tmpfs or hugetlbfs)",
					    call);
		else
			err = mmapkit__fail_sys(e, call, "fcntl(F_ADD_SEALS)", "seals 0x%x", seals);
		return err;
	}
	if (remap) {
		mmapkit__runs_set(m, 0, m->map_len / m->gran, MMAPKIT__A_WRITE, 0);
		m->flags |= MMAPKIT_RDONLY;
	}
	return 0;
}

unsigned mmapkit_seals(const mmapkit_map *m)
{
	unsigned seals;

	if (!m || m->fd < 0 || mmapkit__seals_get(__func__, m->fd, &seals))
		return 0;
	return seals;
}
