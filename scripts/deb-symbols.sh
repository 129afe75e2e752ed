#!/usr/bin/env bash
# Writes debian/libmmapkit0.symbols from lib/libmmapkit.map: every symbol with the
# version node it lives in, and the first package version that had that node
# (node MMAPKIT_0.N: 0.N.0).  tests/deb_test.sh checks the committed file is current.
# Usage: scripts/deb-symbols.sh [MAPFILE]  (prints to standard output)
set -euo pipefail
map=${1:-$(dirname "$0")/../lib/libmmapkit.map}
echo "libmmapkit.so.0 libmmapkit0 #MINVER#"
echo "* Build-Depends-Package: libmmapkit-dev"
awk '
	/^MMAPKIT_[0-9.]+ *\{/ { node = $1; sub(/ *\{.*/, "", node); ver = node; sub(/^MMAPKIT_/, "", ver)
		printf " %s@%s %s.0\n", node, node, ver; next }
	/local:/ { node = "" }
	node != "" && /^[ \t]+mmapkit_[a-z0-9_]+;/ { s = $1; sub(/;/, "", s); printf " %s@%s %s.0\n", s, node, ver }
' "$map" | LC_ALL=C sort
