#!/usr/bin/env bash
# The retrain worker (`sentistream retrain`) on the real services: Kafka (deploy/local/kafka.sh,
# BASE+92), Redis (deploy/local/redis.sh, BASE+520) and MLflow (deploy/local/mlflow.sh,
# BASE+521); BASE = SS_TEST_PORT_BASE, default 19000.
#   - a champion LR trained on a skewed slice (few negatives) is registered as @champion;
#     fresh labels with their text go to the labels stream (`sentistream label`), a few
#     without text (`--no-text`), which the worker counts and skips;
#   - a RetrainEvent: exactly one retrain; version 2 carries the event id and a fencing token,
#     becomes @champion; one ModelUpdate on model-updates (decoded by fastavro) names it;
#     the decision is an MLflow run with both models' figures; Redis records the outcome;
#   - the same event again: recorded as a duplicate, nothing trained, nothing published;
#   - a worker restarted with a margin no challenger can reach: the challenger is registered
#     (@challenger) and rejected, @champion unchanged; an undecodable event is counted as
#     malformed and committed;
#   - MLflow stopped: the event is retried with backoff, not recorded; once MLflow is back it
#     is handled;
#   - too few fresh labels with retrain.few_labels=skip: recorded as skipped;
#   - `models promote NAME 1 --alias champion`: a rollback, published as a ModelUpdate.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

rport=$(ss_port 520)
mport=$(ss_port 521)
wport=$(ss_port 522)
muri=http://127.0.0.1:$mport
prefix=rt:
name=it-retrain
redis() { "$src/deploy/local/redis.sh" "$@" --port "$rport"; }
mlflow() { "$src/deploy/local/mlflow.sh" "$@" --port "$mport"; }
rcli() { redis-cli -p "$rport" "$@"; }
ss_cleanup_all() {
        ss_cleanup
        mlflow stop >/dev/null 2>&1 || true
        redis stop >/dev/null 2>&1 || true
}
trap ss_cleanup_all EXIT
ss_venv

step() { echo "== $*"; }
api() { curl -sf "$muri/api/2.0/mlflow/$1"; }
json() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
alias_version() { api "registered-models/alias?name=$name&alias=$1" | json "d['model_version']['version']"; }
version_tag() { # version_tag VERSION KEY
        api "model-versions/get?name=$name&version=$1" |
                json "{t['key']: t['value'] for t in d['model_version'].get('tags', [])}.get('$2', 'MISSING')"
}
nversions() { api "model-versions/search?filter=name%3D%27$name%27" | json "len(d.get('model_versions', []))"; }
event() { # event EVENT_ID: publishes one RetrainEvent for the model
        "$py" "$here/retrain_msgs.py" "$src/schemas" event "$work/ev.bin" "$1" "$name" v1 ||
                fail "encode event $1"
        kcat -b "$bs" -P -t model-retrain-triggers -k "$name" "$work/ev.bin" || fail "produce event $1"
}
updates() { # the ModelUpdates on model-updates, one JSON line each
        ss_dump model-updates "$work/updates.bin"
        "$py" "$here/retrain_msgs.py" "$src/schemas" updates "$work/updates.bin"
}
# the worker's counter sample with one label, e.g. wmetric events result promoted
wmetric() { ss_metric "$wport" "sentistream_retrain_$1_total{$2=\"$3\"}"; }
wwait() { ss_wait_metric "$wport" "sentistream_retrain_$1_total{$2=\"$3\"}" "$4" "$5"; }

step "services"
redis stop >/dev/null 2>&1 || true
redis start >"$work/redis.out" 2>&1 || { cat "$work/redis.out"; fail "redis start"; }
mlflow stop >/dev/null 2>&1 || true
mlflow start >"$work/mlflow.out" 2>&1 || { cat "$work/mlflow.out"; fail "mlflow start"; }
ss_kafka_start
ss_topic model-retrain-triggers 1
ss_topic model-updates 1

step "a champion trained on a skewed slice (few negatives)"
awk -F'\t' '$2 != "negative" || ++neg <= 40' <(head -n 3000 "$src/data/semeval-train.tsv") \
        >"$work/skewed.tsv"
head -n 600 "$src/data/semeval-2016test.tsv" >"$work/reference.tsv"
lr=(model.logreg.dim_bits=16 model.logreg.max_iter=30 model.logreg.l2=1e-4)
R=(tracking.uri="$muri" tracking.experiment=it-retrain)
"$SS_BIN" train data.train="$work/skewed.tsv" data.validation="$work/reference.tsv" "${lr[@]}" \
        model.out="$work/champion.ssm" "${R[@]}" >"$work/train.out" 2>&1 ||
        { cat "$work/train.out"; fail "train champion"; }
"$SS_BIN" models register "$work/champion.ssm" --name "$name" --alias champion "${R[@]}" \
        >/dev/null || fail "register champion"
[ "$(alias_version champion)" = 1 ] || fail "champion is not version 1"

step "fresh labels with text (and a few without)"
L=(redis.port="$rport" redis.prefix="$prefix")
sed -n '601,1500p' "$src/data/semeval-2016test.tsv" >"$work/fresh.tsv"
head -n 5 "$src/data/semeval-train.tsv" >"$work/notext.tsv"
"$SS_BIN" label "$work/notext.tsv" --no-text "${L[@]}" >/dev/null 2>&1 || fail "label --no-text"
"$SS_BIN" label "$work/fresh.tsv" "${L[@]}" >"$work/label.out" 2>&1 || { cat "$work/label.out"; fail "label"; }
[ "$(rcli XLEN "${prefix}labels")" = 905 ] || fail "labels stream has $(rcli XLEN "${prefix}labels") entries"
rcli XREVRANGE "${prefix}labels" + - COUNT 1 | grep -qx text || fail "the newest label carries no text field"

W=(kafka.bootstrap.servers="$bs" "${R[@]}" "${L[@]}" "${lr[@]}" retrain.metrics.port="$wport"
        retrain.work.dir="$work/rw" retrain.fresh.min=100 retrain.fresh.weight=3
        retrain.holdout.share=0.3 retrain.wait.ms=1000 retrain.backoff.max.ms=2000
        retrain.lock.ttl.ms=120000 retrain.promote.margin=0.01 retrain.reference.max_drop=0.05)
worker_bg() { # worker_bg LOG [overrides]: the worker in the background, pid in $wpid
        local log=$1
        shift
        "$SS_BIN" retrain "${W[@]}" "$@" >"$log" 2>&1 &
        wpid=$!
        bg_pids+=("$wpid")
}
worker_stop() { # SIGTERM; the worker must exit 0
        local rc=0
        kill -TERM "$wpid"
        wait "$wpid" || rc=$?
        [ "$rc" = 0 ] || { tail -n 30 "$1"; fail "worker exited $rc after SIGTERM"; }
}

step "event 1: exactly one retrain, promoted"
worker_bg "$work/consume-worker1.log"
t0=$(date +%s)
event "it:ev-1"
wwait events result promoted 1 150
t1=$(date +%s)
grep "retrain" "$work/consume-worker1.log" | tail -n 12
[ "$(alias_version champion)" = 2 ] || fail "champion is not version 2 after event 1"
[ "$(nversions)" = 2 ] || fail "$(nversions) versions after event 1, want 2"
[ "$(version_tag 2 sentistream.event_id)" = "it:ev-1" ] || fail "version 2 lacks the event id"
[ "$(version_tag 2 sentistream.retrain.outcome)" = promoted ] || fail "version 2 outcome"
fence=$(version_tag 2 sentistream.fencing_token)
[ "$fence" -ge 1 ] 2>/dev/null || fail "version 2 fencing token '$fence'"
[ "$(ss_metric "$wport" sentistream_retrain_labels_without_text_total)" -ge 5 ] 2>/dev/null ||
        fail "labels without text not counted"
grep -q "5 of the newest .* labels carry no text" "$work/consume-worker1.log" || fail "labels without text not reported"
rcli GET "${prefix}retrain:done:it:ev-1" | grep -q '"result":"promoted"' || fail "no done record for event 1"
updates >"$work/updates1.json"
cat "$work/updates1.json"
[ "$(wc -l <"$work/updates1.json")" = 1 ] || fail "$(wc -l <"$work/updates1.json") model updates, want 1"
python3 - "$work/updates1.json" "$name" <<'EOF' || fail "model update content"
import json, sys
u = json.loads(open(sys.argv[1]).readline())
name = sys.argv[2]
assert u["model_name"] == name and u["version"] == "2" and u["alias"] == "champion", u
assert u["uri"] == f"models:/{name}/2" and len(u["sha256"]) == 64 and u["trailing"] == 0, u
assert u["reason"] == "retrain" and u["event_id"] == "it:ev-1", u
m = u["metrics"]
assert m["fresh_avgrec"] >= m["champion_fresh_avgrec"] + 0.01, m
print(f"update: version 2, fresh AvgRec {m['champion_fresh_avgrec']:.4f} -> {m['fresh_avgrec']:.4f}, "
      f"reference {m['champion_reference_avgrec']:.4f} -> {m['reference_avgrec']:.4f}")
EOF
# the update's sha256 is the registered file's
[ "$(version_tag 2 sentistream.model_sha256)" = "$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).readline())["sha256"])' "$work/updates1.json")" ] ||
        fail "update sha256 differs from the version's tag"
# the decision is an MLflow run with both models' figures
decision=$(version_tag 2 sentistream.retrain.decision_run)
api "runs/get?run_id=$decision" >"$work/decision.json" || fail "decision run $decision"
json "sorted(m['key'] for m in d['run']['data']['metrics'])" <"$work/decision.json" |
        grep -q "champion_fresh_avgrec.*challenger_fresh_avgrec\|challenger_fresh_avgrec.*champion_fresh_avgrec" ||
        fail "decision run lacks the figures"
echo "event 1 handled in $((t1 - t0)) s (version 2 promoted)"

step "event 1 again: a duplicate, nothing trained"
event "it:ev-1"
wwait events result duplicate 1 60
[ "$(nversions)" = 2 ] || fail "a second retrain for the same event"
[ "$(updates | wc -l)" = 1 ] || fail "a second model update for the same event"
[ "$(wmetric events result promoted)" = 1 ] || fail "promoted counted twice"
worker_stop "$work/consume-worker1.log"

step "a restarted worker, a margin no challenger reaches: rejected, champion unchanged"
worker_bg "$work/consume-worker2.log" retrain.promote.margin=0.9
printf 'not an avro message' >"$work/bad.bin"
kcat -b "$bs" -P -t model-retrain-triggers -k "$name" "$work/bad.bin" || fail "produce bad"
event "it:ev-2"
wwait events result malformed 1 60
wwait events result rejected 1 150
[ "$(wmetric events result duplicate)" = 0 ] || fail "event 1 redelivered after the restart"
[ "$(alias_version champion)" = 2 ] || fail "champion moved on a rejected challenger"
[ "$(alias_version challenger)" = 3 ] || fail "the rejected challenger is not @challenger"
[ "$(version_tag 3 sentistream.retrain.outcome)" = rejected ] || fail "version 3 outcome"
[ "$(version_tag 3 sentistream.fencing_token)" -gt "$fence" ] || fail "fencing token did not grow"
[ "$(updates | wc -l)" = 1 ] || fail "a model update for a rejected challenger"
rcli GET "${prefix}retrain:done:it:ev-2" | grep -q '"result":"rejected"' || fail "no done record for event 2"

step "MLflow stopped: retried, not recorded; handled once it is back"
mlflow stop --keep >/dev/null
event "it:ev-3"
wwait retries reason registry 2 90
[ -z "$(rcli GET "${prefix}retrain:done:it:ev-3")" ] || fail "event 3 recorded while MLflow was down"
mlflow start >"$work/mlflow2.out" 2>&1 || { cat "$work/mlflow2.out"; fail "mlflow restart"; }
wwait events result rejected 2 150
rcli GET "${prefix}retrain:done:it:ev-3" | grep -q '"result":"rejected"' || fail "no done record for event 3"
[ "$(nversions)" = 4 ] || fail "$(nversions) versions after event 3, want 4"
grep -q "not handled yet (registry)" "$work/consume-worker2.log" || fail "no retry line in the log"
worker_stop "$work/consume-worker2.log"

step "too few fresh labels, retrain.few_labels=skip"
worker_bg "$work/consume-worker3.log" retrain.fresh.min=100000 retrain.few_labels=skip
event "it:ev-4"
wwait events result skipped 1 60
rcli GET "${prefix}retrain:done:it:ev-4" | grep -q '"result":"skipped"' || fail "no done record for event 4"
[ "$(nversions)" = 4 ] || fail "a version registered for a skipped event"
worker_stop "$work/consume-worker3.log"

step "a rollback: models promote moves champion back and publishes a ModelUpdate"
"$SS_BIN" models promote "$name" 1 --alias champion kafka.bootstrap.servers="$bs" "${R[@]}" \
        >"$work/promote.out" 2>&1 || { cat "$work/promote.out"; fail "promote"; }
[ "$(alias_version champion)" = 1 ] || fail "the rollback did not move champion"
updates >"$work/updates2.json"
[ "$(wc -l <"$work/updates2.json")" = 2 ] || fail "$(wc -l <"$work/updates2.json") model updates, want 2"
tail -n 1 "$work/updates2.json" | python3 -c '
import json, sys
u = json.loads(sys.stdin.read())
assert u["version"] == "1" and u["alias"] == "champion" and u["reason"] == "rollback", u
assert u["event_id"] is None and u["uri"].endswith("/1") and len(u["sha256"]) == 64, u
' || fail "the rollback update"
echo "PASS retrain worker"
