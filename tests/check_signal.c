/* SPDX-License-Identifier: MIT */
/*
 * Async-signal safety (mmapkit(7), Signals): mmapkit_ptr, _len, _kind,
 * _flags, _offset, _fd, _page_size, _version and mmapkit_strerror called from
 * signal handlers (SIGALRM from an interval timer, SIGUSR1 from another
 * thread) that interrupt the main thread while it runs library calls of every
 * sort, and answer right each time; and, in a fresh process, the first calls
 * ever made into the library made from a handler (tests/sigfirst.c).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#ifndef MMAPKIT_SIGFIRST_PATH
#define MMAPKIT_SIGFIRST_PATH "mmapkit_sigfirst"
#endif

/* How long the main thread keeps calling the library while signals arrive. */
#define STORM_MS 300

/* One handle per kind, and what the accessors must answer for it. */
struct expect {
	mmapkit_map *m;
	void *ptr;
	size_t len;
	int kind;
	unsigned flags;
	uint64_t offset;
	int fd;
};

static struct expect sig_want[4];
static size_t sig_page;
static const char *sig_einval, *sig_erange;
static volatile sig_atomic_t sig_runs, sig_runs_in_call, sig_wrong, sig_in_call;

static bool same_text(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

/* Only async-signal-safe calls here (and volatile sig_atomic_t stores). */
static void on_signal(int sig)
{
	int saved = errno;
	bool ok = true;

	(void)sig;
	for (size_t i = 0; i < TU_LEN(sig_want); i++) {
		const struct expect *w = &sig_want[i];

		ok &= mmapkit_ptr(w->m) == w->ptr && mmapkit_len(w->m) == w->len &&
		      mmapkit_kind(w->m) == w->kind && mmapkit_flags(w->m) == w->flags &&
		      mmapkit_offset(w->m) == w->offset && mmapkit_fd(w->m) == w->fd;
	}
	ok &= mmapkit_ptr(NULL) == NULL && mmapkit_len(NULL) == 0 && mmapkit_kind(NULL) == 0 &&
	      mmapkit_flags(NULL) == 0 && mmapkit_offset(NULL) == 0 && mmapkit_fd(NULL) == -1;
	ok &= mmapkit_page_size() == sig_page;
	ok &= mmapkit_strerror(-EINVAL) == sig_einval && mmapkit_strerror(ERANGE) == sig_erange;
	ok &= same_text(mmapkit_strerror(-EINVAL), "Invalid argument");
	ok &= same_text(mmapkit_version(), MMAPKIT_VERSION_STRING);
	sig_runs++;
	if (sig_in_call)
		sig_runs_in_call++;
	if (!ok)
		sig_wrong++;
	errno = saved;
}

static volatile int storm_over;

/* SIGUSR1 to the main thread, as fast as it goes. */
static void *sender(void *arg)
{
	pthread_t main_thread = *(pthread_t *)arg;

	while (!storm_over) {
		pthread_kill(main_thread, SIGUSR1);
		sched_yield();
	}
	return NULL;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Library calls of every sort: constructors, range operations, failures, unmap. */
static void library_calls(const char *path, size_t page)
{
	mmapkit_map *a = NULL, *f = NULL, *none = NULL;

	sig_in_call = 1;
	TU_CHILD_OK(mmapkit_anon_private(&a, 4 * page, MMAPKIT_GUARD | MMAPKIT_DONTFORK) == 0);
	memset(mmapkit_ptr(a), 1, 4 * page);
	TU_CHILD_OK(mmapkit_protect(a, page, page, MMAPKIT_PROT_READ) == 0);
	TU_CHILD_OK(mmapkit_punch(a, 10, 2 * page) == 0);
	TU_CHILD_OK(mmapkit_advise(a, 0, MMAPKIT_TO_END, MMAPKIT_ADV_WILLNEED) == 0);
	TU_CHILD_OK(mmapkit_revert(a, 0, page) == 0);
	TU_CHILD_OK(mmapkit_punch(a, 0, 8 * page) == -ERANGE); /* formats a message */
	TU_CHILD_OK(mmapkit_file_shared(&f, path, 0, 0, 0) == 0);
	((unsigned char *)mmapkit_ptr(f))[1] ^= 1;
	TU_CHILD_OK(mmapkit_sync(f, 0, MMAPKIT_TO_END, 0) == 0);
	TU_CHILD_OK(mmapkit_file_private(&none, "/nonexistent/x", 0, 0, 0) == -ENOENT);
	mmapkit_unmap(f);
	mmapkit_unmap(a);
	sig_in_call = 0;
}

static void child_storm(void *arg)
{
	const char *path = arg;
	size_t page = mmapkit_page_size();
	struct itimerval every = {{0, 200}, {0, 200}}, off = {{0, 0}, {0, 0}};
	struct sigaction sa;
	pthread_t self = pthread_self(), th;
	struct timespec t0;
	unsigned rounds = 0;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	TU_CHILD_OK(sigaction(SIGALRM, &sa, NULL) == 0 && sigaction(SIGUSR1, &sa, NULL) == 0);
	TU_CHILD_OK(setitimer(ITIMER_REAL, &every, NULL) == 0);
	TU_CHILD_OK(pthread_create(&th, NULL, sender, &self) == 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (ms_since(&t0) < STORM_MS) {
		library_calls(path, page);
		rounds++;
	}
	storm_over = 1;
	pthread_join(th, NULL);
	setitimer(ITIMER_REAL, &off, NULL);
	printf("signal: %d handler runs (%d inside library calls) over %u rounds of calls\n",
	       (int)sig_runs, (int)sig_runs_in_call, rounds);
	fflush(stdout);
	TU_CHILD_OK(sig_wrong == 0);
	TU_CHILD_OK(sig_runs_in_call >= 100);
}

/*
 * What the accessors of m must answer, from the constructor's arguments; the
 * pointer is the one whose bytes are the file's (or a fresh mapping's zeros).
 */
static void expect_of(struct expect *w, mmapkit_map *m, int kind, unsigned flags,
		      uint64_t offset, size_t len)
{
	unsigned char *p = mmapkit_ptr(m);

	*w = (struct expect){m, p, len, kind, flags, offset, mmapkit_fd(m)};
	for (size_t i = 0; i < len; i++)
		TU_BYTE_EQ(p[i], tu_kind_is_file(kind) ? tu_pattern(offset + i) : 0, i);
	ck_assert_int_eq(w->fd >= 0, tu_kind_is_file(kind));
}

START_TEST(safe_calls_in_handlers)
{
	size_t page = mmapkit_page_size();
	const char *data = tu_file(3 * page), *scratch = tu_file(page);
	mmapkit_map *m[4] = {NULL, NULL, NULL, NULL};
	int st;

	ck_assert_int_eq(mmapkit_anon_private(&m[0], page, 0), 0);
	ck_assert_int_eq(mmapkit_anon_shared(&m[1], 2 * page, MMAPKIT_GUARD), 0);
	ck_assert_int_eq(mmapkit_file_private(&m[2], data, 100, page, MMAPKIT_RDONLY), 0);
	ck_assert_int_eq(mmapkit_file_shared(&m[3], data, page, 0, MMAPKIT_DONTDUMP), 0);
	expect_of(&sig_want[0], m[0], MMAPKIT_ANON_PRIVATE, 0, 0, page);
	expect_of(&sig_want[1], m[1], MMAPKIT_ANON_SHARED, MMAPKIT_GUARD, 0, 2 * page);
	expect_of(&sig_want[2], m[2], MMAPKIT_FILE_PRIVATE, MMAPKIT_RDONLY, 100, page);
	expect_of(&sig_want[3], m[3], MMAPKIT_FILE_SHARED, MMAPKIT_DONTDUMP, page, 2 * page);
	/* what the handler must see: the kernel's page size, libc's texts */
	sig_page = (size_t)sysconf(_SC_PAGESIZE);
	sig_einval = mmapkit_strerror(EINVAL);
	sig_erange = mmapkit_strerror(-ERANGE);
	ck_assert_str_eq(sig_einval, strerror(EINVAL));
	ck_assert_str_eq(sig_erange, strerror(ERANGE));
	st = tu_child(child_storm, (void *)scratch);
	ck_assert_msg(TU_EXITED(st, 0), "child status 0x%x", st);
	for (size_t i = 0; i < TU_LEN(m); i++)
		mmapkit_unmap(m[i]);
}
END_TEST

/* A fresh process whose first library calls are made from a signal handler. */
START_TEST(first_calls_in_a_handler)
{
	tu_run_helper("MMAPKIT_SIGFIRST", MMAPKIT_SIGFIRST_PATH);
}
END_TEST

Suite *suite_signal(void)
{
	Suite *s = suite_create("signal");
	TCase *tc = tu_tcase(s, "handlers", 30);

	tcase_add_test(tc, safe_calls_in_handlers);
	tcase_add_test(tc, first_calls_in_a_handler);
	return s;
}
