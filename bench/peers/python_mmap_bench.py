#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Peer for mmapkit_bench: Python's mmap module (Debian's python3, numpy for the checksum).

  python_mmap_bench.py serve        answer the commands of bench/peer.c on stdin
  python_mmap_bench.py count FILE   run each operation between the counter's marker
                                    system calls (bench/syscount.c), FILE: 64 KiB
  python_mmap_bench.py shm-time N   N times multiprocessing.shared_memory.SharedMemory
                                    (create) + close + unlink; prints "ns T" per cycle
  python_mmap_bench.py shm-count    that cycle 4 times between the counter's markers

Only what the mmap module offers is measured; everything is done the way a Python
program would do it (os.open + mmap.mmap, m.flush(), m.madvise()).
"""
import ctypes
import mmap
import os
import sys
import time

try:
    import numpy as np
except ImportError:  # the checksum is then reported as unsupported
    np = None

SZ = 64 * 1024
MARK_BEGIN, MARK_END, MARK_ERR = 0x4D4B00, 0x4D4B01, 0x4D4B02
MADV_POPULATE_WRITE = getattr(mmap, "MADV_POPULATE_WRITE", 23)

libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long


def mark(nr, arg=None):
    if arg is None:
        libc.syscall(ctypes.c_long(nr))
    else:
        libc.syscall(ctypes.c_long(nr), arg)


# ---- count mode: one function per operation, named as in bench/count.c ----

def anon(flags):
    def op(path, m=None):
        mp = mmap.mmap(-1, SZ, flags=flags)
        mp.close()
    return op


def file_map(oflags, **kw):
    def op(path):
        fd = os.open(path, oflags | os.O_CLOEXEC)
        m = mmap.mmap(fd, 0, **kw)
        m.close()
        os.close(fd)
    return op


def ranged(setup, action):
    """An operation on a mapping made (and torn down) outside the markers."""
    def op(path, name):
        m, fd = setup(path)
        mark(MARK_BEGIN, name)
        try:
            action(m)
        except OSError as e:
            mark(MARK_ERR, str(e).encode())
        mark(MARK_END)
        m.close()
        if fd >= 0:
            os.close(fd)
    op.ranged = True
    return op


def anon_map(path):
    m = mmap.mmap(-1, SZ, flags=mmap.MAP_PRIVATE)
    m[0:SZ:4096] = b"\1" * (SZ // 4096)
    return m, -1


def shared_file(path):
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    m = mmap.mmap(fd, 0)
    m[0] = 1
    return m, fd


def fd_shared(path):
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def op(p, name):
        mark(MARK_BEGIN, name)
        m = mmap.mmap(fd, 0)
        m.close()
        mark(MARK_END)
    op.ranged = True
    return op, fd


COUNT_OPS = {
    "anon-private create+unmap": anon(mmap.MAP_PRIVATE),
    "anon-shared create+unmap": anon(mmap.MAP_SHARED),
    "file-shared map+unmap": file_map(os.O_RDWR),
    "file-private map+unmap": file_map(os.O_RDONLY, access=mmap.ACCESS_COPY),
    "file-shared RDONLY map+unmap": file_map(os.O_RDONLY, access=mmap.ACCESS_READ),
    "flag POPULATE": anon(mmap.MAP_PRIVATE | mmap.MAP_POPULATE),
    "flag POPULATE (file-shared)": file_map(os.O_RDWR, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE),
    "sync": ranged(shared_file, lambda m: m.flush()),
    "advise SEQUENTIAL": ranged(anon_map, lambda m: m.madvise(mmap.MADV_SEQUENTIAL)),
    "advise DONTNEED": ranged(anon_map, lambda m: m.madvise(mmap.MADV_DONTNEED)),
    "advise WILLNEED": ranged(shared_file, lambda m: m.madvise(mmap.MADV_WILLNEED)),
    "advise POPULATE_WRITE": ranged(anon_map, lambda m: m.madvise(MADV_POPULATE_WRITE)),
}


def count(path):
    fd_op, fd = fd_shared(path)
    ops = dict(COUNT_OPS)
    ops["fd-shared map+unmap"] = fd_op
    for _ in range(4):
        for name, op in ops.items():
            tag = ("python|" + name).encode()
            if getattr(op, "ranged", False):
                op(path, tag)
                continue
            mark(MARK_BEGIN, tag)
            try:
                op(path)
            except OSError as e:
                mark(MARK_ERR, str(e).encode())
            mark(MARK_END)
    os.close(fd)


# ---- serve mode ----

def create(iters, kind, size, path=None):
    size = int(size)
    t0 = time.thread_time_ns()
    if kind == "file":
        for _ in range(iters):
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
            m = mmap.mmap(fd, 0)
            m[0]
            m.close()
            os.close(fd)
    else:
        flags = mmap.MAP_PRIVATE if kind == "anon-private" else mmap.MAP_SHARED
        for _ in range(iters):
            m = mmap.mmap(-1, size, flags=flags)
            m[0] = 1
            m.close()
    return "ok %d" % (time.thread_time_ns() - t0)


def advise(iters, path):
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    m = mmap.mmap(fd, 0)
    t0 = time.thread_time_ns()
    for _ in range(iters):
        m.madvise(mmap.MADV_NORMAL)
    t = time.thread_time_ns() - t0
    m.close()
    os.close(fd)
    return "ok %d" % t


def sync(iters, path):
    fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    m = mmap.mmap(fd, 0)
    t0 = time.thread_time_ns()
    for _ in range(iters):
        m.flush()
    t = time.thread_time_ns() - t0
    m.close()
    os.close(fd)
    return "ok %d" % t


def checksum(iters, path):
    if np is None:
        return "unsupported numpy is not installed (python3-numpy)"
    t0 = time.thread_time_ns()
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    m = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
    words = np.frombuffer(m, dtype=np.uint64)
    s = int(words.sum(dtype=np.uint64))
    del words  # the mapping cannot close while numpy holds a view of it
    m.close()
    os.close(fd)
    return "ok %d %d" % (time.thread_time_ns() - t0, s)


def serve():
    cmds = {"create": create, "advise": advise, "sync": sync, "checksum": checksum}
    np_ver = np.__version__ if np is not None else "missing"
    print("ready python %s, numpy %s" % (sys.version.split()[0], np_ver), flush=True)
    for line in sys.stdin:
        words = line.split()
        if not words or words[0] == "quit":
            break
        fn = cmds.get(words[0])
        try:
            reply = fn(int(words[1]), *words[2:]) if fn else "unsupported " + words[0]
        except Exception as e:  # report, keep serving
            reply = "error %s: %s" % (type(e).__name__, e)
        print(reply, flush=True)


# ---- named shared memory (section 7) ----

def shm_cycle(serial=[0]):
    from multiprocessing import shared_memory
    serial[0] += 1
    name = "mmapkit-bench-py-%d-%d" % (os.getpid(), serial[0])
    s = shared_memory.SharedMemory(name=name, create=True, size=SZ)
    s.close()
    s.unlink()


def shm_time(n):
    shm_cycle()  # imports, and starts the resource tracker: not part of a cycle
    t0 = time.monotonic_ns()
    for _ in range(n):
        shm_cycle()
    print("ns %.3f" % ((time.monotonic_ns() - t0) / n), flush=True)


def shm_count():
    shm_cycle()
    for _ in range(4):
        mark(MARK_BEGIN, b"python|shm cycle")
        try:
            shm_cycle()
        except OSError as e:
            mark(MARK_ERR, str(e).encode())
        mark(MARK_END)


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "serve":
        serve()
    elif len(sys.argv) >= 3 and sys.argv[1] == "count":
        count(sys.argv[2])
    elif len(sys.argv) >= 3 and sys.argv[1] == "shm-time":
        shm_time(int(sys.argv[2]))
    elif len(sys.argv) >= 2 and sys.argv[1] == "shm-count":
        shm_count()
    else:
        sys.exit(__doc__)
