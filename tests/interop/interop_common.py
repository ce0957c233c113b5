# SPDX-License-Identifier: Apache-2.0
"""Shared helpers of the interop tests (C library vs. Python osprofiler 3.4.3).

Each test_*.py runs standalone:

    /usr/bin/python3 tests/interop/test_x.py --driver build-interop/.../interop_driver

The driver (interop_driver.c) takes a command name, reads a JSON request on
stdin and prints one JSON result line. Failures are collected by Checker and
reported together; the script exits 1 if any check failed.
"""

import argparse
import contextlib
import difflib
import json
import os
import re
import subprocess
import sys

UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
TIMESTAMP_RE = re.compile(r'"timestamp": "(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6})"')


def parse_args(description):
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--driver", required=True, help="path to the interop_driver binary")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every check")
    ap.add_argument("--strict", action="store_true",
                    help="fail on known, reported divergences too")
    args = ap.parse_args()
    if not os.access(args.driver, os.X_OK):
        sys.exit("driver %r is not executable" % args.driver)
    return args


def run_driver(driver, command, request, env=None):
    """Run `driver command` with request (a dict) as JSON on stdin; return its result dict."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    proc = subprocess.run([driver, command], input=json.dumps(request).encode(),
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env,
                          timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("driver %s exited %d\nrequest: %s\nstderr: %s"
                           % (command, proc.returncode, json.dumps(request),
                              proc.stderr.decode(errors="replace")))
    return json.loads(proc.stdout)


class Checker:
    """Collects check results; every failure says what was compared and how it differed."""

    def __init__(self, name, verbose=False):
        self.name = name
        self.verbose = verbose
        self.failures = []
        self.passed = 0

    def ok(self, cond, what, detail=""):
        if cond:
            self.passed += 1
            if self.verbose:
                print("ok   %s" % what)
        else:
            msg = "FAIL %s" % what
            if detail:
                msg += "\n" + "\n".join("     " + line for line in str(detail).splitlines())
            print(msg)
            self.failures.append(what)
        return cond

    def eq(self, expected, actual, what):
        return self.ok(expected == actual, what,
                       "expected: %r\nactual:   %r" % (expected, actual))

    def lines_eq(self, expected_lines, actual_lines, what,
                 expected_label="python", actual_label="c"):
        """Compare two lists of text lines byte for byte; on failure print a unified
        diff and, for the first differing line, the first differing column."""
        if expected_lines == actual_lines:
            return self.ok(True, what)
        diff = "\n".join(difflib.unified_diff(expected_lines, actual_lines, expected_label,
                                              actual_label, lineterm="", n=0))
        for i, (e, a) in enumerate(zip(expected_lines, actual_lines)):
            if e != a:
                col = next((k for k, (x, y) in enumerate(zip(e, a)) if x != y),
                           min(len(e), len(a)))
                diff += ("\nfirst difference: line %d, column %d\n  %s: %r\n  %s: %r"
                         % (i + 1, col, expected_label, e[max(0, col - 30):col + 50],
                            actual_label, a[max(0, col - 30):col + 50]))
                break
        if len(expected_lines) != len(actual_lines):
            diff += "\nline counts differ: %s %d, %s %d" % (
                expected_label, len(expected_lines), actual_label, len(actual_lines))
        return self.ok(False, what, diff)

    def finish(self):
        if self.failures:
            print("%s: %d check(s) FAILED, %d passed" % (self.name, len(self.failures),
                                                         self.passed))
            sys.exit(1)
        print("%s: all %d checks passed" % (self.name, self.passed))
        sys.exit(0)


@contextlib.contextmanager
def captured_payloads():
    """Install a Python notifier that records every payload (a deep copy taken
    when it is emitted); restore the previous notifier afterwards."""
    import copy

    from osprofiler import notifier

    payloads = []
    previous = notifier.get()
    notifier.set(lambda payload: payloads.append(copy.deepcopy(payload)))
    try:
        yield payloads
    finally:
        notifier.set(previous)


def normalise_ids(lines):
    """Replace each distinct UUID by ID1, ID2, ... in order of first appearance."""
    mapping = {}

    def sub(m):
        return mapping.setdefault(m.group(0), "ID%d" % (len(mapping) + 1))

    return [UUID_RE.sub(sub, line) for line in lines], mapping


def normalise_timestamps(lines):
    return [TIMESTAMP_RE.sub('"timestamp": "TS"', line) for line in lines]


def read_lines(path):
    """The lines of a JSON-lines file as text (each must end with a newline)."""
    with open(path, "rb") as f:
        data = f.read()
    if data and not data.endswith(b"\n"):
        raise AssertionError("%s does not end with a newline: %r" % (path, data[-80:]))
    return data.decode("utf-8").splitlines()
