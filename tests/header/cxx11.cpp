// SPDX-License-Identifier: MIT
// The header from C++11 (-std=c++11 -pedantic-errors): extern "C" linkage, MMAPKIT_AT with
// alignof and static_cast.
#include <cstdint>
#include <mmapkit.h>

struct rec {
	std::uint64_t id;
	std::uint32_t n;
};

int main()
{
	mmapkit_map *m = nullptr;

	if (mmapkit_anon_private(&m, 4096, MMAPKIT_GUARD))
		return 1;
	rec *r = MMAPKIT_AT(m, rec, 16);
	bool bad = r != reinterpret_cast<rec *>(static_cast<unsigned char *>(mmapkit_ptr(m)) + 16);
	bad = bad || MMAPKIT_AT(m, rec, 4) != nullptr;
	bad = bad || MMAPKIT_AT(m, const rec, 4096) != nullptr;
	bad = bad || mmapkit_protect(m, 0, MMAPKIT_TO_END, MMAPKIT_PROT_READ) != 0;
	mmapkit_unmap(m);
	return bad ? 1 : 0;
}
