#!/usr/bin/env bash
# The fine-tuned MiniLM model in fp32 against the same weights with int8 linear layers
# (model.minilm_ft.quantize=int8): `sentistream score` throughput on the same tweets (wall-clock
# and per CPU-second, the whole process), the two runs alternating (SS_BENCH_ROUNDS rounds, the
# best of each counts), and the share of tweets given the same label.
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

declare -A best best_cpu
for r in $(seq "$rounds"); do
  for kind in fp32 int8; do
    m=$fp32
    [ "$kind" = int8 ] && m=$int8
    /usr/bin/time -f "%e %U %S" -o "$out/int8-time.txt" env OPENBLAS_NUM_THREADS="$threads" \
      "$bin" score "$m" --batch "$batch" < "$input" > "$out/int8-$kind.jsonl"
    read -r secs usr sys < "$out/int8-time.txt"
    cpu=$(awk "BEGIN{print $usr + $sys}")
    echo "  round $r $kind: $secs s wall, $cpu s CPU"
    if [ -z "${best[$kind]:-}" ] || awk "BEGIN{exit !($secs < ${best[$kind]})}"; then
      best[$kind]=$secs
    fi
    if [ -z "${best_cpu[$kind]:-}" ] || awk "BEGIN{exit !($cpu < ${best_cpu[$kind]})}"; then
      best_cpu[$kind]=$cpu
    fi
  done
done
same=$(paste -d'\t' <(sed -E 's/.*"label":"([a-z]+)".*/\1/' "$out/int8-fp32.jsonl") \
                    <(sed -E 's/.*"label":"([a-z]+)".*/\1/' "$out/int8-int8.jsonl") \
       | awk -F'\t' '$1 == $2 {s++} END {print s + 0}')
awk -v n="$n" -v a="${best[fp32]}" -v b="${best[int8]}" -v ca="${best_cpu[fp32]}" \
    -v cb="${best_cpu[int8]}" -v s="$same" 'BEGIN{
  printf "fp32: %.1f tweets/s wall, %.1f per CPU-second   int8: %.1f tweets/s wall, %.1f per CPU-second\n",
         n / a, n / ca, n / b, n / cb
  printf "int8 / fp32 = %.2fx wall, %.2fx CPU; same label on %d of %d\n", a / b, ca / cb, s, n}'
echo "reproduce: bench/bench_minilm_int8.sh $fp32 $int8   (SS_BENCH_N=$n SS_BENCH_THREADS=$threads SS_BENCH_BATCH=$batch)"
