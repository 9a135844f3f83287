#!/usr/bin/env bash
# The closed loop on running services (Kafka, Redis, MLflow), narrated as it happens:
#
#   scorer (`consume`, serving models:/NAME@champion, following model updates)
#   + drift monitor (`monitor`) + retrain worker (`retrain`) start; the stream of
#   deploy/loop/prepare.sh arrives (tweets on the input topic, their labels with text in Redis);
#   the monitor fires a retrain event -> the worker retrains on the fresh labels -> the
#   challenger wins and becomes champion -> the scorer swaps and the monitor re-baselines on the
#   new version's card -> the rest of the stream is scored by the new version.
#
# usage: deploy/loop/run.sh LOOP_DIR [key=value ...]
#   LOOP_DIR  made by deploy/loop/prepare.sh with tracking.uri (stream.tsv, champion.card.json,
#             the champion registered as SS_LOOP_MODEL_NAME@champion)
#   key=value for all three processes; kafka.bootstrap.servers, redis.port and tracking.uri
#             name the services; later ones override the loop's settings below.
# env: SS_BIN (default build/release/cli/sentistream); SS_KAFKA_PORT (deploy/local/kafka.sh
#   creates the topics there); SS_LOOP_MODEL_NAME (sentiment-loop); SS_LOOP_PHASE1 (tweets
#   produced before the swap, default 60 % of the stream: the rest waits for the new model);
#   SS_LOOP_TIMEOUT (seconds for the whole loop, default 600); SS_LOOP_METRICS_PORT (the
#   scorer's metrics port, default 9470; the monitor's is +1, the worker's +2).
#
# Topics loop-tweets, loop-predictions, loop-dlq, loop-retrain-triggers, loop-model-updates
# and the Redis prefix sentistream:loop: keep the loop apart from anything else on the
# services. Writes LOOP_DIR/run/: the three logs, predictions.jsonl, events.jsonl and
# updates.jsonl (the topics decoded), timeline.tsv (step, epoch ms) and summary.txt.
# Exit status: 0 when the loop closed (event, promotion, swap, every tweet scored), 1 if not.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
dir=$1
shift
bin=${SS_BIN:-$root/build/release/cli/sentistream}
name=${SS_LOOP_MODEL_NAME:-sentiment-loop}
timeout=${SS_LOOP_TIMEOUT:-600}
mport=${SS_LOOP_METRICS_PORT:-9470}
stream=$dir/stream.tsv
if [ ! -f "$stream" ] || [ ! -f "$dir/champion.card.json" ]; then echo "loop: $dir: run deploy/loop/prepare.sh first" >&2; exit 2; fi
n=$(wc -l <"$stream")
p1=${SS_LOOP_PHASE1:-$((n * 6 / 10))}
run=$dir/run
rm -rf "$run"
mkdir -p "$run"

t_start=$(date +%s%3N)
say() { # say TEXT: one step, with the time since the start
        printf 'loop %7.1f s  %s\n' "$(awk -v a="$t_start" -v b="$(date +%s%3N)" 'BEGIN { print (b - a) / 1000 }')" "$*"
}
mark() { printf '%s\t%s\n' "$1" "$2" >>"$run/timeline.tsv"; } # mark STEP EPOCH_MS
log_ms() { # log_ms LINE: the epoch ms of a log line's ISO timestamp
        date -d "$(cut -d' ' -f1 <<<"$1")" +%s%3N
}
die() {
        echo "loop: $*" >&2
        for f in "$run"/*.log; do echo "--- tail of $f" >&2; tail -n 15 "$f" >&2; done
        exit 1
}

topics=(topics.input=loop-tweets topics.output=loop-predictions topics.dlq=loop-dlq
        topics.retrain=loop-retrain-triggers topics.model_updates=loop-model-updates
        redis.prefix=sentistream:loop:)
for t in loop-tweets:2 loop-predictions:2 loop-dlq:1 loop-retrain-triggers:1 loop-model-updates:1; do
        "$root/deploy/local/kafka.sh" create-topic "${t%:*}" "${t#*:}" >/dev/null 2>&1 ||
                die "creating topic ${t%:*} (is Kafka on SS_KAFKA_PORT=${SS_KAFKA_PORT:-9092}?)"
done
common=("${topics[@]}" "$@")
# the scorer follows the champion; small windows so that a few thousand tweets suffice
scorer=(consumer.model.uri="models:/$name@champion" consumer.model.cache_dir="$run/cache"
        consumer.group.id=loop-scorer metrics.port="$mport")
monitor=(monitor.card="$dir/champion.card.json" monitor.model.cache_dir="$run/cards"
        monitor.group.id=loop-monitor monitor.metrics.port=$((mport + 1))
        monitor.window.size=1000 monitor.eval.every=250 monitor.label_shift.min.samples=1000
        monitor.min.samples=500 monitor.perf.min.labels=300 monitor.trigger.cooldown.s=3600)
worker=(retrain.registry.name="$name" retrain.group.id=loop-retrain retrain.work.dir="$run/work"
        retrain.metrics.port=$((mport + 2)) retrain.fresh.min=500 retrain.holdout.share=0.3
        retrain.fresh.weight=2 retrain.promote.margin=0.02 retrain.reference.max_drop=0.05
        retrain.wait.ms=2000)

pids=()
stop_all() {
        for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
        for p in "${pids[@]}"; do
                for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
                kill -9 "$p" 2>/dev/null || true
        done
        pids=()
}
trap stop_all EXIT
"$bin" consume "${scorer[@]}" "${common[@]}" >"$run/consume.log" 2>&1 &
pids+=($!)
"$bin" monitor "${monitor[@]}" "${common[@]}" >"$run/monitor.log" 2>&1 &
pids+=($!)
"$bin" retrain "${worker[@]}" "${common[@]}" >"$run/retrain.log" 2>&1 &
pids+=($!)
deadline=$(($(date +%s) + timeout))
wait_line() { # wait_line FILE PATTERN WHAT: the first line of FILE matching PATTERN
        local l
        while :; do
                l=$(grep -m 1 -E -- "$2" "$1" 2>/dev/null || true)
                [ -n "$l" ] && { echo "$l"; return 0; }
                for p in "${pids[@]}"; do kill -0 "$p" 2>/dev/null || die "a process exited while waiting for $3"; done
                [ "$(date +%s)" -lt "$deadline" ] || die "no $3 within SS_LOOP_TIMEOUT=${timeout}s"
                sleep 0.2
        done
}
wait_line "$run/consume.log" "assigned [0-9]+ partition" "scorer assignment" >/dev/null
v1=$(grep -m 1 -oE "model [^ ]+ [^ ]+ \([^)]*\)" "$run/consume.log" || true)
wait_line "$run/retrain.log" "consuming .* in group" "worker start" >/dev/null
wait_line "$run/monitor.log" "reading .* labels from Redis" "monitor start" >/dev/null
say "scorer serving models:/$name@champion ($v1), drift monitor and retrain worker running"

produce() { # produce FROM TO: stream lines FROM..TO as tweets, then their labels (with text)
        sed -n "$1,$2p" "$stream" >"$run/part.tsv"
        "$bin" produce "$run/part.tsv" --created-at now "${common[@]}" >>"$run/produce.log" 2>&1 ||
                die "produce"
        "$bin" label "$run/part.tsv" "${common[@]}" >>"$run/label.log" 2>&1 || die "label"
}
share() { # share FROM TO: the class mix of stream lines FROM..TO
        sed -n "$1,$2p" "$stream" | awk -F'\t' '{ c[$2]++; t++ } END { printf "negative %.2f, neutral %.2f, positive %.2f", c["negative"] / t, c["neutral"] / t, c["positive"] / t }'
}
produce 1 "$p1"
say "stream: $p1 tweets ($(share 1 "$p1")), their labels with text into Redis"

l=$(wait_line "$run/monitor.log" "retraining event .* sent to" "retrain event")
event=$(sed -E 's/.*retraining event ([^ ]+) sent to.*/\1/' <<<"$l")
mark event "$(log_ms "$l")"
say "EVENT      $event: ${l#*: }"
l=$(wait_line "$run/retrain.log" "$event: " "worker pickup")
mark worker_start "$(log_ms "$l")"
say "RETRAIN    worker took the event: ${l#*"$event": }"
l=$(wait_line "$run/retrain.log" "$event: training a " "training start")
mark training_start "$(log_ms "$l")"
say "RETRAIN    ${l#*"$event": }"
l=$(wait_line "$run/retrain.log" "$event: challenger trained in" "training end")
mark training_end "$(log_ms "$l")"
say "RETRAIN    ${l#*"$event": }"
l=$(wait_line "$run/retrain.log" "$event: (promote|reject): " "decision")
mark evaluated "$(log_ms "$l")"
say "DECISION   ${l#*"$event": }"
grep -q "$event: promote: " <<<"$l" || die "the challenger was not promoted"
l=$(wait_line "$run/retrain.log" "$event: registered " "registration")
mark registered "$(log_ms "$l")"
say "REGISTRY   ${l#*"$event": }"
l=$(wait_line "$run/retrain.log" "$event: .*@champion -> version" "promotion")
mark promoted "$(log_ms "$l")"
say "PROMOTION  ${l#*"$event": }"
l=$(wait_line "$run/retrain.log" "$event: promoted version" "publication")
mark published "$(log_ms "$l")"
say "PUBLISHED  ModelUpdate for $name@champion on loop-model-updates"
l=$(wait_line "$run/consume.log" "model reload \(" "scorer swap")
mark swapped "$(log_ms "$l")"
say "SWAP       scorer: ${l#*consume: }"
swap_line=$l
m=$(wait_line "$run/monitor.log" "switched .* re-baselined" "monitor re-baseline")
say "MONITOR    ${m#*monitor: }"
l=$swap_line

if [ "$p1" -lt "$n" ]; then
        produce $((p1 + 1)) "$n"
        say "stream: $((n - p1)) more tweets ($(share $((p1 + 1)) "$n")) and their labels"
fi
scored=0
while [ "$scored" -lt "$n" ]; do
        scored=$(curl -sf "http://127.0.0.1:$mport/metrics" |
                awk '$1 == "sentistream_scored_total" || $1 == "sentistream_dead_lettered_total" { s += $2 } END { printf "%d", s }')
        [ "$(date +%s)" -lt "$deadline" ] || die "only $scored of $n tweets scored within SS_LOOP_TIMEOUT=${timeout}s"
        sleep 0.5
done
sleep 2 # the monitor reads the last predictions
stop_all
for t in predictions:loop-predictions events:loop-retrain-triggers updates:loop-model-updates; do
        "$bin" tail "${t#*:}" --timeout 60 "${common[@]}" >"$run/${t%:*}.jsonl" 2>>"$run/tail.log" ||
                die "reading topic ${t#*:}"
done

# the first prediction of the new version, and AvgRec by version from the stream's labels
new=$(sed -E 's/^([^ @]+ )?([^ ]+@[^ ]+).*/\2/' <<<"${l##*-> }") # the model_version swapped to
awk -F'\t' -v new="$new" -v tl="$run/timeline.tsv" '
        function field(s, k,   m) { if (match(s, "\"" k "\":\"[^\"]*\"")) { m = substr(s, RSTART, RLENGTH); sub("^\"" k "\":\"", "", m); sub("\"$", "", m); return m }
                                   if (match(s, "\"" k "\":[0-9.e+-]+")) { m = substr(s, RSTART, RLENGTH); sub("^\"" k "\":", "", m); return m } return "" }
        FNR == NR { truth[$1] = $2; next }
        { id = field($0, "key"); v = field($0, "model_version"); lab = field($0, "label"); at = field($0, "scored_at")
          seen[id]++; n[v]++; cls[v, truth[id]]++; if (lab == truth[id]) ok[v, lab]++
          if (v == new && (first == "" || at + 0 < first + 0)) first = at }
        END {
          for (id in truth) { if (!(id in seen)) lost++; else if (seen[id] > 1) dup++ }
          printf "tweets %d, predictions: lost %d, scored twice %d\n", length(truth), lost, dup
          for (v in n) { a = 0; for (k = 1; k <= 3; k++) { c = k == 1 ? "negative" : k == 2 ? "neutral" : "positive"
                                                         a += cls[v, c] ? ok[v, c] / cls[v, c] : 0 }
                         printf "AvgRec %.4f over the %d predictions of %s\n", a / 3, n[v], v }
          if (first != "") printf "first_prediction\t%.0f\n", first >>tl
        }' "$stream" "$run/predictions.jsonl" >"$run/summary.txt"
grep -q first_prediction "$run/timeline.tsv" || die "no prediction by $new"
awk -F'\t' '{ t[$1] = $2 } END {
        printf "event -> first prediction by the new model: %.1f s\n", (t["first_prediction"] - t["event"]) / 1000
        printf "  event -> worker start %.1f s; champion and fresh labels %.1f s; training %.1f s; evaluation %.1f s;\n",
               (t["worker_start"] - t["event"]) / 1000, (t["training_start"] - t["worker_start"]) / 1000,
               (t["training_end"] - t["training_start"]) / 1000, (t["evaluated"] - t["training_end"]) / 1000
        printf "  registration %.1f s; promotion and publish %.1f s; scorer swap %.1f s; swap -> first prediction %.1f s\n",
               (t["registered"] - t["evaluated"]) / 1000, (t["published"] - t["registered"]) / 1000,
               (t["swapped"] - t["published"]) / 1000, (t["first_prediction"] - t["swapped"]) / 1000
        }' "$run/timeline.tsv" >>"$run/summary.txt"
say "done"
sed 's/^/  /' "$run/summary.txt"
