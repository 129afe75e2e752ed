/* SPDX-License-Identifier: MIT */
/*
 * check_signal.c's fresh process: the very first calls into the library are
 * made from a signal handler.  The async-signal-safe calls (mmapkit(7),
 * Signals) must not reach libc functions that are not async-signal-safe
 * there: this program interposes sysconf and strerrordesc_np (which the
 * library calls through the PLT) and counts the calls made while the handler
 * runs.  Exit status 0 when none was and the answers are right; 1 otherwise,
 * with the reason on stderr.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "mmapkit.h"

static volatile sig_atomic_t in_handler;
static volatile sig_atomic_t unsafe_calls;
static size_t page_in_handler;
static const char *einval_in_handler;
static const char *unknown_in_handler;

/* The interposed functions: count calls from the handler, forward to libc. */
long sysconf(int name)
{
	long (*real)(int) = (long (*)(int))dlsym(RTLD_NEXT, "sysconf");

	if (in_handler)
		unsafe_calls++;
	return real(name);
}

const char *strerrordesc_np(int err)
{
	const char *(*real)(int) = (const char *(*)(int))dlsym(RTLD_NEXT, "strerrordesc_np");

	if (in_handler)
		unsafe_calls++;
	return real(err);
}

static void on_signal(int sig)
{
	(void)sig;
	in_handler = 1;
	page_in_handler = mmapkit_page_size();
	einval_in_handler = mmapkit_strerror(-EINVAL);
	unknown_in_handler = mmapkit_strerror(4000);
	if (mmapkit_ptr(NULL) || mmapkit_len(NULL) || mmapkit_kind(NULL) || mmapkit_flags(NULL) ||
	    mmapkit_offset(NULL) || mmapkit_fd(NULL) != -1)
		unsafe_calls += 100;
	in_handler = 0;
}

int main(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) || raise(SIGUSR1)) {
		perror("sigaction/raise");
		return 1;
	}
	if (unsafe_calls) {
		fprintf(stderr, "sigfirst: %d calls from the handler into functions that are not async-signal-safe (sysconf, strerrordesc_np), or wrong accessor answers\n",
			(int)unsafe_calls);
		return 1;
	}
	if (page_in_handler != (size_t)getpagesize() || !einval_in_handler ||
	    strcmp(einval_in_handler, strerror(EINVAL)) != 0 || !unknown_in_handler ||
	    strcmp(unknown_in_handler, "Unknown error") != 0) {
		fprintf(stderr, "sigfirst: wrong answers in the handler: page size %zu, \"%s\", \"%s\"\n",
			page_in_handler, einval_in_handler ? einval_in_handler : "(null)",
			unknown_in_handler ? unknown_in_handler : "(null)");
		return 1;
	}
	return 0;
}
