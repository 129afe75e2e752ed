/* SPDX-License-Identifier: MIT */
/*
 * The header under strict C99 (-std=c99 -pedantic-errors): every declaration
 * and constant compiles; MMAPKIT_AT, which needs _Alignof (C11), is not
 * defined at all rather than defined with an error waiting in it.
 */
#include <errno.h>
#include <mmapkit.h>

#ifdef MMAPKIT_AT
#error "MMAPKIT_AT is defined under C99, but it needs C11's _Alignof"
#endif

static const unsigned flags[] = {
	MMAPKIT_RDONLY, MMAPKIT_CREATE, MMAPKIT_GROW, MMAPKIT_POPULATE, MMAPKIT_NORESERVE,
	MMAPKIT_LOCK, MMAPKIT_HUGETLB, MMAPKIT_THP, MMAPKIT_DONTFORK, MMAPKIT_WIPEONFORK,
	MMAPKIT_DONTDUMP, MMAPKIT_GUARD, MMAPKIT_SECURE, MMAPKIT_SECRET, MMAPKIT_SYNC_ASYNC, MMAPKIT_SYNC_INVALIDATE,
	MMAPKIT_SYNC_FULL, MMAPKIT_PROT_NONE, MMAPKIT_PROT_READ, MMAPKIT_PROT_WRITE,
	MMAPKIT_PROT_EXEC, MMAPKIT_LOCK_ONFAULT,
};

int main(void)
{
	struct mmapkit_opts o = {sizeof(o), MMAPKIT_ANON_PRIVATE, 0, NULL, -1, 0, 0, 4096, NULL, 0};
	mmapkit_map *m = NULL;
	int err = mmapkit_map_new(&m, &o);
	unsigned all = 0;

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		all |= flags[i];
	if (err == 0) {
		err = mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_WILLNEED) ||
		      mmapkit_protect(m, 0, 0, MMAPKIT_PROT_READ) ||
		      mmapkit_at(m, 0, 8, 8) != mmapkit_ptr(m) || mmapkit_len(m) != 4096 ||
		      mmapkit_kind(m) != MMAPKIT_ANON_PRIVATE || mmapkit_flags(m) != 0 ||
		      mmapkit_offset(m) != 0 || mmapkit_fd(m) != -1 || all != 0x6fff ||
		      !mmapkit_version() || !mmapkit_strerror(MMAPKIT_ADV_DONTNEED) ||
		      !mmapkit_errmsg() || mmapkit_page_size() == 0;
		mmapkit_unmap(m);
	}
	/* the rest of the surface, each refusing a NULL handle or path */
	err |= mmapkit_anon_shared(NULL, 4096, 0) != -EINVAL ||
	       mmapkit_file_private(&m, NULL, 0, 0, 0) != -EINVAL ||
	       mmapkit_file_shared(&m, NULL, 0, 0, 0) != -EINVAL ||
	       mmapkit_fd_private(&m, -1, 0, 0, 0) != -EBADF ||
	       mmapkit_fd_shared(&m, -1, 0, 0, 0) != -EBADF ||
	       mmapkit_sync(NULL, 0, 0, 0) != -EINVAL || mmapkit_punch(NULL, 0, 0) != -EINVAL ||
	       mmapkit_revert(NULL, 0, 0) != -EINVAL || mmapkit_lock(NULL, 0, 0, 0) != -EINVAL ||
	       mmapkit_unlock(NULL, 0, 0) != -EINVAL;
	return err != 0;
}
