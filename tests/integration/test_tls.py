#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""integration.tls: the sidecar publishes over TLS to a RabbitMQ TLS listener
whose CA this test makes with the openssl CLI. A verified peer and host name
work; a wrong CA or a host name the certificate does not name are refused
with a clear error.

  test_tls.py --sidecar BIN --broker-sh broker.sh
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_sidecar import Sidecar, check, drain, free_port, frame, point, summary  # noqa: E402


def openssl(*a):
    subprocess.run(["openssl"] + list(a), check=True, capture_output=True, timeout=60)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=%s" % name, "-keyout", os.path.join(d, name + ".key"),
            "-out", os.path.join(d, name + ".pem"))


def make_server(d, ca):
    key, csr, pem = (os.path.join(d, "server" + e) for e in (".key", ".csr", ".pem"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost",
            "-keyout", key, "-out", csr)
    ext = os.path.join(d, "ext.cnf")
    with open(ext, "w") as f:
        f.write("subjectAltName=DNS:localhost\n")  # deliberately no IP
    openssl("x509", "-req", "-in", csr, "-CA", os.path.join(d, ca + ".pem"),
            "-CAkey", os.path.join(d, ca + ".key"), "-CAcreateserial", "-days", "2",
            "-extfile", ext, "-out", pem)
    return key, pem


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sidecar", required=True)
    ap.add_argument("--broker-sh", required=True)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        pki = os.path.join(work, "pki")
        os.mkdir(pki)
        make_ca(pki, "ca")
        make_ca(pki, "other-ca")
        key, pem = make_server(pki, "ca")
        bdir = os.path.join(work, "broker")
        os.mkdir(bdir)
        tls_port = free_port()
        with open(os.path.join(bdir, "rabbitmq.conf"), "w") as f:
            f.write("listeners.ssl.default = %d\n"
                    "ssl_options.cacertfile = %s\nssl_options.certfile = %s\n"
                    "ssl_options.keyfile = %s\nssl_options.verify = verify_none\n"
                    "ssl_options.fail_if_no_peer_cert = false\n"
                    % (tls_port, os.path.join(pki, "ca.pem"), pem, key))
        r = subprocess.run([args.broker_sh, "start", bdir, "6201"], capture_output=True,
                           text=True, timeout=180)
        check("tls: broker with a TLS listener started", r.returncode == 0, r.stderr[-500:])
        if r.returncode != 0:
            print("1 failed")
            sys.exit(1)
        env = dict(l.strip().split("=", 1) for l in open(os.path.join(bdir, "env")) if "=" in l)
        port = int(env["OSP_BROKER_PORT"])
        try:
            def run(name, host, ca, verify_host):
                d = os.path.join(work, name)
                os.mkdir(d)
                conf = ('ssl_ca_file = "%s"\nssl_enforce_hostname_verification = %s\n'
                        'rabbit_retry_interval = 0.5\n'
                        % (os.path.join(pki, ca + ".pem"), "true" if verify_host else "false"))
                url = "rabbit://guest:guest@%s:%d/?ssl=1" % (host, tls_port)
                sc = Sidecar(args.sidecar, url, d, conf)
                return sc

            sc = run("good", "localhost", "ca", True)
            check("tls: verified peer and host name connect", "connected to" in sc.text(),
                  sc.text()[-400:])
            sc.send(frame("h", [point(1)]))
            msgs = drain(port, want=1, timeout=20)
            check("tls: a point published over TLS arrives", len(msgs) == 1)
            check("tls: exit 0", sc.stop() == 0)

            sc = run("wrongca", "localhost", "other-ca", True)
            time.sleep(1.5)
            st = sc.stats()
            text = sc.text()
            check("tls: a wrong CA is refused", st is not None and st["connected"] is False
                  and "connected to" not in text, text[-400:])
            check("tls: the refusal says why", "TLS:" in text and "ssl_ca_file" in text,
                  text[-400:])
            check("tls: the password is not logged", "guest:guest" not in text)
            sc.stop()

            sc = run("wronghost", "127.0.0.1", "ca", True)
            time.sleep(1.5)
            text = sc.text()
            check("tls: a host name the certificate does not name is refused",
                  "connected to" not in text and "TLS:" in text, text[-400:])
            sc.stop()

            sc = run("nohostcheck", "127.0.0.1", "ca", False)
            check("tls: without host name verification the CA alone decides",
                  "connected to" in sc.text(), sc.text()[-400:])
            sc.stop()
        finally:
            subprocess.run([args.broker_sh, "stop", bdir], timeout=120)
    sys.exit(summary())


if __name__ == "__main__":
    main()
