# SPDX-License-Identifier: MIT
"""mmapkit.compat against the standard library's mmap, call by call.

Each scenario runs once with the stdlib module and once with mmapkit.compat and
records every result (or the exception's type and errno); the two records must be
equal.  The deliberate differences are tested on their own below.
"""

import errno
import itertools
import mmap as std
import os
import subprocess
import sys
import unittest

import mmapkit
import mmapkit.compat as kit

from .support import PAGE, TempDirTest, pattern, run_child

# stdlib names mmapkit.compat leaves out: mmapkit_advise does not offer these advices,
# and mmapkit cannot ask for a mapping below 2 GiB.
OMITTED = {"MADV_HWPOISON", "MADV_MERGEABLE", "MADV_UNMERGEABLE", "MADV_SOFT_OFFLINE",
           "MAP_32BIT"}


# Debian's 3.11.2 mmap.find(b"", start, end) with end < start returns start (and rfind
# end) where bytes.find and later versions return -1; mmapkit.compat returns -1.
STD_EMPTY_FIND_BUG = std.mmap(-1, 2).find(b"", 2, 1) != -1


def clamp(i, n):
    return min(max(i + n if i < 0 else i, 0), n)


def outcome(fn, *args, **kw):
    try:
        r = fn(*args, **kw)
    except Exception as e:  # the type and errno are the contract, not the text
        return ("raises", type(e).__name__, getattr(e, "errno", None))
    return ("returns", r)


class Recorder:
    def __init__(self):
        self.log = []

    def __call__(self, label, fn, *args, **kw):
        self.log.append((label, outcome(fn, *args, **kw)))


class TestNames(unittest.TestCase):
    def test_every_stdlib_name_with_its_value(self):
        public = [n for n in dir(std) if not n.startswith("_")]
        for name in public:
            with self.subTest(name):
                if name in OMITTED:
                    self.assertFalse(hasattr(kit, name))
                    continue
                self.assertTrue(hasattr(kit, name), name)
                if isinstance(getattr(std, name), int):
                    self.assertEqual(getattr(kit, name), getattr(std, name))
        self.assertIs(kit.error, OSError)
        self.assertEqual(kit.PAGESIZE, PAGE)

    def test_extra_advice_names_have_the_kernel_values(self):
        # The stdlib of a newer Python may export these; the values are the kernel's.
        extra = {"MADV_WIPEONFORK": 18, "MADV_KEEPONFORK": 19, "MADV_COLD": 20,
                 "MADV_PAGEOUT": 21, "MADV_POPULATE_READ": 22, "MADV_POPULATE_WRITE": 23}
        for name, value in extra.items():
            self.assertEqual(getattr(kit, name), value)
            if hasattr(std, name):
                self.assertEqual(getattr(std, name), value)

    def test_methods(self):
        names = {n for n in dir(std.mmap) if not n.startswith("_") or n in (
            "__getitem__", "__setitem__", "__len__", "__enter__", "__exit__")}
        names.discard("_protect")  # Windows debug builds only
        self.assertEqual(names - set(dir(kit.mmap)), set())


@unittest.skipIf(sys.version_info < (3, 10), "mmapkit.compat follows the mmap of Python 3.10+ "
                 "(repr, MAP_POPULATE)")
class TestAgainstStdlib(TempDirTest):
    def both(self, scenario):
        """Run scenario(module, rec) with each module; the records must be the same."""
        records = []
        for module in (std, kit):
            rec = Recorder()
            scenario(module, rec)
            records.append(rec.log)
        self.assertEqual(len(records[0]), len(records[1]))
        for a, b in zip(*records):
            self.assertEqual(a, b)
        return records[0]

    def file(self, size, name="f.bin"):
        p, _ = self.pattern_file(size, name)
        return p

    def test_file_like_methods(self):
        data = b"line one\nline two\n\nlast"

        def scenario(mm, rec):
            p = self.path("lines")
            with open(p, "wb") as f:
                f.write(data)
            with open(p, "r+b") as f:
                m = mm.mmap(f.fileno(), 0)
            rec("len", len, m)
            for _ in range(5):
                rec("readline", m.readline)
                rec("tell", m.tell)
            rec("seek", m.seek, 3)
            rec("read4", m.read, 4)
            rec("read_byte", m.read_byte)
            rec("read-1", m.read, -1)
            rec("read_byte end", m.read_byte)
            rec("read end", m.read)
            rec("seek end", m.seek, 0, 2)
            rec("seek past", m.seek, 1, 1)
            rec("seek neg", m.seek, -1)
            rec("seek whence", m.seek, 0, 3)
            rec("seek back", m.seek, -4, 2)
            rec("write", m.write, b"LAST")
            rec("write past", m.write, b"x")
            rec("write_byte past", m.write_byte, 1)
            rec("seek 0", m.seek, 0)
            rec("write_byte", m.write_byte, 76)
            rec("write_byte big", m.write_byte, 256)
            rec("write_byte neg", m.write_byte, -1)
            rec("write_byte bytes", m.write_byte, b"x")
            rec("write str", m.write, "str")
            rec("write bytearray", m.write, bytearray(b"INE"))
            rec("write memoryview", m.write, memoryview(b" ON"))
            rec("contents", m.__getitem__, slice(None))
            rec("read none", m.read, None)
            rec("read float", m.read, 1.5)
            rec("size", m.size)
            rec("flush", m.flush)
            rec("flush part", m.flush, 0, 4)
            rec("flush unaligned", m.flush, 1, 2)
            rec("flush range", m.flush, 0, len(data) + 1)
            rec("close", m.close)
            rec("closed", lambda: m.closed)
            with open(p, "rb") as f:
                rec("file", f.read)
        self.both(scenario)

    def test_find_and_rfind(self):
        data = b"one two ones\x00on"

        def scenario(mm, rec):
            m = mm.mmap(-1, len(data))
            m[:] = data
            n = len(data)
            for sub in (b"on", b"one", b"", b"s\x00", b"x", bytearray(b"two")):
                for i, j in itertools.product(list(range(-n - 2, n + 3, 3)) + [None], repeat=2):
                    if not sub and i is not None and j is not None and STD_EMPTY_FIND_BUG \
                            and clamp(j, n) < clamp(i, n):
                        continue  # see test_find_matches_bytes_find
                    if j is None:
                        rec("find", m.find, sub, i)
                        rec("rfind", m.rfind, sub, i)
                    else:
                        rec("find", m.find, sub, i, j)
                        rec("rfind", m.rfind, sub, i, j)
            m.seek(5)
            rec("find from pos", m.find, b"on")
            rec("rfind from pos", m.rfind, b"on")
            rec("find str", m.find, "on")
            rec("in", lambda: b"t" in m)
            rec("in2", lambda: b"tw" in m)
            rec("in int", lambda: 116 in m)
            rec("iter", list, m)
        self.both(scenario)

    def test_find_matches_bytes_find(self):
        # For every start and end inside [-n-1, n], as test_mmap of 3.11.7 checks.
        data = b"one two ones\x00on"
        n = len(data)
        m = kit.mmap(-1, n)
        m[:] = data
        for sub in (b"", b"o", b"on", b"two", b"ones", b"s", b"\x00on", b"x"):
            for i, j in itertools.product(range(-n - 1, n + 1), repeat=2):
                self.assertEqual(m.find(sub, i, j), data.find(sub, i, j), (sub, i, j))
                self.assertEqual(m.rfind(sub, i, j), data.rfind(sub, i, j), (sub, i, j))
        m.close()

    def test_find_across_chunks(self):
        size = (1 << 20) * 2 + 100

        def scenario(mm, rec):
            m = mm.mmap(-1, size)
            for at in ((1 << 20) - 2, (1 << 20) * 2 - 1, 7):
                m[at:at + 4] = b"NEED"
            rec("find", m.find, b"NEED")
            rec("find 2", m.find, b"NEED", 8)
            rec("find 3", m.find, b"NEED", (1 << 20))
            rec("rfind", m.rfind, b"NEED")
            rec("rfind 2", m.rfind, b"NEED", 0, (1 << 20) * 2 + 2)
            rec("rfind 3", m.rfind, b"NEED", 0, (1 << 20) + 1)
            m.close()
        self.both(scenario)

    def test_items_and_slices(self):
        s = pattern(256)

        def scenario(mm, rec):
            m = mm.mmap(-1, 256)
            m[:] = s
            for key in (0, -1, 255, 256, -257, slice(None, None, -1), slice(5, -5, 7),
                        slice(-300, 300), slice(300, None), slice(10, 0, -3), "a", 1.0):
                rec("get", m.__getitem__, key)
            for key, value in ((0, 1), (-1, 255), (256, 1), (0, 256), (0, -1), (0, b"a"),
                               (slice(0, 3), b"abc"), (slice(0, 3), b"ab"),
                               (slice(None, None, -50), b"123456"), (slice(0, 2), "ab"),
                               (slice(0, 2), [1, 2]), ("x", 1)):
                rec("set", m.__setitem__, key, value)
            rec("del", m.__delitem__, 0)
            rec("contents", m.__getitem__, slice(None))
            rec("add", lambda: m + m)
            rec("mul", lambda: m * 2)
            rec("move", m.move, 10, 0, 20)
            rec("move over", m.move, 250, 0, 7)
            rec("move neg", m.move, -1, 0, 1)
            rec("contents", m.__getitem__, slice(None))
        self.both(scenario)

    def test_constructor_arguments(self):
        def scenario(mm, rec):
            p = self.file(2 * PAGE)
            empty = self.path("empty")
            open(empty, "wb").close()
            with open(p, "r+b") as f, open(empty, "rb") as e, open(p, "rb") as ro:
                fd = f.fileno()
                cases = [
                    ((fd, 0), {}), ((fd, PAGE), {"offset": PAGE}), ((fd, 2 * PAGE + 1), {}),
                    ((fd, 0), {"offset": 2 * PAGE}), ((fd, 0), {"offset": 3 * PAGE}),
                    ((fd, 10), {"offset": 1}), ((fd, -1), {}), ((fd, 10), {"offset": -1}),
                    ((fd, 10), {"access": 4}), ((fd, 10), {"access": std.ACCESS_READ,
                                                          "flags": std.MAP_PRIVATE}),
                    ((fd, 10), {"access": std.ACCESS_WRITE, "prot": std.PROT_READ}),
                    ((e.fileno(), 0), {}), ((e.fileno(), 0), {"access": std.ACCESS_READ}),
                    ((-2, 10), {}), ((ro.fileno(), 10), {}),
                    ((ro.fileno(), 10), {"access": std.ACCESS_WRITE}),
                    ((ro.fileno(), 10), {"access": std.ACCESS_COPY}),
                    ((ro.fileno(), 10), {"prot": std.PROT_READ}),
                    ((-1, 0), {}), ((-1, 10), {"flags": std.MAP_PRIVATE}),
                    ((-1, 10), {"access": std.ACCESS_READ}), ((fd, 10), {"offset": None}),
                    ((-1, 10), {"flags": std.MAP_PRIVATE | std.MAP_POPULATE}),
                    ((fd, 0), {"flags": std.MAP_SHARED | std.MAP_POPULATE}),
                    ((-1, 10), {"flags": std.MAP_PRIVATE | std.MAP_ANONYMOUS}),
                    ((fd, "10"), {}), ((2**32 + fd, 10), {}), ((fd, 2**63), {}),
                    ((fd, 10), {"offset": 2**63}), ((fd, 10), {"flags": 2**31}),
                ]
                for args, kw in cases:
                    r = outcome(mm.mmap, *args, **kw)
                    if r[0] == "returns":
                        m = r[1]
                        r = ("returns", len(m), repr(m), outcome(m.size), m[:3])
                        m.close()
                    rec(repr((args[1:], kw)), lambda r=r: r)
        self.both(scenario)

    def test_access_modes(self):
        def scenario(mm, rec):
            p = self.file(PAGE)
            for access in (mm.ACCESS_DEFAULT, mm.ACCESS_READ, mm.ACCESS_WRITE, mm.ACCESS_COPY):
                with open(p, "r+b") as f, mm.mmap(f.fileno(), 0, access=access) as m:
                    rec("set", m.__setitem__, 0, 65)
                    rec("slice", m.__setitem__, slice(1, 3), b"BC")
                    rec("write", m.write, b"Z")
                    rec("write_byte", m.write_byte, 90)
                    rec("move", m.move, 0, 1, 1)
                    rec("flush", m.flush)
                    rec("madvise", m.madvise, mm.MADV_WILLNEED)
                    rec("resize", m.resize, PAGE)
                    rec("repr", repr, m)
                with open(p, "rb") as f:
                    rec("file", lambda: f.read(4))
            with open(p, "rb") as f:
                m = mm.mmap(f.fileno(), 0, prot=mm.PROT_READ)
                rec("prot read write", m.write, b"x")
                rec("prot read set", m.__setitem__, 0, 1)
                rec("prot read get", m.__getitem__, 0)
                rec("repr", repr, m)
                m.close()
            m = mm.mmap(-1, PAGE, prot=mm.PROT_READ | mm.PROT_EXEC)
            rec("exec write", m.write_byte, 0)
            rec("exec read", m.__getitem__, 0)
            m.close()
        self.both(scenario)

    def test_madvise_arguments(self):
        def scenario(mm, rec):
            m = mm.mmap(-1, 3 * PAGE)
            for args in ((mm.MADV_NORMAL,), (mm.MADV_RANDOM, PAGE), (mm.MADV_SEQUENTIAL, 0, 1),
                         (mm.MADV_WILLNEED, 3 * PAGE), (mm.MADV_NORMAL, -1),
                         (mm.MADV_NORMAL, 0, -1), (mm.MADV_NORMAL, 1),
                         (mm.MADV_NORMAL, PAGE, sys.maxsize), (mm.MADV_NORMAL, 0, 0),
                         (mm.MADV_DONTFORK,), (mm.MADV_DOFORK,), (mm.MADV_DONTDUMP,),
                         (mm.MADV_DODUMP,), (mm.MADV_HUGEPAGE, 0, PAGE),
                         (mm.MADV_NOHUGEPAGE, 0, PAGE), (mm.MADV_REMOVE, 0, PAGE),
                         (mm.MADV_FREE,), (12345,)):
                rec(repr(args), m.madvise, *args)
            m.close()
            m = mm.mmap(-1, 3 * PAGE, flags=mm.MAP_PRIVATE)
            m[:] = b"\x01" * (3 * PAGE)
            rec("free private", m.madvise, mm.MADV_FREE, PAGE, PAGE)
            rec("dontneed", m.madvise, mm.MADV_DONTNEED, 0, PAGE)
            rec("after", lambda: (m[0], m[PAGE - 1], m[2 * PAGE]))
            m.close()

    def test_destructive_madvise_drops_whole_pages(self):
        # The kernel rounds the end up to a page: the rest of that page goes too.
        def scenario(mm, rec):
            p, data = self.pattern_file(3 * PAGE)
            for flags, fd in ((mm.MAP_PRIVATE, -1), (mm.MAP_SHARED, -1),
                              (mm.MAP_PRIVATE, "file"), (mm.MAP_SHARED, "file")):
                for length, start, count in ((16, 0, None), (3 * PAGE, 0, 100),
                                             (3 * PAGE, PAGE, PAGE + 1), (PAGE + 5, PAGE, 5)):
                    with open(p, "r+b") as f:
                        f.write(data)
                        f.flush()
                        fileno = f.fileno() if fd == "file" else -1
                        m = mm.mmap(fileno, length, flags=flags)
                    m[:] = b"\xee" * length
                    for option in (mm.MADV_DONTNEED, mm.MADV_REMOVE):
                        args = (option, start) if count is None else (option, start, count)
                        rec(f"{flags} {fd} {length} {args}", m.madvise, *args)
                        rec("contents", lambda: bytes(m[:]).count(b"\xee"))
                        rec("head", lambda: m[:8])
                        rec("page 1 tail", lambda: m[2 * PAGE - 4:2 * PAGE])
                    m.close()
        self.both(scenario)

    def test_resize(self):
        def scenario(mm, rec):
            p = self.file(2 * PAGE)
            with open(p, "r+b") as f:
                m = mm.mmap(f.fileno(), PAGE, offset=PAGE)
            rec("head", m.__getitem__, slice(0, 4))
            rec("seek", m.seek, PAGE - 10)
            rec("shrink", m.resize, 512)
            rec("len", len, m)
            rec("tell", m.tell)
            rec("read past", m.read, 5)
            rec("seek past", m.seek, 513)
            rec("head", m.__getitem__, slice(0, 4))
            rec("size", m.size)
            rec("file size", lambda: os.stat(p).st_size)
            rec("grow", m.resize, 3 * PAGE)
            rec("len", len, m)
            rec("tail", m.__getitem__, slice(510, 514))
            rec("set", m.__setitem__, -1, 9)
            rec("file size", lambda: os.stat(p).st_size)
            rec("negative", m.resize, -1)
            m.close()
            rec("closed", m.resize, 10)
            with open(p, "rb") as f:
                rec("file tail", lambda: f.read()[-3:])
            m = mm.mmap(-1, 2 * PAGE)
            m[:] = pattern(2 * PAGE)
            m.read(PAGE + 5)
            rec("anon shrink", m.resize, PAGE)
            rec("anon contents", m.__getitem__, slice(None))
            rec("anon read", m.read, 1)
            rec("anon readline", m.readline)
            rec("anon tell", m.tell)
            rec("anon write_byte", m.write_byte, 1)
            rec("anon grow", m.resize, 2 * PAGE)
            rec("anon contents", m.__getitem__, slice(0, PAGE))
            rec("anon size", m.size)
            m.close()
        self.both(scenario)

    def test_closed_object(self):
        def scenario(mm, rec):
            m = mm.mmap(-1, 10)
            rec("exit", m.__exit__, None, None, None)
            rec("repr", repr, m)
            for name, args in (("read", ()), ("read_byte", ()), ("readline", ()),
                               ("write", (b"a",)), ("write_byte", (1,)), ("seek", (0,)),
                               ("tell", ()), ("find", (b"a",)), ("rfind", (b"a",)),
                               ("flush", ()), ("madvise", (mm.MADV_NORMAL,)),
                               ("move", (0, 1, 1)), ("resize", (5,)), ("size", ()),
                               ("__len__", ()), ("__getitem__", (0,)),
                               ("__getitem__", (slice(0, 1),)), ("__setitem__", (0, 1)),
                               ("__enter__", ()), ("close", ())):
                rec(name, getattr(m, name), *args)
            rec("iter", list, m)
        self.both(scenario)


class TestCompatOnly(TempDirTest):
    def test_index_that_closes(self):
        # gh-103987: an __index__ that closes the map must not reach unmapped memory.  The
        # stdlib got this right in 3.11.4 (Debian's 3.11.2 crashes), so no comparison here.
        ops = (lambda m, X: m[X()], lambda m, X: m[X():20], lambda m, X: m[20:X():-2],
               lambda m, X: m.read(X()), lambda m, X: m.find(b"1", 1, X()),
               lambda m, X: m.__setitem__(slice(X(), 20), b"1" * 10),
               lambda m, X: m.__setitem__(slice(20, X(), -2), b"1" * 5),
               lambda m, X: m.move(1, 2, X()), lambda m, X: m.write_byte(X()),
               lambda m, X: m.seek(X()), lambda m, X: m.madvise(kit.MADV_NORMAL, X()),
               lambda m, X: m.flush(X()))
        for i, op in enumerate(ops):
            m = kit.mmap(-1, 100)

            class X:
                def __index__(self, m=m):
                    m.close()
                    return 10
            with self.subTest(i), self.assertRaisesRegex(ValueError, "mmap closed or invalid"):
                op(m, X)

    def test_resize_file_mapping(self):
        # test_basic's resize part, which the stdlib test does not reach with
        # mmapkit.compat on Python < 3.12 (it stops at re.search(), see README.md).
        p, data = self.pattern_file(2 * PAGE)
        with open(p, "r+b") as f:
            m = kit.mmap(f.fileno(), 2 * PAGE)
        old, handle = m._h.addr, m._h
        m.resize(512)
        self.assertEqual(len(m), 512)
        self.assertRaises(ValueError, m.seek, 513, 0)
        self.assertEqual(os.stat(p).st_size, 512)
        self.assertEqual(m.size(), 512)
        self.assertEqual(m[:], data[:512])
        if hasattr(mmapkit.lib, "mmapkit_resize"):  # 0.2: the same handle, shrunk in place
            self.assertIs(m._h, handle)
            self.assertEqual(m._h.addr, old)
            m.resize(3 * PAGE)                     # and grown, the file with it
            self.assertEqual(os.stat(p).st_size, 3 * PAGE)
            self.assertEqual(m[:], data[:512] + bytes(3 * PAGE - 512))
            m[3 * PAGE - 1] = 9
            m.flush()
            with open(p, "rb") as f:
                self.assertEqual(f.read()[-1], 9)
        else:                                      # a new mmapkit handle, as documented
            self.assertNotEqual(m._h.addr, old)
        m.close()

    def test_resize_failure_restores_the_file_size(self):
        p, data = self.pattern_file(PAGE)
        with open(p, "r+b") as f:
            m = kit.mmap(f.fileno(), PAGE)
        with self.assertRaises(OSError) as cm:
            m.resize(sys.maxsize - PAGE)  # ftruncate works on tmpfs/ext4, mmap does not
        self.assertIn(cm.exception.errno, (errno.EFBIG, errno.EOVERFLOW, errno.ENOMEM,
                                           errno.EINVAL))
        self.assertEqual(os.stat(p).st_size, PAGE)
        self.assertEqual(len(m), PAGE)
        self.assertEqual(m[:], data)
        m.close()

    @unittest.skipUnless(mmapkit.buffer_protocol, "no C extension, Python < 3.12")
    def test_buffer_exports_block_close_and_resize(self):
        m = kit.mmap(-1, PAGE)
        v = memoryview(m)
        self.assertIs(v.obj, m)
        v[0:2] = b"hi"
        self.assertEqual(m[0:2], b"hi")
        self.assertRaises(BufferError, m.close)
        self.assertRaises(BufferError, m.resize, 2 * PAGE)
        v.release()
        m.resize(2 * PAGE)
        self.assertEqual(m[0:2], b"hi")
        m.close()
        with open(self.pattern_file(PAGE)[0], "rb") as f:
            m = kit.mmap(f.fileno(), 0, access=kit.ACCESS_READ)
        v = memoryview(m)
        self.assertTrue(v.readonly)
        v.release()
        m.close()

    @unittest.skipUnless(mmapkit.buffer_protocol, "no C extension, Python < 3.12")
    def test_memoryview_and_re(self):
        import re
        m = kit.mmap(-1, 100)
        m[50:53] = b"abc"
        self.assertEqual(re.search(b"[a-z]+", m).span(), (50, 53))
        with memoryview(m) as v:
            self.assertEqual(v[50:53], b"abc")
            self.assertRaises(BufferError, m.close)
        m.close()

    def test_trackfd_false(self):
        p, _ = self.pattern_file(PAGE)
        with open(p, "r+b") as f, kit.mmap(f.fileno(), PAGE, trackfd=False) as m:
            with self.assertRaises(OSError) as cm:
                m.size()
            self.assertEqual(cm.exception.errno, errno.EBADF)
            self.assertRaises(ValueError, m.resize, 10)
            m[0] = 1

    def test_subclass(self):
        class Anon(kit.mmap):
            def __new__(cls, *args, **kwargs):
                return kit.mmap.__new__(cls, -1, *args, **kwargs)
        a = Anon(PAGE)
        self.assertIsInstance(a, Anon)
        self.assertTrue(repr(a).startswith("<Anon closed=False"))
        a.close()

    def test_fork_anon_shared_is_shared(self):
        m = kit.mmap(-1, PAGE)
        p = kit.mmap(-1, PAGE, flags=kit.MAP_PRIVATE)

        def child():
            m[0] = 42
            p[0] = 42
            return True
        status = run_child(child)
        self.assertEqual(os.WEXITSTATUS(status), 0)
        self.assertEqual((m[0], p[0]), (42, 0))
        m.close()
        p.close()

    def test_kinds_used(self):
        p, _ = self.pattern_file(PAGE)
        with open(p, "r+b") as f:
            for args, kw, kind in (((-1, 10), {}, mmapkit.ANON_SHARED),
                                   ((-1, 10), {"flags": kit.MAP_PRIVATE}, mmapkit.ANON_PRIVATE),
                                   ((-1, 10), {"access": kit.ACCESS_COPY}, mmapkit.ANON_PRIVATE),
                                   ((f.fileno(), 0), {}, mmapkit.FILE_SHARED),
                                   ((f.fileno(), 0), {"access": kit.ACCESS_READ},
                                    mmapkit.FILE_SHARED),
                                   ((f.fileno(), 0), {"access": kit.ACCESS_COPY},
                                    mmapkit.FILE_PRIVATE)):
                with kit.mmap(*args, **kw) as m:
                    self.assertEqual(m._h.kind, kind)

    def test_stands_in_for_mmap(self):
        code = ("import sys, mmapkit.compat; sys.modules['mmap'] = mmapkit.compat\n"
                "import mmap\n"
                "m = mmap.mmap(-1, 13)\n"
                "m.write(b'hello, world!')\n"
                "print(type(m).__module__, m[:5].decode(), m.find(b'world', 0))\n")
        env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(kit.__file__)))
        r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, "mmapkit.compat hello 7\n")


if __name__ == "__main__":
    unittest.main()
