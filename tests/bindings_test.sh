#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# bindings_test.sh LANG BUILD_DIR SOURCE_DIR
#
# Builds and runs one language's binding against this build's libmmapkit.so.0:
#   rust   - cargo test (Debian's cargo and rustc, offline, Debian's crate registry) of
#            bindings/rust: mmapkit-sys against the header, the safe mmapkit crate's tests
#   go     - builds bindings/go (cgo, #cgo pkg-config: mmapkit) and compares its output
#   luajit - runs bindings/luajit/demo.lua, checks its constants against the header
#            and compares its output
# 77 = skipped (the toolchain is missing; scripts/deps.sh test installs it).
set -euo pipefail
lang=${1:?usage: bindings_test.sh LANG BUILD_DIR SOURCE_DIR}
build=$(cd "${2:?}" && pwd)
src=$(cd "${3:?}" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export LD_LIBRARY_PATH=$build${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

need() {
	[ -x "$1" ] || command -v "$1" >/dev/null || { echo "bindings_test: $1 missing: skipped"; exit 77; }
}

compare() { # expected-file command...
	local exp=$1 out
	shift
	out=$("$@")
	if diff -u "$exp" - <<<"$out"; then
		echo "bindings_test: $lang output as expected"
	else
		echo "FAIL: $lang printed something else" >&2
		return 1
	fi
}

case $lang in
rust)
	# Debian's toolchain, not one that PATH may put first.
	need /usr/bin/cargo
	cd "$src/bindings/rust"
	PATH=/usr/bin:$PATH MMAPKIT_LIB_DIR=$build CARGO_TARGET_DIR=$build/rust-target \
		RUSTC=/usr/bin/rustc RUSTDOC=/usr/bin/rustdoc /usr/bin/cargo test --offline --locked 2>&1
	;;
go)
	need go
	# A pkg-config file for this build tree: the source's header, the build's library.
	mkdir -p "$work/pc"
	cat >"$work/pc/mmapkit.pc" <<PC
Name: mmapkit
Description: mmapkit build tree
Version: 0
Cflags: -I$src/include
Libs: -L$build -lmmapkit
PC
	export PKG_CONFIG_PATH=$work/pc GOFLAGS=-mod=mod GOPROXY=off GOTOOLCHAIN=local \
		GOCACHE=$build/go-cache GOPATH=$build/go-path CGO_ENABLED=1
	(cd "$src/bindings/go" && go vet . && go build -o "$work/demo" .)
	compare "$src/bindings/go/expected.txt" "$work/demo" "$work/go.data"
	;;
luajit)
	need luajit
	# The constants the script copies carry the header's values.
	for c in CREATE GROW SYNC_FULL; do
		want=$(sed -n "s/^#define MMAPKIT_$c \(0x[0-9a-f]*\)u.*/\1/p" "$src/include/mmapkit.h")
		got=$(grep -o "MMAPKIT_[A-Z_, ]* = [0-9a-fx, ]*" "$src/bindings/luajit/demo.lua" |
			awk -v c="MMAPKIT_$c" '{ split($0, lr, " = "); n = split(lr[1], names, ", *");
				split(lr[2], vals, ", *"); for (i = 1; i <= n; i++) if (names[i] == c) print vals[i] }')
		[ -n "$want" ] && [ $((want)) -eq $((got)) ] ||
			{ echo "FAIL: demo.lua has MMAPKIT_$c = '$got', the header $want" >&2; exit 1; }
	done
	compare "$src/bindings/luajit/expected.txt" luajit "$src/bindings/luajit/demo.lua" \
		"$build/libmmapkit.so.0" "$work/lua.data"
	;;
*)
	echo "bindings_test: unknown language $lang" >&2
	exit 2
	;;
esac
