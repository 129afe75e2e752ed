#!/usr/bin/env bash
# Quick start 2: build and run every test.
#
#   1. gcc build (-Wall -Wextra -Werror): every CTest test (Check suites, examples,
#      symbols, install + consumers, man pages, ABI, Python binding, benchmark smoke);
#      the Check suites once more as Linux 6.1 (MMAPKIT_PRETEND_KERNEL=6.1: the test
#      build reads newer kernel features as absent and fails fixed mmap/mremap as 6.1
#      does), so that the fallback paths run too.
#   2. clang build with AddressSanitizer + UndefinedBehaviorSanitizer (leaks detected):
#      the Check suites in one process (CK_FORK=no, so LeakSanitizer sees every test)
#      and the examples.
#   3. ThreadSanitizer stress, valgrind memcheck of the unit suite, bounded fuzz runs
#      (operations on handles; mmapkit_receive of hostile messages).
#
# Set MMAPKIT_QUICK=1 to run stages 1 and 2 only.
set -uo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
out=${MMAPKIT_BUILD_DIR:-$top/build-test}
jobs=$(nproc)
passed=0
failed=0
failures=()

"$top/scripts/deps.sh" test || exit 1

stage() { # name command...
	local name=$1
	shift
	echo
	echo "=== $name"
	if "$@"; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		failures+=("$name")
	fi
}

build() { # dir cmake-args...
	local dir=$1
	shift
	cmake -S "$top" -B "$dir" "$@" >"$dir.configure.log" 2>&1 &&
		cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 ||
		{ cat "$dir.configure.log" "$dir.build.log" 2>/dev/null | tail -50; return 1; }
}

ctest_all() { # dir ctest-args...
	local dir=$1
	shift
	(cd "$dir" && ctest --output-on-failure "$@")
}

# The Check runner through CTest (its test "unit"), verbose so that the runner's
# notes and summary line ("100%: Checks: N, Failures: 0, Errors: 0") are printed.
unit_summary() { # dir env...
	local dir=$1
	shift
	(cd "$dir" && env "$@" ctest -R '^unit$' -V --output-on-failure)
}

mkdir -p "$out"
stage "gcc build" build "$out/gcc" -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo
stage "gcc: Check suites" unit_summary "$out/gcc" TMPDIR="$out/gcc/tests"
stage "gcc: Check suites as Linux 6.1" unit_summary "$out/gcc" TMPDIR="$out/gcc/tests" \
	MMAPKIT_PRETEND_KERNEL=6.1
stage "gcc: all CTest tests" ctest_all "$out/gcc" -E '^unit$'
stage "clang ASan+UBSan build" build "$out/asan" -DCMAKE_C_COMPILER=clang \
	-DCMAKE_BUILD_TYPE=Debug -DMMAPKIT_SANITIZE=ON
stage "asan: Check suites (one process, leaks detected)" unit_summary "$out/asan" \
	CK_FORK=no TMPDIR="$out/asan/tests" \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
stage "asan: examples" ctest_all "$out/asan" -R '^example_'

if [[ -z ${MMAPKIT_QUICK:-} ]]; then
	for s in run_tsan run_valgrind run_fuzz; do
		[[ -f $top/tests/$s.sh ]] || continue
		case $s in
		run_tsan) stage "ThreadSanitizer stress" bash "$top/tests/run_tsan.sh" "$out/tsan" ;;
		run_valgrind) stage "valgrind memcheck" bash "$top/tests/run_valgrind.sh" "$out/gcc" ;;
		# A fixed seed: a red fuzz stage is reproducible from the log alone.
		# Exploration with fresh seeds: tests/run_fuzz.sh SECONDS by hand.
		run_fuzz)
			stage "fuzz (60 s, seed ${MMAPKIT_FUZZ_SEED:-1})" bash \
				"$top/tests/run_fuzz.sh" 60 -seed="${MMAPKIT_FUZZ_SEED:-1}"
			# mmapkit_receive of hostile messages and descriptors
			stage "fuzz receive (30 s, seed ${MMAPKIT_FUZZ_SEED:-1})" env FUZZ_HARNESS=receive \
				bash "$top/tests/run_fuzz.sh" 30 -seed="${MMAPKIT_FUZZ_SEED:-1}" ;;
		esac
	done
fi

echo
((failed)) && printf 'failed stage: %s\n' "${failures[@]}"
echo "test.sh: $passed passed, $failed failed"
((failed == 0))
