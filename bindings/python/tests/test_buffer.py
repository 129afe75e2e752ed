# SPDX-License-Identifier: MIT
"""The buffer protocol of Map and compat.mmap (the C extension mmapkit._buffer, or
PEP 688 on Python 3.12+), as the standard mmap offers it: the consumers of the standard
library and numpy, export counting, and no access to unmapped memory after close()."""

import gc
import hashlib
import io
import mmap as std
import os
import re
import subprocess
import sys
import unittest

import mmapkit
import mmapkit.compat as kit
from mmapkit import Map

from .support import PAGE, TempDirTest, pattern

try:
    import numpy
except ImportError:
    numpy = None

needs_buffer = unittest.skipUnless(mmapkit.buffer_protocol,
                                   "no C extension and Python < 3.12: no buffer protocol")


def _makers(test):
    """(name, factory) for a Map and a compat.mmap holding pattern(PAGE) at 0."""
    data = pattern(PAGE)

    def map_():
        m = Map.anon_private(PAGE)
        m[:] = data
        return m

    def compat_():
        m = kit.mmap(-1, PAGE)
        m[:] = data
        return m

    def std_():
        m = std.mmap(-1, PAGE)
        m[:] = data
        return m
    return data, (("Map", map_), ("compat.mmap", compat_), ("stdlib mmap", std_))


@needs_buffer
class TestBufferProtocol(TempDirTest):

    def test_consumers(self):
        """Each consumer gives the standard module's answer for all three."""
        data, makers = _makers(self)
        pat = re.compile(rb"[\x10-\x20]{3}")
        for name, make in makers:
            with self.subTest(name):
                m = make()
                self.assertEqual(hashlib.sha256(m).hexdigest(), hashlib.sha256(data).hexdigest())
                self.assertEqual(pat.search(m).span(), pat.search(data).span())
                self.assertEqual(bytes(m), data)
                self.assertEqual(bytearray(m), data)
                self.assertEqual(m[:] + b"", data)
                buf = io.BytesIO()
                buf.write(m)
                self.assertEqual(buf.getvalue(), data)
                with open(self.path(), "wb") as f:
                    f.write(m)
                self.assertEqual(self.read_file(self.path()), data)
                self.assertEqual(b"".join([m, b"!"]), data + b"!")
                self.assertEqual(int.from_bytes(m[:8], "little"),
                                 int.from_bytes(memoryview(m)[:8], "little"))
                gc.collect()
                m.close()

    def test_memoryview(self):
        for name, make in _makers(self)[1]:
            with self.subTest(name):
                m = make()
                with memoryview(m) as v:
                    self.assertIs(v.obj, m)
                    self.assertEqual((v.format, v.itemsize, v.ndim, v.shape, v.readonly),
                                     ("B", 1, 1, (PAGE,), False))
                    self.assertTrue(v.c_contiguous)
                    v[0] = 200
                    v[1:3] = b"xy"
                    self.assertEqual(m[0:3], b"\xc8xy")  # writes reach the mapping
                    m[3] = 7
                    self.assertEqual(v[3], 7)             # and the mapping the view
                m.close()

    def test_zero_copy(self):
        """The view is the mapping's own memory: its address is mmapkit_ptr()."""
        import ctypes
        m = Map.anon_shared(PAGE)
        with memoryview(m) as v:
            c = (ctypes.c_char * PAGE).from_buffer(v)
            self.assertEqual(ctypes.addressof(c), m.address)
            del c
        m.close()

    def test_readonly(self):
        p, data = self.pattern_file(PAGE)
        with open(p, "rb") as f:
            maps = [Map.file_shared(p, 0, 0, mmapkit.RDONLY),
                    kit.mmap(f.fileno(), 0, access=kit.ACCESS_READ),
                    std.mmap(f.fileno(), 0, access=std.ACCESS_READ)]
        for m in maps:
            with self.subTest(type(m).__name__):
                with memoryview(m) as v:
                    self.assertTrue(v.readonly)
                    self.assertEqual(v.tobytes(), data)
                    self.assertRaises(TypeError, v.__setitem__, 0, 1)
                self.assertEqual(hashlib.md5(m).digest(), hashlib.md5(data).digest())
                # A consumer that wants to write: BufferError, as from the stdlib mmap.
                self.assertRaises((BufferError, TypeError), io.BytesIO(b"x").readinto, m)
                m.close()

    def test_export_blocks_close_until_released(self):
        for name, make in _makers(self)[1]:
            with self.subTest(name):
                m = make()
                v = memoryview(m)
                w = v[10:20]          # a slice of the view: still the same export
                v.release()
                self.assertRaises(BufferError, m.close)
                self.assertFalse(m.closed)
                self.assertEqual(w[0], m[10])
                w.release()
                m.close()
                self.assertTrue(m.closed)
                self.assertRaises(ValueError, memoryview, m)
                self.assertRaises(ValueError, hashlib.sha256, m)
                self.assertRaises(TypeError, re.search, b"x", m)  # as re says for mmap

    def test_export_blocks_close_while_a_consumer_holds_it(self):
        """A buffer held by C code (a ctypes object, a bytes-like slice of a numpy array)
        counts until that object goes."""
        import ctypes
        for name, make in _makers(self)[1]:
            with self.subTest(name):
                m = make()
                held = (ctypes.c_char * 16).from_buffer(m, 16)
                self.assertRaises(BufferError, m.close)
                self.assertEqual(held.raw, m[16:32])
                del held
                gc.collect()
                m.close()

    def test_resize_blocked_by_exports(self):
        m = kit.mmap(-1, PAGE)
        with memoryview(m):
            self.assertRaises(BufferError, m.resize, 2 * PAGE)
        m.resize(2 * PAGE)
        with memoryview(m) as v:
            self.assertEqual(len(v), 2 * PAGE)  # the new mapping's size and address
        m.close()

    def test_empty_map(self):
        p = self.path()
        open(p, "wb").close()
        m = Map.file_shared(p)
        with memoryview(m) as v:
            self.assertEqual(len(v), 0)
        self.assertEqual(bytes(m), b"")
        m.close()

    def test_many_exports(self):
        m = Map.anon_private(PAGE)
        views = [memoryview(m) for _ in range(1000)]
        self.assertRaises(BufferError, m.close)
        for v in views:
            v.release()
        m.close()

    @unittest.skipIf(numpy is None, "numpy is not installed (Debian: python3-numpy)")
    def test_numpy(self):
        for name, make in _makers(self)[1]:
            with self.subTest(name):
                m = make()
                a = numpy.frombuffer(m, dtype=numpy.uint8)
                self.assertEqual(a.tobytes(), m[:])
                self.assertTrue(a.flags.writeable is False or a.base is not None)
                u = numpy.frombuffer(m, dtype="<u4", count=4, offset=8)
                self.assertEqual(int(u[0]), int.from_bytes(m[8:12], "little"))
                self.assertRaises(BufferError, m.close)
                w = numpy.asarray(memoryview(m))  # writable through a memoryview
                w[0] = 99
                self.assertEqual(m[0], 99)
                del a, u, w
                gc.collect()
                m.close()


class TestWithoutExtension(unittest.TestCase):
    """MMAPKIT_EXTENSION=none: the pure-ctypes binding, and what it says it lacks."""

    def test_pure_ctypes(self):
        code = (
            "import warnings, sys\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    import mmapkit\n"
            "m = mmapkit.Map.anon_private(4096); m[0] = 5\n"
            "assert m.view()[0] == 5\n"
            "try:\n"
            "    memoryview(m); ok = True\n"
            "except TypeError:\n"
            "    ok = False\n"
            "print(mmapkit.extension, mmapkit.buffer_protocol, ok,\n"
            "      [str(x.message) for x in w if x.category is RuntimeWarning])\n"
            "print(mmapkit.extension_error)\n")
        env = dict(os.environ, MMAPKIT_EXTENSION="none")
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                             text=True, check=True, cwd=os.path.dirname(os.path.dirname(
                                 os.path.abspath(__file__)))).stdout.splitlines()
        pep688 = sys.version_info >= (3, 12)
        self.assertTrue(out[0].startswith(f"None {pep688} {pep688} "), out)
        if pep688:
            self.assertTrue(out[0].endswith(" []"), out)
        else:
            self.assertIn("lack the buffer protocol", out[0])
        self.assertEqual(out[1], "MMAPKIT_EXTENSION=none")

    def test_named_extension_must_load(self):
        env = dict(os.environ, MMAPKIT_EXTENSION="/nonexistent/_buffer.so")
        p = subprocess.run([sys.executable, "-c", "import mmapkit"], env=env,
                           capture_output=True, text=True,
                           cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot load MMAPKIT_EXTENSION=/nonexistent/_buffer.so", p.stderr)

    @unittest.skipUnless(os.environ.get("MMAPKIT_EXTENSION", "none") != "none",
                         "no extension named by MMAPKIT_EXTENSION (CTest names the built one)")
    def test_the_named_extension_is_used(self):
        self.assertIsNotNone(mmapkit.extension)
        self.assertEqual(os.path.realpath(mmapkit.extension.__file__),
                         os.path.realpath(os.environ["MMAPKIT_EXTENSION"]))
        self.assertIsInstance(Map.anon_private(1), mmapkit.extension.BufferExporter)


if __name__ == "__main__":
    unittest.main()
