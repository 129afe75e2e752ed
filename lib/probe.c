/* SPDX-License-Identifier: MIT */
/*
 * What the running kernel offers.  Each feature is probed once, on first use,
 * by asking the kernel on memory or descriptors the library owns (never by
 * trusting uname alone), and the answer is stored once, atomically: racing
 * probes store the same answer.  docs/design.md lists how each is probed.
 *
 * The test build can pretend to be an older kernel, so that the suite runs the
 * fallback of every feature on a new kernel: mmapkit__kernel_pretend(6, 1), or
 * MMAPKIT_PRETEND_KERNEL=6.1 in the environment.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

/* 0: not probed yet; 1: absent; 2: present. */
static int known[MMAPKIT__F_COUNT];

struct feature {
	const char *name;
	unsigned major, minor; /* the first mainline kernel with it */
	bool (*probe)(void);
};

/*
 * Until a feature has a probe of its own it counts as absent: the library
 * then takes the path that works on every kernel.
 */
static const struct feature features[MMAPKIT__F_COUNT] = {
	[MMAPKIT__F_MREMAP_CHECKS_FIRST] = {"mremap checks before unmapping", 6, 12, NULL},
	[MMAPKIT__F_MREMAP_MULTI_VMA] = {"mremap of several VMAs", 6, 17, NULL},
	[MMAPKIT__F_GUARD_INSTALL] = {"MADV_GUARD_INSTALL", 6, 13, NULL},
	[MMAPKIT__F_MFD_NOEXEC_SEAL] = {"MFD_NOEXEC_SEAL", 6, 3, NULL},
	[MMAPKIT__F_CACHESTAT] = {"cachestat", 6, 5, NULL},
	[MMAPKIT__F_PROCMAP_QUERY] = {"PROCMAP_QUERY", 6, 11, NULL},
	[MMAPKIT__F_ANON_NAME] = {"PR_SET_VMA_ANON_NAME", 5, 17, NULL},
	[MMAPKIT__F_MEMFD_SECRET] = {"memfd_secret", 5, 14, NULL},
};

#ifdef MMAPKIT_TESTING
/* Pretence of the test build: features newer than this version read as absent. */
static unsigned pretend_major, pretend_minor;
static int forced[MMAPKIT__F_COUNT]; /* 0: not forced; 1: absent; 2: present */
static int pretend_read;

void mmapkit__kernel_pretend(unsigned major, unsigned minor)
{
	__atomic_store_n(&pretend_read, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&pretend_major, major, __ATOMIC_RELAXED);
	__atomic_store_n(&pretend_minor, minor, __ATOMIC_RELAXED);
}

void mmapkit__kernel_force(enum mmapkit__feature f, int has)
{
	__atomic_store_n(&forced[f], has < 0 ? 0 : has ? 2 : 1, __ATOMIC_RELAXED);
}

static void pretend_from_env(void)
{
	const char *v;
	unsigned major, minor;

	if (__atomic_exchange_n(&pretend_read, 1, __ATOMIC_RELAXED))
		return;
	v = getenv("MMAPKIT_PRETEND_KERNEL");
	if (v && sscanf(v, "%u.%u", &major, &minor) == 2)
		mmapkit__kernel_pretend(major, minor);
}

/* 0: no pretence applies; else 1 (absent) or 2 (present, as far as pretence goes). */
static int pretended(enum mmapkit__feature f)
{
	unsigned major, minor;
	int v = __atomic_load_n(&forced[f], __ATOMIC_RELAXED);

	if (v)
		return v;
	pretend_from_env();
	major = __atomic_load_n(&pretend_major, __ATOMIC_RELAXED);
	minor = __atomic_load_n(&pretend_minor, __ATOMIC_RELAXED);
	if (!major && !minor)
		return 0;
	if (features[f].major > major || (features[f].major == major && features[f].minor > minor))
		return 1;
	return 0;
}
#endif

bool mmapkit__kernel_has(enum mmapkit__feature f)
{
	int v;

#ifdef MMAPKIT_TESTING
	v = pretended(f);
	if (v == 1)
		return false;
	if (v == 2)
		return true;
#endif
	v = __atomic_load_n(&known[f], __ATOMIC_ACQUIRE);
	if (!v) {
		v = features[f].probe && features[f].probe() ? 2 : 1;
		__atomic_store_n(&known[f], v, __ATOMIC_RELEASE);
	}
	return v == 2;
}
