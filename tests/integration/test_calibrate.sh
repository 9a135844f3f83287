#!/usr/bin/env bash
# `sentistream calibrate` on a model file and `sentistream eval`'s calibration line, with a
# small LR (3,000 training tweets, 2,000 of the 2016 test as validation; no services):
#   - `train` writes the map (card method temperature+toplabel);
#   - an LR (its final fit saw the tune rows) is refused without --in-sample (exit 2);
#   - calibrate writes OUT and its card: a new version, the card's calibration names the
#     top-label map and its tune-split ECE, the reference distributions are the new model's;
#   - OUT scores with the same labels as IN (eval: the same confusion matrix, AvgRec), and
#     its calibrated labels (the card's validation figures) are the raw ones;
#   - eval prints the ECE raw, after the temperature and after both, and --json carries them;
#   - a seed other than the model's is refused (exit 2) with the key to pass; OUT = IN too.
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
bin=${SS_BIN:?SS_BIN not set}
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-calibrate.XXXXXX")
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
trap 'rm -rf "$work"' EXIT
fail() {
        echo "FAIL: $*"
        for f in "$work"/*.log; do echo "---- $f (tail)"; tail -n 15 "$f"; done
        exit 1
}
py() { python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($1)" "$2"; }

head -n 3000 "$src/data/semeval-train.tsv" > "$work/train.tsv"
head -n 2000 "$src/data/semeval-2016test.tsv" > "$work/val.tsv"
keys=(data.train="$work/train.tsv" data.validation="$work/val.tsv" model.logreg.dim_bits=14
      model.logreg.max_iter=20 model.logreg.l2=3e-5)

echo "== train"
"$bin" train "${keys[@]}" model.out="$work/lr.ssm" > "$work/train.log" 2>&1 || fail "train"
grep -E '^calibrate' "$work/train.log" || fail "no calibrate line"
py 'r["calibration"]["method"]' "$work/lr.card.json" | grep -qx 'temperature+toplabel' ||
        fail "card method: $(py 'r["calibration"]' "$work/lr.card.json")"

echo "== calibrate IN OUT"
rc=0
"$bin" calibrate "$work/lr.ssm" "$work/out/lr2.ssm" "${keys[@]}" > "$work/insample.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q -- '--in-sample' "$work/insample.log" ||
        fail "an LR (refit on its tune rows) was calibrated without --in-sample: rc $rc"
"$bin" calibrate "$work/lr.ssm" "$work/out/lr2.ssm" --in-sample "${keys[@]}" > "$work/cal.log" 2>&1 ||
        fail "calibrate"
cat "$work/cal.log"
[ -s "$work/out/lr2.card.json" ] || fail "no card beside OUT"
v1=$(py 'r["model"]["version"]' "$work/lr.card.json")
v2=$(py 'r["model"]["version"]' "$work/out/lr2.card.json")
[ "$v1" != "$v2" ] || fail "OUT has IN's version $v1"
py 'sorted(r["calibration"]["toplabel"])' "$work/out/lr2.card.json" |
        grep -qx "\['negative', 'neutral', 'positive'\]" || fail "card has no top-label map"
for c in "$work/lr.card.json" "$work/out/lr2.card.json"; do
        py 'r["calibration"]["toplabel_rule"]' "$c" | grep -qx floor || fail "$c: map rule not floor"
done
py 'r["calibration"]["ece_temperature"] >= 0 and r["calibration"]["ece_after"] >= 0' \
        "$work/out/lr2.card.json" | grep -qx True || fail "card ECE"
py 'r["reference"]["n"]' "$work/out/lr2.card.json" | grep -qx 2000 || fail "reference n"

echo "== eval: same labels, ECE three ways"
"$bin" eval "$work/lr.ssm" "$work/val.tsv" --json > "$work/e1.json" 2> "$work/e1.log" || fail "eval IN"
"$bin" eval "$work/out/lr2.ssm" "$work/val.tsv" --json > "$work/e2.json" 2> "$work/e2.log" ||
        fail "eval OUT"
c1=$(py 'r["metrics"]["confusion"], r["metrics"]["avgrec"]' "$work/e1.json")
c2=$(py 'r["metrics"]["confusion"], r["metrics"]["avgrec"]' "$work/e2.json")
[ "$c1" = "$c2" ] || fail "labels moved: $c1 vs $c2"
# eval counts the raw argmax; the card's validation figures are scored through the map
c3=$(py 'r["metrics"]["validation"]["confusion"], r["metrics"]["validation"]["avgrec"]' \
        "$work/out/lr2.card.json")
[ "$c3" = "$c2" ] || fail "the map moved labels: calibrated $c3, raw $c2"
py '[r["calibration"][k] for k in ("ece_before", "ece_temperature", "ece_after", "toplabel")]' \
        "$work/e2.json"
py 'r["calibration"]["toplabel"] is True' "$work/e2.json" | grep -qx True || fail "eval JSON"
"$bin" eval "$work/out/lr2.ssm" "$work/val.tsv" 2>/dev/null | tail -n 1 | tee "$work/e3.log" |
        grep -q 'top-label map: ECE (15 bins) .* before, .* after the temperature, .* after' ||
        fail "eval table line: $(cat "$work/e3.log")"

echo "== refusals"
rc=0
"$bin" calibrate "$work/lr.ssm" "$work/lr3.ssm" --in-sample "${keys[@]}" model.seed=2 > "$work/seed.log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q 'model.seed=1' "$work/seed.log" || fail "seed mismatch: rc $rc"
rc=0
"$bin" calibrate "$work/lr.ssm" "$work/lr.ssm" --in-sample "${keys[@]}" > "$work/same.log" 2>&1 || rc=$?
[ "$rc" = 2 ] || fail "OUT = IN: rc $rc"
echo "PASS"
