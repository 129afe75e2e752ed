#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pip_install_test.sh PYTHON SOURCE_DIR LIBRARY
#
# `pip install` of the binding (SOURCE_DIR = bindings/python) offline, as README.md
# says: into a scratch `python3 -m venv --system-site-packages` (Debian's setuptools,
# no build isolation, no index), then imports the installed copy (not the source tree)
# with LIBRARY (this build's libmmapkit.so.0) and uses it, the buffer protocol
# included.  Then again with a C compiler that fails: the install still works, without
# the extension, and the binding says what it lacks.  77 = skipped (no venv/pip).
set -euo pipefail
py=${1:?usage: pip_install_test.sh PYTHON SOURCE_DIR LIBRARY}
src=$(cd "${2:?}" && pwd)
export MMAPKIT_LIBRARY=${3:?}
unset MMAPKIT_EXTENSION
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A copy, so that the build's build/ and *.egg-info never land in the source tree.
mkdir "$work/src"
(cd "$src" && cp -r pyproject.toml setup.py README.md mmapkit "$work/src/")
if ! "$py" -m venv --system-site-packages "$work/venv" >"$work/venv.log" 2>&1; then
	cat "$work/venv.log"
	echo "pip_install_test: no venv for $py (Debian: python3-venv): skipped"
	exit 77
fi
vpy=$work/venv/bin/python

install() { # label env...
	rm -rf "$work/src/build" # a fresh build each time
	if ! env "${@:2}" "$vpy" -m pip install --no-build-isolation --no-index --no-cache-dir --force-reinstall \
		"$work/src" >"$work/pip-$1.log" 2>&1; then
		cat "$work/pip-$1.log"
		echo "FAIL: pip install ($1)" >&2
		exit 1
	fi
	echo "pip_install_test: pip install ($1) ok"
}

install with-compiler
cd "$work"
"$vpy" - "$work/venv" <<'PY'
import hashlib, os, re, sys, warnings
warnings.simplefilter("error")  # no warning: the extension is there
import mmapkit, mmapkit.compat
venv = os.path.realpath(sys.argv[1])
for mod in (mmapkit, mmapkit.extension):
    assert os.path.realpath(mod.__file__).startswith(venv), mod.__file__
pkg = os.path.dirname(mmapkit.__file__)
assert not [f for f in os.listdir(pkg) if f.endswith(".c")], os.listdir(pkg)
assert mmapkit.buffer_protocol and mmapkit.extension_error is None
with mmapkit.Map.anon_shared(4096) as m:
    m[0:6] = b"mmapkit"[:6]
    assert hashlib.sha256(m).digest() == hashlib.sha256(m[:]).digest()
    with memoryview(m) as v:
        assert v.obj is m and v[0:6] == b"mmapki"
c = mmapkit.compat.mmap(-1, 100)
c[10:13] = b"abc"
assert re.search(b"b", c).start() == 11
c.close()
print("pip_install_test: installed binding with its C extension works:", mmapkit.extension.__file__)
PY

install without-compiler CC=false
"$vpy" - <<'PY'
import os, sys, warnings
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import mmapkit
pkg = os.path.dirname(mmapkit.__file__)
assert not [f for f in os.listdir(pkg) if f.startswith("_buffer")], os.listdir(pkg)
assert mmapkit.extension is None and mmapkit.extension_error, mmapkit.extension_error
with mmapkit.Map.anon_private(4096) as m:
    m[0] = 7
    assert m[0] == 7 and m.view()[0] == 7
if sys.version_info < (3, 12):
    assert not mmapkit.buffer_protocol
    assert [w for w in caught if issubclass(w.category, RuntimeWarning)
            and "buffer protocol" in str(w.message)], caught
    m = mmapkit.Map.anon_private(4096)
    try:
        memoryview(m)
        raise AssertionError("memoryview(m) without the extension on Python < 3.12")
    except TypeError:
        pass
    m.close()
print("pip_install_test: without a compiler: pure ctypes, says so:", mmapkit.extension_error)
PY
echo "pip_install_test: ok"
