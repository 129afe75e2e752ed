# SPDX-License-Identifier: MIT
"""The contract's fork semantics, from Python with os.fork.

| kind         | a write after fork() in one process is seen by the other | reaches the file |
| anon private | no, either direction                                     | -                |
| anon shared  | yes, both directions                                     | -                |
| file private | no, either direction                                     | no               |
| file shared  | yes, both directions                                     | yes              |
"""

import ctypes
import gc
import os
import signal
import unittest

import mmapkit
from mmapkit import Map

from .support import PAGE, TempDirTest, map_own, nothing_at, run_child


def exchange(m):
    """fork(); the child writes byte 0, the parent then writes byte 1.

    Pipes order the steps (no sleeping).  Returns (what the parent saw at byte 0 after the
    child's write, what the child saw at byte 1 after the parent's write).
    """
    c2p_r, c2p_w = os.pipe()
    p2c_r, p2c_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            signal.alarm(10)
            os.close(c2p_r)
            os.close(p2c_w)
            m[0] = 0xC1                      # the child's write
            os.write(c2p_w, b"w")
            if os.read(p2c_r, 1) == b"w":    # the parent has written byte 1
                os.write(c2p_w, bytes([m[1]]))
                code = 0
        finally:
            os._exit(code)
    os.close(c2p_w)
    os.close(p2c_r)
    try:
        if os.read(c2p_r, 1) != b"w":
            raise AssertionError("the child did not write")
        parent_saw = m[0]
        m[1] = 0xA1                          # the parent's write
        os.write(p2c_w, b"w")
        child_saw = os.read(c2p_r, 1)
    finally:
        os.close(c2p_r)
        os.close(p2c_w)
        _, status = os.waitpid(pid, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
        raise AssertionError(f"child failed: wait status {status:#x}")
    return parent_saw, child_saw[0]


class TestFork(TempDirTest):
    def file(self):
        p = self.path()
        with open(p, "wb") as f:
            f.write(bytes(PAGE))
        return p

    def test_anon_shared_both_directions(self):
        with Map.anon_shared(PAGE) as m:
            self.assertEqual(exchange(m), (0xC1, 0xA1))

    def test_anon_private_neither_direction(self):
        with Map.anon_private(PAGE) as m:
            m[0:2] = b"\x11\x22"   # written before fork: the child inherits these
            self.assertEqual(exchange(m), (0x11, 0x22))

    def test_file_shared_both_directions_and_the_file(self):
        p = self.file()
        with Map.file_shared(p) as m:
            self.assertEqual(exchange(m), (0xC1, 0xA1))
            fd = os.open(p, os.O_RDONLY)
            try:
                self.assertEqual(os.pread(fd, 2, 0), b"\xC1\xA1")  # the file, unsynced
            finally:
                os.close(fd)

    def test_file_private_neither_direction_nor_the_file(self):
        p = self.file()
        with Map.file_private(p) as m:
            self.assertEqual(exchange(m), (0, 0))
            self.assertEqual(m[0:2], b"\x00\xA1")
        self.assertEqual(self.read_file(p), bytes(PAGE))

    def test_dontfork_child_has_no_mapping(self):
        with Map.anon_shared(PAGE, mmapkit.DONTFORK) as m:
            pid = os.fork()
            if pid == 0:
                signal.alarm(10)
                m[0] = 1  # not mapped in the child: SIGSEGV
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            self.assertTrue(os.WIFSIGNALED(status))
            self.assertEqual(os.WTERMSIG(status), signal.SIGSEGV)

    def test_wipeonfork_child_sees_zeros(self):
        with Map.anon_private(PAGE, mmapkit.WIPEONFORK) as m:
            m[0] = 5
            pid = os.fork()
            if pid == 0:
                signal.alarm(10)
                os._exit(10 + m[0])
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.WEXITSTATUS(status), 10)
            self.assertEqual(m[0], 5)


    def test_gc_in_child_spares_the_childs_own_memory(self):
        """A child lacks the DONTFORK pages of an inherited Map and maps memory of its own
        there; its garbage collector unmaps the Map: the child's memory survives, and
        what the child had of the Map (the other pages, the guards) is released."""
        path = self.path()
        with open(path, "wb") as f:
            f.write(bytes(4 * PAGE))
        for kind in mmapkit.Kind:
            for flags in (0, mmapkit.GUARD):
                file = kind in (mmapkit.Kind.FILE_PRIVATE, mmapkit.Kind.FILE_SHARED)
                holder = [Map.new(kind, 0 if file else 4 * PAGE, path=path if file else None,
                                  flags=flags)]
                holder[0].advise(mmapkit.ADV_DONTFORK, PAGE, 2 * PAGE)
                holder[0][:] = b"\x44" * (4 * PAGE)
                addr = holder[0].address

                def child():
                    gone = addr + PAGE
                    if not map_own(gone, 2 * PAGE):  # the pages really are not there
                        return False
                    ctypes.memset(gone, 0xC7, 2 * PAGE)
                    holder.clear()  # the last reference: the Map is unmapped now
                    gc.collect()
                    if ctypes.string_at(gone, 2 * PAGE) != b"\xC7" * (2 * PAGE):  # or SIGSEGV
                        return False
                    guards = not flags or (nothing_at(addr - PAGE, PAGE)
                                           and nothing_at(addr + 4 * PAGE, PAGE))
                    return nothing_at(addr, PAGE) and nothing_at(addr + 3 * PAGE, PAGE) and guards

                status = run_child(child)
                what = f"{kind.name} flags {flags:#x}"
                self.assertTrue(os.WIFEXITED(status), f"{what}: wait status {status:#x}")
                self.assertEqual(os.WEXITSTATUS(status), 0, what)
                self.assertEqual(holder[0][:], b"\x44" * (4 * PAGE))  # the parent keeps it
                holder[0].close()

if __name__ == "__main__":
    unittest.main()
