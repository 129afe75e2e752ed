# SPDX-License-Identifier: MIT
"""Helpers for the binding's tests: scratch files, the header's declarations, fork."""

import ctypes
import errno
import os
import re
import signal
import tempfile
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
HEADER = os.path.join(ROOT, "include", "mmapkit.h")
PAGE = os.sysconf("SC_PAGE_SIZE")


class TempDirTest(unittest.TestCase):
    """A scratch directory per test, and pattern files in it."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="mmapkit-py-")
        self.dir = self._tmp.name
        self.addCleanup(self._tmp.cleanup)

    def path(self, name="data.bin"):
        return os.path.join(self.dir, name)

    def pattern_file(self, size, name="data.bin"):
        """A file whose byte i is pattern(i); returns (path, contents)."""
        data = pattern(size)
        p = self.path(name)
        with open(p, "wb") as f:
            f.write(data)
        return p, data

    def read_file(self, p):
        with open(p, "rb") as f:
            return f.read()


def pattern(size, seed=0):
    return bytes((i * 7 + i // 251 + seed) & 0xFF for i in range(size))


def header_text():
    with open(HEADER, encoding="utf-8") as f:
        text = f.read()
    return re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def header_constants():
    """Every MMAPKIT_ constant of the header with its value: name -> int or str."""
    text = header_text()
    out = {}
    for name, value in re.findall(r"^#define\s+MMAPKIT_(\w+)\s+(\S.*?)\s*$", text, re.M):
        value = value.strip()
        if re.fullmatch(r"0x[0-9a-fA-F]+u?|\d+u?", value):
            out[name] = int(value.rstrip("uU"), 0)
        elif re.fullmatch(r'"[^"]*"', value):
            out[name] = value[1:-1]
        elif value == "((size_t)-1)":
            out[name] = ctypes.c_size_t(-1).value
    enum = re.search(r"enum\s+mmapkit_kind\s*\{(.*?)\}", text, re.S).group(1)
    for name, value in re.findall(r"MMAPKIT_(\w+)\s*=\s*(\d+)", enum):
        out[name] = int(value)
    return out


def header_macros():
    """The names of every MMAPKIT_ macro the header defines."""
    return set(re.findall(r"^#\s*define\s+MMAPKIT_(\w+)", header_text(), re.M))


def header_functions():
    """name -> (return type, [parameter types]) for every MMAPKIT_API declaration."""
    text = " ".join(header_text().split())
    out = {}
    decl = r"MMAPKIT_API\s+([\w\s\*]+?)\s*\b(mmapkit_\w+)\s*\(([^)]*)\)"
    for ret, name, params in re.findall(decl, text):
        types = []
        for p in params.split(","):
            p = p.strip()
            if p in ("void", ""):
                continue
            # drop the parameter name: the last identifier
            types.append(re.sub(r"\s*\b\w+$", "", p).replace(" *", "*").strip())
        out[name] = (ret.replace(" *", "*").strip(), types)
    return out


def run_child(body, timeout=10):
    """fork(); the child runs body() under an alarm and exits 0 if it returns True.

    Returns the raw wait status of the child.
    """
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            signal.alarm(timeout)
            code = 0 if body() else 1
        except BaseException:
            traceback.print_exc()
            code = 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return status


# ---- what the kernel says about this process's memory ----

def _smaps_entry(addr):
    """The /proc/self/smaps entry (its lines) of the mapping holding addr."""
    with open("/proc/self/smaps", encoding="ascii") as f:
        text = f.read()
    for entry in re.split(r"\n(?=[0-9a-f]+-[0-9a-f]+ )", text):
        lo, hi = (int(x, 16) for x in entry.split(None, 1)[0].split("-"))
        if lo <= addr < hi:
            return entry
    raise AssertionError(f"nothing is mapped at {addr:#x}")


def smaps_kb(addr, *fields):
    """The sum of the kB fields (e.g. "Shared_Dirty") of the mapping holding addr."""
    entry = _smaps_entry(addr)
    return sum(int(v) for name in fields
               for v in re.findall(rf"^{name}:\s+(\d+) kB", entry, re.M))


def dirty_kb(addr):
    """Dirty kB of the mapping holding addr: written and not yet written back."""
    return smaps_kb(addr, "Shared_Dirty", "Private_Dirty")


def perms(addr):
    """The permissions ("rw-s") of the mapping holding addr."""
    return _smaps_entry(addr).split(None, 2)[1]


def vmflags(addr):
    """The VmFlags codes of the mapping holding addr."""
    return set(re.search(r"^VmFlags:(.*)$", _smaps_entry(addr), re.M).group(1).split())


def status_kb(field):
    """A kB field of /proc/self/status, such as VmLck."""
    with open("/proc/self/status", encoding="ascii") as f:
        return int(re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M).group(1))


_libc = ctypes.CDLL(None, use_errno=True)
_libc.mmap.restype = ctypes.c_void_p
_libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                       ctypes.c_int, ctypes.c_long]
_libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
MAP_FIXED_NOREPLACE = 0x100000


def map_own(addr, length):
    """Map private anonymous memory at exactly addr (MAP_FIXED_NOREPLACE: only where
    nothing is mapped); True when it landed there."""
    p = _libc.mmap(addr, length, 0x3, 0x02 | 0x20 | MAP_FIXED_NOREPLACE, -1, 0)
    if p is not None and p != addr and p != ctypes.c_void_p(-1).value:
        _libc.munmap(p, length)
    return p == addr


def nothing_at(addr, length):
    """Nothing is mapped at [addr, addr + length)."""
    if not map_own(addr, length):
        return False
    _libc.munmap(addr, length)
    return True


# ---- the 0.2 functions: skipped, saying so, where the loaded library lacks them ----

def lacks(*names):
    """Skip unless the loaded library has every function in names."""
    import mmapkit
    gone = [n for n in names if not hasattr(mmapkit.lib, n)]
    return unittest.skipIf(gone, "library lacks " + ", ".join(gone))


def lacks_flag(flag, flag_name, probe):
    """Skip when probe() (a constructor with flag) fails as a library without the flag
    does: EINVAL "unknown flag bits"."""
    try:
        probe().close()
    except unittest.SkipTest as e:  # the probe knows why (the kernel lacks something)
        return unittest.skip(str(e))
    except OSError as e:
        if e.errno == errno.EINVAL and "unknown flag bits" in str(e):
            return unittest.skip(f"library lacks {flag_name} (0x{flag:x})")
    return lambda cls: cls


def maps_line(addr):
    """The /proc/self/maps line of the mapping holding addr."""
    return _smaps_entry(addr).splitlines()[0]
