#!/usr/bin/env bash
# Model hot reload between batches, with no tweet dropped or scored twice by a swap:
#   SIGHUP reloads the file (reload_total{result="ok"});
#   a damaged file appearing in its place (consumer.model.watch=true) is refused
#   (reload_total{result="error"}) and the old model keeps serving;
#   a new model moved into place is picked up by the watch; the tweets after it carry the
#   new model's version and scores.
# Each tweet's prediction must equal the offline score of the model that was serving. The
# scorer runs two scoring threads, so every swap also replaces the second thread's copy.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

data=$src/data/semeval-2016test.tsv
port=$(ss_port 469)
ok='sentistream_model_reload_total{result="ok"}'
bad='sentistream_model_reload_total{result="error"}'

ss_venv
ss_kafka_start
ss_topic tweets 1
ss_topic tweet-predictions 1
ss_topic tweets-dlq 1
ss_model
m1=$model
m2=$work/lr2.ssm
"$SS_BIN" train data.train="$work/train.tsv" model.out="$m2" model.logreg.dim_bits=16 \
        model.logreg.max_iter=30 model.logreg.l2=1e-5 >"$work/train2.out" 2>&1 ||
        { cat "$work/train2.out"; fail "train 2"; }
v1=$("$SS_BIN" score "$m1" < <(head -n 1 "$data") | sed 's/.*"model_version":"\([^"]*\)".*/\1/')
v2=$("$SS_BIN" score "$m2" < <(head -n 1 "$data") | sed 's/.*"model_version":"\([^"]*\)".*/\1/')
[ -n "$v1" ] && [ -n "$v2" ] && [ "$v1" != "$v2" ] || fail "model versions '$v1' '$v2'"

head -n 1500 "$data" >"$work/all.tsv"
sed -n '1,500p' "$data" >"$work/p1.tsv"
sed -n '501,1000p' "$data" >"$work/p2.tsv"
sed -n '1001,1500p' "$data" >"$work/p3.tsv"
{ "$SS_BIN" score "$m1" <"$work/p1.tsv"
  "$SS_BIN" score "$m1" <"$work/p2.tsv"
  "$SS_BIN" score "$m2" <"$work/p3.tsv"; } >"$work/offline.jsonl" || fail "offline score"

produce() { "$SS_BIN" produce "$1" kafka.bootstrap.servers="$bs" >/dev/null || fail "produce $1"; }
info() { curl -s "http://127.0.0.1:$port/metrics" | grep '^sentistream_model_info{' || true; }

model=$work/serve.ssm
cp "$m1" "$model"
ss_consume_bg "$work/consume.log" metrics.port=$port consumer.model.watch=true \
        consumer.model.watch.interval.ms=200 consumer.score.threads=2
produce "$work/p1.tsv"
ss_wait_metric $port sentistream_scored_total 500 120

# SIGHUP: same file, reloaded.
kill -HUP "$cpid"
ss_wait_metric $port "$ok" 1 30
info | grep -q "version=\"$v1\"" || fail "after SIGHUP: $(info)"

# A damaged file moved into place: refused, the old model stays.
head -c 100000 "$m1" >"$work/damaged.ssm"
mv "$work/damaged.ssm" "$model"
ss_wait_metric $port "$bad" 1 30
info | grep -q "version=\"$v1\"" || fail "after a damaged file: $(info)"
[ "$(info | wc -l)" = 1 ] || fail "model_info has several series: $(info)"
produce "$work/p2.tsv"
ss_wait_metric $port sentistream_scored_total 1000 120

# A new model moved into place: picked up by the watch.
cp "$m2" "$work/next.ssm"
mv "$work/next.ssm" "$model"
ss_wait_metric $port "$ok" 2 30
info | grep -q "version=\"$v2\"" || fail "after the new model: $(info)"
produce "$work/p3.tsv"
ss_wait_metric $port sentistream_scored_total 1500 120
[ "$(ss_metric $port "$bad")" = 1 ] || fail "reload errors: $(ss_metric $port "$bad")"
ss_stop "$cpid"
grep -q "model reload (SIGHUP)" "$work/consume.log" || fail "no SIGHUP reload logged"
grep -q "model reload (file changed) refused" "$work/consume.log" || fail "no refusal logged"

ss_dump tweet-predictions "$work/pred.bin"
"$py" "$here/consume_check.py" predictions "$work/pred.bin" "$src/schemas" "$work/all.tsv" \
        "$work/offline.jsonl" exactly-once || fail "predictions check"
