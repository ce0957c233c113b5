# SPDX-License-Identifier: Apache-2.0
"""A running osprofiler-sidecar as the tests see it: its log, --stats, frames
sent to its socket, SIGTERM or SIGKILL. Each test starts its sidecars its
own way (config, flags, what "ready" means) in a subclass that sets binary,
conf, sock, log (a file open for writing) and proc."""
import json
import signal
import socket
import subprocess

from tap import SLOW


class SidecarProc:
    bound = SLOW  # what the time limits below are multiplied by

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def send(self, data):
        """One frame (bytes) or several (a list) on one connection."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            s.connect(self.sock)
            for d in (data if isinstance(data, list) else [data]):
                s.send(d)
        finally:
            s.close()

    def stats(self):
        """--stats' JSON, None when the sidecar does not answer."""
        r = subprocess.run([self.binary, "--config", self.conf, "--stats"],
                           capture_output=True, text=True, timeout=10 * self.bound)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def kill9(self):
        self.proc.kill()
        self.proc.wait(timeout=30 * self.bound)
        self.log.close()

    def stop(self, timeout=60):
        """SIGTERM; the exit status, -9 if it had to be killed."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout * self.bound)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = -9
        self.log.close()
        return rc
