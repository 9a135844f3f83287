#!/usr/bin/env bash
# Our logistic regression side by side with fastText and Vowpal Wabbit: AvgRec on the
# validation file and prediction throughput, same training data and tune split, one core each.
#
#   bench/bench_peers.sh   (env: SS_BENCH_MODEL=models-out/logreg.ssm, trained if missing,
#                           SS_BENCH_BUILD_DIR=build/bench, SS_BENCH_REPEATS=3,
#                           SS_BENCH_REPS=5 copies of the validation file timed,
#                           SS_BENCH_PEERS=fasttext,vw)
#
# Ours: `sentistream eval` for the metrics, `sentistream score` (TSV in, JSON lines out) on
# SS_BENCH_REPS copies of the validation file for the speed (the whole process: start, model
# load, scoring, output), best of SS_BENCH_REPEATS runs; the peers time the same texts. Peers: bench/peer_fasttext_vw.py
# (each picks its settings on the tune split, then predicts the validation texts through its
# Python API, best of SS_BENCH_REPEATS runs). Everything runs on CPU 0 (taskset -c 0,
# OPENBLAS_NUM_THREADS=1, fastText with 1 thread). The peers are installed with pip
# (fasttext-numpy2, vowpalwabbit) into the git-ignored bench/out/venv-peers when missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${SS_BENCH_BUILD_DIR:-build/bench}
model=${SS_BENCH_MODEL:-models-out/logreg.ssm}
reps=${SS_BENCH_REPEATS:-3}
copies=${SS_BENCH_REPS:-5}
peers=${SS_BENCH_PEERS:-fasttext,vw}
train=data/semeval-train.tsv
val=data/semeval-2016test.tsv
out=bench/out
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream > /dev/null
bin=$build/cli/sentistream
if [ ! -s "$model" ]; then
  echo "bench: training $model (once)"
  "$bin" train model.out="$model" > "$out/train-logreg.log"
fi
echo "bench: load average $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs"

input=$out/peers-input.tsv
for _ in $(seq "$copies"); do cat "$val"; done > "$input"
n=$(wc -l < "$input")
"$bin" eval "$model" "$val" --json > "$out/peers-eval.json"
ours=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1]))['metrics']; \
print('%.4f %.4f %.4f %.4f' % (d['avgrec'], d['f1_pn'], d['accuracy'], \
d['per_class']['neutral']['recall']))" \
  "$out/peers-eval.json")
read -r avgrec f1pn acc neu <<< "$ours"
best=""
best_cpu=""
for _ in $(seq "$reps"); do
  /usr/bin/time -f "%e %U %S" -o "$out/peers-time.txt" taskset -c 0 \
    env OPENBLAS_NUM_THREADS=1 "$bin" score "$model" < "$input" > "$out/peers-score.jsonl"
  read -r secs usr sys < "$out/peers-time.txt"
  cpu=$(awk "BEGIN{print $usr + $sys}")
  if [ -z "$best" ] || awk "BEGIN{exit !($secs < $best)}"; then best=$secs; fi
  if [ -z "$best_cpu" ] || awk "BEGIN{exit !($cpu < $best_cpu)}"; then best_cpu=$cpu; fi
done
[ "$(wc -l < "$out/peers-score.jsonl")" = "$n" ] || { echo "bench: score output short" >&2; exit 1; }
rate=$(awk "BEGIN{printf \"%.0f\", $n / $best}")
cpu_rate=$(awk "BEGIN{printf \"%.0f\", $n / ($best_cpu > 0.01 ? $best_cpu : 0.01)}")
echo "sentistream logreg: validation AvgRec $avgrec  F1-PN $f1pn  accuracy $acc  neutral recall" \
     "$neu; $rate predictions/s wall-clock, $cpu_rate per CPU-second (score: process start," \
     "model load, text in, JSON out)"

py=$out/venv-peers/bin/python
if ! "$py" -c "import fasttext, vowpalwabbit" 2> /dev/null; then
  echo "bench: installing fasttext-numpy2 and vowpalwabbit into $out/venv-peers"
  python3 -m venv "$out/venv-peers"
  "$out/venv-peers/bin/pip" install -q fasttext-numpy2==0.10.4 vowpalwabbit==9.11.9
fi
taskset -c 0 env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$py" bench/peer_fasttext_vw.py \
  --train "$train" --validation "$val" --score-input "$input" --threads 1 --repeats "$reps" \
  --peers "$peers" \
  | tee "$out/peers.txt"

echo
echo "| system | AvgRec | F1-PN | accuracy | predictions/s wall (one core) | per CPU-second | ours / it (CPU) |"
echo "|---|---|---|---|---|---|---|"
echo "| sentistream logreg (score) | $avgrec | $f1pn | $acc | $rate | $cpu_rate | 1.0x |"
sed -n 's/^PEER name=\([^ ]*\) avgrec=\([^ ]*\) f1pn=\([^ ]*\) accuracy=\([^ ]*\) .* rate=\([0-9]*\) cpu_rate=\([0-9]*\).*/\1 \2 \3 \4 \5 \6/p' \
  "$out/peers.txt" | while read -r name a f c r cr; do
  awk -v n="$name" -v a="$a" -v f="$f" -v c="$c" -v r="$r" -v cr="$cr" -v ours="$cpu_rate" \
    'BEGIN{printf "| %s (Python API) | %s | %s | %s | %s | %s | %.1fx |\n", n, a, f, c, r, cr, ours / cr}'
done
echo "timed: $n tweets ($copies x $val); load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "reproduce: bench/bench_peers.sh   (SS_BENCH_MODEL=$model SS_BENCH_REPEATS=$reps SS_BENCH_REPS=$copies SS_BENCH_PEERS=$peers)"
