# SPDX-License-Identifier: Apache-2.0
"""spool_v3 - spool segments of format version 3 written from the format's
description (docs/design.md "Disk spool", src/sidecar/spool_format.h), for
the fuzz seeds and the damage tests: independent of the C writer."""
import struct

ARRIVAL = 1764000000123456


def crc32c(data):
    crc = 0xffffffff
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82f63b78 if crc & 1 else crc >> 1
    return crc ^ 0xffffffff


def entry(kind, body, publisher, arrival=ARRIVAL):
    """One spooled entry: its header, the publisher, the body."""
    return struct.pack("=IBBHq", 16 + len(publisher) + len(body), kind, len(publisher), 0,
                       arrival) + publisher + body


def segment(entries, salt):
    """A salted segment header, then one numbered, checksummed record per
    entry. Returns the bytes and each record's offset."""
    out = b"OSPS\x03\x00\x00\x00" + salt + salt
    starts = []
    for seq, e in enumerate(entries):
        starts.append(len(out))
        hdr = struct.pack("=4sIII", b"OSPr", len(e), seq, crc32c(e))
        out += hdr + struct.pack("=I", crc32c(salt + hdr)) + e
    return out, starts
