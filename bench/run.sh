#!/usr/bin/env bash
# The benchmarks, in full: builds mmapkit in Release in its own build directory
# (build-bench/), builds the peers from Debian packages, runs every section of
# mmapkit_bench with them, and writes
#   build-bench/results/<time>/   table.txt, results.csv, tables.md, plot data, PNGs
#   docs/performance.md, docs/perf/*.png, docs/perf/results.csv   (unless --no-docs)
#
# Usage: bench/run.sh [--cpu N | --no-pin] [--rounds N] [--big-rounds N] [--size BYTES]
#                     [--no-peers] [--no-docs]
#   --cpu N         pin the benchmark and the peers to CPU N (default: the last CPU;
#                   the IPC child goes on another one)
#   --no-pin        let the scheduler move them
#   --rounds N      timed rounds per case of small operations (default 31)
#   --big-rounds N  timed rounds per case of 1 GiB operations (default 13)
#   --size B        the big size of sections 3, 4 and 6 (default 1 GiB)
#   --no-peers      mmapkit and raw only
#   --no-docs       leave docs/ alone
# Takes about 5 to 10 minutes on 2 cores.  Missing Debian packages are installed
# with apt-get when run as root; a peer that cannot be built is reported as
# missing, with the reason.
set -euo pipefail

self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
cmdline="bench/run.sh${*:+ $*}"
build=build-bench
bench_args=()
# One CPU for the benchmark and its peers: no migrations, and each process's
# page-table work stays on one CPU (no TLB shootdowns to the other).
cpu=$(($(nproc) - 1))
peers=1
docs=1
while (($#)); do
	case $1 in
	--cpu)
		cpu=$2
		shift 2
		;;
	--no-pin) cpu= && shift ;;
	--rounds | --big-rounds | --size)
		bench_args+=("$1" "$2")
		shift 2
		;;
	--no-peers) peers=0 && shift ;;
	--no-docs) docs=0 && shift ;;
	-h | --help)
		sed -n '2,20p' "$self"
		exit 0
		;;
	*)
		echo "run.sh: unknown option $1 (see --help)" >&2
		exit 2
		;;
	esac
done

log() { printf 'run.sh: %s\n' "$*" >&2; }

# ---- Debian packages ----
want=(gcc g++ make cmake pkg-config libbsd-dev util-linux gnuplot-nox)
((peers)) && want+=(libboost-dev cargo rustc librust-memmap2-dev python3 python3-numpy vmtouch)
missing=()
for p in "${want[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [[ $(id -u) -eq 0 ]]; then
		log "installing ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null ||
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } ||
			log "apt-get failed; going on without ${missing[*]}"
	else
		log "not root: cannot install ${missing[*]}; going on without"
	fi
fi

# ---- mmapkit and the benchmark, Release ----
log "building mmapkit_bench (Release) in $build/"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMMAPKIT_BUILD_TESTS=OFF \
	-DMMAPKIT_BUILD_EXAMPLES=OFF >"$build.configure.log" 2>&1 ||
	{ cat "$build.configure.log" >&2; exit 1; }
mv -f "$build.configure.log" "$build/configure.log"
cmake --build "$build" -j2 --target mmapkit_bench >"$build/build.log" 2>&1 ||
	{ tail -40 "$build/build.log" >&2; exit 1; }

stamp=$(date -u +%Y%m%dT%H%M%SZ)
out=$root/$build/results/$stamp
scratch=$root/$build/scratch
mkdir -p "$out" "$scratch" "$build/peers"

# ---- the peers: each is either built or reported missing with the reason ----
peer_args=()
first_error() { grep -m1 -iE 'error|fatal|not found|no such' "$1" | cut -c1-200 || true; }
build_peers() {
	local why
	if ! command -v g++ >/dev/null; then
		peer_args+=(--peer-missing "boost=g++ is not installed")
	elif [[ ! -f /usr/include/boost/interprocess/mapped_region.hpp ]]; then
		peer_args+=(--peer-missing "boost=libboost-dev (Boost.Interprocess headers) is not installed")
	elif g++ -O2 -std=c++14 -Wall -o "$build/peers/boost_bench" bench/peers/boost_bench.cpp \
		>"$build/peers/boost.log" 2>&1; then
		peer_args+=(--peer "boost=$root/$build/peers/boost_bench")
	else
		why=$(first_error "$build/peers/boost.log")
		peer_args+=(--peer-missing "boost=build failed: ${why:-see $build/peers/boost.log}")
	fi

	local cargo=/usr/bin/cargo rustc=/usr/bin/rustc
	[[ -x $cargo ]] || cargo=$(command -v cargo || true)
	[[ -x $rustc ]] || rustc=$(command -v rustc || true)
	if [[ -z $cargo || -z $rustc ]]; then
		peer_args+=(--peer-missing "memmap2=cargo/rustc are not installed")
	elif ! compgen -G "/usr/share/cargo/registry/memmap2-*" >/dev/null; then
		peer_args+=(--peer-missing "memmap2=librust-memmap2-dev is not installed")
	elif (cd bench/peers/memmap2 && RUSTC=$rustc "$cargo" build --release --offline \
		--target-dir "$root/$build/memmap2") >"$build/peers/memmap2.log" 2>&1; then
		peer_args+=(--peer "memmap2=$root/$build/memmap2/release/memmap2_bench")
	else
		why=$(first_error "$build/peers/memmap2.log")
		peer_args+=(--peer-missing "memmap2=cargo build failed: ${why:-see $build/peers/memmap2.log}")
	fi

	if [[ -x /usr/bin/python3 ]] && /usr/bin/python3 -c 'import mmap' 2>/dev/null; then
		peer_args+=(--peer "python=/usr/bin/python3 $root/bench/peers/python_mmap_bench.py")
	else
		peer_args+=(--peer-missing "python=Debian's python3 is not installed")
	fi
}
if ((peers)); then
	log "building the peers"
	build_peers
fi

# ---- run ----
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }
load_before=$(loadavg)
log "running; results in $out"
t0=$(date +%s)
status=0
[[ -n $cpu ]] && bench_args+=(--cpu "$cpu")
timeout 1500 "$build/bench/mmapkit_bench" --out "$out" --dir "$scratch" \
	${bench_args[@]+"${bench_args[@]}"} ${peer_args[@]+"${peer_args[@]}"} |
	tee "$out/table.txt" || status=$?
secs=$(($(date +%s) - t0))
load_after=$(loadavg)
rm -rf "$scratch"

# ---- plots ----
plot() { # section, y label, title, log scale
	local dat=$out/$1.dat n
	[[ -s $dat ]] || return 0
	n=$(head -1 "$dat" | grep -o ' lo hi' | wc -l)
	gnuplot -e "dat='$dat'; out='$out/$1.png'; ncol=$n; ylab='$2'; ttl='$3'; logy=$4" \
		bench/plot.gp 2>>"$out/gnuplot.log" || log "gnuplot failed for $1 (see $out/gnuplot.log)"
}
if command -v gnuplot >/dev/null; then
	plot create "ns per operation (log scale)" "create + touch one page + unmap (median, min..max)" 1
	plot call "ns per call (log scale)" "one range call on a live mapping" 1
	plot checksum "GB/s (higher is better)" "sequential checksum over a page-cached file" 0
	plot touch "GB/s made usable (higher is better)" "first touch of fresh anonymous memory" 0
	plot ipc "ns per round trip (log scale)" "round trip between two processes" 1
	plot punch "ms per punch" "punching a hole over a whole faulted-in mapping" 0
	plot copy "GB/s (higher is better)" "mmapkit_read / mmapkit_write against memcpy" 0
else
	log "gnuplot is not installed: no plots"
fi

# ---- docs/performance.md ----
machine() {
	local proc model mem thp defrag fs
	model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')
	proc="$model, $(nproc) CPUs online"
	grep -qm1 hypervisor /proc/cpuinfo && proc="$proc (virtual machine)"
	mem=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
	thp=$(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo n/a)
	defrag=$(cat /sys/kernel/mm/transparent_hugepage/defrag 2>/dev/null || echo n/a)
	fs=$(findmnt -no FSTYPE -T "$root/$build" 2>/dev/null || stat -f -c %T "$root/$build")
	echo "| | |"
	echo "| --- | --- |"
	echo "| CPU | $proc |"
	echo "| memory | $mem |"
	echo "| kernel | $(uname -sr) ($(uname -m)) |"
	echo "| THP | enabled: \`$thp\`; defrag: \`$defrag\` |"
	echo "| file systems | scratch files on $fs; the shared-file punch on $(stat -f -c %T /dev/shm 2>/dev/null || echo n/a) (/dev/shm) |"
	echo "| compilers | $(gcc --version | head -1); $(g++ --version 2>/dev/null | head -1 || echo no g++); $(/usr/bin/rustc --version 2>/dev/null || echo no rustc) |"
	echo "| peers | $(grep -h '^peer ' "$out/table.txt" | sed 's/^peer //' | paste -sd ';' | sed 's/;/; /g') |"
	echo "| mmapkit | $(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown), built Release (\`-O3\`) |"
	if [[ -n $cpu ]]; then
		echo "| pinning | benchmark and peers on CPU $cpu (the round-trip child on another) |"
	else
		echo "| pinning | none |"
	fi
	echo "| load | $load_before before, $load_after after (1, 5, 15 min): other work ran on the same CPUs |"
	echo "| run | $(date -u '+%Y-%m-%d %H:%M UTC'), $secs s |"
}

write_docs() {
	local doc=docs/performance.md png
	mkdir -p docs/perf
	rm -f docs/perf/*.png
	cp "$out"/*.png docs/perf/ 2>/dev/null || true
	cp "$out/results.csv" docs/perf/results.csv
	{
		echo "# Performance"
		echo
		echo "<!-- Generated by bench/run.sh: edit bench/performance-notes.md, then run it again. -->"
		echo
		echo "Produced by \`$cmdline\` (from the repository root). Every number is a ratio against"
		echo "a baseline measured in the same run, the variants interleaved round by round"
		echo "(A B C C B A ...); tables give the median and the min .. max over the rounds."
		echo "Raw data: [perf/results.csv](perf/results.csv)."
		echo
		echo "## Machine"
		echo
		machine
		echo
		echo "## Summary"
		echo
		cat "$out/summary.md"
		echo
		cat bench/performance-notes.md
		echo
		echo "## Plots"
		echo
		for png in create call checksum touch ipc punch copy; do
			[[ -f docs/perf/$png.png ]] && echo "![$png](perf/$png.png)" && echo
		done
		echo "## Results"
		cat "$out/tables.md"
		if [[ -f docs/perf/observe.md ]]; then # from bench/observe.sh, run on its own
			echo
			cat docs/perf/observe.md
		fi
	} >"$doc.tmp"
	mv "$doc.tmp" "$doc"
	log "wrote $doc and docs/perf/"
}
((docs)) && write_docs

log "done in ${secs}s (exit status $status); results in $out"
exit "$status"
