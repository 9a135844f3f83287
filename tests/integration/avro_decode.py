#!/usr/bin/env python3
"""Independent check of sentistream's Avro encoder with fastavro.

Reads framed messages written by tests/unit/test_serde.c (serde_interop.bin: 4-byte big-endian
length + Confluent message, repeated) and the fields they should hold (serde_interop.json),
then for each message:
  - checks the Confluent header (magic byte 0, schema id of the record);
  - decodes the body with fastavro from the schemas/*.avsc files and checks every field,
    and that the body is consumed exactly;
  - checks that timestamp-millis fields come back as datetimes (the schema files carry the
    logical type);
  - encodes the expected record with fastavro and checks the bytes equal ours.

usage: avro_decode.py SCHEMA_DIR INTEROP_BIN INTEROP_JSON
Exits 0 when every message matches, 1 otherwise.
"""
import datetime
import io
import json
import math
import struct
import sys

import fastavro

FILES = {
    "Tweet": "tweet.avsc",
    "Prediction": "prediction.avsc",
    "DeadLetter": "dead_letter.avsc",
    "RetrainEvent": "retrain_event.avsc",
    "ModelUpdate": "model_update.avsc",
}
TIMESTAMPS = {
    "created_at",
    "scored_at",
    "failed_at",
    "window_start",
    "window_end",
    "triggered_at",
    "updated_at",
}
BYTES = {"raw_key", "raw_value"}
EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_ms(v):
    if not isinstance(v, datetime.datetime):
        raise TypeError(f"timestamp-millis field decoded as {type(v).__name__}, not datetime")
    d = v - EPOCH
    return (d.days * 86400 + d.seconds) * 1000 + d.microseconds // 1000


def expected_record(fields):
    """The expected fields as fastavro wants them for writing (bytes as bytes)."""
    out = {}
    for k, v in fields.items():
        if k in BYTES and v is not None:
            out[k] = bytes.fromhex(v)
        elif isinstance(v, dict):
            out[k] = expected_record(v)
        elif isinstance(v, list):
            out[k] = [expected_record(x) for x in v]
        else:
            out[k] = v
    return out


def compare(path, got, want, errors):
    if isinstance(want, dict):
        if not isinstance(got, dict):
            errors.append(f"{path}: got {got!r}, want a record")
            return
        if set(got) != set(want):
            errors.append(f"{path}: fields {sorted(got)} != {sorted(want)}")
        for k in want:
            compare(f"{path}.{k}", got.get(k), want[k], errors)
    elif isinstance(want, list):
        if not isinstance(got, list) or len(got) != len(want):
            errors.append(f"{path}: got {got!r}, want {len(want)} items")
            return
        for i, (g, w) in enumerate(zip(got, want)):
            compare(f"{path}[{i}]", g, w, errors)
    elif isinstance(want, float) and isinstance(got, float):
        if not (got == want or (math.isnan(got) and math.isnan(want))):
            errors.append(f"{path}: got {got!r}, want {want!r}")
    elif got != want or isinstance(got, bool) != isinstance(want, bool):
        errors.append(f"{path}: got {got!r}, want {want!r}")


def normalise(record):
    """fastavro's decoded record with datetimes as ms and bytes as hex, like the JSON file."""
    out = {}
    for k, v in record.items():
        if k in TIMESTAMPS:
            out[k] = to_ms(v)
        elif k in BYTES and v is not None:
            out[k] = v.hex()
        elif isinstance(v, dict):
            out[k] = normalise(v)
        elif isinstance(v, list):
            out[k] = [normalise(x) if isinstance(x, dict) else x for x in v]
        else:
            out[k] = v
    return out


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    schema_dir, bin_path, json_path = sys.argv[1:]
    schemas = {}
    for rec, f in FILES.items():
        with open(f"{schema_dir}/{f}", encoding="utf-8") as fh:
            schemas[rec] = fastavro.parse_schema(json.load(fh))
    with open(json_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    with open(bin_path, "rb") as fh:
        blob = fh.read()

    msgs = []
    pos = 0
    while pos < len(blob):
        (n,) = struct.unpack_from(">I", blob, pos)
        msgs.append(blob[pos + 4 : pos + 4 + n])
        pos += 4 + n
    if pos != len(blob):
        print(f"FAIL: {bin_path}: truncated framing at byte {pos}")
        return 1
    if len(msgs) != len(spec["messages"]):
        print(f"FAIL: {len(msgs)} messages in {bin_path}, {len(spec['messages'])} in {json_path}")
        return 1

    failures = 0
    for i, (msg, exp) in enumerate(zip(msgs, spec["messages"])):
        rec = exp["record"]
        errors = []
        want_id = spec["schema_ids"][rec]
        magic, schema_id = struct.unpack_from(">BI", msg, 0)
        if magic != 0:
            errors.append(f"magic byte {magic}, want 0")
        if schema_id != want_id:
            errors.append(f"schema id {schema_id}, want {want_id}")
        body = io.BytesIO(msg[5:])
        try:
            got = fastavro.schemaless_reader(body, schemas[rec])
            if body.tell() != len(msg) - 5:
                errors.append(f"{len(msg) - 5 - body.tell()} bytes left after the record")
            compare(rec, normalise(got), exp["fields"], errors)
        except Exception as e:  # a decode failure is a finding, not a crash of the check
            errors.append(f"fastavro could not decode it: {e!r}")
        out = io.BytesIO()
        fastavro.schemaless_writer(out, schemas[rec], expected_record(exp["fields"]))
        if out.getvalue() != msg[5:]:
            errors.append(
                f"fastavro encodes the same record as {out.getvalue().hex()}, ours is {msg[5:].hex()}"
            )
        if errors:
            failures += 1
            print(f"FAIL message {i} ({rec}):")
            for e in errors:
                print(f"  {e}")
        else:
            print(f"ok message {i} ({rec}, {len(msg)} bytes)")
    print(f"fastavro {fastavro.__version__}: {len(msgs) - failures} of {len(msgs)} messages match")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
