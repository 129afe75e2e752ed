/* SPDX-License-Identifier: MIT */
/*
 * check_copy.c's fresh process that loads the shared library with dlopen(),
 * as the LuaJIT and Python bindings do.  The library's thread-local storage
 * (the error text) is then dynamic TLS: glibc allocates a thread's block on
 * that thread's first access to it, with malloc inside __tls_get_addr, which
 * the SIGBUS handler must never cause: the handler runs for every SIGBUS of
 * every thread, at any instruction (BUS_MCEERR_AO and signals sent with
 * kill() arrive asynchronously, inside malloc as well).
 *
 *  1. A new thread's very first call into the library, which is also the
 *     process's first copy (it installs the handler), is a copy that faults:
 *     -EFAULT naming the truncation, the signal mask as it was, the
 *     application's handler not called.
 *  2. A thread that never calls the library takes SIGBUS: a fault of its own
 *     access to the truncated mapping (BUS_ADRERR), and a signal with the
 *     kernel's BUS_MCEERR_AO code sent to it with rt_tgsigqueueinfo().  Both
 *     reach the handler the application installed first, and afterwards the
 *     thread still has no TLS block of the library (dlinfo RTLD_DI_TLS_DATA,
 *     which only reads).  Thread 1 shows that dlinfo sees a block once the
 *     library has touched it.
 *
 * Not under valgrind (tests/run_valgrind.sh runs it natively: no
 * --trace-children): valgrind 3.19 itself dies of the BUS_MCEERR_AO sent.
 *
 * Usage: mmapkit_dlcopy [LIBRARY] (default: the build's libmmapkit.so.0).
 * Exit status 0 when all is right; 1 with the reason on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "mmapkit.h"

#ifndef MMAPKIT_SO_PATH
#define MMAPKIT_SO_PATH "libmmapkit.so.0"
#endif

#define PAGES 4

static void *lib;
static __typeof__(mmapkit_file_shared) *mk_file_shared;
static __typeof__(mmapkit_read) *mk_read;
static __typeof__(mmapkit_ptr) *mk_ptr;
static __typeof__(mmapkit_unmap) *mk_unmap;
static __typeof__(mmapkit_page_size) *mk_page_size;
static __typeof__(mmapkit_errmsg) *mk_errmsg;

static mmapkit_map *map;
static size_t page;
static int failures;

#define CHECK(cond, ...)                                                   \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "dlcopy: %s:%d: ", __FILE__, __LINE__); \
			fprintf(stderr, __VA_ARGS__);                      \
			fputc('\n', stderr);                               \
			failures++;                                        \
		}                                                          \
	} while (0)

/* The application's handler, installed before the first copy. */
static sigjmp_buf app_env;
static volatile sig_atomic_t app_jump, app_calls, app_code;

static void app_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	app_calls++;
	app_code = si->si_code;
	if (app_jump) {
		app_jump = 0;
		siglongjmp(app_env, 1);
	}
	if (si->si_code == BUS_ADRERR) { /* returning would fault again, forever */
		static const char msg[] = "dlcopy: a fault reached the application's handler "
					  "unexpectedly (a copy's fault not caught?)\n";
		ssize_t w = write(2, msg, sizeof(msg) - 1);

		(void)w;
		_exit(1);
	}
}

/* The calling thread's block of the library's TLS, or NULL (reads only). */
static void *tls_block(void)
{
	void *p = (void *)1;

	if (dlinfo(lib, RTLD_DI_TLS_DATA, &p) != 0) {
		CHECK(0, "dlinfo RTLD_DI_TLS_DATA: %s", dlerror());
		return (void *)1;
	}
	return p;
}

static bool same_mask(const sigset_t *a, const sigset_t *b)
{
	for (int sig = 1; sig < SIGRTMIN; sig++)
		if (sigismember(a, sig) != sigismember(b, sig))
			return false;
	return true;
}

static void *first_call_faults(void *arg)
{
	unsigned char buf[16];
	sigset_t before, after;
	int r;

	(void)arg;
	CHECK(!tls_block(), "thread 1: a TLS block of the library before any call");
	pthread_sigmask(SIG_SETMASK, NULL, &before);
	r = mk_read(map, 2 * page + 8, buf, sizeof(buf)); /* past the file's new end */
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	CHECK(r == -EFAULT, "thread 1: first call, a faulting read: %d, want -EFAULT", r);
	CHECK(strstr(mk_errmsg(), "truncated"), "thread 1: message \"%s\"", mk_errmsg());
	CHECK(same_mask(&before, &after), "thread 1: signal mask changed");
	CHECK(app_calls == 0, "thread 1: the application's handler ran %d times",
	      (int)app_calls);
	/* the message lives in the library's TLS: dlinfo sees the block now */
	CHECK(tls_block(), "thread 1: dlinfo shows no TLS block after the library used it");
	return NULL;
}

static void *never_calls(void *arg)
{
	volatile unsigned char *beyond = (unsigned char *)arg;
	siginfo_t si;

	CHECK(!tls_block(), "thread 2: a TLS block of the library before any call");
	app_calls = 0;
	app_jump = 1;
	if (!sigsetjmp(app_env, 1))
		(void)*beyond; /* faults: the page is past the end of the file */
	CHECK(app_calls == 1 && app_code == BUS_ADRERR,
	      "thread 2: its own fault: application handler calls %d, si_code %d",
	      (int)app_calls, (int)app_code);
	memset(&si, 0, sizeof(si));
	si.si_signo = SIGBUS;
	si.si_code = BUS_MCEERR_AO;
	si.si_addr = (void *)beyond;
	app_calls = 0;
	CHECK(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGBUS, &si) == 0,
	      "rt_tgsigqueueinfo: %s", strerror(errno));
	CHECK(app_calls == 1 && app_code == BUS_MCEERR_AO,
	      "thread 2: BUS_MCEERR_AO: application handler calls %d, si_code %d",
	      (int)app_calls, (int)app_code);
	CHECK(!tls_block(), "thread 2: the SIGBUS handler allocated the library's thread-local "
			    "storage in a thread that never called the library");
	return NULL;
}

static void run(void *(*fn)(void *), void *arg)
{
	pthread_t th;

	CHECK(pthread_create(&th, NULL, fn, arg) == 0, "pthread_create");
	pthread_join(th, NULL);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : MMAPKIT_SO_PATH;
	const char *dir = getenv("TMPDIR");
	struct sigaction sa;
	char file[4096];
	int fd, r;

	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!lib) {
		fprintf(stderr, "dlcopy: dlopen %s: %s\n", path, dlerror());
		return 1;
	}
	mk_file_shared = (__typeof__(mk_file_shared))dlsym(lib, "mmapkit_file_shared");
	mk_read = (__typeof__(mk_read))dlsym(lib, "mmapkit_read");
	mk_ptr = (__typeof__(mk_ptr))dlsym(lib, "mmapkit_ptr");
	mk_unmap = (__typeof__(mk_unmap))dlsym(lib, "mmapkit_unmap");
	mk_page_size = (__typeof__(mk_page_size))dlsym(lib, "mmapkit_page_size");
	mk_errmsg = (__typeof__(mk_errmsg))dlsym(lib, "mmapkit_errmsg");
	if (!mk_file_shared || !mk_read || !mk_ptr || !mk_unmap || !mk_page_size || !mk_errmsg) {
		fprintf(stderr, "dlcopy: dlsym: %s\n", dlerror());
		return 1;
	}
	page = mk_page_size();

	snprintf(file, sizeof(file), "%s/mmapkit-dlcopy-XXXXXX", dir && *dir ? dir : "/tmp");
	fd = mkstemp(file);
	if (fd < 0 || ftruncate(fd, (off_t)(PAGES * page)) != 0) {
		fprintf(stderr, "dlcopy: %s: %s\n", file, strerror(errno));
		return 1;
	}
	r = mk_file_shared(&map, file, 0, 0, 0);
	if (r) {
		fprintf(stderr, "dlcopy: mmapkit_file_shared: %s\n", mk_errmsg());
		unlink(file);
		return 1;
	}
	CHECK(ftruncate(fd, (off_t)page) == 0, "ftruncate: %s", strerror(errno));

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = app_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, NULL);

	run(first_call_faults, NULL);
	run(never_calls, (unsigned char *)mk_ptr(map) + 2 * page + 5);

	mk_unmap(map);
	close(fd);
	unlink(file);
	if (failures)
		return 1;
	printf("dlcopy: %s loaded with dlopen: a new thread's first call, a faulting copy, "
	       "answered -EFAULT; a thread that never called the library took two SIGBUS "
	       "through its handler and still has no TLS block of it\n",
	       path);
	return 0;
}
