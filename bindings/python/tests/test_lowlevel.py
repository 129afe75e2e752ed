# SPDX-License-Identifier: MIT
"""The ctypes layer: declarations against the header, loading, every call, error mapping."""

import ctypes
import errno
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

import mmapkit
from mmapkit import MapPtr, lib

from .support import (PAGE, ROOT, TempDirTest, header_constants, header_functions, header_macros,
                      perms, status_kb, vmflags)

C_TYPES = {
    "int": ctypes.c_int,
    "unsigned": ctypes.c_uint,
    "size_t": ctypes.c_size_t,
    "uint64_t": ctypes.c_uint64,
    "void": None,
    "void*": ctypes.c_void_p,
    "const void*": ctypes.c_void_p,
    "const char*": ctypes.c_char_p,
    "mmapkit_map*": MapPtr,
    "const mmapkit_map*": MapPtr,
    "mmapkit_map**": ctypes.POINTER(MapPtr),
    "const struct mmapkit_opts*": ctypes.POINTER(mmapkit.mmapkit_opts),
    "uint64_t*": ctypes.POINTER(ctypes.c_uint64),
    "unsigned char*": ctypes.POINTER(ctypes.c_ubyte),
    "struct mmapkit_stats*": ctypes.POINTER(mmapkit.mmapkit_stats),
}


def plain(t):
    """The ctypes type behind a range-checked argument type."""
    return t.__bases__[0] if hasattr(t, "range") else t


class TestDeclarations(unittest.TestCase):
    def test_every_header_function_is_declared_with_its_types(self):
        funcs = header_functions()
        self.assertEqual(len(funcs), 41)
        self.assertEqual(set(funcs), set(mmapkit._PROTOTYPES))
        for name, (ret, params) in funcs.items():
            with self.subTest(name):
                fn = getattr(lib, name)
                self.assertIs(fn.restype, C_TYPES[ret])
                self.assertEqual([plain(t) for t in fn.argtypes], [C_TYPES[p] for p in params])

    def test_integer_arguments_are_range_checked(self):
        out = MapPtr()
        for call in (lambda: lib.mmapkit_anon_private(ctypes.byref(out), -1, 0),
                     lambda: lib.mmapkit_anon_private(ctypes.byref(out), 2**64, 0),
                     lambda: lib.mmapkit_anon_private(ctypes.byref(out), 1, 2**32),
                     lambda: lib.mmapkit_fd_shared(ctypes.byref(out), 2**32 + 3, 0, 1, 0),
                     lambda: lib.mmapkit_fd_shared(ctypes.byref(out), -2**31 - 1, 0, 1, 0),
                     lambda: lib.mmapkit_file_shared(ctypes.byref(out), b"x", 2**64, 1, 0),
                     lambda: lib.mmapkit_strerror(2**31)):
            with self.assertRaisesRegex(ctypes.ArgumentError, "OverflowError.*: .* does not fit"):
                call()
        self.assertFalse(out)
        self.assertEqual(mmapkit.strerror(-2**31), "Unknown error")  # the bounds themselves pass
        with self.assertRaises(OverflowError):
            mmapkit.Map.anon_private(2**64)

    def test_int_returning_calls_raise_and_accessors_do_not(self):
        raise_negative = lib.mmapkit_sync.errcheck
        self.assertEqual(raise_negative.__name__, "_raise_negative")
        for name, (ret, params) in header_functions().items():
            with self.subTest(name):
                fn = getattr(lib, name)
                # An int result is an error code unless it is a value (kind, fd).
                checked = ret == "int" and name not in ("mmapkit_kind", "mmapkit_fd")
                self.assertEqual(getattr(fn, "errcheck", None) is raise_negative, checked)

    def test_every_header_constant_has_its_value(self):
        consts = header_constants()
        self.assertGreater(len(consts), 40)
        for name, value in consts.items():
            with self.subTest(name):
                self.assertEqual(getattr(mmapkit, name), value)
                self.assertIs(type(getattr(mmapkit, name)), type(value))

    def test_every_header_macro_is_accounted_for(self):
        # Besides the constants: the include guard, the visibility macro, MMAPKIT_AT
        # (sugar over mmapkit_at, which Map.at() mirrors).
        self.assertEqual(header_macros() - set(header_constants()), {"H", "API", "AT"})

    def test_module_constants_all_come_from_the_header(self):
        consts = header_constants()
        names = {n for n in dir(mmapkit) if n.isupper() and n[0] != "_" and n != "SONAME"}
        self.assertEqual(names, set(consts))

    def test_kind_enum(self):
        self.assertEqual({k.name: k.value for k in mmapkit.Kind},
                         {"ANON_PRIVATE": 1, "ANON_SHARED": 2, "FILE_PRIVATE": 3,
                          "FILE_SHARED": 4})

    @unittest.skipUnless(shutil.which("cc"), "needs a C compiler")
    def test_opts_layout_matches_c(self):
        fields = [f for f, _ in mmapkit.mmapkit_opts._fields_]
        src = "#include <stdio.h>\n#include <stddef.h>\n#include \"mmapkit.h\"\nint main(void){\n"
        src += 'printf("%zu %zu\\n", sizeof(struct mmapkit_opts), _Alignof(struct mmapkit_opts));\n'
        for f in fields:
            src += f'printf("%zu\\n", offsetof(struct mmapkit_opts, {f}));\n'
        src += "return 0;}\n"
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "t.c"), "w") as f:
                f.write(src)
            exe = os.path.join(d, "t")
            subprocess.run(["cc", "-std=c11", "-I", os.path.join(ROOT, "include"), "-o", exe,
                            os.path.join(d, "t.c")], check=True)
            out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout.split()
        size, align, *offsets = map(int, out)
        self.assertEqual(ctypes.sizeof(mmapkit.mmapkit_opts), size)
        self.assertEqual(ctypes.alignment(mmapkit.mmapkit_opts), align)
        self.assertEqual([getattr(mmapkit.mmapkit_opts, f).offset for f in fields], offsets)


class TestLoading(unittest.TestCase):
    def run_py(self, code, **env):
        e = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(mmapkit.__file__)),
                 PYTHONDONTWRITEBYTECODE="1")
        for k, v in env.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return subprocess.run([sys.executable, "-c", code], env=e, capture_output=True, text=True)

    def test_mmapkit_library_is_used(self):
        r = self.run_py("import mmapkit; print(mmapkit.lib._name)", MMAPKIT_LIBRARY=lib._name)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), lib._name)

    def test_bad_mmapkit_library_fails_to_import(self):
        r = self.run_py("import mmapkit", MMAPKIT_LIBRARY="/nonexistent/libmmapkit.so.0")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("ImportError: mmapkit: cannot load libmmapkit.so.0; set MMAPKIT_LIBRARY",
                      r.stderr)

    def test_default_search_never_takes_the_unversioned_so(self):
        r = self.run_py("import mmapkit; print('\\n'.join(mmapkit._candidates()))",
                        MMAPKIT_LIBRARY=None)
        if r.returncode:  # no library in the tree nor on the system: nothing to inspect
            self.assertIn("cannot load libmmapkit.so.0", r.stderr)
            return
        cands = r.stdout.split()
        self.assertEqual(cands[-1], "libmmapkit.so.0")
        for c in cands:
            self.assertTrue(c.endswith("/libmmapkit.so.0") or c == "libmmapkit.so.0", c)

    def test_load_declares_another_copy(self):
        other = mmapkit.load(lib._name)
        self.assertIsNot(other, lib)
        self.assertEqual(other.mmapkit_page_size(), PAGE)
        with self.assertRaises(OSError) as cm:
            other.mmapkit_sync(None, 0, 0, 0)
        self.assertEqual(cm.exception.strerror, "mmapkit_sync: handle is NULL")
        with self.assertRaisesRegex(ImportError, "cannot load libmmapkit.so.0"):
            mmapkit.load("/nonexistent/libmmapkit.so.0")

    def test_a_library_before_0_2_still_loads(self):
        """A libmmapkit.so.0 without the 0.2 functions: the binding loads it, missing()
        names them, the methods built on them raise NotImplementedError; a missing 0.1
        function is an error at load."""
        class Older:  # the real library with the 0.2 symbols hidden
            def __init__(self, hide):
                self._dll, self._name, self._hide = ctypes.CDLL(lib._name), lib._name, hide

            def __getattr__(self, name):
                if name in self._hide:
                    raise AttributeError(f"{self._name}: undefined symbol: {name}")
                return getattr(self._dll, name)
        older = mmapkit._declare(Older(mmapkit._SINCE_0_2))
        self.assertEqual(mmapkit.missing(older), sorted(mmapkit._SINCE_0_2))
        self.assertEqual(mmapkit.missing(), [])
        self.assertRaises(AttributeError, mmapkit._declare, Older({"mmapkit_sync"}))
        m = mmapkit.Map.anon_private(PAGE)
        real, mmapkit.lib = mmapkit.lib, older
        try:
            with self.assertRaisesRegex(NotImplementedError, "mmapkit_resize: the loaded .* lacks"):
                m.resize(2 * PAGE)
            for call in (m.stats, lambda: m.read(0, 1),
                         lambda: mmapkit.Map.memfd("x", PAGE), lambda: mmapkit.shm_unlink("/x")):
                self.assertRaises(NotImplementedError, call)
            m[0] = 1  # the rest works on
        finally:
            mmapkit.lib = real
        self.assertEqual(len(m), PAGE)
        m.close()

    def test_loaded_library_is_the_versioned_one(self):
        self.assertRegex(os.path.basename(lib._name), r"^libmmapkit\.so\.0(\.\d+)*$")
        self.assertEqual(mmapkit.version(), mmapkit.VERSION_STRING)


def new(ctor, *args):
    out = MapPtr()
    getattr(lib, ctor)(ctypes.byref(out), *args)
    return out


class TestCalls(TempDirTest):
    """Every function called through lib, as C would."""

    def check_accessors(self, m, length, kind, flags=0, offset=0, has_fd=False):
        self.assertTrue(m)
        self.assertEqual(lib.mmapkit_len(m), length)
        self.assertEqual(lib.mmapkit_kind(m), kind)
        self.assertEqual(lib.mmapkit_flags(m), flags)
        self.assertEqual(lib.mmapkit_offset(m), offset)
        fd = lib.mmapkit_fd(m)
        if has_fd:
            self.assertGreaterEqual(fd, 0)
            self.assertTrue(os.get_inheritable(fd) is False)  # close-on-exec
        else:
            self.assertEqual(fd, -1)
        p = lib.mmapkit_ptr(m)
        self.assertIsInstance(p, int)
        return p

    def test_anon_constructors(self):
        for ctor, kind in (("mmapkit_anon_private", mmapkit.ANON_PRIVATE),
                           ("mmapkit_anon_shared", mmapkit.ANON_SHARED)):
            with self.subTest(ctor):
                m = new(ctor, 3 * PAGE + 5, mmapkit.DONTDUMP)
                p = self.check_accessors(m, 3 * PAGE + 5, kind, mmapkit.DONTDUMP)
                self.assertEqual(p % PAGE, 0)
                self.assertEqual(ctypes.string_at(p, 16), bytes(16))
                ctypes.memset(p, 0xAB, 3 * PAGE + 5)
                lib.mmapkit_unmap(m)

    def test_file_constructors(self):
        path, data = self.pattern_file(3 * PAGE)
        for ctor, kind in (("mmapkit_file_private", mmapkit.FILE_PRIVATE),
                           ("mmapkit_file_shared", mmapkit.FILE_SHARED)):
            with self.subTest(ctor):
                m = new(ctor, os.fsencode(path), 100, 2 * PAGE, 0)
                p = self.check_accessors(m, 2 * PAGE, kind, 0, 100, has_fd=True)
                self.assertEqual(ctypes.string_at(p, 2 * PAGE), data[100:100 + 2 * PAGE])
                lib.mmapkit_unmap(m)

    def test_fd_constructors(self):
        path, data = self.pattern_file(2 * PAGE)
        fd = os.open(path, os.O_RDWR)
        self.addCleanup(os.close, fd)
        for ctor, kind in (("mmapkit_fd_private", mmapkit.FILE_PRIVATE),
                           ("mmapkit_fd_shared", mmapkit.FILE_SHARED)):
            with self.subTest(ctor):
                m = new(ctor, fd, PAGE, 0, mmapkit.RDONLY)
                p = self.check_accessors(m, PAGE, kind, mmapkit.RDONLY, PAGE, has_fd=True)
                self.assertNotEqual(lib.mmapkit_fd(m), fd)  # its own duplicate
                self.assertEqual(ctypes.string_at(p, PAGE), data[PAGE:])
                lib.mmapkit_unmap(m)
                os.fstat(fd)  # ours is still open

    def test_map_new(self):
        path, data = self.pattern_file(PAGE)
        for kind in mmapkit.Kind:
            with self.subTest(kind.name):
                o = mmapkit.mmapkit_opts(sz=ctypes.sizeof(mmapkit.mmapkit_opts), kind=kind, fd=-1)
                if kind >= mmapkit.FILE_PRIVATE:
                    o.path = os.fsencode(path)
                else:
                    o.len = 100
                m = new("mmapkit_map_new", ctypes.byref(o))
                p = self.check_accessors(m, PAGE if o.path else 100, kind, has_fd=bool(o.path))
                if o.path:
                    self.assertEqual(ctypes.string_at(p, PAGE), data)
                lib.mmapkit_unmap(m)

    def test_map_new_creates_with_mode(self):
        p = self.path("new.bin")
        o = mmapkit.mmapkit_opts(sz=ctypes.sizeof(mmapkit.mmapkit_opts), kind=mmapkit.FILE_SHARED,
                                 flags=mmapkit.CREATE | mmapkit.GROW, path=os.fsencode(p),
                                 fd=-1, mode=0o640, len=10)
        m = new("mmapkit_map_new", ctypes.byref(o))
        self.assertEqual(os.stat(p).st_mode & 0o777, 0o640 & ~self.umask())
        self.assertEqual(os.stat(p).st_size, 10)
        lib.mmapkit_unmap(m)

    @staticmethod
    def umask():
        u = os.umask(0)
        os.umask(u)
        return u

    def test_null_handle_accessors(self):
        self.assertIsNone(lib.mmapkit_ptr(None))
        self.assertEqual(lib.mmapkit_len(None), 0)
        self.assertEqual(lib.mmapkit_kind(None), 0)
        self.assertEqual(lib.mmapkit_flags(None), 0)
        self.assertEqual(lib.mmapkit_offset(None), 0)
        self.assertEqual(lib.mmapkit_fd(None), -1)
        self.assertIsNone(lib.mmapkit_at(None, 0, 1, 1))
        self.assertEqual(mmapkit.errmsg(), "mmapkit_at: handle is NULL")
        lib.mmapkit_unmap(None)

    def test_at(self):
        m = new("mmapkit_anon_private", 64, 0)
        self.addCleanup(lib.mmapkit_unmap, m)
        p = lib.mmapkit_ptr(m)
        self.assertEqual(lib.mmapkit_at(m, 8, 8, 8), p + 8)
        self.assertEqual(lib.mmapkit_at(m, 60, 4, 0), p + 60)
        self.assertIsNone(lib.mmapkit_at(m, 61, 4, 0))
        self.assertEqual(mmapkit.errmsg(),
                         "mmapkit_at: 4 bytes at offset 61 do not fit in the mapping (64 bytes)")
        self.assertIsNone(lib.mmapkit_at(m, 4, 8, 8))
        self.assertEqual(mmapkit.errmsg(), "mmapkit_at: address of offset 4 is not aligned to 8")
        self.assertIsNone(lib.mmapkit_at(m, 0, 1, 3))
        self.assertIsNone(lib.mmapkit_at(m, 2**64 - 1, 2, 0))  # overflow-safe

    def test_page_size_version_strerror(self):
        self.assertEqual(lib.mmapkit_page_size(), PAGE)
        self.assertEqual(mmapkit.page_size(), PAGE)
        self.assertEqual(lib.mmapkit_version(), b"0.2.0")
        self.assertEqual(mmapkit.strerror(errno.EINVAL), os.strerror(errno.EINVAL))
        self.assertEqual(mmapkit.strerror(-errno.ERANGE), os.strerror(errno.ERANGE))
        self.assertEqual(mmapkit.strerror(0), "Success")
        self.assertEqual(lib.mmapkit_strerror(-(2**31)), b"Unknown error")

    def test_range_operations(self):
        path, data = self.pattern_file(4 * PAGE)
        m = new("mmapkit_file_shared", os.fsencode(path), 0, 0, 0)
        self.addCleanup(lib.mmapkit_unmap, m)
        p = lib.mmapkit_ptr(m)
        ctypes.memset(p + 10, 0, 5)
        self.assertEqual(lib.mmapkit_sync(m, 0, mmapkit.TO_END, mmapkit.SYNC_FULL), 0)
        self.assertEqual(self.read_file(path)[5:20], data[5:10] + bytes(5) + data[15:20])
        self.assertEqual(lib.mmapkit_advise(m, 0, mmapkit.TO_END, mmapkit.ADV_WILLNEED), 0)
        # A negative return raises (errcheck): what each call did is asserted instead.
        lib.mmapkit_protect(m, PAGE, PAGE, mmapkit.PROT_READ)
        self.assertEqual((perms(p), perms(p + PAGE), perms(p + 2 * PAGE)),
                         ("rw-s", "r--s", "rw-s"))
        lib.mmapkit_protect(m, PAGE, PAGE, mmapkit.PROT_READ | mmapkit.PROT_WRITE)
        self.assertEqual(perms(p + PAGE), "rw-s")
        before = status_kb("VmLck")
        lib.mmapkit_lock(m, 0, PAGE, mmapkit.LOCK_ONFAULT)
        self.assertEqual(status_kb("VmLck") - before, PAGE // 1024)
        self.assertTrue({"lo", "lf"} <= vmflags(p), vmflags(p))  # locked, on fault
        self.assertNotIn("lo", vmflags(p + PAGE))
        lib.mmapkit_unlock(m, 0, PAGE)
        self.assertEqual(status_kb("VmLck"), before)
        self.assertNotIn("lo", vmflags(p))
        self.assertEqual(lib.mmapkit_punch(m, PAGE, PAGE), 0)
        self.assertEqual(ctypes.string_at(p + PAGE, PAGE), bytes(PAGE))
        self.assertEqual(self.read_file(path)[PAGE:2 * PAGE], bytes(PAGE))

        q = new("mmapkit_file_private", os.fsencode(path), 0, 0, 0)
        self.addCleanup(lib.mmapkit_unmap, q)
        qp = lib.mmapkit_ptr(q)
        ctypes.memset(qp, 0x55, 3 * PAGE)
        self.assertEqual(lib.mmapkit_revert(q, 10, 2 * PAGE), 0)
        now = self.read_file(path)
        self.assertEqual(ctypes.string_at(qp, 3 * PAGE),
                         b"\x55" * 10 + now[10:2 * PAGE + 10] + b"\x55" * (PAGE - 10))


class TestErrors(TempDirTest):
    """A negative return is OSError(errno, mmapkit_errmsg()), with the right subclass."""

    def check(self, call, err, cls, prefix):
        with self.assertRaises(OSError) as cm:
            call()
        e = cm.exception
        self.assertIs(type(e), cls)
        self.assertEqual(e.errno, err)
        self.assertEqual(e.strerror, mmapkit.errmsg())
        self.assertTrue(e.strerror.startswith(prefix + ":"), e.strerror)

    def check_ctor(self, ctor, args, err, cls):
        out = MapPtr()
        with self.assertRaises(OSError) as cm:
            getattr(lib, ctor)(ctypes.byref(out), *args)
        self.assertFalse(out)  # *out is NULL
        e = cm.exception
        self.assertIs(type(e), cls)
        self.assertEqual(e.errno, err)
        self.assertEqual(e.strerror, mmapkit.errmsg())
        self.assertTrue(e.strerror.startswith(ctor + ":"), e.strerror)
        return e

    def test_constructor_errors(self):
        path, _ = self.pattern_file(PAGE)
        fifo = self.path("fifo")
        os.mkfifo(fifo)
        ro = os.open(path, os.O_RDONLY)
        self.addCleanup(os.close, ro)
        b = os.fsencode
        cases = [
            ("mmapkit_anon_private", (0, 0), errno.EINVAL, OSError),
            ("mmapkit_anon_shared", (PAGE, 0x80000000), errno.EINVAL, OSError),
            ("mmapkit_anon_private", (2**63, 0), errno.EOVERFLOW, OSError),
            ("mmapkit_file_shared", (b(self.path("missing")), 0, 0, 0), errno.ENOENT,
             FileNotFoundError),
            ("mmapkit_file_private", (b(self.dir), 0, 0, 0), errno.EISDIR, IsADirectoryError),
            ("mmapkit_file_shared", (b(path), 0, 2 * PAGE, 0), errno.ERANGE, OSError),
            ("mmapkit_file_shared", (b(fifo), 0, 0, 0), errno.ENODEV, OSError),
            ("mmapkit_file_shared", (None, 0, 0, 0), errno.EINVAL, OSError),
            ("mmapkit_fd_shared", (-2, 0, PAGE, 0), errno.EBADF, OSError),
            ("mmapkit_fd_shared", (ro, 0, PAGE, 0), errno.EACCES, PermissionError),
            ("mmapkit_fd_private", (ro, 0, 2 * PAGE, mmapkit.GROW), errno.EACCES, PermissionError),
        ]
        for ctor, args, err, cls in cases:
            with self.subTest(ctor=ctor, err=errno.errorcode[err]):
                self.check_ctor(ctor, args, err, cls)

    def test_map_new_errors(self):
        # 0.1's struct ended with len: the smallest sz the library accepts
        size = mmapkit.mmapkit_opts.len.offset + ctypes.sizeof(ctypes.c_size_t)
        o = mmapkit.mmapkit_opts(sz=size - 1, kind=mmapkit.ANON_PRIVATE, len=10)
        self.check_ctor("mmapkit_map_new", (ctypes.byref(o),), errno.EINVAL, OSError)

        class Bigger(ctypes.Structure):
            _fields_ = [("opts", mmapkit.mmapkit_opts), ("future", ctypes.c_uint64)]
        big = Bigger(mmapkit.mmapkit_opts(sz=ctypes.sizeof(Bigger), kind=mmapkit.ANON_PRIVATE,
                                          len=10), 0)
        m = new("mmapkit_map_new", ctypes.cast(ctypes.byref(big),
                                               ctypes.POINTER(mmapkit.mmapkit_opts)))
        lib.mmapkit_unmap(m)  # zero bytes past the known struct are accepted
        big.future = 1
        self.check_ctor("mmapkit_map_new",
                        (ctypes.cast(ctypes.byref(big), ctypes.POINTER(mmapkit.mmapkit_opts)),),
                        errno.E2BIG, OSError)
        self.check_ctor("mmapkit_map_new", (None,), errno.EINVAL, OSError)

    def test_range_errors(self):
        a = new("mmapkit_anon_private", PAGE, 0)
        self.addCleanup(lib.mmapkit_unmap, a)
        r = new("mmapkit_anon_shared", PAGE, mmapkit.RDONLY)
        self.addCleanup(lib.mmapkit_unmap, r)
        cases = [
            (lambda: lib.mmapkit_sync(a, 0, mmapkit.TO_END, 0), errno.EINVAL, OSError, "mmapkit_sync"),
            (lambda: lib.mmapkit_sync(None, 0, 0, 0), errno.EINVAL, OSError, "mmapkit_sync"),
            (lambda: lib.mmapkit_advise(a, 0, mmapkit.TO_END, 99), errno.EINVAL, OSError, "mmapkit_advise"),
            (lambda: lib.mmapkit_advise(r, 0, mmapkit.TO_END, mmapkit.ADV_FREE), errno.EINVAL, OSError,
             "mmapkit_advise"),
            (lambda: lib.mmapkit_punch(a, 1, PAGE), errno.ERANGE, OSError, "mmapkit_punch"),
            (lambda: lib.mmapkit_punch(r, 0, mmapkit.TO_END), errno.EACCES, PermissionError, "mmapkit_punch"),
            (lambda: lib.mmapkit_revert(r, 0, mmapkit.TO_END), errno.EINVAL, OSError, "mmapkit_revert"),
            (lambda: lib.mmapkit_protect(a, 0, mmapkit.TO_END, mmapkit.PROT_WRITE | mmapkit.PROT_EXEC),
             errno.EACCES, PermissionError, "mmapkit_protect"),
            (lambda: lib.mmapkit_protect(r, 0, mmapkit.TO_END, mmapkit.PROT_WRITE), errno.EACCES,
             PermissionError, "mmapkit_protect"),
            (lambda: lib.mmapkit_lock(a, 0, mmapkit.TO_END, 0x80), errno.EINVAL, OSError, "mmapkit_lock"),
            (lambda: lib.mmapkit_unlock(a, PAGE + 1, 0), errno.ERANGE, OSError, "mmapkit_unlock"),
            (lambda: lib.mmapkit_unlock(a, 2**64 - 1, 2), errno.ERANGE, OSError,
             "mmapkit_unlock"),
        ]
        for call, err, cls, prefix in cases:
            with self.subTest(prefix=prefix, err=errno.errorcode[err]):
                self.check(call, err, cls, prefix)

    def test_message_is_the_calling_threads(self):
        seen = []

        def fail_in_thread():
            try:
                lib.mmapkit_advise(None, 0, 0, 0)
            except OSError as e:
                seen.append(e.strerror)
        with self.assertRaises(OSError):
            lib.mmapkit_sync(None, 0, 0, 0)
        t = threading.Thread(target=fail_in_thread)
        t.start()
        t.join()
        self.assertEqual(seen, ["mmapkit_advise: handle is NULL"])
        self.assertEqual(mmapkit.errmsg(), "mmapkit_sync: handle is NULL")


if __name__ == "__main__":
    unittest.main()
