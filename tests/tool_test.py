#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The mmapkit command against the real tools on the same inputs.

usage: tool_test.py PATH/TO/mmapkit

- `mmapkit resident` against vmtouch and util-linux fincore: the same resident
  page counts on cached, evicted, sparse and partly cached files; "unknown"
  with the reason where they print a made-up 100% (a file the caller, here a
  process that dropped to nobody, can neither write nor owns).
- `mmapkit maps` against `pmap -X` of the same process: the same mappings,
  Rss and Pss per mapping.
- touch, evict and lock against the residency they promise (fincore as root,
  whose mincore tells the truth there, and smaps' Locked).
- Bad input: one clear stderr line naming the thing, the right exit status,
  the other files still processed; a FIFO never blocks.
Exit status 0 when everything holds, 1 otherwise; 77 when a tool is missing.
"""
import json
import mmap
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

PAGE = os.sysconf("SC_PAGE_SIZE")
failures = []


def check(cond, what):
    if cond:
        print("ok:", what)
    else:
        print("FAIL:", what)
        failures.append(what)


def run(args, nobody=False, timeout=20, check_rc=None):
    if nobody:
        args = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] + args
    p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def vmtouch_pages(path, nobody=False):
    rc, out, err = run(["vmtouch", path], nobody)
    m = re.search(r"Resident Pages: (\d+)/(\d+)", out)
    assert m, (out, err)
    return int(m.group(1))


def fincore_pages(path, nobody=False):
    rc, out, err = run(["fincore", "-b", "-n", "-r", "-o", "PAGES", path], nobody)
    assert rc == 0, err
    return int(out.split()[0])


def mk_resident(tool, paths, nobody=False):
    rc, out, err = run([tool, "resident", "-j", "-b"] + paths, nobody)
    return rc, json.loads(out), err


def cachestat_pages(path):
    """The page cache's truth, from cachestat(2) as root (Linux 6.5)."""
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        rng = (ctypes.c_uint64 * 2)(0, 0)
        cs = (ctypes.c_uint64 * 5)()
        r = libc.syscall(451, fd, rng, cs, 0)
        if r != 0:
            return None
        return cs[0]
    finally:
        os.close(fd)


def evict(path):
    fd = os.open(path, os.O_RDONLY)
    os.fdatasync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)


def read_pages(path, pages):
    fd = os.open(path, os.O_RDONLY)
    for k in pages:
        os.pread(fd, PAGE, k * PAGE)
    os.close(fd)


def make_files(d):
    """cached, evicted, sparse, partly cached: name -> path."""
    files = {}
    for name in ("cached", "evicted", "partly"):
        p = os.path.join(d, name)
        with open(p, "wb") as f:
            f.write(os.urandom(256 * PAGE))
        os.chmod(p, 0o644)
        files[name] = p
    evict(files["evicted"])
    evict(files["partly"])
    read_pages(files["partly"], range(0, 256, 5))
    read_pages(files["cached"], range(256))
    p = os.path.join(d, "sparse")
    with open(p, "wb") as f:
        f.truncate(64 << 20)
        for k in (3, 700, 9000):
            f.seek(k * PAGE)
            f.write(b"x" * PAGE)
    os.chmod(p, 0o644)
    evict(p)
    read_pages(p, [3, 5000, 9000])
    files["sparse"] = p
    return files


def test_resident(tool, d):
    files = make_files(d)
    for name, p in files.items():
        rc, js, err = mk_resident(tool, [p])
        mine = js["files"][0]["resident_pages"]
        truth = cachestat_pages(p)
        vt, fc = vmtouch_pages(p), fincore_pages(p)
        check(rc == 0 and mine == vt == fc and (truth is None or truth == mine),
              f"resident {name}: mmapkit {mine}, vmtouch {vt}, fincore {fc}, cachestat {truth}")
    # all at once: the total is the sum
    rc, js, err = mk_resident(tool, list(files.values()))
    check(rc == 0 and js["total"]["resident"] == sum(f["resident"] for f in js["files"]),
          "resident: total of several files")
    if os.geteuid() != 0:
        print("skip: hidden page cache: needs root to drop to nobody")
        return
    # a file nobody can read but neither write nor own: evicted, then cached
    p = files["evicted"]
    evict(p)
    for state in ("evicted", "cached"):
        if state == "cached":
            read_pages(p, range(256))
        vt, fc = vmtouch_pages(p, nobody=True), fincore_pages(p, nobody=True)
        rc, js, err = mk_resident(tool, [p], nobody=True)
        f = js["files"][0]
        truth = cachestat_pages(p)
        check(rc == 1 and f["resident"] is None and "neither write nor own" in f["unknown"],
              f"resident as nobody, {state} (truth {truth} pages): mmapkit unknown "
              f"({f.get('unknown')}); vmtouch says {vt}/256, fincore {fc}")
        if state == "evicted":
            check(vt == 256 and fc == 256 and truth == 0,
                  "as nobody on an evicted file vmtouch and fincore make up 100%")
    rc, out, err = run([tool, "resident", p], nobody=True)
    check("unknown" in out and "neither write nor own" in out, "resident as nobody: human output says unknown and why")


def test_touch_evict_lock(tool, d):
    p = os.path.join(d, "tel")
    with open(p, "wb") as f:
        f.write(os.urandom(100 * PAGE))
    evict(p)
    check(fincore_pages(p) == 0, "evicted file: 0 pages")
    rc, out, err = run([tool, "touch", "-r", f"{16 * PAGE // 1024}K", p])
    check(rc == 0 and fincore_pages(p) == 16, f"touch -r 64K: 16 pages resident ({fincore_pages(p)})")
    rc, out, err = run([tool, "touch", "-r", f"{50 * PAGE}-{60 * PAGE}", p])
    check(rc == 0 and fincore_pages(p) == 26, f"touch -r OFF-END: 10 more pages ({fincore_pages(p)})")
    rc, out, err = run([tool, "touch", p])
    check(rc == 0 and fincore_pages(p) == 100, "touch: every page resident")
    rc, out, err = run([tool, "evict", p])
    check(rc == 0 and fincore_pages(p) == 0, "evict: no page resident")
    for onfault in (False, True):
        args = [tool, "lock"] + (["--onfault"] if onfault else []) + [p]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline()
        locked = 0
        with open(f"/proc/{proc.pid}/smaps") as f:
            for l in f:
                if l.startswith("Locked:"):
                    locked += int(l.split()[1]) * 1024
        evict(p)  # locked pages stay
        res = fincore_pages(p)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=10)
        if onfault:
            check(rc == 0 and "locked 1 file" in line and locked == 0 and res == 0,
                  f"lock --onfault: nothing locked until touched (Locked {locked}, resident {res})")
        else:
            check(rc == 0 and "locked 1 file" in line and locked == 100 * PAGE and res == 100,
                  f"lock: 100 pages locked and still resident after an evict (Locked {locked}, resident {res})")


CHILD = r"""
import mmap, os, sys, time
p = sys.argv[1]
a = mmap.mmap(-1, 64 * 4096, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
a[0:20 * 4096] = b"a" * (20 * 4096)
s = mmap.mmap(-1, 32 * 4096)
s[0:8 * 4096] = b"s" * (8 * 4096)
f = open(p, "r+b")
fp = mmap.mmap(f.fileno(), 0, flags=mmap.MAP_PRIVATE)
fp[0:4096] = b"p" * 4096
x = sum(fp[k * 4096] for k in range(10))
fs = mmap.mmap(f.fileno(), 0)
fs[8192:8192 + 3 * 4096] = b"f" * (3 * 4096)
r, w = os.pipe()
if os.fork() == 0:
    a[0:4096] = b"c" * 4096
    os.write(w, b"w")
    time.sleep(60)
    os._exit(0)
os.read(r, 1)  # the child's copy is made: the figures stay as they are
print("ready", flush=True)
time.sleep(60)
"""


def pmap_rows(pid):
    rc, out, err = run(["pmap", "-X", str(pid)])
    lines = out.splitlines()
    head = lines[1].split()
    rows = {}
    for l in lines[2:]:
        cols = l.split()
        if len(cols) < 2 or not re.fullmatch(r"[0-9a-f]+", cols[0]) or \
                not re.fullmatch(r"[r-][w-][x-][ps]", cols[1]):
            continue
        rows[int(cols[0], 16)] = (int(cols[head.index("Rss")]) * 1024,
                                  int(cols[head.index("Pss")]) * 1024, cols[1])
    return rows


def test_maps(tool, d):
    p = os.path.join(d, "mapped")
    with open(p, "wb") as f:
        f.write(os.urandom(32 * PAGE))
    child = subprocess.Popen([sys.executable, "-c", CHILD, p], stdout=subprocess.PIPE, text=True,
                             start_new_session=True)
    try:
        check(child.stdout.readline().startswith("ready"), "maps: helper ready")
        rc, out, err = run([tool, "maps", "-j", "-b", str(child.pid)])
        js = json.loads(out)
        pm = pmap_rows(child.pid)
        mine = {int(m["start"], 16): m for m in js["mappings"]}
        check(rc == 0 and set(mine) == set(pm),
              f"maps: the same {len(mine)} mappings as pmap -X ({len(pm)})")
        # Rss of every mapping; Pss of those no other process maps (a shared
        # library's Pss changes whenever some process on the machine starts or exits)
        # ([vdso] and [vvar] are shared with every process on the machine)
        own = {a for a, m in mine.items()
               if m["mapping"] in (p, "", "[heap]", "[stack]") or m["mapping"].startswith("[anon")}
        bad = [hex(a) for a in pm if a in mine and (mine[a]["rss"] != pm[a][0] or
                                                    mine[a]["perms"] != pm[a][2] or
                                                    (a in own and mine[a]["pss"] != pm[a][1]))]
        check(not bad, f"maps: Perm and Rss per mapping, and Pss of the {len(own)} mappings only the "
                       f"helper and its child map, equal pmap -X's (differ: {bad})")
        cats = {m["category"] for m in js["mappings"]}
        check({"anon private", "anon shared", "file private", "file shared", "special"} <= cats,
              f"maps: every category present ({sorted(cats)})")
        total = js["totals"]["all"]
        check(total["rss"] == sum(m["rss"] for m in js["mappings"]), "maps: totals add up")
        rc, human, err = run([tool, "maps", str(child.pid)])
        check(rc == 0 and "TOTAL" in human and "anon shared" in human, "maps: human output")
    finally:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()


def test_bad_input(tool, d):
    good = os.path.join(d, "good")
    with open(good, "wb") as f:
        f.write(b"g" * PAGE)
    fifo = os.path.join(d, "fifo")
    os.mkfifo(fifo)
    secret = os.path.join(d, "secret")
    with open(secret, "wb") as f:
        f.write(b"s" * PAGE)
    os.chmod(secret, 0o600)
    missing = os.path.join(d, "missing")
    for cmd in ("resident", "touch", "evict"):
        rc, out, err = run([tool, cmd, missing, d, fifo, good], timeout=10)
        lines = err.strip().splitlines()
        check(rc == 1 and len(lines) == 3 and missing in lines[0] and "No such file" in lines[0]
              and "directory" in lines[1] and "FIFO" in lines[2] and "good" in out,
              f"{cmd}: missing file, directory, FIFO: one line each, the good file still done, exit 1")
    if os.geteuid() == 0:
        rc, out, err = run([tool, "resident", secret, good], nobody=True)
        check(rc == 1 and "secret: Permission denied" in err and "good" in out,
              "resident: an unreadable file named, the other still processed")
        rc, out, err = run([tool, "maps", "1"], nobody=True)
        check(rc == 1 and "PID 1" in err and "not allowed" in err, f"maps: a forbidden PID ({err.strip()})")
    else:
        print("skip: unreadable file and forbidden PID: needs root to drop to nobody")
    rc, out, err = run([tool, "maps", "999999999"])
    check(rc == 1 and "999999999" in err and "no such process" in err, "maps: a PID that does not exist")
    for bad in ("-5", "abc", "0", "99999999999"):
        rc, out, err = run([tool, "maps", "--", bad])
        check(rc == 2 and bad in err and len(err.strip().splitlines()) == 1,
              f"maps {bad}: exit 2, one line ({err.strip()})")
    for bad in ("12Q", "-5", "", "1G-1K", "x-"):
        rc, out, err = run([tool, "touch", "-r", bad, good])
        check(rc == 2 and bad in err and err.count("\n") >= 1, f"touch -r '{bad}': exit 2 ({err.strip().splitlines()[0]})")
    rc, out, err = run([tool, "resident"])
    check(rc == 2 and "no FILE" in err, "resident without a file: exit 2")
    rc, out, err = run([tool, "frobnicate"])
    check(rc == 2 and "frobnicate" in err, "an unknown command: exit 2")
    rc, out, err = run([tool, "resident", "-x", good])
    check(rc == 2 and "-x" in err, "an unknown option: exit 2")
    for cmd in ("resident", "touch", "evict", "lock", "maps"):
        rc, out, err = run([tool, cmd, "--help"])
        check(rc == 0 and out.startswith(f"usage: mmapkit {cmd}"), f"{cmd} --help")
    rc, out, err = run([tool, "--help"])
    check(rc == 0 and "commands:" in out, "mmapkit --help")


def main():
    tool = os.path.abspath(sys.argv[1])
    for t in ("vmtouch", "fincore", "pmap", "setpriv"):
        if not shutil.which(t):
            print(f"skip: {t} is not installed (scripts/deps.sh installs it)")
            return 77
    d = tempfile.mkdtemp(prefix="mmapkit-tool-")
    os.chmod(d, 0o755)
    try:
        test_resident(tool, d)
        test_touch_evict_lock(tool, d)
        test_maps(tool, d)
        test_bad_input(tool, d)
    finally:
        shutil.rmtree(d)
    print(f"tool: {len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
