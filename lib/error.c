/* SPDX-License-Identifier: MIT */
/* Error reporting: the thread-local message and static errno text. */
#define _GNU_SOURCE
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <bsd/string.h>

#include "internal.h"

/* Long enough for a call name, a PATH_MAX-sized path and the numbers. */
#define ERRMSG_MAX 4400

static _Thread_local char errmsg[ERRMSG_MAX];

__attribute__((format(printf, 1, 0))) static void vset(const char *fmt, va_list ap, size_t at)
{
	if (at < sizeof(errmsg))
		vsnprintf(errmsg + at, sizeof(errmsg) - at, fmt, ap);
}

int mmapkit__fail(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset(fmt, ap, 0);
	va_end(ap);
	return -err;
}

static size_t used(void)
{
	return strnlen(errmsg, sizeof(errmsg) - 1);
}

/* "call: detail: step failed: reason"; detail may be empty. */
int mmapkit__fail_sys(int err, const char *call, const char *step, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	snprintf(errmsg, sizeof(errmsg), "%s: ", call);
	n = used();
	va_start(ap, fmt);
	vset(fmt, ap, n);
	va_end(ap);
	if (used() > n)
		strlcat(errmsg, ": ", sizeof(errmsg));
	n = used();
	snprintf(errmsg + n, sizeof(errmsg) - n, "%s failed: %s", step, mmapkit_strerror(err));
	return -err;
}

int mmapkit__fail_hint(int ret, const char *hint)
{
	strlcat(errmsg, "; ", sizeof(errmsg));
	strlcat(errmsg, hint, sizeof(errmsg));
	return ret;
}

const char *mmapkit_errmsg(void)
{
	return errmsg;
}

/*
 * The text of every errno, looked up once at library load: mmapkit_strerror()
 * then only reads this table, which makes it async-signal-safe (mmapkit(7),
 * Signals).  strerrordesc_np's texts are static and not translated.
 */
#define ERRTAB_SIZE 256 /* Linux's errnos end at 133 (EHWPOISON) */
static const char *errtab[ERRTAB_SIZE];
static bool errtab_filled;

__attribute__((constructor)) static void errtab_at_load(void)
{
	for (int e = 1; e < ERRTAB_SIZE; e++)
		errtab[e] = strerrordesc_np(e);
	__atomic_store_n(&errtab_filled, true, __ATOMIC_RELEASE);
}

const char *mmapkit_strerror(int err)
{
	const char *s;

	if (err == 0)
		return "Success";
	if (err < 0) {
		if (err == INT_MIN) /* has no positive counterpart */
			return "Unknown error";
		err = -err;
	}
	if (!__atomic_load_n(&errtab_filled, __ATOMIC_ACQUIRE)) /* before the library's load */
		s = strerrordesc_np(err);
	else
		s = err < ERRTAB_SIZE ? errtab[err] : NULL;
	return s ? s : "Unknown error";
}
