# SPDX-License-Identifier: MIT
"""mmapkit for Python: typed memory-mapping handles over ctypes.

Two layers, standard library only:

* the low level: ``lib`` is the loaded ``libmmapkit.so.0`` with ``argtypes`` and
  ``restype`` set for every public function; the calls that return a negative
  errno raise ``OSError(errno, mmapkit_errmsg())`` instead (``OSError`` picks the
  subclass: ``FileNotFoundError``, ``PermissionError``, ...).  Every constant of
  ``mmapkit.h`` is a module attribute with the header's value.
* the high level: ``Map``, one class for the four kinds, with slicing, a
  zero-copy ``memoryview`` (``Map.view()``), and the range operations.

``mmapkit.compat`` builds a stand-in for the standard library's ``mmap`` module
on top of this.
"""

import ctypes
import enum
import glob
import importlib.machinery
import importlib.util
import operator
import os
import sys
import threading
import warnings
import weakref

__all__ = [
    "lib", "Map", "Kind", "load", "errmsg", "strerror", "version", "page_size",
    "mmapkit_map", "mmapkit_opts", "mmapkit_stats", "buffer_protocol", "extension",
    "extension_error", "missing", "shm_unlink",
]

# ---- constants: the values of include/mmapkit.h, spelled out (they never change) ----

VERSION_MAJOR = 0
VERSION_MINOR = 2
VERSION_PATCH = 0
VERSION_STRING = "0.2.0"

ANON_PRIVATE = 1
ANON_SHARED = 2
FILE_PRIVATE = 3
FILE_SHARED = 4

RDONLY = 0x0001
CREATE = 0x0002
GROW = 0x0004
POPULATE = 0x0008
NORESERVE = 0x0010
LOCK = 0x0020
HUGETLB = 0x0040
THP = 0x0080
DONTFORK = 0x0100
WIPEONFORK = 0x0200
DONTDUMP = 0x0400
GUARD = 0x0800
ALLOCATE = 0x1000   # 0.2: file kinds: allocate the range's blocks at construction
SECURE = 0x2000     # 0.2: anonymous private memory for secrets
SECRET = 0x4000     # 0.2: SECURE, out of the kernel's direct map (memfd_secret)

# 0.2: mmapkit_resize() flags (GROW applies too)
RESIZE_NOMOVE = 0x1

# 0.2: seals of a sealable file (memfd, named shared memory)
SEAL_SHRINK = 0x1
SEAL_GROW = 0x2
SEAL_WRITE = 0x4
SEAL_FUTURE_WRITE = 0x8
SEAL_SEAL = 0x10

# Range operations: a length of TO_END means from off to the end of the mapping
# (Map's methods take None for it); a length of 0 is an empty range.
TO_END = ctypes.c_size_t(-1).value

SYNC_ASYNC = 0x1
SYNC_INVALIDATE = 0x2
SYNC_FULL = 0x4

ADV_NORMAL = 0
ADV_RANDOM = 1
ADV_SEQUENTIAL = 2
ADV_WILLNEED = 3
ADV_DONTNEED = 4
ADV_FREE = 5
ADV_REMOVE = 6
ADV_HUGEPAGE = 7
ADV_NOHUGEPAGE = 8
ADV_DONTDUMP = 9
ADV_DODUMP = 10
ADV_DONTFORK = 11
ADV_DOFORK = 12
ADV_WIPEONFORK = 13
ADV_KEEPONFORK = 14
ADV_COLD = 15
ADV_PAGEOUT = 16
ADV_POPULATE_READ = 17
ADV_POPULATE_WRITE = 18

PROT_NONE = 0x0
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4

LOCK_ONFAULT = 0x1


class Kind(enum.IntEnum):
    """enum mmapkit_kind."""
    ANON_PRIVATE = 1
    ANON_SHARED = 2
    FILE_PRIVATE = 3
    FILE_SHARED = 4


# ---- types ----

class mmapkit_map(ctypes.Structure):
    """The opaque handle; only ever used through a pointer."""


MapPtr = ctypes.POINTER(mmapkit_map)


class mmapkit_opts(ctypes.Structure):
    """struct mmapkit_opts (extended constructor options, sz first)."""
    _fields_ = [
        ("sz", ctypes.c_size_t),
        ("kind", ctypes.c_int),
        ("flags", ctypes.c_uint),
        ("path", ctypes.c_char_p),
        ("fd", ctypes.c_int),
        ("mode", ctypes.c_uint32),
        ("offset", ctypes.c_uint64),
        ("len", ctypes.c_size_t),
        # 0.2 (a 0.1 library accepts the larger struct while these are zero)
        ("addr", ctypes.c_void_p),
        ("align", ctypes.c_size_t),
    ]


class mmapkit_stats(ctypes.Structure):
    """struct mmapkit_stats (0.2, mmapkit_stats()): bytes, sz first."""
    _fields_ = [("sz", ctypes.c_size_t)] + [(name, ctypes.c_uint64) for name in (
        "mapped", "rss", "pss", "shared_clean", "shared_dirty", "private_clean",
        "private_dirty", "anonymous", "swap", "locked", "huge", "cached", "cache_dirty",
        "cache_writeback")]


# ---- loading ----

SONAME = "libmmapkit.so.0"


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
# bindings/python/mmapkit/__init__.py -> the source tree's root.
_SOURCE_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(_PACKAGE_DIR)))


def _in_builds(relpath):
    """relpath in the source tree's build*/ directories: build/ (the README's build
    directory) first, then the newest other build."""
    found = [p for p in glob.glob(os.path.join(_SOURCE_ROOT, "build*", relpath))
             if os.path.exists(p)]
    found.sort(key=lambda p: (not os.path.relpath(p, _SOURCE_ROOT).startswith("build" + os.sep),
                              -os.path.getmtime(p)))
    return found


def _candidates():
    """Where to look for libmmapkit.so.0, in order (never the unversioned .so)."""
    env = os.environ.get("MMAPKIT_LIBRARY")
    if env:
        return [env]
    return _in_builds(SONAME) + [SONAME]


def load(path=None):
    """Load libmmapkit.so.0 (from path, or the usual places) and declare its functions."""
    errors = []
    for cand in [path] if path else _candidates():
        try:
            return _declare(ctypes.CDLL(cand, use_errno=False))
        except OSError as e:
            errors.append(f"{cand}: {e}")
    raise ImportError("mmapkit: cannot load " + SONAME + "; set MMAPKIT_LIBRARY to its path ("
                      + "; ".join(errors) + ")")


def _decode(b):
    return b.decode("utf-8", "surrogateescape") if b is not None else ""


def _raiser(dll):
    """errcheck for dll's int-returning calls: 0 or more is success, -errno raises
    OSError(errno, mmapkit_errmsg()) -- the message of this library copy and thread."""
    def _raise_negative(result, func, args):
        if result < 0:
            raise OSError(-result, _decode(dll.mmapkit_errmsg()))
        return result
    return _raise_negative


def _ranged(ctype):
    """ctype for argtypes, refusing an int it cannot hold (plain ctypes would truncate it:
    fd 2**32 + 3 would become fd 3)."""
    bits = 8 * ctypes.sizeof(ctype)
    signed = ctype(-1).value == -1
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)

    @classmethod
    def from_param(cls, value):
        if isinstance(value, int) and not lo <= value <= hi:
            raise OverflowError(f"{value} does not fit in {ctype.__name__} [{lo}, {hi}]")
        return ctype.from_param(value)
    return type(ctype.__name__, (ctype,), {"from_param": from_param, "range": (lo, hi)})


# Argument types; results use the plain ctypes types (a subclass would not become an int).
_size = _ranged(ctypes.c_size_t)
_u64 = _ranged(ctypes.c_uint64)
_uint = _ranged(ctypes.c_uint)
_int = _ranged(ctypes.c_int)

_out = ctypes.POINTER(MapPtr)
_str = ctypes.c_char_p
_ptr = ctypes.c_void_p

# name: (restype, argtypes, raises on a negative return)
_PROTOTYPES = {
    "mmapkit_anon_private": (ctypes.c_int, [_out, _size, _uint], True),
    "mmapkit_anon_shared": (ctypes.c_int, [_out, _size, _uint], True),
    "mmapkit_file_private": (ctypes.c_int, [_out, _str, _u64, _size, _uint], True),
    "mmapkit_file_shared": (ctypes.c_int, [_out, _str, _u64, _size, _uint], True),
    "mmapkit_fd_private": (ctypes.c_int, [_out, _int, _u64, _size, _uint], True),
    "mmapkit_fd_shared": (ctypes.c_int, [_out, _int, _u64, _size, _uint], True),
    "mmapkit_map_new": (ctypes.c_int, [_out, ctypes.POINTER(mmapkit_opts)], True),
    "mmapkit_unmap": (None, [MapPtr], False),
    "mmapkit_ptr": (_ptr, [MapPtr], False),
    "mmapkit_len": (ctypes.c_size_t, [MapPtr], False),
    "mmapkit_kind": (ctypes.c_int, [MapPtr], False),
    "mmapkit_flags": (ctypes.c_uint, [MapPtr], False),
    "mmapkit_offset": (ctypes.c_uint64, [MapPtr], False),
    "mmapkit_fd": (ctypes.c_int, [MapPtr], False),
    "mmapkit_at": (_ptr, [MapPtr, _size, _size, _size], False),
    "mmapkit_page_size": (ctypes.c_size_t, [], False),
    "mmapkit_version": (_str, [], False),
    "mmapkit_sync": (ctypes.c_int, [MapPtr, _size, _size, _uint], True),
    "mmapkit_advise": (ctypes.c_int, [MapPtr, _size, _size, _int], True),
    "mmapkit_punch": (ctypes.c_int, [MapPtr, _size, _size], True),
    "mmapkit_revert": (ctypes.c_int, [MapPtr, _size, _size], True),
    "mmapkit_protect": (ctypes.c_int, [MapPtr, _size, _size, _uint], True),
    "mmapkit_lock": (ctypes.c_int, [MapPtr, _size, _size, _uint], True),
    "mmapkit_unlock": (ctypes.c_int, [MapPtr, _size, _size], True),
    "mmapkit_errmsg": (_str, [], False),
    "mmapkit_strerror": (_str, [_int], False),
    # 0.2
    "mmapkit_resize": (ctypes.c_int, [MapPtr, _size, _uint], True),
    "mmapkit_resident": (ctypes.c_int, [MapPtr, _size, _size, ctypes.POINTER(ctypes.c_uint64),
                                        ctypes.POINTER(ctypes.c_ubyte)], True),
    "mmapkit_stats": (ctypes.c_int, [MapPtr, ctypes.POINTER(mmapkit_stats)], True),
    "mmapkit_name": (ctypes.c_int, [MapPtr, _str], True),
    "mmapkit_memfd": (ctypes.c_int, [_out, _str, _size, _uint], True),
    "mmapkit_shm_create": (ctypes.c_int, [_out, _str, _size, _uint], True),
    "mmapkit_shm_open": (ctypes.c_int, [_out, _str, _u64, _size, _uint], True),
    "mmapkit_shm_unlink": (ctypes.c_int, [_str], True),
    "mmapkit_seal": (ctypes.c_int, [MapPtr, _uint], True),
    "mmapkit_seals": (ctypes.c_uint, [MapPtr], False),
    "mmapkit_send": (ctypes.c_int, [MapPtr, _int], True),
    "mmapkit_receive": (ctypes.c_int, [_out, _int, _uint, _uint], True),
    "mmapkit_ring": (ctypes.c_int, [_out, _size, _uint], True),
    "mmapkit_read": (ctypes.c_int, [MapPtr, _size, _ptr, _size], True),
    "mmapkit_write": (ctypes.c_int, [MapPtr, _size, _ptr, _size], True),
}

# Functions of 0.2: a library without them still loads; lib.<name> is then an
# AttributeError and the methods built on them raise NotImplementedError.
_SINCE_0_2 = frozenset((
    "mmapkit_resize", "mmapkit_resident", "mmapkit_stats", "mmapkit_name", "mmapkit_memfd",
    "mmapkit_shm_create", "mmapkit_shm_open", "mmapkit_shm_unlink", "mmapkit_seal",
    "mmapkit_seals", "mmapkit_send", "mmapkit_receive", "mmapkit_ring", "mmapkit_read",
    "mmapkit_write"))


def _declare(dll):
    raise_negative = _raiser(dll)
    for name, (restype, argtypes, checked) in _PROTOTYPES.items():
        if name in _SINCE_0_2 and not hasattr(dll, name):
            continue  # an older library: see missing()
        fn = getattr(dll, name)
        fn.restype = restype
        fn.argtypes = argtypes
        if checked:
            fn.errcheck = raise_negative
    return dll


lib = load()


# ---- the C extension: the buffer protocol on every Python ----

def _load_extension():
    """mmapkit._buffer: (the module, None), or (None, why it is missing).

    $MMAPKIT_EXTENSION names the file to load ("none": run without); otherwise the
    package's own (installed by pip or Debian), then this source tree's build*/ ones.
    """
    name = __name__ + "._buffer"
    env = os.environ.get("MMAPKIT_EXTENSION")
    if env == "none":
        return None, "MMAPKIT_EXTENSION=none"
    if env:
        paths = [env]
    else:
        spec = importlib.util.find_spec(name)
        suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
        paths = ([spec.origin] if spec is not None else
                 _in_builds(os.path.join("bindings", "python", "mmapkit", "_buffer" + suffix)))
        if not paths:
            return None, (f"no _buffer{suffix} in {_PACKAGE_DIR} (nor in a build*/ of its "
                          "source tree): it is built where a C compiler and Python's headers "
                          "are (Debian: python3-dev)")
    errors = []
    for path in paths:
        try:
            spec = importlib.util.spec_from_file_location(
                name, path, loader=importlib.machinery.ExtensionFileLoader(name, path))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
        except (ImportError, OSError) as e:
            if env:  # asked for by name: an error, as for MMAPKIT_LIBRARY
                raise ImportError(f"mmapkit: cannot load MMAPKIT_EXTENSION={env}: {e}") from e
            errors.append(f"{path}: {e}")
            continue
        sys.modules[name] = module
        return module, None
    return None, "; ".join(errors)


extension, extension_error = _load_extension()
#: memoryview(m), re, hashlib, bytes(m), file.write(m), numpy.frombuffer(m) take a Map
#: or compat.mmap: with the C extension, or from Python 3.12 on (PEP 688) without it.
buffer_protocol = extension is not None or sys.version_info >= (3, 12)
if not buffer_protocol:
    warnings.warn(f"mmapkit: no C extension ({extension_error}): on Python "
                  f"{sys.version_info[0]}.{sys.version_info[1]} Map and compat.mmap lack the "
                  "buffer protocol (memoryview(m), re, hashlib); Map.view() still works",
                  RuntimeWarning)
_Base = object if extension is None else extension.BufferExporter


# ---- small wrappers ----

def missing(dll=None):
    """The names of the binding's functions that the loaded library (or dll) lacks."""
    dll = lib if dll is None else dll
    return sorted(n for n in _PROTOTYPES if not hasattr(dll, n))


def _need(name):
    """lib.<name>, or NotImplementedError when the loaded library is older than it."""
    try:
        return getattr(lib, name)
    except AttributeError:
        raise NotImplementedError(f"{name}: the loaded {lib._name} lacks it (mmapkit 0.2); "
                                  "set MMAPKIT_LIBRARY to a newer libmmapkit.so.0") from None


def errmsg():
    """mmapkit_errmsg(): the last failure of this thread, as text."""
    return _decode(lib.mmapkit_errmsg())


def strerror(err):
    """mmapkit_strerror(err): static text for err or -err."""
    return _decode(lib.mmapkit_strerror(err))


def version():
    """mmapkit_version(): the library's version string."""
    return _decode(lib.mmapkit_version())


def page_size():
    """mmapkit_page_size()."""
    return lib.mmapkit_page_size()


def _nonneg(value, what):
    """A size or offset: ValueError when negative, OverflowError past 64 bits."""
    value = operator.index(value)
    if value < 0:
        raise ValueError(f"{what} must not be negative, not {value}")
    if value >= 1 << 64:
        raise OverflowError(f"{what} {value} does not fit in 64 bits")
    return value


# ---- the handle owner shared by Map and compat.mmap ----

class _Token:
    """Held by every object exported over mapped memory: keeps the handle alive, and its
    weak references tell the handle how many exports are still alive."""

    __slots__ = ("handle", "__weakref__")

    def __init__(self, handle):
        self.handle = handle


def _owned(ctype):
    """A subclass of ctype whose instances can hold a _Token (ctypes objects cannot)."""
    return type(ctype.__name__, (ctype,), {"__slots__": ("_mmapkit_owner",)})


# One array type per length, built directly: "c_ubyte * n" would go through ctypes'
# own cache, which keeps every length it ever saw.
_bytes_types = weakref.WeakValueDictionary()
_ctype_types = {}


def _bytes_type(n):
    t = _bytes_types.get(n)
    if t is None:
        t = type("mmapkit_bytes", (ctypes.Array,),
                 {"_type_": ctypes.c_ubyte, "_length_": n, "__slots__": ("_mmapkit_owner",)})
        _bytes_types[n] = t
    return t


class _Handle:
    """Owns one mmapkit_map: the pointer, a byte view over the range, the exports.

    Unmapping happens at close(), or when the last reference (including any exported
    view) is gone.  It is not run at interpreter exit: the kernel releases the mapping
    with the process, and other exit code might still read it.
    """

    __slots__ = ("ptr", "addr", "length", "kind", "flags", "mv", "open", "span", "_exports",
                 "_finalizer", "lock", "busy", "closed_message", "__weakref__")

    def __init__(self, ptr):
        # Every use of the mapping holds the lock (`with handle:`), and close() takes it
        # too: close() racing a method in another thread waits for it, and the method
        # that comes after raises ValueError; never a read or write of unmapped memory.
        self.lock = threading.RLock()
        self.busy = 0  # uses under way: only this thread's, while it holds the lock
        self.closed_message = "mmapkit.Map is closed"
        self.ptr = ptr
        self._finalizer = weakref.finalize(self, lib.mmapkit_unmap, ptr)
        self._finalizer.atexit = False
        self.addr = lib.mmapkit_ptr(ptr) or 0
        self.length = lib.mmapkit_len(ptr)
        self.kind = lib.mmapkit_kind(ptr)
        self.flags = lib.mmapkit_flags(ptr)
        self._exports = []
        self.open = True
        self.span = None  # a ring: bytes reachable from addr (2 * length)
        # The handle's own view, never handed out: no token, no reference cycle.
        self.mv = self._cast(_bytes_type(self.length).from_address(self.addr))

    def refresh(self):
        """Read the address, length and flags again after a call that may change them
        (resize, seal); the caller holds the handle and has no export alive."""
        self.mv.release()
        self.addr = lib.mmapkit_ptr(self.ptr) or 0
        self.length = lib.mmapkit_len(self.ptr)
        self.flags = lib.mmapkit_flags(self.ptr)
        self.mv = self._cast(_bytes_type(self.length).from_address(self.addr))

    def _cast(self, arr):
        mv = memoryview(arr).cast("B")
        return mv.toreadonly() if self.flags & RDONLY else mv

    def _track(self, obj):
        token = _Token(self)
        obj._mmapkit_owner = token
        self._exports.append(weakref.ref(token))
        return obj

    def export(self, off, length):
        """A new zero-copy memoryview of [off, off+length), counted as an export."""
        return self._cast(self._track(_bytes_type(length).from_address(self.addr + off)))

    def export_ctype(self, ctype, addr):
        t = _ctype_types.get(ctype)
        if t is None:
            t = _ctype_types[ctype] = _owned(ctype)
        return self._track(t.from_address(addr))

    def exports(self):
        """How many exported objects are still alive."""
        self._exports = [r for r in self._exports if r() is not None]
        return len(self._exports)

    def remap(self, what, fn, *args):
        """fn(ptr, *args), a call that may move the pages or make them read-only
        (mmapkit_resize, mmapkit_seal with SEAL_WRITE): only with no view exported and no
        other use under way in this thread; BufferError then, and nothing changes.  The
        caller holds the handle (`with handle:`)."""
        if self.busy > 1:
            raise BufferError(f"cannot {what} a mapping while a call is using it")
        if self.exports():
            raise BufferError(f"cannot {what} while exported pointers exist")
        try:
            fn(self.ptr, *args)
        finally:
            self.refresh()

    def __enter__(self):
        """Use the mapping: ValueError when it is closed; close() waits until __exit__."""
        self.lock.acquire()
        if not self.open:
            self.lock.release()
            raise ValueError(self.closed_message)
        self.busy += 1
        return self

    def __exit__(self, *exc):
        self.busy -= 1
        self.lock.release()

    def close(self):
        """Unmap, unless views are still exported or the mapping is in use by this very
        thread (code run by an argument's __index__, say): BufferError then, and nothing
        changes.  Waits for a use under way in another thread."""
        with self.lock:
            if not self.open:
                return
            if self.busy:
                raise BufferError("cannot close a mapping while a call is using it")
            if self.exports():
                raise BufferError("cannot close exported pointers exist")
            self.open = False
            self.mv.release()
            self._finalizer()


def _new_handle(ctor, *args):
    out = MapPtr()
    ctor(ctypes.byref(out), *args)
    return _Handle(out)


def _name(name):
    """A name for the C side: None stays NULL, str and path-likes are encoded."""
    return None if name is None else os.fsencode(name)


def _fileno(sock):
    """A descriptor: a socket.socket (anything with fileno()) or an int."""
    return operator.index(sock.fileno() if hasattr(sock, "fileno") else sock)


def shm_unlink(name):
    """mmapkit_shm_unlink(): remove a named shared memory object's name."""
    _need("mmapkit_shm_unlink")(_name(name))


def _fspath(path):
    return os.fsencode(path)


def _resolve_slice(key, n):
    """key with every bound resolved now (an __index__() may run code), for a length n."""
    r = range(*key.indices(n))
    if not r:
        return slice(0, 0)
    stop = r[-1] + r.step
    return slice(r.start, None if stop < 0 else stop, r.step)  # -1 would mean the end


def _huge_page_size():
    with open("/proc/meminfo", encoding="ascii") as f:
        for line in f:
            if line.startswith("Hugepagesize:"):
                return int(line.split()[1]) * 1024
    return page_size()


def _span(length):
    """A range length: None means MMAPKIT_TO_END (to the end); 0 is an empty range."""
    return TO_END if length is None else _nonneg(length, "length")


# ---- the high-level class ----

class _HandleOwner(_Base):
    """What Map and compat.mmap share: a _Handle in self._h, closing, `with`, and the
    buffer protocol (the C base class, or PEP 688 on Python 3.12+ without it), which
    exports the memoryview of _export_buffer()."""

    __slots__ = ()

    if extension is None:
        def __buffer__(self, flags):  # PEP 688 (Python 3.12+)
            return self._export_buffer()

        def __release_buffer__(self, view):
            view.release()

    def _closed_error(self):
        return ValueError("mmapkit.Map is closed")

    def _live(self):
        """The handle, for its fixed attributes; use `with self._h as h` to touch memory."""
        h = self._h
        if not h.open:
            raise self._closed_error()
        return h

    def close(self):
        """Unmap now; BufferError while views from view()/at() are alive."""
        self._h.close()

    def __enter__(self):
        self._live()
        return self

    def __exit__(self, *exc):
        self.close()


class Map(_HandleOwner):
    """A mapping of one of the four kinds.

    Create one with a class method (``Map.anon_private(n)``, ``Map.file_shared(path)``,
    ...).  ``len(m)``, ``m[i]``, ``m[a:b]`` read and write bytes; ``m.view()`` is a
    zero-copy ``memoryview``; ``with`` closes it.  A range operation takes
    ``(off, length)`` in bytes: ``length`` None (the default) means to the end
    (``MMAPKIT_TO_END``), 0 is an empty range, as in C.

    Methods may be called from several threads; ``close()`` in one thread while
    another uses the map makes the later calls raise ``ValueError``.
    """

    __slots__ = ("_h", "__weakref__")

    def __init__(self, handle):
        if not isinstance(handle, _Handle):
            raise TypeError("use a class method such as Map.anon_private() to create a Map")
        self._h = handle

    # constructors

    @classmethod
    def anon_private(cls, length, flags=0):
        return cls(_new_handle(lib.mmapkit_anon_private, _nonneg(length, "length"), flags))

    @classmethod
    def anon_shared(cls, length, flags=0):
        return cls(_new_handle(lib.mmapkit_anon_shared, _nonneg(length, "length"), flags))

    @classmethod
    def file_private(cls, path, offset=0, length=0, flags=0):
        return cls(_new_handle(lib.mmapkit_file_private, _fspath(path), _nonneg(offset, "offset"),
                               _nonneg(length, "length"), flags))

    @classmethod
    def file_shared(cls, path, offset=0, length=0, flags=0):
        return cls(_new_handle(lib.mmapkit_file_shared, _fspath(path), _nonneg(offset, "offset"),
                               _nonneg(length, "length"), flags))

    @classmethod
    def fd_private(cls, fd, offset=0, length=0, flags=0):
        return cls(_new_handle(lib.mmapkit_fd_private, operator.index(fd),
                               _nonneg(offset, "offset"), _nonneg(length, "length"), flags))

    @classmethod
    def fd_shared(cls, fd, offset=0, length=0, flags=0):
        return cls(_new_handle(lib.mmapkit_fd_shared, operator.index(fd),
                               _nonneg(offset, "offset"), _nonneg(length, "length"), flags))

    @classmethod
    def new(cls, kind, length=0, *, path=None, fd=-1, offset=0, flags=0, mode=0, addr=None,
            align=0):
        """mmapkit_map_new(): any kind from keyword options.

        addr (0.2): map the first page exactly there, never replacing anything
        (FileExistsError); align (0.2): the address of the first page is a multiple of it.
        """
        opts = mmapkit_opts(sz=ctypes.sizeof(mmapkit_opts), kind=int(kind), flags=flags,
                            path=None if path is None else _fspath(path),
                            fd=operator.index(fd), mode=mode,
                            offset=_nonneg(offset, "offset"), len=_nonneg(length, "length"),
                            addr=None if addr is None else _nonneg(addr, "addr") or None,
                            align=_nonneg(align, "align"))
        return cls(_new_handle(lib.mmapkit_map_new, ctypes.byref(opts)))

    @classmethod
    def memfd(cls, name, length, flags=0):
        """mmapkit_memfd() (0.2): a FILE_SHARED map of a new sealable memfd; name (None:
        "mmapkit") shows in /proc/PID/maps."""
        return cls(_new_handle(_need("mmapkit_memfd"), _name(name), _nonneg(length, "length"),
                               flags))

    @classmethod
    def shm_create(cls, name, length, flags=0):
        """mmapkit_shm_create() (0.2): a new POSIX named shared memory object ("/name"),
        created exclusively (FileExistsError) with mode 0600."""
        return cls(_new_handle(_need("mmapkit_shm_create"), _name(name),
                               _nonneg(length, "length"), flags))

    @classmethod
    def shm_open(cls, name, offset=0, length=0, flags=0):
        """mmapkit_shm_open() (0.2): map an existing named shared memory object."""
        return cls(_new_handle(_need("mmapkit_shm_open"), _name(name),
                               _nonneg(offset, "offset"), _nonneg(length, "length"), flags))

    @classmethod
    def ring(cls, length, flags=0):
        """mmapkit_ring() (0.2): shared memory of length bytes (a multiple of the page size)
        mapped twice back to back; view() and at() reach up to 2 * length bytes."""
        m = cls(_new_handle(_need("mmapkit_ring"), _nonneg(length, "length"), flags))
        m._h.span = 2 * m._h.length
        return m

    @classmethod
    def receive(cls, sock, required_seals=0, flags=0):
        """mmapkit_receive() (0.2): the map another process sent with send() over the
        connected AF_UNIX socket sock (a socket.socket or a descriptor).  The file's
        seals must include required_seals (PermissionError)."""
        h = _new_handle(_need("mmapkit_receive"), _fileno(sock), required_seals, flags)
        if h.length and lib.mmapkit_at(h.ptr, h.length, 1, 1):  # byte len exists: a ring
            h.span = 2 * h.length
        return cls(h)

    # state

    @property
    def handle(self):
        """The mmapkit_map pointer, for calling lib functions directly."""
        return self._live().ptr

    @property
    def closed(self):
        return not self._h.open

    @property
    def kind(self):
        return Kind(self._live().kind)

    @property
    def flags(self):
        return self._live().flags

    @property
    def offset(self):
        with self._h as h:
            return lib.mmapkit_offset(h.ptr)

    @property
    def fd(self):
        with self._h as h:
            return lib.mmapkit_fd(h.ptr)

    @property
    def address(self):
        """mmapkit_ptr() as an integer."""
        return self._live().addr

    def __len__(self):
        return self._live().length

    def __repr__(self):
        if self.closed:
            return "<mmapkit.Map closed>"
        h = self._h
        return (f"<mmapkit.Map {Kind(h.kind).name} length={h.length} offset={self.offset} "
                f"flags=0x{h.flags:x}>")

    def __reduce__(self):
        raise TypeError("cannot pickle a mmapkit.Map")

    # bytes

    def __getitem__(self, key):
        if isinstance(key, slice):  # resolved first: an __index__ may run any code
            key = _resolve_slice(key, len(self))
            with self._h as h:
                return h.mv[key].tobytes()
        key = operator.index(key)
        with self._h as h:
            return h.mv[key]

    def __setitem__(self, key, value):
        if isinstance(key, slice):
            key = _resolve_slice(key, len(self))
        else:
            key = operator.index(key)
        if not isinstance(value, int):
            value = memoryview(value)
        with self._h as h:
            h.mv[key] = value

    def __iter__(self):
        i = 0
        while True:
            with self._h as h:
                if i >= h.length:
                    return
                b = h.mv[i]
            yield b
            i += 1

    def view(self, off=0, length=None):
        """A zero-copy memoryview of [off, off+length) (to the end by default).

        Read-only for an RDONLY mapping.  While any view is alive, close() raises
        BufferError (the mapping stays valid as long as the view does).
        """
        off = _nonneg(off, "off")
        length = None if length is None else _nonneg(length, "length")
        with self._h as h:
            span = h.span or h.length  # a ring: across the wrap, up to 2 * length
            length = h.length - off if length is None else length
            if off > span or length > span - off:
                raise IndexError(f"view {off}+{length} lies outside the mapping ({span} bytes)")
            return h.export(off, length)

    def _export_buffer(self):
        """The buffer protocol's export: memoryview(m) is m.view()."""
        return self.view()

    def at(self, off, ctype, align=None):
        """MMAPKIT_AT: a ctypes object of type ctype living at byte off of the mapping.

        align defaults to ctypes.alignment(ctype).  Raises ValueError with
        mmapkit_errmsg() when it does not fit or is misaligned.
        """
        off = _nonneg(off, "off")
        if align is None:
            align = ctypes.alignment(ctype)
        with self._h as h:
            p = lib.mmapkit_at(h.ptr, off, ctypes.sizeof(ctype), align)
            if not p:
                raise ValueError(errmsg())
            return h.export_ctype(ctype, p)

    # range operations: (off, length) in bytes; length None = to the end
    # (MMAPKIT_TO_END), 0 = an empty range, as in C

    def _call(self, fn, off, length, *more):
        off, length = _nonneg(off, "off"), _span(length)
        with self._h as h:
            fn(h.ptr, off, length, *more)

    def sync(self, off=0, length=None, how=0):
        self._call(lib.mmapkit_sync, off, length, how)

    def advise(self, advice, off=0, length=None):
        self._call(lib.mmapkit_advise, off, length, advice)

    def punch(self, off=0, length=None):
        self._call(lib.mmapkit_punch, off, length)

    def revert(self, off=0, length=None):
        self._call(lib.mmapkit_revert, off, length)

    def protect(self, prot, off=0, length=None):
        """Change the protection for real: touching a PROT_NONE page from Python kills
        the process with SIGSEGV, as it would in C."""
        self._call(lib.mmapkit_protect, off, length, prot)

    def lock(self, off=0, length=None, how=0):
        self._call(lib.mmapkit_lock, off, length, how)

    def unlock(self, off=0, length=None):
        self._call(lib.mmapkit_unlock, off, length)

    # 0.2

    def resize(self, new_len, flags=0):
        """mmapkit_resize(): grow or shrink to new_len bytes (the mapping may move unless
        RESIZE_NOMOVE; file kinds past the end of the file need GROW).  BufferError while
        views from view()/at() are alive."""
        fn = _need("mmapkit_resize")
        new_len = _nonneg(new_len, "new_len")
        with self._h as h:
            h.remap("resize", fn, new_len, flags)

    def resident(self, off=0, length=None, *, pages=False):
        """mmapkit_resident(): bytes of the range's pages in memory (for file kinds, in the
        page cache); with pages=True, (bytes, a bytes object with one byte per page, bit 0
        set when that page is resident)."""
        fn = _need("mmapkit_resident")
        off, length = _nonneg(off, "off"), _span(length)
        total = ctypes.c_uint64()
        with self._h as h:
            vec = None
            if pages:
                n = min(length, max(0, (h.span or h.length) - off))
                size = _huge_page_size() if h.flags & HUGETLB else page_size()
                first = (h.addr + off) // size
                count = (h.addr + off + n + size - 1) // size - first if n else 0
                vec = (ctypes.c_ubyte * max(count, 1))()
            fn(h.ptr, off, length, ctypes.byref(total), vec)
        if not pages:
            return total.value
        return total.value, bytes(vec)[:count]

    def stats(self):
        """mmapkit_stats(): what the mapping costs, as a dict of byte counts (mapped, rss,
        pss, ..., cached, cache_dirty, cache_writeback)."""
        fn = _need("mmapkit_stats")
        st = mmapkit_stats(sz=ctypes.sizeof(mmapkit_stats))
        with self._h as h:
            fn(h.ptr, ctypes.byref(st))
        return {n: getattr(st, n) for n, _ in mmapkit_stats._fields_[1:]}

    def name(self, name):
        """mmapkit_name(): anonymous kinds show as [anon:NAME] / [anon_shmem:NAME] in
        /proc/PID/maps; None removes the name."""
        fn = _need("mmapkit_name")
        with self._h as h:
            fn(h.ptr, _name(name))

    def seal(self, seals):
        """mmapkit_seal(): add SEAL_* seals to the file (memfd, named shared memory).
        SEAL_WRITE first makes this map read-only: BufferError while views are alive."""
        fn = _need("mmapkit_seal")
        with self._h as h:
            if seals & SEAL_WRITE:
                h.remap("seal against writing", fn, seals)
            else:
                fn(h.ptr, seals)

    @property
    def seals(self):
        """mmapkit_seals(): the file's SEAL_* seals now."""
        fn = _need("mmapkit_seals")
        with self._h as h:
            return fn(h.ptr)

    def send(self, sock):
        """mmapkit_send(): send this map (descriptor, offset, length) over a connected
        AF_UNIX socket (a socket.socket or a descriptor); Map.receive() maps it."""
        fn = _need("mmapkit_send")
        fd = _fileno(sock)
        with self._h as h:
            fn(h.ptr, fd)

    def read(self, off, n):
        """mmapkit_read(): n bytes from off, as bytes; OSError(EFAULT) instead of SIGBUS
        when the backing store cannot supply a page (a truncated file, an I/O error)."""
        fn = _need("mmapkit_read")
        off, n = _nonneg(off, "off"), _nonneg(n, "n")
        buf = ctypes.create_string_buffer(n)
        with self._h as h:
            fn(h.ptr, off, buf, n)
        return buf.raw

    def write(self, off, data):
        """mmapkit_write(): copy the bytes-like data to off; OSError(EFAULT) instead of
        SIGBUS when a page cannot be supplied (no space, a truncated file)."""
        fn = _need("mmapkit_write")
        off = _nonneg(off, "off")
        src = memoryview(data).cast("B") if not isinstance(data, bytes) else data
        if isinstance(src, memoryview):
            src = src.tobytes() if src.readonly else (ctypes.c_char * len(src)).from_buffer(src)
        with self._h as h:
            fn(h.ptr, off, src, len(src))
        return len(src)
