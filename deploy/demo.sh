#!/usr/bin/env bash
# The main job of sentistream, end to end, on this machine:
#   1. install what is missing, build (Release);
#   2. train the logistic-regression baseline if no model exists, evaluate it on the
#      validation split, score a few sample tweets offline;
#   3. start a real Kafka broker (KRaft) and Redis on loopback, create the topics;
#   4. start the scorer (`sentistream consume`) and the drift monitor (`sentistream monitor`),
#      replay data/semeval-2016test.tsv into the tweets topic and its labels into Redis;
#   5. show predictions flowing (counts, decoded predictions, throughput, latency), the
#      monitor's report, writes the drift report as one HTML page and prints its path, then
#      stops everything cleanly.
#
# Ports (env): SS_KAFKA_PORT 9092, SS_KAFKA_CONTROLLER_PORT 9093, SS_REDIS_PORT 6380,
# SS_METRICS_PORT 9464 (scorer), SS_MONITOR_METRICS_PORT 9465. SS_DEMO_LIMIT=N replays only
# the first N tweets. SS_DEMO_MODEL=logreg|cnn|minilm picks the model kind (default logreg;
# trained first when models-out/<kind>.ssm is missing). Logs of the run are in build/demo/.
# SS_DEMO_MLFLOW=1 also starts MLflow (deploy/local/mlflow.sh, SS_MLFLOW_PORT 5000): a training
# is tracked there, the model is registered as sentiment-<kind>@champion, the scorer serves
# consumer.model.uri=models:/sentiment-<kind>@champion, and the UI's URL is printed.
# Then the closed loop (deploy/loop/): a champion trained with few negatives, a stream with many;
# the monitor fires, the retrain worker trains and promotes a challenger, the scorer swaps; each
# step printed as it happens, within SS_DEMO_LOOP_TIMEOUT seconds (default 600); it starts
# MLflow when SS_DEMO_MLFLOW is off and uses metrics ports 9470-9472 (SS_LOOP_METRICS_PORT).
# SS_DEMO_LOOP=0 skips it.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

export SS_KAFKA_PORT=${SS_KAFKA_PORT:-9092} SS_KAFKA_CONTROLLER_PORT=${SS_KAFKA_CONTROLLER_PORT:-9093}
export SS_REDIS_PORT=${SS_REDIS_PORT:-6380}
mport=${SS_METRICS_PORT:-9464}
monport=${SS_MONITOR_METRICS_PORT:-9465}
data=data/semeval-2016test.tsv
limit=${SS_DEMO_LIMIT:-0}
kind=${SS_DEMO_MODEL:-logreg}
mlflow_on=${SS_DEMO_MLFLOW:-0}
loop_on=${SS_DEMO_LOOP:-1}
loop_timeout=${SS_DEMO_LOOP_TIMEOUT:-600}
export SS_MLFLOW_PORT=${SS_MLFLOW_PORT:-5000}
tracking=()
[ "$mlflow_on" = 1 ] && tracking=("tracking.uri=http://127.0.0.1:$SS_MLFLOW_PORT")
case $kind in logreg | cnn | minilm) ;; *) echo "demo: SS_DEMO_MODEL must be logreg, cnn or minilm" >&2; exit 2 ;; esac
model=models-out/$kind.ssm
logs=build/demo
bin=build/release/cli/sentistream

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }

pids=()
cleanup() {
        set +e
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
        for p in "${pids[@]}"; do
                for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
                kill -9 "$p" 2>/dev/null
        done
        deploy/local/kafka.sh stop >/dev/null 2>&1
        deploy/local/redis.sh stop >/dev/null 2>&1
        [ "$mlflow_on" = 1 ] && deploy/local/mlflow.sh stop --keep >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

metric() { # metric PORT NAME: sum of a metric's samples (0 if absent)
        curl -sf "http://127.0.0.1:$1/metrics" 2>/dev/null |
                awk -v n="$2" '$1 == n || index($1, n "{") == 1 { s += $2 } END { printf "%.0f", s }'
}

quantile() { # quantile PORT HISTOGRAM Q: upper bucket bound holding quantile Q, in ms
        curl -sf "http://127.0.0.1:$1/metrics" | awk -v h="$2_bucket" -v q="$3" '
                index($1, h "{") == 1 { match($1, /le="[^"]+"/); le = substr($1, RSTART + 4, RLENGTH - 5)
                                        n++; les[n] = le; cnt[n] = $2 }
                END { total = cnt[n]; for (i = 1; i <= n; i++) if (cnt[i] >= q * total) {
                        if (les[i] == "+Inf") print "> " les[i - 1] * 1000; else print les[i] * 1000; exit } }'
}

step "1/5 install and build"
deploy/install-deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build/release -j "$(nproc)" --target sentistream >/dev/null
mkdir -p "$logs"
echo "built $bin ($($bin version))"

step "2/5 the $kind model: train (if missing), evaluate, score offline"
if [ "$mlflow_on" = 1 ]; then
        deploy/local/mlflow.sh start
fi
if [ ! -f "$model" ]; then
        $bin train model="$kind" "${tracking[@]}"
else
        echo "using $model (delete it to retrain)"
fi
$bin eval "$model" "$data"
printf '%s\n' \
        '1	I love this phone, best purchase ever :)' \
        '2	worst customer service I have ever had. never again' \
        '3	The meeting is moved to 3pm on Thursday' \
        '{"id": "4", "text": "sooooo happy for you guys!!! 🎉🎉"}' \
        'this line has no id or tab' |
        $bin score "$model" || true # exit 3: the last line is an error record, by design

step "3/5 start Kafka (127.0.0.1:$SS_KAFKA_PORT) and Redis (127.0.0.1:$SS_REDIS_PORT)"
deploy/local/kafka.sh stop >/dev/null 2>&1 || true
deploy/local/redis.sh stop >/dev/null 2>&1 || true
deploy/local/kafka.sh start
deploy/local/redis.sh start
deploy/local/kafka.sh create-topic tweets 4
deploy/local/kafka.sh create-topic tweet-predictions 4
deploy/local/kafka.sh create-topic tweets-dlq 1
deploy/local/kafka.sh create-topic model-retrain-triggers 1

common=(kafka.bootstrap.servers=127.0.0.1:"$SS_KAFKA_PORT" redis.port="$SS_REDIS_PORT")
serve=(consumer.model.path="$model")
card=${model%.ssm}.card.json
if [ "$mlflow_on" = 1 ]; then
        $bin models register "$model" --name "sentiment-$kind" --alias champion "${tracking[@]}"
        serve=(consumer.model.uri="models:/sentiment-$kind@champion" "${tracking[@]}")
        card=models-out/registry-cache # the scorer caches the version and its card here
fi

step "4/5 scorer + monitor running; replaying $data"
$bin consume "${common[@]}" "${serve[@]}" metrics.port="$mport" \
        >"$logs/consume.log" 2>&1 &
pids+=($!)
for _ in $(seq 300); do [ -e "$card" ] && break; sleep 0.1; done
$bin monitor "${common[@]}" monitor.card="$card" \
        monitor.metrics.port="$monport" >"$logs/monitor.log" 2>&1 &
pids+=($!)
# Produce once the scorer owns its partitions, so that the latency figures measure scoring,
# not the consumer group's first join.
for _ in $(seq 300); do grep -q "assigned" "$logs/consume.log" && break; sleep 0.1; done
grep -q "assigned" "$logs/consume.log" || { tail -n 20 "$logs/consume.log"; die "the scorer got no partitions in 30 s"; }

n=$(wc -l <"$data")
[ "$limit" -gt 0 ] && [ "$limit" -lt "$n" ] && n=$limit
lim=(); [ "$limit" -gt 0 ] && lim=(--limit "$limit")
t0=$(date +%s.%N)
$bin produce "$data" --created-at now "${lim[@]}" "${common[@]}"
$bin label "$data" "${lim[@]}" "${common[@]}" >"$logs/label.log" 2>&1 &
pids+=($!)

deadline=$(($(date +%s) + 300))
while :; do
        scored=$(metric "$mport" sentistream_scored_total)
        dead=$(metric "$mport" sentistream_dead_lettered_total)
        [ -t 1 ] && printf '\r  scored %s  dead-lettered %s  of %s' "$scored" "$dead" "$n"
        [ $((scored + dead)) -ge "$n" ] && break
        [ "$(date +%s)" -lt "$deadline" ] || { echo; tail -n 20 "$logs/consume.log"; die "not all tweets scored in 300 s"; }
        sleep 0.5
done
t1=$(date +%s.%N)
printf '\r  scored %s  dead-lettered %s  of %s\n' "$scored" "$dead" "$n"

step "5/5 what came out"
echo "a few predictions, decoded from topic tweet-predictions:"
$bin tail tweet-predictions --max 3 "${common[@]}" 2>/dev/null || true
awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "throughput: %d tweets in %.2f s = %.0f tweets/s (replay + scoring, one scorer)\n", n, b - a, n / (b - a) }'
echo "end-to-end latency (created_at -> scored_at): p50 <= $(quantile "$mport" sentistream_end_to_end_seconds 0.5) ms, p99 <= $(quantile "$mport" sentistream_end_to_end_seconds 0.99) ms"
echo "scoring latency per batch: p50 <= $(quantile "$mport" sentistream_scoring_seconds 0.5) ms, p99 <= $(quantile "$mport" sentistream_scoring_seconds 0.99) ms"
sleep 3 # let the monitor evaluate the last window
echo "monitor: $(metric "$monport" sentistream_monitor_predictions_total) predictions seen, $(metric "$monport" sentistream_monitor_joined_total) joined with labels, $(metric "$monport" sentistream_monitor_triggers_total) retrain events"
report=$(redis-cli -p "$SS_REDIS_PORT" --raw GET "sentistream:monitor:report:$($bin config show model="$kind" | awk '$1 == "model.name:" { print $2 }')" 2>/dev/null || true)
if [ -n "$report" ]; then
        echo "monitor report (Redis):"
        python3 -c 'import json, sys; r = json.loads(sys.argv[1]); print(json.dumps(r, indent=1)[:1500])' "$report" || echo "$report" | head -c 1500
fi
if $bin monitor report --html "$logs/drift-report.html" "${common[@]}" model="$kind" \
        > /dev/null 2> "$logs/report.log"; then
        echo "drift report (one HTML page): $(cd "$logs" && pwd)/drift-report.html"
else
        echo "drift report not written: $(cat "$logs/report.log")"
fi
echo
echo "logs: $logs/; metrics were served on :$mport (scorer) and :$monport (monitor)"
if [ "$mlflow_on" = 1 ]; then
        echo "MLflow UI: http://127.0.0.1:$SS_MLFLOW_PORT (experiment sentistream: runs and curves;"
        echo "  Models: sentiment-$kind with alias champion). It stops with the demo; the store is"
        echo "  kept: deploy/local/mlflow.sh start brings it back."
fi
if [ "$loop_on" = 1 ]; then
        step "the loop: drift event -> retrain -> promotion -> swap (SS_DEMO_LOOP=0 skips it)"
        if [ "$mlflow_on" != 1 ]; then
                mlflow_on=1 # stopped (store kept) with the rest
                deploy/local/mlflow.sh start
        fi
        echo "an LR trained with few negatives is the champion; the stream now holds many (deploy/loop/prepare.sh)"
        loop_lr=(model.logreg.dim_bits=16 model.logreg.max_iter=30)
        # a model name of its own per run: the MLflow store outlives the demo, and the worker
        # would take a version tagged with this run's event id as handled already
        SS_LOOP_MODEL_NAME=sentiment-loop-$(date +%Y%m%d-%H%M%S)
        export SS_LOOP_MODEL_NAME
        SS_BIN=$bin SS_LOOP_TRAIN_MAX=8000 SS_LOOP_STREAM=5000 deploy/loop/prepare.sh "$logs/loop" \
                "${loop_lr[@]}" "tracking.uri=http://127.0.0.1:$SS_MLFLOW_PORT"
        SS_BIN=$bin SS_LOOP_TIMEOUT=$loop_timeout deploy/loop/run.sh "$logs/loop" "${common[@]}" \
                "${loop_lr[@]}" "tracking.uri=http://127.0.0.1:$SS_MLFLOW_PORT" ||
                die "the loop did not close within ${loop_timeout} s (logs in $logs/loop/run/)"
        tweet=$(tail -n 1 "$logs/loop/stream.tsv" | cut -f1)
        echo "where the prediction of tweet $tweet came from (sentistream lineage --tweet $tweet):"
        $bin lineage --tweet "$tweet" "${common[@]}" "tracking.uri=http://127.0.0.1:$SS_MLFLOW_PORT" \
                topics.output=loop-predictions topics.retrain=loop-retrain-triggers |
                grep -v '^  [a-z_]*\.' || true
fi
step "stopping"
