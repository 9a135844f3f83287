#!/usr/bin/env bash
# `sentistream eval` of one or more models on a data file split into PARTS pieces, all pieces
# of all models as parallel processes (one BLAS thread each), the confusion matrices summed:
# the same metrics as one `sentistream eval`, for the slow MiniLM models on a shared machine.
#
#   bench/eval_parallel.sh PARTS DATA MODEL [MODEL ...]
#       env: SS_BENCH_BUILD_DIR=build/bench, SS_EVAL_NICE=10 (nice level of the evals)
#
# Prints per model: n, AvgRec, F1-PN, accuracy, per-class recall, the summed confusion matrix
# and the wall time; the per-piece JSON goes to bench/out/evalp-*.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
[ $# -ge 3 ] || { echo "usage: bench/eval_parallel.sh PARTS DATA MODEL [MODEL ...]" >&2; exit 2; }
parts=$1
data=$2
shift 2
build=${SS_BENCH_BUILD_DIR:-build/bench}
out=bench/out
mkdir -p "$out"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream > /dev/null
bin=$build/cli/sentistream
n=$(wc -l < "$data")
per=$(( (n + parts - 1) / parts ))
rm -f "$out"/evalp-part-*
split -l "$per" -d -a 2 "$data" "$out/evalp-part-"
start=$(date +%s)
pids=()
for m in "$@"; do
  tag=$(basename "$m" .ssm)
  for p in "$out"/evalp-part-*; do
    nice -n "${SS_EVAL_NICE:-10}" env OPENBLAS_NUM_THREADS=1 "$bin" eval "$m" "$p" --json \
      > "$out/evalp-$tag-$(basename "$p").json" &
    pids+=($!)
  done
done
for pid in "${pids[@]}"; do wait "$pid"; done
secs=$(( $(date +%s) - start ))
for m in "$@"; do
  tag=$(basename "$m" .ssm)
  python3 - "$m" "$secs" "$out"/evalp-"$tag"-evalp-part-*.json <<'PY'
import json, sys
model, secs, files = sys.argv[1], sys.argv[2], sys.argv[3:]
conf = [[0] * 3 for _ in range(3)]
for f in files:
    c = json.load(open(f))["metrics"]["confusion"]
    for t in range(3):
        for p in range(3):
            conf[t][p] += c[t][p]
n = sum(map(sum, conf))
rec = [conf[c][c] / max(1, sum(conf[c])) for c in range(3)]
prec = [conf[c][c] / max(1, sum(conf[r][c] for r in range(3))) for c in range(3)]
f1 = [2 * p * r / (p + r) if p + r else 0 for p, r in zip(prec, rec)]
print(f"{model}: n={n}  AvgRec {sum(rec) / 3:.4f}  F1-PN {(f1[0] + f1[2]) / 2:.4f}  "
      f"accuracy {sum(conf[c][c] for c in range(3)) / n:.4f}  recall neg/neu/pos "
      f"{rec[0]:.4f}/{rec[1]:.4f}/{rec[2]:.4f}  confusion {conf}  ({len(files)} pieces, {secs} s "
      "wall for all models)")
PY
done
echo "reproduce: bench/eval_parallel.sh $parts $data $*"
