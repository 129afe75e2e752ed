/* SPDX-License-Identifier: MIT */
/*
 * The system-call counter.  The program under test (a forked function, or a
 * peer exec'd in the child) runs under ptrace(PTRACE_SYSCALL) and brackets
 * each operation with two marker system calls that do not exist (numbers far
 * above the kernel's table: they fail with ENOSYS and do nothing).  Every
 * system call a thread enters between its markers is counted: the kernel's
 * view, whatever library or interpreter made it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MARK_BEGIN 0x4d4b00L /* arg: "variant|operation" */
#define MARK_END 0x4d4b01L
#define MARK_ERR 0x4d4b02L /* arg: a message: the operation failed */

#define MAX_TIDS 16

void sc_begin(const char *variant_op)
{
	syscall(MARK_BEGIN, variant_op);
}

void sc_end(void)
{
	syscall(MARK_END);
}

void sc_error(const char *msg)
{
	syscall(MARK_ERR, msg);
}

/* The names of the calls these benchmarks can meet; others print as their number. */
static const char *const names[] = {
#ifdef SYS_open
	[SYS_open] = "open",
#endif
#ifdef SYS_stat
	[SYS_stat] = "stat",
#endif
#ifdef SYS_fstat
	[SYS_fstat] = "fstat",
#endif
#ifdef SYS_dup2
	[SYS_dup2] = "dup2",
#endif
	[SYS_openat] = "openat",	 [SYS_close] = "close",	      [SYS_read] = "read",
	[SYS_write] = "write",		 [SYS_pread64] = "pread64",   [SYS_newfstatat] = "newfstatat",
	[SYS_statx] = "statx",		 [SYS_lseek] = "lseek",	      [SYS_fcntl] = "fcntl",
	[SYS_dup] = "dup",		 [SYS_dup3] = "dup3",	      [SYS_ioctl] = "ioctl",
	[SYS_ftruncate] = "ftruncate",	 [SYS_fallocate] = "fallocate", [SYS_fsync] = "fsync",
	[SYS_fdatasync] = "fdatasync",	 [SYS_unlink] = "unlink",     [SYS_unlinkat] = "unlinkat",
	[SYS_mmap] = "mmap",		 [SYS_munmap] = "munmap",     [SYS_mremap] = "mremap",
	[SYS_madvise] = "madvise",	 [SYS_msync] = "msync",	      [SYS_mprotect] = "mprotect",
	[SYS_mlock] = "mlock",		 [SYS_mlock2] = "mlock2",     [SYS_munlock] = "munlock",
	[SYS_brk] = "brk",		 [SYS_getpid] = "getpid",     [SYS_gettid] = "gettid",
	[SYS_futex] = "futex",		 [SYS_rt_sigaction] = "rt_sigaction",
	[SYS_rt_sigprocmask] = "rt_sigprocmask", [SYS_getrandom] = "getrandom",
	[SYS_clock_gettime] = "clock_gettime", [SYS_mincore] = "mincore",
	[SYS_shmget] = "shmget",	 [SYS_shmat] = "shmat",	      [SYS_shmdt] = "shmdt",
	[SYS_memfd_create] = "memfd_create", [SYS_getcwd] = "getcwd",
	[SYS_sched_yield] = "sched_yield", [SYS_sync_file_range] = "sync_file_range",
#ifdef SYS_readlink
	[SYS_readlink] = "readlink",
#endif
	[SYS_readlinkat] = "readlinkat",
	[SYS_fchmod] = "fchmod",
};

const char *sc_name(int nr)
{
	static char buf[8][16];
	static int slot;

	if (nr >= 0 && (size_t)nr < sizeof(names) / sizeof(names[0]) && names[nr])
		return names[nr];
	slot = (slot + 1) % 8;
	snprintf(buf[slot], sizeof(buf[slot]), "sys_%d", nr);
	return buf[slot];
}

struct sc_rec *sc_find(struct sc_result *res, const char *variant, const char *op)
{
	for (int i = 0; i < res->n; i++)
		if (!strcmp(res->r[i].variant, variant) && !strcmp(res->r[i].op, op))
			return &res->r[i];
	return NULL;
}

/* One thread inside a marked operation. */
struct open_mark {
	pid_t tid;
	struct sc_rec *rec;
	int n;
	int seq[SC_MAX_SEQ];
};

struct tracer {
	struct sc_result *res;
	struct open_mark open[MAX_TIDS];
};

/* A NUL-terminated string of the tracee, word by word. */
static void peek_string(pid_t tid, unsigned long addr, char *buf, size_t len)
{
	size_t i = 0;

	while (i + 1 < len) {
		long w;

		errno = 0;
		w = ptrace(PTRACE_PEEKDATA, tid, (void *)(addr + i), NULL);
		if (errno)
			break;
		for (size_t k = 0; k < sizeof(w) && i + 1 < len; k++, i++) {
			buf[i] = ((char *)&w)[k];
			if (!buf[i])
				return;
		}
	}
	buf[i] = '\0';
}

static struct sc_rec *rec_for(struct sc_result *res, const char *name)
{
	const char *bar = strchr(name, '|');
	char variant[32];
	struct sc_rec *r;

	snprintf(variant, sizeof(variant), "%.*s", bar ? (int)(bar - name) : 0, name);
	r = sc_find(res, variant, bar ? bar + 1 : name);
	if (r)
		return r;
	if (res->n == res->cap) {
		int cap = res->cap ? 2 * res->cap : 64;
		struct sc_rec *p = realloc(res->r, sizeof(*p) * (size_t)cap);

		if (!p)
			return NULL;
		res->r = p;
		res->cap = cap;
	}
	r = &res->r[res->n++];
	memset(r, 0, sizeof(*r));
	snprintf(r->variant, sizeof(r->variant), "%s", variant);
	snprintf(r->op, sizeof(r->op), "%.95s", bar ? bar + 1 : name);
	return r;
}

static struct open_mark *mark_of(struct tracer *t, pid_t tid, bool make)
{
	struct open_mark *free_slot = NULL;

	for (int i = 0; i < MAX_TIDS; i++) {
		if (t->open[i].tid == tid)
			return &t->open[i];
		if (!t->open[i].tid && !free_slot)
			free_slot = &t->open[i];
	}
	if (make && free_slot) {
		memset(free_slot, 0, sizeof(*free_slot));
		free_slot->tid = tid;
	}
	return make ? free_slot : NULL;
}

/* The end marker: keep the run with the fewest calls (later runs are warm). */
static void close_mark(struct open_mark *m)
{
	struct sc_rec *r = m->rec;

	if (r) {
		if (r->runs == 0)
			r->n_first = m->n;
		if (r->runs == 0 || m->n < r->n_min) {
			r->n_min = m->n;
			memcpy(r->seq, m->seq, sizeof(r->seq));
		}
		r->runs++;
	}
	m->tid = 0;
}

static void on_entry(struct tracer *t, pid_t tid, long nr, unsigned long arg0)
{
	struct open_mark *m = mark_of(t, tid, nr == MARK_BEGIN);
	char name[160];

	if (nr == MARK_BEGIN && m) {
		peek_string(tid, arg0, name, sizeof(name));
		m->rec = rec_for(t->res, name);
		m->n = 0;
	} else if (nr == MARK_END && m) {
		close_mark(m);
	} else if (nr == MARK_ERR && m && m->rec) {
		peek_string(tid, arg0, m->rec->err, sizeof(m->rec->err));
	} else if (m) {
		if (m->n < SC_MAX_SEQ)
			m->seq[m->n] = (int)nr;
		m->n++;
	}
}

static void on_syscall_stop(struct tracer *t, pid_t tid)
{
	struct __ptrace_syscall_info info;

	if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, (void *)sizeof(info), &info) <= 0)
		return;
	if (info.op == PTRACE_SYSCALL_INFO_ENTRY)
		on_entry(t, tid, (long)info.entry.nr, (unsigned long)info.entry.args[0]);
}

static void child(void (*fn)(void *), void *arg, char *const argv[])
{
	alarm(120); /* a hung peer must not hang the benchmark */
	if (ptrace(PTRACE_TRACEME, 0, NULL, NULL) < 0)
		_exit(126);
	raise(SIGSTOP);
	if (fn) {
		fn(arg);
		_exit(0);
	}
	execvp(argv[0], argv);
	_exit(127);
}

/* Follow the tracee and its threads until all are gone. */
static int trace_loop(struct tracer *t, pid_t pid)
{
	int main_status = -1, st;

	for (;;) {
		pid_t tid = waitpid(-1, &st, __WALL);
		int sig;

		if (tid < 0 && errno == EINTR)
			continue;
		if (tid < 0)
			break;
		if (WIFEXITED(st) || WIFSIGNALED(st)) {
			if (tid == pid)
				main_status = st;
			continue;
		}
		sig = WSTOPSIG(st);
		if (sig == (SIGTRAP | 0x80))
			on_syscall_stop(t, tid);
		if (sig == (SIGTRAP | 0x80) || sig == SIGTRAP || (st >> 16) || sig == SIGSTOP)
			sig = 0; /* ours: syscall stops, ptrace events, new threads' SIGSTOP */
		ptrace(PTRACE_SYSCALL, tid, NULL, (void *)(long)sig);
	}
	return main_status;
}

/*
 * Run fn(arg) (or exec argv) in a traced child and count its marked
 * operations into res.  Waits for any child: call it while the benchmark has
 * no other children.  -1 with res->err when tracing is impossible.
 */
int sc_trace(void (*fn)(void *), void *arg, char *const argv[], struct sc_result *res)
{
	struct tracer t = {.res = res};
	pid_t pid;
	int st;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		snprintf(res->err, sizeof(res->err), "fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0)
		child(fn, arg, argv);
	if (waitpid(pid, &st, __WALL) != pid || !WIFSTOPPED(st)) {
		snprintf(res->err, sizeof(res->err), "ptrace(PTRACE_TRACEME) refused (status 0x%x)",
			 st);
		return -1;
	}
	if (ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(long)(PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL | PTRACE_O_TRACECLONE |
				  PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC)) < 0) {
		snprintf(res->err, sizeof(res->err), "PTRACE_SETOPTIONS: %s", strerror(errno));
		kill(pid, SIGKILL);
		waitpid(pid, NULL, __WALL);
		return -1;
	}
	ptrace(PTRACE_SYSCALL, pid, NULL, NULL);
	st = trace_loop(&t, pid);
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		snprintf(res->err, sizeof(res->err), "traced program %s %d",
			 WIFEXITED(st) ? "exited with status" : "killed by signal",
			 WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
		return -1;
	}
	return 0;
}
