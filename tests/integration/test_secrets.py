#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.secrets - passwords and HMAC keys never reach logs, errors or
stats. Every failure path that sees a secret is driven with a distinctive
one, and everything the programs printed is searched for it:

  * the sidecar: a wrong broker password (the real broker refuses the
    login), a broker that is down, --test-config, --stats, a config file
    with an error, a Redis store with a wrong password, a PostgreSQL store
    that is down;
  * the library: a [profiler] file with an error next to hmac_keys, headers
    signed with another key (osp_web_begin refuses them);
  * the CLI: header verify with the wrong key, trace list against Redis
    with a wrong password, against PostgreSQL down and an unparsable URL.

Prints each secret it looked for; fails on any hit.
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_sidecar as ts  # noqa: E402

from test_sidecar import SLOW, check  # noqa: E402

BROKER_PW = "Brk-S3cret-7fd2"
HMAC_KEY = "Hmac-S3cret-91ac"
REDIS_PW = "Rds-S3cret-c044"
PG_PW = "Pg-S3cret-d155"
SECRETS = [BROKER_PW, HMAC_KEY, REDIS_PW, PG_PW]


def run(argv, **kw):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, **kw)
    return r.stdout + r.stderr


def sidecar_for(binary, args, work, seconds):
    """Run the sidecar for a while and return everything it logged."""
    log = open(os.path.join(work, "sc-%d.log" % time.monotonic_ns()), "w+")
    p = subprocess.Popen([binary] + args, stdout=log, stderr=subprocess.STDOUT)
    time.sleep(seconds)
    st = ""
    sock = args[args.index("--socket") + 1] if "--socket" in args else None
    if sock and p.poll() is None:
        st = run([binary, "--socket", sock, "--stats"])
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
    log.seek(0)
    return log.read() + st


def cmdline_while_running(binary, args, work):
    """What /proc/PID/cmdline shows other users while the sidecar runs,
    and what it logged."""
    log = open(os.path.join(work, "sc-%d.log" % time.monotonic_ns()), "w+")
    p = subprocess.Popen([binary] + args, stdout=log, stderr=subprocess.STDOUT)
    sock = args[args.index("--socket") + 1]
    deadline = time.time() + 30 * SLOW
    while not os.path.exists(sock) and p.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    with open("/proc/%d/cmdline" % p.pid, "rb") as f:
        cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
    p.send_signal(signal.SIGTERM)
    p.wait(timeout=30)
    log.seek(0)
    return cmdline, log.read()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--osprofiler", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--broker-env", required=True)
    args = ap.parse_args()
    env = dict(l.strip().split("=", 1) for l in open(args.broker_env) if "=" in l)
    port = int(env["OSP_BROKER_PORT"])
    seen = []
    with tempfile.TemporaryDirectory() as work:
        sock = os.path.join(work, "s.sock")
        bad_login = "rabbit://guest:%s@127.0.0.1:%d/" % (BROKER_PW, port)
        out = sidecar_for(args.sidecar, ["--transport-url", bad_login, "--socket", sock,
                                         "--spool-dir", ""], work, 3)
        check("secrets: the broker refused the login (and it was logged)",
              "login" in out.lower() or "ACCESS_REFUSED" in out or "403" in out, out[-400:])
        seen.append(out)
        # A password on the command line: masked in argv once the sidecar
        # runs, and the operator is told where to put it instead.
        cmdline, out = cmdline_while_running(args.sidecar, [
            "--transport-url", bad_login, "--socket", sock, "--spool-dir", ""], work)
        seen.append(out)
        check("secrets: a password given on the command line is masked and warned of",
              "is masked now" in out and "$OSPROFILER_TRANSPORT_URL" in out, out[-400:])
        if "valgrind" not in args.sidecar:  # valgrind's own argv keeps the copy it was given
            check("secrets: /proc/PID/cmdline no longer shows the password",
                  BROKER_PW not in cmdline and "127.0.0.1:%d" % port in cmdline,
                  cmdline.replace(BROKER_PW, "<secret>"))
            seen.append(cmdline)
        # ... or from the environment, which only its own user can read.
        env_url = dict(os.environ, OSPROFILER_TRANSPORT_URL=bad_login)
        out = run([args.sidecar, "--socket", sock, "--test-config"], env=env_url)
        seen.append(out)
        check("secrets: $OSPROFILER_TRANSPORT_URL names the broker",
              "(from $OSPROFILER_TRANSPORT_URL)" in out and "127.0.0.1:%d" % port in out, out)
        good = dict(os.environ, OSPROFILER_TRANSPORT_URL="rabbit://guest:guest@127.0.0.1:%d/"
                    % port)
        log = os.path.join(work, "env.log")
        with open(log, "w") as lf:
            p = subprocess.Popen([args.sidecar, "--socket", sock, "--spool-dir", ""],
                                 env=good, stdout=lf, stderr=subprocess.STDOUT)
            deadline = time.time() + 30 * SLOW
            while "connected to" not in open(log).read() and time.time() < deadline:
                time.sleep(0.05)
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=30)
        check("secrets: the sidecar connects with the URL from the environment",
              "connected to 127.0.0.1:%d" % port in open(log).read(), open(log).read()[-400:])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            dead = s.getsockname()[1]
        down = "rabbit://user:%s@127.0.0.1:%d,user:%s@[::1]:%d/" % (BROKER_PW, dead,
                                                                    BROKER_PW, dead)
        seen.append(sidecar_for(args.sidecar, ["--transport-url", down, "--socket", sock,
                                               "--spool-dir", ""], work, 2))
        seen.append(run([args.sidecar, "--transport-url", down, "--socket", sock,
                         "--test-config"]))
        conf = os.path.join(work, "bad.conf")
        with open(conf, "w") as f:
            f.write('transport_url = "rabbit://u:%s@h/"\nmemory_limit = "lots"\n' % BROKER_PW)
        seen.append(run([args.sidecar, "--config", conf, "--test-config"]))
        seen.append(sidecar_for(args.sidecar, [
            "--socket", sock, "--store", "redis://:%s@127.0.0.1:%d/0" % (REDIS_PW, dead),
            "--spool-dir", ""], work, 1))
        seen.append(sidecar_for(args.sidecar, [
            "--socket", sock, "--store", "postgresql://osp:%s@127.0.0.1:%d/db" % (PG_PW, dead),
            "--spool-dir", ""], work, 1))
        # the library and the CLI
        pconf = os.path.join(work, "profiler.conf")
        with open(pconf, "w") as f:
            f.write("[profiler]\nenabled = true\nhmac_keys = %s\ntrace_sqlalchemy = maybe\n"
                    % HMAC_KEY)
        seen.append(run([args.sample, "--config", pconf],
                        env=dict(os.environ, OSPROFILER_HMAC_KEY="other-key")))
        with open(pconf, "w") as f:
            f.write("[profiler]\nenabled = true\nhmac_keys = %s\nconnection_string = "
                    "messaging://\nsidecar_socket = %s\n" % (HMAC_KEY, sock))
        seen.append(run([args.sample, "--config", pconf],
                        env=dict(os.environ, OSPROFILER_HMAC_KEY="other-key")))
        signed = run([args.osprofiler, "header", "sign", "--hmac-key", "other-key",
                      "--base-id", "11111111-2222-4333-8444-555555555555"]).split()
        seen.append(run([args.osprofiler, "header", "verify", "--hmac-keys", HMAC_KEY] +
                        signed[-2:]))
        seen.append(run([args.osprofiler, "trace", "list", "--connection-string",
                         "redis://:%s@127.0.0.1:%d/0" % (REDIS_PW, dead)]))
        seen.append(run([args.osprofiler, "trace", "list"], env=dict(
            os.environ, OSPROFILER_CONNECTION_STRING="postgresql://osp:%s@127.0.0.1:%d/db"
            % (PG_PW, dead))))
        seen.append(run([args.osprofiler, "trace", "list"], env=dict(
            os.environ, OSPROFILER_CONNECTION_STRING="postgresql://osp:%s@[::1/db" % PG_PW)))
    text = "\n".join(seen)
    # the paths were really taken: each left its error behind
    for what in ("memory_limit", "trace_sqlalchemy", "cannot connect to redis", "no broker",
                 "not traced", "postgresql://osp@127.0.0.1", "not a valid connection string"):
        check("secrets: output shows the %r path ran" % what, what in text)
    for i, s in enumerate(SECRETS):  # named by number: this output is searched too
        check("secrets: secret %d of %d appears nowhere in %d bytes of output"
              % (i + 1, len(SECRETS), len(text)),
              s not in text, [line.replace(s, "<secret>") for line in text.splitlines()
                              if s in line][:3])
    return ts.summary()


if __name__ == "__main__":
    sys.exit(main())
