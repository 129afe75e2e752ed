# SPDX-License-Identifier: MIT
"""0.2: Map.read and Map.write (OSError EFAULT where a plain access dies of SIGBUS), and
the ALLOCATE flag (each skipped, saying so, where the loaded library lacks it)."""

import errno
import os

import mmapkit
from mmapkit import Map

from .support import PAGE, TempDirTest, lacks, lacks_flag, pattern, run_child


@lacks("mmapkit_read", "mmapkit_write")
class TestReadWrite(TempDirTest):

    def test_copies(self):
        m = Map.anon_private(2 * PAGE)
        self.assertEqual(m.write(PAGE - 2, b"span"), 4)
        self.assertEqual(m[PAGE - 2:PAGE + 2], b"span")
        self.assertEqual(m.read(PAGE - 2, 4), b"span")
        self.assertEqual(m.write(0, bytearray(b"ba")), 2)
        self.assertEqual(m.write(2, memoryview(b"xxmv")[2:]), 2)
        self.assertEqual(m.read(0, 4), b"bamv")
        self.assertEqual(m.read(2 * PAGE, 0), b"")
        m.close()

    def test_errors(self):
        p, data = self.pattern_file(PAGE)
        m = Map.file_shared(p, 0, 0, mmapkit.RDONLY)
        self.assertEqual(m.read(0, PAGE), data)
        with self.assertRaises(PermissionError):
            m.write(0, b"x")
        for call in (lambda: m.read(PAGE - 1, 2), lambda: m.read(PAGE + 1, 0)):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.ERANGE)
        self.assertRaises(ValueError, m.read, -1, 1)
        m.close()
        self.assertRaises(ValueError, m.read, 0, 1)

    def test_truncated_file_is_efault_not_sigbus(self):
        p, data = self.pattern_file(4 * PAGE)
        m = Map.file_shared(p)
        os.truncate(p, PAGE)  # as another process might

        def child():  # a plain access there dies: the reason read() exists
            m[2 * PAGE]
            return True
        status = run_child(child)
        self.assertTrue(os.WIFSIGNALED(status) and os.WTERMSIG(status) == 7, hex(status))
        for call in (lambda: m.read(2 * PAGE, 10), lambda: m.write(3 * PAGE, b"x"),
                     lambda: m.read(0, 2 * PAGE)):
            with self.assertRaises(OSError) as cm:
                call()
            self.assertEqual(cm.exception.errno, errno.EFAULT)
            self.assertIn("mmapkit_", str(cm.exception))
        self.assertEqual(m.read(0, PAGE), data[:PAGE])  # the handle goes on working
        m.write(0, b"ok")
        self.assertEqual(m[0:2], b"ok")
        m.close()


def _allocate_probe():
    import tempfile
    with tempfile.NamedTemporaryFile() as f:
        return Map.file_shared(f.name, 0, PAGE, mmapkit.GROW | mmapkit.ALLOCATE)


@lacks_flag(mmapkit.ALLOCATE, "MMAPKIT_ALLOCATE", _allocate_probe)
class TestAllocate(TempDirTest):

    def test_blocks_allocated(self):
        n = 64 * PAGE
        sparse = Map.file_shared(self.path("sparse"), 0, n, mmapkit.CREATE | mmapkit.GROW)
        full = Map.file_shared(self.path("full"), 0, n,
                               mmapkit.CREATE | mmapkit.GROW | mmapkit.ALLOCATE)
        self.assertLess(os.stat(self.path("sparse")).st_blocks * 512, n)
        self.assertGreaterEqual(os.stat(self.path("full")).st_blocks * 512, n)
        self.assertEqual(full[:], bytes(n))  # allocated, still zeros
        full[:] = pattern(n)
        sparse.close()
        full.close()

    def test_anonymous_refused(self):
        with self.assertRaises(OSError) as cm:
            Map.anon_private(PAGE, mmapkit.ALLOCATE)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
