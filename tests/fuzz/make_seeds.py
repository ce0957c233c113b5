#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Seed corpora for the binary formats, written from their documentation
(docs/wire.md "Point records" and "Rings", src/sidecar/entry.h, spool.c),
independently of the C code that reads them:

  make_seeds.py tests/fuzz/corpus     # writes record/, ring/ and spool/ seed-*

Seeds are committed; run this again only when a format changes.
"""
import os
import struct
import sys
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
import spool_v3  # noqa: E402

STOP, BASE_UUID, PARENT_UUID, PROJECT_NULL, SERVICE_NULL = 1, 2, 4, 8, 16


def lstr(b):
    return struct.pack("<H", len(b)) + b


def record(name=b"db", stop=False, base=None, parent=None, project=b"nova",
           service=b"nova-api", info=b'{"host": "h"}', ts=1764000000123456):
    flags = STOP if stop else 0
    body = b""
    if isinstance(base, uuid.UUID):
        flags |= BASE_UUID
        body += base.bytes
    else:
        body += lstr(base or b"base")
    if isinstance(parent, uuid.UUID):
        flags |= PARENT_UUID
        body += parent.bytes
    else:
        body += lstr(parent or b"parent")
    if project is None:
        flags |= PROJECT_NULL
    else:
        body += lstr(project)
    if service is None:
        flags |= SERVICE_NULL
    else:
        body += lstr(service)
    trace = uuid.UUID("6c2f1a3e-0d4b-4b7e-9c55-3f1d2e4a5b6c").bytes
    return (struct.pack("<BBHIq", 1, flags, len(name), len(info), ts) + trace + body +
            name + info)


def records():
    u1, u2 = uuid.UUID(int=1 << 70 | 5), uuid.uuid4()
    return {
        "start": record(),
        "stop-uuids": record(stop=True, base=u1, parent=u2),
        "nulls": record(project=None, service=None, info=b"{}"),
        "unicode": record(name="w\n\u00e9\U0001f600".encode(), base="B\u00e9".encode()),
        "nested-info": record(info=b'{"db": {"statement": "SELECT 1", "params": {}}, '
                                   b'"f": [1.5, NaN, -Infinity, "\\ud83d\\ude00"], '
                                   b'"host": "h"}'),
        "bad-info": record(info=b'{"a": }'),
        "short": record()[:20],
    }


def ring(recs, tail=0):
    """tail, then a 4 KiB data area holding recs from offset tail (lap 1)."""
    size = 4096
    data = bytearray(size)
    pos = tail
    for r in recs:
        need = 8 + ((len(r) + 7) & ~7)
        if (pos % size) + need > size:  # wrap: a skip word, then offset 0
            struct.pack_into("<Q", data, pos % size, 1 << 32 | 0xffffffff)
            pos += size - pos % size
        lap = pos // size + 1
        struct.pack_into("<Q", data, pos % size, lap << 32 | len(r))
        data[pos % size + 8:pos % size + 8 + len(r)] = r
        pos += need
    return struct.pack("<Q", tail) + bytes(data)


crc32c = spool_v3.crc32c


def entry(kind, body, publisher=b"host-1"):
    return spool_v3.entry(kind, body, publisher)


def block(entries):
    data = b"".join(entries)
    return struct.pack("<II", len(data), crc32c(data)) + data


def segment(blocks):
    return b"OSPS\x02\x00\x00\x00" + b"".join(blocks)


SALT = struct.pack("=Q", 0x0123456789abcdef)


def segment3(entries, salt=SALT):
    """Version 3 (src/sidecar/spool_format.h)."""
    return spool_v3.segment(entries, salt)[0]


def flip(data, at):
    return data[:at] + bytes([data[at] ^ 0x20]) + data[at + 1:]


def hop_ext(flags, records, publisher=b"host-1"):
    """A fuzz_hop input for a frame whose records come in a memfd
    (docs/wire.md, "Large points"): the header-only frame, then the bytes
    the memfd holds."""
    return (b"OSPH" + bytes([1, flags]) + struct.pack("<H", len(publisher)) + publisher +
            records)


def main():
    out = sys.argv[1]
    recs = records()
    json_point = (b'{"name": "x-start", "base_id": "b", "trace_id": "t", "parent_id": "p", '
                  b'"timestamp": "2024-01-01T00:00:00.000000", "info": {"host": "h"}, '
                  b'"project": null, "service": "svc"}')
    seeds = {
        "hop": {
            "ext-binary": hop_ext(0x06, b"".join(struct.pack("<I", len(r)) + r for r in
                                                 (recs["start"], recs["nested-info"]))),
            "ext-json": hop_ext(0x04, json_point + b"\n" + json_point + b"\n"),
            "ext-cut": hop_ext(0x06, struct.pack("<I", 500) + recs["start"]),
            "ext-empty": hop_ext(0x04, b""),
            "ext-with-inline": b"OSPH\x01\x04\x01\x00h" + json_point + b"\n",
        },
        "record": recs,
        "ring": {
            "two": ring([recs["start"], recs["stop-uuids"]]),
            "wrap": ring([recs["nested-info"]] * 15, tail=4096 - 16),
            "bad-len": struct.pack("<Q", 0) + struct.pack("<Q", 1 << 32 | 5000) + bytes(4088),
        },
        "spool": {
            "two-blocks": segment([block([entry(1, recs["start"]), entry(2, json_point)]),
                                   block([entry(1, recs["unicode"])])]),
            "torn": segment([block([entry(1, recs["start"])])])[:-7],
            "bad-crc": segment([block([entry(1, recs["nulls"])])])[:-1] + b"\x00",
            "invalid-record": segment([block([entry(1, recs["bad-info"]),
                                              entry(1, recs["short"])])]),
            "v3-three": segment3([entry(1, recs["start"]), entry(2, json_point),
                                  entry(1, recs["unicode"])]),
            "v3-flipped": flip(segment3([entry(1, recs["start"]), entry(1, recs["nulls"]),
                                         entry(2, json_point)]), 24 + 30),
            "v3-torn": segment3([entry(1, recs["start"]), entry(1, recs["stop-uuids"])])[:-9],
            "v3-gap": (lambda seg: seg[:24] + b"garbage" + seg[24:])(
                segment3([entry(1, recs["start"]), entry(1, recs["nested-info"])])),
            "v3-invalid": segment3([entry(1, recs["bad-info"]), entry(1, recs["short"]),
                                    entry(7, b"??")]),
        },
    }
    for target, files in seeds.items():
        d = os.path.join(out, target)
        os.makedirs(d, exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
