#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""docker.image: the images run. Called by tests/docker/run.sh once the
private dockerd runs ($DOCKER_HOST) and the images osprofiler-c and
osprofiler-c/rabbitmq are built:

1. docker run: the RabbitMQ container (Debian's rabbitmq-server) on free
   loopback ports, the sidecar container publishing to it with its socket on
   a volume; a command traced with "osprofiler run" in a container of the
   image (and on the host with $OSP_HOST_CLI) through that socket; its start
   and stop points arrive in profiler.info, consumed here with python3-amqp.
2. docker/compose.yaml with Debian's docker-compose: build, up -d, a traced command
   ("run --rm cli run"), "run --rm cli trace list" shows its trace (sidecar ->
   RabbitMQ -> collector -> SQLite), down -v.
Everything started is removed at the end, also on failure.

usage: test_image.py SRC"""
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import SLOW, check, summary  # noqa: E402

import amqp  # noqa: E402

SRC = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..")
DOCKER = os.environ.get("OSP_DOCKER", "/usr/bin/docker")
IMAGE, RABBIT = "osprofiler-c", "osprofiler-c/rabbitmq"
TAG = "osptest%d" % os.getpid()  # names of everything this run makes
USER, PASS = "osprofiler", "dk-" + secrets.token_hex(8)
CREATED = {"containers": [], "volumes": []}


def docker(*args, timeout=120, env=None, check_rc=False):
    """Run the docker.io client; returns CompletedProcess (text)."""
    r = subprocess.run([DOCKER] + list(args), capture_output=True, text=True,
                       timeout=timeout * SLOW, env=env, stdin=subprocess.DEVNULL)
    if check_rc and r.returncode != 0:
        raise RuntimeError("docker %s: %s" % (" ".join(args[:2]), r.stderr.strip()[-500:]))
    return r


def port_free(port):
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_base():
    """An AMQP port P with P+19000 (epmd) and P+20000 (distribution) free too:
    --network host shares the host's ports with every other test."""
    for _ in range(200):
        p = random.randrange(12000, 30000)
        if all(port_free(q) for q in (p, p + 19000, p + 20000)):
            return p
    raise RuntimeError("no free port triple")


def wait(what, cond, timeout):
    """Poll cond() every 0.5 s up to timeout*SLOW s; returns its last value."""
    deadline = time.time() + timeout * SLOW
    while True:
        v = cond()
        if v or time.time() > deadline:
            return v
        time.sleep(0.5)


def amqp_conn(port):
    c = amqp.Connection("127.0.0.1:%d" % port, userid=USER, password=PASS,
                        connect_timeout=5)
    c.connect()
    return c


def amqp_up(port):
    try:
        amqp_conn(port).close()
        return True
    except (OSError, amqp.exceptions.AMQPError):
        return False


def drain(port, base_id, want, timeout):
    """The payloads of base_id's points in profiler.info (basic.get until
    `want` arrived or timeout); other messages are counted, not dropped
    silently."""
    got, other = [], 0
    deadline = time.time() + timeout * SLOW
    c = None
    while len(got) < want and time.time() < deadline:
        try:
            if c is None:
                c = amqp_conn(port)
                ch = c.channel()
            m = ch.basic_get("profiler.info", no_ack=True)
        except (OSError, amqp.exceptions.AMQPError):  # queue not declared yet
            if c is not None:
                c.close()
            c = None
            time.sleep(0.5)
            continue
        if m is None:
            time.sleep(0.2)
            continue
        p = json.loads(m.body).get("payload", {})
        if p.get("base_id") == base_id:
            got.append(p)
        else:
            other += 1
    if c is not None:
        c.close()
    if other:
        print("# %d other message(s) in profiler.info" % other)
    return got


def logs(name):
    r = docker("logs", "--tail", "30", name)
    return (r.stdout + r.stderr)[-2000:]


def run_rabbitmq(port):
    name = TAG + "-rabbitmq"
    CREATED["containers"].append(name)
    env = dict(os.environ, RABBITMQ_DEFAULT_PASS=PASS)  # -e NAME: not on a command line
    docker("run", "-d", "--init", "--network", "host", "--name", name,
           "-e", "RABBITMQ_NODE_PORT=%d" % port, "-e", "RABBITMQ_DEFAULT_USER=" + USER,
           "-e", "RABBITMQ_DEFAULT_PASS", RABBIT, env=env, check_rc=True)
    up = wait("rabbitmq", lambda: amqp_up(port), 120)
    check("run: RabbitMQ container accepts AMQP on 127.0.0.1:%d" % port, up, logs(name))
    r = docker("exec", name, "rabbitmq-run", "health", timeout=60)
    check("run: RabbitMQ healthcheck command", r.returncode == 0, r.stdout + r.stderr)
    r = docker("exec", name, "id", "-un")
    check("run: RabbitMQ runs as user rabbitmq", r.stdout.strip() == "rabbitmq", r.stdout)
    return name


def volume_dir(vol):
    return docker("volume", "inspect", "-f", "{{.Mountpoint}}", vol, check_rc=True).stdout.strip()


def traced(vol, name, host_sock=None):
    """Run "osprofiler run --name NAME" in a container of the image (socket on
    volume vol) or, with host_sock, with $OSP_HOST_CLI on the host; returns
    the trace's base_id (the child prints it) or ""."""
    show = ["sh", "-c", 'echo "base=$OSPROFILER_BASE_ID"']
    if host_sock:
        r = subprocess.run([os.environ["OSP_HOST_CLI"], "run", "--name", name, "--"] + show,
                           capture_output=True, text=True, timeout=60 * SLOW,
                           env=dict(os.environ, OSPROFILER_SIDECAR=host_sock))
    else:
        r = docker("run", "--rm", "--network", "host", "-v", vol + ":/run/osprofiler",
                   "-e", "OSPROFILER_SIDECAR=/run/osprofiler/sidecar.sock",
                   "--entrypoint", "/usr/local/bin/osprofiler", IMAGE,
                   "run", "--name", name, "--", *show)
    base = [ln[5:] for ln in r.stdout.splitlines() if ln.startswith("base=")]
    check("%s: traced command ran (exit 0, base_id printed)" % name,
          r.returncode == 0 and base and len(base[0]) == 36, r.stdout + r.stderr)
    return base[0] if base else ""


def points_arrive(port, base, name):
    pts = drain(port, base, 2, 60)
    names = sorted(p.get("name") for p in pts)
    check("%s: start and stop points arrived in profiler.info" % name,
          names == [name + "-start", name + "-stop"], repr(pts)[:1500])


def part_run():
    r = docker("run", "--rm", "--network", "host", "-e", "RABBITMQ_NODE_PORT=5672x", RABBIT)
    check("run: RabbitMQ image refuses a bad port clearly",
          r.returncode == 2 and "RABBITMQ_NODE_PORT is not a port number" in r.stderr,
          r.stdout + r.stderr)
    port = free_base()
    rmq = run_rabbitmq(port)
    vol = TAG + "-socket"
    CREATED["volumes"].append(vol)
    docker("volume", "create", vol, check_rc=True)
    sc = TAG + "-sidecar"
    CREATED["containers"].append(sc)
    url = "rabbit://%s:%s@127.0.0.1:%d/" % (USER, PASS, port)
    docker("run", "-d", "--init", "--network", "host", "--name", sc, "-v", vol + ":/run/osprofiler",
           "-e", "OSPROFILER_TRANSPORT_URL", IMAGE, "--socket", "/run/osprofiler/sidecar.sock",
           "--spool-dir", "/var/lib/osprofiler/spool",
           env=dict(os.environ, OSPROFILER_TRANSPORT_URL=url), check_rc=True)
    sock = os.path.join(volume_dir(vol), "sidecar.sock")
    up = wait("socket", lambda: os.path.exists(sock), 60)
    check("run: sidecar container listens on its socket (volume)", up, logs(sc))
    r = docker("exec", sc, "id", "-un")
    check("run: sidecar runs as user osprofiler", r.stdout.strip() == "osprofiler", r.stdout)
    base = traced(vol, "dockerrun")
    if base:
        points_arrive(port, base, "dockerrun")
    if os.environ.get("OSP_HOST_CLI"):
        base = traced(vol, "dockerhost", host_sock=sock)
        if base:
            points_arrive(port, base, "dockerhost")
    # nothing vanished: what the sidecar took, the broker confirmed
    docker("stop", "-t", "30", sc, timeout=60)
    text = docker("logs", sc).stderr
    m = re.search(r"\[stats\] exit: (\{.*\})", text)
    st = json.loads(m.group(1)) if m else None
    n = 4 if os.environ.get("OSP_HOST_CLI") else 2
    check("run: sidecar exit stats: %d received, %d confirmed, none dropped" % (n, n),
          st is not None and st["received"] == n and st["confirmed"] == n and
          not any(st["dropped"].values()), text[-1500:])
    check("run: the broker password is not in the sidecar's log", PASS not in text)
    r = docker("inspect", "-f", "{{json .Args}}", sc)
    check("run: nor on its command line", r.returncode == 0 and PASS not in r.stdout, r.stdout)
    for c in (sc, rmq):
        docker("rm", "-f", c)


def compose(*args, env, timeout=180):
    return subprocess.run(["docker-compose", "-f", os.path.join(SRC, "docker", "compose.yaml"),
                           "-p", TAG] + list(args), capture_output=True, text=True,
                          env=env, timeout=timeout * SLOW, stdin=subprocess.DEVNULL)


def part_compose():
    port = free_base()
    # "run" execs the docker client found on PATH: the docker.io one (as
    # $OSP_DOCKER). COMPOSE_INTERACTIVE_NO_CLI would lose the output of -T.
    env = dict(os.environ, RABBITMQ_PORT=str(port), RABBITMQ_PASS=PASS,
               PATH=os.path.dirname(DOCKER) + ":" + os.environ.get("PATH", ""))
    try:
        # compose's own build (build.network: host, BASE from OSP_BASE_IMAGE)
        # over the images run.sh built: the same layers, from the cache
        r = compose("build", env=dict(env, OSP_BASE_IMAGE="osprofiler-c/debian:bookworm"),
                    timeout=1200)
        check("compose: build (offline base, host network)", r.returncode == 0,
              (r.stdout + r.stderr)[-2000:])
        r = compose("up", "-d", "--no-build", env=env, timeout=300)
        check("compose: up -d (rabbitmq healthy, then sidecar and collector)",
              r.returncode == 0, r.stdout + r.stderr)
        if r.returncode != 0:
            return
        r = compose("ps", env=env)
        check("compose: three services up", r.stdout.count(" Up") >= 3, r.stdout)
        r = compose("run", "--rm", "-T", "cli", "run", "--name", "compose", "--", "sh", "-c",
                    'echo "base=$OSPROFILER_BASE_ID"', env=env)
        base = [ln[5:].strip() for ln in r.stdout.splitlines() if ln.startswith("base=")]
        check("compose: run --rm cli run traced a command", r.returncode == 0 and base,
              r.stdout + r.stderr)
        if not base:
            return
        last = {}

        def listed():
            last["r"] = compose("run", "--rm", "-T", "cli", "trace", "list", env=env)
            return base[0] in last["r"].stdout

        ok = wait("trace list", listed, 90)
        check("compose: run --rm cli trace list shows the trace", ok,
              last["r"].stdout + last["r"].stderr)
        r = compose("run", "--rm", "-T", "cli", "trace", "show", base[0], "--json", env=env)
        try:
            kids = json.loads(r.stdout)["children"]
        except (ValueError, KeyError):
            kids = []
        check("compose: trace show has the command's point",
              r.returncode == 0 and [k["info"]["name"] for k in kids] == ["compose"],
              (r.stdout + r.stderr)[-1500:])
        r = compose("logs", "--no-color", env=env)
        check("compose: the broker password is not in the logs", PASS not in r.stdout + r.stderr)
    finally:
        r = compose("down", "-v", "--remove-orphans", env=env)
        check("compose: down -v", r.returncode == 0, r.stdout + r.stderr)
        left = docker("ps", "-aq", "--filter", "label=com.docker.compose.project=" + TAG)
        check("compose: no container left", left.stdout.strip() == "", left.stdout)


def cleanup():
    for c in CREATED["containers"]:
        docker("rm", "-f", c)
    for v in CREATED["volumes"]:
        docker("volume", "rm", "-f", v)


def main():
    try:
        part_run()
        part_compose()
    finally:
        cleanup()
    return summary()


if __name__ == "__main__":
    sys.exit(main())
