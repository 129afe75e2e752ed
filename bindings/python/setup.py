# SPDX-License-Identifier: MIT
"""The C extension mmapkit._buffer (the buffer protocol on every Python 3).

Everything else is in pyproject.toml; setuptools before 69 cannot declare an extension
there.  optional=True: without a C compiler or Python's headers (python3-dev) the build
warns and installs the pure-ctypes binding, which says what it lacks
(mmapkit.buffer_protocol, mmapkit.extension_error).
"""
from setuptools import Extension, setup

# libc: the module calls nothing of it, but a shared object without any NEEDED entry is
# one that lintian cannot check (shared-library-lacks-prerequisites).
# (gcc links --as-needed by default on Debian 12, hence --no-as-needed.)
setup(ext_modules=[Extension("mmapkit._buffer", ["mmapkit/_buffer.c"],
                             extra_link_args=["-Wl,--no-as-needed", "-lc"], optional=True)])
