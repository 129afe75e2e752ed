#!/usr/bin/env bash
# The public header as users compile it: tests/header/c99.c with -std=c99 -pedantic-errors
# (everything but MMAPKIT_AT, which must then be undefined), c11.c with -std=c11 and
# cxx11.cpp with -std=c++11 (MMAPKIT_AT used), each with gcc/g++ and clang/clang++,
# linked against the library and run.
# Usage: header_test.sh INCLUDE_DIR LIBRARY_DIR [FLAGS]
# FLAGS: the build's C flags (such as -fsanitize=...), added to every command.
set -uo pipefail
inc=$1
libdir=$2
read -r -a extra <<<"${3:-}"
src=$(cd "$(dirname "$0")/header" && pwd)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0
warn=(-Wall -Wextra -Werror)

check() { # name compiler args...
	local name=$1
	shift
	if ! command -v "$1" >/dev/null; then
		echo "FAIL $name: $1 is not installed (scripts/deps.sh installs it)"
		failed=1
		return
	fi
	if ! "$@" "${warn[@]}" ${extra[@]+"${extra[@]}"} -I"$inc" -o "$out/$name" -L"$libdir" -Wl,-rpath,"$libdir" -lmmapkit \
		2>"$out/$name.log"; then
		echo "FAIL $name: $*"
		cat "$out/$name.log"
		failed=1
	elif ! "$out/$name"; then
		echo "FAIL $name: the program exited $?"
		failed=1
	else
		echo "ok   $name"
	fi
}

for cc in gcc clang; do
	check "c99-$cc" "$cc" -std=c99 -pedantic-errors "$src/c99.c"
	check "c11-$cc" "$cc" -std=c11 -pedantic-errors "$src/c11.c"
done
for cxx in g++ clang++; do
	check "cxx11-$cxx" "$cxx" -std=c++11 -pedantic-errors "$src/cxx11.cpp"
done
exit $failed
