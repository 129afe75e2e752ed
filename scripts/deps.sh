#!/usr/bin/env bash
# Installs the Debian packages mmapkit's build, tests and tour need, if missing.
# Usage: scripts/deps.sh [tour|test]
set -euo pipefail

want=(gcc make cmake pkg-config check libbsd-dev)
if [[ ${1:-test} == test ]]; then
	# e2fsprogs: mkfs.ext4 for the durability tests' ext4 image on a loop device
	want+=(clang libclang-rt-14-dev g++ groff-base python3 python3-dev python3-venv python3-numpy
		libpython3.11-testsuite libsodium-dev
		abigail-tools valgrind strace e2fsprogs
		dpkg-dev debhelper dh-python pybuild-plugin-pyproject python3-all-dev python3-setuptools lintian
		cargo rustc librust-libc-dev golang-go luajit
		vmtouch procps util-linux)
else
	want+=(python3)
fi

missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "deps: installing ${missing[*]}"
if [[ $(id -u) -ne 0 ]]; then
	echo "deps: need root to apt-get install ${missing[*]}" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
