#!/usr/bin/env bash
# Quick start 1: build mmapkit and run the example tour.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${MMAPKIT_BUILD_DIR:-$top/build-tour}

"$top/scripts/deps.sh" tour
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DMMAPKIT_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)" >/dev/null
exec bash "$top/examples/tour.sh" "$build"
