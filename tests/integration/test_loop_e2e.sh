#!/usr/bin/env bash
# The closed loop end to end on the real services: Kafka (deploy/local/kafka.sh, BASE+92),
# Redis (deploy/local/redis.sh, BASE+530), MLflow (deploy/local/mlflow.sh, BASE+531); BASE =
# SS_TEST_PORT_BASE, default 19000; metrics on BASE+532..534.
#   deploy/loop/prepare.sh: an LR champion trained on a skewed slice of the training file (one
#   negative in ten kept), registered as @champion; a stream of 5,000 tweets of the 2016 test
#   resampled to .40/.40/.20 (negatives 2.5 times their share in the reference);
#   deploy/loop/run.sh: scorer (following the champion) + monitor + retrain worker; 3,000 tweets
#   and their labels, the event, the retrain, the swap, then 2,000 more tweets.
# Asserted: one event, with a label_shift or performance reason; exactly one retrain for it
# (one decision run, one new version, tagged with the event id, one handled record in Redis);
# the new version is @champion; AvgRec of the new version's predictions (from the labels) is
# higher than the old one's; no tweet lost, none scored twice; every tweet of the second part
# scored by the new version; no second event; the time from the event to the first prediction
# by the new model, with its breakdown, under 10 minutes; the monitor followed the update and
# evaluates the new version's windows; `lineage --tweet` of a tweet scored by
# the new version prints the chain (event and reasons included) and rebuilds the retrained
# model byte for byte from it.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

rport=$(ss_port 530)
mport=$(ss_port 531)
muri=http://127.0.0.1:$mport
name=it-loop
redis() { "$src/deploy/local/redis.sh" "$@" --port "$rport"; }
mlflow() { "$src/deploy/local/mlflow.sh" "$@" --port "$mport"; }
ss_cleanup_all() {
        ss_cleanup
        mlflow stop >/dev/null 2>&1 || true
        redis stop >/dev/null 2>&1 || true
}
trap ss_cleanup_all EXIT
step() { echo "== $*"; }
api() { curl -sf "$muri/api/2.0/mlflow/$1"; }
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

step "services"
redis stop >/dev/null 2>&1 || true
redis start >"$work/redis.out" 2>&1 || { cat "$work/redis.out"; fail "redis start"; }
mlflow stop >/dev/null 2>&1 || true
mlflow start >"$work/mlflow.out" 2>&1 || { cat "$work/mlflow.out"; fail "mlflow start"; }
ss_kafka_start

SS_LOOP_METRICS_PORT=$(ss_port 532)
export SS_BIN SS_LOOP_MODEL_NAME=$name SS_LOOP_TRAIN_MAX=8000 SS_LOOP_STREAM=5000
export SS_LOOP_METRICS_PORT SS_LOOP_TIMEOUT=600
S=(kafka.bootstrap.servers="$bs" redis.port="$rport" tracking.uri="$muri" tracking.experiment=it-loop)
lr=(model.logreg.dim_bits=16 model.logreg.max_iter=30)

step "prepare: the skewed champion and the shifted stream"
"$src/deploy/loop/prepare.sh" "$work/loop" "${lr[@]}" tracking.uri="$muri" tracking.experiment=it-loop ||
        fail "prepare"
[ "$(api "registered-models/alias?name=$name&alias=champion" | json "d['model_version']['version']")" = 1 ] ||
        fail "the champion is not version 1"

step "the loop"
"$src/deploy/loop/run.sh" "$work/loop" "${S[@]}" "${lr[@]}" || fail "the loop did not close"
run=$work/loop/run
for f in consume monitor retrain; do cp "$run/$f.log" "$work/consume-loop-$f.log"; done # fail() shows them

step "checks"
event=$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["event_id"])' "$run/events.jsonl")
python3 - "$run" "$work/loop/stream.tsv" <<'EOF' || fail "loop checks"
import json, sys
run, stream = sys.argv[1], sys.argv[2]
events = [json.loads(l) for l in open(f"{run}/events.jsonl")]
assert len(events) == 1, f"{len(events)} retrain events, want 1: {[e.get('event_id') for e in events]}"
fams = {r["family"] for r in events[0]["reasons"]}
assert fams & {"label_shift", "performance"}, f"event reasons {fams}"
truth = {}
order = []
for line in open(stream):
    i, lab, _ = line.rstrip("\n").split("\t", 2)
    truth[i] = lab
    order.append(i)
preds = [json.loads(l) for l in open(f"{run}/predictions.jsonl")]
assert all(p.get("record") == "Prediction" for p in preds), "a record that is not a Prediction"
seen = {}
for p in preds:
    seen.setdefault(p["key"], []).append(p)
lost = [i for i in truth if i not in seen]
twice = [i for i, v in seen.items() if len(v) > 1]
extra = [i for i in seen if i not in truth]
assert not lost and not twice and not extra, f"lost {len(lost)}, twice {len(twice)}, unknown {len(extra)}"
versions = sorted({p["model_version"] for p in preds})
assert len(versions) == 2, f"model versions {versions}"
old = [v for v in versions if v.endswith("/1")][0]
new = [v for v in versions if v.endswith("/2")][0]
late = order[3000:]
assert all(seen[i][0]["model_version"] == new for i in late), "a tweet of the second part not scored by the new version"
def avgrec(ids):
    rec = []
    for c in ("negative", "neutral", "positive"):
        cs = [i for i in ids if truth[i] == c]
        rec.append(sum(seen[i][0]["label"] == c for i in cs) / len(cs))
    return sum(rec) / 3
before = [i for i in order if seen[i][0]["model_version"] == old]
after = [i for i in order if seen[i][0]["model_version"] == new]
a, b = avgrec(before), avgrec(after)
print(f"AvgRec from the labels: {old} {a:.4f} over {len(before)} tweets, {new} {b:.4f} over {len(after)}")
assert b > a, f"AvgRec did not rise: {a:.4f} -> {b:.4f}"
print(f"tweets {len(truth)}: 0 lost, 0 scored twice")
EOF
vtag() { api "model-versions/get?name=$name&version=$1" | json "{t['key']: t['value'] for t in d['model_version'].get('tags', [])}.get('$2', 'MISSING')"; }
[ "$(api "registered-models/alias?name=$name&alias=champion" | json "d['model_version']['version']")" = 2 ] ||
        fail "version 2 is not @champion"
nv=$(api "model-versions/search?filter=name%3D%27$name%27" | json "len(d.get('model_versions', []))")
[ "$nv" = 2 ] || fail "$nv versions of $name, want 2 (one retrain)"
[ "$(vtag 2 sentistream.event_id)" = "$event" ] || fail "version 2 does not carry event $event"
exp=$(api "experiments/get-by-name?experiment_name=it-loop" | json "d['experiment']['experiment_id']")
ndec=$(curl -sf -X POST -H 'Content-Type: application/json' "$muri/api/2.0/mlflow/runs/search" \
        -d "{\"experiment_ids\": [\"$exp\"], \"filter\": \"tags.\`sentistream.event_id\` = '$event'\"}" |
        json "len(d.get('runs', []))")
[ "$ndec" = 1 ] || fail "$ndec decision runs for event $event, want exactly 1"
[ -n "$(redis-cli -p "$rport" GET "sentistream:loop:retrain:done:$event")" ] || fail "no handled record for $event"
ntrig=$(grep -c "retraining event .* sent to" "$run/monitor.log" || true)
[ "$ntrig" = 1 ] || fail "the monitor sent $ntrig events"
# the monitor followed the update and evaluates the new version against its own card
grep -q "model update: $name@champion -> version 2" "$run/monitor.log" || fail "the monitor did not follow the update"
v2file=$(vtag 2 sentistream.model_version)
grep -q "eval model=$name version=$v2file window=" "$run/monitor.log" || fail "no window of the new version $v2file"
cat "$run/summary.txt"
total=$(sed -n 's/^event -> first prediction by the new model: \([0-9.]*\) s$/\1/p' "$run/summary.txt")
awk -v t="${total:-0}" 'BEGIN { exit !(t > 0 && t <= 600) }' ||
        fail "event -> first prediction by the new model: '$total' s (goal <= 600)"

step "lineage of a tweet scored by the new version; the retrained model rebuilt from it"
tweet=$(tail -n 1 "$work/loop/stream.tsv" | cut -f1)
rm -rf "$run/work" # the worker's files are gone: the run keeps the training set
L=("${S[@]}" topics.output=loop-predictions topics.retrain=loop-retrain-triggers)
(cd "$src" && "$SS_BIN" lineage --tweet "$tweet" --reproduce --run "$work/rebuild" "${L[@]}") \
        >"$work/lineage.out" 2>&1 || { cat "$work/lineage.out"; fail "lineage --tweet --reproduce --run"; }
grep -v '^  [a-z_]*\.' "$work/lineage.out" | grep -v '^    ' | head -n 30
grep -q "^prediction tweet $tweet: .*@$name/2;" "$work/lineage.out" || fail "lineage: the tweet's prediction"
grep -q "^version    $name/2 " "$work/lineage.out" || fail "lineage: version 2"
grep -q "^data       train .* (not here; the run's copy in data/ matches)" "$work/lineage.out" ||
        fail "lineage: the retrain's training set kept in its run"
grep -q "^event      $event$" "$work/lineage.out" || fail "lineage: the event"
grep -Eq "^  reason   (label_shift|performance) " "$work/lineage.out" || fail "lineage: the event's reasons"
grep -q "^decision   run .*: promote: " "$work/lineage.out" || fail "lineage: the decision"
grep -q "IDENTICAL to the registered file" "$work/lineage.out" || fail "lineage: the rebuild"
cmp "$work/rebuild/model.ssm" "$run/cache/$name-v2.ssm" || fail "the rebuilt model differs from version 2's file"
echo "PASS loop end to end"
