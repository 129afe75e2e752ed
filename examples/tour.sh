#!/bin/sh
# SPDX-License-Identifier: MIT
# The example tour: runs every example program in turn under a heading, then the
# Python examples (examples/python/*.py) if there are any, and ends with one line:
#   tour: N passed, M failed
# Exit status 1 if any failed.
#
# Usage: examples/tour.sh [BUILD_DIR]     (default: build, next to this directory)
set -u

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build=${1:-$root/build}

if [ ! -d "$build" ]; then
	echo "tour: no build directory $build; build first:" >&2
	echo "  cmake -S $root -B $build && cmake --build $build -j" >&2
	exit 2
fi
build=$(cd "$build" && pwd)

# In the order of examples/README.md: from plain memory to processes and guards.
examples="anon_private anon_shared file_private file_shared ipc_pingpong sparse_array guarded line_count sealed_share ring_queue truncate_safe"

passed=0
failed=0
failed_names=

heading() {
	printf '\n==== %s ====\n' "$1"
}

# Runs "$@" under heading $1 (shifted off) and counts the result.
run() {
	name=$1
	shift
	heading "$name"
	if "$@"; then
		passed=$((passed + 1))
	else
		echo "tour: $name FAILED (exit status $?)"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
}

for name in $examples; do
	prog=$build/examples/$name
	if [ -x "$prog" ]; then
		run "$name" "$prog"
	else
		heading "$name"
		echo "tour: $prog is not built"
		failed=$((failed + 1))
		failed_names="$failed_names $name"
	fi
done

# The Python examples use the bindings in bindings/python with the library just built.
for script in "$here"/python/*.py; do
	[ -e "$script" ] || continue
	run "python/$(basename "$script")" env PYTHONPATH="$root/bindings/python" \
		MMAPKIT_LIBRARY="$build/libmmapkit.so.0" python3 "$script"
done

echo
[ "$failed" -eq 0 ] || echo "tour: failed:$failed_names"
echo "tour: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
