#!/usr/bin/env bash
# What `train` trains and validates on, stated honestly, on small slices: data.train takes
# several files (the card lists each with its sha256 and count); a validation file that
# shares tweet ids with the training files is refused (exit 2, naming the count and an id),
# or, with data.allow_overlap=true, accepted with a warning and recorded in the card; the
# release layout (data=release: no validation file, a held-out split of the union) trains
# on the rest and records the split; data.holdout.share with a validation file is refused.
# Needs SS_BIN and SS_SOURCE_DIR (set by ctest); python3 parses the JSON.
set -euo pipefail
: "${SS_BIN:?}" "${SS_SOURCE_DIR:?}"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

head -n 1200 "$SS_SOURCE_DIR/data/semeval-train.tsv" > "$tmp/a.tsv"
sed -n 1201,2000p "$SS_SOURCE_DIR/data/semeval-train.tsv" > "$tmp/b.tsv"
head -n 600 "$SS_SOURCE_DIR/data/semeval-2016test.tsv" > "$tmp/val.tsv"
fast=(model.logreg.dim_bits=14 model.logreg.max_iter=10 model.logreg.l2=1e-4 log.progress=off)

# ---- two training files, a separate validation file ----
"$SS_BIN" train "${fast[@]}" data.train="$tmp/a.tsv, $tmp/b.tsv" data.validation="$tmp/val.tsv" \
  model.out="$tmp/m/two.ssm" > "$tmp/two.out" 2> "$tmp/two.err" ||
  { cat "$tmp/two.err"; fail "train on two files exited $?"; }
grep -q "^data       train $tmp/a.tsv,$tmp/b.tsv: 2000 tweets" "$tmp/two.out" ||
  fail "train output: $(cat "$tmp/two.out")"

# ---- validation sharing tweet ids with training: refused, or warned with the flag ----
head -n 100 "$tmp/b.tsv" > "$tmp/leak.tsv"
cat "$tmp/val.tsv" >> "$tmp/leak.tsv"
set +e
"$SS_BIN" train "${fast[@]}" data.train="$tmp/a.tsv,$tmp/b.tsv" data.validation="$tmp/leak.tsv" \
  model.out="$tmp/m/leak.ssm" > /dev/null 2> "$tmp/leak.err"
rc=$?
set -e
[ "$rc" = 2 ] || fail "overlapping validation: exit $rc, want 2"
grep -q "refused: data.validation .*leak.tsv shares 100 tweet ids with data.train" "$tmp/leak.err" ||
  fail "refusal message: $(cat "$tmp/leak.err")"
[ ! -e "$tmp/m/leak.ssm" ] || fail "a model was written despite the refusal"
"$SS_BIN" train "${fast[@]}" data.train="$tmp/a.tsv,$tmp/b.tsv" data.validation="$tmp/leak.tsv" \
  data.allow_overlap=true model.out="$tmp/m/leak.ssm" > /dev/null 2> "$tmp/leak2.err" ||
  fail "train with data.allow_overlap=true exited $?"
grep -q "warning: data.validation .*shares 100 tweet ids" "$tmp/leak2.err" ||
  fail "no warning: $(cat "$tmp/leak2.err")"

# ---- release layout: held-out split of the union ----
"$SS_BIN" train "${fast[@]}" data=release data.train="$tmp/a.tsv,$tmp/val.tsv" \
  data.holdout.share=0.2 model.out="$tmp/m/rel.ssm" > "$tmp/rel.out" 2> "$tmp/rel.err" ||
  { cat "$tmp/rel.err"; fail "release train exited $?"; }
set +e
"$SS_BIN" train "${fast[@]}" data.holdout.share=0.2 data.train="$tmp/a.tsv" \
  data.validation="$tmp/val.tsv" model.out="$tmp/m/x.ssm" > /dev/null 2> "$tmp/excl.err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q "exclusive" "$tmp/excl.err" || fail "holdout + validation: exit $rc"

python3 - "$tmp" <<'PY'
import json, sys
tmp = sys.argv[1]
def fail(m):
    print("FAIL:", m, file=sys.stderr); sys.exit(1)
two = json.load(open(tmp + "/m/two.card.json"))
td = two["training_data"]
files = [f["path"] for f in td["files"]]
if files != [tmp + "/a.tsv", tmp + "/b.tsv"] or [f["n"] for f in td["files"]] != [1200, 800]:
    fail("training files: %s" % td["files"])
if td["n"] != 2000 or len(td["sha256"]) != 64 or td["path"] != tmp + "/a.tsv," + tmp + "/b.tsv":
    fail("training_data: %s" % td)
if "split" in two["validation_data"] or two["validation_data"]["n"] != 600:
    fail("validation_data: %s" % two["validation_data"])
leak = json.load(open(tmp + "/m/leak.card.json"))
if leak["validation_data"].get("split", {}).get("overlap_with_training") != 100:
    fail("overlap not recorded: %s" % leak["validation_data"])
rel = json.load(open(tmp + "/m/rel.card.json"))
vs = rel["validation_data"].get("split")
if not vs or vs["share"] != 0.2 or vs["seed"] != 1 or vs["of"] != "training_data.files":
    fail("release split: %s" % rel["validation_data"])
nv, nt = rel["validation_data"]["n"], rel["training_data"]["n"]
if nv + nt != 1800 or not 250 < nv < 470:
    fail("release sizes: train %d + held out %d" % (nt, nv))
if rel["reference"]["n"] != nv or rel["hyperparameters"].get("holdout_share") != 0.2:
    fail("release reference/hyperparameters")
print("card checks ok")
PY
echo "train_data: ok"
