# SPDX-License-Identifier: Apache-2.0
"""interop.headers_c_to_py: X-Trace-Info / X-Trace-HMAC made by the C library
(osp_init + osp_start + osp_web_headers) are accepted by Python osprofiler.

For each key (ASCII and UTF-8) and each profiler shape, asserts:
  * the C headers are byte-identical to Python's _utils.signed_pack of
    {"base_id", "parent_id": <current point>} under the same key;
  * _utils.signed_unpack(info, hmac, ["wrong", key]) returns exactly
    {"base_id", "parent_id", "hmac_key": key};
  * webob + osprofiler.web.WsgiMiddleware(hmac_keys="foo, <key>", enabled=True)
    traces the request: the app runs with a profiler holding that key, and the
    wsgi-start payload has base_id = C base id, parent_id = C current point id;
  * the same middleware with other keys traces nothing;
  * without a key, C returns OSP_ENOTRACE and no headers, as Python's
    get_trace_id_headers() returns {}.
"""

import json
import sys

import webob
import webob.dec

from osprofiler import _utils, profiler, web

import interop_common as ic

KEYS = ["SECRET_KEY", "p\u00e4ss w\u00f6rd", "swordfish", "\u5bc6\u94a5-\U0001f511"]
BASE = "3c1d5c2a-5a1f-4c6e-9b3e-1f2d3c4b5a69"
PARENT = "7e0b9c1a-2f4d-4e8b-a6c3-5d9f1e2b3c4d"

# (label, base_id, parent_id, points started in C before taking the headers)
SHAPES = [
    ("one open point", BASE, None, ["wsgi"]),
    ("nested points", BASE, None, ["wsgi", "db", "rpc"]),
    ("no point, explicit parent", BASE, PARENT, []),
    ("no point, random base", None, None, []),
    ("non-uuid base", "b", None, ["wsgi"]),
    ("non-ASCII base", "b\u00e4se \u2603", None, ["wsgi"]),
]


@webob.dec.wsgify
def app(request):
    """Downstream app: reports what profiler state the middleware gave it."""
    p = profiler.get()
    seen = None
    if p is not None:
        seen = {"hmac_key": p.hmac_key, "base_id": p.get_base_id(), "id": p.get_id()}
    return webob.Response(json=seen)


def through_middleware(info, hmac, hmac_keys):
    """Send a request carrying the headers through WsgiMiddleware; return
    (status, what the app saw, payloads emitted)."""
    mw = web.WsgiMiddleware(app, hmac_keys=hmac_keys, enabled=True)
    req = webob.Request.blank("/v2.1/servers/detail?limit=5&marker=x",
                              base_url="https://api.example:8774", method="POST",
                              headers={web.X_TRACE_INFO: info, web.X_TRACE_HMAC: hmac})
    with ic.captured_payloads() as payloads:
        resp = req.get_response(mw)
    if profiler.get() is not None:
        raise AssertionError("middleware left a profiler behind")
    return resp.status_int, resp.json, payloads


def check_case(ck, driver, key, label, base, parent, points):
    tag = "[key %r, %s]" % (key, label)
    res = ic.run_driver(driver, "headers",
                        {"key": key, "base_id": base, "parent_id": parent, "points": points})
    for i, st in enumerate(res["starts"]):
        ck.eq("OSP_OK", st["name"], "%s osp_start #%d" % (tag, i))
    ids = res["ids"]
    ck.eq(len(points), ids["depth"], "%s C profiler depth" % tag)
    if base is not None:
        ck.eq(base, ids["base_id"], "%s C base id" % tag)
    else:
        ck.ok(ic.UUID4_RE.match(ids["base_id"] or ""), "%s C random base id is a UUID4" % tag,
              ids["base_id"])
    if not points:
        ck.eq(parent or ids["base_id"], ids["id"], "%s C current id without points" % tag)
    hdr = res["headers"]
    if not ck.eq("OSP_OK", hdr["rc"]["name"], "%s osp_web_headers rc" % tag):
        return

    # 1. Byte-identical to Python's signed_pack of the same data.
    data = {"base_id": ids["base_id"], "parent_id": ids["id"]}
    py_info, py_hmac = _utils.signed_pack(data, key)
    ck.eq(py_info.decode("ascii"), hdr["info"], "%s X-Trace-Info equals Python signed_pack" % tag)
    ck.eq(py_hmac, hdr["hmac"], "%s X-Trace-HMAC equals Python signed_pack" % tag)

    # 2. signed_unpack accepts them (the matching key is not the first one).
    unpacked = _utils.signed_unpack(hdr["info"], hdr["hmac"], ["wrong", key])
    ck.eq({"base_id": ids["base_id"], "parent_id": ids["id"], "hmac_key": key}, unpacked,
          "%s Python signed_unpack of the C headers" % tag)
    # The raw JSON inside keeps Python's key order and separators.
    import base64
    raw = base64.urlsafe_b64decode(hdr["info"]).decode("utf-8")
    ck.eq(json.dumps(data), raw, "%s JSON text inside X-Trace-Info" % tag)

    # 3. WsgiMiddleware traces the request as a child of the C point.
    status, seen, payloads = through_middleware(hdr["info"], hdr["hmac"], "foo, " + key)
    ck.eq(200, status, "%s middleware response status" % tag)
    ck.eq({"hmac_key": key, "base_id": ids["base_id"]},
          {k: (seen or {}).get(k) for k in ("hmac_key", "base_id")},
          "%s app ran inside a profiler initialised from the C headers" % tag)
    names = [p["name"] for p in payloads]
    if ck.eq(["wsgi-start", "wsgi-stop"], names, "%s middleware payload names" % tag):
        start = payloads[0]
        ck.eq(ids["base_id"], start["base_id"], "%s wsgi-start base_id == C base id" % tag)
        ck.eq(ids["id"], start["parent_id"], "%s wsgi-start parent_id == C current point id" % tag)
        ck.eq(seen.get("id"), start["trace_id"], "%s app's current id is the wsgi point" % tag)
        ck.eq({"path": "/v2.1/servers/detail", "query": "limit=5&marker=x", "method": "POST",
               "scheme": "https"}, start["info"].get("request"),
              "%s wsgi-start request info" % tag)
        ck.eq(start["trace_id"], payloads[1]["trace_id"], "%s wsgi-stop matches start" % tag)

    # 4. Keys that do not include the signing key: passed through untraced.
    status, seen, payloads = through_middleware(hdr["info"], hdr["hmac"], "foo, bar")
    ck.eq((200, None, []), (status, seen, payloads),
          "%s middleware with other keys traces nothing" % tag)


def check_no_key(ck, driver):
    for key in (None, ""):
        res = ic.run_driver(driver, "headers", {"key": key, "base_id": BASE, "points": ["wsgi"]})
        hdr = res["headers"]
        ck.eq(("OSP_ENOTRACE", None, None), (hdr["rc"]["name"], hdr["info"], hdr["hmac"]),
              "[key %r] C osp_web_headers without a key" % key)
        profiler.init(key, base_id=BASE)
        profiler.start("wsgi")
        try:
            ck.eq({}, web.get_trace_id_headers(),
                  "[key %r] Python get_trace_id_headers agrees (returns {})" % key)
        finally:
            profiler.clean()


def main():
    args = ic.parse_args(__doc__)
    ck = ic.Checker("interop.headers_c_to_py", args.verbose)
    for key in KEYS:
        for label, base, parent, points in SHAPES:
            check_case(ck, args.driver, key, label, base, parent, points)
    check_no_key(ck, args.driver)
    ck.finish()


if __name__ == "__main__":
    sys.exit(main())
