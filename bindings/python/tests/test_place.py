# SPDX-License-Identifier: MIT
"""0.2: the addr and align options of Map.new, the SECURE and SECRET flags (each
skipped, saying so, where the loaded library lacks it)."""

import errno
import unittest

import mmapkit
from mmapkit import Map

from .support import PAGE, TempDirTest, lacks_flag, nothing_at, run_child, status_kb, vmflags

HUGE = 2 << 20


def _options_missing():
    """A library without addr/align sees nonzero bytes past its struct: E2BIG."""
    try:
        Map.new(mmapkit.Kind.ANON_PRIVATE, PAGE, align=PAGE).close()
    except OSError as e:
        if e.errno == errno.E2BIG:
            return "library lacks struct mmapkit_opts' addr and align"
    return None


class TestPlacement(TempDirTest):

    def setUp(self):
        super().setUp()
        why = _options_missing()
        if why:
            self.skipTest(why)

    def test_align(self):
        for kind, extra in ((mmapkit.Kind.ANON_PRIVATE, {}), (mmapkit.Kind.ANON_SHARED, {}),
                            (mmapkit.Kind.FILE_SHARED, {"path": None})):
            with self.subTest(kind.name):
                if "path" in extra:
                    extra = {"path": self.pattern_file(3 * PAGE)[0]}
                m = Map.new(kind, 0 if extra else 3 * PAGE, align=HUGE, **extra)
                self.assertEqual(m.address % HUGE, 0)
                m[3 * PAGE - 1] = 1
                m.close()
        with self.assertRaises(OSError) as cm:
            Map.new(mmapkit.Kind.ANON_PRIVATE, PAGE, align=3 * PAGE)
        self.assertEqual(cm.exception.errno, errno.EINVAL)

    def test_addr(self):
        probe = Map.anon_private(4 * PAGE)
        free = probe.address
        probe.close()
        self.assertTrue(nothing_at(free, 4 * PAGE))
        m = Map.new(mmapkit.Kind.ANON_PRIVATE, 4 * PAGE, addr=free)
        self.assertEqual(m.address, free)
        m[:4] = b"mine"
        with self.assertRaises(FileExistsError):  # never replaces what is there
            Map.new(mmapkit.Kind.ANON_SHARED, PAGE, addr=free + PAGE)
        self.assertEqual(m[:4], b"mine")
        with self.assertRaises(OSError) as cm:
            Map.new(mmapkit.Kind.ANON_PRIVATE, PAGE, addr=free + 1)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        m.close()
        Map.new(mmapkit.Kind.ANON_PRIVATE, PAGE, addr=None).close()  # None: anywhere


def _secure():
    return Map.anon_private(PAGE, mmapkit.SECURE)


@lacks_flag(mmapkit.SECURE, "MMAPKIT_SECURE", _secure)
class TestSecure(TempDirTest):

    def test_secure(self):
        locked = status_kb("VmLck")
        m = Map.anon_private(2 * PAGE, mmapkit.SECURE)
        implied = mmapkit.GUARD | mmapkit.LOCK | mmapkit.DONTDUMP | mmapkit.WIPEONFORK
        self.assertEqual(m.flags & implied, implied)
        self.assertGreaterEqual(status_kb("VmLck") - locked, 2 * PAGE // 1024)
        self.assertLessEqual({"lo", "dd", "wf"}, vmflags(m.address))
        m[:6] = b"secret"

        def child():  # a fork() child sees zeros
            return m[:6] == bytes(6)
        self.assertEqual(run_child(child), 0)
        self.assertEqual(m[:6], b"secret")
        with self.assertRaises(OSError) as cm:  # not for shared memory
            Map.anon_shared(PAGE, mmapkit.SECURE)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        m.close()


def _secret():
    try:
        return Map.anon_private(PAGE, mmapkit.SECRET)
    except OSError as e:
        if e.errno == errno.EOPNOTSUPP:
            raise unittest.SkipTest(f"the kernel has no memfd_secret: {e}") from e
        raise


@lacks_flag(mmapkit.SECRET, "MMAPKIT_SECRET", lambda: _secret())
class TestSecret(TempDirTest):

    def test_secret(self):
        m = _secret()
        m[:6] = b"secret"
        self.assertEqual(m[:6], b"secret")
        addr = m.address

        def child():  # a fork() child does not have the mapping at all
            return nothing_at(addr, PAGE)
        self.assertEqual(run_child(child), 0)
        m.close()
