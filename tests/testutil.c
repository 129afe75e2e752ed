/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int tu_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own descriptor */
}

/*
 * Less the heap: in a test forked from the runner a growing heap cannot extend
 * the runner's heap VMA and becomes a second one.  The library never maps there.
 */
int tu_count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[4096];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		n += strchr(line, '\n') && !strstr(line, "[heap]");
	fclose(f);
	return n;
}

struct tu_snap tu_snap(void)
{
	struct tu_snap s = {tu_count_fds(), tu_count_maps()};

	return s;
}

unsigned char tu_pattern(uint64_t i)
{
	return (unsigned char)(((i * 131u) ^ (i >> 12)) % 251u + 1u);
}

static char dir[4096];
static unsigned serial;

static pid_t dir_owner;

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* At exit of the process that made it (Check's per-test child, or the runner). */
static void remove_dir(void)
{
	if (dir[0] && getpid() == dir_owner)
		nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tu_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	if (!dir[0] || getpid() != dir_owner || access(dir, F_OK) != 0) {
		snprintf(dir, sizeof(dir), "%s/mmapkit-test-%d-XXXXXX", tmp && *tmp ? tmp : "/tmp",
			 (int)getpid());
		ck_assert_ptr_nonnull(mkdtemp(dir));
		if (!dir_owner)
			atexit(remove_dir);
		dir_owner = getpid();
	}
	return dir;
}

const char *tu_path(const char *name)
{
	static char paths[64][4352];
	char *p = paths[serial++ % 64];

	snprintf(p, sizeof(paths[0]), "%s/%u-%s", tu_dir(), serial, name);
	unlink(p);
	return p;
}

const char *tu_file(size_t size)
{
	const char *path = tu_path("data");
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	unsigned char buf[65536];
	size_t done = 0;

	ck_assert_int_ge(fd, 0);
	while (done < size) {
		size_t n = size - done < sizeof(buf) ? size - done : sizeof(buf);

		for (size_t i = 0; i < n; i++)
			buf[i] = tu_pattern(done + i);
		ck_assert_int_eq(pwrite(fd, buf, n, (off_t)done), (ssize_t)n);
		done += n;
	}
	close(fd);
	return path;
}

uint64_t tu_file_size(const char *path)
{
	struct stat st;

	ck_assert_int_eq(stat(path, &st), 0);
	return (uint64_t)st.st_size;
}

void tu_pread(const char *path, uint64_t off, void *buf, size_t n)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, buf, n, (off_t)off), (ssize_t)n);
	close(fd);
}

size_t tu_resident_pages(const void *addr, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t a = (uintptr_t)addr & ~(page - 1);
	size_t n = ((uintptr_t)addr + len - a + page - 1) / page, r = 0;
	unsigned char *vec = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(vec);
	ck_assert_int_eq(mincore((void *)a, n * page, vec), 0);
	for (size_t i = 0; i < n; i++)
		r += vec[i] & 1;
	free(vec);
	return r;
}

/* Calls fn on each line of the smaps entry holding addr; false if none. */
static bool smaps_entry(const void *addr, void (*fn)(const char *line, void *ctx), void *ctx)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[1024];
	bool in = false, found = false;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char c;

		if (sscanf(line, "%lx-%lx %c", &lo, &hi, &c) == 3 && strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			found |= in;
			continue;
		}
		if (in)
			fn(line, ctx);
	}
	fclose(f);
	return found;
}

struct flags_ctx {
	char *out;
	size_t cap;
};

static void flags_line(const char *line, void *ctx)
{
	struct flags_ctx *c = ctx;

	if (strncmp(line, "VmFlags:", 8) == 0)
		snprintf(c->out, c->cap, "%s", line + 8);
}

bool tu_vmflags(const void *addr, char *flags, size_t cap)
{
	struct flags_ctx c = {flags, cap};

	flags[0] = '\0';
	return smaps_entry(addr, flags_line, &c);
}

bool tu_has_vmflag(const void *addr, const char *code)
{
	char flags[512], *tok, *save;

	if (!tu_vmflags(addr, flags, sizeof(flags)))
		return false;
	for (tok = strtok_r(flags, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save))
		if (strcmp(tok, code) == 0)
			return true;
	return false;
}

struct field_ctx {
	const char *field;
	long kb;
};

static void field_line(const char *line, void *ctx)
{
	struct field_ctx *c = ctx;
	size_t n = strlen(c->field);

	if (strncmp(line, c->field, n) == 0 && line[n] == ':')
		c->kb = strtol(line + n + 1, NULL, 10);
}

long tu_smaps_kb(const void *addr, const char *field)
{
	struct field_ctx c = {field, -1};

	smaps_entry(addr, field_line, &c);
	return c.kb;
}

int tu_child(void (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		signal(SIGALRM, SIG_DFL); /* not Check's handler, which kills the group */
		alarm(10);
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		fn(arg);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	return st;
}

static void do_read(void *p)
{
	volatile unsigned char c = *(volatile unsigned char *)p;

	(void)c;
}

static void do_write(void *p)
{
	*(volatile unsigned char *)p = 0x5a;
}

bool tu_read_faults(const volatile unsigned char *p)
{
	int st = tu_child(do_read, (void *)(uintptr_t)p);

	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}

bool tu_write_faults(volatile unsigned char *p)
{
	int st = tu_child(do_write, (void *)(uintptr_t)p);

	return WIFSIGNALED(st) && (WTERMSIG(st) == SIGSEGV || WTERMSIG(st) == SIGBUS);
}
