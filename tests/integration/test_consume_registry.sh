#!/usr/bin/env bash
# The scorer serving a registry model (consumer.model.uri=models:/NAME@champion on a real MLflow
# server, deploy/local/mlflow.sh on BASE+500) through a real Kafka broker:
#   - at startup the alias resolves to version 1, fetched into the cache with its sha256 checked;
#     predictions carry "<file version>@NAME/1" as model_version;
#   - the alias moves to version 2 and SIGHUP resolves it again: the next predictions carry
#     "@NAME/2", none is lost;
#   - the registry is down at a restart: the cached version 2 is served, and the log says so;
#   - the cached file is damaged and the registry is down: the scorer refuses to start.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

mport=$(ss_port 500)
muri=http://127.0.0.1:$mport
port=$(ss_port 471)
mlflow() { "$src/deploy/local/mlflow.sh" "$@" --port "$mport"; }
ss_cleanup_all() {
        ss_cleanup
        mlflow stop >/dev/null 2>&1 || true
}
trap ss_cleanup_all EXIT
ok='sentistream_model_reload_total{result="ok"}'
data=$src/data/semeval-2016test.tsv

mlflow stop >/dev/null 2>&1 || true
mlflow start >"$work/mlflow.out" 2>&1 || { cat "$work/mlflow.out"; fail "mlflow start"; }
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
R=(tracking.uri="$muri" tracking.experiment=it-scorer)
"$SS_BIN" models register "$m1" --name it-scorer --alias champion "${R[@]}" >/dev/null || fail "register 1"
"$SS_BIN" models register "$m2" --name it-scorer "${R[@]}" >/dev/null || fail "register 2"

sed -n '1,200p' "$data" >"$work/p1.tsv"
sed -n '201,400p' "$data" >"$work/p2.tsv"
sed -n '401,600p' "$data" >"$work/p3.tsv"
produce() { "$SS_BIN" produce "$1" kafka.bootstrap.servers="$bs" >/dev/null || fail "produce $1"; }
info() { curl -s "http://127.0.0.1:$port/metrics" | grep '^sentistream_model_info{' || true; }
cache=$work/cache
serve=(consumer.model.uri=models:/it-scorer@champion consumer.model.cache_dir="$cache"
        "${R[@]}" "metrics.port=$port")

echo "== startup: champion = version 1"
ss_consume_bg "$work/consume1.log" "${serve[@]}"
produce "$work/p1.tsv"
ss_wait_metric $port sentistream_scored_total 200 120
info | grep -q "version=\"$v1@it-scorer/1\"" || fail "serving: $(info)"
[ "$(sha256sum <"$cache/it-scorer-v1.ssm")" = "$(sha256sum <"$m1")" ] || fail "cached version 1 differs"

echo "== the alias moves to version 2; SIGHUP"
"$SS_BIN" models promote it-scorer 2 --alias champion --no-publish "${R[@]}" >/dev/null || fail "promote"
kill -HUP "$cpid"
ss_wait_metric $port "$ok" 1 30
info | grep -q "version=\"$v2@it-scorer/2\"" || fail "after SIGHUP: $(info)"
produce "$work/p2.tsv"
ss_wait_metric $port sentistream_scored_total 400 120
ss_stop "$cpid"

echo "== registry down at a restart: the cached version 2"
mlflow stop >/dev/null
ss_consume_bg "$work/consume2.log" "${serve[@]}"
produce "$work/p3.tsv"
ss_wait_metric $port sentistream_scored_total 200 120
info | grep -q "version=\"$v2@it-scorer/2\"" || fail "from the cache: $(info)"
ss_stop "$cpid"
grep -q "unreachable.*serving the cached it-scorer/2" "$work/consume2.log" ||
        { cat "$work/consume2.log"; fail "no warning that the cached model is served"; }

echo "== a damaged cache and no registry: refused"
cp "$m1" "$cache/it-scorer-v2.ssm"
rc=0
timeout 60 "$SS_BIN" consume kafka.bootstrap.servers="$bs" "${serve[@]}" >"$work/consume3.log" 2>&1 || rc=$?
[ "$rc" != 0 ] && [ "$rc" != 124 ] || { cat "$work/consume3.log"; fail "the scorer started on a damaged cache (rc $rc)"; }
grep -q "not served" "$work/consume3.log" || { cat "$work/consume3.log"; fail "no reason given"; }

echo "== every prediction carries its registry version"
"$SS_BIN" tail tweet-predictions kafka.bootstrap.servers="$bs" --timeout 30 >"$work/pred.jsonl" ||
        fail "tail predictions"
n1=$(grep -c "\"model_version\":\"$v1@it-scorer/1\"" "$work/pred.jsonl" || true)
n2=$(grep -c "\"model_version\":\"$v2@it-scorer/2\"" "$work/pred.jsonl" || true)
echo "version 1: $n1, version 2: $n2, lines: $(wc -l <"$work/pred.jsonl")"
[ "$n1" = 200 ] && [ "$n2" = 400 ] || fail "predictions by version: $n1 and $n2 (want 200 and 400)"
echo PASS
