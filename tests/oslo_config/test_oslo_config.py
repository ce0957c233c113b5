#!/usr/bin/python3
"""oslo_config.*: every value libosprofiler and osprofiler-sidecar take from a
service's .conf files equals what oslo.config gives a Python service reading
the same files (Debian's python3-oslo.config, oslo.messaging, osprofiler).

    test_oslo_config.py --dump CONFIG_DUMP --corpus generated|stock --work DIR

generated: seeded random configs exercising what oslo's reader does (long
  lines, continuation lines, quotes, "key: value", repeated sections and keys,
  section case, deprecated names, several files and --config-dir directories,
  $substitution, CRLF and Unicode whitespace, broken lines and values).
stock: the .conf files Debian's OpenStack packages ship, fetched with
  `apt-get download`, as shipped and with [profiler] switched on, long
  multi-host transport_urls and a conf.d directory on top.

The oracle registers what the Python side registers: osprofiler's [profiler]
options (plus our sidecar_socket), the service's [DEFAULT] host, every option
of oslo.messaging, and every other key the files set as a StrOpt (what the
service would have registered; C cannot know those and reads them as strings).
A case agrees when both sides read equal values, or both refuse the files (a
parse error: same file and line).
"""
import argparse
import glob
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys

from oslo_config import cfg
import oslo_messaging.opts
from osprofiler import opts as osprofiler_opts

C_REFUSES = "C refuses"  # a value oslo takes that we refuse, by design


# ---------------------------------------------------------------- oracle

def _register(conf):
    conf.register_opts(osprofiler_opts._PROFILER_OPTS, group="profiler")
    conf.register_opt(cfg.StrOpt("sidecar_socket"), group="profiler")
    # as nova, cinder, neutron... register it
    conf.register_opt(cfg.StrOpt("host", default=socket.gethostname()))
    for group, opts in oslo_messaging.opts.list_opts():
        conf.register_opts(opts, group=group)


def _register_file_keys(conf):
    for sections in conf._namespace._parsed:
        for section, keys in sections.items():
            group = None if section == "DEFAULT" else section
            for key in keys:
                try:
                    conf.register_opt(cfg.StrOpt(key), group=group)
                except (cfg.DuplicateOptError, ValueError):
                    pass


def _split(text):  # osprofiler.utils.split
    return [t.strip() for t in text.split(",") if t.strip()]


def oracle(paths):
    """(lib, sidecar): the values each C side must read, or an error dict."""
    conf = cfg.ConfigOpts()
    _register(conf)
    args = []
    for p in paths:
        args += ["--config-dir" if os.path.isdir(p) else "--config-file", p]
    try:
        conf(args=args, project="svc", default_config_files=[],
             default_config_dirs=[])
    except cfg.ConfigFileParseError as e:
        m = re.search(r"at (.*):(\d+), ", str(e.msg))
        err = {"ok": False, "parse": True, "source": m.group(1) if m else e.config_file,
               "line": int(m.group(2)) if m else 0}
        return err, err
    except Exception as e:  # unreadable file, not UTF-8, ...
        err = {"ok": False, "parse": True, "why": type(e).__name__}
        return err, err
    _register_file_keys(conf)
    return _lib(conf), _sidecar(conf)


def _lib(conf):
    try:
        p = conf.profiler
        v = {"ok": True, "enabled": p.enabled, "trace_sqlalchemy": p.trace_sqlalchemy,
             "filter_error_trace": p.filter_error_trace,
             "hmac_keys": _split(p.hmac_keys or ""),
             "connection_string": p.connection_string,
             "sidecar_socket": p.sidecar_socket, "host": conf.host}
    except Exception as e:
        return {"ok": False, "why": type(e).__name__}
    cs = v["connection_string"]
    if not cs:
        return {"ok": False, "why": C_REFUSES + ": empty connection_string"}
    if "://" not in cs:
        v["connection_string"] = cs + "://"  # osprofiler's bare driver name
    if v["host"] is not None and len(v["host"].encode()) > 255:
        return {"ok": False, "why": C_REFUSES + ": host longer than 255 bytes"}
    if v["sidecar_socket"] is not None and len(v["sidecar_socket"].encode()) > 107:
        return {"ok": False, "why": C_REFUSES + ": socket path longer than 107 bytes"}
    return v


SIDECAR_RABBIT = ["amqp_durable_queues", "amqp_auto_delete", "rabbit_quorum_queue",
                  "rabbit_ha_queues", "ssl", "ssl_enforce_hostname_verification",
                  "ssl_ca_file", "ssl_cert_file", "ssl_key_file",
                  "heartbeat_timeout_threshold", "rabbit_quorum_delivery_limit",
                  "rabbit_retry_interval", "rabbit_retry_backoff", "rabbit_interval_max"]
SIDECAR_INTS = SIDECAR_RABBIT[9:]


def _sidecar(conf):
    try:
        r = conf.oslo_messaging_rabbit
        v = {k: getattr(r, k) for k in SIDECAR_RABBIT}
        v["control_exchange"] = conf.control_exchange
        # get_notification_transport: TransportURL.parse(url or conf.transport_url)
        url = conf.oslo_messaging_notifications.transport_url or conf.transport_url
    except Exception as e:
        return {"ok": False, "why": type(e).__name__}
    if not url:
        return {"ok": False, "why": "empty transport_url (oslo.messaging refuses it)"}
    if "://" not in url:  # oslo.messaging finds no driver for it when it connects
        return {"ok": False, "why": "transport_url without driver://"}
    netloc = url.split("://", 1)[1].split("/", 1)[0].split("?", 1)[0]
    for host in netloc.split(","):
        port = host.rpartition("@")[2].rpartition("]")[2].partition(":")[2]
        if port and not port.isdigit():  # kombu fails when it connects
            return {"ok": False, "why": C_REFUSES + ": a port that is not a number"}
    for k in SIDECAR_INTS:
        if v[k] is None:
            return {"ok": False, "why": "an empty integer is None: refused"}
        if v[k] < 0:
            return {"ok": False, "why": C_REFUSES + ": negative " + k}
    v["heartbeat_timeout_threshold"] = min(v["heartbeat_timeout_threshold"], 65535)
    for k in ("rabbit_retry_interval", "rabbit_retry_backoff", "rabbit_interval_max"):
        v[k] = float(v[k])
    v["transport_url"] = url
    v["ok"] = True
    return v


# ---------------------------------------------------------------- compare

def c_dump(dump, side, paths):
    r = subprocess.run([dump, side] + paths, capture_output=True, timeout=60)
    if r.returncode != 0 or not r.stdout:
        return {"ok": False, "crash": r.returncode, "stderr": r.stderr.decode(errors="replace")}
    return json.loads(r.stdout)


def agree(c, py):
    if py["ok"] != c["ok"]:
        return False
    if not py["ok"]:
        if py.get("parse") and "line" in py:
            # osp_error_t.source holds 127 bytes: a longer path is cut
            src = c.get("source", "")
            same = src == py["source"] or (len(src) == 127 and py["source"].startswith(src))
            return c.get("line") == py["line"] and same
        return True
    c = dict(c)
    c.pop("transport_url_line", None)
    return c == py


class Checker:
    def __init__(self, dump):
        self.dump = dump
        self.cases = self.failures = 0
        self.refused = 0
        self.seen = []

    def case(self, label, paths):
        py_lib, py_sc = oracle(paths)
        self.seen += paths
        for side, py in (("lib", py_lib), ("sidecar", py_sc)):
            self.cases += 1
            c = c_dump(self.dump, side, paths)
            if "crash" in c:
                ok = False
            else:
                ok = agree(c, py)
            if not py["ok"]:
                self.refused += 1
            if not ok:
                self.failures += 1
                if self.failures <= 15:
                    print("MISMATCH %s [%s] files %s\n  python: %s\n  c:      %s"
                          % (label, side, paths, json.dumps(py, sort_keys=True)[:1500],
                             json.dumps(c, sort_keys=True)[:1500]))
        return py_lib, py_sc

    def require(self, label, ok):
        """A case that must read (not refuse): the corpus is doing its job."""
        if not ok:
            self.failures += 1
            print("NOT EXERCISED: " + label)


# ---------------------------------------------------------------- generated

SECTIONS = ["DEFAULT", "profiler", "oslo_messaging_rabbit", "oslo_messaging_notifications",
            "PROFILER", "Profiler", "Oslo_Messaging_Rabbit", "database", "default"]
BOOL_KEYS = {"profiler": ["enabled", "profiler_enabled", "trace_sqlalchemy",
                          "filter_error_trace"],
             "oslo_messaging_rabbit": ["amqp_durable_queues", "amqp_auto_delete", "ssl",
                                       "rabbit_use_ssl", "rabbit_ha_queues",
                                       "rabbit_quorum_queue",
                                       "ssl_enforce_hostname_verification"],
             "DEFAULT": ["amqp_auto_delete", "rabbit_ha_queues", "debug"]}
STR_KEYS = {"profiler": ["hmac_keys", "connection_string", "sidecar_socket",
                         "es_scroll_time"],
            "oslo_messaging_rabbit": ["ssl_ca_file", "kombu_ssl_ca_certs", "ssl_cert_file",
                                      "kombu_ssl_certfile", "ssl_key_file",
                                      "kombu_ssl_keyfile"],
            "oslo_messaging_notifications": ["transport_url", "driver", "topics"],
            "DEFAULT": ["host", "transport_url", "control_exchange",
                        "notification_transport_url", "my_ip", "state_path"],
            "database": ["connection"]}
INT_KEYS = {"oslo_messaging_rabbit": ["heartbeat_timeout_threshold",
                                      "rabbit_quorum_delivery_limit",
                                      "rabbit_retry_interval", "rabbit_retry_backoff",
                                      "rabbit_interval_max"],
            "DEFAULT": ["rabbit_retry_backoff"],
            "profiler": ["es_scroll_size"]}
BOOLS = ["true", "false", "True", "FALSE", "yes", "no", "on", "off", "1", "0", "Yes",
         "maybe", "", "tru"]
INTS = ["10", "0", "1_000", "012", "00", "+5", " 7 ", "x", "", "1e3", "65536", "-3",
        "5 ", "3_"]
WORDS = ["nova", "a b", "k1,k2", " k1 , ,k2,, ", "key\u00a0", "caf\u00e9", "x=y", "x:y",
         "#not-a-comment", ";semi", "tab\there", "/run/osprofiler/sidecar.sock",
         "messaging", "redis://127.0.0.1:6379", "", "SECRET_KEY"]
REFS = ["$host", "${host}", "${profiler.hmac_keys}", "$my_ip", "\\$literal", "$$",
        "$nosuch", "${oslo_messaging_rabbit.ssl}", "$state_path/x", "${DEFAULT.host}",
        "$control_exchange", "${profiler.es_scroll_size}", "${profiler.socket_timeout}",
        "$", "${", "${bad name}", "$transport_url"]


def long_url(rng):
    hosts = ",".join("osp%d:S3cr%%2Ft-%d@ctl-%d.cloud.example.org:%d" % (i, i, i, 5672 + i)
                     for i in range(rng.randint(1, 6)))
    return "rabbit://%s/%s" % (hosts, rng.choice(["", "nova", "%2F"]))


def gen_value(rng, kind):
    if kind == "bool":
        v = rng.choice(BOOLS)
    elif kind == "int":
        v = rng.choice(INTS)
    elif rng.random() < 0.15:
        v = long_url(rng)
    else:
        v = rng.choice(WORDS)
    r = rng.random()
    if r < 0.12:
        v = v + rng.choice(REFS)
    elif r < 0.17:
        v = rng.choice(REFS)
    r = rng.random()
    if r < 0.08:
        v = '"%s"' % v
    elif r < 0.12:
        v = "'%s'" % v
    elif r < 0.13:
        v = '"'
    return v


def gen_assignment(rng, section):
    norm = section if section == "DEFAULT" else section.lower()
    r = rng.random()
    if r < 0.4 and norm in BOOL_KEYS:
        key, kind = rng.choice(BOOL_KEYS[norm]), "bool"
    elif r < 0.55 and norm in INT_KEYS:
        key, kind = rng.choice(INT_KEYS[norm]), "int"
    elif norm in STR_KEYS:
        key, kind = rng.choice(STR_KEYS[norm]), "str"
    else:
        key, kind = rng.choice(["foo", "bar_baz", "x1"]), "str"
    sep = rng.choice(["=", " = ", ":", " : ", "\t=\t", "= ", " :"])
    line = key + sep + gen_value(rng, kind)
    if rng.random() < 0.08:  # a multi-line value
        line += "".join("\n" + rng.choice(["  ", "\t", "    "]) + rng.choice(WORDS + ["more"])
                        for _ in range(rng.randint(1, 3)))
    if rng.random() < 0.03:
        line += rng.choice(["\u00a0", " \t", "\x0c"])
    return line


def gen_file(rng):
    lines = []
    if rng.random() < 0.03:
        lines.append("orphan = 1")  # before any section: an error
    for _ in range(rng.randint(1, 6)):
        name = rng.choice(SECTIONS)
        r = rng.random()
        header = "[%s]" % name
        if r < 0.02:
            header = "[%s" % name
        elif r < 0.03:
            header = "[]"
        elif r < 0.06:
            header = "[%s]  " % name
        lines.append(header)
        for _ in range(rng.randint(0, 6)):
            r = rng.random()
            if r < 0.1:
                lines.append(rng.choice(["#", ";"]) + " a comment = x")
            elif r < 0.13:
                lines.append("#default_log_levels = " + ",".join(
                    "mod%d=WARN" % i for i in range(rng.randint(20, 80))))
            elif r < 0.18:
                lines.append("")
            elif r < 0.19:
                lines.append("  stray continuation")
            elif r < 0.2:
                lines.append("no separator here")
            elif r < 0.21:
                lines.append(" = empty key")
            else:
                lines.append(gen_assignment(rng, name))
    text = "\n".join(lines) + rng.choice(["\n", "", "\n\n"])
    nl = rng.random()
    if nl < 0.1:
        text = text.replace("\n", "\r\n")
    elif nl < 0.13:
        text = text.replace("\n", "\r")
    data = text.encode()
    if rng.random() < 0.01:
        data += b"\xff bad = utf8\n"
    return data


def generated(checker, work, count, seed):
    rng = random.Random(seed)
    for i in range(count):
        case = os.path.join(work, "case%04d" % i)
        os.makedirs(case)
        paths = []
        for f in range(rng.randint(1, 3)):
            if rng.random() < 0.2:  # a --config-dir
                d = os.path.join(case, "d%d.conf.d" % f)
                os.makedirs(d)
                for k in rng.sample(range(10), rng.randint(0, 3)):
                    with open(os.path.join(d, "%02d-x.conf" % k), "wb") as fh:
                        fh.write(gen_file(rng))
                with open(os.path.join(d, "ignored.txt"), "wb") as fh:
                    fh.write(b"[profiler]\nenabled = true\n")
                with open(os.path.join(d, ".hidden.conf"), "wb") as fh:
                    fh.write(b"[profiler]\nenabled = maybe\n")
                paths.append(d)
            else:
                p = os.path.join(case, "f%d.conf" % f)
                with open(p, "wb") as fh:
                    fh.write(gen_file(rng))
                paths.append(p)
        checker.case("generated #%d (seed %d)" % (i, seed), paths)


# ---------------------------------------------------------------- stock

PACKAGES = ["nova-common", "cinder-common", "glance-common", "neutron-common", "keystone",
            "heat-common", "placement-common", "barbican-common", "ironic-common",
            "octavia-common", "manila-common", "aodh-common", "ceilometer-common"]


def fetch_stock(work):
    debs = os.path.join(work, "debs")
    os.makedirs(debs, exist_ok=True)
    missing = [p for p in PACKAGES if not glob.glob(os.path.join(debs, p + "_*.deb"))]
    if missing:
        r = subprocess.run(["apt-get", "download"] + missing, cwd=debs,
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("apt-get download failed:\n" + r.stderr)
    confs = []
    for deb in sorted(glob.glob(os.path.join(debs, "*.deb"))):
        root = os.path.join(work, "pkg", os.path.basename(deb).split("_")[0])
        if not os.path.isdir(root):
            os.makedirs(root)
            subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
        for path in sorted(glob.glob(os.path.join(root, "**", "*.conf"), recursive=True)):
            if os.path.isfile(path) and not os.path.islink(path):
                confs.append(path)
    return confs


def set_in_section(text, section, key, value):
    """key = value in [section]: where the file has the commented-out default,
    else at the section's end (a new section at the end of the file)."""
    head = re.search(r"(?m)^\[%s\][ \t]*$" % re.escape(section), text)
    if not head:
        return text + "\n[%s]\n%s = %s\n" % (section, key, value)
    nxt = re.compile(r"(?m)^\[").search(text, head.end())
    end = nxt.start() if nxt else len(text)
    body = text[head.end():end]
    line = "%s = %s" % (key, value)
    new, n = re.subn(r"(?m)^#%s = .*$" % re.escape(key), lambda m: line, body, count=1)
    if not n:
        new = body.rstrip("\n") + "\n" + line + "\n\n"
    return text[:head.end()] + new + text[end:]


def switch_on(text, rng):
    """The stock file with [profiler] on, its keys and a long multi-host
    transport_url set, in their sections, as an operator would."""
    for section, key, value in [
            ("profiler", "enabled", "true"),
            ("profiler", "hmac_keys", "Hmac-k1, Hmac-k2 ,"),
            ("profiler", "connection_string", "redis"),
            ("DEFAULT", "transport_url", long_url(rng)),
            ("oslo_messaging_rabbit", "amqp_durable_queues", "true"),
            ("oslo_messaging_rabbit", "heartbeat_timeout_threshold", "30")]:
        text = set_in_section(text, section, key, value)
    return text


SERVICES = ("nova", "cinder", "glance-api", "neutron", "keystone", "heat", "placement",
            "barbican", "ironic", "octavia", "manila", "aodh", "ceilometer")


def stock(checker, work):
    confs = fetch_stock(work)
    services = [c for c in confs if re.search(r"/[\w-]+\.conf$", c)]
    rng = random.Random(7)
    main_confs = 0
    for path in services:
        checker.case("stock as shipped: " + path, [path])
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
        if "[DEFAULT]" not in text:
            continue
        main_confs += 1
        on = os.path.join(work, "on", os.path.relpath(path, work))
        os.makedirs(os.path.dirname(on), exist_ok=True)
        with open(on, "w", encoding="utf-8") as fh:
            fh.write(switch_on(text, rng))
        lib, sc = checker.case("stock, profiler on: " + path, [on])
        service = os.path.basename(path)[:-5] in SERVICES
        checker.require("profiler on and a multi-host transport_url: " + path,
                        not service or (lib.get("enabled") is True and sc.get("ok")
                                        and sc["transport_url"].count("@") >= 1))
        d = on + ".d"
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "50-profiler.conf"), "w") as fh:
            fh.write("[DEFAULT]\nhost = ctl-$control_exchange\n[profiler]\n"
                     "hmac_keys = ${host}-key, $rpc_response_timeout\n"
                     "[oslo_messaging_notifications]\ntransport_url = %s\n"
                     "[oslo_messaging_rabbit]\nrabbit_use_ssl = yes\n"
                     "kombu_ssl_ca_certs = /etc/ssl/${control_exchange}/ca.pem\n"
                     % long_url(rng))
        lib, sc = checker.case("stock + conf.d: " + path, [on, d])
        checker.require("conf.d read on top: " + path,
                        not service or (lib.get("ok") and sc.get("ok") and sc["ssl"] is True))
    return main_confs


def sidecar_errors(checker, work, sidecar):
    """osprofiler-sidecar --test-config names the service file and line of a
    bad imported transport_url (never its password), and the file that set
    a good one."""
    good = os.path.join(work, "nova.conf")
    bad = os.path.join(work, "zz-bad.conf")
    d = os.path.join(work, "nova.conf.d")
    os.makedirs(d)
    with open(good, "w") as fh:
        fh.write("[DEFAULT]\n#default_log_levels = %s\ntransport_url = %s\n"
                 % ("x" * 700, long_url(random.Random(3))))
    with open(os.path.join(d, "10-notify.conf"), "w") as fh:
        fh.write("[oslo_messaging_notifications]\n\n\ntransport_url = "
                 "rabbit://u:Pw-S3cret@ctl-9:99999/\n")
    conf = os.path.join(work, "sidecar.conf")
    for paths, want in (([good], "(from %s:3)" % good),
                        ([good, d], "%s/10-notify.conf:4: transport_url: host 1 has an "
                                    "invalid port" % d)):
        with open(conf, "w") as fh:
            fh.write("oslo_config = {%s}\nspool_dir = \"\"\nstore = \"sqlite:///%s/t.db\"\n"
                     % (", ".join('"%s"' % p for p in paths), work))
        r = subprocess.run([sidecar, "--config", conf, "--test-config"],
                           capture_output=True, text=True, timeout=60)
        out = r.stdout + r.stderr
        checker.cases += 1
        if want not in out or "S3cr" in out:
            checker.failures += 1
            print("FAIL: %s: expected %r in:\n%s" % (paths, want, out))
    with open(bad, "w") as fh:
        fh.write("[DEFAULT]\ntransport_url = \n")
    checker.case("empty [DEFAULT] transport_url", [good, bad])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True)
    ap.add_argument("--corpus", choices=["generated", "stock", "errors"], required=True)
    ap.add_argument("--sidecar")
    ap.add_argument("--work", required=True)
    ap.add_argument("--count", type=int, default=int(os.environ.get("OSP_CONF_CASES", 600)))
    ap.add_argument("--seed", type=int, default=int(os.environ.get("OSP_CONF_SEED", 1)))
    a = ap.parse_args()
    keep = os.path.join(a.work, "debs")
    if os.path.isdir(a.work):
        for e in os.listdir(a.work):
            path = os.path.join(a.work, e)
            if path != keep:
                (shutil.rmtree if os.path.isdir(path) else os.unlink)(path)
    os.makedirs(a.work, exist_ok=True)
    checker = Checker(a.dump)
    if a.corpus == "generated":
        generated(checker, a.work, a.count, a.seed)
        enough = checker.refused > 0 and checker.refused < checker.cases
    elif a.corpus == "errors":
        sidecar_errors(checker, a.work, a.sidecar)
        enough = True
    else:
        n = stock(checker, a.work)
        print("%d service configs with [DEFAULT] from %d packages" % (n, len(PACKAGES)))
        enough = n >= len(PACKAGES) and all(
            any(c.endswith("/%s.conf" % svc) for c in checker.seen)
            for svc in SERVICES)
    print("%d comparisons (%d where oslo refuses the files or a value), %d mismatches"
          % (checker.cases, checker.refused, checker.failures))
    if checker.failures or not enough:
        sys.exit(1)
    print("oslo_config.%s: ok" % a.corpus)


if __name__ == "__main__":
    main()
