#!/bin/bash
# SPDX-License-Identifier: MIT
# version_test.sh SOURCE_DIR PROJECT_VERSION LIBRARY
#
# The version is written once, as MMAPKIT_VERSION_STRING in include/mmapkit.h; the
# CMake project (and through it the shared library's file name, mmapkit.pc and the
# package version file) reads it from there.  This checks that every other place
# that spells it agrees: the header's MAJOR/MINOR/PATCH macros, the project,
# mmapkit_version() of the built library, its SONAME, the man pages' title lines,
# the Python binding, and the tests that compare against it.
set -uo pipefail

src=${1:?usage: version_test.sh SOURCE_DIR PROJECT_VERSION LIBRARY}
project=${2:?}
lib=${3:?}
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

h=$src/include/mmapkit.h
ver=$(sed -n 's/^#define MMAPKIT_VERSION_STRING "\(.*\)"$/\1/p' "$h")
maj=$(sed -n 's/^#define MMAPKIT_VERSION_MAJOR \([0-9]*\)$/\1/p' "$h")
min=$(sed -n 's/^#define MMAPKIT_VERSION_MINOR \([0-9]*\)$/\1/p' "$h")
pat=$(sed -n 's/^#define MMAPKIT_VERSION_PATCH \([0-9]*\)$/\1/p' "$h")
[[ $ver =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || bad "mmapkit.h: MMAPKIT_VERSION_STRING is '$ver'"
[ "$maj.$min.$pat" = "$ver" ] || bad "mmapkit.h: MAJOR.MINOR.PATCH $maj.$min.$pat, string $ver"
[ "$project" = "$ver" ] || bad "CMake project version $project, header $ver"

# The built library: what mmapkit_version() returns, and its SONAME.
got=$(python3 -c 'import ctypes, sys
l = ctypes.CDLL(sys.argv[1]); l.mmapkit_version.restype = ctypes.c_char_p
print(l.mmapkit_version().decode())' "$lib" 2>&1) || bad "calling mmapkit_version(): $got"
[ "$got" = "$ver" ] || bad "mmapkit_version() returns '$got', header $ver"
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
[ "$soname" = "libmmapkit.so.$maj" ] || bad "SONAME $soname, header major $maj"

# Every man page names the version in its title line.
for page in "$src"/docs/man/man[37]/*.[37]; do
	th=$(grep -m1 '^\.TH ' "$page")
	case $th in
	*'"mmapkit-'"$ver"'"'*) ;;
	*'"mmapkit-'*) bad "${page#"$src"/}: '$th' names another version" ;;
	esac
done

# Other spellings: the Python binding and the tests that hold the library to it.
expect() { # file text (@V@: the version)
	local f=$src/$1 want=${2//@V@/$ver}
	grep -qF -- "$want" "$f" || bad "$1 does not say: $want"
}
expect bindings/python/mmapkit/__init__.py "VERSION_STRING = \"@V@\""
expect bindings/python/mmapkit/__init__.py "VERSION_MAJOR = $maj"
expect bindings/python/mmapkit/__init__.py "VERSION_MINOR = $min"
expect bindings/python/mmapkit/__init__.py "VERSION_PATCH = $pat"
expect bindings/python/tests/test_lowlevel.py 'b"@V@"'
expect tests/check_access.c 'mmapkit_version(), "@V@"'
expect tests/consumer/expected.txt "version @V@ (header @V@)"

# The version script's nodes are releases up to this one, none later.
while read -r node; do
	n=${node#MMAPKIT_}
	if [ "${n%%.*}" -gt "$maj" ] || { [ "${n%%.*}" -eq "$maj" ] && [ "${n#*.}" -gt "$min" ]; }; then
		bad "lib/libmmapkit.map: node $node is later than $ver"
	fi
done < <(grep -o '^MMAPKIT_[0-9]*\.[0-9]*' "$src/lib/libmmapkit.map")

((fail)) && exit 1
echo "version: $ver everywhere (header, project, library, SONAME, man pages, binding, tests)"
