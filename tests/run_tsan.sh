#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run_tsan.sh [BUILD_DIR]
#
# ThreadSanitizer run of the thread tests, in their own build directory
# (default: build-tsan in the source tree):
#   1. tests/stress_threads.c with the plain library sources: 8 workers x 10,000
#      create/operate/unmap cycles over all kinds, 2 readers of shared handles;
#   2. the Check runner's "threads" suite (tests/check_threads.c), built with
#      -fsanitize=thread through CMake, by gcc: its shared TSan runtime lets the
#      shared library link with --no-undefined (clang's static one does not).
# Any race report fails the run (halt_on_error).  Prints
# "run_tsan: N passed, M failed" last; exits non-zero if anything failed.
#
# Environment: CLANG (default clang), UNIT_CC (default gcc), STRESS_ARGS
# ("WORKERS CYCLES READERS", default "8 10000 2").
set -u

root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$root/build-tsan}
cc=${CLANG:-clang}
mkdir -p "$build" || exit 2
build=$(cd "$build" && pwd)
TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export TSAN_OPTIONS
passed=0
failed=0

result() { # NAME STATUS
	if [ "$2" -eq 0 ]; then
		passed=$((passed + 1))
		echo "run_tsan: $1: passed"
	else
		failed=$((failed + 1))
		echo "run_tsan: $1: FAILED (exit $2)"
	fi
}

# 1. The standalone stress program.
bsd_libs=$(pkg-config --libs libbsd 2>/dev/null || echo -lbsd)
echo "run_tsan: building $build/stress_threads"
# shellcheck disable=SC2086 # bsd_libs is a word list
if "$cc" -g -O1 -std=c11 -Wall -Wextra -Werror -fsanitize=thread -fno-omit-frame-pointer \
	-I"$root/include" -I"$root/lib" "$root"/lib/*.c "$root/tests/stress_threads.c" \
	$bsd_libs -lpthread -o "$build/stress_threads"; then
	# shellcheck disable=SC2086 # STRESS_ARGS is a word list
	TMPDIR=${TMPDIR:-/tmp} "$build/stress_threads" ${STRESS_ARGS:-8 10000 2}
	result stress_threads $?
else
	result "stress_threads (build)" 1
fi

# 2. The Check suite of the thread tests, if there is one.
if [ -f "$root/tests/check_threads.c" ]; then
	echo "run_tsan: building the unit runner with -fsanitize=thread in $build/unit"
	# The TSan runtime maps memory of its own (thread shadows), as ASan does:
	# mapping counts mean nothing there (testutil.h's TU_MAPS_RELIABLE).
	if CC=${UNIT_CC:-gcc} cmake -S "$root" -B "$build/unit" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DMMAPKIT_BUILD_EXAMPLES=OFF -DMMAPKIT_SANITIZE=OFF \
		-DCMAKE_C_FLAGS="-fsanitize=thread -fno-omit-frame-pointer -DTU_MAPS_RELIABLE=0" \
		-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread \
		-DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread >"$build/unit-configure.log" 2>&1 &&
		cmake --build "$build/unit" --target check_mmapkit -j2 >"$build/unit-build.log" 2>&1; then
		TMPDIR=${TMPDIR:-/tmp} CK_RUN_SUITE=threads "$build/unit/tests/check_mmapkit"
		result "check_mmapkit threads suite" $?
	else
		tail -n 20 "$build/unit-configure.log" "$build/unit-build.log" 2>/dev/null
		result "check_mmapkit threads suite (build)" 1
	fi
fi

echo "run_tsan: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
