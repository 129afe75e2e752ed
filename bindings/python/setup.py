# SPDX-License-Identifier: MIT
"""The C extension mmapkit._buffer (the buffer protocol on every Python 3).

Everything else is in pyproject.toml; setuptools before 69 cannot declare an extension
there.  optional=True: without a C compiler or Python's headers (python3-dev) the build
warns and installs the pure-ctypes binding, which says what it lacks
(mmapkit.buffer_protocol, mmapkit.extension_error).
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("mmapkit._buffer", ["mmapkit/_buffer.c"], optional=True)])
