#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deb_test.sh SOURCE_DIR
#
# Builds the Debian packages from a copy of the source tree (dpkg-buildpackage -us -uc
# -b, with the symbols file checked at the strictest level), requires lintian to report
# no error and no warning, then unpacks the packages into an empty root and, against
# the files of that root only, builds tests/consumer/consumer.c with pkg-config and as
# a CMake project, runs each, and imports the Python binding with Debian's python3
# (its C extension included: hashlib over a Map).
# 77 = skipped (not Debian tools).
set -euo pipefail
src=$(cd "${1:?usage: deb_test.sh SOURCE_DIR}" && pwd)
for t in dpkg-buildpackage dh lintian dpkg-deb; do
	command -v "$t" >/dev/null || { echo "deb_test: $t missing (scripts/deps.sh test installs it): skipped"; exit 77; }
done
# Debian's own tools and Python, not a python3 that PATH may put first.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
bad() {
	echo "FAIL: $*" >&2
	fail=1
}

# The committed symbols file lists exactly the version script's symbols.
if ! diff -u "$src/debian/libmmapkit0.symbols" <(bash "$src/scripts/deb-symbols.sh" "$src/lib/libmmapkit.map"); then
	bad "debian/libmmapkit0.symbols is not current: scripts/deb-symbols.sh > debian/libmmapkit0.symbols"
fi
# The package version is the project version.
# (written once, in the header; CMakeLists.txt reads it from there)
pv=$(sed -n 's/^#define MMAPKIT_VERSION_STRING "\([0-9.]*\)"$/\1/p' "$src/include/mmapkit.h")
dv=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
[ "$pv" = "$dv" ] || bad "debian/changelog version $dv is not the project version $pv"

# A copy of the tracked files (and untracked, not ignored ones) as the source tree.
tree=$work/mmapkit-$dv
mkdir -p "$tree"
(cd "$src" && git ls-files -co --exclude-standard -z | xargs -0 cp --parents -t "$tree" 2>/dev/null) ||
	(cd "$src" && tar --exclude='./build*' --exclude=./.git -cf - . | tar -xf - -C "$tree")
echo "deb_test: dpkg-buildpackage in $tree"
if ! (cd "$tree" && DPKG_GENSYMBOLS_CHECK_LEVEL=4 dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
	tail -40 "$work/build.log"
	echo "FAIL: dpkg-buildpackage" >&2
	exit 1
fi
ls "$work"/*.deb
changes=$(ls "$work"/*.changes)
lintian --pedantic -I "$changes" >"$work/lintian.log" 2>&1 || true
cat "$work/lintian.log"
if grep -qE '^[EW]: ' "$work/lintian.log"; then
	bad "lintian reports errors or warnings"
fi

# ---- the packages' files in an empty root ----
root=$work/root
for deb in "$work"/libmmapkit0_*.deb "$work"/libmmapkit-dev_*.deb "$work"/python3-mmapkit_*.deb; do
	dpkg-deb -x "$deb" "$root"
done
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
lib=$root/usr/lib/$ma
for f in usr/include/mmapkit.h "usr/lib/$ma/libmmapkit.so.0" "usr/lib/$ma/libmmapkit.a" \
	"usr/lib/$ma/pkgconfig/mmapkit.pc" "usr/lib/$ma/cmake/mmapkit/mmapkitConfig.cmake" \
	usr/share/man/man7/mmapkit.7.gz usr/share/man/man3/mmapkit_punch.3.gz; do
	[ -e "$root/$f" ] || bad "no /$f in the packages"
done

check_consumer() { # name exe
	local out
	if ! out=$(LD_LIBRARY_PATH=$lib "$2" "$work/$1.data" 2>&1); then
		bad "$1 exited non-zero: $out"
	elif ! diff -u "$src/tests/consumer/expected.txt" - <<<"$out" >&2; then
		bad "$1 printed something else"
	else
		echo "deb_test: $1 ok"
	fi
}
# pkg-config, with the package's prefix moved into the root: -I and -L point there only.
cflags=$(PKG_CONFIG_PATH=$lib/pkgconfig pkg-config --define-variable=prefix="$root/usr" --cflags --libs mmapkit)
case $cflags in *"-I$root/usr/include"*"-L$lib"*) ;; *) bad "pkg-config flags not from the root: $cflags" ;; esac
cc -Wall -Wextra -Werror -o "$work/consumer_pc" "$src/tests/consumer/consumer.c" $cflags &&
	check_consumer consumer_pc "$work/consumer_pc" || bad "pkg-config consumer did not build"
# CMake, finding the package in the root.
if cmake -S "$src/tests/consumer" -B "$work/cm" -DCMAKE_PREFIX_PATH="$root/usr" >"$work/cm.log" 2>&1 &&
	cmake --build "$work/cm" >>"$work/cm.log" 2>&1; then
	check_consumer consumer_cmake "$work/cm/consumer"
	check_consumer consumer_cmake_static "$work/cm/consumer_static"
else
	tail -20 "$work/cm.log"
	bad "CMake consumer did not build"
fi
# The Python binding from the package, with the package's library.
if out=$(MMAPKIT_LIBRARY=$lib/libmmapkit.so.0 PYTHONPATH=$root/usr/lib/python3/dist-packages \
	/usr/bin/python3 -c '
import hashlib, os, warnings
warnings.simplefilter("error")
import mmapkit, mmapkit.compat
m = mmapkit.Map.anon_shared(4096)
m[0:5] = b"hello"
assert m[0:5] == b"hello"
assert hashlib.sha256(m).digest() == hashlib.sha256(m[:]).digest()  # the C extension
m.close()
assert os.path.dirname(mmapkit.extension.__file__) == os.path.dirname(mmapkit.__file__)
print(mmapkit.__file__)' 2>&1); then
	case $out in
	"$root"/*) echo "deb_test: python3-mmapkit ok, with its C extension ($out)" ;;
	*) bad "python imported mmapkit from $out, not from the package" ;;
	esac
else
	bad "python3-mmapkit: $out"
fi
((fail == 0)) && echo "deb_test: packages built, lintian clean, consumers ok"
exit $fail
