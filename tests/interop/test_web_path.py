# SPDX-License-Identifier: Apache-2.0
"""interop.web_path: the wsgi point's request path, C vs Python's
WsgiMiddleware (webob's request.path), for thousands of generated paths.

A request path reaches Python as a WSGI server hands it over: percent-decoded
into SCRIPT_NAME + PATH_INFO (bytes as latin-1 text); webob's request.path
decodes those as UTF-8 and quotes them again with its safe characters. The C
service passes the path as the request carried it (percent-encoded) to
osp_web_begin(). For each generated path the test runs the real middleware
on two kinds of requests:

  environ  SCRIPT_NAME and PATH_INFO built as a WSGI server does (eventlet
           and wsgiref: urllib.parse.unquote(path, "latin1"), where "%" and
           two hex digits make a byte and any other "%" stays), the path
           split after one of its "/" (any byte may appear, non-ASCII too);
  blank    webob.Request.blank(path) for ASCII paths without "?".
           Request.blank unquotes with webob's own helper, which takes
           int(x, 16) of the two bytes after "%": "%4", "% 4" or "%+4"
           become a byte there, never in a server. Such paths are a known
           divergence (C follows the servers), listed, and fail only with
           --strict.

and asserts that the C wsgi-start line is byte-identical to Python's (ids
and timestamps normalised), or, where webob raises UnicodeDecodeError (the
decoded path is not UTF-8: the middleware fails the request), that C
returns OSP_EBADPATH and writes nothing. Paths mix safe and unsafe ASCII,
valid and invalid %-escapes ("%zz", "%4", a final "%", "%%41"), escaped
and raw UTF-8, overlong, surrogate and out-of-range sequences and stray
bytes 0x80-0xff.
"""

import json
import os
import random
import sys
import tempfile
import urllib.parse

import webob
import webob.compat
import webob.dec

from osprofiler import _utils, web

import interop_common as ic

KEY = "SECRET_KEY"
BASE = "3c1d5c2a-5a1f-4c6e-9b3e-1f2d3c4b5a69"
COUNT = 3000

FIXED = [
    b"/v2.1/%7Eops/a%2Cb/[x]",  # docs: /v2.1/~ops/a,b/%5Bx%5D
    b"/", b"", b"//", b"/a b", b"/%20", b"/%2F%2f", b"/%25", b"/%2525", b"/%",
    b"/%4", b"/%zz", b"/%%41", b"/%%", b"/%G1", b"/%00", b"/%7e%7E~",
    b"/caf%C3%A9", b"/caf%c3%a9", "/caf\u00e9".encode(), b"/%E2%82%AC",
    b"/%F0%9F%98%80", b"/%C3", b"/%C3%28", b"/%C0%AF", b"/%ED%A0%80",
    b"/%F4%90%80%80", b"/%FF", b"/\xff", b"/\xc3\xa9%C3%A9", b"/\x80",
    b"/!$&'()*+,;=:@-._~", b"/\"<>\\^`{|}", b"/a%2Fb%3Fc%23d", b"/%3f?",
    b"/v2/images/caf%C3%A9/file", b"/\t\x7f", b"/%09%0A%0d",
]


def gen_paths(rng, n):
    """Random request paths built from pieces a client or a proxy may send."""
    ascii_pieces = [chr(c).encode() for c in range(0x21, 0x7f) if chr(c) not in "?#%"]
    pieces = ascii_pieces * 3 + [
        b"/", b"/", b"/", b" ", b"\t", b"%", b"%%", b"%4", b"%zz", b"%G0", b"%0",
        b"\x80", b"\xbf", b"\xc3", b"\xc3\xa9", b"\xe2\x82\xac", b"\xed\xa0\x80",
        b"\xf0\x9f\x98\x80", b"\xff", b"\xf5\x80\x80\x80",
    ]
    out = []
    for _ in range(n):
        path = b"/"
        for _ in range(rng.randint(0, 12)):
            r = rng.random()
            if r < 0.45:
                path += rng.choice(pieces)
            elif r < 0.75:  # an escape of any byte, either hex case
                esc = "%%%02X" % rng.randrange(1, 256)
                path += (esc.lower() if rng.random() < 0.3 else esc).encode()
            else:  # an escaped UTF-8 character, sometimes cut short
                ch = chr(rng.choice([0xe9, 0x20ac, 0x1f600, 0x7ff, 0xffff, 0x10ffff,
                                     rng.randrange(0x80, 0xd800)]))
                enc = urllib.parse.quote(ch.encode("utf-8"), safe="")
                if rng.random() < 0.1:
                    enc = enc[:-3]
                path += enc.encode()
        out.append(path)
    return out


@webob.dec.wsgify
def app(request):
    return webob.Response("ok")


def python_lines(headers, environ=None, blank=None):
    """wsgi-start payloads of the middleware for one request, or "raised"
    with the exception's type name."""
    mw = web.WsgiMiddleware(app, hmac_keys=KEY, enabled=True)
    if blank is not None:
        req = webob.Request.blank(blank, headers=headers)
    else:
        req = webob.Request.blank("/", headers=headers)
        req.environ.update(environ)
    with ic.captured_payloads() as payloads:
        try:
            req.get_response(mw)
        except Exception as e:  # what webob raises for a path it cannot decode
            return "raised " + type(e).__name__
    lines = []
    for p in payloads:
        if p["name"] == "wsgi-start":
            p["project"] = None
            p["service"] = None
            lines.append(json.dumps(p))
    return lines


def split_at_slash(rng, path):
    """A WSGI split: SCRIPT_NAME ends before one of the path's "/"."""
    cuts = [i for i in range(1, len(path)) if path[i:i + 1] == b"/"]
    return rng.choice(cuts) if cuts and rng.random() < 0.5 else 0


def main():
    args = ic.parse_args(__doc__)
    ck = ic.Checker("interop.web_path", args.verbose)
    rng = random.Random(20261128)
    info, hmac = _utils.signed_pack({"base_id": BASE, "parent_id": BASE}, KEY)
    headers = {web.X_TRACE_INFO: info.decode(), web.X_TRACE_HMAC: hmac}
    paths = FIXED + gen_paths(rng, COUNT)

    cases = []  # (label, C path bytes, python lines or "raised ...")
    lenient = []  # paths Request.blank decodes unlike a server
    for path in paths:
        cut = split_at_slash(rng, path)
        script, rest = path[:cut], path[cut:]
        environ = {
            "SCRIPT_NAME": urllib.parse.unquote_to_bytes(script).decode("latin-1"),
            "PATH_INFO": urllib.parse.unquote_to_bytes(rest).decode("latin-1"),
        }
        cases.append(("environ %r (script %r)" % (path, script), path,
                      python_lines(headers, environ=environ)))
        if all(c < 0x80 for c in path) and b"?" not in path:
            text = path.decode("ascii")
            if webob.compat.url_unquote(text) != urllib.parse.unquote(text, "latin1"):
                lenient.append(path)
                if not args.strict:
                    continue
            cases.append(("blank %r" % path, path, python_lines(headers, blank=text)))

    print("known divergence: %d paths that webob.Request.blank unquotes unlike a WSGI "
          "server (%s)%s" % (len(lenient), ", ".join(repr(p) for p in lenient[:5]),
                            "" if args.strict else "; compared as environ only"))
    raised = [c for c in cases if isinstance(c[2], str)]
    ck.ok(all(c[2] == "raised UnicodeDecodeError" for c in raised),
          "python: the middleware fails only with UnicodeDecodeError",
          {c[2] for c in raised})
    ck.ok(len(raised) > 100 and len(cases) - len(raised) > 1000,
          "the generated paths exercise both outcomes (%d traced, %d failed)"
          % (len(cases) - len(raised), len(raised)))

    with tempfile.TemporaryDirectory(prefix="osp-web-path-") as tmp:
        path_file = os.path.join(tmp, "points.jsonl")
        res = ic.run_driver(args.driver, "web-paths", {
            "file": path_file, "hmac_keys": KEY, "headers": headers,
            "requests": [{"method": "GET", "path_hex": p.hex(), "query": "",
                          "scheme": "http"} for _, p, _ in cases]})
        if not ck.eq("OSP_OK", res["setup"]["name"], "osp_setup"):
            ck.finish()
        c_lines = [x for x in ic.read_lines(path_file) if '"wsgi-start"' in x]

    wrong = []
    k = 0
    for (label, path, py), rc in zip(cases, res["results"]):
        if isinstance(py, str):
            if rc["name"] != "OSP_EBADPATH":
                wrong.append("%s: python %s, C %s" % (label, py, rc["name"]))
            continue
        if rc["name"] != "OSP_OK" or k >= len(c_lines):
            wrong.append("%s: C %s" % (label, rc["name"]))
            continue
        want = ic.normalise_timestamps(ic.normalise_ids(py)[0])
        got = ic.normalise_timestamps(ic.normalise_ids([c_lines[k]])[0])
        k += 1
        if want != got:
            wrong.append("%s:\n  python %s\n  c      %s" % (label, want[0], got[0]))
    ck.ok(not wrong, "C wsgi-start == Python's for all %d requests (or both refuse it)"
          % len(cases), "\n".join(wrong[:20]) + ("\n... %d in all" % len(wrong)
                                                   if len(wrong) > 20 else ""))
    ck.eq(len(c_lines), k, "C wrote one wsgi-start per traced request, nothing else")
    ck.eq(len(cases) - len(raised), res["stats"]["web_traced"],
          "C counted every traced request")
    ck.finish()


if __name__ == "__main__":
    sys.exit(main())
