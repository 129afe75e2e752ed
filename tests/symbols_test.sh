#!/bin/bash
# SPDX-License-Identifier: MIT
# symbols_test.sh LIB HEADER MAPFILE
#
# The shared library exports exactly the functions the public header declares,
# each as NAME@@MMAPKIT_0.1 or NAME@@MMAPKIT_0.2, plus the version nodes themselves;
# the version script lists the same set; the SONAME is libmmapkit.so.0.
set -euo pipefail

if [ $# -ne 3 ]; then
	echo "usage: $0 LIB HEADER MAPFILE" >&2
	exit 2
fi
lib=$1 header=$2 map=$3
node=MMAPKIT_0.1
node2=MMAPKIT_0.2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

bad() {
	echo "FAIL: $*" >&2
	fail=1
}

# The header's functions: every declaration carries MMAPKIT_API...
grep -oE '^MMAPKIT_API[^(]*[^a-z0-9_]mmapkit_[a-z0-9_]+\(' "$header" |
	grep -oE 'mmapkit_[a-z0-9_]+\($' | tr -d '(' | sort >"$tmp/declared"
# ...and the preprocessed header declares no function without it.
${CC:-cc} -E -P -x c -DMMAPKIT_NO_VISIBILITY "$header" |
	grep -oE '(^|[^a-z0-9_])mmapkit_[a-z0-9_]+ *\(' |
	grep -oE 'mmapkit_[a-z0-9_]+' | sort -u >"$tmp/preprocessed"
if ! diff -u "$tmp/declared" "$tmp/preprocessed" >&2; then
	bad "declarations in $header without MMAPKIT_API (or the other way round)"
fi
if [ ! -s "$tmp/declared" ]; then
	bad "no functions found in $header"
fi
if [ -n "$(sort "$tmp/declared" | uniq -d)" ]; then
	bad "functions declared twice: $(sort "$tmp/declared" | uniq -d | tr '\n' ' ')"
fi

# What the library exports.
nm -D --defined-only --with-symbol-versions "$lib" >"$tmp/nm"
while read -r _addr type name; do
	case "$type $name" in
	"A $node" | "A $node2") ;;
	"T mmapkit_"*"@@$node") echo "${name%@@"$node"}" >>"$tmp/exported" ;;
	"T mmapkit_"*"@@$node2") echo "${name%@@"$node2"}" >>"$tmp/exported" ;;
	*) bad "unexpected dynamic symbol: $type $name" ;;
	esac
done <"$tmp/nm"
touch "$tmp/exported"
sort -o "$tmp/exported" "$tmp/exported"
if ! grep -qx "0* A $node" "$tmp/nm"; then
	bad "version node $node is not defined"
fi
if ! diff -u "$tmp/declared" "$tmp/exported" >&2; then
	bad "exported functions differ from the header's"
fi

# Nothing internal leaks as an undefined reference either (a static function's name would).
if nm -D --undefined-only "$lib" | grep -q 'mmapkit_'; then
	bad "undefined mmapkit symbols: $(nm -D --undefined-only "$lib" | grep mmapkit_)"
fi

# The version script: the nodes, the same names under their global:, local: * for the rest.
if ! grep -qE "^$node[[:space:]]*\{" "$map"; then
	bad "$map does not define node $node"
fi
sed -n '/global:/,/^}/p' "$map" | grep -oE 'mmapkit_[a-z0-9_]+' | sort >"$tmp/mapped"
if ! diff -u "$tmp/declared" "$tmp/mapped" >&2; then
	bad "$map lists other functions than the header"
fi
if ! sed -n '/local:/,$p' "$map" | grep -qE '^[[:space:]]*\*;'; then
	bad "$map does not make everything else local"
fi

# SONAME.
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "libmmapkit.so.0" ]; then
	bad "SONAME is '$soname', want libmmapkit.so.0"
fi

n=$(wc -l <"$tmp/declared")
if [ "$fail" -ne 0 ]; then
	exit 1
fi
echo "symbols: OK, $n functions exported as @@$node, SONAME $soname"
