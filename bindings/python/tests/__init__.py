# SPDX-License-Identifier: MIT
"""unittest suite of the mmapkit Python binding: python3 -m unittest discover -s tests -t ."""
