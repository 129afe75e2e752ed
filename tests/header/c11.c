/* SPDX-License-Identifier: MIT */
/* MMAPKIT_AT under C11 (-std=c11 -pedantic-errors): the typed view with _Alignof. */
#include <stdint.h>
#include <mmapkit.h>

struct rec {
	uint64_t id;
	uint32_t n;
};

int main(void)
{
	mmapkit_map *m = NULL;
	struct rec *r;
	int bad;

	if (mmapkit_anon_private(&m, 4096, 0))
		return 1;
	r = MMAPKIT_AT(m, struct rec, 16);
	bad = r != (struct rec *)((unsigned char *)mmapkit_ptr(m) + 16);
	bad |= MMAPKIT_AT(m, struct rec, 4) != NULL;    /* misaligned for uint64_t */
	bad |= MMAPKIT_AT(m, struct rec, 4096) != NULL; /* past the end */
	bad |= MMAPKIT_AT(m, char, 4095) == NULL;
	if (r)
		r->n = 7;
	mmapkit_unmap(m);
	return bad;
}
