# SPDX-License-Identifier: Apache-2.0
"""What the benchmark reports share: reading their JSON lines, medians and
ratios, number formats, the report's head (title, command, machine), writing it."""
import json
import statistics
import sys


def load(path):
    """The first JSON object line of a file, or None."""
    try:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if line.startswith("{"):
                    return json.loads(line)
    except (OSError, ValueError):
        pass
    return None


def med(vals):
    """The median of the values that are not None, or None."""
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def ratio(a, b):
    return a / b if a is not None and b else None


def fmt(v, nd=0):
    return "failed" if v is None else "{:,.{}f}".format(v, nd)


def yes(ok):
    return "n/a" if ok is None else ("**yes**" if ok else "**NO**")


def head(L, title, m, default_cmd, fields, busy_after):
    """Title, the command that made the report, and the machine: fields are
    (key of m, label) pairs."""
    L.append("# " + title)
    L.append("")
    L.append("Generated on %s by:" % m.get("date", "?"))
    L.append("")
    L.append("```sh\n%s\n```" % m.get("command", default_cmd))
    L.append("")
    L.append("## Machine")
    L.append("")
    for k, label in fields:
        L.append("* %s: %s" % (label, m.get(k, "?")))
    L.append("* machine busy before the run (all CPUs, 1 s): %s; after: %s"
             % (m.get("busy_before", "?"), busy_after))


def write(L, out):
    """The report's lines into OUT and onto stdout."""
    text = "\n".join(L) + "\n"
    with open(out, "w") as f:
        f.write(text)
    sys.stdout.write(text)
