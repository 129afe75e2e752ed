# SPDX-License-Identifier: MIT
"""A stand-in for the standard library's ``mmap`` module, built on mmapkit.

    import sys, mmapkit.compat
    sys.modules["mmap"] = mmapkit.compat   # before anything imports mmap

Same names, same constructor signature, same methods, same exceptions as the
Linux ``mmap`` module of CPython 3.11 (checked by CPython's own
``Lib/test/test_mmap.py``; see bindings/python/README.md for the numbers and the
differences that remain).  Each ``mmap`` object owns one mmapkit handle:

    fileno -1, MAP_SHARED   -> mmapkit_anon_shared
    fileno -1, MAP_PRIVATE  -> mmapkit_anon_private
    fd, MAP_SHARED          -> mmapkit_fd_shared   (ACCESS_READ / ACCESS_WRITE)
    fd, MAP_PRIVATE         -> mmapkit_fd_private  (ACCESS_COPY)

``resize()`` is ``mmapkit_resize`` (0.2) after ``ftruncate`` for a file.  With a
library older than 0.2, or for a size of 0, it maps a new handle of the new size and
unmaps the old one, so the address changes and an anonymous shared mapping stops being
shared with processes forked before it.
"""

import ctypes
import errno
import operator
import os
import sys

from . import (ADV_COLD, ADV_DODUMP, ADV_DOFORK, ADV_DONTDUMP, ADV_DONTFORK, ADV_DONTNEED,
               ADV_FREE, ADV_HUGEPAGE, ADV_KEEPONFORK, ADV_NOHUGEPAGE, ADV_NORMAL,
               ADV_PAGEOUT, ADV_POPULATE_READ, ADV_POPULATE_WRITE, ADV_RANDOM, ADV_REMOVE,
               ADV_SEQUENTIAL, ADV_WILLNEED, ADV_WIPEONFORK, ANON_PRIVATE, ANON_SHARED,
               FILE_PRIVATE, FILE_SHARED, NORESERVE, POPULATE, RDONLY, TO_END, _new_handle,
               lib)
from . import _HandleOwner, _resolve_slice
from . import PROT_EXEC as _MK_PROT_EXEC
from . import PROT_NONE as _MK_PROT_NONE
from . import PROT_READ as _MK_PROT_READ

__all__ = ["mmap", "error"]

error = OSError

# The kernel's values, as the stdlib module exports them on Linux.
PROT_READ = 0x1
PROT_WRITE = 0x2
PROT_EXEC = 0x4

MAP_SHARED = 0x01
MAP_PRIVATE = 0x02
MAP_ANONYMOUS = 0x20
MAP_ANON = MAP_ANONYMOUS
MAP_DENYWRITE = 0x0800   # ignored by Linux
MAP_EXECUTABLE = 0x1000  # ignored by Linux
MAP_NORESERVE = 0x4000   # exported by Python 3.13
MAP_POPULATE = 0x8000
MAP_STACK = 0x20000      # a hint Linux does not act on

ACCESS_DEFAULT = 0
ACCESS_READ = 1
ACCESS_WRITE = 2
ACCESS_COPY = 3

PAGESIZE = lib.mmapkit_page_size()
ALLOCATIONGRANULARITY = PAGESIZE

# MAP_32BIT (Python 3.13) is left out: mmapkit has no way to ask for a low address.

# madvise(): the kernel's numbers, translated to mmapkit's own.  MADV_MERGEABLE,
# MADV_UNMERGEABLE, MADV_HWPOISON and MADV_SOFT_OFFLINE are left out: mmapkit_advise
# does not offer them.
MADV_NORMAL = 0
MADV_RANDOM = 1
MADV_SEQUENTIAL = 2
MADV_WILLNEED = 3
MADV_DONTNEED = 4
MADV_FREE = 8
MADV_REMOVE = 9
MADV_DONTFORK = 10
MADV_DOFORK = 11
MADV_HUGEPAGE = 14
MADV_NOHUGEPAGE = 15
MADV_DONTDUMP = 16
MADV_DODUMP = 17
MADV_WIPEONFORK = 18
MADV_KEEPONFORK = 19
MADV_COLD = 20
MADV_PAGEOUT = 21
MADV_POPULATE_READ = 22
MADV_POPULATE_WRITE = 23

_ADVICE = {
    MADV_NORMAL: ADV_NORMAL, MADV_RANDOM: ADV_RANDOM, MADV_SEQUENTIAL: ADV_SEQUENTIAL,
    MADV_WILLNEED: ADV_WILLNEED, MADV_DONTNEED: ADV_DONTNEED, MADV_FREE: ADV_FREE,
    MADV_REMOVE: ADV_REMOVE, MADV_DONTFORK: ADV_DONTFORK, MADV_DOFORK: ADV_DOFORK,
    MADV_HUGEPAGE: ADV_HUGEPAGE, MADV_NOHUGEPAGE: ADV_NOHUGEPAGE,
    MADV_DONTDUMP: ADV_DONTDUMP, MADV_DODUMP: ADV_DODUMP,
    MADV_WIPEONFORK: ADV_WIPEONFORK, MADV_KEEPONFORK: ADV_KEEPONFORK, MADV_COLD: ADV_COLD,
    MADV_PAGEOUT: ADV_PAGEOUT, MADV_POPULATE_READ: ADV_POPULATE_READ,
    MADV_POPULATE_WRITE: ADV_POPULATE_WRITE,
}

_ACCESS_NAMES = ("ACCESS_DEFAULT", "ACCESS_READ", "ACCESS_WRITE", "ACCESS_COPY")
_IGNORED_FLAGS = MAP_ANONYMOUS | MAP_DENYWRITE | MAP_EXECUTABLE | MAP_STACK
_KNOWN_FLAGS = MAP_SHARED | MAP_PRIVATE | MAP_POPULATE | MAP_NORESERVE | _IGNORED_FLAGS
_SSIZE_MAX = sys.maxsize
_INT_MIN, _INT_MAX = -(1 << 31), (1 << 31) - 1
_CHUNK = 1 << 20
_SEEK_RETURNS_POS = sys.version_info >= (3, 13)
_DEFAULT = object()  # an omitted argument; None is a TypeError where mmap says so


def _closed():
    return ValueError("mmap closed or invalid")


def _einval(what):
    return OSError(errno.EINVAL, what)


def _bytes_like(value):
    """The raw bytes of any buffer, as a 1-D 'B' memoryview (PyBUF_SIMPLE in C)."""
    mv = memoryview(value)
    if mv.format != "B" or mv.ndim != 1:
        mv = mv.cast("B") if mv.c_contiguous else memoryview(mv.tobytes())
    return mv


def _resolve_access(flags, prot, access):
    """CPython's rules: access excludes flags/prot; flags/prot imply an access."""
    if access != ACCESS_DEFAULT and (flags != MAP_SHARED or prot != PROT_READ | PROT_WRITE):
        raise ValueError("mmap can't specify both access and flags, prot.")
    if access == ACCESS_READ:
        return MAP_SHARED, PROT_READ, access
    if access == ACCESS_WRITE:
        return MAP_SHARED, PROT_READ | PROT_WRITE, access
    if access == ACCESS_COPY:
        return MAP_PRIVATE, PROT_READ | PROT_WRITE, access
    if access != ACCESS_DEFAULT:
        raise ValueError("mmap invalid access parameter.")
    if (prot & PROT_READ) and (prot & PROT_WRITE):
        return flags, prot, ACCESS_DEFAULT
    return flags, prot, ACCESS_WRITE if prot & PROT_WRITE else ACCESS_READ


def _mk_flags(flags, prot):
    if flags & ~_KNOWN_FLAGS:
        raise _einval(f"mmapkit.compat: flags 0x{flags & ~_KNOWN_FLAGS:x} are not supported")
    if not flags & (MAP_SHARED | MAP_PRIVATE):
        raise _einval("mmap flags need MAP_SHARED or MAP_PRIVATE")
    mk = (POPULATE if flags & MAP_POPULATE else 0) | (NORESERVE if flags & MAP_NORESERVE else 0)
    return mk | (0 if prot & PROT_WRITE else RDONLY)


def _mk_prot(prot):
    """The protection to set after mapping when it is not plain read or read-write."""
    if prot & PROT_WRITE and prot & PROT_EXEC:
        raise PermissionError(errno.EACCES, "mmapkit.compat: PROT_WRITE with PROT_EXEC is refused")
    if prot & PROT_EXEC:
        return _MK_PROT_READ | _MK_PROT_EXEC if prot & PROT_READ else _MK_PROT_EXEC
    if not prot & (PROT_READ | PROT_WRITE):
        return _MK_PROT_NONE
    return None


def _ours(h):
    """A handle of this module: its closed error says what mmap's says."""
    h.closed_message = "mmap closed or invalid"
    return h


def _open_handle(fileno, length, flags, prot, offset):
    """Map with mmapkit; translate its range errors into the stdlib's ValueErrors."""
    mkflags = _mk_flags(flags, prot)
    mkprot = _mk_prot(prot)
    shared = bool(flags & MAP_SHARED)
    if fileno == -1:
        ctor = lib.mmapkit_anon_shared if shared else lib.mmapkit_anon_private
        h = _new_handle(ctor, length, mkflags)
    else:
        ctor = lib.mmapkit_fd_shared if shared else lib.mmapkit_fd_private
        try:
            h = _new_handle(ctor, fileno, offset, length, mkflags)
        except OSError as e:
            if e.errno != errno.ERANGE:
                raise
            raise ValueError("mmap offset is greater than file size" if length == 0 else
                             "mmap length is greater than file size") from None
        if length == 0 and h.length == 0:  # mmapkit maps an empty range; mmap does not
            h.close()
            raise ValueError("cannot mmap an empty file" if offset == 0 else
                             "mmap offset is greater than file size")
    if mkprot is not None and h.length:
        try:
            lib.mmapkit_protect(h.ptr, 0, TO_END, mkprot)
        except OSError:
            h.close()
            raise
    return _ours(h)


class mmap(_HandleOwner):
    """mmap(fileno, length, flags=MAP_SHARED, prot=PROT_WRITE|PROT_READ,
            access=ACCESS_DEFAULT, offset=0, *, trackfd=True)

    A memory-mapped file or anonymous memory, as the standard library's mmap.mmap;
    fileno -1 maps anonymous memory.  trackfd=False (Python 3.13) makes size() and
    resize() refuse as they do there; mmapkit itself always keeps its own duplicate
    of the descriptor, closed with the mapping.
    """

    def __new__(cls, fileno, length, flags=MAP_SHARED, prot=PROT_WRITE | PROT_READ,
                access=ACCESS_DEFAULT, offset=0, *, trackfd=True):
        fileno = operator.index(fileno)
        length = operator.index(length)
        flags = operator.index(flags)
        prot = operator.index(prot)
        access = operator.index(access)
        offset = operator.index(offset)
        for name, value, lo, hi in (("fileno", fileno, _INT_MIN, _INT_MAX),
                                    ("flags", flags, _INT_MIN, _INT_MAX),
                                    ("prot", prot, _INT_MIN, _INT_MAX),
                                    ("access", access, _INT_MIN, _INT_MAX),
                                    ("length", length, -_SSIZE_MAX - 1, _SSIZE_MAX),
                                    ("offset", offset, -(1 << 63), (1 << 63) - 1)):
            if not lo <= value <= hi:  # mmap's C types
                raise OverflowError(f"{name} {value} is out of range")
        if length < 0:
            raise OverflowError("memory mapped length must be positive")
        if offset < 0:
            raise OverflowError("memory mapped offset must be positive")
        flags, prot, access = _resolve_access(flags, prot, access)
        # The kernel wants a page-aligned offset; mmapkit would take any, mmap does not.
        if offset % ALLOCATIONGRANULARITY:
            raise _einval(f"mmap offset {offset} is not a multiple of ALLOCATIONGRANULARITY")
        self = super().__new__(cls)
        self._h = _open_handle(fileno, length, flags, prot, offset)
        self._access = access
        self._prot = prot
        self._offset = offset if fileno != -1 else 0
        self._anon = fileno == -1
        self._trackfd = bool(trackfd)
        self._pos = 0
        return self

    # ---- state ----

    def _closed_error(self):
        return _closed()

    def _writable(self):
        """TypeError unless the map is writable (checked before its handle is used)."""
        if self._access == ACCESS_READ or not self._prot & PROT_WRITE:
            self._live()
            raise TypeError("mmap can't modify a readonly memory map.")

    @property
    def closed(self):
        return not self._h.open

    def __len__(self):
        return self._live().length

    def size(self):
        """The size of the mapped file (OSError EBADF for anonymous memory, as mmap)."""
        with self._h as h:
            if self._anon or not self._trackfd:  # mmap has no descriptor: fstat(-1) fails
                raise OSError(errno.EBADF, os.strerror(errno.EBADF))
            return os.fstat(lib.mmapkit_fd(h.ptr)).st_size

    def tell(self):
        self._live()
        return self._pos

    def seekable(self):
        return True

    def seek(self, pos, whence=0):
        pos, whence = operator.index(pos), operator.index(whence)
        h = self._live()
        if whence == 0:
            where = pos
        elif whence == 1:
            where = self._pos + pos
        elif whence == 2:
            where = h.length + pos
        else:
            raise ValueError("unknown seek type")
        if where < 0 or where > h.length:
            raise ValueError("seek out of range")
        self._pos = where
        return where if _SEEK_RETURNS_POS else None

    def __repr__(self):
        name = "mmap.mmap" if type(self) is mmap else type(self).__name__
        if self.closed:
            return f"<{name} closed=True>"
        return (f"<{name} closed=False, access={_ACCESS_NAMES[self._access]}, "
                f"length={self._h.length}, pos={self._pos}, offset={self._offset}>")

    def __reduce__(self):
        raise TypeError(f"cannot pickle {type(self).__name__!r} object")

    # ---- file-like reads and writes at the position ----

    def read(self, n=None):
        n = -1 if n is None else operator.index(n)
        with self._h as h:
            left = max(0, h.length - self._pos)
            if n < 0 or n > left:
                n = left
            data = h.mv[self._pos:self._pos + n].tobytes()
            self._pos += n
            return data

    def read_byte(self):
        with self._h as h:
            if self._pos >= h.length:
                raise ValueError("read byte out of range")
            self._pos += 1
            return h.mv[self._pos - 1]

    def readline(self):
        with self._h as h:
            start = self._pos
            if start >= h.length:  # also past the end after a shrinking resize()
                return b""
            nl = self._find(h, b"\n", start, h.length, False)
            end = h.length if nl < 0 else nl + 1
            self._pos = end
            return h.mv[start:end].tobytes()

    def write(self, data):
        data = _bytes_like(data)
        self._writable()
        with self._h as h:
            if self._pos > h.length or h.length - self._pos < len(data):
                raise ValueError("data out of range")
            h.mv[self._pos:self._pos + len(data)] = data
            self._pos += len(data)
            return len(data)

    def write_byte(self, byte):
        byte = operator.index(byte)
        if not 0 <= byte <= 255:
            raise OverflowError("unsigned byte integer is out of range")
        self._writable()
        with self._h as h:
            if self._pos >= h.length:
                raise ValueError("write byte out of range")
            h.mv[self._pos] = byte
            self._pos += 1

    # ---- searching ----

    @staticmethod
    def _find(h, sub, start, end, reverse):
        """bytes.find/rfind over mv[start:end] without copying more than a chunk."""
        n = len(sub)
        if end - start < n:
            return -1
        if n == 0:
            return end if reverse else start
        step = max(_CHUNK, 2 * n)
        if not reverse:
            lo = start
            while True:
                hi = min(end, lo + step)
                i = h.mv[lo:hi].tobytes().find(sub)
                if i >= 0:
                    return lo + i
                if hi == end:
                    return -1
                lo = hi - n + 1  # a match may straddle the chunk boundary
        hi = end
        while True:
            lo = max(start, hi - step)
            i = h.mv[lo:hi].tobytes().rfind(sub)
            if i >= 0:
                return lo + i
            if lo == start:
                return -1
            hi = lo + n - 1

    def _search(self, sub, start, end, reverse):
        sub = _bytes_like(sub).tobytes()
        start = None if start is _DEFAULT else operator.index(start)
        end = None if end is _DEFAULT else operator.index(end)
        with self._h as h:
            start = self._pos if start is None else start
            size = h.length
            end = size if end is None else end
            start = min(max(start + size if start < 0 else start, 0), size)
            end = min(max(end + size if end < 0 else end, 0), size)
            return self._find(h, sub, start, end, reverse)

    def find(self, sub, start=_DEFAULT, end=_DEFAULT):
        return self._search(sub, start, end, False)

    def rfind(self, sub, start=_DEFAULT, end=_DEFAULT):
        return self._search(sub, start, end, True)

    # ---- bytes as a sequence ----

    @staticmethod
    def _item(h, i):
        """Index i (an int) of h; h is in use."""
        if i < 0:
            i += h.length
        if not 0 <= i < h.length:
            raise IndexError("mmap index out of range")
        return i

    def __getitem__(self, key):
        if type(key) is int:  # the common case, kept short
            with self._h as h:
                return h.mv[self._item(h, key)]
        if isinstance(key, slice):
            key = _resolve_slice(key, len(self))  # an __index__() may run code: first
            with self._h as h:
                return h.mv[key].tobytes()
        if not hasattr(key, "__index__"):
            self._live()
            raise TypeError("mmap indices must be integers")
        key = operator.index(key)
        with self._h as h:
            return h.mv[self._item(h, key)]

    def __setitem__(self, key, value):
        if isinstance(key, slice):
            key = _resolve_slice(key, len(self))
            self._writable()
            data = _bytes_like(value)
            with self._h as h:
                target = h.mv[key]
                if len(target) != len(data):
                    raise IndexError("mmap slice assignment is wrong size")
                target[:] = data
            return
        if not hasattr(key, "__index__"):
            self._live()
            raise TypeError("mmap indices must be integer")
        key = operator.index(key)
        with self._h as h:
            self._item(h, key)
        self._writable()
        if not hasattr(value, "__index__"):
            raise TypeError("mmap item value must be an int")
        value = operator.index(value)
        if not 0 <= value <= 255:
            raise ValueError("mmap item value must be in range(0, 256)")
        with self._h as h:
            h.mv[self._item(h, key)] = value

    def __delitem__(self, key):
        self._live()
        raise TypeError("mmap object doesn't support item deletion")

    def __iter__(self):
        # As the C type's sequence protocol: one-byte bytes objects.
        i = 0
        while True:
            with self._h as h:
                if i >= h.length:
                    return
                b = h.mv[i:i + 1].tobytes()
            yield b
            i += 1

    def __contains__(self, item):
        if isinstance(item, (bytes, bytearray)) and len(item) == 1:
            with self._h as h:
                return self._find(h, bytes(item), 0, h.length, False) >= 0
        return any(item == b for b in self)

    def _export_buffer(self):
        """The buffer protocol's export (mmapkit._buffer, or PEP 688): the whole map."""
        with self._h as h:
            if self._access == ACCESS_READ or not self._prot & PROT_WRITE:
                return h.export(0, h.length).toreadonly()
            return h.export(0, h.length)

    # ---- the rest of the API ----

    def move(self, dest, src, count):
        dest, src, count = operator.index(dest), operator.index(src), operator.index(count)
        self._writable()
        with self._h as h:
            if (dest < 0 or src < 0 or count < 0 or h.length - dest < count
                    or h.length - src < count):
                raise ValueError("source, destination, or count out of range")
            ctypes.memmove(h.addr + dest, h.addr + src, count)

    def flush(self, offset=0, size=_DEFAULT):
        offset = operator.index(offset)
        size = None if size is _DEFAULT else operator.index(size)
        with self._h as h:
            size = h.length if size is None else size
            if size < 0 or offset < 0 or h.length - offset < size:
                raise ValueError("flush values out of range")
            if self._access in (ACCESS_READ, ACCESS_COPY):
                return None
            # msync() wants a page-aligned start; mmapkit would round, mmap does not.
            if (h.addr + offset) % PAGESIZE:
                raise _einval(f"flush offset {offset} is not a multiple of PAGESIZE")
            if h.kind == FILE_SHARED and size:
                lib.mmapkit_sync(h.ptr, offset, size, 0)
            return None

    def madvise(self, option, start=0, length=_DEFAULT):
        option, start = operator.index(option), operator.index(start)
        length = None if length is _DEFAULT else operator.index(length)
        with self._h as h:
            length = h.length if length is None else length
            if start < 0 or start >= h.length:
                raise ValueError("madvise start out of bounds")
            if length < 0:
                raise ValueError("madvise length invalid")
            if _SSIZE_MAX - start < length:
                raise OverflowError("madvise length too large")
            length = min(length, h.length - start)
            advice = _ADVICE.get(option)
            if advice is None:
                raise _einval(f"mmapkit.compat: madvise option {option} is not supported")
            if (h.addr + start) % PAGESIZE:
                raise _einval(f"madvise start {start} is not a multiple of PAGESIZE")
            if option == MADV_REMOVE and h.kind == FILE_PRIVATE:  # the kernel's errno
                raise PermissionError(errno.EACCES, "madvise: MADV_REMOVE needs a shared mapping")
            if length:
                lib.mmapkit_advise(h.ptr, start, length, advice)
                self._destroy_tail(h, option, start + length)

    @staticmethod
    def _destroy_tail(h, option, end):
        """Finish a destructive madvise as the kernel would.

        The kernel rounds the end of the range up to a page and drops that whole last
        page; mmapkit_advise never touches bytes outside the range, so it leaves a
        partial last page alone.  Give those bytes what the kernel's drop gives them.
        """
        first = end - end % PAGESIZE
        last = min(first + PAGESIZE, h.length) if end % PAGESIZE else first
        if last <= first:
            return
        if option == MADV_DONTNEED and h.kind in (ANON_PRIVATE, FILE_PRIVATE):
            lib.mmapkit_revert(h.ptr, first, last - first)  # zeros, or the file again
        elif option == MADV_REMOVE and h.kind in (ANON_SHARED, FILE_SHARED):
            lib.mmapkit_punch(h.ptr, first, last - first)   # zeros for every sharer

    def resize(self, newsize):
        """Grow or shrink the map: mmapkit_resize() (0.2), else a new mmapkit handle.

        A file mapping truncates or extends the file to offset + newsize first, as
        mmap does; if mapping the new size then fails, the file gets its old size back.
        """
        newsize = operator.index(newsize)
        with self._h as h:
            if self._access not in (ACCESS_WRITE, ACCESS_DEFAULT) or not self._prot & PROT_WRITE:
                raise TypeError("mmap can't resize a readonly or copy-on-write memory map.")
            if not self._trackfd:
                raise ValueError("mmap: cannot resize a mmap with trackfd=False.")
            if newsize < 0 or _SSIZE_MAX - newsize < self._offset:
                raise ValueError("new size out of range")
            if h.exports():
                raise BufferError("mmap can't resize with extant buffers exported.")
            if newsize and hasattr(lib, "mmapkit_resize"):
                self._resize_in_place(h, newsize)
                return
            if self._anon:
                new = _ours(self._resize_anon(h, newsize))
            else:
                new = _ours(self._resize_file(h, newsize))
            self._h = new  # the next call in any thread uses the new handle
        h.close()

    def _resize_in_place(self, h, newsize):
        """mmapkit_resize() (0.2): the same handle grows or shrinks, as mremap() does
        for mmap; a file is truncated or extended to offset + newsize first."""
        old_size = None
        if not self._anon:
            fd = lib.mmapkit_fd(h.ptr)
            old_size = os.fstat(fd).st_size
            os.ftruncate(fd, self._offset + newsize)
        try:
            lib.mmapkit_resize(h.ptr, newsize, 0)
        except BaseException:
            if old_size is not None:
                os.ftruncate(fd, old_size)
            raise
        finally:
            h.refresh()

    def _resize_anon(self, h, newsize):
        ctor = lib.mmapkit_anon_shared if h.kind == ANON_SHARED else lib.mmapkit_anon_private
        new = _new_handle(ctor, newsize, h.flags)
        n = min(h.length, newsize)
        new.mv[:n] = h.mv[:n]
        return new

    def _resize_file(self, h, newsize):
        fd = lib.mmapkit_fd(h.ptr)
        old_size = os.fstat(fd).st_size
        os.ftruncate(fd, self._offset + newsize)
        try:
            return _new_handle(lib.mmapkit_fd_shared, fd, self._offset, newsize, h.flags)
        except BaseException:
            os.ftruncate(fd, old_size)
            raise

