#!/usr/bin/env bash
# Our Avro bytes, read by an independent implementation: test_serde writes one framed message
# of every record (optional fields null and set) plus the fields they hold; fastavro decodes
# them from schemas/*.avsc, checks every field and encodes the same records byte for byte.
# A corrupted copy must be refused, so the check itself is known to be able to fail.
# fastavro lives in a venv under tests/.venv (created on first use, ignored by git).
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
bin=${SS_BINARY_DIR:?SS_BINARY_DIR not set}
venv=$src/tests/.venv
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-serde-interop.XXXXXX")
trap 'rm -rf "$work"' EXIT

# One venv for every Python-using test; the lock keeps parallel runs from racing to create it.
(
        flock 9
        if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import fastavro' 2>/dev/null; then
                echo "creating $venv with fastavro"
                rm -rf "$venv"
                python3 -m venv "$venv"
                echo '*' >"$venv/.gitignore"
                "$venv/bin/pip" install -q --disable-pip-version-check fastavro
        fi
) 9>"${TMPDIR:-/tmp}/sentistream-test-venv.lock"

test_serde=$bin/tests/test_serde
[ -x "$test_serde" ] || { echo "FAIL: $test_serde not built"; exit 1; }
SS_BINARY_DIR=$work SS_SERDE_BENCH_N=0 "$test_serde" >"$work/test_serde.log" 2>&1 ||
        { cat "$work/test_serde.log"; echo "FAIL: test_serde failed"; exit 1; }
[ -s "$work/serde_interop.bin" ] && [ -s "$work/serde_interop.json" ] ||
        { echo "FAIL: test_serde wrote no interop files"; exit 1; }

"$venv/bin/python" "$src/tests/integration/avro_decode.py" "$src/schemas" \
        "$work/serde_interop.bin" "$work/serde_interop.json"

# RetrainEvent schema evolution: new events through the old schema and back (defaults).
"$venv/bin/python" "$src/tests/integration/schema_evolution.py" "$src/schemas/retrain_event.avsc" \
        "$src/tests/fixtures/retrain_event.v1.avsc" "$work/serde_interop.bin"

# The same check on a copy with one byte of the third message's body changed must fail.
cp "$work/serde_interop.bin" "$work/corrupt.bin"
python3 - "$work/corrupt.bin" <<'EOF'
import struct, sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
pos = 0
for _ in range(2):  # skip two messages
    (n,) = struct.unpack_from(">I", b, pos)
    pos += 4 + n
b[pos + 4 + 5 + 3] ^= 0x01  # inside the Prediction's tweet_id
open(p, "wb").write(bytes(b))
EOF
if "$venv/bin/python" "$src/tests/integration/avro_decode.py" "$src/schemas" \
        "$work/corrupt.bin" "$work/serde_interop.json" >"$work/corrupt.log" 2>&1; then
        cat "$work/corrupt.log"
        echo "FAIL: the fastavro check accepted a corrupted message"
        exit 1
fi
grep -q "FAIL message 2 (Prediction)" "$work/corrupt.log" ||
        { cat "$work/corrupt.log"; echo "FAIL: corruption not reported on message 2"; exit 1; }
echo "ok: corrupted copy refused"
echo "PASS serde interop"
