#!/usr/bin/env bash
# Scoring throughput of the MiniLM model: `sentistream score` (C, OpenBLAS) against the
# PyTorch peer (bench/peer_minilm.py: sentence-transformers encode + the same head), in the
# same run, on the same tweets, with the same thread count and batch size.
#
#   bench/bench_minilm.sh     env: SS_BENCH_N=2000 tweets (the first N of the validation file)
#                                  SS_BENCH_THREADS=2 (OPENBLAS_NUM_THREADS = torch threads)
#                                  SS_BENCH_BATCH=512, SS_BENCH_BUILD_DIR=build/bench,
#                                  SS_BENCH_MODEL=models-out/minilm.ssm (trained if missing),
#                                  SS_BENCH_PYTHON=python with torch + sentence-transformers
#                                  (default: bench/out/venv-torch, created when missing)
#
# The C time is the whole `sentistream score` process (model loading, JSON output included);
# the peer's excludes loading. Prints tweets/s of each and the ratio C / PyTorch; also checks
# that both give the same labels.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${SS_BENCH_BUILD_DIR:-build/bench}
n=${SS_BENCH_N:-2000}
threads=${SS_BENCH_THREADS:-2}
batch=${SS_BENCH_BATCH:-512}
model=${SS_BENCH_MODEL:-models-out/minilm.ssm}
out=bench/out
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream > /dev/null
bin=$build/cli/sentistream
if [ ! -s "$model" ]; then
  echo "bench: training $model (once; embeds the training file, then scores the validation file)"
  "$bin" train model=minilm model.out="$model" > "$out/train-minilm.log"
fi

py=${SS_BENCH_PYTHON:-}
if [ -z "$py" ]; then
  if python3 -c "import torch, sentence_transformers" 2> /dev/null; then
    py=python3
  else
    py=$out/venv-torch/bin/python
    if [ ! -x "$py" ]; then
      echo "bench: installing torch + sentence-transformers into $out/venv-torch (large)"
      python3 -m venv "$out/venv-torch"
      "$out/venv-torch/bin/pip" install -q torch sentence-transformers
    fi
  fi
fi

input=$out/minilm-input.tsv
head -n "$n" data/semeval-2016test.tsv > "$input"
echo "bench: $n tweets of data/semeval-2016test.tsv, model $model, threads $threads, batch $batch"

start=$(date +%s.%N)
OPENBLAS_NUM_THREADS=$threads "$bin" score "$model" --batch "$batch" < "$input" \
  > "$out/minilm-score.jsonl"
end=$(date +%s.%N)
c_secs=$(awk "BEGIN{print $end - $start}")
c_rate=$(awk "BEGIN{printf \"%.1f\", $n / $c_secs}")
echo "sentistream score: $n tweets in $(printf %.2f "$c_secs") s = $c_rate tweets/s"

peer_line=$(OMP_NUM_THREADS=$threads MKL_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
  "$py" bench/peer_minilm.py "$model" "$input" --threads "$threads" --batch "$batch" 2> "$out/peer.log" \
  | grep '^peer:')
echo "$peer_line"
p_rate=$(echo "$peer_line" | sed -E 's/.* = ([0-9.]+) tweets\/s.*/\1/')
echo "ratio C / PyTorch: $(awk "BEGIN{printf \"%.2f\", $c_rate / $p_rate}") (target >= 1.0)"

# same labels? (probabilities agree to ~1e-6; argmax can differ only on near ties)
"$py" - "$out/minilm-score.jsonl" "$out/peer_probs.npy" <<'PY'
import json, sys
import numpy as np
c = [json.loads(l) for l in open(sys.argv[1])]
p = np.load(sys.argv[2])
names = ["negative", "neutral", "positive"]
cp = np.array([[r["prob_negative"], r["prob_neutral"], r["prob_positive"]] for r in c])
same = sum(r["label"] == names[int(i)] for r, i in zip(c, p.argmax(1)))
print("agreement: %d of %d labels identical, max |prob diff| %.2g" % (same, len(c), abs(cp - p).max()))
PY
