#!/usr/bin/env bash
# Throughput of `sentistream monitor` through a real Kafka broker and Redis, beside the broker's
# own ceiling on the same topic in the same run.
#
#   1. Kafka and Redis start on loopback (deploy/local/kafka.sh, redis.sh; ports from
#      SS_BENCH_PORT_BASE). The 2016 test file, repeated with unique tweet ids up to N tweets,
#      is produced to a tweets topic and scored by `sentistream consume` with the LR model: the
#      predictions topic then holds exactly what the scorer writes (the production encoder).
#      A share of the tweets' gold labels (SS_BENCH_LABEL_SHARE, default 0.1, every k-th
#      tweet) goes to the Redis labels stream with `sentistream label`.
#   2. passthrough: kcat reads the predictions topic from the beginning to its end and only
#      counts (no group, no decode): the broker's ceiling for one consumer on this machine.
#   3. the monitor: `sentistream monitor` with the default configuration (label shift and
#      CBPE on, card beside the model), a new consumer group, from the beginning of the topic;
#      one setting differs: monitor.join.max.pending holds every prediction and label of the
#      run (N + labels; default 200,000), so that every label meets its prediction (here all
#      labels are in Redis before the predictions are read, and the 90 % of predictions that
#      get no label would otherwise push the waiting labels out);
#      timed from process start to its counter sentistream_monitor_predictions_total = N
#      (polled every 50 ms), and from its first counted prediction (without the group join).
#   Passthrough runs before and after each monitor run; the figures are their medians.
#
#   bench/bench_monitor_kafka.sh [N]      N tweets and predictions (default 1000000)
# Env: SS_BENCH_BUILD_DIR (default build/rel, Release), SS_BENCH_MODEL (default
# models-out/logreg.ssm with its card, trained if missing), SS_BENCH_PORT_BASE (default 29700:
# Kafka +0, controller +1, Redis +2, monitor metrics +3, scorer metrics +4),
# SS_BENCH_LABEL_SHARE (0.1), SS_BENCH_RUNS (monitor runs, default 1), SS_BENCH_PERF=1 (record
# the last monitor run with `perf record` and print its top entries, all threads),
# SS_BENCH_COMPARE_BIN (another sentistream binary, e.g. an older build: each run then also
# times it, right after the build's monitor, on the same topic with its own group and labels;
# SS_BENCH_COMPARE_FIRST=1 runs it first in each pair instead).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
n=${1:-1000000}
build=${SS_BENCH_BUILD_DIR:-build/rel}
model=${SS_BENCH_MODEL:-models-out/logreg.ssm}
base=${SS_BENCH_PORT_BASE:-29700}
share=${SS_BENCH_LABEL_SHARE:-0.1}
runs=${SS_BENCH_RUNS:-1}
kport=$base cport=$((base + 1)) rport=$((base + 2)) mport=$((base + 3)) sport=$((base + 4))
bs=127.0.0.1:$kport
val=data/semeval-2016test.tsv
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-bench-monkafka.XXXXXX")
tag=b$(date +%s)
pids=()

kafka() { deploy/local/kafka.sh "$@" --port "$kport" --controller-port "$cport"; }
redis() { deploy/local/redis.sh "$@" --port "$rport"; }
cleanup() {
        for p in "${pids[@]}"; do kill -TERM "$p" 2> /dev/null || true; done
        for p in "${pids[@]}"; do wait "$p" 2> /dev/null || true; done
        kafka stop > /dev/null 2>&1 || true
        redis stop > /dev/null 2>&1 || true
        rm -rf "$work"
}
trap cleanup EXIT
die() {
        echo "bench_monitor_kafka: $*" >&2
        exit 1
}
now() { date +%s.%N; }
metric() { # metric PORT NAME: the counter's value, empty while the endpoint is not up
        { curl -s "http://127.0.0.1:$1/metrics" || true; } | awk -v k="$2" '$1 == k { print $2; exit }'
}
ge() { awk -v a="${1:-0}" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; } # counters print as 1e+06
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream > /dev/null
bin=$build/cli/sentistream
if [ ! -f "$model" ]; then
        echo "== training $model (not found)"
        "$bin" train model.out="$model" > "$work/train.log" 2>&1 || die "train: $(tail -n 5 "$work/train.log")"
fi
card=${model%.ssm}.card.json
[ -f "$card" ] || die "no card beside the model ($card)"

echo "== services: Kafka $kport, Redis $rport (load average: $(cut -d' ' -f1-3 /proc/loadavg))"
deploy/local/kafka.sh fetch > /dev/null
kafka start > "$work/kafka.log" 2>&1 || die "kafka start: $(tail -n 5 "$work/kafka.log")"
redis start > "$work/redis.log" 2>&1 || die "redis start: $(tail -n 5 "$work/redis.log")"
tw=$tag-tweets pr=$tag-predictions
for t in "$tw" "$pr" "$tag-dlq" "$tag-retrain"; do
        kafka create-topic "$t" 1 > /dev/null || die "create topic $t"
done
topics=(kafka.bootstrap.servers="$bs" topics.input="$tw" topics.output="$pr"
        topics.dlq="$tag-dlq" topics.retrain="$tag-retrain")

echo "== $n tweets: $val repeated with unique ids, scored by sentistream consume ($model)"
awk -F '\t' -v n="$n" -v OFS='\t' '{ row[NR] = $0 } END {
        for (i = 0; i < n; i++) {
                split(row[i % NR + 1], f, "\t")
                printf "70000000%010d\t%s\t%s\n", i, f[2], f[3] # 18-digit ids
        } }' "$val" > "$work/tweets.tsv"
awk -F '\t' -v s="$share" 's > 0 && NR % int(1 / s + 0.5) == 0' "$work/tweets.tsv" > "$work/labels.tsv"
nlabels=$(wc -l < "$work/labels.tsv")
"$bin" produce "$work/tweets.tsv" --created-at now "${topics[@]}" > "$work/produce.log" 2>&1 ||
        die "produce: $(tail -n 5 "$work/produce.log")"
"$bin" consume "${topics[@]}" consumer.model.path="$model" consumer.group.id="$tag-scorer" \
        metrics.port="$sport" > "$work/scorer.log" 2>&1 &
scorer=$!
pids+=("$scorer")
t=$(now)
until ge "$(metric "$sport" sentistream_scored_total)" "$n"; do
        kill -0 "$scorer" 2> /dev/null || die "the scorer exited: $(tail -n 5 "$work/scorer.log")"
        awk -v a="$(now)" -v b="$t" 'BEGIN { exit !(a - b > 600) }' && die "scoring timed out"
        sleep 0.2
done
kill -TERM "$scorer"
wait "$scorer" || die "the scorer did not stop cleanly: $(tail -n 5 "$work/scorer.log")"
pids=()
echo "scored $n tweets in $(awk -v a="$(now)" -v b="$t" 'BEGIN { printf "%.1f", a - b }') s"

passthrough() { # one kcat run over the whole topic; appends messages/s from process start to pt
        local t0 t1 c
        t0=$(now)
        c=$(kcat -C -b "$bs" -t "$pr" -o beginning -e -q -f '\n' | wc -l)
        t1=$(now)
        [ "$c" = "$n" ] || die "passthrough read $c messages, want $n"
        pt+=("$(awk -v n="$n" -v a="$t1" -v b="$t0" 'BEGIN { printf "%.0f", n / (a - b) }')")
}

monitor_run() { # monitor_run R [BIN]: one monitor run over the topic; sets ms_r, mf_r, join_s
        local r=$1 mbin=${2:-$bin} prefix=$tag-$1${2:+-b}: t0 tf='' tp='' p mon perf=''
        "$bin" label "$work/labels.tsv" --no-text redis.port="$rport" redis.prefix="$prefix" \
                > "$work/label.log" 2>&1 || die "label: $(tail -n 5 "$work/label.log")"
        t0=$(now)
        "$mbin" monitor "${topics[@]}" consumer.model.path="$model" \
                redis.port="$rport" redis.prefix="$prefix" monitor.group.id="$tag-${prefix%:}" \
                monitor.metrics.port="$mport" monitor.join.max.pending=$((n + nlabels)) \
                > "$work/monitor.log" 2>&1 &
        mon=$!
        pids+=("$mon")
        if [ "${SS_BENCH_PERF:-0}" = 1 ] && [ "$r" = "$runs" ] && [ -z "${2:-}" ]; then
                perf record -F 2000 -p "$mon" -o "$work/perf.data" > "$work/perf.log" 2>&1 &
                perf=$!
        fi
        while [ -z "$tp" ]; do
                kill -0 "$mon" 2> /dev/null || die "the monitor exited: $(tail -n 5 "$work/monitor.log")"
                p=$(metric "$mport" sentistream_monitor_predictions_total)
                t=$(now)
                [ -z "$tf" ] && [ "${p:-0}" != 0 ] && tf=$t
                ge "$p" "$n" && tp=$t
                awk -v a="$t" -v b="$t0" 'BEGIN { exit !(a - b > 600) }' &&
                        die "the monitor timed out at ${p:-?} predictions"
                sleep 0.05
        done
        if [ -n "$perf" ]; then
                kill -INT "$perf"
                wait "$perf" || true
        fi
        local joined bad
        joined=$(metric "$mport" sentistream_monitor_joined_total)
        bad=$(metric "$mport" sentistream_monitor_invalid_predictions_total)
        [ "${bad:-0}" = 0 ] || die "the monitor refused ${bad} predictions"
        ge "$joined" "$nlabels" || die "only ${joined:-0} of $nlabels labels joined"
        kill -TERM "$mon"
        wait "$mon" || die "the monitor did not stop cleanly: $(tail -n 5 "$work/monitor.log")"
        pids=()
        echo "monitor run $r ($mbin): $n predictions, ${joined:-0} of $nlabels labels joined"
        read -r ms_r mf_r join_s <<< "$(awk -v n="$n" -v a="$tp" -v b="$t0" -v f="$tf" \
                'BEGIN { printf "%.0f %.0f %.2f", n / (a - b), n / (a - f), f - b }')"
}

echo "== passthrough (kcat, counting) and sentistream monitor, alternating; $nlabels labels in Redis"
pt=() ms=() mf=() cs=()
passthrough
for r in $(seq "$runs"); do
        compare() {
                monitor_run "$r" "$SS_BENCH_COMPARE_BIN"
                cs+=("$ms_r")
                echo "run $r: compared binary $ms_r/s from process start ($mf_r/s from the first" \
                        "prediction)"
        }
        [ -n "${SS_BENCH_COMPARE_BIN:-}" ] && [ "${SS_BENCH_COMPARE_FIRST:-0}" = 1 ] && compare
        monitor_run "$r"
        ms+=("$ms_r") mf+=("$mf_r")
        if [ -n "${SS_BENCH_COMPARE_BIN:-}" ] && [ "${SS_BENCH_COMPARE_FIRST:-0}" != 1 ]; then
                a=("$ms_r" "$mf_r" "$join_s")
                compare
                read -r ms_r mf_r join_s <<< "${a[*]}"
        fi
        passthrough
        echo "run $r: passthrough ${pt[-2]}/s and ${pt[-1]}/s around it; monitor $ms_r/s from" \
                "process start ($mf_r/s from the first prediction, $join_s s to it)"
done
p=$(printf '%s\n' "${pt[@]}" | median)
s=$(printf '%s\n' "${ms[@]}" | median)
f=$(printf '%s\n' "${mf[@]}" | median)
awk -v p="$p" -v s="$s" -v f="$f" -v n="$n" -v l="$(cut -d' ' -f1-3 /proc/loadavg)" 'BEGIN {
        printf "RESULT n=%d passthrough_per_s=%.0f monitor_per_s=%.0f monitor_from_first_per_s=%.0f ", n, p, s, f
        printf "ratio=%.3f target_100k=%s load_average=\"%s\"\n", s / p, (s >= 100000 ? "met" : "MISSED"), l
}'
if [ ${#cs[@]} -gt 0 ]; then
        c=$(printf '%s\n' "${cs[@]}" | median)
        awk -v c="$c" -v s="$s" -v b="$SS_BENCH_COMPARE_BIN" 'BEGIN {
                printf "RESULT compared_per_s=%.0f (%s) this_build_over_compared=%.3f\n", c, b, s / c }'
fi
if [ "${SS_BENCH_PERF:-0}" = 1 ]; then
        echo "== perf: top entries of the last monitor run (self time)"
        perf report -i "$work/perf.data" --no-children --sort comm,dso,sym --percent-limit 1 \
                --stdio 2> /dev/null | grep -E '^ +[0-9]' | head -n 30
fi
echo "reproduce: SS_BENCH_PORT_BASE=$base SS_BENCH_BUILD_DIR=$build bench/bench_monitor_kafka.sh $n"
