#!/usr/bin/env bash
# Profile of the scorer's hot path: `perf record` of the release scorer (LR model,
# consumer.score.threads=3) reading a preloaded topic flat out through a local broker;
# prints the top entries of `perf report` (self time, by symbol), then the samples by thread
# (the scoring loop and its workers are "sentistream", librdkafka's are "rdk:*"; at 999
# samples a second, the count over the tweets is the CPU time per tweet).
#   bench/profile_stream.sh    env: SS_TEST_PORT_BASE (broker on base+92/93),
#                              SS_BENCH_BUILD_DIR=build/rel, SS_PROFILE_REPS=10 (copies of
#                              the validation file: 205,560 tweets), SS_PROFILE_ARGS (more
#                              scorer overrides, e.g. consumer.delivery=exactly_once
#                              consumer.instance.id=p)
# Output in bench/out/profile.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${SS_BENCH_BUILD_DIR:-build/rel}
reps=${SS_PROFILE_REPS:-10}
export SS_BIN=$root/$build/cli/sentistream SS_SOURCE_DIR=$root
. tests/integration/consume_lib.sh
port=$(ss_port 495)
mkdir -p bench/out
ss_kafka_start
ss_model
ss_topic prof 4
ss_topic prof-out 4
ss_topic prof-dlq 1
for _ in $(seq "$reps"); do cat "$src/data/semeval-2016test.tsv"; done >"$work/in.tsv"
n=$(wc -l <"$work/in.tsv")
"$SS_BIN" produce "$work/in.tsv" topics.input=prof kafka.bootstrap.servers="$bs" >/dev/null
perf record -F 999 -g -o "$work/perf.data" -- "$SS_BIN" consume kafka.bootstrap.servers="$bs" \
        consumer.model.path="$model" topics.input=prof topics.output=prof-out topics.dlq=prof-dlq \
        consumer.score.threads=3 metrics.port=$port ${SS_PROFILE_ARGS:-} >"$work/consume.log" 2>&1 &
ppid_=$!
bg_pids+=("$ppid_")
ss_wait_metric $port sentistream_consumed_total "$n" 300
kill -TERM "$ppid_"
wait "$ppid_" || true
{
        echo "# bench/profile_stream.sh, $(date -u +%FT%TZ), $n tweets, ${SS_PROFILE_ARGS:-at-least-once}"
        perf report -i "$work/perf.data" --stdio --no-children --sort symbol 2>/dev/null |
                grep -E '^ +[0-9.]+%' | awk 'NR <= 25'
        echo "# by thread (share, samples):"
        perf report -i "$work/perf.data" --stdio -n --no-children --sort comm 2>/dev/null |
                grep -E '^ +[0-9.]+%' | awk -v n="$n" '{ s += $2; print } END {
                        printf "# %d samples at 999 Hz: %.2f us of CPU per tweet\n", s, s / 999 * 1e6 / n }'
} | tee bench/out/profile.txt
