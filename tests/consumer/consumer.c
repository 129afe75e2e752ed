/* SPDX-License-Identifier: MIT */
/*
 * A tiny program built against an installed mmapkit, as a user would build
 * it: only <mmapkit.h> and the library.  install_test.sh compares its output.
 * Usage: consumer FILE (a path that does not exist yet).
 */
#include <mmapkit.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int fail(const char *what, int err)
{
	printf("FAIL %s: %d %s: %s\n", what, err, mmapkit_strerror(err), mmapkit_errmsg());
	return 1;
}

int main(int argc, char **argv)
{
	size_t page = mmapkit_page_size();
	mmapkit_map *m = NULL;
	uint32_t *v;
	int err;

	if (argc != 2) {
		fprintf(stderr, "usage: %s FILE\n", argv[0]);
		return 2;
	}
	printf("version %s (header %s)\n", mmapkit_version(), MMAPKIT_VERSION_STRING);

	err = mmapkit_anon_private(&m, 3 * page, MMAPKIT_GUARD);
	if (err)
		return fail("mmapkit_anon_private", err);
	v = MMAPKIT_AT(m, uint32_t, 8);
	*v = 42;
	printf("anon: %zu pages, kind %d, at 8 = %u, at 2 misaligned = %s\n",
	       mmapkit_len(m) / page, mmapkit_kind(m), *MMAPKIT_AT(m, uint32_t, 8),
	       MMAPKIT_AT(m, uint32_t, 2) ? "non-NULL" : "NULL");
	mmapkit_unmap(m);

	err = mmapkit_anon_shared(&m, 0, 0);
	printf("len 0: %s, out %s, errmsg names the call: %s\n",
	       err == -EINVAL ? "-EINVAL" : "unexpected", m ? "set" : "NULL",
	       strstr(mmapkit_errmsg(), "mmapkit_anon_shared") ? "yes" : "no");

	err = mmapkit_file_shared(&m, argv[1], 0, 100, MMAPKIT_CREATE | MMAPKIT_GROW);
	if (err)
		return fail("mmapkit_file_shared", err);
	memcpy(mmapkit_ptr(m), "hello, mmapkit\n", 15);
	err = mmapkit_sync(m, 0, MMAPKIT_TO_END, MMAPKIT_SYNC_FULL);
	if (err)
		return fail("mmapkit_sync", err);
	printf("file: %zu bytes, kind %d, fd owned: %s\n", mmapkit_len(m), mmapkit_kind(m),
	       mmapkit_fd(m) >= 0 ? "yes" : "no");
	mmapkit_unmap(m);
	return 0;
}
