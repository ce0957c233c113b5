#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.spool_damage: the real osprofiler-sidecar's spool against
what issue 12 found (items 8-10), at start-up, where only the real program
shows it.

1. Broker unreachable: a traced service's points go to the spool, while
   files planted at the next segment names (a file, a FIFO, a symlink) are
   skipped: spooling goes on at a free name. Among them 16 points sent by
   hand, one of 3 MiB (in a memfd, docs/wire.md "Large points"): all 16 are
   replayed (item 7).
2. Restart in store mode (SQLite) over that directory, with a segment of the
   previous format (version 2, the fixture unit.spool uses), a version 3
   segment written here from docs/design.md's description with one byte
   flipped, and planted files: a FIFO and a symlink at segment names (no
   hang), 18446744073709551615.seg (no id wrap), another user's file. Every
   intact point is stored, the damaged one is counted in --stats
   (dropped.spool = 1) and logged once, nothing planted is replayed, and a
   third start replays nothing again.
3. A spool directory owned by another user (0755) is refused with a clear
   error (when run as root).

  test_spool_damage.py --sidecar BIN --load BIN --fixture SEG
"""
import argparse
import fcntl
import json
import os
import shutil
import socket
import sqlite3
import struct
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import spool_v3  # noqa: E402
from tap import SLOW as BOUND, check, summary  # noqa: E402
from sidecar_proc import SidecarProc  # noqa: E402

NOBODY = 65534


class Sidecar(SidecarProc):
    def __init__(self, binary, work, conf, tag):
        self.binary = binary
        self.sock = os.path.join(work, "sc.sock")
        self.conf = os.path.join(work, "sidecar-%s.conf" % tag)
        with open(self.conf, "w") as f:
            f.write('listen_socket = "%s"\nlisten_mode = "0600"\nstats_interval = 0\n%s'
                    % (self.sock, conf))
        self.log = open(os.path.join(work, "sidecar-%s.log" % tag), "w+")
        self.proc = subprocess.Popen([binary, "--config", self.conf], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30 * BOUND
        while not os.path.exists(self.sock + ".ctl") and time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("osprofiler-sidecar exited:\n" + self.text())
            time.sleep(0.02)
        self.started = os.path.exists(self.sock + ".ctl")

    def wait(self, cond, timeout=30):
        deadline, st = time.time() + timeout * BOUND, None
        while time.time() < deadline:
            st = self.stats()
            if st and cond(st):
                return st
            time.sleep(0.1)
        return st


# ---- the format, from docs/design.md "Disk spool" and spool_format.h ----

def entry(body, publisher=b"spool-test"):
    return spool_v3.entry(2, body, publisher)


def segment(entries, salt=b"\x5a" * 8):
    return spool_v3.segment(entries, salt)


def point(base, i):
    return json.dumps({"name": "p%d-start" % i, "base_id": base, "trace_id": "%s-%d" % (base, i),
                       "parent_id": base, "timestamp": "2026-11-28T02:08:16.%06d" % i,
                       "info": {"host": "h"}, "project": None,
                       "service": "spooltest"}).encode()


def send_points(sock_path, points):
    """Points as JSON records (docs/wire.md): small ones in frames, a point
    larger than a frame in a sealed memfd."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock_path)
    pub = b"spool-test"
    for p in points:
        hdr = b"OSPH" + bytes([1, 0x04 if len(p) > 200000 else 0]) + \
            struct.pack("<H", len(pub)) + pub
        if len(p) <= 200000:
            s.send(hdr + p + b"\n")
            continue
        fd = os.memfd_create("point", os.MFD_ALLOW_SEALING)
        os.write(fd, p + b"\n")
        fcntl.fcntl(fd, 1033, 8 | 4 | 2)  # F_ADD_SEALS: WRITE, GROW, SHRINK
        socket.send_fds(s, [hdr], [fd])
        os.close(fd)
    s.close()


def big_point(base, i, size):
    p = json.loads(point(base, i))
    p["info"]["pad"] = "x" * size
    return json.dumps(p).encode()


def count(db, base):
    c = sqlite3.connect(db, timeout=30)
    try:
        return c.execute("SELECT count(DISTINCT trace_id) FROM data WHERE base_id = ?",
                         (base,)).fetchone()[0]
    except sqlite3.OperationalError:
        return 0
    finally:
        c.close()


def segs(spool):
    return sorted(f for f in os.listdir(spool) if f.endswith(".seg"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--load", required=True)
    ap.add_argument("--fixture", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        spool = os.path.join(work, "spool")
        os.mkdir(spool, 0o700)
        other = os.path.join(work, "elsewhere.seg")
        with open(other, "wb") as f:
            f.write(segment([entry(point("planted", i)) for i in range(3)])[0])

        # 1. The broker is unreachable: points go to the spool; planted
        # files at the next names are skipped.
        sc = Sidecar(args.sidecar, work, 'spool_dir = "%s"\n'
                     'transport_url = "rabbit://guest:guest@127.0.0.1:1/"\n'
                     'rabbit_retry_interval = 0.2\nrabbit_interval_max = 0.5\n' % spool, "down")
        with open(os.path.join(spool, "0000000000000001.seg"), "wb") as f:
            f.write(b"x")
        os.mkfifo(os.path.join(spool, "0000000000000002.seg"))
        os.symlink(other, os.path.join(spool, "0000000000000003.seg"))
        r = subprocess.run([args.load, "pairs", "--socket", sc.sock, "--threads", "1",
                            "--pairs", "50"], capture_output=True, text=True,
                           timeout=120 * BOUND)
        check("down: the service ran", r.returncode == 0, r.stderr)
        send_points(sc.sock, [big_point("large", i, 3 << 20) if i == 5 else point("large", i)
                              for i in range(16)])
        st = sc.wait(lambda s: s["received"] >= 116)
        check("down: 116 points taken", st is not None and st["received"] == 116, st)
        # Kept on the spool (as they came, or at exit), past the planted names.
        check("down: SIGTERM exits 0", sc.stop() == 0)
        ex = [json.loads(l.split("exit: ", 1)[1]) for l in sc.text().splitlines()
              if "[stats] exit: " in l]
        check("down: 116 points spooled, none dropped",
              ex and ex[0]["spooled"] == 116 and ex[0]["spool"]["points"] == 116 and
              sum(v for k, v in ex[0]["dropped"].items() if k != "collect_invalid") == 0,
              ex or sc.text()[-800:])
        check("down: the next free name was used", "0000000000000004.seg" in segs(spool),
              segs(spool))
        check("down: the skipped names are logged",
              "segment name(s) taken by files this sidecar did not write" in sc.text(),
              sc.text()[-800:])

        # 2. Restart in store mode with old, damaged and planted segments.
        shutil.copy(args.fixture, os.path.join(spool, "0000000000000005.seg"))
        seg, starts = segment([entry(point("damaged-seg", i)) for i in range(20)])
        seg = bytearray(seg)
        seg[starts[7] + 40] ^= 0x04  # in record 7's entry
        with open(os.path.join(spool, "0000000000000006.seg"), "wb") as f:
            f.write(seg)
        planted = segment([entry(point("planted", i)) for i in range(3)])[0]
        for name in ("18446744073709551615.seg", "0000000000000007.seg"):
            with open(os.path.join(spool, name), "wb") as f:
                f.write(planted)
        as_root = os.geteuid() == 0
        if as_root:
            os.chown(os.path.join(spool, "0000000000000007.seg"), NOBODY, NOBODY)
        db = os.path.join(work, "traces.db")
        t0 = time.time()
        sc = Sidecar(args.sidecar, work, 'spool_dir = "%s"\nstore = "sqlite:///%s"\n'
                     % (spool, db), "store")
        check("store: starts past a FIFO named *.seg", sc.started and time.time() - t0 < 30 * BOUND)
        # 116 spooled by step 1, 16 of version 2, 19 intact of 20 damaged
        st = sc.wait(lambda s: s["delivered"] >= 116 + 16 + 19 and
                     s["spool"]["points"] == 0 and s["memory"]["points"] == 0)
        n_load = st and st["delivered"]
        check("store: every intact point delivered, the damaged one counted",
              st is not None and st["delivered"] == 116 + 16 + 19 and
              st["dropped"]["spool"] == 1 and st["dropped"]["invalid"] == 0,
              "%r\n%s" % (st, sc.text()[-3000:]))
        check("store: the damaged segment's 19 intact points stored",
              count(db, "damaged-seg") == 19, count(db, "damaged-seg"))
        check("store: the version 2 segment's 16 points stored", count(db, "b") == 16,
              count(db, "b"))
        check("store: the 3 MiB point and the 15 around it replayed",
              count(db, "large") == 16, count(db, "large"))
        check("store: nothing planted was replayed", count(db, "planted") == 0,
              count(db, "planted"))
        log = sc.text()
        check("store: the damage logged once, with its reason",
              log.count("damaged point(s) skipped") == 1 and
              "0000000000000006.seg: 1 damaged point(s) skipped" in log and
              "checksum does not match" in log, log[-1500:])
        check("store: the FIFO and the symlink refused, logged",
              "0000000000000002.seg: not a regular file" in log and
              "0000000000000003.seg: not a regular file" in log, log[-1500:])
        check("store: the 20-digit name refused, logged",
              "18446744073709551615.seg: not a segment name" in log, log[-1500:])
        if as_root:
            check("store: another user's segment refused, logged",
                  "0000000000000007.seg: not owned by" in log, log[-1500:])
        left = segs(spool)
        check("store: delivered segments deleted, planted ones left in place",
              "0000000000000004.seg" not in left and "0000000000000006.seg" not in left and
              "0000000000000005.seg" not in left and "18446744073709551615.seg" in left and
              "0000000000000002.seg" in left, left)
        check("store: SIGTERM exits 0", sc.stop() == 0)

        # A third start replays nothing again (no id wrap to 0).
        sc = Sidecar(args.sidecar, work, 'spool_dir = "%s"\nstore = "sqlite:///%s"\n'
                     % (spool, db), "again")
        st = sc.wait(lambda s: True)
        time.sleep(0.5)
        st = sc.stats()
        check("again: nothing replayed twice",
              st is not None and st["delivered"] == 0 and st["spool"]["points"] == 0 and
              "from a previous run" not in sc.text() and count(db, "damaged-seg") == 19 and
              count(db, "planted") == 0, (st, n_load, sc.text()[-1000:]))
        check("again: SIGTERM exits 0", sc.stop() == 0)

        # 3. Someone else's 0755 directory: refused, clearly.
        if as_root:
            theirs = os.path.join(work, "theirs")
            os.mkdir(theirs, 0o755)
            # points a reader of either format would take: the version 2 fixture
            shutil.copy(args.fixture, os.path.join(theirs, "0000000000000001.seg"))
            os.chown(theirs, NOBODY, NOBODY)
            db = os.path.join(work, "theirs.db")
            sc = Sidecar(args.sidecar, work, 'spool_dir = "%s"\nstore = "sqlite:///%s"\n'
                         % (theirs, db), "theirs")
            time.sleep(0.5)
            log = sc.text()
            check("theirs: another user's spool directory refused",
                  "owned by uid 65534, not by this process's uid 0" in log, log[-800:])
            check("theirs: its points not replayed", count(db, "b") == 0, count(db, "b"))
            check("theirs: SIGTERM exits 0", sc.stop() == 0)
    sys.exit(summary())


if __name__ == "__main__":
    main()
