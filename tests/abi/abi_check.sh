#!/bin/bash
# SPDX-License-Identifier: MIT
#
# abi_check.sh LIBRARY          check LIBRARY (a built libmmapkit.so.0) against the ABI
# abi_check.sh --update LIBRARY write LIBRARY's ABI as the new baseline
#
# 1. Symbols: the exported functions and their version nodes are exactly those of
#    lib/libmmapkit.map, which lists exactly the functions include/mmapkit.h declares;
#    the SONAME is the baseline's; every baseline symbol is still there at its node;
#    a symbol new since the baseline sits in a node the baseline does not have
#    (adding to a released node would let a program linked against the new library
#    load the old one and fail at the first call).
# 2. Types: abidiff against the committed abidw baseline (tests/abi/libmmapkit.so.0.abi).
#    Any change but an added function fails and prints the report (abidiff rates a
#    changed struct layout only "changed", not "incompatible", so "changed" fails
#    too).  Added functions print the report and pass.  A change documented as
#    harmless in docs/ffi.md can be listed in tests/abi/libmmapkit.abignore
#    (libabigail suppression format, with the reason in a comment).
#
# MMAPKIT_ABI_ROOT names another source tree for the header and the version script
# (tests/abi/abi_selftest.sh uses it); the baseline is always this directory's.
#
# Exit status: 0 compatible, 1 incompatible or inconsistent, 77 (skip) when the
# library has no debug info (build with -g: RelWithDebInfo or Debug) or the
# abigail tools are missing -- after the symbol checks, which always run.

set -euo pipefail
export LC_ALL=C # one collation for sort, comm and diff

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "${MMAPKIT_ABI_ROOT:-$here/../..}" && pwd)
# The release to compare with: 0.1's by default; MMAPKIT_ABI_BASELINE names another
# (tests/abi/libmmapkit.so.0-0.2.abi, committed with 0.2).
baseline=${MMAPKIT_ABI_BASELINE:-$here/libmmapkit.so.0.abi}
suppressions=$here/libmmapkit.abignore
map=$root/lib/libmmapkit.map
header=$root/include/mmapkit.h
# abidw options: the public types only, no paths or line numbers, stable type ids.
abidw_opts=(--no-corpus-path --no-comp-dir-path --no-show-locs --type-id-style hash
	    --headers-dir "$root/include" --drop-private-types)

update=0
if [ "${1:-}" = "--update" ]; then
	update=1
	shift
fi
if [ $# -ne 1 ] || [ ! -f "$1" ]; then
	echo "usage: $0 [--update] path/to/libmmapkit.so.0" >&2
	exit 2
fi
lib=$1
status=0

fail() {
	echo "abi_check: $*" >&2
	status=1
}

has_debug_info() {
	readelf -S --wide "$1" | grep -q '\.debug_info'
}

if [ $update = 1 ]; then
	if ! has_debug_info "$lib"; then
		echo "abi_check: $lib has no debug info; build with -g (RelWithDebInfo)" >&2
		exit 1
	fi
	abidw "${abidw_opts[@]}" --out-file "$baseline" "$lib"
	echo "abi_check: wrote $baseline from $lib"
	exit 0
fi

# "name node" for every function the version script exports.
map_symbols() {
	awk '
		{ sub(/#.*/, "") }
		/^[ \t]*[A-Za-z_][A-Za-z0-9_.]*[ \t]*\{/ { node = $1; sub(/\{.*/, "", node); scope = ""; next }
		/global:/ { scope = "global"; sub(/.*global:/, "") }
		/local:/ { scope = "local"; sub(/.*local:/, "") }
		/^[ \t]*\}/ { node = ""; next }
		node != "" && scope == "global" {
			n = split($0, parts, ";")
			for (i = 1; i <= n; i++) {
				s = parts[i]; gsub(/[ \t]/, "", s)
				if (s != "") print s, node
			}
		}' "$map" | sort
}

# "name node default|compat" for every symbol the library defines in .dynsym,
# without the ABS symbols that name the version nodes themselves.
lib_symbols() {
	readelf --dyn-syms --wide "$lib" | awk '
		$5 ~ /GLOBAL|WEAK/ && $7 != "UND" && !($7 == "ABS" && $3 == 0) {
			name = $8; node = "-"; kind = "unversioned"
			if (index(name, "@@")) { split(name, p, "@@"); name = p[1]; node = p[2]; kind = "default" }
			else if (index(name, "@")) { split(name, p, "@"); name = p[1]; node = p[2]; kind = "compat" }
			print name, node, kind
		}' | sort
}

# The functions the header declares with MMAPKIT_API (comments and directives removed).
header_functions() {
	awk '{
		line = $0; out = ""
		while (line != "") {
			if (incomment) {
				i = index(line, "*/")
				if (!i) { line = ""; break }
				line = substr(line, i + 2); incomment = 0
			} else {
				i = index(line, "/*")
				if (!i) { out = out line; break }
				out = out substr(line, 1, i - 1); line = substr(line, i + 2); incomment = 1
			}
		}
		if (out !~ /^[ \t]*#/) print out
	}' "$header" | tr '\n' ' ' | grep -o 'MMAPKIT_API[^;(]*(' |
		sed -E 's/.*[^A-Za-z0-9_](mmapkit_[A-Za-z0-9_]+)[[:space:]]*\($/\1/' | sort -u
}

# "name node" for every function symbol of the baseline.
baseline_symbols() {
	sed -n '/<elf-function-symbols>/,/<\/elf-function-symbols>/p;/<elf-variable-symbols>/,/<\/elf-variable-symbols>/p' "$baseline" |
		sed -n "s/.*<elf-symbol name='\([^']*\)' version='\([^']*\)'.*/\1 \2/p;s/.*<elf-symbol name='\([^']*\)' type=.*/\1 -/p" |
		sort
}

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
map_symbols >"$tmp/map"
lib_symbols >"$tmp/lib"
header_functions >"$tmp/header"
baseline_symbols >"$tmp/baseline"

# 1a. The map lists exactly the header's functions.
cut -d' ' -f1 "$tmp/map" | sort -u >"$tmp/map.names"
if ! diff -u "$tmp/header" "$tmp/map.names" >"$tmp/d"; then
	fail "include/mmapkit.h (-) and lib/libmmapkit.map (+) name different functions:"
	cat "$tmp/d" >&2
fi

# 1b. The library exports exactly the map's symbols, each as the default version at its node.
awk '$3 == "default" { print $1, $2 }' "$tmp/lib" >"$tmp/lib.default"
if ! diff -u "$tmp/map" "$tmp/lib.default" >"$tmp/d"; then
	fail "lib/libmmapkit.map (-) and the exported default-version symbols (+) differ:"
	cat "$tmp/d" >&2
fi
while read -r name node kind; do
	case $kind in
	unversioned) fail "$name is exported without a version node" ;;
	compat) grep -q "^[^ ]* $node\$" "$tmp/map" ||
		fail "$name@$node: a compatibility version in a node the map does not define" ;;
	esac
	case $name in
	mmapkit__*) fail "$name is internal (mmapkit__) but exported" ;;
	mmapkit_*) ;;
	*) fail "$name is exported but lacks the mmapkit_ prefix" ;;
	esac
done <"$tmp/lib"

# 1c. SONAME.
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
base_soname=$(sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n1)
if [ "$soname" != "$base_soname" ]; then
	fail "SONAME is '$soname' but the baseline is for '$base_soname': a new SONAME needs a new baseline (--update) and a note in docs/ffi.md"
fi

# 1d. Against the baseline: nothing removed or moved; anything new is in a new node.
awk '{ print $1, $2 }' "$tmp/lib" | sort >"$tmp/lib.all"
while read -r name node; do
	fail "$name@$node is in the baseline but no longer exported"
done < <(comm -23 "$tmp/baseline" "$tmp/lib.all")
cut -d' ' -f2 "$tmp/baseline" | sort -u >"$tmp/base.nodes"
while read -r name node; do
	if grep -qx "$node" "$tmp/base.nodes"; then
		fail "$name is new but was added to the released node $node; give it a new node (e.g. MMAPKIT_0.2 { global: $name; } MMAPKIT_0.1;)"
	else
		echo "abi_check: new: $name@$node"
	fi
done < <(comm -13 "$tmp/baseline" "$tmp/lib.all")

if [ $status -ne 0 ]; then
	echo "abi_check: FAIL (symbols)" >&2
	exit 1
fi
echo "abi_check: symbols ok: $(wc -l <"$tmp/map") functions, nodes $(cut -d' ' -f2 "$tmp/map" | sort -u | tr '\n' ' ')"

# 2. abidiff against the baseline.
if ! command -v abidiff >/dev/null; then
	echo "abi_check: abidiff not found (apt-get install abigail-tools): type check skipped"
	exit 77
fi
if ! has_debug_info "$lib"; then
	echo "abi_check: $lib has no debug info (build with -g): type check skipped"
	exit 77
fi
supp=()
[ -f "$suppressions" ] && supp=(--suppressions "$suppressions")
abidiff_run() {
	set +e
	abidiff --no-corpus-path "${supp[@]}" "$@" "$baseline" "$lib" >"$tmp/report" 2>&1
	rc=$?
	set -e
}
# abidiff's status is a bit mask: 1 error, 2 usage, 4 ABI change, 8 incompatible change.
# abidiff flags a changed struct layout with 4 only, so any change but an added
# function fails: the first run leaves additions out, so that 4 means something else.
abidiff_run --no-added-syms
if [ $((rc & 3)) -ne 0 ]; then
	cat "$tmp/report" >&2
	echo "abi_check: FAIL: abidiff could not compare (status $rc)" >&2
	exit 1
fi
if [ $rc -ne 0 ]; then
	cat "$tmp/report" >&2
	echo "abi_check: FAIL: the change above alters the ABI of ${base_soname}." >&2
	cat >&2 <<-EOF
		abi_check: keep the old interface (add a new function in a new version node
		abi_check: instead); for a change compatible by design, suppress it in
		abi_check: tests/abi/libmmapkit.abignore with the reason; for a deliberate break,
		abi_check: bump the SONAME, regenerate the baseline (abi_check.sh --update LIB)
		abi_check: and say why in docs/ffi.md (see "The ABI, and how it is kept").
	EOF
	exit 1
fi
abidiff_run
if [ $((rc & 4)) -ne 0 ]; then
	cat "$tmp/report"
	echo "abi_check: ok: only additions (above)"
	exit 0
fi
echo "abi_check: ok: ABI identical to the baseline"
