#!/bin/bash
# SPDX-License-Identifier: MIT
# install_test.sh BUILD_DIR SOURCE_DIR
#
# Installs the build tree into a temporary prefix, checks the installed files,
# then builds tests/consumer/consumer.c against the installed tree as users
# would: once with pkg-config, once as a CMake project using
# find_package(mmapkit 0.2 CONFIG REQUIRED) (shared and static targets), and
# runs each, comparing its output with tests/consumer/expected.txt.
set -euo pipefail

if [ $# -ne 2 ]; then
	echo "usage: $0 BUILD_DIR SOURCE_DIR" >&2
	exit 2
fi
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
fail=0

bad() {
	echo "FAIL: $*" >&2
	fail=1
}

# A cache variable of the build tree, or a default when it is unset or empty.
cache() {
	local v
	v=$(sed -n "s/^$1:[A-Z]*=//p" "$build/CMakeCache.txt" | head -n1)
	echo "${v:-$2}"
}

cc=$(cache CMAKE_C_COMPILER cc)
# The version, from the one place it is written.
ver=$(sed -n 's/^#define MMAPKIT_VERSION_STRING "\(.*\)"$/\1/p' "$src/include/mmapkit.h")
maj=${ver%%.*}
min=${ver#*.}
min=${min%%.*}
libdir=$(cache CMAKE_INSTALL_LIBDIR lib)
incdir=$(cache CMAKE_INSTALL_INCLUDEDIR include)
mandir=$(cache CMAKE_INSTALL_MANDIR share/man)
# A sanitized library needs consumers built the same way (clang links the runtime
# into executables only).
san=()
if [ "$(cache MMAPKIT_SANITIZE OFF)" = ON ]; then
	san=(-fsanitize=address,undefined)
	export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
fi

cmake --install "$build" --prefix "$prefix" >"$work/install.log"

# ---- the installed files ----
lib=$prefix/$libdir
cmp -s "$src/include/mmapkit.h" "$prefix/$incdir/mmapkit.h" ||
	bad "$incdir/mmapkit.h missing or different from include/mmapkit.h"
if [ -f "$lib/libmmapkit.so.$ver" ] && [ ! -L "$lib/libmmapkit.so.$ver" ]; then
	soname=$(readelf -d "$lib/libmmapkit.so.$ver" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
	[ "$soname" = "libmmapkit.so.$maj" ] || bad "installed SONAME is '$soname'"
else
	bad "$libdir/libmmapkit.so.$ver is not a regular file"
fi
[ "$(readlink "$lib/libmmapkit.so.$maj" 2>/dev/null)" = "libmmapkit.so.$ver" ] ||
	bad "$libdir/libmmapkit.so.$maj is not a symlink to libmmapkit.so.$ver"
[ "$(readlink "$lib/libmmapkit.so" 2>/dev/null)" = "libmmapkit.so.$maj" ] ||
	bad "$libdir/libmmapkit.so is not a symlink to libmmapkit.so.$maj"
# (grep -q reads a variable, not a pipe: under pipefail an early exit would fail the pipe.)
if [ -f "$lib/libmmapkit.a" ]; then
	syms=$(nm "$lib/libmmapkit.a" 2>/dev/null)
	grep -q ' T mmapkit_anon_private$' <<<"$syms" ||
		bad "libmmapkit.a does not define mmapkit_anon_private"
	# The test build's fault injection must not ship.
	if grep -q 'mmapkit__fault_' <<<"$syms"; then
		bad "libmmapkit.a contains the test build (mmapkit__fault_*)"
	fi
else
	bad "$libdir/libmmapkit.a missing"
fi
pc=$lib/pkgconfig/mmapkit.pc
if [ -f "$pc" ]; then
	grep -qx 'Requires.private: libbsd' "$pc" || bad "mmapkit.pc lacks Requires.private: libbsd"
	grep -qx "Version: $ver" "$pc" || bad "mmapkit.pc version is not $ver"
else
	bad "$libdir/pkgconfig/mmapkit.pc missing"
fi
for f in mmapkitConfig.cmake mmapkitConfigVersion.cmake mmapkitTargets.cmake; do
	[ -f "$lib/cmake/mmapkit/$f" ] || bad "$libdir/cmake/mmapkit/$f missing"
done
# The exported targets name no target of the build (PkgConfig::LIBBSD): the package
# finds libbsd itself.
if grep -q 'PkgConfig::' "$lib/cmake/mmapkit/mmapkitTargets.cmake" 2>/dev/null; then
	bad "mmapkitTargets.cmake names a PkgConfig:: target the consumer would have to make"
fi
# Man pages: each one in docs/man is installed, and each public function has one.
for sect in 3 7; do
	for page in "$src"/docs/man/man$sect/*.$sect; do
		[ -e "$page" ] || continue
		cmp -s "$page" "$prefix/$mandir/man$sect/${page##*/}" ||
			bad "$mandir/man$sect/${page##*/} missing or different"
	done
done
if compgen -G "$src/docs/man/man3/*.3" >/dev/null; then
	for fn in $(grep -oE '^MMAPKIT_API[^(]*[^a-z0-9_]mmapkit_[a-z0-9_]+\(' "$src/include/mmapkit.h" |
		grep -oE 'mmapkit_[a-z0-9_]+'); do
		[ -f "$prefix/$mandir/man3/$fn.3" ] || bad "no man page $mandir/man3/$fn.3"
	done
fi
if [ -e "$src/docs/man/man7/mmapkit.7" ]; then
	[ -f "$prefix/$mandir/man7/mmapkit.7" ] || bad "$mandir/man7/mmapkit.7 missing"
fi

# ---- consumers ----
# Runs a consumer with the installed library and compares its output and file.
run_consumer() {
	local name=$1 exe=$2 data=$work/$1.data
	local out

	if ! out=$(LD_LIBRARY_PATH=$lib "$exe" "$data" 2>&1); then
		bad "$name exited non-zero: $out"
		return
	fi
	if ! diff -u "$src/tests/consumer/expected.txt" - <<<"$out" >&2; then
		bad "$name printed something else"
	fi
	if ! printf 'hello, mmapkit\n' | cmp -s -n 15 - "$data" ||
		[ "$(stat -c %s "$data")" != 100 ] || [ "$(stat -c %a "$data")" != 600 ]; then
		bad "$name did not write its file as expected"
	fi
}

# The shared library the consumer loads is the installed one.
uses_installed() {
	grep -q "=> $lib/libmmapkit.so.0 " <<<"$(LD_LIBRARY_PATH=$lib ldd "$2")" ||
		bad "$1 does not load $lib/libmmapkit.so.0"
}

# pkg-config: the .pc names its configured prefix, so point it at the staging prefix
# (as a packager's staged install would).
export PKG_CONFIG_PATH=$lib/pkgconfig
pcflags=$(pkg-config --define-variable=prefix="$prefix" --cflags --libs mmapkit)
for word in "-I$prefix/$incdir" "-L$lib" -lmmapkit; do
	case " $pcflags " in
	*" $word "*) ;;
	*) bad "pkg-config --cflags --libs lacks $word: '$pcflags'" ;;
	esac
done
# shellcheck disable=SC2086 # pcflags is a list of flags
if "$cc" "${san[@]}" -std=c11 -Wall -Wextra -Werror -o "$work/consumer_pc" \
	"$src/tests/consumer/consumer.c" $pcflags 2>"$work/pc.log"; then
	uses_installed consumer_pc "$work/consumer_pc"
	run_consumer consumer_pc "$work/consumer_pc"
else
	cat "$work/pc.log" >&2
	bad "building consumer.c with pkg-config failed"
fi

# CMake: find_package(mmapkit 0.2 CONFIG REQUIRED), shared and static targets.
if cmake -S "$src/tests/consumer" -B "$work/cmake" -DCMAKE_PREFIX_PATH="$prefix" \
	-DCMAKE_C_COMPILER="$cc" -DCMAKE_C_FLAGS="${san[*]} -Wall -Wextra -Werror" \
	-DCMAKE_BUILD_TYPE=Release >"$work/cmake.log" 2>&1 &&
	cmake --build "$work/cmake" >>"$work/cmake.log" 2>&1; then
	found=$(sed -n 's/^mmapkit_DIR:PATH=//p' "$work/cmake/CMakeCache.txt")
	[ "$found" = "$lib/cmake/mmapkit" ] || bad "find_package found '$found'"
	uses_installed consumer "$work/cmake/consumer"
	run_consumer consumer "$work/cmake/consumer"
	if grep -q libmmapkit <<<"$(ldd "$work/cmake/consumer_static")"; then
		bad "consumer_static loads libmmapkit.so"
	fi
	run_consumer consumer_static "$work/cmake/consumer_static"
else
	cat "$work/cmake.log" >&2
	bad "the CMake consumer project failed to configure or build"
fi

# 0.x: only the same minor version is compatible (SameMinorVersion); later, the same major.
want_found() { # requested-version yes|no
	local d=$work/find-$1
	mkdir -p "$d/src"
	printf '%s\n' 'cmake_minimum_required(VERSION 3.18)' 'project(v NONE)' \
		"find_package(mmapkit $1 CONFIG)" 'message(STATUS "mmapkit_FOUND=${mmapkit_FOUND}")' \
		>"$d/src/CMakeLists.txt"
	cmake -S "$d/src" -B "$d/b" -DCMAKE_PREFIX_PATH="$prefix" >"$d/log" 2>&1
	if ! grep -q "mmapkit_FOUND=$([ "$2" = yes ] && echo 1 || echo 0)" "$d/log"; then
		bad "find_package(mmapkit $1) with $ver installed: expected found=$2"
	fi
}
want_found "$maj.$min" yes
want_found "$ver" yes
want_found "$maj.$((min + 1))" no
want_found "$((maj + 1)).0" no
if [ "$maj" -eq 0 ] && [ "$min" -gt 0 ]; then
	want_found "0.$((min - 1))" no
fi

if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "install: OK, prefix layout checked, pkg-config and CMake consumers built and run"
