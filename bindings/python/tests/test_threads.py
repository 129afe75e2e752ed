# SPDX-License-Identifier: MIT
"""close() racing other methods from other threads: an exception, never a use-after-free.

Each round maps afresh; seven threads read, write, slice, flush, advise, view (view() and
memoryview(m)) and move while an eighth closes the map at a random moment.  Every call either works or raises
ValueError (closed); once one has raised, every later one does.  The rounds run in a
child process, so that touching unmapped memory shows as the signal that kills it.
"""

import mmap as stdlib_mmap
import os
import random
import sys
import threading
import unittest

import mmapkit
from mmapkit import Map, compat

from .support import PAGE, TempDirTest, run_child

THREADS = 8  # seven users and the closer
ROUNDS = int(os.environ.get("MMAPKIT_RACE_ROUNDS", "150"))
CALLS = 200  # per user thread and round, at most


def _spot(i):
    """Where call i of a user thread works: spread over the map's four pages."""
    return i * 97 % (4 * PAGE - 64)


def _map_ops(m, i):
    k = _spot(i)
    return (
        lambda: m[k],
        lambda: m.__setitem__(slice(k, k + 16), b"x" * 16),
        lambda: m[k:k + 64],
        lambda: m.sync(0, PAGE),
        lambda: m.advise(mmapkit.ADV_WILLNEED, k, 64),
        lambda: _buffer_read(m, k, lambda: _view_read(m, k)),
        lambda: sum(1 for _ in zip(range(8), m)),
    )


def _view_read(m, k):
    v = m.view(k, 16)
    try:
        return v[0]
    finally:
        v.release()


def _buffer_read(m, k, otherwise):
    """On odd spots, a read through the buffer protocol (memoryview(m): the C extension's
    export), where the binding has it; otherwise() elsewhere."""
    if not (k % 2 and mmapkit.buffer_protocol):
        return otherwise()
    with memoryview(m) as whole, whole[k:k + 16] as v:
        return v[0]


def _compat_ops(m, i):
    k = _spot(i)
    return (
        lambda: m[k],
        lambda: m.__setitem__(slice(k, k + 16), b"y" * 16),
        lambda: m[k:k + 64],
        lambda: m.flush(0, PAGE),
        lambda: m.madvise(compat.MADV_WILLNEED, 0, PAGE),
        lambda: m.move(k, _spot(i + 41), 64),
        lambda: _buffer_read(m, k, lambda: m.find(b"zz", k)),
    )


def _round(make, ops, failures):
    m = make()
    start = threading.Barrier(THREADS)

    def user(t):
        start.wait()
        closed = False
        for i in range(CALLS):
            try:
                ops(m, i + t)[t % 7]()
            except ValueError:
                closed = True
                continue
            if closed:
                failures.append(f"thread {t}: a call worked after one said closed")
                return

    def closer():
        start.wait()
        for _ in range(random.randrange(50)):
            pass
        while True:
            try:
                m.close()
                return
            except BufferError:  # a view of a user thread is alive: try again
                continue

    threads = [threading.Thread(target=user, args=(t,)) for t in range(THREADS - 1)]
    threads.append(threading.Thread(target=closer))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if not m.closed:
        failures.append("the closer returned but the map is open")


class TestCloseRace(TempDirTest):
    def race(self, make, ops):
        def body():
            sys.setswitchinterval(1e-6)  # switch threads as often as CPython allows
            failures = []
            for _ in range(ROUNDS):
                _round(make, ops, failures)
                if failures:
                    print(failures[:3], file=sys.stderr)
                    return False
            return True

        status = run_child(body, timeout=120)
        self.assertTrue(os.WIFEXITED(status),
                        f"the child died of signal {os.WTERMSIG(status)}: a call used the map "
                        "after close() unmapped it")
        self.assertEqual(os.WEXITSTATUS(status), 0)

    def test_map(self):
        path, _ = self.pattern_file(4 * PAGE)
        self.race(lambda: Map.file_shared(path), _map_ops)

    def test_compat_mmap(self):
        path, _ = self.pattern_file(4 * PAGE)

        def make():
            with open(path, "r+b") as f:
                return compat.mmap(f.fileno(), 4 * PAGE, stdlib_mmap.MAP_SHARED)
        self.race(make, _compat_ops)


if __name__ == "__main__":
    unittest.main()
