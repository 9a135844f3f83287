#!/usr/bin/env bash
# The fine-tuned MiniLM model in fp32 against the same weights with int8 linear layers
# (model.minilm_ft.quantize=int8): `sentistream score` throughput on the same tweets, the two
# runs alternating (SS_BENCH_ROUNDS rounds, the best of each counts), and the share of tweets
# given the same label.
#
#   bench/bench_minilm_int8.sh FP32.ssm INT8.ssm
#       env: SS_BENCH_N=2000 tweets (the first N of the validation file), SS_BENCH_THREADS=2
#            (OPENBLAS_NUM_THREADS), SS_BENCH_BATCH=512, SS_BENCH_ROUNDS=3,
#            SS_BENCH_BUILD_DIR=build/bench
#
# Both files come from `sentistream train model=minilm_ft` (the second with
# model.minilm_ft.quantize=int8 model.out=..., which resumes from the finished checkpoint).
# AvgRec of each: `sentistream eval FILE data/semeval-2016test.tsv`.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -eq 2 ] || { echo "usage: bench/bench_minilm_int8.sh FP32.ssm INT8.ssm" >&2; exit 2; }
fp32=$1
int8=$2
build=${SS_BENCH_BUILD_DIR:-build/bench}
n=${SS_BENCH_N:-2000}
threads=${SS_BENCH_THREADS:-2}
batch=${SS_BENCH_BATCH:-512}
rounds=${SS_BENCH_ROUNDS:-3}
out=bench/out
mkdir -p "$out"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream > /dev/null
bin=$build/cli/sentistream
input=$out/int8-input.tsv
head -n "$n" data/semeval-2016test.tsv > "$input"
echo "bench: $n tweets, $threads threads, batch $batch; load average $(cut -d' ' -f1-3 /proc/loadavg)"

best_fp32=""
best_int8=""
for r in $(seq "$rounds"); do
  for kind in fp32 int8; do
    m=$fp32
    [ "$kind" = int8 ] && m=$int8
    start=$(date +%s.%N)
    OPENBLAS_NUM_THREADS=$threads "$bin" score "$m" --batch "$batch" < "$input" \
      > "$out/int8-$kind.jsonl"
    secs=$(awk "BEGIN{print $(date +%s.%N) - $start}")
    echo "  round $r $kind: $(printf %.2f "$secs") s"
    if [ "$kind" = fp32 ]; then
      if [ -z "$best_fp32" ] || awk "BEGIN{exit !($secs < $best_fp32)}"; then best_fp32=$secs; fi
    else
      if [ -z "$best_int8" ] || awk "BEGIN{exit !($secs < $best_int8)}"; then best_int8=$secs; fi
    fi
  done
done
same=$(paste -d'\t' <(sed -E 's/.*"label":"([a-z]+)".*/\1/' "$out/int8-fp32.jsonl") \
                    <(sed -E 's/.*"label":"([a-z]+)".*/\1/' "$out/int8-int8.jsonl") \
       | awk -F'\t' '$1 == $2 {s++} END {print s + 0}')
awk -v n="$n" -v a="$best_fp32" -v b="$best_int8" -v s="$same" 'BEGIN{
  printf "fp32: %.1f tweets/s   int8: %.1f tweets/s   int8 / fp32 = %.2fx; same label on %d of %d\n",
         n / a, n / b, a / b, s, n}'
echo "reproduce: bench/bench_minilm_int8.sh $fp32 $int8   (SS_BENCH_N=$n SS_BENCH_THREADS=$threads SS_BENCH_BATCH=$batch)"
