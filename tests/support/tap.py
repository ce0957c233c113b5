# SPDX-License-Identifier: Apache-2.0
"""tap - what the Python tests share: "ok - NAME" / "not ok - NAME" lines,
the summary that makes the exit status, a free loopback port, the time
multiplier slow runs (valgrind, ThreadSanitizer) set, and the child
processes to kill if a test dies half-way."""
import atexit
import os
import socket
import time

FAILS = []
RUNNING = []  # subprocess.Popen objects to kill at exit if still running
SLOW = float(os.environ.get("OSP_TEST_TIMEOUT_MULTIPLIER", "1"))


@atexit.register
def stop_leftovers():
    """Kill the child processes still running (a test that failed half-way)."""
    for proc in RUNNING:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def check(name, cond, detail=""):
    """Print the outcome (and, on failure, the detail, indented); returns cond."""
    print(("ok - " if cond else "not ok - ") + name +
          ("" if cond or detail == "" else "\n  " + str(detail)[-3000:].replace("\n", "\n  ")),
          flush=True)
    if not cond:
        FAILS.append(name)
    return bool(cond)


def summary():
    """Print what failed; returns the exit status."""
    print("all passed" if not FAILS else "%d failed: %s" % (len(FAILS), ", ".join(FAILS)),
          flush=True)
    return 1 if FAILS else 0


def free_port():
    """A loopback TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout=30 * SLOW, step=0.1):
    """cond() until it is true or timeout seconds passed; its last value."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = cond()
        if v:
            return v
        time.sleep(step)
    return cond()
