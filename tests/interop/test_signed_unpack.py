# SPDX-License-Identifier: Apache-2.0
"""interop.signed_unpack: differential test of C osp_signed_unpack() against
Python osprofiler._utils.signed_unpack() on the same (info, hmac, keys).

For every case: C returns OSP_OK with an object equal to Python's dict, or C
rejects (with the reason code expected for that case) and Python returns
None. Cases cover key order, UTF-8 keys, the client's own "hmac_key" being
overwritten, HMAC whitespace / case / length, base64 leniency of
urlsafe_b64decode (standard alphabet, discarded junk, missing or extra
padding) and JSON shapes.

A few inputs are known, reported divergences (JSON values jansson cannot
represent); they are printed as KNOWN DIVERGENCE and do not fail the test
unless --strict is given.
"""

import base64
import json
import sys

from osprofiler import _utils

import interop_common as ic

KEY = "SECRET_KEY"
UKEY = "p\u00e4ss w\u00f6rd"


def sign_text(info_text, key=KEY):
    """HMAC of arbitrary header text, as a client would send it."""
    return _utils.generate_hmac(info_text, key)


def b64(raw_json):
    return base64.urlsafe_b64encode(raw_json.encode("utf-8")).decode("ascii")


def case(label, info, hmac=None, keys=(KEY,), reason=None, known=None):
    """hmac None: sign info with the first key of `keys` that is not 'wrong'."""
    if hmac is None:
        signer = next(k for k in keys if k != "wrong")
        hmac = sign_text(info, signer)
    return {"label": label, "info": info, "hmac": hmac, "keys": list(keys),
            "reason": reason, "known": known}


def std_alphabet_info():
    """A payload whose urlsafe base64 contains '-' and '_'; returned in the
    standard alphabet ('+', '/'), which urlsafe_b64decode also accepts."""
    for n in range(200):
        text = json.dumps({"base_id": "x" * (n % 3) + "???>>>" * (n // 3 + 1)})
        enc = b64(text)
        if "-" in enc and "_" in enc:
            return enc.replace("-", "+").replace("_", "/")
    raise AssertionError("no suitable payload found")


def cases():
    good = b64(json.dumps({"base_id": "b", "parent_id": "p"}))
    good_hmac = sign_text(good)
    unpadded = b64(json.dumps({"base_id": "ab"}))  # length % 3 != 0: has '='
    assert unpadded.endswith("=")
    return [
        case("valid", good),
        case("valid, matching key second", good, keys=("wrong", KEY)),
        case("valid, UTF-8 key", good, keys=("wrong", UKEY)),
        case("valid, three keys, last matches", good, keys=("a", "b", KEY)),
        case("hmac with surrounding whitespace", good, hmac=" \t%s \n" % good_hmac),
        case("client-supplied hmac_key is overwritten",
             b64(json.dumps({"base_id": "b", "hmac_key": "client"}))),
        case("non-ASCII and nested values",
             b64(json.dumps({"base_id": "b\u00e4se \u2603 \U0001f600", "x": [1, 2.5, None,
                                                                            {"y": True}]}))),
        case("duplicate keys (last wins)", b64('{"base_id": "first", "base_id": "last"}')),
        case("no whitespace JSON", b64('{"base_id":"b","parent_id":"p"}')),
        case("whitespace around JSON", b64(' \n{"base_id": "b"}\t ')),
        case("standard base64 alphabet (+ and /)", std_alphabet_info()),
        case("junk characters inside base64", good[:8] + "!*\n " + good[8:]),
        case("missing padding", unpadded.rstrip("="), reason="OSP_EUNDECODABLE"),
        case("extra data after padding", unpadded + "QUJD"),
        case("extra padding", unpadded + "=="),
        case("empty JSON object", b64("{}")),
        case("JSON list", b64("[1, 2]"), reason="OSP_EUNDECODABLE"),
        case("JSON string", b64('"s"'), reason="OSP_EUNDECODABLE"),
        case("JSON null", b64("null"), reason="OSP_EUNDECODABLE"),
        case("not JSON", b64("{base_id: b}"), reason="OSP_EUNDECODABLE"),
        case("trailing garbage after JSON", b64('{"base_id": "b"} x'),
             reason="OSP_EUNDECODABLE"),
        case("invalid UTF-8 in JSON",
             base64.urlsafe_b64encode(b'{"base_id": "\xff"}').decode(),
             reason="OSP_EUNDECODABLE"),
        case("wrong key", good, keys=("wrong", "other"), reason="OSP_ENOKEYMATCH"),
        case("no keys", good, hmac=good_hmac, keys=(), reason="OSP_ENOKEYS"),
        case("upper-case hmac", good, hmac=good_hmac.upper(), reason="OSP_EBADSIG"),
        case("hmac 39 digits", good, hmac=good_hmac[:39], reason="OSP_EBADSIG"),
        case("hmac 41 digits", good, hmac=good_hmac + "0", reason="OSP_EBADSIG"),
        case("empty hmac", good, hmac="", reason="OSP_ENOHEADER"),
        case("blank hmac", good, hmac="   ", reason="OSP_ENOHEADER"),
        case("hmac of other text", good, hmac=sign_text(good + "x"), reason="OSP_ENOKEYMATCH"),
        # Known: JSON values Python accepts that jansson cannot represent.
        case("NaN in JSON", b64('{"base_id": NaN}'), reason="OSP_EUNDECODABLE",
             known="jansson has no NaN; Python json.loads accepts it"),
        case("Infinity in JSON", b64('{"base_id": "b", "x": -Infinity}'),
             reason="OSP_EUNDECODABLE", known="jansson has no Infinity"),
        case("lone surrogate escape", b64('{"base_id": "\\ud800"}'), reason="OSP_EUNDECODABLE",
             known="jansson rejects lone surrogates; Python keeps them"),
        case("NUL escape in a string", b64('{"base_id": "a\\u0000b"}'),
             reason="OSP_EUNDECODABLE", known="parsed without JSON_ALLOW_NUL"),
        case("number beyond double range", b64('{"base_id": "b", "x": 1e400}'),
             reason="OSP_EUNDECODABLE", known="Python gives inf; jansson: overflow"),
    ]


def main():
    args = ic.parse_args(__doc__)
    strict = args.strict
    ck = ic.Checker("interop.signed_unpack", args.verbose)
    all_cases = cases()
    res = ic.run_driver(args.driver, "unpack", {"cases": [
        {"info": c["info"], "hmac": c["hmac"], "keys": c["keys"]} for c in all_cases]})
    known = []
    for c, r in zip(all_cases, res["results"]):
        py = _utils.signed_unpack(c["info"], c["hmac"], c["keys"])
        c_obj = r["result"] if r["rc"]["name"] == "OSP_OK" else None
        want_rc = "OSP_OK" if py is not None else c["reason"]
        if c["known"] and not strict:
            if c_obj != py:
                known.append("KNOWN DIVERGENCE [%s]: Python %r, C %s (%s)"
                             % (c["label"], py, r["rc"]["name"], c["known"]))
            continue
        ck.eq(py, c_obj, "[%s] C object == Python signed_unpack result" % c["label"])
        if want_rc:
            ck.eq(want_rc, r["rc"]["name"], "[%s] C return code" % c["label"])
        else:
            ck.ok(r["rc"]["name"] != "OSP_OK", "[%s] C rejects it as Python does"
                  % c["label"], r)
    ck.eq(len(all_cases), len(res["results"]), "one C result per case")
    for line in known:
        print(line)
    ck.finish()


if __name__ == "__main__":
    sys.exit(main())
