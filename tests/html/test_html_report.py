#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""html.report - `osprofiler trace show --html` in a real browser.

Debian's chromium runs headless with the network cut off (a dead proxy and a
resolver that resolves nothing), driven over the DevTools protocol
(python3-websocket). For the golden report: the tree renders, the known
error point (driver, NoValidHost) is highlighted, the filter hides what does
not match and keeps the ancestors of what does, a click shows the raw
payloads, no request leaves file://, and a screenshot is written. Hostile
names and payloads ("</script>", "<!--", <img onerror>) stay text. A store
Python wrote with NaN in a payload renders (NaN shown as null). Then a
10k-point report (built by Python osprofiler's own report code) renders and
filters within bounds. Exit 77 (skipped) without chromium.

    test_html_report.py OSPROFILER GOLDEN_DIR TEMPLATE OUT_DIR
"""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from tap import check, summary  # noqa: E402



class Browser:
    """One headless chromium (own process group, stopped by pid) and a CDP
    session on its first page."""

    def __init__(self, workdir):
        self.ud = os.path.join(workdir, "chromium-profile")
        self.proc = subprocess.Popen(
            ["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--user-data-dir=" + self.ud, "--remote-debugging-port=0",
             "--remote-debugging-address=127.0.0.1", "--proxy-server=127.0.0.1:9",
             "--host-resolver-rules=MAP * ~NOTFOUND", "--window-size=1400,900",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(workdir, "chromium.log"), "w"),
            start_new_session=True)
        try:
            self._connect(workdir)
        except BaseException:
            self.close()  # never leave the browser behind
            raise

    def _connect(self, workdir):
        import websocket  # python3-websocket
        port_file = os.path.join(self.ud, "DevToolsActivePort")
        deadline = time.time() + 60
        # Chromium creates the file before it writes the port into it.
        text = ""
        while not text.strip() and time.time() < deadline:
            if os.path.exists(port_file):
                text = open(port_file).read()
            if not text.strip():
                time.sleep(0.1)
        if not text.strip():
            raise RuntimeError("chromium wrote no DevToolsActivePort within 60 s")
        port = int(text.split()[0])
        pages = []
        while not pages and time.time() < deadline:
            with urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port) as r:
                pages = [p for p in json.load(r) if p.get("type") == "page"]
            time.sleep(0.1)
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.next_id = 0
        self.events = []
        for m in ("Page.enable", "Network.enable", "Runtime.enable"):
            self.call(m)

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            self.events.append(msg)

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True,
                      awaitPromise=True)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def load(self, path, timeout=60):
        t0 = time.time()
        self.call("Page.navigate", url="file://" + path)
        while time.time() - t0 < timeout:
            if self.js("document.readyState === 'complete' && "
                       "document.body && document.body.dataset.ready === '1'"):
                return time.time() - t0
            time.sleep(0.05)
        raise RuntimeError("the report did not render within %d s" % timeout)

    def requests(self):
        self.js("1")  # flush pending events
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def close(self):
        try:
            if hasattr(self, "ws"):
                self.ws.close()
        except Exception:
            pass
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)


def filter_to(browser, text):
    """Type into the filter box (an input event, as a keystroke sends)."""
    browser.js("{ const f = document.getElementById('osp-filter'); f.value = %s;"
               " f.dispatchEvent(new Event('input')); }" % json.dumps(text))


VISIBLE = "Array.from(document.querySelectorAll('.osp-row:not(.osp-hidden)'))"


def expected_visible(report, q):
    """Names of the rows the filter must keep: matches and their ancestors."""
    keep = []

    def walk(node, ancestors):
        info = node["info"]
        hit = any(q in str(info.get(k) or "").lower() for k in ("name", "service", "host"))
        below = [walk(c, ancestors + [node]) for c in node.get("children", [])]
        return hit or any(below)

    def collect(node):
        if walk(node, []):
            keep.append(node["trace_id"])
        for c in node.get("children", []):
            collect(c)
    for c in report["children"]:
        collect(c)
    return keep


def big_report(path, n_points):
    """A 10k-point trace, reported by Python osprofiler's base driver."""
    code = r"""
import datetime, json, sys
from osprofiler.drivers import base
class D(base.Driver):
    def __init__(self): super().__init__("x://"); self.result = {}; self.started_at = None; self.finished_at = None; self.last_started_at = None
    @classmethod
    def get_name(cls): return "x"
d = D()
n = int(sys.argv[2]) // 2
t0 = datetime.datetime(2024, 1, 1, 10, 0, 0)
base_id = "10000000-0000-4000-8000-000000000000"
svc = ["api", "conductor", "compute", "scheduler"]
for i in range(n):
    tid = "%08x-0000-4000-8000-%012d" % (0x20000000 + i, i)
    parent = base_id if i < 10 else "%08x-0000-4000-8000-%012d" % (0x20000000 + (i // 10), i // 10)
    st = t0 + datetime.timedelta(microseconds=i * 50)
    sp = st + datetime.timedelta(microseconds=40 + (i % 7) * 100)
    info = {"host": "host-%d" % (i % 5)}
    for name, ts in (("op%d-start" % (i % 13), st), ("op%d-stop" % (i % 13), sp)):
        raw = {"name": name, "base_id": base_id, "trace_id": tid, "parent_id": parent,
               "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%S.%f"), "info": dict(info),
               "project": "p", "service": svc[i % 4]}
        if name.endswith("stop") and i % 97 == 0:
            raw["info"]["etype"] = "Boom"
        d._append_results(tid, parent, name, "p", svc[i % 4], info["host"], raw["timestamp"], raw)
json.dump(d._parse_results(), open(sys.argv[1], "w"), indent=2, separators=(",", ": "))
"""
    subprocess.run(["/usr/bin/python3", "-c", code, path, str(n_points)], check=True,
                   timeout=300)


def main():
    osprofiler, golden, template, out_dir = sys.argv[1:5]
    if not os.path.exists("/usr/bin/chromium"):
        print("SKIP: /usr/bin/chromium is not installed (apt-get install chromium)")
        return 77
    os.makedirs(out_dir, exist_ok=True)
    tmpl = open(template, encoding="utf-8").read()
    check("template: no external URL (http:, https:, //host)",
          "http:" not in tmpl and "https:" not in tmpl and 'src="//' not in tmpl
          and "url(" not in tmpl and "@import" not in tmpl)
    work = tempfile.mkdtemp(prefix="osp-html-")
    browser = None
    try:
        page = os.path.join(out_dir, "golden.html")
        r = subprocess.run([osprofiler, "trace", "show", "--html", "--out", page,
                            os.path.join(golden, "trace_report.json")],
                           capture_output=True, text=True, timeout=60)
        check("trace show --html of the golden report file", r.returncode == 0, r.stderr)
        report = json.load(open(os.path.join(golden, "trace_report.json")))
        browser = Browser(work)
        browser.load(page)
        rows = browser.js("document.querySelectorAll('.osp-row').length")
        check("the tree has a row per point", rows == 5, rows)
        err = browser.js("Array.from(document.querySelectorAll('.osp-row.osp-error'))"
                         ".map(r => r.dataset.name + ':' + r.dataset.traceId)")
        check("the error point (driver) is highlighted, and only it",
              err == ["driver:00000004-0000-4000-8000-000000000004"], err)
        summary_text = browser.js("document.getElementById('osp-summary').textContent")
        check("the summary gives total, points and errors",
              all(w in summary_text for w in ("60 ms", "points 5", "errors 1")), summary_text)
        bar = browser.js("document.querySelector('.osp-row[data-name=\"wsgi\"] .osp-bar')"
                         ".style.width")
        check("the waterfall bar of the root spans the trace", bar == "100%", bar)
        filter_to(browser, "conductor")
        vis = browser.js(VISIBLE + ".map(r => r.dataset.traceId)")
        want = expected_visible(report, "conductor")
        check("filter 'conductor': the matches and their ancestors, nothing else",
              vis == want and len(vis) == 2, (vis, want))
        filter_to(browser, "ctl-1")
        vis = browser.js(VISIBLE + ".length")
        check("filter by host", vis == len(expected_visible(report, "ctl-1")), vis)
        filter_to(browser, "")
        check("an empty filter shows all again", browser.js(VISIBLE + ".length") == 5)
        browser.js("document.querySelector('.osp-row[data-name=\"db\"] .osp-service').click()")
        det = browser.js("document.getElementById('osp-details').textContent")
        check("a click shows the point's details and raw payloads",
              "raw payload: db-start" in det and "SELECT 1" in det and "duration" in det,
              det[:300])
        browser.js("document.querySelector('.osp-row[data-name=\"rpc\"] .osp-toggle').click()")
        check("collapsing a point hides its children",
              browser.js(VISIBLE + ".length") == 4)
        shot = browser.call("Page.captureScreenshot", format="png")
        png = os.path.join(out_dir, "golden.png")
        with open(png, "wb") as f:
            import base64
            f.write(base64.b64decode(shot["data"]))
        print("screenshot: " + png)
        check("screenshot written", os.path.getsize(png) > 10000)

        # Hostile payload text: shown as text, never parsed as markup.
        evil = "</script><script>window.__pwned=1</script><!--<img src=x onerror=window.__pwned=2>"
        bad = json.loads(json.dumps(report))
        db = bad["children"][0]["children"][0]
        db["info"]["name"] = "db" + evil
        db["info"]["host"] = evil
        db["info"]["meta.raw_payload.db-start"]["info"]["db"]["statement"] = evil
        bad_json, bad_html = os.path.join(work, "evil.json"), os.path.join(out_dir, "evil.html")
        with open(bad_json, "w") as f:
            json.dump(bad, f, indent=2)
        r = subprocess.run([osprofiler, "trace", "show", "--html", "--out", bad_html, bad_json],
                           capture_output=True, text=True, timeout=60)
        html = open(bad_html, encoding="utf-8").read()
        check("hostile report: every '<' of the JSON escaped (no extra </script>)",
              r.returncode == 0 and html.count("</script>") == tmpl.count("</script>")
              and html.count("<!--") == tmpl.count("<!--"), r.stderr)
        browser.load(bad_html)
        got = browser.js("[String(window.__pwned), document.images.length, "
                         "document.scripts.length, document.querySelector("
                         "'.osp-row[data-index=\"1\"]').dataset.name, document.querySelector("
                         "'.osp-row[data-index=\"1\"] .osp-host').textContent]")
        check("hostile report: nothing ran, no element injected, names shown as text",
              got == ["undefined", 0, 2, "db" + evil, evil], got)

        # A store Python wrote (its sqlalchemy driver's table; json.dumps
        # writes NaN and Infinity) used to blank the page: JSON.parse refused
        # the report. NaN and infinities are null (docs/design.md).
        py_db = os.path.join(work, "python.db")
        pts = [json.loads(ln) for ln in open(os.path.join(golden, "trace_points.jsonl"))
               if ln.strip()]
        for p in pts:
            if p["name"] == "db-start":
                p["info"]["db"]["params"] = {"ratio": float("nan"), "hi": float("inf")}
        with sqlite3.connect(py_db) as c:
            c.execute("CREATE TABLE data (id INTEGER PRIMARY KEY, timestamp VARCHAR(26), "
                      "base_id VARCHAR(255), parent_id VARCHAR(255), trace_id VARCHAR(255), "
                      "project VARCHAR(255), host VARCHAR(255), service VARCHAR(255), "
                      "name VARCHAR(255), data JSON)")
            c.executemany("INSERT INTO data (timestamp, base_id, parent_id, trace_id, project, "
                          "host, service, name, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                          [(p["timestamp"], p["base_id"], p["parent_id"], p["trace_id"],
                            p.get("project"), p["info"].get("host"), p.get("service"),
                            p["name"], json.dumps(p)) for p in pts])
        nan_html = os.path.join(out_dir, "nan.html")
        r = subprocess.run([osprofiler, "trace", "show", "--html", "--out", nan_html,
                            "--connection-string", "sqlite:///" + py_db, pts[0]["base_id"]],
                           capture_output=True, text=True, timeout=60)
        check("a store holding Python's NaN: trace show --html", r.returncode == 0, r.stderr)
        browser.load(nan_html)
        rows = browser.js("document.querySelectorAll('.osp-row').length")
        check("a store holding Python's NaN: the tree renders (not a blank page)", rows == 5,
              rows)
        browser.js("document.querySelector('.osp-row[data-name=\"db\"] .osp-service').click()")
        det = browser.js("document.getElementById('osp-details').textContent")
        check("a store holding Python's NaN: shown as null",
              "ratio" in det and "null" in det and "NaN" not in det, det[:400])

        # 10k points
        big_json = os.path.join(work, "big.json")
        big_report(big_json, 10000)
        big = os.path.join(out_dir, "big.html")
        r = subprocess.run([osprofiler, "trace", "show", "--html", "--out", big, big_json],
                           capture_output=True, text=True, timeout=60)
        check("trace show --html of a 10k-point report", r.returncode == 0, r.stderr)
        secs = browser.load(big, timeout=120)
        n = browser.js("document.querySelectorAll('.osp-row').length")
        check("10k points: every row rendered (%.2f s to load and render)" % secs,
              n == 5000 and secs < 30, (n, secs))
        ms = browser.js("(() => { const f = document.getElementById('osp-filter');"
                        "f.value = 'scheduler'; const t = performance.now();"
                        "f.dispatchEvent(new Event('input')); document.body.offsetHeight;"
                        "return performance.now() - t; })()")
        vis = browser.js(VISIBLE + ".length")
        check("10k points: filtering takes %.0f ms with layout (bound 2000 ms)" % ms,
              ms < 2000 and 0 < vis < 5000, (ms, vis))
        errs = browser.js("document.querySelectorAll('.osp-row.osp-error').length")
        check("10k points: the error points are highlighted", errs == len(range(0, 5000, 97)),
              errs)
        outside = [u for u in browser.requests()
                   if not u.startswith("file://") and not u.startswith("data:")
                   and u != "about:blank"]
        check("no request left file:// (network off and unused)", outside == [], outside)
    finally:
        if browser:
            browser.close()
        shutil.rmtree(work, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
