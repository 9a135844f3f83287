#!/usr/bin/env bash
# Scoring throughput of `sentistream score` with the logistic-regression model against
# scikit-learn's reference pipeline (bench/peer_sklearn.py), both on one core.
#
#   bench/bench_score.sh            (env: SS_BENCH_REPS=10 copies of the validation file,
#                                    SS_BENCH_MODEL=models-out/logreg.ssm, trained if missing,
#                                    SS_BENCH_BUILD_DIR=build/bench, SS_BENCH_PEER=1,
#                                    SS_BENCH_PEER_REPEATS=1,
#                                    SS_BENCH_BASELINE_BIN=path/to/other/sentistream,
#                                    SS_BENCH_AB_ROUNDS=5)
#
# With SS_BENCH_BASELINE_BIN, this build and that binary (e.g. one built from an older
# commit) then score the same input in alternating runs, SS_BENCH_AB_ROUNDS each, so that
# load from other work hits both alike; the medians and their ratio are printed.
#
# Text in (TSV) and JSON lines out, on CPU 0 (taskset -c 0, OPENBLAS_NUM_THREADS=1); the
# scorer's best of 3 runs counts, and /usr/bin/time reports its peak RSS. The peer trains
# the reference pipeline, then times predict_proba on the same texts (best of
# SS_BENCH_PEER_REPEATS runs). It needs
# scikit-learn: installed with pip into bench/out/venv when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${SS_BENCH_BUILD_DIR:-build/bench}
reps=${SS_BENCH_REPS:-10}
model=${SS_BENCH_MODEL:-models-out/logreg.ssm}
val=data/semeval-2016test.tsv
out=bench/out
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream > /dev/null
bin=$build/cli/sentistream
if [ ! -s "$model" ]; then
  echo "bench: training $model (once)"
  "$bin" train model.out="$model" > "$out/train.log"
fi

input=$out/score-input.tsv
for _ in $(seq "$reps"); do cat "$val"; done > "$input"
n=$(wc -l < "$input")
echo "bench: $n tweets ($reps x $val), model $model"

echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs" \
     "(other work on CPU 0 slows the wall-clock figure; the CPU-time figure is less affected)"
best=""
for run in 1 2 3; do
  /usr/bin/time -f "%e %U %S %M" -o "$out/time.txt" \
    taskset -c 0 env OPENBLAS_NUM_THREADS=1 "$bin" score "$model" < "$input" > "$out/score.jsonl"
  read -r secs usr sys rss_kb < "$out/time.txt"
  cpu=$(awk "BEGIN{print $usr + $sys}")
  echo "  run $run: ${secs} s wall, ${cpu} s CPU, peak RSS $((rss_kb / 1024)) MiB"
  if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; best_rss=$rss_kb; fi
  if [ -z "${best_cpu:-}" ] || awk "BEGIN{exit !($cpu < $best_cpu)}"; then best_cpu=$cpu; fi
done
lines=$(wc -l < "$out/score.jsonl")
[ "$lines" = "$n" ] || { echo "bench: $lines output lines for $n tweets" >&2; exit 1; }
if grep -q '"error"' "$out/score.jsonl"; then echo "bench: error records in the output" >&2; exit 1; fi
rate=$(awk "BEGIN{printf \"%.0f\", $n / $best}")
cpu_rate=$(awk "BEGIN{printf \"%.0f\", $n / $best_cpu}")
echo "sentistream score: $rate tweets/s wall-clock (best ${best} s), $cpu_rate tweets/s per" \
     "CPU-second; peak RSS $((best_rss / 1024)) MiB (targets: >= 200000 tweets/s, < 64 MiB)"

if [ "${SS_BENCH_PEER:-1}" = 1 ]; then
  py=python3
  if ! $py -c "import sklearn" 2> /dev/null; then
    if [ ! -x "$out/venv/bin/python" ]; then
      echo "bench: installing scikit-learn into $out/venv"
      python3 -m venv "$out/venv"
      "$out/venv/bin/pip" install -q scikit-learn
    fi
    py=$out/venv/bin/python
  fi
  taskset -c 0 env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 \
    "$py" bench/peer_sklearn.py --train data/semeval-train.tsv --validation "$val" \
    --score-input "$input" --repeats "${SS_BENCH_PEER_REPEATS:-1}" | tee "$out/peer.txt"
  peer_rate=$(sed -n 's/^PEER .* rate=\([0-9]*\).*/\1/p' "$out/peer.txt")
  peer_cpu_rate=$(sed -n 's/^PEER .*cpu_rate=\([0-9]*\).*/\1/p' "$out/peer.txt")
  echo "scikit-learn predict_proba: $peer_rate tweets/s wall-clock, $peer_cpu_rate per CPU-second"
  awk "BEGIN{printf \"ratio: sentistream / scikit-learn = %.1fx wall-clock, %.1fx CPU\n\", \
       $rate / $peer_rate, $cpu_rate / $peer_cpu_rate}"
fi

if [ -n "${SS_BENCH_BASELINE_BIN:-}" ]; then
  rounds=${SS_BENCH_AB_ROUNDS:-5}
  echo "bench: A/B, $rounds alternating runs each: A = $bin, B = $SS_BENCH_BASELINE_BIN"
  : > "$out/ab.txt"
  for round in $(seq "$rounds"); do
    for side in A B; do
      b=$bin
      [ "$side" = B ] && b=$SS_BENCH_BASELINE_BIN
      /usr/bin/time -f "%e %U %S" -o "$out/time.txt" \
        taskset -c 0 env OPENBLAS_NUM_THREADS=1 "$b" score "$model" < "$input" > "$out/ab.jsonl"
      read -r secs usr sys < "$out/time.txt"
      [ "$(wc -l < "$out/ab.jsonl")" = "$n" ] || { echo "bench: $side: short output" >&2; exit 1; }
      echo "$side $secs $(awk "BEGIN{print $usr + $sys}")" >> "$out/ab.txt"
      echo "  round $round $side: $secs s wall"
    done
  done
  median() { grep "^$1 " "$out/ab.txt" | awk -v c="$2" '{print $c}' | sort -g |
               awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
  aw=$(median A 2) bw=$(median B 2) ac=$(median A 3) bc=$(median B 3)
  awk "BEGIN{printf \"A/B: median wall %.3f s vs %.3f s (A/B throughput %.3f), median CPU %.3f s vs %.3f s (%.3f)\n\", \
       $aw, $bw, $bw / $aw, $ac, $bc, $bc / $ac}"
fi
echo "reproduce: bench/bench_score.sh   (SS_BENCH_REPS=$reps SS_BENCH_MODEL=$model)"
