/* SPDX-License-Identifier: MIT */
/* Helpers shared by the Check suites: leak snapshots, temp files, page state, children. */
#ifndef MMAPKIT_TESTUTIL_H
#define MMAPKIT_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "mmapkit.h"

/* Open descriptors (/proc/self/fd) and mappings (/proc/self/maps lines but [heap]) now. */
int tu_count_fds(void);
int tu_count_maps(void);

/* A snapshot of both, to assert that a call leaked neither. */
struct tu_snap {
	int fds;
	int maps;
};
struct tu_snap tu_snap(void);
/*
 * Under AddressSanitizer the allocator adds mappings of its own at any time, so
 * the maps count is compared in the plain build (which runs every test in its own
 * process) and the heap is checked by LeakSanitizer in the sanitizer build.
 */
#if defined(__SANITIZE_ADDRESS__)
#define TU_MAPS_RELIABLE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_MAPS_RELIABLE 0
#endif
#endif
#ifndef TU_MAPS_RELIABLE
#define TU_MAPS_RELIABLE 1
#endif
#define TU_ASSERT_NO_LEAK(s)                                                                \
	do {                                                                                \
		ck_assert_int_eq(tu_count_fds(), (s).fds);                                  \
		if (TU_MAPS_RELIABLE)                                                       \
			ck_assert_int_eq(tu_count_maps(), (s).maps);                        \
	} while (0)

/* The byte the test pattern has at file offset i (never 0, so zeros stand out). */
unsigned char tu_pattern(uint64_t i);

/*
 * A fresh file of `size` pattern bytes in the per-process temp directory;
 * returns its path (one of 64 static slots; the directory is removed at exit).
 */
const char *tu_file(size_t size);
/* A path in the temp directory that does not exist yet. */
const char *tu_path(const char *name);
/* The temp directory itself. */
const char *tu_dir(void);
/* Read a whole file's size and bytes at [off, off+n). */
uint64_t tu_file_size(const char *path);
void tu_pread(const char *path, uint64_t off, void *buf, size_t n);

/* Resident pages of [addr, addr+len) according to mincore(). */
size_t tu_resident_pages(const void *addr, size_t len);

/*
 * The smaps entry of the mapping holding addr: VmFlags (two-letter codes,
 * space separated, copied into flags) and a numeric field in kB ("Rss", ...).
 */
bool tu_vmflags(const void *addr, char *flags, size_t cap);
bool tu_has_vmflag(const void *addr, const char *code);
long tu_smaps_kb(const void *addr, const char *field);

/*
 * Run fn(arg) in a forked child with a 10 s alarm; returns the wait status.
 * TU_EXITED(st, code) / TU_KILLED(st, sig) test it.
 */
int tu_child(void (*fn)(void *), void *arg);
#define TU_EXITED(st, code) (WIFEXITED(st) && WEXITSTATUS(st) == (code))
#define TU_KILLED(st, sig) (WIFSIGNALED(st) && WTERMSIG(st) == (sig))

/* Does touching *p (read or write) fault?  Tried in a child. */
bool tu_read_faults(const volatile unsigned char *p);
bool tu_write_faults(volatile unsigned char *p);

#endif
