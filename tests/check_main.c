/* SPDX-License-Identifier: MIT */
/* The one Check runner: every tests/check_<area>.c contributes suite_<area>(). */
#include <check.h>
#include <stdlib.h>

#define X(area) Suite *suite_##area(void);
#include "suites.h"
#undef X

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define X(area) srunner_add_suite(sr, suite_##area());
#include "suites.h"
#undef X
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
