#!/bin/bash
# SPDX-License-Identifier: MIT
#
# abi_selftest.sh: prove that abi_check.sh catches what it should and lets through
# what it should.  Builds libmmapkit.so.0 from a copy of include/ and lib/ with one
# change each (with debug info, the real version script and SONAME) and checks
# abi_check.sh's verdict and message:
#
#   unchanged (cc, and clang if present)          passes
#   a member inserted in struct mmapkit_opts      fails: layout changed
#   a member appended to struct mmapkit_opts      passes: documented suppression
#   mmapkit_len() returning uint32_t              fails: function changed
#   mmapkit_revert() dropped from header and map  fails: removed
#   a new function in the released node           fails: needs a new node
#   a new function in a new node MMAPKIT_0.2      passes: an addition
#   a new function the header declares only       fails: header and map differ
#
# A change that no longer applies (the sources moved on) fails loudly.

set -euo pipefail

for tool in abidiff abidw "${CC:-cc}" pkg-config; do
	if ! command -v "$tool" >/dev/null; then
		echo "abi_selftest: $tool not found (apt-get install abigail-tools gcc pkg-config): skipped"
		exit 77
	fi
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
check=$here/abi_check.sh
cc=${CC:-cc}
bsd=$(pkg-config --cflags --libs libbsd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# mutate FILE SED-SCRIPT: edit a copied file, and insist that it changed.
mutate() {
	cp "$1" "$1.orig"
	sed -i "$2" "$1"
	if cmp -s "$1" "$1.orig"; then
		echo "abi_selftest: the change '$2' no longer applies to $1" >&2
		exit 1
	fi
	rm "$1.orig"
}

variant() {
	mkdir -p "$work/$1"
	cp -r "$root/include" "$root/lib" "$work/$1/"
	echo "$work/$1"
}

build() {
	local dir=$1 compiler=${2:-$cc}
	# shellcheck disable=SC2086 # $bsd is a list of flags
	(cd "$dir" && "$compiler" -std=c11 -g -O1 -fPIC -fvisibility=hidden -shared \
		-Wl,--version-script=lib/libmmapkit.map -Wl,-soname,libmmapkit.so.0 \
		-Iinclude -Ilib lib/*.c $bsd -o libmmapkit.so.0)
}

# expect NAME DIR STATUS TEXT: abi_check.sh on DIR's library exits STATUS, saying TEXT.
expect() {
	local name=$1 dir=$2 want=$3 text=$4 rc=0
	MMAPKIT_ABI_ROOT=$dir "$check" "$dir/libmmapkit.so.0" >"$dir/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ] && grep -qF -- "$text" "$dir/out"; then
		echo "ok: $name (status $rc)"
	else
		echo "FAIL: $name: status $rc (want $want), looking for '$text' in:" >&2
		sed 's/^/    /' "$dir/out" >&2
		failures=$((failures + 1))
	fi
}

add_extra() {
	mutate "$1/include/mmapkit.h" 's|^MMAPKIT_API const char \*mmapkit_strerror(int err);|&\nMMAPKIT_API int mmapkit_extra(void);|'
	printf '\nint mmapkit_extra(void)\n{\n\treturn 0;\n}\n' >>"$1/lib/error.c"
}

d=$(variant same)
build "$d"
# (ok: identical, or only additions in a new node once 0.2 functions exist)
expect "unchanged" "$d" 0 "abi_check: ok: "

if command -v clang >/dev/null; then
	d=$(variant clang)
	build "$d" clang
	expect "unchanged, built by clang" "$d" 0 "abi_check: ok: "
fi

d=$(variant opts-insert)
mutate "$d/include/mmapkit.h" 's|^\(\tsize_t sz;.*\)$|\1\n\tint inserted;|'
build "$d"
expect "member inserted in mmapkit_opts" "$d" 1 "'int kind' offset changed"

d=$(variant opts-append)
mutate "$d/include/mmapkit.h" 's|^\(\tsize_t len;.*\)$|\1\n\tuint64_t appended;|'
build "$d"
expect "member appended to mmapkit_opts" "$d" 0 "abi_check: ok: "

d=$(variant len-type)
mutate "$d/include/mmapkit.h" 's|^MMAPKIT_API size_t mmapkit_len(|MMAPKIT_API uint32_t mmapkit_len(|'
mutate "$d/lib/map.c" 's|^size_t mmapkit_len(|uint32_t mmapkit_len(|'
build "$d"
expect "mmapkit_len returns uint32_t" "$d" 1 "typedef name changed from size_t to uint32_t"

d=$(variant removed)
mutate "$d/include/mmapkit.h" '/^MMAPKIT_API int mmapkit_revert(/d'
mutate "$d/lib/libmmapkit.map" '/^\t\tmmapkit_revert;/d'
build "$d"
expect "mmapkit_revert removed" "$d" 1 "mmapkit_revert@MMAPKIT_0.1 is in the baseline but no longer exported"

d=$(variant added-old-node)
add_extra "$d"
mutate "$d/lib/libmmapkit.map" 's|^\t\tmmapkit_version;|&\n\t\tmmapkit_extra;|'
build "$d"
expect "new function in MMAPKIT_0.1" "$d" 1 "added to the released node MMAPKIT_0.1"

d=$(variant added-new-node)
add_extra "$d"
if grep -q '^MMAPKIT_0.2 {' "$d/lib/libmmapkit.map"; then
	mutate "$d/lib/libmmapkit.map" '/^MMAPKIT_0.2 {/,/global:/s|global:|&\n\t\tmmapkit_extra;|'
else
	printf '\nMMAPKIT_0.2 {\n\tglobal:\n\t\tmmapkit_extra;\n} MMAPKIT_0.1;\n' >>"$d/lib/libmmapkit.map"
fi
build "$d"
expect "new function in MMAPKIT_0.2" "$d" 0 "new: mmapkit_extra@MMAPKIT_0.2"

d=$(variant header-only)
add_extra "$d"
build "$d"
expect "declared in the header, not in the map" "$d" 1 "-mmapkit_extra"

if [ $failures -ne 0 ]; then
	echo "abi_selftest: $failures failed" >&2
	exit 1
fi
echo "abi_selftest: all verdicts as expected"
