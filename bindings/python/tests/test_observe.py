# SPDX-License-Identifier: MIT
"""0.2: Map.resize, resident, stats, name (each skipped, saying so, where the loaded
library lacks the function)."""

import errno
import os

import mmapkit
from mmapkit import Map

from .support import PAGE, TempDirTest, lacks, maps_line, pattern, smaps_kb


@lacks("mmapkit_resize")
class TestResize(TempDirTest):

    def test_grow_and_shrink_anonymous(self):
        for ctor in (Map.anon_private, Map.anon_shared):
            with self.subTest(ctor.__name__):
                m = ctor(2 * PAGE)
                m[:] = pattern(2 * PAGE)
                m.resize(5 * PAGE)
                self.assertEqual(len(m), 5 * PAGE)
                self.assertEqual(m[:2 * PAGE], pattern(2 * PAGE))
                self.assertEqual(m[2 * PAGE:], bytes(3 * PAGE))  # new pages are zeros
                m[5 * PAGE - 1] = 7
                with m.view() as v:
                    self.assertEqual(len(v), 5 * PAGE)
                    self.assertEqual(v[5 * PAGE - 1], 7)
                m.resize(PAGE + 10)
                self.assertEqual(len(m), PAGE + 10)
                self.assertEqual(m[:], pattern(2 * PAGE)[:PAGE + 10])
                self.assertRaises(IndexError, m.__getitem__, PAGE + 10)
                m.close()

    def test_file_needs_grow_and_shrinking_keeps_the_file(self):
        p, data = self.pattern_file(2 * PAGE)
        m = Map.file_shared(p)
        with self.assertRaises(OSError) as cm:
            m.resize(4 * PAGE)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        self.assertEqual((len(m), os.stat(p).st_size), (2 * PAGE, 2 * PAGE))  # unchanged
        m.resize(4 * PAGE, mmapkit.GROW)
        self.assertEqual(os.stat(p).st_size, 4 * PAGE)
        m[4 * PAGE - 1] = 0x5A
        m.sync()
        self.assertEqual(self.read_file(p)[-1], 0x5A)
        m.resize(100)
        self.assertEqual(os.stat(p).st_size, 4 * PAGE)  # shrinking never changes the file
        self.assertEqual(m[:], data[:100])
        m.close()

    def test_errors_change_nothing(self):
        m = Map.anon_private(PAGE)
        m[0] = 1
        with self.assertRaises(OSError) as cm:
            m.resize(0)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertEqual((len(m), m[0]), (PAGE, 1))
        v = m.view()
        self.assertRaises(BufferError, m.resize, 2 * PAGE)  # a view would dangle
        self.assertEqual(len(m), PAGE)
        v.release()
        try:
            m.resize(64 * PAGE, mmapkit.RESIZE_NOMOVE)  # in place, or ENOMEM
        except OSError as e:
            self.assertEqual(e.errno, errno.ENOMEM)
            self.assertEqual(len(m), PAGE)
        else:
            self.assertEqual(len(m), 64 * PAGE)
        self.assertEqual(m[0], 1)
        m.close()
        self.assertRaises(ValueError, m.resize, PAGE)


@lacks("mmapkit_resident")
class TestResident(TempDirTest):

    def test_anonymous_pages(self):
        m = Map.anon_private(4 * PAGE)
        self.assertEqual(m.resident(), 0)
        m[0] = 1
        m[2 * PAGE + 5] = 1
        self.assertEqual(m.resident(), 2 * PAGE)
        total, vec = m.resident(pages=True)
        self.assertEqual(total, 2 * PAGE)
        self.assertEqual([b & 1 for b in vec], [1, 0, 1, 0])
        self.assertEqual(m.resident(PAGE, 2 * PAGE), PAGE)
        self.assertEqual(m.resident(2 * PAGE + 10, 1, pages=True), (PAGE, b"\x01"))
        self.assertEqual(m.resident(PAGE, 0), 0)  # an empty range
        with self.assertRaises(OSError) as cm:
            m.resident(3 * PAGE, 2 * PAGE)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        m.close()

    def test_file_page_cache(self):
        p, _ = self.pattern_file(3 * PAGE)  # just written: in the page cache
        m = Map.file_shared(p, 0, 0, mmapkit.RDONLY)
        self.assertEqual(m.resident(), 3 * PAGE)
        self.assertEqual(m.resident(pages=True), (3 * PAGE, b"\x01\x01\x01"))
        m.close()


@lacks("mmapkit_stats")
class TestStats(TempDirTest):

    def test_anonymous(self):
        # Kept apart from neighbours the kernel could merge it with (mmapkit_stats(3),
        # BUGS: the figures are those of the merged mapping): guard pages, and DONTDUMP,
        # which kernels with light guards (no mapping of their own) also keep apart.
        m = Map.anon_private(4 * PAGE, mmapkit.GUARD | mmapkit.DONTDUMP)
        m[0:3 * PAGE] = b"\x01" * (3 * PAGE)
        st = m.stats()
        self.assertEqual(set(st), {n for n, _ in mmapkit.mmapkit_stats._fields_} - {"sz"})
        self.assertEqual(st["mapped"], 4 * PAGE)
        self.assertEqual(st["rss"], 3 * PAGE)
        self.assertEqual(st["rss"], smaps_kb(m.address, "Rss") * 1024)
        self.assertEqual(st["private_dirty"], 3 * PAGE)
        self.assertEqual(st["anonymous"], 3 * PAGE)
        self.assertEqual((st["cached"], st["shared_dirty"]), (0, 0))
        m.close()

    def test_file(self):
        p, _ = self.pattern_file(2 * PAGE)
        m = Map.file_shared(p)
        m[0] = 1
        st = m.stats()
        self.assertEqual(st["mapped"], 2 * PAGE)
        self.assertEqual(st["rss"], smaps_kb(m.address, "Rss") * 1024)
        self.assertEqual(st["cached"], 2 * PAGE)  # the whole file range is in the page cache
        m.close()


@lacks("mmapkit_name")
class TestName(TempDirTest):

    def test_anonymous_kinds(self):
        for ctor, label in ((Map.anon_private, "anon"), (Map.anon_shared, "anon_shmem")):
            with self.subTest(label):
                m = ctor(2 * PAGE)
                try:
                    m.name("py-named")
                except OSError as e:
                    if e.errno == errno.EOPNOTSUPP:
                        self.skipTest(f"the kernel cannot name mappings: {e}")
                    raise
                self.assertTrue(maps_line(m.address).endswith(f"[{label}:py-named]"),
                                maps_line(m.address))
                m.name(None)
                self.assertNotIn("py-named", maps_line(m.address))
                m.close()

    def test_file_kind_refused(self):
        p, _ = self.pattern_file(PAGE)
        m = Map.file_private(p)
        with self.assertRaises(OSError) as cm:
            m.name("x")
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        m.close()
