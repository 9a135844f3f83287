#!/usr/bin/env bash
# The scorer follows its registry alias (consumer.model.uri=models:/NAME@champion on a real
# MLflow server, deploy/local/mlflow.sh on BASE+520, through a real Kafka broker), in both
# delivery modes:
#   - bad model updates (not Avro, a sha256 that is not the registry's, another model) are
#     counted and change nothing;
#   - a stream is scored while the alias moves to version 2 and a ModelUpdate is published;
#     then a rollback (alias back to 1 + update) is followed the same way. Every tweet id has
#     exactly one prediction (none lost, none scored twice), and the registry versions in
#     the output topic's order (one partition in, one out) are exactly 1, then 2, then 1,
#     and each prediction equals the offline score of the version it names (scored with two
#     threads, so a batch is being scored when the swap comes: it is emitted as the old
#     version's);
#   - with model updates off, the periodic alias poll (consumer.model.poll.ms) follows.
# The updates that move the alias are published by `sentistream models promote`; the bad ones
# are written with fastavro (follow_check.py) and published with kcat.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

mport=$(ss_port 520)
muri=http://127.0.0.1:$mport
port=$(ss_port 521)
mlflow() { "$src/deploy/local/mlflow.sh" "$@" --port "$mport"; }
ss_cleanup_all() {
        ss_cleanup
        mlflow stop >/dev/null 2>&1 || true
}
trap ss_cleanup_all EXIT
ss_venv
data=$src/data/semeval-2016test.tsv
NAME=it-follow

mlflow stop >/dev/null 2>&1 || true
mlflow start >"$work/mlflow.out" 2>&1 || { cat "$work/mlflow.out"; fail "mlflow start"; }
ss_kafka_start
ss_topic model-updates 1
ss_model
m1=$model
m2=$work/lr2.ssm
"$SS_BIN" train data.train="$work/train.tsv" model.out="$m2" model.logreg.dim_bits=16 \
        model.logreg.max_iter=30 model.logreg.l2=1e-5 >"$work/train2.out" 2>&1 ||
        { cat "$work/train2.out"; fail "train 2"; }
fv() { "$SS_BIN" score "$1" < <(head -n 1 "$data") | sed 's/.*"model_version":"\([^"]*\)".*/\1/'; }
v2=$(fv "$m2")
sha2=$(sha256sum "$m2" | cut -d' ' -f1)
R=(tracking.uri="$muri" tracking.experiment=it-follow)
"$SS_BIN" models register "$m1" --name $NAME "${R[@]}" >/dev/null || fail "register 1"
"$SS_BIN" models register "$m2" --name $NAME "${R[@]}" >/dev/null || fail "register 2"

# unique ids: 3000 + 1000 + 1000 tweets, and 500 for the poll
awk -F'\t' '!seen[$1]++' "$data" >"$work/uniq.tsv"
sed -n '5501,5600p' "$work/uniq.tsv" >"$work/p0.tsv"
sed -n '1,3000p' "$work/uniq.tsv" >"$work/p1.tsv"
sed -n '3001,4000p' "$work/uniq.tsv" >"$work/p2.tsv"
sed -n '4001,5000p' "$work/uniq.tsv" >"$work/p3.tsv"
sed -n '5001,5500p' "$work/uniq.tsv" >"$work/p4.tsv"
cat "$work/p1.tsv" "$work/p2.tsv" >"$work/p12.tsv"
cat "$work/p0.tsv" "$work/p12.tsv" "$work/p3.tsv" >"$work/all.tsv"
cat "$work/all.tsv" "$work/p4.tsv" >"$work/offline.tsv"
"$SS_BIN" score "$m1" <"$work/offline.tsv" >"$work/offline1.jsonl" || fail "offline score 1"
"$SS_BIN" score "$m2" <"$work/offline.tsv" >"$work/offline2.jsonl" || fail "offline score 2"
off=("1=$work/offline1.jsonl" "2=$work/offline2.jsonl")

# promote VERSION [--no-publish]: moves the alias; `models promote` publishes the ModelUpdate
promote() {
        "$SS_BIN" models promote $NAME "$1" --alias champion "${R[@]}" kafka.bootstrap.servers="$bs" \
                "${@:2}" >"$work/promote.out" 2>&1 || { cat "$work/promote.out"; fail "promote $1"; }
}
# publish FILE: one message (key = the model name) to model-updates
publish() { kcat -P -b "$bs" -t model-updates -k $NAME "$1" || fail "kcat publish $1"; }
# update VERSION SHA256 MODEL_VERSION REASON [NAME] -> a framed ModelUpdate in $work/u.bin
update() {
        "$py" "$here/follow_check.py" update "$work/u.bin" "$src/schemas" "${5:-$NAME}" "$1" champion \
                "$2" "$3" "$4" || fail "encode update"
}
produce() { "$SS_BIN" produce "$1" kafka.bootstrap.servers="$bs" topics.input="$2" >/dev/null || fail "produce $1"; }
follow() { echo "sentistream_model_follow_total{cause=\"$1\",result=\"$2\"}"; }
gauge() { curl -s "http://127.0.0.1:$port/metrics" | awk '/^sentistream_model_registry_version\{/ { print $2 }'; }

for mode in at_least_once exactly_once; do
        echo "== $mode"
        in=tweets-$mode out=pred-$mode
        ss_topic "$in" 1
        ss_topic "$out" 1
        ss_topic "dlq-$mode" 1
        promote 1 --no-publish
        serve=("consumer.model.uri=models:/$NAME@champion" consumer.model.cache_dir="$work/cache-$mode"
                consumer.model.poll.ms=0 "consumer.delivery=$mode" consumer.instance.id=it-follow
                "consumer.group.id=follow-$mode" topics.input="$in" topics.output="$out"
                topics.dlq="dlq-$mode" consumer.batch.size=64 consumer.score.threads=2 "${R[@]}"
                "metrics.port=$port")
        ss_consume_bg "$work/consume-$mode.log" "${serve[@]}"
        ss_wait_lag $port 1 90
        [ "$(gauge)" = 1 ] || fail "registry version gauge: $(gauge)"
        # a first output committed (exactly-once: the transactional producer is up, so that
        # no abort rewinds the stream across the swaps below)
        produce "$work/p0.tsv" "$in"
        ss_wait_metric $port sentistream_scored_total 100 120
        [ $mode = at_least_once ] ||
                ss_wait_metric $port 'sentistream_transactions_total{result="commit"}' 1 60

        echo "-- bad updates change nothing"
        head -c 200 /dev/urandom >"$work/junk.bin"
        publish "$work/junk.bin"
        update 7 "$sha2" "$v2" manual other-model
        publish "$work/u.bin"
        ss_wait_metric $port "$(follow update bad_update)" 1 60
        ss_wait_metric $port "$(follow update other_model)" 1 60
        [ "$(gauge)" = 1 ] || fail "a bad update changed the model: $(gauge)"

        echo "-- the alias moves to 2 while a stream is scored"
        # p1 and p2 at 500 tweets/s (8 s): the update lands in the middle of the stream
        "$SS_BIN" produce "$work/p12.tsv" --rate 500 kafka.bootstrap.servers="$bs" \
                topics.input="$in" >/dev/null &
        ppid=$!
        bg_pids+=("$ppid")
        ss_wait_metric $port sentistream_scored_total 1100 60
        promote 2 --no-publish
        # an update whose sha256 is not the registry's file's: refused, version 1 stays
        update 2 "$(printf '%064d' 0)" "$v2" manual
        publish "$work/u.bin"
        ss_wait_metric $port "$(follow update sha256_mismatch)" 1 60
        [ "$(gauge)" = 1 ] || fail "an update with a wrong sha256 changed the model: $(gauge)"
        promote 2
        ss_wait_metric $port "$(follow update swapped)" 1 60
        [ "$(gauge)" = 2 ] || fail "after the update: $(gauge)"
        wait "$ppid" || fail "produce p1+p2"
        ss_wait_metric $port sentistream_scored_total 4100 120

        echo "-- rollback to 1"
        promote 1
        grep -q "reason rollback" "$work/promote.out" || fail "promote 1: $(cat "$work/promote.out")"
        ss_wait_metric $port "$(follow update swapped)" 2 60
        [ "$(gauge)" = 1 ] || fail "after the rollback: $(gauge)"
        produce "$work/p3.tsv" "$in"
        ss_wait_metric $port sentistream_scored_total 5100 120
        aborts=$(ss_metric $port 'sentistream_transactions_total{result="abort"}')
        ss_stop "$cpid"
        echo "transactions aborted: $aborts"
        grep -q "model update for $NAME/2: sha256 000000000000" "$work/consume-$mode.log" ||
                fail "no log line for the sha256 mismatch"

        ss_dump "$out" "$work/pred-$mode.bin"
        "$py" "$here/follow_check.py" predictions "$work/pred-$mode.bin" "$src/schemas" \
                "$work/all.tsv" 1,2,1 "${off[@]}" | tee "$work/check-$mode.out" ||
                fail "$mode: predictions across the swaps"
        # the first swap came while the stream was being scored, not after it
        first=$(sed -n 's/.*segments=1x\([0-9]*\),.*/\1/p' "$work/check-$mode.out")
        [ -n "$first" ] && [ "$first" -lt 4100 ] || fail "$mode: the swap came after the stream ($first)"
done

echo "== model updates off: the alias poll follows"
ss_topic tweets-poll 1
ss_topic pred-poll 1
promote 1 --no-publish
ss_consume_bg "$work/consume-poll.log" consumer.model.uri=models:/$NAME@champion \
        consumer.model.cache_dir="$work/cache-poll" consumer.model.follow=false \
        consumer.model.poll.ms=1000 consumer.group.id=follow-poll topics.input=tweets-poll \
        topics.output=pred-poll "${R[@]}" "metrics.port=$port"
ss_wait_lag $port 1 90
promote 2 --no-publish
ss_wait_metric $port "$(follow poll swapped)" 1 60
produce "$work/p4.tsv" tweets-poll
ss_wait_metric $port sentistream_scored_total 500 120
ss_stop "$cpid"
ss_dump pred-poll "$work/pred-poll.bin"
"$py" "$here/follow_check.py" predictions "$work/pred-poll.bin" "$src/schemas" "$work/p4.tsv" 2 "${off[@]}" ||
        fail "poll: predictions"
echo PASS
