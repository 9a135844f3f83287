#!/usr/bin/env python3
"""RetrainEvent schema evolution, checked with fastavro's schema resolution.

The Reason record gained fields with defaults (family, statistic, window_n, reference_n).
Both directions must work:
  - an event written by this build (new schema), read by a consumer that still has the old
    schema as its reader schema: the new fields are skipped, the old ones come back;
  - an event written with the old schema, read with the new one as reader schema: the new
    fields take their defaults.
The events written by this build come from serde_interop.bin (tests/unit/test_serde.c).

usage: schema_evolution.py NEW_SCHEMA OLD_SCHEMA INTEROP_BIN
"""
import io
import json
import struct
import sys

import fastavro


def load(path):
    with open(path, encoding="utf-8") as fh:
        return fastavro.parse_schema(json.load(fh))


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    new, old = load(sys.argv[1]), load(sys.argv[2])
    with open(sys.argv[3], "rb") as fh:
        blob = fh.read()
    events, pos = [], 0
    while pos < len(blob):
        (n,) = struct.unpack_from(">I", blob, pos)
        msg = blob[pos + 4 : pos + 4 + n]
        pos += 4 + n
        body = io.BytesIO(msg[5:])
        try:  # only RetrainEvents decode with this schema and have reasons with a family
            rec = fastavro.schemaless_reader(body, new)
        except Exception:
            continue
        if body.tell() == len(msg) - 5 and rec.get("reasons"):
            events.append((msg[5:], rec))
    if not events:
        print("FAIL: no RetrainEvent with reasons in", sys.argv[3])
        return 1
    failures = 0
    for body, full in events:
        got = fastavro.schemaless_reader(io.BytesIO(body), new, old)
        for r_old, r_new in zip(got["reasons"], full["reasons"]):
            if set(r_old) != {"metric", "value", "threshold", "critical_value"}:
                print("FAIL: old reader got fields", sorted(r_old))
                failures += 1
            if r_old["metric"] != r_new["metric"] or r_old["value"] != r_new["value"]:
                print("FAIL: old reader got", r_old, "want", r_new)
                failures += 1
        if any(r["family"] for r in full["reasons"]):
            print("ok: new event read with the old schema:", [r["metric"] for r in got["reasons"]])
        # an old writer's event (the same record, minus the new fields), read with the new schema
        old_rec = dict(full)
        old_rec["reasons"] = [
            {k: r[k] for k in ("metric", "value", "threshold", "critical_value")}
            for r in full["reasons"]
        ]
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, old, old_rec)
        back = fastavro.schemaless_reader(io.BytesIO(buf.getvalue()), old, new)
        for r in back["reasons"]:
            want = {"family": "", "statistic": "", "window_n": 0, "reference_n": 0}
            if {k: r[k] for k in want} != want:
                print("FAIL: defaults not applied:", r)
                failures += 1
        print("ok: old event read with the new schema, defaults:", back["reasons"][0])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
