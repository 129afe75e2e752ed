#!/bin/sh
# SPDX-License-Identifier: MIT
#
# run_fuzz.sh SECONDS [LIBFUZZER-OPTION...]
#
# Builds the libFuzzer harness tests/fuzz/fuzz_$FUZZ_HARNESS.c (default: ops) with the library sources
# (clang -fsanitize=fuzzer,address,undefined) in a temporary directory, runs it
# for SECONDS on a copy of the seed corpus tests/fuzz/corpus, and prints the
# executions and the coverage reached.  Exits non-zero on a crash, a sanitizer
# report or a model mismatch; the input that caused it is kept and named.
#
# Environment: FUZZ_HARNESS (ops: operations on handles of every kind; receive:
# mmapkit_receive of hostile messages), CLANG (default clang), TMPDIR,
# MMAPKIT_FUZZ_KEEP=DIR (copy the grown corpus there afterwards).
set -eu

secs=${1:?usage: run_fuzz.sh SECONDS [LIBFUZZER-OPTION...]}
shift
case $secs in
*[!0-9]* | '') echo "run_fuzz: SECONDS must be a number" >&2; exit 2 ;;
esac
root=$(cd "$(dirname "$0")/.." && pwd)
harness=${FUZZ_HARNESS:-ops}
case $harness in
ops) seeds_dir=$root/tests/fuzz/corpus ;;
*[!a-z_]* | '') echo "run_fuzz: FUZZ_HARNESS must be a harness name" >&2; exit 2 ;;
*) seeds_dir=$root/tests/fuzz/corpus_$harness ;;
esac
bin=fuzz_$harness
cc=${CLANG:-clang}
work=$(mktemp -d "${TMPDIR:-/tmp}/mmapkit-fuzz.XXXXXX")
# The harness's files: tmpfs when there is one (msync on a disk is slow).
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
	files=$(mktemp -d /dev/shm/mmapkit-fuzz.XXXXXX)
else
	files=$work/files
	mkdir "$files"
fi
keep_work=0
cleanup() {
	rm -rf "$files"
	[ "$keep_work" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bsd_libs=$(pkg-config --libs libbsd 2>/dev/null || echo -lbsd)
echo "run_fuzz: building $work/$bin with $cc"
# shellcheck disable=SC2086 # bsd_libs is a word list
"$cc" -g -O1 -std=c11 -Wall -Wextra -Werror -fno-omit-frame-pointer \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-I"$root/include" -I"$root/lib" "$root"/lib/*.c "$root/tests/fuzz/$bin.c" \
	$bsd_libs -o "$work/$bin"

mkdir "$work/corpus"
cp "$seeds_dir"/* "$work/corpus/"
seeds=$(find "$work/corpus" -type f | wc -l)
echo "run_fuzz: $seeds seed inputs, $secs s"

status=0
FUZZ_DIR=$files UBSAN_OPTIONS=print_stacktrace=1 "$work/$bin" \
	-max_total_time="$secs" -print_final_stats=1 -max_len=2048 -timeout=30 \
	-rss_limit_mb=4096 -artifact_prefix="$work/" "$@" "$work/corpus" \
	>"$work/log" 2>&1 || status=$?

# libFuzzer's own progress lines: the first and the last coverage, the stats.
grep -E '^#[0-9]+[[:space:]]+INITED' "$work/log" | head -n 1 || true
grep -E '^#[0-9]+[[:space:]].*cov: ' "$work/log" | tail -n 1 || true
grep -E '^stat::(number_of_executed_units|average_exec_per_sec|new_units_added|peak_rss_mb)' \
	"$work/log" || true
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log")
cov=$(grep -E '^#[0-9]+[[:space:]].*cov: ' "$work/log" | tail -n 1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1 (features \2)/p')

if [ -n "${MMAPKIT_FUZZ_KEEP:-}" ]; then
	mkdir -p "$MMAPKIT_FUZZ_KEEP"
	cp "$work"/corpus/* "$MMAPKIT_FUZZ_KEEP/"
fi

if [ "$status" -ne 0 ] || grep -qE "^($bin: |==[0-9]+==ERROR|SUMMARY: )" "$work/log"; then
	keep_work=1
	echo "run_fuzz: the harness failed (exit $status); its report:"
	grep -E -A 40 "^($bin: |==[0-9]+==ERROR|.*runtime error)" "$work/log" | head -n 60
	for a in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
		[ -e "$a" ] && echo "run_fuzz: input kept: $a (replay: FUZZ_TRACE=1 $work/$bin $a)"
	done
	echo "run_fuzz: 0 passed, 1 failed (${execs:-?} executions, coverage ${cov:-?})"
	exit 1
fi
echo "run_fuzz: 1 passed, 0 failed (${execs:-?} executions in ${secs} s, coverage ${cov:-?})"
