#!/usr/bin/env bash
# Scoring throughput of the text CNN on 2 cores, against the logistic-regression model in the
# same run, on the same tweets.
#
#   bench/bench_cnn.sh     env: SS_BENCH_REPS=3 copies of the validation file
#                               SS_BENCH_THREADS=2 (OPENBLAS_NUM_THREADS; taskset to that many CPUs)
#                               SS_BENCH_BATCH=512 (texts per ss_model_score_batch call)
#                               SS_BENCH_CNN=models-out/cnn.ssm, SS_BENCH_LR=models-out/logreg.ssm
#                               (each trained once if missing), SS_BENCH_BUILD_DIR=build/bench
#
# Three figures per model, each the best of 3 passes:
#   in-process: bench/bench_model.c, ss_model_score_batch over the texts (what the consumer
#               calls) in one process with $SS_BENCH_THREADS BLAS threads, plus, for the CNN,
#               its front end (tokenizer + WordPiece) and network forward pass timed apart;
#   2 x 1:      two such processes at once, one per CPU, one BLAS thread each (how the
#               consumer scales: more processes in the same consumer group); their rates add;
#   CLI:        the whole `sentistream score` process, TSV in and JSON lines out.
# The in-process figures also come per CPU-second of the scoring processes: where other work
# shares the CPUs the wall-clock rates fall, the CPU-time rates much less (for 2 x 1, the sum
# of both processes' rates per CPU-second is what 2 idle cores would give).
# Target: CNN >= 50,000 tweets/s on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${SS_BENCH_BUILD_DIR:-build/bench}
reps=${SS_BENCH_REPS:-3}
threads=${SS_BENCH_THREADS:-2}
batch=${SS_BENCH_BATCH:-512}
cnn=${SS_BENCH_CNN:-models-out/cnn.ssm}
lr=${SS_BENCH_LR:-models-out/logreg.ssm}
val=data/semeval-2016test.tsv
out=bench/out
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream bench_model > /dev/null
bin=$build/cli/sentistream
if [ ! -s "$cnn" ]; then
  echo "bench: training $cnn (once)"
  "$bin" train model=cnn model.out="$cnn" > "$out/train-cnn.log"
fi
if [ ! -s "$lr" ]; then
  echo "bench: training $lr (once)"
  "$bin" train model=logreg model.out="$lr" > "$out/train-logreg.log"
fi

input=$out/cnn-input.tsv
for _ in $(seq "$reps"); do cat "$val"; done > "$input"
n=$(wc -l < "$input")
cpus=$(seq -s, 0 $((threads - 1)))
pin=(taskset -c "$cpus" env OPENBLAS_NUM_THREADS="$threads")
echo "bench: $n tweets ($reps x $val), $threads threads on CPUs $cpus, batch $batch"

# two single-threaded bench_model processes on CPUs 0 and 1 at once: prints their summed tweets/s
pair_rate() {
  local model=$1
  taskset -c 0 env OPENBLAS_NUM_THREADS=1 "$build/bench/bench_model" "$model" "$val" "$batch" \
    "$reps" > "$out/pair0.txt" &
  local p0=$!
  taskset -c 1 env OPENBLAS_NUM_THREADS=1 "$build/bench/bench_model" "$model" "$val" "$batch" \
    "$reps" > "$out/pair1.txt" &
  local p1=$!
  wait "$p0" "$p1"
  local r0 r1 c0 c1
  r0=$(sed -n 's/^score: \([0-9]*\) tweets.*/\1/p' "$out/pair0.txt")
  r1=$(sed -n 's/^score: \([0-9]*\) tweets.*/\1/p' "$out/pair1.txt")
  c0=$(sed -n 's/^cpu: \([0-9]*\) tweets.*/\1/p' "$out/pair0.txt")
  c1=$(sed -n 's/^cpu: \([0-9]*\) tweets.*/\1/p' "$out/pair1.txt")
  echo "$((r0 + r1)) $((c0 + c1))"
}

# best of 3 `sentistream score` runs: prints tweets/s
cli_rate() {
  local model=$1 best=""
  for _ in 1 2 3; do
    local start end secs
    start=$(date +%s.%N)
    "${pin[@]}" "$bin" score "$model" --batch "$batch" < "$input" > "$out/cnn-score.jsonl"
    end=$(date +%s.%N)
    secs=$(awk "BEGIN{print $end - $start}")
    if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; fi
  done
  local lines
  lines=$(wc -l < "$out/cnn-score.jsonl")
  [ "$lines" = "$n" ] || { echo "bench: $lines output lines for $n tweets" >&2; exit 1; }
  awk "BEGIN{printf \"%.0f\", $n / $best}"
}

echo "== cnn ($cnn)"
"${pin[@]}" "$build/bench/bench_model" "$cnn" "$val" "$batch" "$reps" | tee "$out/bench-cnn.txt"
cnn_rate=$(sed -n 's/^score: \([0-9]*\) tweets.*/\1/p' "$out/bench-cnn.txt")
cnn_cpu=$(sed -n 's/^cpu: \([0-9]*\) tweets.*/\1/p' "$out/bench-cnn.txt")
read -r cnn_pair cnn_pair_cpu < <(pair_rate "$cnn")
echo "2 processes x 1 thread: $cnn_pair tweets/s ($cnn_pair_cpu per CPU-second, summed)"
cnn_cli=$(cli_rate "$cnn")
echo "sentistream score (CLI, JSON out): $cnn_cli tweets/s"

echo "== logreg ($lr)"
"${pin[@]}" "$build/bench/bench_model" "$lr" "$val" "$batch" "$reps" | tee "$out/bench-lr.txt"
lr_rate=$(sed -n 's/^score: \([0-9]*\) tweets.*/\1/p' "$out/bench-lr.txt")
lr_cpu=$(sed -n 's/^cpu: \([0-9]*\) tweets.*/\1/p' "$out/bench-lr.txt")
read -r lr_pair lr_pair_cpu < <(pair_rate "$lr")
echo "2 processes x 1 thread: $lr_pair tweets/s ($lr_pair_cpu per CPU-second, summed)"
lr_cli=$(cli_rate "$lr")
echo "sentistream score (CLI, JSON out): $lr_cli tweets/s"

echo "== summary ($(nproc) CPUs here, load average $(cut -d' ' -f1-3 /proc/loadavg))"
met() { awk "BEGIN{print ($1 >= 50000) ? \"met\" : \"NOT met\"}"; }
echo "cnn:    $cnn_rate tweets/s in one process ($threads threads), $cnn_pair with 2 x 1 thread," \
     "$cnn_cli CLI; per CPU-second: $cnn_cpu one process, $cnn_pair_cpu 2 x 1"
echo "        target >= 50000 on 2 cores, wall clock: one process $(met "$cnn_rate")," \
     "2 x 1 $(met "$cnn_pair"); idle-core estimate (2 x 1 per CPU-second) $(met "$cnn_pair_cpu")"
echo "logreg: $lr_rate tweets/s in one process, $lr_pair with 2 x 1 thread, $lr_cli CLI;" \
     "per CPU-second: $lr_cpu one process, $lr_pair_cpu 2 x 1"
awk "BEGIN{printf \"ratio cnn / logreg: %.2f in one process, %.2f with 2 x 1, %.2f CLI\n\", \
     $cnn_rate / $lr_rate, $cnn_pair / $lr_pair, $cnn_cli / $lr_cli}"
echo "reproduce: bench/bench_cnn.sh   (SS_BENCH_REPS=$reps SS_BENCH_THREADS=$threads" \
     "SS_BENCH_BATCH=$batch SS_BENCH_CNN=$cnn SS_BENCH_LR=$lr)"
