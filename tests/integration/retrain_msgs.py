#!/usr/bin/env python3
"""RetrainEvent and ModelUpdate messages for test_retrain_worker.sh, with fastavro from
schemas/*.avsc (an implementation independent of the worker's C codec).

usage: retrain_msgs.py SCHEMA_DIR event OUT EVENT_ID MODEL_NAME MODEL_VERSION
           writes one Confluent-framed RetrainEvent (schema id 4) to OUT
       retrain_msgs.py SCHEMA_DIR updates DUMP
           DUMP holds messages as kcat -f '%R%s' writes them (4-byte big-endian length, then
           the value); prints each ModelUpdate (schema id 5) as one JSON line
"""
import io
import json
import struct
import sys
import time

import fastavro


def schema(d, name):
    with open(f"{d}/{name}.avsc", encoding="utf-8") as f:
        return fastavro.parse_schema(json.load(f))


def main():
    d, cmd = sys.argv[1], sys.argv[2]
    if cmd == "event":
        out, event_id, model, version = sys.argv[3:7]
        now = int(time.time() * 1000)
        rec = {
            "event_id": event_id,
            "model_name": model,
            "model_version": version,
            "reasons": [
                {
                    "metric": "kl.label_shift",
                    "value": 0.3,
                    "threshold": 0.05,
                    "critical_value": None,
                    "family": "label_shift",
                    "statistic": "label_shift",
                    "window_n": 2000,
                    "reference_n": 3000,
                }
            ],
            "metrics": [],
            "window_start": now - 60000,
            "window_end": now,
            "triggered_at": now,
        }
        buf = io.BytesIO()
        fastavro.schemaless_writer(buf, schema(d, "retrain_event"), rec)
        with open(out, "wb") as f:
            f.write(struct.pack(">BI", 0, 4) + buf.getvalue())
        return 0
    if cmd == "updates":
        blob = open(sys.argv[3], "rb").read()
        s = schema(d, "model_update")
        pos = 0
        while pos < len(blob):
            (n,) = struct.unpack_from(">I", blob, pos)
            msg = blob[pos + 4 : pos + 4 + n]
            pos += 4 + n
            magic, sid = struct.unpack_from(">BI", msg, 0)
            if magic != 0 or sid != 5:
                print(json.dumps({"error": f"magic {magic} schema id {sid}"}))
                continue
            body = io.BytesIO(msg[5:])
            rec = fastavro.schemaless_reader(body, s)
            rec["updated_at"] = str(rec["updated_at"])
            rec["trailing"] = len(msg) - 5 - body.tell()
            print(json.dumps(rec, sort_keys=True))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
