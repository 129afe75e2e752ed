/* SPDX-License-Identifier: MIT */
/*
 * mmapkit_name: label an anonymous mapping in /proc/PID/maps
 * (prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME), CONFIG_ANON_VMA_NAME).  The
 * handle keeps the name and gives it to pages it adds later (resize); pages
 * kept, moved or replaced in place keep it with their VMA.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "internal.h"

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#endif
#ifndef PR_SET_VMA_ANON_NAME
#define PR_SET_VMA_ANON_NAME 0
#endif

/* The kernel's ANON_VMA_NAME_MAX_LEN (80) counts the terminating NUL. */
#define NAME_MAX_LEN 79

/* What the kernel accepts (mm/madvise.c): printable ASCII but \ ` $ [ ]. */
static const char *name_refused(const char *name)
{
	size_t n = strlen(name);

	if (n == 0)
		return "the name is empty (pass NULL to remove a name)";
	if (n > NAME_MAX_LEN)
		return "the name is longer than the kernel's 79 characters";
	for (const char *p = name; *p; p++)
		if (*p < 0x20 || *p > 0x7e || strchr("\\`$[]", *p))
			return "the kernel accepts printable ASCII characters but \\ ` $ [ ] only";
	return NULL;
}

int mmapkit__name_apply(const mmapkit_map *m, const char *call, unsigned char *at, size_t len)
{
	if (!m->name || !len ||
	    mmapkit__sys.prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)at, len,
			       (unsigned long)m->name) == 0)
		return 0;
	return mmapkit__fail_sys(errno, call, "prctl", "naming %zu bytes \"%s\"", len, m->name);
}

void mmapkit__name_clear(const mmapkit_map *m, unsigned char *at, size_t len)
{
	if (m->name)
		mmapkit__sys.prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)at, len, 0);
}

int mmapkit_name(mmapkit_map *m, const char *name)
{
	const char *call = __func__;
	const char *why;
	char *copy = NULL;
	int err;

	if (!m)
		return mmapkit__null_handle(call);
	if (mmapkit__is_file(m))
		return mmapkit__wrong_kind(m, call, "a file mapping shows its file's name");
	if (m->ring)
		return mmapkit__fail(EINVAL, "%s: a ring (mmapkit_ring) is memfd memory, which shows the memfd's name",
				     call);
	/* the kernel names anonymous memory only: these are files of its own (-EBADF) */
	if (m->flags & (MMAPKIT_SECRET | MMAPKIT_HUGETLB))
		return mmapkit__fail(EINVAL, "%s: %s memory is a file of the kernel's own (%s), which the kernel does not name",
				     call, m->flags & MMAPKIT_SECRET ? "MMAPKIT_SECRET" : "MMAPKIT_HUGETLB",
				     m->flags & MMAPKIT_SECRET ? "memfd_secret" : "hugetlbfs");
	if (name && (why = name_refused(name)))
		return mmapkit__fail(EINVAL, "%s: \"%s\": %s", call, name, why);
	if ((err = mmapkit__fork_check(m, call, 0, m->map_len / m->gran)))
		return err;
	if (!mmapkit__kernel_has(MMAPKIT__F_ANON_NAME))
		return mmapkit__fail(EOPNOTSUPP, "%s: the running kernel cannot name mappings (built without CONFIG_ANON_VMA_NAME)",
				     call);
	if (name && !(copy = strdup(name)))
		return mmapkit__fail(ENOMEM, "%s: out of memory", call);
	if (mmapkit__sys.prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)m->base,
			       m->map_len, (unsigned long)name) < 0) {
		err = mmapkit__fail_sys(errno, call, "prctl", "naming %zu bytes \"%s\"",
					m->map_len, name ? name : "(none)");

		free(copy);
		return err;
	}
	free(m->name);
	m->name = copy;
	return 0;
}
