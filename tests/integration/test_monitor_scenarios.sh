#!/usr/bin/env bash
# shellcheck disable=SC2046,SC2206 # kafka_args is split into words on purpose; pids and topic names have no spaces
# The drift monitor end to end on a real Kafka broker and Redis (test ports), through the
# scorer: `sentistream produce` -> `consume` (a small LR model trained here) -> predictions
# topic -> `sentistream monitor` <- labels pushed by `sentistream label`; retraining events
# read back from their topic with `sentistream monitor events`.
#   1. no drift: tweets drawn at random from the validation split, true labels -> no event,
#      a report in Redis and Prometheus figures that add up
#   2. prior drift: 2000 random tweets, then 4000 with negatives 3x as likely (drawn from the
#      data) -> an event naming label_shift (the estimated true class mix), within 3000
#      drifted messages; the predicted-class PSI is reported but does not raise (defaults)
#   3. performance drift: random tweets, labels rotated (wrong) for 70% after the first 1500
#      -> a performance.f1 event, no label_shift event; the label lag of --delay shows in
#      the report
#   4. the monitor killed (-9) mid-stream and restarted, on scenario 2+3 data with no
#      cooldown: the events equal those of an uninterrupted monitor over the same predictions
#      and labels, and none appears twice; the restarted monitor (a static member by
#      default) holds its partitions again within 20 s, not after the 45 s session timeout
#   5. Redis killed (-9) mid-stream: the monitor keeps consuming (Prometheus shows the
#      predictions and redis_up 0), and once Redis is back it reconnects and catches up
#   6. Kafka killed (-9) mid-stream: the monitor (and the scorer) keep running through the
#      outage, and once the broker is back (same data) the monitor counts exactly the
#      predictions the topic holds (none lost, none twice) and joins every label
# Every scenario has its own topics, consumer groups and Redis prefix. Services and processes
# started here are stopped by the trap.
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
bin=${SS_BIN:?SS_BIN not set}
base=${SS_TEST_PORT_BASE:-19000}
kport=${SS_TEST_KAFKA_PORT:-$((base + 92))}
cport=${SS_TEST_KAFKA_CONTROLLER_PORT:-$((base + 93))}
rport=${SS_TEST_REDIS_PORT:-$((base + 380))}
mport=${SS_TEST_MONITOR_METRICS_PORT:-$((base + 565))}
bs=127.0.0.1:$kport
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-monitor.XXXXXX")
kafka() { "$src/deploy/local/kafka.sh" "$@" --port "$kport" --controller-port "$cport"; }
redis() { "$src/deploy/local/redis.sh" "$@" --port "$rport"; }
rcli() { redis-cli -p "$rport" "$@"; }

pids=()
stop_pid() { # stop_pid PID: TERM, then KILL after 20 s
        local p=$1 i
        kill -TERM "$p" 2>/dev/null || return 0
        for i in $(seq 200); do
                kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
                sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
}
cleanup() {
        local p
        for p in "${pids[@]}"; do stop_pid "$p"; done
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

# ---- services and model --------------------------------------------------------------------
"$src/deploy/local/kafka.sh" fetch >/dev/null
kafka start
redis start
topics=()
for i in 1 2 3 4 5 6; do topics+=(tw$i pr$i dl$i rt$i); done
topics+=(rt4r)
# one JVM per topic: four at a time
printf '%s\n' "${topics[@]}" | xargs -P 4 -I{} "$src/deploy/local/kafka.sh" create-topic {} 1 \
        --port "$kport" --controller-port "$cport" > "$work/topics.log" 2>&1 ||
        fail "creating topics: $(cat "$work/topics.log")"

val=$src/data/semeval-2016test.tsv
if [ -n "${SS_TEST_MONITOR_MODEL:-}" ]; then # a model trained earlier (and its card), to iterate
        mkdir -p "$work/m"
        cp "$SS_TEST_MONITOR_MODEL" "$work/m/lr.ssm"
        cp "${SS_TEST_MONITOR_MODEL%.ssm}.card.json" "$work/m/lr.card.json"
else
        step "train a small model (its card holds the validation split's reference distributions)"
        head -n 8000 "$src/data/semeval-train.tsv" > "$work/train.tsv"
        "$bin" train data.train="$work/train.tsv" data.validation="$val" \
                model.out="$work/m/lr.ssm" model.logreg.dim_bits=16 model.logreg.max_iter=30 \
                model.logreg.l2=1e-4 > "$work/train.log" 2>&1 || fail "train"
        grep '^validation' "$work/train.log"
fi
card=$work/m/lr.card.json
[ -s "$card" ] || fail "no model card"

# ---- data, drawn with fixed seeds --------------------------------------------------------
# uniform SEED N [EXCLUDE_IDS]: N lines of the validation split in random order
uniform() {
        awk -F'\t' -v seed="$1" -v ex="${3:-/dev/null}" 'BEGIN { srand(seed) }
                FILENAME == ex { skip[$1] = 1; next }
                !($1 in skip) { print rand() "\t" $0 }' "${3:-/dev/null}" "$val" |
                sort -t$'\t' -k1,1 -g | awk -v n="$2" 'NR <= n' | cut -f2-
}
# weighted SEED N W: N lines without replacement, negatives W times as likely (Efraimidis-
# Spirakis keys), in random order
weighted() {
        awk -F'\t' -v seed="$1" -v w="$3" 'BEGIN { srand(seed) }
                { k = log(1 - rand()) / ($2 == "negative" ? w : 1); print k "\t" $0 }' "$val" |
                sort -t$'\t' -k1,1 -g -r | awk -v n="$2" 'NR <= n' | cut -f2- |
                awk -v seed="$1" 'BEGIN { srand(seed + 1) } { print rand() "\t" $0 }' |
                sort -t$'\t' -k1,1 -g | cut -f2-
}
# rotate FROM SHARE SEED: from line FROM on, replace the label by the next class with
# probability SHARE (negative -> neutral -> positive -> negative)
rotate() {
        awk -F'\t' -v OFS='\t' -v from="$1" -v share="$2" -v seed="$3" '
                BEGIN { srand(seed); nx["negative"] = "neutral"; nx["neutral"] = "positive"
                        nx["positive"] = "negative" }
                NR >= from && rand() < share { $2 = nx[$2] } { print }'
}
uniform 11 4000 > "$work/s1.tsv"
weighted 21 4000 3 > "$work/s2b.tsv"
uniform 22 2000 "$work/s2b.tsv" > "$work/s2.tsv"
cat "$work/s2b.tsv" >> "$work/s2.tsv"
uniform 31 4000 | rotate 1501 0.7 32 > "$work/s3.tsv"
rotate 2001 0.7 41 < "$work/s2.tsv" > "$work/s4.tsv"
neg() { awk -F'\t' '$2 == "negative"' "$1" | wc -l; }
echo "negatives: scenario 1 $(neg "$work/s1.tsv")/4000, scenario 2 first 2000" \
        "$(head -n 2000 "$work/s2.tsv" | awk -F'\t' '$2 == "negative"' | wc -l), last 4000 $(neg "$work/s2b.tsv")"

# ---- helpers -----------------------------------------------------------------------------
kafka_args() { # kafka_args SCENARIO
        echo "kafka.bootstrap.servers=$bs topics.input=tw$1 topics.output=pr$1 topics.dlq=dl$1" \
                "topics.retrain=rt$1 consumer.group.id=sc$1"
}
monitor_args=(redis.port="$rport" monitor.card="$card" monitor.window.size=2000
        monitor.eval.every=250 monitor.min.samples=1000 monitor.psi.threshold=0.02
        monitor.kl.threshold=0.01 monitor.false_alarm=0.001 monitor.perf.window=1000
        monitor.perf.min.labels=500 monitor.perf.eval.every=100 monitor.trigger.k=3
        monitor.trigger.n=5 monitor.window.seconds=86400 monitor.snapshot.interval.ms=300
        monitor.report.interval.ms=200 kafka.session.timeout.ms=6000)

start_scorer() { # start_scorer SCENARIO
        # shellcheck disable=SC2046
        "$bin" consume $(kafka_args "$1") consumer.model.path="$work/m/lr.ssm" \
                >> "$work/scorer$1.log" 2>&1 &
        scorer_pid=$!
        pids+=($scorer_pid)
}
start_monitor() { # start_monitor NAME SCENARIO [key=value ...]; pid in $mon_pid
        local name=$1 s=$2
        shift 2
        # shellcheck disable=SC2046
        "$bin" monitor $(kafka_args "$s") "${monitor_args[@]}" redis.prefix="s$s:" \
                monitor.group.id="mo$s" "$@" >> "$work/monitor-$name.log" 2>&1 &
        mon_pid=$!
        pids+=($mon_pid)
}
report() { rcli get "$1monitor:report:sentiment-logreg"; }
field() { # field JSON NAME: first numeric value of "NAME":
        { grep -o "\"$2\":[0-9.e+-]*" <<< "$1" || true; } | awk -F: 'NR == 1 { print $2 }'
}
wait_counts() { # wait_counts PREFIX PREDICTIONS JOINED TIMEOUT_S
        local r p j i
        for i in $(seq $(($4 * 10))); do
                kill -0 "$mon_pid" 2>/dev/null || fail "the monitor exited (see its log)"
                kill -0 "$scorer_pid" 2>/dev/null || fail "the scorer exited (see its log)"
                r=$(report "$1")
                p=$(field "$r" predictions)
                j=$(field "$r" joined)
                [ "${p:-0}" -ge "$2" ] && [ "${j:-0}" -ge "$3" ] && return 0
                sleep 0.1
        done
        fail "report under $1 shows predictions=${p:-none} joined=${j:-none}, want $2 and $3"
}
events() { # events TOPIC > jsonl
        "$bin" monitor events kafka.bootstrap.servers="$bs" topics.retrain="$1" --timeout 30 \
                2>> "$work/events.log"
}
sanitizer_check() { # the monitor's own processes must end without a sanitizer report
        local hits
        hits=$(grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$work"/monitor-*.log \
                "$work"/label*.log "$work/events.log" 2>/dev/null || true)
        [ -z "$hits" ] || fail "sanitizer reports in: $hits"
}
event_ids() { { grep -o '"event_id":"[^"]*"' || true; } | cut -d'"' -f4; }

# ---- 1. no drift -------------------------------------------------------------------------
step "1. no drift: 4000 random validation tweets, true labels"
start_scorer 1
start_monitor m1 1 monitor.metrics.port=0
"$bin" produce "$work/s1.tsv" $(kafka_args 1) > "$work/produce1.log" 2>&1 || fail "produce 1"
"$bin" label "$work/s1.tsv" redis.port="$rport" redis.prefix=s1: --rate 4000 --delay 0.2 \
        > "$work/label1.log" 2>&1 || fail "label 1"
wait_counts s1: 4000 4000 120
stop_pid "$mon_pid"
r=$(report s1:)
events rt1 > "$work/events1.jsonl" || fail "reading rt1"
[ ! -s "$work/events1.jsonl" ] || fail "no-drift scenario produced events: $(cat "$work/events1.jsonl")"
grep -q '"name":"predicted_class"' <<< "$r" || fail "report lacks predicted_class: $r"
grep -q '"macro_f1"' <<< "$r" || fail "report lacks macro_f1: $r"
[ "$(field "$r" label_coverage)" = 1 ] || fail "label coverage $(field "$r" label_coverage) != 1"
grep -Eq 'eval model=sentiment-logreg .* window=sliding:n4000 n=2000 ' "$work/monitor-m1.log" ||
        fail "no one-line log of the n4000 evaluation"
echo "no event; macro_f1 $(field "$r" macro_f1)"

# ---- 2. prior drift ----------------------------------------------------------------------
step "2. prior drift: 2000 random tweets, then 4000 with negatives 3x as likely"
start_scorer 2
start_monitor m2 2
"$bin" produce "$work/s2.tsv" $(kafka_args 2) > "$work/produce2.log" 2>&1 || fail "produce 2"
wait_counts s2: 6000 0 120
stop_pid "$mon_pid"
events rt2 > "$work/events2.jsonl" || fail "reading rt2"
[ -s "$work/events2.jsonl" ] || fail "prior drift produced no event"
first=$(head -n 1 "$work/events2.jsonl")
id=$(event_ids <<< "$first")
n=${id##*:n}
echo "first event $id: $(grep -o '"reasons":\[[^]]*\]' <<< "$first")"
[[ $n =~ ^[0-9]+$ ]] || fail "event id $id is not <version>:n<count>"
[ "$n" -le 5000 ] || fail "drift detected only after $((n - 2000)) drifted messages (bound 3000)"
grep -q '"statistic":"label_shift"' <<< "$first" ||
        fail "event does not name label_shift: $first"
! grep -q '"family":"prediction"' <<< "$first" || fail "a prediction-family reason raised: $first"
grep -q '"critical_value":[0-9]' <<< "$first" || fail "reason lacks its critical value"
! grep -q '"statistic":"performance.f1"' "$work/events2.jsonl" || fail "F1 event without labels"
[ "$(wc -l < "$work/events2.jsonl")" -eq 1 ] || fail "cooldown let a second event through"
grep -q '"key":"sentiment-logreg"' <<< "$first" || fail "event not keyed by model name"

# ---- 3. performance drift -----------------------------------------------------------------
step "3. performance drift: labels wrong for 70% after the first 1500"
start_scorer 3
start_monitor m3 3
"$bin" produce "$work/s3.tsv" $(kafka_args 3) > "$work/produce3.log" 2>&1 || fail "produce 3"
"$bin" label "$work/s3.tsv" redis.port="$rport" redis.prefix=s3: --rate 3000 --delay 1 \
        > "$work/label3.log" 2>&1 || fail "label 3"
wait_counts s3: 4000 4000 120
stop_pid "$mon_pid"
r=$(report s3:)
events rt3 > "$work/events3.jsonl" || fail "reading rt3"
[ -s "$work/events3.jsonl" ] || fail "performance drift produced no event"
grep -q '"statistic":"performance.f1"' "$work/events3.jsonl" || fail "no performance.f1 reason"
! grep -q '"family":"label_shift"' "$work/events3.jsonl" ||
        fail "label_shift event without a class-mix shift"
echo "event $(head -n 1 "$work/events3.jsonl" | event_ids):" \
        "$(head -n 1 "$work/events3.jsonl" | grep -o '"reasons":\[[^]]*\]')"
lag=$(grep -o '"p50":[0-9.]*' <<< "$r" | cut -d: -f2)
awk -v l="$lag" 'BEGIN { exit !(l >= 0.8 && l < 30) }' || fail "label lag p50 $lag s, want ~1 s"

# ---- 4. kill -9 and restart -----------------------------------------------------------------
step "4. scenario 2+3 data at 1000/s, the monitor killed (-9) mid-stream and restarted"
start_scorer 4
nc=(monitor.trigger.cooldown.s=0)
start_monitor m4 4 "${nc[@]}"
"$bin" produce "$work/s4.tsv" $(kafka_args 4) --rate 1000 > "$work/produce4.log" 2>&1 &
prod=$!
pids+=($prod)
# the same labels to the reference monitor's prefix
"$bin" label "$work/s4.tsv" redis.port="$rport" redis.prefix=s4: --rate 1000 --delay 1 \
        > "$work/label4.log" 2>&1 &
lab=$!
pids+=($lab)
"$bin" label "$work/s4.tsv" redis.port="$rport" redis.prefix=s4r: --rate 1000 --delay 1 \
        > "$work/label4r.log" 2>&1 &
labr=$!
pids+=($labr)
wait_counts s4: 3000 0 120
kill -KILL "$mon_pid"
wait "$mon_pid" 2>/dev/null || true
echo "killed at $(field "$(report s4:)" predictions) predictions; restarting"
# a static member by default (named after its group): the restarted monitor holds the
# partitions again at once, not after the dead member's 45 s session timeout
nassigned=$(grep -c ' assigned ' "$work/monitor-m4.log" || true)
t0=$(date +%s.%N)
start_monitor m4 4 "${nc[@]}"
for _ in $(seq 300); do
        [ "$(grep -c ' assigned ' "$work/monitor-m4.log" || true)" -gt "$nassigned" ] && break
        sleep 0.1
done
dt=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
grep -q 'static member mo4' "$work/monitor-m4.log" || fail "the monitor is not a static member"
awk -v d="$dt" 'BEGIN { exit !(d < 20) }' ||
        fail "the restarted monitor held its partitions after ${dt} s (static membership: < 20 s)"
echo "restarted after kill -9: partitions assigned after ${dt} s"
wait "$prod" || fail "produce 4"
wait "$lab" || fail "label 4"
wait "$labr" || fail "label 4r"
wait_counts s4: 6000 6000 180
stop_pid "$mon_pid"
grep -q "restored snapshot" "$work/monitor-m4.log" || fail "the restarted monitor did not restore"
events rt4 > "$work/events4.jsonl" || fail "reading rt4"
# the report written at shutdown counts every event, those fired before the kill included
ev_report=$(grep -o '"events":[0-9]*' <<< "$(report s4:)" | head -n 1 | cut -d: -f2)
[ "${ev_report:-0}" -eq "$(wc -l < "$work/events4.jsonl")" ] ||
        fail "report counts ${ev_report:-no} events, the topic holds $(wc -l < "$work/events4.jsonl")"

step "4. reference: an uninterrupted monitor over the same predictions and labels"
start_monitor m4r 4 "${nc[@]}" redis.prefix=s4r: monitor.group.id=mo4r topics.retrain=rt4r
wait_counts s4r: 6000 6000 180
stop_pid "$mon_pid"
events rt4r > "$work/events4r.jsonl" || fail "reading rt4r"
event_ids < "$work/events4.jsonl" > "$work/ids4"
event_ids < "$work/events4r.jsonl" > "$work/ids4r"
echo "events: $(tr '\n' ' ' < "$work/ids4")"
[ -s "$work/ids4r" ] || fail "the reference monitor produced no event"
grep -q '"statistic":"label_shift"' "$work/events4r.jsonl" || fail "reference: no label_shift event"
grep -q '"statistic":"performance.f1"' "$work/events4r.jsonl" ||
        fail "reference: no performance.f1 event"
dups=$(sort "$work/ids4" | uniq -d)
[ -z "$dups" ] || fail "events sent twice after the restart: $dups"
diff <(sort "$work/ids4") <(sort "$work/ids4r") > "$work/ids.diff" ||
        fail "restarted monitor's events differ from the reference: $(cat "$work/ids.diff")"
# ---- 5. Redis away -------------------------------------------------------------------------
step "5. Redis killed (-9) mid-stream, then started again"
metric() { # metric NAME: its value on the monitor's /metrics, or nothing
        { curl -s "http://127.0.0.1:$mport/metrics" || true; } |
                awk -v n="$1" '$1 == n { print $2; exit }'
}
wait_metric() { # wait_metric NAME VALUE TIMEOUT_S
        local i v
        for i in $(seq $(($3 * 10))); do
                kill -0 "$mon_pid" 2>/dev/null || fail "the monitor exited (see its log)"
                v=$(metric "$1")
                [ -n "$v" ] && awk -v v="$v" -v w="$2" 'BEGIN { exit !(v + 0 >= w + 0) }' &&
                        return 0
                sleep 0.1
        done
        fail "metric $1 = ${v:-none}, want $2"
}
head -n 3000 "$work/s2.tsv" > "$work/s5a.tsv"
tail -n 3000 "$work/s2.tsv" > "$work/s5b.tsv"
start_scorer 5
start_monitor m5 5 monitor.metrics.port="$mport" redis.backoff.max.ms=500
"$bin" produce "$work/s5a.tsv" $(kafka_args 5) > "$work/produce5.log" 2>&1 || fail "produce 5a"
wait_counts s5: 3000 0 120
redis kill > /dev/null
"$bin" produce "$work/s5b.tsv" $(kafka_args 5) >> "$work/produce5.log" 2>&1 || fail "produce 5b"
wait_metric sentistream_monitor_predictions_total 6000 120
[ "$(metric sentistream_monitor_redis_up)" = 0 ] || fail "redis_up is not 0 with Redis down"
echo "Redis down: 6000 predictions consumed, redis_up 0"
redis start > /dev/null
"$bin" label "$work/s2.tsv" redis.port="$rport" redis.prefix=s5: > "$work/label5.log" 2>&1 ||
        fail "label 5"
wait_counts s5: 6000 6000 120
wait_metric sentistream_monitor_redis_up 1 30
grep -q "unreachable" "$work/monitor-m5.log" || fail "the monitor did not notice Redis going away"
stop_pid "$mon_pid"
echo "Redis back: reconnected, 6000 labels joined"

# ---- 6. Kafka away -------------------------------------------------------------------------
step "6. Kafka killed (-9) mid-stream, then started again with its data"
head -n 3000 "$work/s2.tsv" > "$work/s6a.tsv"
tail -n 3000 "$work/s2.tsv" > "$work/s6b.tsv"
start_scorer 6
start_monitor m6 6 monitor.metrics.port="$mport" kafka.reconnect.backoff.max.ms=1000
"$bin" produce "$work/s6a.tsv" $(kafka_args 6) > "$work/produce6.log" 2>&1 || fail "produce 6a"
wait_metric sentistream_monitor_predictions_total 3000 120
kafka kill > /dev/null
sleep 8 # the outage: both keep running, retrying
kill -0 "$mon_pid" 2>/dev/null || fail "the monitor exited while Kafka was down (see its log)"
kill -0 "$scorer_pid" 2>/dev/null || fail "the scorer exited while Kafka was down"
kafka start --keep-data > "$work/kafka6.log" 2>&1 || fail "kafka restart: $(cat "$work/kafka6.log")"
"$bin" produce "$work/s6b.tsv" $(kafka_args 6) >> "$work/produce6.log" 2>&1 || fail "produce 6b"
"$bin" label "$work/s2.tsv" redis.port="$rport" redis.prefix=s6: > "$work/label6.log" 2>&1 ||
        fail "label 6"
wait_counts s6: 6000 6000 180
# The scorer is at-least-once (a broker crash may make it produce a prediction twice); the
# monitor must count each prediction the topic holds exactly once.
in_topic=$(kcat -b "$bs" -C -t pr6 -o beginning -e -q -f 'x\n' | wc -l)
for _ in $(seq 100); do
        p6=$(metric sentistream_monitor_predictions_total)
        [ "${p6%.*}" = "$in_topic" ] && break
        sleep 0.1
done
[ "${p6%.*}" = "$in_topic" ] || fail "monitor counted $p6 predictions, the topic holds $in_topic"
stop_pid "$mon_pid"
echo "Kafka back: $in_topic predictions in the topic (6000 tweets), all counted once; 6000 labels joined"

sanitizer_check
echo "monitor scenarios: all checks passed"
