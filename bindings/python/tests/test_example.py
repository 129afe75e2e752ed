# SPDX-License-Identifier: MIT
"""examples/python/kinds.py runs and shows each kind's fork semantics."""

import os
import subprocess
import sys
import unittest

import mmapkit

from .support import ROOT


class TestKindsExample(unittest.TestCase):
    def test_output(self):
        script = os.path.join(ROOT, "examples", "python", "kinds.py")
        build = os.path.dirname(os.path.abspath(mmapkit.lib._name))
        r = subprocess.run([sys.executable, script, build], capture_output=True, text=True,
                           env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 7, r.stdout)
        self.assertIn("after fork the parent reads b'hello'", lines[1])
        self.assertTrue(lines[1].startswith("ANON_PRIVATE"))
        self.assertIn("after fork the parent reads b'child'", lines[2])
        self.assertIn("reads b'FILE!', the file holds b'file.'", lines[3])
        self.assertIn("reads b'child', the file holds b'child'", lines[4])
        self.assertIn("b'childVIEW!'", lines[5])
        self.assertIn("BufferError(cannot close exported pointers exist)", lines[5])
        self.assertRegex(lines[6], r"^error: errno 34: mmapkit_file_shared: .*ends past end of "
                                   r"file")


if __name__ == "__main__":
    unittest.main()
