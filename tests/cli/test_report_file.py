#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""cli.report_file: `trace show FILE` reads a report file Python's CLI wrote
with NaN and infinities in payloads (Python's json.dumps writes them) as
null, and --out creates the report 0600 whatever the umask (it holds the
payloads, as the store does); an existing file keeps its mode.

  test_report_file.py OSPROFILER GOLDEN_REPORT_JSON
"""
import json
import math
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import check, summary  # noqa: E402


def main():
    osp, golden = sys.argv[1], sys.argv[2]
    with open(golden) as f:
        report = json.load(f)
    info = report["children"][0]["info"]["meta.raw_payload.wsgi-start"]["info"]
    info["nan"], info["inf"], info["ninf"] = math.nan, math.inf, -math.inf
    with tempfile.TemporaryDirectory() as work:
        src = os.path.join(work, "python.json")
        with open(src, "w") as f:
            json.dump(report, f, indent=2)  # as Python writes it: NaN, Infinity
        check("the file holds Python's NaN and Infinity", "NaN" in open(src).read() and
              "-Infinity" in open(src).read())
        out = os.path.join(work, "ours.json")
        old = os.umask(0)
        try:
            r = subprocess.run([osp, "trace", "show", src, "--json", "--out", out],
                               capture_output=True, text=True, timeout=60)
        finally:
            os.umask(old)
        check("trace show reads it", r.returncode == 0, r.stderr)
        got = json.load(open(out)) if r.returncode == 0 else {}
        gi = (got.get("children") or [{}])[0].get("info", {}).get(
            "meta.raw_payload.wsgi-start", {}).get("info", {})
        check("NaN and infinities become null, the rest stays",
              gi.get("nan", 0) is None and gi.get("inf", 0) is None and
              gi.get("ninf", 0) is None and gi.get("request") == info["request"], repr(gi))
        check("--out creates the report 0600 under umask 0",
              os.path.exists(out) and os.stat(out).st_mode & 0o777 == 0o600,
              oct(os.stat(out).st_mode) if os.path.exists(out) else "missing")
        os.chmod(out, 0o644)
        subprocess.run([osp, "trace", "show", src, "--html", "--out", out],
                       capture_output=True, timeout=60)
        check("an existing file keeps its mode", os.stat(out).st_mode & 0o777 == 0o644,
              oct(os.stat(out).st_mode))
    return summary()


if __name__ == "__main__":
    sys.exit(main())
