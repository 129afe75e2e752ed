#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run_valgrind.sh BUILD_DIR [SUITE]
#
# valgrind memcheck of the unit runner BUILD_DIR/tests/check_mmapkit (all
# suites, or only SUITE).  Check forks a process per test; valgrind follows
# each fork and writes one log per process, and every log must end in
# "ERROR SUMMARY: 0 errors" (invalid accesses, uninitialised values, definite
# leaks; --error-exitcode=1 also fails the test that caused one).  The
# deliberate faults of the tests (SIGSEGV/SIGBUS probes in children) are not
# memcheck errors: a probe child that reads memory memcheck knows to be
# inaccessible (guard pages) turns its error reporting off first
# (tu_probe_quietly in tests/testutil.c).
#
# What valgrind cannot run is skipped at run time (tests/testutil.h), under
# RUNNING_ON_VALGRIND from <valgrind/valgrind.h> or the environment variable
# MMAPKIT_VALGRIND=1 that this script sets: the /proc/self/maps count of the
# leak checks (valgrind maps memory of its own), MMAPKIT_LOCK_ONFAULT steps
# (valgrind 3.19 has no mlock2), and file private punch/revert over pages of
# different protections (valgrind's mremap stays within one of its segments);
# each skip prints a "valgrind: ..." note.  Whole test cases can instead carry
# the Check tag "novalgrind" (tcase_set_tags), which this script excludes.
# The whole runner takes about 3 minutes here on 2 cores.  Prints
# "run_valgrind: N passed, M failed" last; exits non-zero on a failed test or
# a memcheck error.
set -u

build=${1:?usage: run_valgrind.sh BUILD_DIR [SUITE]}
runner=$build/tests/check_mmapkit
if [ ! -x "$runner" ]; then
	echo "run_valgrind: no unit runner at $runner (build first)" >&2
	exit 2
fi
if ! command -v valgrind >/dev/null 2>&1; then
	echo "run_valgrind: valgrind is not installed" >&2
	exit 2
fi
logs=$(mktemp -d "${TMPDIR:-/tmp}/mmapkit-valgrind.XXXXXX")
trap 'rm -rf "$logs"' EXIT

echo "run_valgrind: $(valgrind --version) on $runner${2:+ (suite $2)}"
status=0
env MMAPKIT_VALGRIND=1 CK_EXCLUDE_TAGS=novalgrind CK_TIMEOUT_MULTIPLIER=20 \
	${2:+"CK_RUN_SUITE=$2"} \
	valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
	--show-leak-kinds=definite --errors-for-leak-kinds=definite \
	--child-silent-after-fork=no --trace-children=no \
	--log-file="$logs/vg.%p.log" "$runner" >"$logs/out" 2>&1 || status=$?
# Check's output, without the per-suite progress chatter.
grep -v -E '^[a-z]+: .*(byte-checked|made [0-9]+ handles)' "$logs/out"

procs=$(find "$logs" -name 'vg.*.log' | wc -l)
errors=0
for f in "$logs"/vg.*.log; do
	n=$(sed -n 's/.*ERROR SUMMARY: \([0-9][0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
	if [ -z "$n" ]; then
		continue # killed by SIGKILL on purpose (e.g. durability): no summary
	fi
	if [ "$n" -ne 0 ]; then
		echo "run_valgrind: $n memcheck errors in $(basename "$f"):"
		sed -n '/Invalid\|uninitialised\|definitely lost\|Syscall param\|Mismatched\|overlap/,/^==[0-9]*== $/p' \
			"$f" | head -n 40
		errors=$((errors + n))
	fi
done

line=$(grep -E '^[0-9]+%: Checks: ' "$logs/out" | tail -n 1)
checks=$(echo "$line" | sed -n 's/.*Checks: \([0-9]*\).*/\1/p')
fails=$(echo "$line" | sed -n 's/.*Failures: \([0-9]*\).*/\1/p')
errs=$(echo "$line" | sed -n 's/.*Errors: \([0-9]*\).*/\1/p')
checks=${checks:-0} fails=${fails:-0} errs=${errs:-0}
bad=$((fails + errs))
echo "run_valgrind: $errors memcheck errors in $procs processes"
if [ -z "$line" ]; then
	bad=$((bad + 1))
	echo "run_valgrind: the runner did not finish (exit $status)"
fi
if [ "$errors" -ne 0 ]; then
	bad=$((bad + 1))
fi
echo "run_valgrind: $((checks - fails - errs)) passed, $bad failed"
[ "$bad" -eq 0 ] && [ "$status" -eq 0 ]
