#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""The four kinds of mapping from Python, and what fork() does to each.

    python3 examples/python/kinds.py [BUILD_DIR]

BUILD_DIR is where libmmapkit.so.0 was built; without it the binding looks at
MMAPKIT_LIBRARY, then the source tree's build*/ directories, then the system.
"""

import os
import sys
import tempfile

if len(sys.argv) > 1:
    os.environ["MMAPKIT_LIBRARY"] = os.path.join(os.path.abspath(sys.argv[1]), "libmmapkit.so.0")
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "bindings", "python"))

import mmapkit  # noqa: E402
from mmapkit import Map  # noqa: E402


def after_fork(m):
    """The child writes b"child" at byte 0; returns what the parent then reads there."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        m[0:5] = b"child"
        os.write(w, b"x")
        os._exit(0)
    os.close(w)
    os.read(r, 1)  # the child has written
    os.close(r)
    os.waitpid(pid, 0)
    return m[0:5]


def main():
    page = mmapkit.page_size()
    print(f"libmmapkit {mmapkit.version()} ({mmapkit.lib._name}), page size {page}")
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "data.bin")
        with open(path, "wb") as f:
            f.write(b"file." * page)

        # 1. Anonymous private: zero-filled memory of this process only.
        with Map.anon_private(page) as m:
            m[0:5] = b"hello"
            print(f"{m.kind.name:13} {len(m)} bytes, after fork the parent reads {after_fork(m)}")

        # 2. Anonymous shared: the same memory in fork() children.
        with Map.anon_shared(page) as m:
            m[0:5] = b"hello"
            print(f"{m.kind.name:13} {len(m)} bytes, after fork the parent reads {after_fork(m)}")

        # 3. File private: a copy-on-write view; writes never reach the file.
        with Map.file_private(path) as m:
            m[0:5] = b"FILE!"
            seen = after_fork(m)
            with open(path, "rb") as f:
                head = f.read(5)
            print(f"{m.kind.name:13} {len(m)} bytes, after fork the parent reads {seen}, "
                  f"the file holds {head}")

        # 4. File shared: writes reach the file and every process mapping it.
        with Map.file_shared(path) as m:
            seen = after_fork(m)
            m.sync()
            with open(path, "rb") as f:
                head = f.read(5)
            print(f"{m.kind.name:13} {len(m)} bytes, after fork the parent reads {seen}, "
                  f"the file holds {head}")

            # Zero-copy: a memoryview over the mapping, and a typed view with at().
            v = m.view()
            v[5:10] = b"VIEW!"
            print(f"{'':13} through a memoryview: {m[0:10]}; close() while it lives:", end=" ")
            try:
                m.close()
            except BufferError as e:
                print(f"BufferError({e})")
            v.release()

        # Errors are OSError subclasses carrying mmapkit_errmsg().
        try:
            Map.file_shared(path, 0, 2 * len(b"file.") * page)
        except OSError as e:
            print(f"error: errno {e.errno}: {e.strerror}")


if __name__ == "__main__":
    main()
