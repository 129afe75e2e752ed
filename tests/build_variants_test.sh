#!/bin/bash
# SPDX-License-Identifier: MIT
# build_variants_test.sh SOURCE_DIR
#
# Builds users make that the main build does not:
#  1. the README's "cmake -S . -B build && cmake --build build && cmake --install
#     build" on a machine without Check: check.pc is hidden from pkg-config (a
#     pkg-config directory holding only libbsd's files); configuring says that
#     the unit tests are skipped, and the build and install work;
#  2. a user's own sanitizer flags, -DCMAKE_C_FLAGS=-fsanitize=address,undefined,
#     with gcc and with clang (whose sanitizer runtime goes into executables
#     only, so the shared library cannot be linked with --no-undefined): the
#     library builds and links, an example runs sanitized, and a consumer built
#     with the same flags runs against the installed library.
# The first build uses clang with the sanitizer flags too (one build for both).
# Exits 77 (skipped) when neither compiler is there.
set -uo pipefail

src=$(cd "${1:?usage: build_variants_test.sh SOURCE_DIR}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/mmapkit-variants.XXXXXX")
trap 'rm -rf "$work"' EXIT
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}
san=-fsanitize=address,undefined
export ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1
jobs=${MMAPKIT_VARIANT_JOBS:-2}

# A pkg-config directory with libbsd (and what it requires) but no check.pc.
pc=$work/pkgconfig
mkdir -p "$pc"
for mod in libbsd $(pkg-config --print-requires --print-requires-private libbsd 2>/dev/null |
	awk '{print $1}'); do
	f=$(pkg-config --variable=pcfiledir "$mod")/$mod.pc
	[ -f "$f" ] && ln -s "$f" "$pc/"
done
PKG_CONFIG_LIBDIR=$pc pkg-config --exists check && bad "check.pc is still visible"

variant() { # name compiler extra-cmake-args...
	local name=$1 cc=$2 dir=$work/$1
	shift 2
	local t0=$SECONDS
	if ! cmake -S "$src" -B "$dir" -DCMAKE_C_COMPILER="$cc" "-DCMAKE_C_FLAGS=$san" "$@" \
		>"$dir.configure.log" 2>&1; then
		tail -30 "$dir.configure.log" >&2
		bad "$name: configure failed"
		return 1
	fi
	if ! nice cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1; then
		grep -E 'error|undefined' "$dir.build.log" | head -20 >&2
		bad "$name: build failed"
		return 1
	fi
	if ! cmake --install "$dir" --prefix "$work/$name-prefix" >"$dir.install.log" 2>&1; then
		tail -20 "$dir.install.log" >&2
		bad "$name: install failed"
		return 1
	fi
	# An example, sanitized, against the library it built.
	if ! out=$(cd "$dir/examples" && TMPDIR=$work ./anon_private 2>&1); then
		echo "$out" | tail -20 >&2
		bad "$name: examples/anon_private failed"
	fi
	# A consumer built with the user's flags against the installed library.
	local lib
	lib=$(dirname "$(find "$work/$name-prefix" -name libmmapkit.so.0 | head -n1)")
	if ! "$cc" $san -o "$work/$name-consumer" "$src/tests/consumer/consumer.c" \
		-I"$work/$name-prefix/include" -L"$lib" -lmmapkit 2>"$work/$name-consumer.log" ||
		! out=$(LD_LIBRARY_PATH=$lib "$work/$name-consumer" "$work/$name.data" 2>&1) ||
		! diff -u "$src/tests/consumer/expected.txt" - <<<"$out" >&2; then
		cat "$work/$name-consumer.log" >&2
		bad "$name: the consumer did not build or run"
	fi
	echo "build_variants: $name: configured, built, installed, example and consumer run" \
		"($((SECONDS - t0)) s)"
}

ran=0
if command -v clang >/dev/null; then
	ran=1
	# The README's commands, with Check hidden: the unit tests are skipped, with a message.
	PKG_CONFIG_LIBDIR=$pc variant clang-nocheck clang
	if [ -f "$work/clang-nocheck.configure.log" ]; then
		grep -q 'Check not found' "$work/clang-nocheck.configure.log" ||
			bad "configuring without Check does not say that the unit tests are skipped"
		[ -e "$work/clang-nocheck/tests/check_mmapkit" ] &&
			bad "check_mmapkit was built without Check"
	fi
fi
if command -v gcc >/dev/null; then
	ran=1
	variant gcc gcc -DMMAPKIT_BUILD_TESTS=OFF
fi
((ran)) || { echo "build_variants: no gcc or clang; skipped"; exit 77; }
((fail)) && exit 1
echo "build_variants: OK"
