#!/usr/bin/env bash
# Known answers of the label-shift estimate and of the label-free performance estimate, from
# the 2016 test set (the LR model's reference data), with the DEFAULT monitor configuration:
#   a. the 2016 test resampled (seeded, n = 10000, without replacement) to true shares
#      negative .32 / neutral .48 / positive .20: an event fires with label_shift among its
#      reasons; the estimated mix over the stream is within +-0.03 of the true one; the
#      estimated macro-F1 is within 0.03 of the one the labels give
#   b. the 2016 test in its file order (ordered by topic) and shuffled: no event
#   c. two random halves of the 2016 test: each half's estimated mix lies inside the other's
#      interval
# First offline (`sentistream monitor replay`, the monitor's processing path without I/O),
# then (a) and (b) end to end on a real Kafka broker and Redis: produce -> consume (the
# model) -> monitor -> events read back from the retrain topic, the report read from Redis
# and rendered with `sentistream monitor report --html` in headless Chromium (a PNG that is
# not blank, a DOM that carries the report's figures).
#
# Another model (any kind whose card's reference data is the 2016 test) over the same checks;
# SS_KNOWN_OFFLINE=1 stops after the offline part:
#   SS_SOURCE_DIR=. SS_BIN=build/rel/cli/sentistream SS_KNOWN_MODEL=models-out/cnn.ssm \
#       SS_KNOWN_OFFLINE=1 tests/integration/test_monitor_known_answers.sh
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
bin=${SS_BIN:?SS_BIN not set}
base=${SS_TEST_PORT_BASE:-19000}
kport=$((base + 92))
cport=$((base + 93))
rport=$((base + 380))
bs=127.0.0.1:$kport
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-known.XXXXXX")
val=$src/data/semeval-2016test.tsv
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
kafka() { "$src/deploy/local/kafka.sh" "$@" --port "$kport" --controller-port "$cport"; }
redis() { "$src/deploy/local/redis.sh" "$@" --port "$rport"; }

pids=()
cleanup() {
        local p
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
        kafka stop >/dev/null 2>&1 || true
        redis stop >/dev/null 2>&1 || true
        if [ "${keep_work:-0}" = 1 ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
        echo "FAIL: $*"
        keep_work=1
        for f in "$work"/*.log; do echo "---- $f (tail)"; tail -n 15 "$f"; done
        exit 1
}
step() { echo "== $*"; }
# jq-free JSON access: py EXPR FILE evaluates EXPR with r = the parsed file
py() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($1)" "$2"; }

# ---- data, drawn with fixed seeds --------------------------------------------------------
shuffle() { # shuffle SEED < file
        awk -v seed="$1" 'BEGIN { srand(seed) } { print rand() "\t" $0 }' |
                sort -t$'\t' -k1,1 -g | cut -f2-
}
# resample SEED N NEG NEU POS: N lines without replacement with exactly these shares
resample() {
        shuffle "$1" < "$val" | awk -F'\t' -v n="$2" -v a="$3" -v b="$4" -v c="$5" '
                $2 == "negative" && kn < n * a { kn++; print; next }
                $2 == "neutral" && ku < n * b { ku++; print; next }
                $2 == "positive" && kp < n * c { kp++; print }' | shuffle $(($1 + 1))
}
resample 11 10000 0.32 0.48 0.20 > "$work/shifted.tsv"
shuffle 12 < "$val" > "$work/shuffled.tsv"
head -n 10278 "$work/shuffled.tsv" > "$work/half1.tsv"
tail -n +10279 "$work/shuffled.tsv" > "$work/half2.tsv"
counts=$(cut -f2 "$work/shifted.tsv" | sort | uniq -c | tr -s ' \n' ' ')
[ "$counts" = " 3200 negative 4800 neutral 2000 positive " ] || fail "resampled counts: $counts"

# ---- model: LR on the whole training file (calibrated on its tune split) ------------------
if [ -n "${SS_KNOWN_MODEL:-}" ]; then
        model=$SS_KNOWN_MODEL
        [ -f "$model" ] || fail "SS_KNOWN_MODEL $model: no such file"
        step "model $model (SS_KNOWN_MODEL)"
else
        step "train the LR model (reference data: the 2016 test)"
        "$bin" train data.train="$src/data/semeval-train.tsv" data.validation="$val" \
                model.out="$work/m/lr.ssm" model.logreg.dim_bits=16 model.logreg.max_iter=30 \
                model.logreg.l2=3e-5 > "$work/train.log" 2>&1 || fail "train"
        grep -E '^(calibrate|validation)' "$work/train.log"
        model=$work/m/lr.ssm
fi

# ---- offline: the monitor's processing path over the files --------------------------------
replay() { # replay NAME DATA [args]: events to NAME.jsonl, report to NAME.json
        local name=$1 data=$2
        shift 2
        "$bin" monitor replay "$model" "$data" --report "$work/$name.json" "$@" \
                > "$work/$name.jsonl" 2> "$work/$name.log" || fail "replay $name"
}
has_label_shift() { grep -q '"statistic":"label_shift"' "$1"; }

step "a. resampled to .32/.48/.20 (default configuration)"
replay a "$work/shifted.tsv"
[ -s "$work/a.jsonl" ] || fail "no event on the shifted stream"
has_label_shift "$work/a.jsonl" || fail "no label_shift reason: $(head -c 600 "$work/a.jsonl")"
! grep -q '"family":"input"' "$work/a.jsonl" || fail "an input reason raised an event"
echo "event $(grep -o '"event_id":"[^"]*"' "$work/a.jsonl" | head -n 1)"
# the estimate over the whole stream (one window of 10000) and CBPE against the labels
replay a_all "$work/shifted.tsv" --labels monitor.window.size=10000 monitor.perf.window=10000
mix=$(py 'r["windows"]["sliding"]["label_shift"]["estimated_mix"]' "$work/a_all.json")
echo "estimated mix $mix (true [0.32, 0.48, 0.2])"
py 'all(abs(w - t) <= 0.03 for w, t in zip(r["windows"]["sliding"]["label_shift"]["estimated_mix"], [0.32, 0.48, 0.20]))' \
        "$work/a_all.json" | grep -q True || fail "estimated mix $mix not within 0.03 of the truth"
est=$(py 'r["windows"]["sliding"]["estimated_performance"]["macro_f1"]' "$work/a_all.json")
f1=$(py 'r["performance"]["macro_f1"]' "$work/a_all.json")
n=$(py 'r["performance"]["n"]' "$work/a_all.json")
echo "macro-F1 estimated without labels $est, from the $n labels $f1"
awk -v a="$est" -v b="$f1" -v n="$n" 'BEGIN { d = a - b; exit !(n == 10000 && d <= 0.03 && d >= -0.03) }' ||
        fail "CBPE macro-F1 $est vs measured $f1 (n $n)"

step "b. the 2016 test in file order and shuffled: no event"
replay b_order "$val"
[ ! -s "$work/b_order.jsonl" ] || fail "file order raised: $(head -c 600 "$work/b_order.jsonl")"
replay b_shuf "$work/shuffled.tsv"
[ ! -s "$work/b_shuf.jsonl" ] || fail "shuffled raised: $(head -c 600 "$work/b_shuf.jsonl")"
echo "max label_shift PSI: file order $(py 'max(x for x in r["history"]["sliding"]["label_shift_psi"] if x is not None)' "$work/b_order.json")," \
        "shuffled $(py 'max(x for x in r["history"]["sliding"]["label_shift_psi"] if x is not None)' "$work/b_shuf.json")"

step "c. two random halves: each estimate inside the other's interval"
replay c1 "$work/half1.tsv" monitor.window.size=10278
replay c2 "$work/half2.tsv" monitor.window.size=10278
python3 - "$work/c1.json" "$work/c2.json" <<'EOF' || fail "halves disagree"
import json, sys
a, b = (json.load(open(p))["windows"]["sliding"]["label_shift"] for p in sys.argv[1:])
for x, y in ((a, b), (b, a)):
    for k in range(3):
        w, lo, hi = x["estimated_mix"][k], y["interval_low"][k], y["interval_high"][k]
        print(f"class {k}: {w:.4f} in [{lo:.4f}, {hi:.4f}]")
        if not lo <= w <= hi:
            sys.exit(1)
EOF

if [ "${SS_KNOWN_OFFLINE:-0}" = 1 ]; then
        echo "monitor known answers (offline, SS_KNOWN_OFFLINE=1): all checks passed"
        exit 0
fi

# ---- end to end: Kafka + Redis ------------------------------------------------------------
step "services"
"$src/deploy/local/kafka.sh" fetch >/dev/null
kafka start > "$work/kafka.log" 2>&1 || fail "kafka start"
redis start > "$work/redis.log" 2>&1 || fail "redis start"
for t in ka_tw ka_pr ka_dl ka_rt kb_tw kb_pr kb_dl kb_rt; do
        kafka create-topic "$t" 1 >> "$work/topics.log" 2>&1 || fail "topic $t"
done
kafka_args() { # kafka_args ka|kb
        echo "kafka.bootstrap.servers=$bs topics.input=${1}_tw topics.output=${1}_pr" \
                "topics.dlq=${1}_dl topics.retrain=${1}_rt consumer.group.id=${1}_sc"
}
name=$(py 'r["model"]["name"]' "${model%.ssm}.card.json")
report() { redis-cli -p "$rport" get "$1:monitor:report:$name"; }
run_stream() { # run_stream ka|kb DATA N: scorer + monitor (defaults) over DATA until N counted
        local k=$1 data=$2 want=$3 p
        # shellcheck disable=SC2046
        "$bin" consume $(kafka_args "$k") consumer.model.path="$model" > "$work/$k-scorer.log" 2>&1 &
        pids+=($!)
        # shellcheck disable=SC2046
        "$bin" monitor $(kafka_args "$k") redis.port="$rport" redis.prefix="$k:" \
                monitor.group.id="${k}_mo" consumer.model.path="$model" \
                > "$work/$k-monitor.log" 2>&1 &
        local mon=$!
        pids+=("$mon")
        # shellcheck disable=SC2046
        "$bin" produce "$data" $(kafka_args "$k") > "$work/$k-produce.log" 2>&1 || fail "produce $k"
        for _ in $(seq 1800); do
                p=$({ report "$k" | grep -o '"predictions":[0-9]*' || true; } | head -n 1 | cut -d: -f2)
                [ "${p:-0}" -ge "$want" ] && break
                kill -0 "$mon" 2>/dev/null || fail "the monitor exited"
                sleep 0.1
        done
        [ "${p:-0}" -ge "$want" ] || fail "$k: the monitor counted ${p:-0} predictions, want $want"
        kill -TERM "$mon"
        wait "$mon" || fail "$k: the monitor did not stop cleanly"
        "$bin" monitor events kafka.bootstrap.servers="$bs" topics.retrain="${k}_rt" --timeout 20 \
                > "$work/$k-events.jsonl" 2>> "$work/events.log" || fail "reading ${k}_rt"
        report "$k" > "$work/$k-report.json"
}

step "a. the resampled stream through Kafka and Redis (default configuration)"
run_stream ka "$work/shifted.tsv" 10000
has_label_shift "$work/ka-events.jsonl" ||
        fail "no label_shift event through Kafka: $(head -c 600 "$work/ka-events.jsonl")"
echo "events: $(grep -o '"event_id":"[^"]*"' "$work/ka-events.jsonl" | tr '\n' ' ')"
echo "Redis report: estimated mix $(py '[round(x, 4) for x in r["windows"]["sliding"]["label_shift"]["estimated_mix"]]' "$work/ka-report.json")"

step "b. the 2016 test in file order through Kafka and Redis: no event"
run_stream kb "$val" 20556
[ ! -s "$work/kb-events.jsonl" ] || fail "file order raised through Kafka: $(head -c 600 "$work/kb-events.jsonl")"

# ---- the HTML report, rendered by a real browser ------------------------------------------
step "HTML report from Redis, rendered in headless Chromium"
"$bin" monitor report --html "$work/report.html" redis.port="$rport" redis.prefix=ka: \
        > "$work/report.log" 2>&1 || fail "monitor report"
! grep -Eq '<script|https?://' "$work/report.html" || fail "the page is not self-contained"
chrome=$(command -v chromium || command -v chromium-browser || true)
[ -n "$chrome" ] || fail "chromium is not installed (deploy/install-deps.sh installs it)"
chrome_run() {
        timeout 120 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run \
                --user-data-dir="$work/chromium" "$@" "file://$work/report.html"
}
chrome_run --screenshot="$work/report.png" --window-size=1100,2400 > "$work/chromium.log" 2>&1 ||
        fail "chromium screenshot"
chrome_run --dump-dom > "$work/dom.html" 2>> "$work/chromium.log" || fail "chromium --dump-dom"
python3 - "$work/report.png" <<'EOF' || fail "the rendered page is blank"
import struct, sys, zlib
b = open(sys.argv[1], "rb").read()
assert b[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
pos, idat = 8, b""
while pos < len(b):
    (n,) = struct.unpack(">I", b[pos:pos + 4])
    kind = b[pos + 4:pos + 8]
    if kind == b"IDAT":
        idat += b[pos + 8:pos + 8 + n]
    pos += 12 + n
raw = zlib.decompress(idat)
distinct = len(set(raw))
print(f"PNG {len(b)} bytes, {distinct} distinct byte values in its pixel rows")
sys.exit(0 if distinct > 16 else 1)
EOF
python3 - "$work/ka-report.json" "$work/dom.html" <<'EOF' || fail "the DOM lacks the report's figures"
import json, sys
r = json.load(open(sys.argv[1]))
dom = open(sys.argv[2]).read()
ls = r["windows"]["sliding"]["label_shift"]
want = {"label_shift.psi": ls["psi"], "label_shift.psi_critical": ls["psi_critical"]}
for k, c in enumerate(("negative", "neutral", "positive")):
    want[f"estimated_mix.{c}"] = ls["estimated_mix"][k]
    want[f"interval_low.{c}"] = ls["interval_low"][k]
    want[f"reference_mix.{c}"] = ls["reference_mix"][k]
want["performance.estimated_f1"] = r["windows"]["sliding"]["estimated_performance"]["macro_f1"]
want["performance.estimated_f1.critical"] = r["windows"]["sliding"]["estimated_performance"]["f1_critical"]
missing = [k for k, v in want.items() if f'data-key="{k}">{v:.4f}<' not in dom]
events = [e["event_id"] for e in r["events_recent"]]
missing += [e for e in events if e not in dom]
print(f"{len(want)} figures and {len(events)} event ids checked in the rendered DOM")
if missing or not events:
    print("missing:", missing or "no event in the report")
    sys.exit(1)
EOF
echo "monitor known answers: all checks passed"
