#!/usr/bin/env bash
# shellcheck disable=SC2046 # kafka_args is split into words on purpose
# The drift monitor follows the registry (real Kafka, Redis and MLflow on test ports):
#   1. the scorer serves models:/it-mon@champion = version 1; the monitor starts with version
#      1's card only; a drifted stream (negatives 3x as likely) raises an event for version 1;
#   2. the alias moves to version 2 and a ModelUpdate is published: the scorer swaps, the
#      monitor fetches version 2's card from the registry (monitor.model.cache_dir) and
#      switches to it (cooldown from the switch);
#   3. the same drifted stream again, now scored by version 2: no event for version 2 (its
#      first windows are in the cooldown), none for version 1 (its windows are closed for
#      events), no prediction lost as unknown, and the report in Redis names version 2;
#   4. with the monitor stopped, the alias goes back to version 1 (a rollback): the restarted
#      monitor reads the updates published before its start (the topic's tail) and switches
#      back to version 1;
#   5. restarted again with no new update, it recognises the tail's newest update as the
#      version it already judges (its snapshot) and switches nothing;
#   6. an event of version 1 on the retrain topic whose id Redis does not hold (what a kill -9
#      between the broker's acknowledgement and the record leaves), published with fastavro
#      (retrain_msgs.py) while the monitor is stopped, beside an event of another model: the
#      restarted monitor recovers exactly that id into its sent set (log, Redis) and its
#      report counts the events the topic holds for its model.
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
bin=${SS_BIN:?SS_BIN not set}
base=${SS_TEST_PORT_BASE:-19000}
kport=$((base + 92))
cport=$((base + 93))
rport=$((base + 380))
mlport=$((base + 530))
monport=$((base + 531))
bs=127.0.0.1:$kport
muri=http://127.0.0.1:$mlport
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-monitor-follow.XXXXXX")
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
kafka() { "$src/deploy/local/kafka.sh" "$@" --port "$kport" --controller-port "$cport"; }
redis() { "$src/deploy/local/redis.sh" "$@" --port "$rport"; }
mlflow() { "$src/deploy/local/mlflow.sh" "$@" --port "$mlport"; }
rcli() { redis-cli -p "$rport" "$@"; }
pids=()
stop_pid() {
        local p=$1
        kill -TERM "$p" 2>/dev/null || return 0
        for _ in $(seq 200); do
                kill -0 "$p" 2>/dev/null || { wait "$p" 2>/dev/null || true; return 0; }
                sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
}
cleanup() {
        for p in "${pids[@]}"; do stop_pid "$p"; done
        kafka stop >/dev/null 2>&1 || true
        redis stop >/dev/null 2>&1 || true
        mlflow stop >/dev/null 2>&1 || true
        if [ "${keep_work:-0}" = 1 ] || [ -n "${SS_TEST_KEEP:-}" ]; then echo "logs kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
fail() {
        echo "FAIL: $*"
        keep_work=1
        for f in "$work"/*.log; do echo "---- $f (tail)"; tail -n 15 "$f"; done
        exit 1
}
step() { echo "== $*"; }
metric() { # metric NAME: value of the exact series on the monitor's port, 0 if absent
        { curl -s --max-time 2 "http://127.0.0.1:$monport/metrics" || true; } |
                awk -v n="$1" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) }'
}
wait_metric() { # wait_metric NAME MIN TIMEOUT_S
        for _ in $(seq $(($3 * 5))); do
                awk -v v="$(metric "$1")" -v m="$2" 'BEGIN { exit !(v + 0 >= m + 0) }' && return 0
                sleep 0.2
        done
        fail "$1 stayed at $(metric "$1") (wanted >= $2 within $3 s)"
}

step "services, two models registered"
mlflow stop >/dev/null 2>&1 || true
mlflow start >"$work/mlflow.out" 2>&1 || { cat "$work/mlflow.out"; fail "mlflow start"; }
kafka start >/dev/null
redis start >/dev/null
for t in tw pr dl rt model-updates; do kafka create-topic $t 1 >/dev/null || fail "topic $t"; done
val=$src/data/semeval-2016test.tsv
head -n 8000 "$src/data/semeval-train.tsv" >"$work/train.tsv"
for i in 1 2; do
        "$bin" train data.train="$work/train.tsv" data.validation="$val" \
                model.out="$work/m$i/lr.ssm" model.logreg.dim_bits=16 model.logreg.max_iter=30 \
                model.logreg.l2=$([ $i = 1 ] && echo 1e-4 || echo 1e-5) >"$work/train$i.log" 2>&1 ||
                fail "train $i"
done
cv() { sed -n 's/.*"version":[[:space:]]*"\([^"]*\)".*/\1/p' "$1" | head -n 1; }
v1=$(cv "$work/m1/lr.card.json")
v2=$(cv "$work/m2/lr.card.json")
[ -n "$v1" ] && [ -n "$v2" ] && [ "$v1" != "$v2" ] || fail "card versions '$v1' '$v2'"
R=(tracking.uri="$muri" tracking.experiment=it-mon)
"$bin" models register "$work/m1/lr.ssm" --name it-mon --alias champion "${R[@]}" >/dev/null ||
        fail "register 1"
"$bin" models register "$work/m2/lr.ssm" --name it-mon "${R[@]}" >/dev/null || fail "register 2"

# 2000 uniform validation tweets, then 4000 with negatives 3x as likely (fixed seeds)
awk -F'\t' 'BEGIN { srand(7) } !seen[$1]++ { print rand() "\t" $0 }' "$val" | sort -g | cut -f2- \
        >"$work/shuf.tsv"
head -n 2000 "$work/shuf.tsv" >"$work/a.tsv"
awk -F'\t' 'BEGIN { srand(8) } NR > 2000 && ($2 == "negative" || rand() < 0.33) { print; if (++k == 4000) exit }' \
        "$work/shuf.tsv" >"$work/drift1.tsv"
awk -F'\t' 'BEGIN { srand(9) } NR > 2000 && ($2 == "negative" || rand() < 0.33)' "$work/shuf.tsv" |
        tail -n 4000 >"$work/drift2.tsv"
[ "$(wc -l <"$work/drift2.tsv")" = 4000 ] || fail "data"

kafka_args() { echo "kafka.bootstrap.servers=$bs topics.input=tw topics.output=pr topics.dlq=dl topics.retrain=rt"; }
"$bin" consume $(kafka_args) consumer.group.id=scorer consumer.model.uri=models:/it-mon@champion \
        consumer.model.cache_dir="$work/scache" consumer.model.poll.ms=0 "${R[@]}" \
        >"$work/scorer.log" 2>&1 &
pids+=("$!")
mkdir -p "$work/cards"
cp "$work/m1/lr.card.json" "$work/cards/"
start_monitor() { # start_monitor LOG: the monitor in the background, its pid in $mon_pid
        "$bin" monitor $(kafka_args) "${R[@]}" redis.port="$rport" redis.prefix=mf: monitor.group.id=mf \
                monitor.card="$work/cards" monitor.model.cache_dir="$work/mcache" \
                monitor.window.size=2000 monitor.eval.every=250 monitor.min.samples=1000 \
                monitor.psi.threshold=0.02 monitor.kl.threshold=0.01 monitor.false_alarm=0.001 \
                monitor.trigger.k=3 monitor.trigger.n=5 monitor.trigger.cooldown.s=3600 \
                monitor.window.seconds=86400 monitor.snapshot.interval.ms=300 \
                monitor.report.interval.ms=200 monitor.metrics.port=$monport >"$1" 2>&1 &
        mon_pid=$!
        pids+=("$mon_pid")
}
start_monitor "$work/monitor.log"
for _ in $(seq 300); do grep -q "reading model-updates" "$work/monitor.log" && break; sleep 0.2; done
grep -q "reading model-updates" "$work/monitor.log" || fail "the monitor does not read model-updates"

step "1. version 1 under drift: an event"
"$bin" produce "$work/a.tsv" $(kafka_args) >/dev/null || fail "produce a"
"$bin" produce "$work/drift1.tsv" $(kafka_args) >/dev/null || fail "produce drift 1"
wait_metric sentistream_monitor_predictions_total 6000 180
wait_metric 'sentistream_monitor_triggers_total{model="sentiment-logreg"}' 1 60
n1=$(metric 'sentistream_monitor_triggers_total{model="sentiment-logreg"}')

step "2. the alias moves to version 2 and a ModelUpdate is published"
"$bin" models promote it-mon 2 --alias champion "${R[@]}" kafka.bootstrap.servers="$bs" \
        >"$work/promote.log" 2>&1 || fail "promote"
wait_metric 'sentistream_monitor_model_updates_total{result="switched"}' 1 60
[ "$(metric 'sentistream_monitor_card_fetch_total{result="ok"}')" = 1 ] || fail "card fetch"
[ -s "$work/mcache/it-mon-v2.card.json" ] || fail "no fetched card in monitor.model.cache_dir"
[ "$(metric 'sentistream_monitor_version_switches_total{model="sentiment-logreg"}')" = 1 ] ||
        fail "switches: $(metric 'sentistream_monitor_version_switches_total{model="sentiment-logreg"}')"

step "3. the same drift scored by version 2: no event (cooldown from the switch), v1 stale"
for _ in $(seq 300); do grep -q "model reload (update: it-mon/2)" "$work/scorer.log" && break; sleep 0.2; done
"$bin" produce "$work/drift2.tsv" $(kafka_args) >/dev/null || fail "produce drift 2"
wait_metric sentistream_monitor_predictions_total 10000 180
sleep 2
[ "$(metric sentistream_monitor_unknown_version_total)" = 0 ] || fail "predictions lost as unknown"
n2=$(metric 'sentistream_monitor_triggers_total{model="sentiment-logreg"}')
[ "$n2" = "$n1" ] || fail "events after the switch: $n1 -> $n2"
report=$(rcli get "mf:monitor:report:sentiment-logreg")
grep -q "\"model_version\":\"$v2\"" <<<"$report" || fail "the report does not name $v2"
stop_pid "$mon_pid"
"$bin" monitor events kafka.bootstrap.servers="$bs" topics.retrain=rt --timeout 20 \
        >"$work/events.jsonl" 2>>"$work/events.log" || fail "reading events"
ev=$(grep -o '"event_id":"[^"]*"' "$work/events.jsonl" | cut -d'"' -f4)
echo "events: $(echo "$ev" | tr '\n' ' ')"
[ -n "$ev" ] || fail "no event at all"
! grep -qv "^$v1:" <<<"$ev" || fail "an event not of version 1: $ev"
grep -q "switched $v1 -> $v2" "$work/monitor.log" || fail "no switch log line"

step "4. a rollback to version 1 published while the monitor is down: followed at its restart"
"$bin" models promote it-mon 1 --alias champion "${R[@]}" kafka.bootstrap.servers="$bs" \
        >"$work/promote2.log" 2>&1 || fail "promote 1"
start_monitor "$work/monitor2.log"
wait_metric 'sentistream_monitor_model_updates_total{result="switched"}' 1 60
grep -q "switched $v2 -> $v1" "$work/monitor2.log" || fail "the restarted monitor did not roll back"
stop_pid "$mon_pid"

step "5. a restart with no new update: the tail changes nothing"
start_monitor "$work/monitor3.log"
for _ in $(seq 300); do grep -q "model updates before the start read" "$work/monitor3.log" && break; sleep 0.2; done
grep -q "model updates before the start read (1 model)" "$work/monitor3.log" ||
        fail "the restarted monitor did not read the tail"
grep -q "is known already" "$work/monitor3.log" || fail "the tail's update was not recognised as known"
[ "$(metric 'sentistream_monitor_model_updates_total{result="switched"}')" = 0 ] ||
        fail "a known update switched again"
! grep -q "switched " "$work/monitor3.log" || fail "a switch at a plain restart"
stop_pid "$mon_pid"

step "6. an event on the topic that Redis does not hold: recovered into the sent set at the restart"
venv=$src/tests/.venv # the venv of the integration tests (consume_lib.sh ss_venv), fastavro
(
        flock 9
        if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import fastavro' 2>/dev/null; then
                rm -rf "$venv"
                python3 -m venv "$venv"
                echo '*' >"$venv/.gitignore"
                "$venv/bin/pip" install -q --disable-pip-version-check fastavro
        fi
) 9>"${TMPDIR:-/tmp}/sentistream-test-venv.lock" || fail "venv with fastavro"
sent=mf:monitor:sent:sentiment-logreg
nsent=$(rcli scard "$sent")
lost=$v1:n999999
publish_event() { # publish_event EVENT_ID MODEL_NAME MODEL_VERSION
        "$venv/bin/python" "$src/tests/integration/retrain_msgs.py" "$src/schemas" event \
                "$work/ev.bin" "$1" "$2" "$3" || fail "encode event $1"
        kcat -b "$bs" -P -t rt -k "$2" "$work/ev.bin" || fail "publish event $1"
}
publish_event "$lost" sentiment-logreg "$v1"
publish_event other-v1:n500 other-model other-v1
[ "$(rcli sismember "$sent" "$lost")" = 0 ] || fail "$lost is in Redis already"
start_monitor "$work/monitor4.log"
for _ in $(seq 150); do grep -q " assigned pr" "$work/monitor4.log" && break; sleep 0.2; done
grep -q " assigned pr" "$work/monitor4.log" || fail "the restarted monitor holds no partition"
[ "$(rcli sismember "$sent" "$lost")" = 1 ] || fail "$lost is not in Redis' sent set"
[ "$(rcli scard "$sent")" = $((nsent + 1)) ] || fail "sent set: $nsent -> $(rcli scard "$sent")"
[ "$(rcli exists mf:monitor:sent:other-model)" = 0 ] || fail "another model's event recorded"
"$bin" monitor events kafka.bootstrap.servers="$bs" topics.retrain=rt --timeout 20 \
        >"$work/events2.jsonl" 2>>"$work/events.log" || fail "reading events"
on_topic=$(grep -c '"model_name":"sentiment-logreg"' "$work/events2.jsonl" || true)
# the report is written after an evaluation (the snapshot's newest one was of version 2, whose
# card is not loaded at this start): a few predictions, scored by version 1 in its cooldown
head -n 300 "$work/a.tsv" >"$work/a300.tsv"
"$bin" produce "$work/a300.tsv" $(kafka_args) >/dev/null || fail "produce 300"
for _ in $(seq 150); do
        ev_report=$(rcli get mf:monitor:report:sentiment-logreg | grep -o '"events":[0-9]*' | cut -d: -f2)
        [ "${ev_report:-0}" = "$on_topic" ] && break
        sleep 0.2
done
[ "${ev_report:-0}" = "$on_topic" ] ||
        fail "the report counts ${ev_report:-no} events, the topic holds $on_topic for sentiment-logreg"
grep "sent set reconciled" "$work/monitor4.log" || fail "no log line of the reconciliation"
grep -q "reconciled with rt .*: 1 event id recovered that Redis did not have: $lost (" \
        "$work/monitor4.log" || fail "the log line does not name exactly $lost"
echo "recovered $lost; the report counts $ev_report events, as many as the topic holds"
stop_pid "$mon_pid"
echo PASS
