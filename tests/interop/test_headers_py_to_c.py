# SPDX-License-Identifier: Apache-2.0
"""interop.headers_py_to_c: headers made by Python osprofiler
(profiler.init + start + web.get_trace_id_headers) are accepted by the C
server side (osp_setup with a file:// notifier, then osp_web_begin).

Accepted headers, for ASCII and UTF-8 keys, assert:
  * osp_web_begin returns OSP_OK and the C profiler has the Python base id,
    parent_id = Python's current point (get_id()) and the matching key;
  * the jsonl file holds exactly wsgi-start and wsgi-stop with those ids and
    the request info, and the wsgi-start line is byte-identical (ids and
    timestamps normalised) to what Python's WsgiMiddleware emits for the same
    headers and request;
  * the C service's own outgoing headers pass Python's signed_unpack and name
    the C wsgi point as parent.

Rejected headers assert the specific C reason code, that nothing is written
to the jsonl file, that the per-reason counter moved, and that Python's
WsgiMiddleware rejects the same request too (no payloads):
  tampered X-Trace-Info -> OSP_ENOKEYMATCH, upper-case HMAC -> OSP_EBADSIG,
  wrong key -> OSP_ENOKEYMATCH, extra key in the signed data -> OSP_EBADKEYS,
  and more (missing base_id, not an object, no headers, disabled).
"""

import base64
import json
import os
import socket
import sys
import tempfile

import webob
import webob.dec

from osprofiler import _utils, profiler, web

import interop_common as ic

KEYS = ["SECRET_KEY", "p\u00e4ss w\u00f6rd"]
REQUEST = {"method": "POST", "path": "/v2.1/servers/detail", "query": "limit=5&marker=x",
           "scheme": "https"}


def python_headers(key, points, base_id=None):
    """Headers a Python service sends from inside the given (nested) points;
    returns (headers as text, base id, current point id)."""
    p = profiler.init(key, base_id=base_id)
    try:
        for name in points:
            profiler.start(name, {"from": "python"})
        h = web.get_trace_id_headers()
        ids = (p.get_base_id(), p.get_id())
    finally:
        profiler.clean()
    # osprofiler 3.4.3 returns X-Trace-Info as bytes (the base64 output).
    if not isinstance(h[web.X_TRACE_INFO], bytes):
        raise AssertionError("expected bytes X-Trace-Info from 3.4.3, got %r" % (h,))
    return ({web.X_TRACE_INFO: h[web.X_TRACE_INFO].decode("ascii"),
             web.X_TRACE_HMAC: h[web.X_TRACE_HMAC]},) + ids


@webob.dec.wsgify
def app(request):
    return webob.Response("ok")


def python_middleware(headers, hmac_keys, enabled=True):
    """Payloads Python's WsgiMiddleware emits for REQUEST carrying headers; the
    notifier appends project/service as the messaging driver would (here the
    C side sets neither, so both are null)."""
    mw = web.WsgiMiddleware(app, hmac_keys=hmac_keys, enabled=enabled)
    url = "%s?%s" % (REQUEST["path"], REQUEST["query"])
    req = webob.Request.blank(url, base_url="https://api.example:8774",
                              method=REQUEST["method"],
                              headers={k: v for k, v in headers.items() if v is not None})
    with ic.captured_payloads() as payloads:
        req.get_response(mw)
    lines = []
    for p in payloads:
        p["project"] = None
        p["service"] = None
        lines.append(json.dumps(p))
    return lines


class CServer:
    """Runs the driver's web-begin in a fresh temp dir and reads its jsonl."""

    def __init__(self, driver, tmp):
        self.driver = driver
        self.tmp = tmp
        self.n = 0

    def begin(self, headers, hmac_keys, enabled=True):
        self.n += 1
        path = os.path.join(self.tmp, "points-%d.jsonl" % self.n)
        res = ic.run_driver(self.driver, "web-begin", {
            "enabled": enabled, "hmac_keys": hmac_keys, "file": path,
            "headers": headers, "request": REQUEST})
        if res["setup"]["name"] != "OSP_OK":
            raise AssertionError("osp_setup failed: %r" % res)
        lines = ic.read_lines(path) if os.path.exists(path) else []  # disabled: no file
        return res, lines


def check_accepted(ck, srv, key, points, hmac_keys, label, headers=None, expect=None,
                   base_id=None):
    tag = "[key %r, %s]" % (key, label)
    if headers is None:
        headers, py_base, py_id = python_headers(key, points, base_id)
    else:
        py_base, py_id = expect
    res, lines = srv.begin(headers, hmac_keys)
    if not ck.eq("OSP_OK", res["rc"]["name"], "%s osp_web_begin rc" % tag):
        return
    ids = res["ids"]
    ck.eq({"base_id": py_base, "parent_id": py_id, "hmac_key": key, "depth": 1},
          {k: ids[k] for k in ("base_id", "parent_id", "hmac_key", "depth")},
          "%s C profiler after osp_web_begin (base, parent = Python get_id(), key)" % tag)
    ck.eq(False, res["profiler_after_end"], "%s osp_web_end cleaned the profiler" % tag)
    ck.eq(1, res["stats"]["web_traced"], "%s web_traced counter" % tag)

    if not ck.ok(len(lines or []) == 2, "%s jsonl holds two points" % tag, lines):
        return
    start, stop = (json.loads(line) for line in lines)
    ck.eq(["wsgi-start", "wsgi-stop"], [start["name"], stop["name"]], "%s point names" % tag)
    ck.eq(py_base, start["base_id"], "%s wsgi-start base_id == Python base id" % tag)
    ck.eq(py_id, start["parent_id"], "%s wsgi-start parent_id == Python get_id()" % tag)
    ck.eq(ids["id"], start["trace_id"], "%s wsgi-start trace_id is the C current point" % tag)
    ck.eq((start["trace_id"], start["parent_id"], start["base_id"]),
          (stop["trace_id"], stop["parent_id"], stop["base_id"]), "%s wsgi-stop ids" % tag)
    ck.eq({"request": REQUEST_INFO, "host": socket.gethostname()}, start["info"],
          "%s wsgi-start info" % tag)
    ck.eq({"host": socket.gethostname()}, stop["info"], "%s wsgi-stop info" % tag)

    # Byte-identical to the Python middleware's payloads for the same request.
    py_lines = python_middleware(headers, hmac_keys)
    ck.lines_eq(ic.normalise_timestamps(ic.normalise_ids(py_lines)[0]),
                ic.normalise_timestamps(ic.normalise_ids(lines)[0]),
                "%s C wsgi payloads == Python WsgiMiddleware payloads (ids, timestamps "
                "normalised)" % tag)

    # The C service's outgoing headers continue the trace under the same key.
    out = res["outgoing"]
    ck.eq("OSP_OK", out["rc"]["name"], "%s osp_web_headers inside the request" % tag)
    ck.eq({"base_id": py_base, "parent_id": start["trace_id"], "hmac_key": key},
          _utils.signed_unpack(out["info"], out["hmac"], [key]),
          "%s Python signed_unpack of the C outgoing headers" % tag)


# What REQUEST becomes in the wsgi-start info (Python's key order).
REQUEST_INFO = {"path": REQUEST["path"], "query": REQUEST["query"],
                "method": REQUEST["method"], "scheme": REQUEST["scheme"]}


def check_rejected(ck, srv, label, headers, hmac_keys, want, enabled=True):
    tag = "[%s]" % label
    res, lines = srv.begin(headers, hmac_keys, enabled)
    ck.eq(want, res["rc"]["name"], "%s C reason code" % tag)
    ck.eq([], lines, "%s nothing written to the jsonl file" % tag)
    ck.eq(None, res["ids"], "%s no profiler in the C thread" % tag)
    stats = res["stats"]
    ck.eq((0, 1), (stats["web_traced"], stats["web_rejected"].get(want)),
          "%s counters (web_traced, web_rejected[%s])" % (tag, want))
    ck.eq([], python_middleware(headers, hmac_keys, enabled),
          "%s Python WsgiMiddleware rejects it too" % tag)


def b64(obj):
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode("ascii")


def negative_cases(ck, srv, key):
    good, base, cur = python_headers(key, ["wsgi"])
    info, hmac = good[web.X_TRACE_INFO], good[web.X_TRACE_HMAC]
    keys = "foo, " + key
    k = "key %r" % key

    # Tampered: another base_id inside, the original signature.
    tampered = b64({"base_id": "00000000-0000-4000-8000-000000000666", "parent_id": cur})
    check_rejected(ck, srv, "%s, tampered X-Trace-Info" % k,
                   {web.X_TRACE_INFO: tampered, web.X_TRACE_HMAC: hmac}, keys,
                   "OSP_ENOKEYMATCH")
    # Tampered: one base64 character changed.
    flipped = info[:10] + ("A" if info[10] != "A" else "B") + info[11:]
    check_rejected(ck, srv, "%s, one X-Trace-Info character changed" % k,
                   {web.X_TRACE_INFO: flipped, web.X_TRACE_HMAC: hmac}, keys,
                   "OSP_ENOKEYMATCH")
    check_rejected(ck, srv, "%s, upper-case X-Trace-HMAC" % k,
                   {web.X_TRACE_INFO: info, web.X_TRACE_HMAC: hmac.upper()}, keys,
                   "OSP_EBADSIG")
    check_rejected(ck, srv, "%s, wrong key" % k,
                   {web.X_TRACE_INFO: info, web.X_TRACE_HMAC: hmac}, "foo, bar",
                   "OSP_ENOKEYMATCH")
    extra_info, extra_hmac = _utils.signed_pack({"base_id": base, "foo": 1}, key)
    check_rejected(ck, srv, "%s, extra key in the signed data" % k,
                   {web.X_TRACE_INFO: extra_info.decode(), web.X_TRACE_HMAC: extra_hmac}, keys,
                   "OSP_EBADKEYS")
    nobase_info, nobase_hmac = _utils.signed_pack({"parent_id": cur}, key)
    check_rejected(ck, srv, "%s, no base_id in the signed data" % k,
                   {web.X_TRACE_INFO: nobase_info.decode(), web.X_TRACE_HMAC: nobase_hmac},
                   keys, "OSP_EBADKEYS")
    list_info, list_hmac = _utils.signed_pack([base, cur], key)
    check_rejected(ck, srv, "%s, signed JSON is a list" % k,
                   {web.X_TRACE_INFO: list_info.decode(), web.X_TRACE_HMAC: list_hmac}, keys,
                   "OSP_EUNDECODABLE")
    check_rejected(ck, srv, "%s, no headers" % k, {}, keys, "OSP_ENOHEADER")
    check_rejected(ck, srv, "%s, profiling disabled" % k,
                   {web.X_TRACE_INFO: info, web.X_TRACE_HMAC: hmac}, keys, "OSP_EDISABLED",
                   enabled=False)


def main():
    args = ic.parse_args(__doc__)
    ck = ic.Checker("interop.headers_py_to_c", args.verbose)
    with tempfile.TemporaryDirectory(prefix="osp-interop-") as tmp:
        srv = CServer(args.driver, tmp)
        for key in KEYS:
            check_accepted(ck, srv, key, ["wsgi"], "foo, " + key, "one Python point")
            check_accepted(ck, srv, key, ["wsgi", "rpc", "db"], key + ",foo",
                           "nested Python points, key listed first")
            check_accepted(ck, srv, key, ["wsgi"], "foo, " + key, "non-ASCII Python base id",
                           base_id="b\u00e4se \u2603")
            # Only base_id signed (parent_id is optional): parent = base.
            base = "a6e5c0de-0000-4000-8000-00000000beef"
            i, h = _utils.signed_pack({"base_id": base}, key)
            check_accepted(ck, srv, key, [], "foo, " + key, "only base_id signed",
                           headers={web.X_TRACE_INFO: i.decode(), web.X_TRACE_HMAC: h},
                           expect=(base, base))
            negative_cases(ck, srv, key)
    ck.finish()


if __name__ == "__main__":
    sys.exit(main())
