/* SPDX-License-Identifier: MIT */
/* The one Check runner: every tests/check_<area>.c contributes suite_<area>(). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/utsname.h>

#include "internal.h"

#define X(area) Suite *suite_##area(void);
#include "suites.h"
#undef X

/*
 * Which kernel the suites see: the one running, or the older one the test
 * build pretends to be (MMAPKIT_PRETEND_KERNEL=MAJOR.MINOR; a value the
 * library ignores is said on stderr, and this line then names the real one).
 */
static void say_kernel(void)
{
	struct utsname u;
	const char *v = getenv("MMAPKIT_PRETEND_KERNEL");

	if (uname(&u) != 0)
		snprintf(u.release, sizeof(u.release), "?");
	if (mmapkit__kernel_pretending())
		printf("check_mmapkit: pretending to be Linux %s (MMAPKIT_PRETEND_KERNEL) on Linux %s: "
		       "newer kernel features read as absent, fixed mmap and mremap fail as there\n",
		       v ? v : "?", u.release);
	else
		printf("check_mmapkit: the kernel as it is, Linux %s (no MMAPKIT_PRETEND_KERNEL)\n",
		       u.release);
	fflush(stdout);
}

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	say_kernel();
#define X(area) srunner_add_suite(sr, suite_##area());
#include "suites.h"
#undef X
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
