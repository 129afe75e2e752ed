# SPDX-License-Identifier: MIT
"""0.2: Map.memfd, shm_create/shm_open/shm_unlink, seal/seals, send/receive over
socket.socket objects, ring (each skipped, saying so, where the loaded library lacks
the function)."""

import errno
import os
import socket

import mmapkit
from mmapkit import Map

from .support import PAGE, TempDirTest, lacks, maps_line, pattern, run_child


@lacks("mmapkit_memfd")
class TestMemfd(TempDirTest):

    def test_memfd(self):
        m = Map.memfd("py-memfd", 3 * PAGE)
        self.assertEqual((m.kind, len(m), m.offset), (mmapkit.Kind.FILE_SHARED, 3 * PAGE, 0))
        self.assertIn("memfd:py-memfd", maps_line(m.address))
        self.assertEqual(os.fstat(m.fd).st_size, 3 * PAGE)
        m[:] = pattern(3 * PAGE)
        self.assertEqual(os.pread(m.fd, 3 * PAGE, 0), pattern(3 * PAGE))  # the file itself

        def child():
            m[0:5] = b"child"
            return True
        self.assertEqual(run_child(child), 0)
        self.assertEqual(m[0:5], b"child")  # shared with fork() children
        m.close()
        Map.memfd(None, PAGE).close()  # the default name

    def test_errors(self):
        with self.assertRaises(OSError) as cm:
            Map.memfd("x" * 300, PAGE)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertRaises(ValueError, Map.memfd, "x", -1)


@lacks("mmapkit_shm_create", "mmapkit_shm_open", "mmapkit_shm_unlink")
class TestShm(TempDirTest):

    def setUp(self):
        super().setUp()
        self.name = f"/mmapkit-py-{os.getpid()}-{id(self)}"
        self.addCleanup(self._unlink)

    def _unlink(self):
        try:
            mmapkit.shm_unlink(self.name)
        except FileNotFoundError:
            pass

    def test_create_open_unlink(self):
        a = Map.shm_create(self.name, 2 * PAGE)
        self.assertEqual((a.kind, len(a)), (mmapkit.Kind.FILE_SHARED, 2 * PAGE))
        self.assertEqual(os.stat("/dev/shm" + self.name).st_mode & 0o777, 0o600)
        a[PAGE:PAGE + 3] = b"shm"
        b = Map.shm_open(self.name, PAGE, 0)
        self.assertEqual((len(b), b.offset, b[0:3]), (PAGE, PAGE, b"shm"))
        b[0] = ord("S")
        self.assertEqual(a[PAGE], ord("S"))
        with self.assertRaises(FileExistsError):
            Map.shm_create(self.name, PAGE)
        with self.assertRaises(OSError) as cm:
            Map.shm_open(self.name, 0, 3 * PAGE)
        self.assertEqual(cm.exception.errno, errno.ERANGE)
        mmapkit.shm_unlink(self.name)
        self.assertEqual(a[PAGE], ord("S"))  # mappings stay valid
        self.assertRaises(FileNotFoundError, Map.shm_open, self.name)
        self.assertRaises(FileNotFoundError, mmapkit.shm_unlink, self.name)
        a.close()
        b.close()

    def test_bad_names(self):
        for name in ("noslash", "/", "/a/b", "/" + "x" * 256):
            with self.subTest(name=name):
                with self.assertRaises(OSError) as cm:
                    Map.shm_create(name, PAGE)
                self.assertEqual(cm.exception.errno, errno.EINVAL)


@lacks("mmapkit_memfd", "mmapkit_seal", "mmapkit_seals")
class TestSeal(TempDirTest):

    def test_seals(self):
        m = Map.memfd("py-seal", PAGE)
        self.assertEqual(m.seals, 0)
        m.seal(mmapkit.SEAL_SHRINK | mmapkit.SEAL_GROW)
        self.assertEqual(m.seals, mmapkit.SEAL_SHRINK | mmapkit.SEAL_GROW)
        with self.assertRaises(PermissionError):
            os.ftruncate(m.fd, 2 * PAGE)  # the kernel enforces them
        m.seal(mmapkit.SEAL_SEAL)
        with self.assertRaises(PermissionError):
            m.seal(mmapkit.SEAL_WRITE)
        self.assertFalse(m.flags & mmapkit.RDONLY)  # a refused seal changes nothing
        m[0] = 1
        m.close()

    def test_seal_write_makes_the_map_read_only(self):
        m = Map.memfd("py-seal", PAGE)
        m[0:4] = b"kept"
        v = m.view()
        self.assertRaises(BufferError, m.seal, mmapkit.SEAL_WRITE)  # v could write
        self.assertEqual(m.seals, 0)
        v.release()
        m.seal(mmapkit.SEAL_WRITE)
        self.assertEqual(m.seals, mmapkit.SEAL_WRITE)
        self.assertTrue(m.flags & mmapkit.RDONLY)
        self.assertEqual(m[0:4], b"kept")
        self.assertRaises(TypeError, m.__setitem__, 0, 1)  # refused, not a SIGSEGV
        self.assertTrue(m.view().readonly)
        m.close()

    def test_not_sealable(self):
        m = Map.anon_shared(PAGE)
        with self.assertRaises(OSError) as cm:
            m.seal(mmapkit.SEAL_GROW)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        self.assertEqual(m.seals, 0)
        m.close()


@lacks("mmapkit_memfd", "mmapkit_send", "mmapkit_receive", "mmapkit_seal")
class TestSendReceive(TempDirTest):

    def pair(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        return a, b

    def test_between_processes(self):
        a, b = self.pair()
        m = Map.memfd("py-send", 2 * PAGE)
        m[0:5] = b"hello"
        m.seal(mmapkit.SEAL_SHRINK)

        def child():
            r = Map.receive(b, mmapkit.SEAL_SHRINK)  # a socket.socket object
            ok = r[0:5] == b"hello" and len(r) == 2 * PAGE
            r[5:10] = b"world"
            r.close()
            return ok
        m.send(a)
        self.assertEqual(run_child(child), 0)
        self.assertEqual(m[0:10], b"helloworld")
        m.close()

    def test_descriptor_numbers_and_flags(self):
        a, b = self.pair()
        m = Map.memfd("py-send", PAGE)
        m.send(a.fileno())
        r = Map.receive(b.fileno(), 0, mmapkit.RDONLY)
        self.assertTrue(r.flags & mmapkit.RDONLY)
        self.assertEqual(r.kind, mmapkit.Kind.FILE_SHARED)
        m[0] = 3
        self.assertEqual(r[0], 3)
        r.close()
        m.close()

    def test_refusals(self):
        a, b = self.pair()
        m = Map.memfd("py-send", PAGE)
        m.send(a)
        with self.assertRaises(PermissionError):  # seals required and absent
            Map.receive(b, mmapkit.SEAL_SHRINK)
        a.sendall(b"not an mmapkit message, not at all")
        with self.assertRaises(OSError) as cm:
            Map.receive(b)
        self.assertEqual(cm.exception.errno, errno.EBADMSG)
        with self.assertRaises(OSError) as cm:  # an anonymous map has no descriptor
            Map.anon_shared(PAGE).send(a)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        m.close()


@lacks("mmapkit_ring")
class TestRing(TempDirTest):

    def test_wraps(self):
        m = Map.ring(4 * PAGE)
        self.assertEqual((len(m), m.kind), (4 * PAGE, mmapkit.Kind.ANON_SHARED))
        with m.view(4 * PAGE - 2, 4) as v:  # one span across the wrap
            v[:] = b"abcd"
        self.assertEqual(m[4 * PAGE - 2:], b"ab")
        self.assertEqual(m[0:2], b"cd")
        with m.view(0, 8 * PAGE) as v:
            self.assertEqual(v[4 * PAGE:4 * PAGE + 2], b"cd")
        self.assertRaises(IndexError, m.view, 0, 8 * PAGE + 1)

        def child():
            m[10] = 42
            return True
        self.assertEqual(run_child(child), 0)
        self.assertEqual(m[10], 42)  # shared with fork() children
        m.close()

    def test_errors(self):
        with self.assertRaises(OSError) as cm:
            Map.ring(PAGE + 1)
        self.assertEqual(cm.exception.errno, errno.EINVAL)
        m = Map.ring(PAGE)
        for call in (m.punch, m.revert):
            with self.subTest(call.__name__):
                with self.assertRaises(OSError) as cm:
                    call()
                self.assertEqual(cm.exception.errno, errno.EINVAL)
        if hasattr(mmapkit.lib, "mmapkit_resize"):
            with self.assertRaises(OSError) as cm:
                m.resize(2 * PAGE)
            self.assertEqual(cm.exception.errno, errno.EINVAL)
        m.close()

    @lacks("mmapkit_send", "mmapkit_receive")
    def test_sent_ring_is_a_ring(self):
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.addCleanup(a.close)
        self.addCleanup(b.close)
        m = Map.ring(PAGE)
        m.send(a)
        r = Map.receive(b)
        with r.view(PAGE - 1, 2) as v:
            v[:] = b"xy"
        self.assertEqual((m[PAGE - 1], m[0]), (ord("x"), ord("y")))
        r.close()
        m.close()
