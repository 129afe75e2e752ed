/* SPDX-License-Identifier: MIT */
/*
 * Semantics across processes, proved rather than assumed: the fork table of
 * the contract for the four kinds in both directions, what reaches the file,
 * an unrelated process mapping the same file by name (tests/peer.c),
 * copy-on-write measured in /proc/self/smaps, punch and revert across fork,
 * DONTFORK and WIPEONFORK (also for pages punched or reverted later), RDONLY
 * and protection changes.
 *
 * Processes are synchronised with pipes only.  Every child has an alarm, so a
 * child that hangs dies of SIGALRM, and a child that dies is reported with the
 * signal that killed it.  Children do not assert: they send what they saw to
 * the parent, which does.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#ifndef MMAPKIT_PEER_PATH
#define MMAPKIT_PEER_PATH "mmapkit_peer"
#endif

/* Seconds; well below the test case timeout, so a hang shows up as SIGALRM. */
#define CHILD_ALARM 5
/* A child's exit status when its pipe to the parent broke. */
#define CHILD_LOST 90

static const int kinds[] = {MMAPKIT_ANON_PRIVATE, MMAPKIT_ANON_SHARED, MMAPKIT_FILE_PRIVATE,
			    MMAPKIT_FILE_SHARED};
static const int private_kinds[] = {MMAPKIT_ANON_PRIVATE, MMAPKIT_FILE_PRIVATE};
static const int file_kinds[] = {MMAPKIT_FILE_PRIVATE, MMAPKIT_FILE_SHARED};

static size_t pg(void)
{
	return mmapkit_page_size();
}

/* ---- processes ---- */

/* One end of a parent/child pair: read from rfd, write to wfd. */
struct proc {
	pid_t pid;
	int rfd;
	int wfd;
};

typedef int (*child_fn)(struct proc *self, void *arg);

/* Read up to n bytes, retrying short reads; returns what arrived before EOF. */
static size_t read_full(int fd, void *buf, size_t n)
{
	size_t done = 0;

	while (done < n) {
		ssize_t r = read(fd, (char *)buf + done, n - done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		done += (size_t)r;
	}
	return done;
}

static bool write_full(int fd, const void *buf, size_t n)
{
	return write(fd, buf, n) == (ssize_t)n; /* pipe writes this small are atomic */
}

/*
 * In a new child: default actions and the alarm.  Check's runner catches
 * SIGALRM with a handler that kills the whole process group; a child must not
 * inherit it, or its own alarm would kill the test instead of the child.
 */
static void child_signals(void)
{
	signal(SIGALRM, SIG_DFL);
	signal(SIGPIPE, SIG_DFL);
	alarm(CHILD_ALARM);
}

/* Fork with a pipe down to the child and one up from it. */
static pid_t fork_piped(int down[2], int up[2])
{
	pid_t pid;

	ck_assert_int_eq(pipe2(down, O_CLOEXEC), 0);
	ck_assert_int_eq(pipe2(up, O_CLOEXEC), 0);
	/* A dead child must be reported by its wait status, not kill us with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	return pid;
}

/* Fork a child running fn with an alarm; its exit status is fn's return value. */
static struct proc spawn(child_fn fn, void *arg)
{
	int down[2], up[2];
	struct proc c;

	c.pid = fork_piped(down, up);
	if (c.pid == 0) {
		struct proc self = {getpid(), down[0], up[1]};

		child_signals();
		signal(SIGSEGV, SIG_DFL);
		signal(SIGBUS, SIG_DFL);
		close(down[1]);
		close(up[0]);
		_exit(fn(&self, arg));
	}
	close(down[0]);
	close(up[1]);
	c.rfd = up[0];
	c.wfd = down[1];
	return c;
}

static const char *describe(int st, char *buf, size_t cap)
{
	if (WIFSIGNALED(st))
		snprintf(buf, cap, "was killed by signal %d (%s)%s", WTERMSIG(st),
			 strsignal(WTERMSIG(st)),
			 WTERMSIG(st) == SIGALRM ? ": it hung until its alarm" : "");
	else if (WIFEXITED(st) && WEXITSTATUS(st) == CHILD_LOST)
		snprintf(buf, cap, "exited %d: its pipe to the parent broke", CHILD_LOST);
	else if (WIFEXITED(st))
		snprintf(buf, cap, "exited with status %d", WEXITSTATUS(st));
	else
		snprintf(buf, cap, "ended with wait status 0x%x", (unsigned)st);
	return buf;
}

static int reap(struct proc *c)
{
	int st;

	close(c->rfd);
	close(c->wfd);
	c->rfd = c->wfd = -1;
	ck_assert_int_eq(waitpid(c->pid, &st, 0), c->pid);
	return st;
}

/* The child must end with exit status 0. */
static void finish(struct proc *c, const char *what)
{
	char why[128];
	int st = reap(c);

	ck_assert_msg(TU_EXITED(st, 0), "%s: the child %s", what, describe(st, why, sizeof(why)));
}

/* The child must die of sig. */
static void finish_killed(struct proc *c, int sig, const char *what)
{
	char why[128];
	int st = reap(c);

	ck_assert_msg(TU_KILLED(st, sig), "%s: expected the child to die of %s; it %s", what,
		      strsignal(sig), describe(st, why, sizeof(why)));
}

/* Parent side: receive exactly n bytes or report how the child died. */
static void recv_all(struct proc *c, void *buf, size_t n)
{
	char why[128];

	if (read_full(c->rfd, buf, n) == n)
		return;
	ck_abort_msg("the child stopped answering: it %s", describe(reap(c), why, sizeof(why)));
}

static void send_all(struct proc *c, const void *buf, size_t n)
{
	char why[128];

	if (write_full(c->wfd, buf, n))
		return;
	ck_abort_msg("cannot reach the child: it %s", describe(reap(c), why, sizeof(why)));
}

static void post(struct proc *c)
{
	send_all(c, "g", 1);
}

static void await(struct proc *c)
{
	char b;

	recv_all(c, &b, 1);
}

/* Child side: 0 on success, -1 when the parent is gone. */
static int c_send(struct proc *s, const void *buf, size_t n)
{
	return write_full(s->wfd, buf, n) ? 0 : -1;
}

static int c_recv(struct proc *s, void *buf, size_t n)
{
	return read_full(s->rfd, buf, n) == n ? 0 : -1;
}

static int c_post(struct proc *s)
{
	return c_send(s, "g", 1);
}

static int c_await(struct proc *s)
{
	char b;

	return c_recv(s, &b, 1);
}

/* ---- touching memory in a child ---- */

enum { T_READ, T_WRITE };

struct touch {
	unsigned char *addr;
	int op;
	unsigned char val;
};

/* Says it got this far, then touches: the parent knows a fault came from the touch. */
static int child_touch(struct proc *self, void *arg)
{
	const struct touch *t = arg;
	volatile unsigned char *a = t->addr;
	unsigned char seen;

	if (c_post(self))
		return CHILD_LOST;
	if (t->op == T_WRITE)
		*a = t->val;
	seen = *a;
	return c_send(self, &seen, 1) ? CHILD_LOST : 0;
}

static void expect_segv(void *addr, int op, const char *what)
{
	struct touch t = {addr, op, 0x5a};
	struct proc c = spawn(child_touch, &t);
	unsigned char seen;

	await(&c);
	if (read_full(c.rfd, &seen, 1) == 1) {
		reap(&c);
		ck_abort_msg("%s: expected SIGSEGV; the child's %s succeeded and read 0x%02x", what,
			     op == T_WRITE ? "write" : "read", seen);
	}
	finish_killed(&c, SIGSEGV, what);
}

/* Touch in a child that must survive; returns the byte it read (after its write). */
static unsigned char expect_touch_ok(void *addr, int op, unsigned char val, const char *what)
{
	struct touch t = {addr, op, val};
	struct proc c = spawn(child_touch, &t);
	unsigned char seen;

	await(&c);
	recv_all(&c, &seen, 1);
	finish(&c, what);
	return seen;
}

/* ---- mappings ---- */

struct fx {
	int kind;
	mmapkit_map *m;
	unsigned char *p;
	size_t len;
	const char *path; /* file kinds: a pattern file of len bytes */
};

static struct fx make(int kind, size_t len, unsigned flags)
{
	struct fx f = {.kind = kind, .len = len};
	int err;

	if (tu_kind_is_file(kind))
		f.path = tu_file(len);
	err = tu_map_kind(kind, &f.m, f.path, 0, len, flags);
	ck_assert_msg(err == 0, "%s: %d: %s", tu_kind_name(kind), err, mmapkit_errmsg());
	ck_assert_uint_eq(mmapkit_len(f.m), len);
	f.p = mmapkit_ptr(f.m);
	return f;
}

static void drop(struct fx *f)
{
	mmapkit_unmap(f->m);
	if (f->path)
		ck_assert_int_eq(unlink(f->path), 0);
}

/* What byte i of a fresh mapping holds: zero, or the pattern file's byte. */
static unsigned char initial(const struct fx *f, size_t i)
{
	return f->path ? tu_pattern(i) : 0;
}

/* Every byte of the file equals expect(i) (checked with pread, not the mapping). */
static void assert_file(const struct fx *f, unsigned char (*expect)(const struct fx *, size_t))
{
	unsigned char *want = malloc(f->len);

	ck_assert_ptr_nonnull(want);
	for (size_t i = 0; i < f->len; i++)
		want[i] = expect(f, i);
	tu_assert_file_is(f->path, want, f->len, tu_kind_name(f->kind));
	free(want);
}

static void assert_file_untouched(const struct fx *f)
{
	assert_file(f, initial);
}

/* ---- the fork table ---- */

/*
 * Four probes in a four-page mapping: three on pages written before fork(),
 * one (index 2) on a page nobody touched before fork().
 */
#define NPROBE 4
#define BEFORE 0xa0 /* written by the parent before fork() */
#define PARENT 0xb0 /* written by the parent after fork() */
#define CHILD 0xc0  /* written by the child after fork() */

static size_t probe(size_t i)
{
	const size_t at[NPROBE] = {0, pg() + 7, 2 * pg() + 9, 4 * pg() - 1};

	return at[i];
}

static struct fx make_probed(int kind)
{
	struct fx f = make(kind, 4 * pg(), 0);

	for (size_t i = 0; i < NPROBE; i++)
		if (i != 2)
			f.p[probe(i)] = BEFORE;
	return f;
}

/* What probe i held at fork(). */
static unsigned char at_fork(const struct fx *f, size_t i)
{
	return i == 2 ? initial(f, probe(i)) : BEFORE;
}

static int child_read_probes(struct proc *self, void *arg)
{
	const struct fx *f = arg;
	unsigned char seen[NPROBE];

	if (c_await(self)) /* the parent has written */
		return CHILD_LOST;
	for (size_t i = 0; i < NPROBE; i++)
		seen[i] = ((volatile unsigned char *)f->p)[probe(i)];
	return c_send(self, seen, sizeof(seen)) ? CHILD_LOST : 0;
}

START_TEST(parent_write_after_fork)
{
	int kind = kinds[_i];
	struct fx f = make_probed(kind);
	struct proc c = spawn(child_read_probes, &f);
	unsigned char seen[NPROBE];

	for (size_t i = 0; i < NPROBE; i++)
		f.p[probe(i)] = PARENT;
	post(&c);
	recv_all(&c, seen, sizeof(seen));
	finish(&c, tu_kind_name(kind));
	for (size_t i = 0; i < NPROBE; i++) {
		unsigned char want = tu_kind_is_shared(kind) ? PARENT : at_fork(&f, i);

		ck_assert_msg(seen[i] == want, "%s: the child read 0x%02x at %zu, expected 0x%02x",
			      tu_kind_name(kind), seen[i], probe(i), want);
	}
	drop(&f);
}
END_TEST

static int child_write_probes(struct proc *self, void *arg)
{
	const struct fx *f = arg;

	for (size_t i = 0; i < NPROBE; i++)
		f->p[probe(i)] = CHILD;
	/* Stay alive while the parent looks: a private copy must not leak even now. */
	return c_post(self) || c_await(self) ? CHILD_LOST : 0;
}

START_TEST(child_write_after_fork)
{
	int kind = kinds[_i];
	struct fx f = make_probed(kind);
	struct proc c = spawn(child_write_probes, &f);

	await(&c);
	for (size_t i = 0; i < NPROBE; i++) {
		unsigned char want = tu_kind_is_shared(kind) ? CHILD : at_fork(&f, i);

		ck_assert_msg(f.p[probe(i)] == want, "%s: the parent read 0x%02x at %zu, expected 0x%02x",
			      tu_kind_name(kind), f.p[probe(i)], probe(i), want);
	}
	post(&c);
	finish(&c, tu_kind_name(kind));
	drop(&f);
}
END_TEST

/* ---- what reaches the file ---- */

#define PARENT_AT 5 /* page 0 */
static size_t child_at(void)
{
	return pg() + 5; /* page 1 */
}

static int child_write_one(struct proc *self, void *arg)
{
	const struct fx *f = arg;

	f->p[child_at()] = CHILD;
	return c_post(self) || c_await(self) ? CHILD_LOST : 0;
}

static unsigned char both_writes(const struct fx *f, size_t i)
{
	return i == PARENT_AT ? PARENT : i == child_at() ? CHILD : initial(f, i);
}

START_TEST(file_after_both_wrote)
{
	int kind = file_kinds[_i];
	struct fx f = make(kind, 2 * pg(), 0);
	struct proc c = spawn(child_write_one, &f);

	f.p[PARENT_AT] = PARENT;
	await(&c); /* the child wrote */
	if (tu_kind_is_shared(kind))
		ck_assert_int_eq(mmapkit_sync(f.m, 0, MMAPKIT_TO_END, 0), 0);
	else
		ck_assert_int_eq(mmapkit_sync(f.m, 0, MMAPKIT_TO_END, 0), -EINVAL);
	assert_file(&f, tu_kind_is_shared(kind) ? both_writes : initial);
	post(&c);
	finish(&c, tu_kind_name(kind));
	assert_file(&f, tu_kind_is_shared(kind) ? both_writes : initial); /* and after it is gone */
	drop(&f);
}
END_TEST

/* ---- an unrelated process: tests/peer.c, started with fork + exec ---- */

struct peer {
	pid_t pid;
	FILE *cmd; /* we write commands here */
	FILE *ans; /* and read its answers here */
};

static const char *peer_path(void)
{
	const char *env = getenv("MMAPKIT_PEER");

	return env && *env ? env : MMAPKIT_PEER_PATH;
}

static void peer_died(struct peer *pr, const char *what)
{
	char why[128];
	int st;

	fclose(pr->cmd);
	fclose(pr->ans);
	ck_assert_int_eq(waitpid(pr->pid, &st, 0), pr->pid);
	ck_abort_msg("peer %s: %s stopped answering: it %s", peer_path(), what,
		     describe(st, why, sizeof(why)));
}

static void peer_line(struct peer *pr, char *line, size_t cap, const char *what)
{
	if (!fgets(line, (int)cap, pr->ans))
		peer_died(pr, what);
}

/* Maps path by name in a new process; mode is "shared" or "private". */
static struct peer peer_start(const char *mode, const char *path, size_t len)
{
	int down[2], up[2];
	struct peer pr;
	char line[256];
	size_t n;

	pr.pid = fork_piped(down, up);
	if (pr.pid == 0) {
		/* The alarm survives exec: the peer cannot hang the test either. */
		child_signals();
		if (dup2(down[0], STDIN_FILENO) < 0 || dup2(up[1], STDOUT_FILENO) < 0)
			_exit(126);
		execl(peer_path(), "mmapkit_peer", mode, path, (char *)NULL);
		_exit(127);
	}
	close(down[0]);
	close(up[1]);
	pr.cmd = fdopen(down[1], "w");
	pr.ans = fdopen(up[0], "r");
	ck_assert_ptr_nonnull(pr.cmd);
	ck_assert_ptr_nonnull(pr.ans);
	peer_line(&pr, line, sizeof(line), "starting (exit 127: exec failed)");
	ck_assert_msg(sscanf(line, "ready %zu", &n) == 1, "peer: %s", line);
	ck_assert_uint_eq(n, len);
	return pr;
}

static void peer_send(struct peer *pr, const char *cmd)
{
	if (fputs(cmd, pr->cmd) < 0 || fflush(pr->cmd) != 0)
		peer_died(pr, cmd);
}

static void peer_ok(struct peer *pr, const char *cmd)
{
	char line[256];

	peer_send(pr, cmd);
	peer_line(pr, line, sizeof(line), cmd);
	ck_assert_msg(strcmp(line, "ok\n") == 0, "peer, %s: %s", cmd, line);
}

static unsigned char peer_read(struct peer *pr, size_t off)
{
	char cmd[64], line[256];
	unsigned v;

	snprintf(cmd, sizeof(cmd), "r %zu\n", off);
	peer_send(pr, cmd);
	peer_line(pr, line, sizeof(line), cmd);
	ck_assert_msg(sscanf(line, "v %u", &v) == 1 && v < 256, "peer, %s: %s", cmd, line);
	return (unsigned char)v;
}

/* Store through the peer's mapping ('w') or pwrite through its own descriptor ('P'). */
static void peer_store(struct peer *pr, char how, size_t off, unsigned char val)
{
	char cmd[64];

	snprintf(cmd, sizeof(cmd), "%c %zu %u\n", how, off, val);
	peer_ok(pr, cmd);
}

static void peer_stop(struct peer *pr)
{
	char why[128];
	int st;

	peer_send(pr, "q\n");
	fclose(pr->cmd);
	fclose(pr->ans);
	ck_assert_int_eq(waitpid(pr->pid, &st, 0), pr->pid);
	ck_assert_msg(TU_EXITED(st, 0), "peer %s", describe(st, why, sizeof(why)));
}

static unsigned char peer_shared_expect(const struct fx *f, size_t i)
{
	if (i == 10 || i == pg() + 5)
		return PARENT;
	if (i == 20 || i == pg() + 20)
		return CHILD;
	return initial(f, i);
}

/* Shared file mapping: the peer sees our writes, we see its writes, the file has all. */
START_TEST(peer_shared_both_ways)
{
	struct fx f = make(MMAPKIT_FILE_SHARED, 2 * pg(), 0);
	struct peer pr;

	f.p[10] = PARENT;
	f.p[pg() + 5] = PARENT;
	pr = peer_start("shared", f.path, f.len);
	ck_assert_uint_eq(peer_read(&pr, 10), PARENT);
	ck_assert_uint_eq(peer_read(&pr, pg() + 5), PARENT);
	ck_assert_uint_eq(peer_read(&pr, 11), tu_pattern(11));
	peer_store(&pr, 'w', 20, CHILD);
	peer_store(&pr, 'w', pg() + 20, CHILD);
	ck_assert_uint_eq(f.p[20], CHILD);
	ck_assert_uint_eq(f.p[pg() + 20], CHILD);
	peer_ok(&pr, "s\n");
	peer_stop(&pr);
	ck_assert_int_eq(mmapkit_sync(f.m, 0, MMAPKIT_TO_END, 0), 0);
	assert_file(&f, peer_shared_expect);
	drop(&f);
}
END_TEST

/* Private file mapping: the peer sees the file, never our private writes, and vice versa. */
START_TEST(peer_private_sees_file)
{
	struct fx f = make(MMAPKIT_FILE_PRIVATE, 2 * pg(), 0);
	struct peer pr;

	f.p[10] = PARENT;
	pr = peer_start("private", f.path, f.len);
	ck_assert_uint_eq(peer_read(&pr, 10), tu_pattern(10));
	peer_store(&pr, 'w', 20, CHILD);
	ck_assert_uint_eq(peer_read(&pr, 20), CHILD);
	ck_assert_uint_eq(f.p[20], tu_pattern(20));
	ck_assert_uint_eq(f.p[10], PARENT);
	peer_stop(&pr);
	/* Neither private write reached the file; a shared peer sees the file too. */
	assert_file_untouched(&f);
	pr = peer_start("shared", f.path, f.len);
	ck_assert_uint_eq(peer_read(&pr, 10), tu_pattern(10));
	ck_assert_uint_eq(peer_read(&pr, 20), tu_pattern(20));
	peer_stop(&pr);
	drop(&f);
}
END_TEST

/* A pwrite by another process is seen at once through a shared mapping. */
START_TEST(pwrite_seen_by_shared)
{
	struct fx f = make(MMAPKIT_FILE_SHARED, 2 * pg(), 0);
	struct peer pr;

	ck_assert_uint_eq(f.p[30], tu_pattern(30)); /* faulted in before the pwrite */
	pr = peer_start("private", f.path, f.len);
	peer_store(&pr, 'P', 30, 0xd1);
	peer_store(&pr, 'P', pg() + 30, 0xd2);
	ck_assert_uint_eq(f.p[30], 0xd1);
	ck_assert_uint_eq(f.p[pg() + 30], 0xd2);
	peer_stop(&pr);
	drop(&f);
}
END_TEST

/*
 * A pwrite by another process, seen through a private file mapping.  POSIX
 * leaves this unspecified; Linux does this, and mmapkit documents it:
 *  - a page the private mapping has not written yet is still the file's page
 *    (page cache), whether it was read already or never touched: it shows the
 *    new file content;
 *  - a page the private mapping has written was copied at that first write:
 *    it keeps the copy and never shows later changes to the file, until
 *    mmapkit_revert() drops the copy, after which it shows the file as it is now.
 */
START_TEST(pwrite_and_private_pages)
{
	struct fx f = make(MMAPKIT_FILE_PRIVATE, 4 * pg(), 0);
	const size_t at = 40;
	unsigned sum = 0;
	struct peer pr;

	for (size_t i = 0; i < 3 * pg(); i++) /* pages 0-2 read, page 3 never touched */
		sum += ((volatile unsigned char *)f.p)[i];
	(void)sum;
	f.p[pg()] = PARENT; /* page 1 is now a private copy */
	pr = peer_start("private", f.path, f.len);
	for (size_t page = 0; page < 4; page++)
		peer_store(&pr, 'P', page * pg() + at, (unsigned char)(0xd0 + page));
	peer_stop(&pr);
	ck_assert_uint_eq(f.p[at], 0xd0);		       /* read, not written: new content */
	ck_assert_uint_eq(f.p[pg() + at], tu_pattern(pg() + at)); /* written: the old copy */
	ck_assert_uint_eq(f.p[pg()], PARENT);
	ck_assert_uint_eq(f.p[2 * pg() + at], 0xd2);
	ck_assert_uint_eq(f.p[3 * pg() + at], 0xd3); /* never touched: new content */
	ck_assert_int_eq(mmapkit_revert(f.m, pg(), pg()), 0);
	ck_assert_uint_eq(f.p[pg() + at], 0xd1); /* the copy is gone: the file as it is now */
	ck_assert_uint_eq(f.p[pg()], tu_pattern(pg()));
	drop(&f);
}
END_TEST

/* ---- copy-on-write, measured ---- */

struct smaps_kb {
	long rss, pss, shared_clean, shared_dirty, private_clean, private_dirty;
};

static struct smaps_kb smaps_of(const void *addr)
{
	struct smaps_kb s = {
		tu_smaps_kb(addr, "Rss"),	    tu_smaps_kb(addr, "Pss"),
		tu_smaps_kb(addr, "Shared_Clean"),  tu_smaps_kb(addr, "Shared_Dirty"),
		tu_smaps_kb(addr, "Private_Clean"), tu_smaps_kb(addr, "Private_Dirty"),
	};

	return s;
}

#define COW_PAGES 16
#define COW_PAGE 3 /* the page the child writes */

static int child_cow(struct proc *self, void *arg)
{
	const struct fx *f = arg;
	volatile unsigned char *p = f->p;
	struct smaps_kb s[2];
	unsigned sum = 0;

	/* Fault every page in: fork() copies no page tables for a file VMA without anon pages. */
	for (size_t i = 0; i < f->len; i += pg())
		sum += p[i];
	(void)sum;
	s[0] = smaps_of(f->p);
	p[COW_PAGE * pg() + 1] = CHILD;
	s[1] = smaps_of(f->p);
	return c_send(self, s, sizeof(s)) || c_await(self) ? CHILD_LOST : 0;
}

static void assert_smaps(const char *who, const struct smaps_kb *s, const struct smaps_kb *want)
{
	ck_assert_msg(memcmp(s, want, sizeof(*s)) == 0,
		      "%s: Rss %ld Pss %ld Shared_Clean %ld Shared_Dirty %ld Private_Clean %ld Private_Dirty %ld; expected %ld %ld %ld %ld %ld %ld kB",
		      who, s->rss, s->pss, s->shared_clean, s->shared_dirty, s->private_clean,
		      s->private_dirty, want->rss, want->pss, want->shared_clean,
		      want->shared_dirty, want->private_clean, want->private_dirty);
}

/*
 * After fork() the child's pages are the parent's, shared (Pss = Rss / 2);
 * the child's first write to a page copies exactly that one page.  Anonymous
 * pages the parent wrote are Shared_Dirty; a file's pages that only were read
 * are Shared_Clean (the file is fsynced first so no page is dirty in the cache).
 */
START_TEST(cow_measured)
{
	int kind = private_kinds[_i];
	bool anon = kind == MMAPKIT_ANON_PRIVATE;
	/* GUARD: the PROT_NONE pages around keep the VMA from merging with a neighbour. */
	struct fx f = make(kind, COW_PAGES * pg(), MMAPKIT_GUARD);
	long pk = (long)(pg() / 1024), all = COW_PAGES * pk;
	struct smaps_kb s[2], mine;
	struct proc c;
	int err = mmapkit_advise(f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_NOHUGEPAGE); /* 4 kB pages only */

	ck_assert_msg(err == 0 || err == -EOPNOTSUPP, "%d: %s", err, mmapkit_errmsg());
	if (anon) {
		memset(f.p, 0x5a, f.len);
	} else {
		int fd = open(f.path, O_RDONLY | O_CLOEXEC);

		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(fsync(fd), 0);
		close(fd);
		for (size_t i = 0; i < f.len; i += pg())
			ck_assert_uint_eq(f.p[i], tu_pattern(i));
	}
	c = spawn(child_cow, &f);
	recv_all(&c, s, sizeof(s));
	{
		const struct smaps_kb shared = {all, all / 2, anon ? 0 : all, anon ? all : 0, 0, 0};
		const struct smaps_kb one = {all, (all - pk) / 2 + pk, anon ? 0 : all - pk,
					     anon ? all - pk : 0, 0, pk};

		assert_smaps("child after fork", &s[0], &shared);
		assert_smaps("child after writing one page", &s[1], &one);
	}
	/* The parent's byte is unchanged, and its page is now its own. */
	ck_assert_uint_eq(f.p[COW_PAGE * pg() + 1], anon ? 0x5a : tu_pattern(COW_PAGE * pg() + 1));
	mine = smaps_of(f.p);
	ck_assert_int_eq(mine.rss, all);
	ck_assert_int_eq(mine.pss, (all - pk) / 2 + pk);
	ck_assert_int_eq(anon ? mine.private_dirty : mine.private_clean, pk);
	post(&c);
	finish(&c, tu_kind_name(kind));
	if (!anon)
		assert_file_untouched(&f);
	drop(&f);
}
END_TEST

/* ---- punch and revert across fork ---- */

struct range_op {
	struct fx *f;
	size_t off, len;
};

static int child_punch(struct proc *self, void *arg)
{
	const struct range_op *r = arg;
	int rc = mmapkit_punch(r->f->m, r->off, r->len);

	return c_send(self, &rc, sizeof(rc)) || c_await(self) ? CHILD_LOST : 0;
}

/* The child punches; the parent's bytes in the range read zero and the memory is gone. */
START_TEST(anon_shared_punch_in_child)
{
	struct fx f = make(MMAPKIT_ANON_SHARED, 4 * pg(), 0);
	struct range_op r = {&f, 100, 3 * pg()}; /* whole pages 1 and 2, edges of 0 and 3 */
	long pk = (long)(pg() / 1024);
	struct proc c;
	int rc;

	memset(f.p, 0x77, f.len);
	ck_assert_int_eq(tu_smaps_kb(f.p, "Rss"), 4 * pk);
	c = spawn(child_punch, &r);
	recv_all(&c, &rc, sizeof(rc));
	ck_assert_int_eq(rc, 0);
	/* Before reading anything: only pages 0 and 3 are still backed by memory. */
	ck_assert_int_eq(tu_smaps_kb(f.p, "Rss"), 2 * pk);
	ck_assert_uint_eq(tu_resident_pages(f.p, f.len), 2);
	for (size_t i = 0; i < f.len; i++)
		ck_assert_msg(f.p[i] == (i >= r.off && i < r.off + r.len ? 0 : 0x77),
			      "byte %zu is 0x%02x", i, f.p[i]);
	post(&c);
	finish(&c, "anon shared punch");
	drop(&f);
}
END_TEST

/* A shared file punch in the child: the parent reads zeros, and so does the file. */
static unsigned char punched_file(const struct fx *f, size_t i)
{
	return i >= 100 && i < 100 + 2 * pg() ? 0 : initial(f, i);
}

START_TEST(file_shared_punch_in_child)
{
	struct fx f = make(MMAPKIT_FILE_SHARED, 4 * pg(), 0);
	struct range_op r = {&f, 100, 2 * pg()};
	struct proc c;
	int rc;

	ck_assert_uint_eq(f.p[pg()], tu_pattern(pg())); /* mapped in the parent beforehand */
	c = spawn(child_punch, &r);
	recv_all(&c, &rc, sizeof(rc));
	ck_assert_msg(rc == 0, "punch in the child: %d", rc);
	for (size_t i = 0; i < f.len; i++)
		ck_assert_msg(f.p[i] == punched_file(&f, i), "byte %zu is 0x%02x", i, f.p[i]);
	assert_file(&f, punched_file);
	post(&c);
	finish(&c, "file shared punch");
	drop(&f);
}
END_TEST

#define PRIV_FILL 0x33
#define PUNCH_OFF (pg() - 10)	  /* zeros [page - 10, 2 * page + 10) */
#define PUNCH_LEN (pg() + 20)
#define REVERT_OFF (3 * pg() - 5) /* backing again from 3 * page - 5 to the end */

/* The child's view after its punch and revert. */
static unsigned char child_view(const struct fx *f, size_t i)
{
	if (i >= PUNCH_OFF && i < PUNCH_OFF + PUNCH_LEN)
		return 0;
	if (i >= REVERT_OFF)
		return initial(f, i);
	return PRIV_FILL;
}

struct view_report {
	int punch, revert;
	size_t bad, first_bad;
	unsigned char first_seen;
};

static int child_punch_revert(struct proc *self, void *arg)
{
	const struct fx *f = arg;
	struct view_report v = {0};

	v.punch = mmapkit_punch(f->m, PUNCH_OFF, PUNCH_LEN);
	v.revert = mmapkit_revert(f->m, REVERT_OFF, MMAPKIT_TO_END);
	for (size_t i = 0; i < f->len; i++) {
		if (f->p[i] == child_view(f, i))
			continue;
		if (!v.bad++) {
			v.first_bad = i;
			v.first_seen = f->p[i];
		}
	}
	return c_send(self, &v, sizeof(v)) || c_await(self) ? CHILD_LOST : 0;
}

START_TEST(private_punch_revert_in_child)
{
	int kind = private_kinds[_i];
	struct fx f = make(kind, 4 * pg(), 0);
	struct view_report v;
	struct proc c;

	memset(f.p, PRIV_FILL, f.len);
	c = spawn(child_punch_revert, &f);
	recv_all(&c, &v, sizeof(v));
	ck_assert_int_eq(v.punch, 0);
	ck_assert_int_eq(v.revert, 0);
	ck_assert_msg(v.bad == 0, "%s: the child sees %zu wrong bytes, first at %zu: 0x%02x",
		      tu_kind_name(kind), v.bad, v.first_bad, v.first_seen);
	/* The parent keeps its bytes and its memory (mincore: the VMA may have merged). */
	ck_assert_uint_eq(tu_resident_pages(f.p, f.len), 4);
	for (size_t i = 0; i < f.len; i++)
		ck_assert_msg(f.p[i] == PRIV_FILL, "%s: parent byte %zu is 0x%02x",
			      tu_kind_name(kind), i, f.p[i]);
	post(&c);
	finish(&c, tu_kind_name(kind));
	if (f.path)
		assert_file_untouched(&f);
	drop(&f);
}
END_TEST

/* ---- DONTFORK and WIPEONFORK ---- */

/*
 * Four pages: page 1 punched, page 2 punched and then reverted (private kinds;
 * for a file private mapping that rebuilds the page from the file off to the
 * side), all after construction.  Pages marked in `gone` must be missing in a
 * child; the others must be inherited with their data.
 */
static void dontfork_case(int kind, bool by_flag)
{
	struct fx f = make(kind, 4 * pg(), by_flag ? MMAPKIT_DONTFORK : 0);
	const bool gone[4] = {by_flag, true, true, by_flag};
	char what[96];

	if (!by_flag)
		ck_assert_int_eq(mmapkit_advise(f.m, pg(), 2 * pg(), MMAPKIT_ADV_DONTFORK), 0);
	memset(f.p, 0x44, f.len);
	ck_assert_int_eq(mmapkit_punch(f.m, pg(), pg()), 0);
	ck_assert_int_eq(mmapkit_punch(f.m, 2 * pg(), pg()), 0);
	if (!tu_kind_is_shared(kind))
		ck_assert_int_eq(mmapkit_revert(f.m, 2 * pg(), pg()), 0);
	for (size_t page = 0; page < 4; page++) {
		unsigned char *a = f.p + page * pg() + 1;

		snprintf(what, sizeof(what), "%s %s, page %zu", tu_kind_name(kind),
			 by_flag ? "MMAPKIT_DONTFORK" : "MMAPKIT_ADV_DONTFORK", page);
		if (gone[page])
			expect_segv(a, T_READ, what);
		else
			ck_assert_uint_eq(expect_touch_ok(a, T_READ, 0, what), 0x44);
	}
	/* The parent still has all of it. */
	ck_assert_uint_eq(f.p[1], 0x44);
	ck_assert_uint_eq(f.p[pg() + 1], 0);
	ck_assert_uint_eq(f.p[2 * pg() + 1],
			  tu_kind_is_shared(kind) ? 0 : initial(&f, 2 * pg() + 1));
	ck_assert_uint_eq(f.p[3 * pg() + 1], 0x44);
	drop(&f);
}

START_TEST(dontfork_flag)
{
	dontfork_case(kinds[_i], true);
}
END_TEST

START_TEST(dontfork_advice)
{
	dontfork_case(kinds[_i], false);
}
END_TEST

struct wipe_report {
	size_t nonzero[4]; /* per page */
	size_t wrong;      /* bytes of kept pages that are not the data */
};

static int child_count_wiped(struct proc *self, void *arg)
{
	const struct fx *f = arg;
	struct wipe_report w = {{0}, 0};

	for (size_t i = 0; i < f->len; i++) {
		w.nonzero[i / pg()] += f->p[i] != 0;
		w.wrong += f->p[i] != 0 && f->p[i] != 0x66;
	}
	return c_send(self, &w, sizeof(w)) ? CHILD_LOST : 0;
}

/*
 * WIPEONFORK by flag (whole mapping) or by advice (pages 1-2), then pages 1
 * and 2 punched and reverted after construction and written again: the child
 * reads zeros there, the parent keeps its data.
 */
static void wipeonfork_case(bool by_flag)
{
	struct fx f = make(MMAPKIT_ANON_PRIVATE, 4 * pg(), by_flag ? MMAPKIT_WIPEONFORK : 0);
	const bool wiped[4] = {by_flag, true, true, by_flag};
	struct wipe_report w;
	struct proc c;

	if (!by_flag)
		ck_assert_int_eq(mmapkit_advise(f.m, pg(), 2 * pg(), MMAPKIT_ADV_WIPEONFORK), 0);
	memset(f.p, 0x66, f.len);
	ck_assert_int_eq(mmapkit_punch(f.m, pg(), pg()), 0);
	ck_assert_int_eq(mmapkit_revert(f.m, 2 * pg(), pg()), 0);
	memset(f.p, 0x66, f.len);
	c = spawn(child_count_wiped, &f);
	recv_all(&c, &w, sizeof(w));
	finish(&c, "WIPEONFORK");
	ck_assert_uint_eq(w.wrong, 0);
	for (size_t page = 0; page < 4; page++)
		ck_assert_msg(w.nonzero[page] == (wiped[page] ? 0 : pg()),
			      "page %zu: the child read %zu non-zero bytes", page, w.nonzero[page]);
	for (size_t i = 0; i < f.len; i++)
		ck_assert_msg(f.p[i] == 0x66, "parent byte %zu is 0x%02x", i, f.p[i]);
	drop(&f);
}

START_TEST(wipeonfork_flag)
{
	wipeonfork_case(true);
}
END_TEST

START_TEST(wipeonfork_advice)
{
	wipeonfork_case(false);
}
END_TEST

/* ---- RDONLY and protection ---- */

START_TEST(rdonly_write_dies)
{
	int kind = kinds[_i];
	struct fx f = make(kind, 2 * pg(), MMAPKIT_RDONLY);
	char what[64];

	snprintf(what, sizeof(what), "%s MMAPKIT_RDONLY write", tu_kind_name(kind));
	ck_assert_uint_eq(expect_touch_ok(f.p + 1, T_READ, 0, what), initial(&f, 1));
	expect_segv(f.p + 1, T_WRITE, what);
	/* The contract: an RDONLY handle never becomes writable. */
	ck_assert_int_eq(mmapkit_protect(f.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE),
			 -EACCES);
	ck_assert_int_eq(mmapkit_protect(f.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_WRITE), -EACCES);
	ck_assert_int_eq(mmapkit_punch(f.m, 0, MMAPKIT_TO_END), -EACCES);
	expect_segv(f.p + 1, T_WRITE, what);
	ck_assert_uint_eq(f.p[1], initial(&f, 1));
	drop(&f);
}
END_TEST

/* A private mapping made read-only with mmapkit_protect, then read-write again. */
START_TEST(protect_then_write)
{
	int kind = private_kinds[_i];
	struct fx f = make(kind, 2 * pg(), 0);
	const char *what = tu_kind_name(kind);

	f.p[5] = 0x21;
	ck_assert_int_eq(mmapkit_protect(f.m, 0, pg(), MMAPKIT_PROT_READ), 0);
	expect_segv(f.p + 5, T_WRITE, what);
	ck_assert_uint_eq(expect_touch_ok(f.p + pg(), T_WRITE, 0x23, what), 0x23); /* page 1 */
	ck_assert_int_eq(mmapkit_protect(f.m, 0, pg(), MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE), 0);
	ck_assert_uint_eq(expect_touch_ok(f.p + 5, T_WRITE, 0x99, what), 0x99);
	ck_assert_uint_eq(f.p[5], 0x21); /* the child's write was its own */
	f.p[5] = 0x42;
	ck_assert_uint_eq(f.p[5], 0x42);
	if (f.path)
		assert_file_untouched(&f);
	drop(&f);
}
END_TEST

START_TEST(prot_none_read_dies)
{
	int kind = kinds[_i];
	struct fx f = make(kind, 2 * pg(), 0);
	char what[64];

	snprintf(what, sizeof(what), "%s PROT_NONE read", tu_kind_name(kind));
	f.p[pg() + 3] = 0x31;
	ck_assert_int_eq(mmapkit_protect(f.m, pg(), 1, MMAPKIT_PROT_NONE), 0);
	expect_segv(f.p + pg() + 3, T_READ, what);
	ck_assert_uint_eq(expect_touch_ok(f.p + 3, T_READ, 0, what), initial(&f, 3)); /* page 0 */
	ck_assert_int_eq(mmapkit_protect(f.m, pg(), 1, MMAPKIT_PROT_READ), 0);
	ck_assert_uint_eq(expect_touch_ok(f.p + pg() + 3, T_READ, 0, what), 0x31);
	expect_segv(f.p + pg() + 3, T_WRITE, what);
	drop(&f);
}
END_TEST

/* ---- A child lacks the DONTFORK pages: -EFAULT, and unmap spares its own memory ---- */

#define OWN_FILL 0xc7 /* the child's own memory, mapped where its DONTFORK pages were */
#define DF_FILL 0x44  /* the handle's bytes, written by the parent before fork() */
#define DF_PAGES 4

/*
 * A four-page mapping with pages kept out of children: all of them by
 * MMAPKIT_DONTFORK, or pages 1 and 2 by MMAPKIT_ADV_DONTFORK; with or
 * without MMAPKIT_GUARD.  _i = kind index * 4 + by_flag * 2 + guarded.
 */
struct dfx {
	struct fx f;
	bool gone[DF_PAGES];
	bool by_flag;
	size_t guard; /* bytes of guard on each side */
};

static struct dfx make_dontfork(int i)
{
	int kind = kinds[i / 4];
	bool by_flag = i & 2, guarded = i & 1;
	struct dfx d = {.by_flag = by_flag, .guard = guarded ? pg() : 0};

	d.f = make(kind, DF_PAGES * pg(),
		   (by_flag ? MMAPKIT_DONTFORK : 0) | (guarded ? MMAPKIT_GUARD : 0));
	if (!by_flag)
		ck_assert_int_eq(mmapkit_advise(d.f.m, pg(), 2 * pg(), MMAPKIT_ADV_DONTFORK), 0);
	for (size_t p = 0; p < DF_PAGES; p++)
		d.gone[p] = by_flag || p == 1 || p == 2;
	memset(d.f.p, DF_FILL, d.f.len);
	return d;
}

static const char *dontfork_name(const struct dfx *d, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s, %s%s", tu_kind_name(d->f.kind),
		 d->by_flag ? "MMAPKIT_DONTFORK" : "MMAPKIT_ADV_DONTFORK on pages 1-2",
		 d->guard ? ", MMAPKIT_GUARD" : "");
	return buf;
}

/* Nothing is mapped at [a, a + n): a MAP_FIXED_NOREPLACE mapping lands there. */
static bool nothing_at(unsigned char *a, size_t n)
{
	void *p = mmap(a, n, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (p == MAP_FAILED)
		return false;
	munmap(p, n);
	return p == a;
}

/*
 * In the child: map memory of its own where each missing page was; it must
 * land exactly there (MAP_FIXED_NOREPLACE), so the page really is missing.
 */
static void map_own(unsigned char *base, const bool *gone, size_t npages)
{
	for (size_t p = 0; p < npages; p++) {
		unsigned char *a = base + p * pg(), *got;

		if (!gone[p])
			continue;
		got = mmap(a, pg(), PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		TU_CHILD_OK(got == a);
		memset(a, OWN_FILL, pg());
	}
}

/* The child's own pages are still mapped read-write and hold its bytes. */
static void own_intact(unsigned char *base, const bool *gone, size_t npages)
{
	char perms[5];

	for (size_t p = 0; p < npages; p++) {
		unsigned char *a = base + p * pg();

		if (!gone[p])
			continue;
		tu_perms(a, perms);
		TU_CHILD_OK(strcmp(perms, "rw-p") == 0);
		for (size_t i = 0; i < pg(); i++) /* SIGSEGV here: the library unmapped it */
			TU_CHILD_OK(a[i] == OWN_FILL);
	}
}

/*
 * The child unmaps the handle: its own memory at the missing pages survives,
 * and what it had (the other pages, the guards) is released.
 */
static void child_unmap_spares_own(void *arg)
{
	const struct dfx *d = arg;
	unsigned char *base = d->f.p;

	map_own(base, d->gone, DF_PAGES);
	mmapkit_unmap(d->f.m);
	own_intact(base, d->gone, DF_PAGES);
	for (size_t p = 0; p < DF_PAGES; p++)
		if (!d->gone[p])
			TU_CHILD_OK(nothing_at(base + p * pg(), pg()));
	if (d->guard) {
		TU_CHILD_OK(nothing_at(base - d->guard, d->guard));
		TU_CHILD_OK(nothing_at(base + DF_PAGES * pg(), d->guard));
	}
}

/* Fixture i, fn run in a child that must succeed; the parent keeps every page. */
static struct dfx dontfork_in_child(int i, void (*fn)(void *))
{
	struct dfx d = make_dontfork(i);
	char what[128];
	int st = tu_skip_dontfork_hole("dontfork_child") ? 0 : tu_child(fn, &d);

	ck_assert_msg(TU_EXITED(st, 0), "%s: child status 0x%x", dontfork_name(&d, what, sizeof(what)),
		      st);
	for (size_t b = 0; b < d.f.len; b++)
		TU_BYTE_EQ(d.f.p[b], DF_FILL, b);
	return d;
}

START_TEST(dontfork_unmap_in_child)
{
	struct dfx d = dontfork_in_child(_i, child_unmap_spares_own);

	drop(&d.f);
}
END_TEST

/* r is -EFAULT and the message says why. */
static void child_efault(int r)
{
	TU_CHILD_OK(r == -EFAULT);
	TU_CHILD_OK(strstr(mmapkit_errmsg(), "MMAPKIT_DONTFORK") != NULL);
}

/*
 * Every range operation over a range that touches a missing page: -EFAULT,
 * and nothing changes (the child's own memory there, the pages it has).
 * Ranges that touch only pages it has work.
 */
static void child_ops_refused(void *arg)
{
	const struct dfx *d = arg;
	mmapkit_map *m = d->f.m;
	unsigned char *base = d->f.p;
	const size_t offs[][2] = {{pg() + 5, 10}, {0, MMAPKIT_TO_END}, {2 * pg() - 1, 2}};
	char perms[5];

	map_own(base, d->gone, DF_PAGES);
	for (size_t r = 0; r < TU_LEN(offs); r++) {
		size_t off = offs[r][0], len = offs[r][1];

		child_efault(mmapkit_punch(m, off, len));
		if (tu_kind_is_private(d->f.kind))
			child_efault(mmapkit_revert(m, off, len));
		if (d->f.kind == MMAPKIT_FILE_SHARED)
			child_efault(mmapkit_sync(m, off, len, 0));
		child_efault(mmapkit_protect(m, off, len, MMAPKIT_PROT_READ));
		child_efault(mmapkit_protect(m, off, len, MMAPKIT_PROT_NONE));
		child_efault(mmapkit_lock(m, off, len, 0));
		child_efault(mmapkit_lock(m, off, len, MMAPKIT_LOCK_ONFAULT));
		child_efault(mmapkit_unlock(m, off, len));
		child_efault(mmapkit_advise(m, off, len, MMAPKIT_ADV_DONTNEED));
		child_efault(mmapkit_advise(m, off, len, MMAPKIT_ADV_WILLNEED));
		child_efault(mmapkit_advise(m, off, len, MMAPKIT_ADV_DONTFORK));
		/* DOFORK cannot bring back what the child never got */
		child_efault(mmapkit_advise(m, off, len, MMAPKIT_ADV_DOFORK));
		child_efault(mmapkit_advise(m, off, len, MMAPKIT_ADV_DONTFORK));
	}
	own_intact(base, d->gone, DF_PAGES);
	/* Empty ranges stay empty: 0, nothing done. */
	TU_CHILD_OK(mmapkit_punch(m, pg(), 0) == 0);
	TU_CHILD_OK(mmapkit_protect(m, pg(), 0, MMAPKIT_PROT_NONE) == 0);
	if (!d->by_flag) { /* pages 0 and 3 are the child's: they work, and kept their bytes */
		TU_CHILD_OK(base[0] == DF_FILL && base[3 * pg()] == DF_FILL);
		TU_CHILD_OK(mmapkit_protect(m, 0, 1, MMAPKIT_PROT_READ) == 0);
		tu_perms(base, perms);
		TU_CHILD_OK(strcmp(perms, "r--p") == 0 || strcmp(perms, "r--s") == 0);
		TU_CHILD_OK(mmapkit_protect(m, 0, pg(), MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE) == 0);
		TU_CHILD_OK(mmapkit_advise(m, 3 * pg(), pg(), MMAPKIT_ADV_WILLNEED) == 0);
		TU_CHILD_OK(mmapkit_advise(m, 3 * pg(), 1, MMAPKIT_ADV_DOFORK) == 0);
		if (tu_kind_is_private(d->f.kind)) {
			TU_CHILD_OK(mmapkit_punch(m, 3 * pg() + 1, MMAPKIT_TO_END) == 0);
			TU_CHILD_OK(base[3 * pg()] == DF_FILL && base[3 * pg() + 1] == 0);
		}
	}
	own_intact(base, d->gone, DF_PAGES);
	mmapkit_unmap(m);
	own_intact(base, d->gone, DF_PAGES);
}

/* The file behind a dontfork fixture: the parent's bytes where they reach it. */
static unsigned char df_file(const struct fx *f, size_t i)
{
	return f->kind == MMAPKIT_FILE_SHARED ? DF_FILL : initial(f, i);
}

START_TEST(dontfork_ops_in_child)
{
	struct dfx d = dontfork_in_child(_i, child_ops_refused);

	if (d.f.path)
		assert_file(&d.f, df_file);
	/* The parent's handle works on every page. */
	ck_assert_int_eq(mmapkit_protect(d.f.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ), 0);
	ck_assert_int_eq(mmapkit_advise(d.f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DOFORK), 0);
	drop(&d.f);
}
END_TEST

/*
 * The 0.2 range calls in the same child: read and write, resident, stats,
 * name, resize, seal (MMAPKIT_SEAL_WRITE remaps) over a range touching a
 * missing page: -EFAULT before anything is done, the child's own memory
 * there intact, the handle's length unchanged.
 */
static void child_02_ops_refused(void *arg)
{
	const struct dfx *d = arg;
	mmapkit_map *m = d->f.m;
	unsigned char *base = d->f.p;
	const size_t offs[][2] = {{pg() + 5, 10}, {0, DF_PAGES * pg()}, {2 * pg() - 1, 2}};
	unsigned char buf[DF_PAGES * 4096], vec[DF_PAGES + 1];
	struct mmapkit_stats st = {.sz = sizeof(st)};
	uint64_t bytes = 0;

	map_own(base, d->gone, DF_PAGES);
	memset(buf, 0x11, sizeof(buf));
	for (size_t r = 0; r < TU_LEN(offs); r++) {
		size_t off = offs[r][0], len = offs[r][1] < sizeof(buf) ? offs[r][1] : sizeof(buf);

		child_efault(mmapkit_read(m, off, buf, len));
		child_efault(mmapkit_write(m, off, buf, len));
		child_efault(mmapkit_resident(m, off, len, &bytes, NULL));
		child_efault(mmapkit_resident(m, off, len, &bytes, vec));
	}
	child_efault(mmapkit_stats(m, &st));
	if (!tu_kind_is_file(d->f.kind)) {
		child_efault(mmapkit_name(m, "mmapkit-child"));
		child_efault(mmapkit_name(m, NULL));
	}
	child_efault(mmapkit_resize(m, pg(), 0));
	child_efault(mmapkit_resize(m, 2 * DF_PAGES * pg(), 0));
	TU_CHILD_OK(mmapkit_len(m) == DF_PAGES * pg());
	if (d->f.kind == MMAPKIT_FILE_SHARED)
		child_efault(mmapkit_seal(m, MMAPKIT_SEAL_WRITE));
	own_intact(base, d->gone, DF_PAGES);
	mmapkit_unmap(m);
	own_intact(base, d->gone, DF_PAGES);
}

START_TEST(dontfork_02_ops_in_child)
{
	struct dfx d = dontfork_in_child(_i, child_02_ops_refused);

	if (d.f.path)
		assert_file(&d.f, df_file);
	drop(&d.f);
}
END_TEST

/* fork() without Check: for a grandchild, which must not run Check's assertions. */
static int grandchild(void (*fn)(void *), void *arg)
{
	int st;
	pid_t pid = fork();

	if (pid == 0) {
		alarm(CHILD_ALARM);
		fn(arg);
		_exit(0);
	}
	return pid > 0 && waitpid(pid, &st, 0) == pid ? st : -1;
}

/* What the grandchild gets: a handle with page 1 from the parent and page 2 from the
 * child kept out, and one the child never used, all DONTFORK in the parent. */
struct lineage {
	struct fx f;     /* pages 1 (parent) and 2 (child) DONTFORK */
	struct fx whole; /* MMAPKIT_DONTFORK, untouched by the child */
};

static void grandchild_sees(void *arg)
{
	const struct lineage *l = arg;
	const bool gone[DF_PAGES] = {false, true, true, false};
	unsigned char *base = l->f.p;

	child_efault(mmapkit_protect(l->f.m, pg(), 1, MMAPKIT_PROT_READ));
	child_efault(mmapkit_protect(l->f.m, 2 * pg(), 1, MMAPKIT_PROT_READ));
	child_efault(mmapkit_protect(l->whole.m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ));
	TU_CHILD_OK(mmapkit_protect(l->f.m, 0, 1, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE) == 0);
	TU_CHILD_OK(mmapkit_protect(l->f.m, 3 * pg(), 1, MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE) == 0);
	map_own(base, gone, DF_PAGES);
	mmapkit_unmap(l->f.m);
	own_intact(base, gone, DF_PAGES);
	TU_CHILD_OK(nothing_at(base, pg()) && nothing_at(base + 3 * pg(), pg()));
	map_own(l->whole.p, (const bool[]){true, true}, 2);
	mmapkit_unmap(l->whole.m);
	own_intact(l->whole.p, (const bool[]){true, true}, 2);
}

static void child_dofork_and_grandchild(void *arg)
{
	const struct lineage *l = arg;
	const bool gone[DF_PAGES] = {false, true, false, false};
	mmapkit_map *m = l->f.m;
	unsigned char *base = l->f.p;
	int st;

	child_efault(mmapkit_advise(m, pg(), pg(), MMAPKIT_ADV_DOFORK));
	child_efault(mmapkit_advise(m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DOFORK));
	/* The child keeps page 2 from its own children. */
	TU_CHILD_OK(mmapkit_advise(m, 2 * pg(), pg(), MMAPKIT_ADV_DONTFORK) == 0);
	child_efault(mmapkit_advise(m, pg(), pg(), MMAPKIT_ADV_DOFORK));
	st = grandchild(grandchild_sees, arg);
	TU_CHILD_OK(TU_EXITED(st, 0));
	/* The child has page 2 (its own DONTFORK), not page 1. */
	TU_CHILD_OK(mmapkit_protect(m, 2 * pg(), pg(), MMAPKIT_PROT_READ | MMAPKIT_PROT_WRITE) == 0);
	TU_CHILD_OK(base[2 * pg()] == DF_FILL);
	child_efault(mmapkit_protect(m, pg(), 1, MMAPKIT_PROT_READ));
	map_own(base, gone, DF_PAGES);
	mmapkit_unmap(m);
	own_intact(base, gone, DF_PAGES);
	TU_CHILD_OK(nothing_at(base, pg()) && nothing_at(base + 2 * pg(), 2 * pg()));
}

START_TEST(dontfork_grandchild)
{
	int kind = kinds[_i];
	struct lineage l = {make(kind, DF_PAGES * pg(), 0), make(kind, 2 * pg(), MMAPKIT_DONTFORK)};
	int st;

	ck_assert_int_eq(mmapkit_advise(l.f.m, pg(), pg(), MMAPKIT_ADV_DONTFORK), 0);
	memset(l.f.p, DF_FILL, l.f.len);
	st = tu_skip_dontfork_hole("dontfork_child") ? 0 : tu_child(child_dofork_and_grandchild, &l);
	ck_assert_msg(TU_EXITED(st, 0), "%s: child status 0x%x", tu_kind_name(kind), st);
	for (size_t i = 0; i < l.f.len; i++)
		TU_BYTE_EQ(l.f.p[i], DF_FILL, i);
	ck_assert_int_eq(mmapkit_advise(l.f.m, 0, MMAPKIT_TO_END, MMAPKIT_ADV_DOFORK), 0);
	drop(&l.whole);
	drop(&l.f);
}
END_TEST

/* ---- Locks are not inherited ---- */

/*
 * The kernel does not pass mlock to a fork() child, but the child's copy of
 * the handle still records the range as locked (mmapkit_lock(3)): destructive
 * advice stays refused until the child calls mmapkit_unlock, which then lets it
 * through.  The parent's lock and record are untouched.
 */
static void child_lock_record(void *arg)
{
	const struct fx *f = arg;
	unsigned char want = tu_kind_is_shared(f->kind) ? 0x5a : initial(f, 1);

	TU_CHILD_OK(!tu_has_vmflag(f->p, "lo"));
	TU_CHILD_OK(mmapkit_advise(f->m, 0, pg(), MMAPKIT_ADV_DONTNEED) == -EINVAL);
	TU_CHILD_OK(mmapkit_unlock(f->m, 0, MMAPKIT_TO_END) == 0);
	TU_CHILD_OK(mmapkit_advise(f->m, 0, pg(), MMAPKIT_ADV_DONTNEED) == 0);
	TU_CHILD_OK(f->p[1] == want);
}

START_TEST(lock_record_in_child)
{
	int kind = kinds[_i];
	struct fx f = make(kind, 2 * pg(), MMAPKIT_LOCK);
	int st;

	f.p[1] = 0x5a;
	ck_assert(tu_has_vmflag(f.p, "lo"));
	st = tu_child(child_lock_record, &f);
	ck_assert_msg(TU_EXITED(st, 0), "%s: child status 0x%x", tu_kind_name(kind), st);
	ck_assert(tu_has_vmflag(f.p, "lo"));
	ck_assert_int_eq(mmapkit_advise(f.m, 0, pg(), MMAPKIT_ADV_DONTNEED), -EINVAL);
	ck_assert_uint_eq(f.p[1], 0x5a);
	drop(&f);
}
END_TEST

#define NKINDS(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* Above CHILD_ALARM: a hung child is reported as such. */
#define TCASE_TIMEOUT 30

Suite *suite_fork(void)
{
	Suite *s = suite_create("fork");
	TCase *tc;

	tc = tu_tcase(s, "table", TCASE_TIMEOUT);
	tcase_add_loop_test(tc, parent_write_after_fork, 0, NKINDS(kinds));
	tcase_add_loop_test(tc, child_write_after_fork, 0, NKINDS(kinds));
	tcase_add_loop_test(tc, file_after_both_wrote, 0, NKINDS(file_kinds));

	tc = tu_tcase(s, "unrelated", TCASE_TIMEOUT);
	tcase_add_test(tc, peer_shared_both_ways);
	tcase_add_test(tc, peer_private_sees_file);
	tcase_add_test(tc, pwrite_seen_by_shared);
	tcase_add_test(tc, pwrite_and_private_pages);

	tc = tu_tcase(s, "cow", TCASE_TIMEOUT);
	tcase_add_loop_test(tc, cow_measured, 0, NKINDS(private_kinds));

	tc = tu_tcase(s, "punch", TCASE_TIMEOUT);
	tcase_add_test(tc, anon_shared_punch_in_child);
	tcase_add_test(tc, file_shared_punch_in_child);
	tcase_add_loop_test(tc, private_punch_revert_in_child, 0, NKINDS(private_kinds));

	tc = tu_tcase(s, "inherit", TCASE_TIMEOUT);
	tcase_add_loop_test(tc, dontfork_flag, 0, NKINDS(kinds));
	tcase_add_loop_test(tc, dontfork_advice, 0, NKINDS(kinds));
	tcase_add_test(tc, wipeonfork_flag);
	tcase_add_test(tc, wipeonfork_advice);
	tcase_add_loop_test(tc, lock_record_in_child, 0, NKINDS(kinds));

	tc = tu_tcase(s, "dontfork_child", TCASE_TIMEOUT);
	tcase_add_loop_test(tc, dontfork_unmap_in_child, 0, 4 * NKINDS(kinds));
	tcase_add_loop_test(tc, dontfork_ops_in_child, 0, 4 * NKINDS(kinds));
	tcase_add_loop_test(tc, dontfork_02_ops_in_child, 0, 4 * NKINDS(kinds));
	tcase_add_loop_test(tc, dontfork_grandchild, 0, NKINDS(kinds));

	tc = tu_tcase(s, "protect", TCASE_TIMEOUT);
	tcase_add_loop_test(tc, rdonly_write_dies, 0, NKINDS(kinds));
	tcase_add_loop_test(tc, protect_then_write, 0, NKINDS(private_kinds));
	tcase_add_loop_test(tc, prot_none_read_dies, 0, NKINDS(kinds));
	return s;
}
