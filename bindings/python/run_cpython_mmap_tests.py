#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Run CPython's own Lib/test/test_mmap.py against the stdlib mmap and mmapkit.compat.

Each module runs in its own child process (the same Python: sys.executable) in a
scratch directory; for mmapkit.compat the child puts it in sys.modules["mmap"]
before test.test_mmap is imported.  Prints both results side by side and every
test whose outcome differs, then checks that mmapkit.compat passes every test the
standard module passes on this Python, and at least the number of tests documented
for this Python in README.md (or --min-pass N).

Exit status: 0 ok, 1 a test the standard module passes does not pass with
mmapkit.compat, fewer passes than documented, or a child died; 77 when this Python
has no test.test_mmap (Debian: apt-get install libpython3.X-testsuite).
"""

import argparse
import importlib.util
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import traceback
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
MARK = "@@mmapkit-test-mmap-result@@"
OUTCOMES = ("passed", "failed", "errors", "skipped", "expected failures",
            "unexpected successes")


class _Result(unittest.TestResult):
    """Records one outcome (and the last line of any traceback) per test id."""

    def __init__(self):
        super().__init__()
        self.outcome = {}

    def _set(self, test, what, detail=""):
        self.outcome[test.id()] = (what, detail)

    @staticmethod
    def _last_line(err):
        text = "".join(traceback.format_exception_only(err[0], err[1]))
        return text.strip().splitlines()[-1] if text.strip() else err[0].__name__

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set(test, "passed")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set(test, "failed", self._last_line(err))

    def addError(self, test, err):
        super().addError(test, err)
        self._set(test, "errors", self._last_line(err))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._set(test, "skipped", reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set(test, "expected failures")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set(test, "unexpected successes")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            what = "failed" if issubclass(err[0], test.failureException) else "errors"
            self._set(test, what, self._last_line(err))


def child(which):
    """Run test_mmap in this process with the stdlib mmap or mmapkit.compat."""
    binding = None
    if which == "compat":
        sys.path.insert(0, HERE)
        import mmapkit.compat
        sys.modules["mmap"] = mmapkit.compat
        binding = (f"C extension {mmapkit.extension.__file__}" if mmapkit.extension else
                   f"no C extension ({mmapkit.extension_error})")
    import test.test_mmap as tm
    assert (tm.mmap.__name__ == "mmapkit.compat") == (which == "compat")
    suite = unittest.defaultTestLoader.loadTestsFromModule(tm)
    result = _Result()
    suite.run(result)
    sys.stdout.write(MARK + json.dumps({"file": tm.__file__, "outcome": result.outcome,
                                         "binding": binding}) + "\n")
    sys.stdout.flush()


def run_child(which, workdir):
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    p = subprocess.run([sys.executable, os.path.abspath(__file__), "--child", which],
                       cwd=workdir, env=env, capture_output=True, text=True, timeout=900)
    for line in p.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    sys.stderr.write(f"{which}: the test child died (status {p.returncode})\n{p.stderr[-4000:]}\n")
    return None


def counts(res):
    c = dict.fromkeys(OUTCOMES, 0)
    for what, _ in res["outcome"].values():
        c[what] += 1
    return c


def documented_min(readme):
    """The compat pass count README.md documents for this Python version, or None."""
    try:
        with open(readme, encoding="utf-8") as f:
            text = f.read()
    except OSError:
        return None
    row = re.compile(r"^\|\s*(\d+\.\d+\.\d+)\b[^|]*\|\s*`mmapkit\.compat`\s*\|\s*(\d+)\s*\|",
                     re.M)
    for version, passed in row.findall(text):
        if version == platform.python_version():
            return int(passed)
    return None


def report(std, kit):
    cs, ck = counts(std), counts(kit)
    print(f"CPython {platform.python_version()} ({sys.executable}): {std['file']}")
    print(f"mmapkit.compat with {kit['binding']}")
    print(f"{'':24}{'stdlib mmap':>14}{'mmapkit.compat':>17}")
    print(f"{'tests':24}{len(std['outcome']):>14}{len(kit['outcome']):>17}")
    for what in OUTCOMES:
        if cs[what] or ck[what]:
            print(f"{what:24}{cs[what]:>14}{ck[what]:>17}")
    def what(res, t):
        return res["outcome"].get(t, ("missing",))[0]
    diff = sorted(t for t in set(std["outcome"]) | set(kit["outcome"])
                  if what(std, t) != what(kit, t))
    if diff:
        print("\ntests whose outcome differs (stdlib -> mmapkit.compat):")
    for t in diff:
        s = std["outcome"].get(t, ("missing", ""))
        k = kit["outcome"].get(t, ("missing", ""))
        print(f"  {t.split('.', 2)[-1]}: {s[0]} -> {k[0]}" + (f": {k[1]}" if k[1] else ""))
    lost = sorted(t for t in std["outcome"] if what(std, t) == "passed" and what(kit, t) != "passed")
    return ck["passed"], lost


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--child", choices=("stdlib", "compat"), help=argparse.SUPPRESS)
    ap.add_argument("--readme", default=os.path.join(HERE, "README.md"),
                    help="where the documented pass count is (default: README.md here)")
    ap.add_argument("--min-pass", type=int, help="required compat passes (overrides README)")
    args = ap.parse_args()
    if args.child:
        child(args.child)
        return 0
    try:
        spec = importlib.util.find_spec("test.test_mmap")
    except ImportError:  # no test package at all
        spec = None
    if spec is None:
        print(f"{sys.executable} has no test.test_mmap; on Debian install "
              f"libpython{sys.version_info[0]}.{sys.version_info[1]}-testsuite")
        return 77
    with tempfile.TemporaryDirectory(prefix="mmapkit-test-mmap-") as wd:
        std = run_child("stdlib", wd)
        kit = run_child("compat", wd)
    if std is None or kit is None:
        return 1
    passed, lost = report(std, kit)
    if lost:
        print(f"\nFAIL: {len(lost)} test(s) pass with the standard mmap and not with mmapkit.compat")
        return 1
    need = args.min_pass if args.min_pass is not None else documented_min(args.readme)
    if need is None:
        print(f"\nno pass count documented for Python {platform.python_version()} in "
              f"{args.readme}: nothing to compare against")
        return 0
    if passed < need:
        print(f"\nFAIL: mmapkit.compat passes {passed} tests, fewer than the {need} documented")
        return 1
    print(f"\nok: mmapkit.compat passes {passed} tests (documented: {need})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
