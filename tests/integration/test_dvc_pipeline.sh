#!/usr/bin/env bash
# The DVC pipeline (dvc.yaml, DVC pinned in .venv-mlops by deploy/local/mlflow.sh install) on a
# temporary clone of the repository, LR stages only, on a 2,000-tweet slice with 2^14 features:
#   - `dvc repro evaluate@logreg` runs prepare, train@logreg, evaluate@logreg; a second repro
#     runs nothing;
#   - a changed CNN parameter leaves the LR stages alone (train@cnn is what changed);
#   - a changed LR parameter reruns train@logreg and evaluate@logreg but not prepare, and the
#     metrics move (`dvc metrics diff`, `dvc params diff` show it);
#   - `dvc exp run -S` runs an experiment with a set parameter;
#   - `dvc push` to the local remote, then the cache and the model deleted: `dvc pull` restores
#     the same bytes.
set -euo pipefail
src=${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}
: "${SS_BIN:?SS_BIN not set}"
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-dvc-test.XXXXXX")
trap 'if [ -n "${SS_TEST_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
fail() {
        echo "FAIL: $*"
        exit 1
}
step() {
        echo "== $*"
}

"$src/deploy/local/mlflow.sh" install >/dev/null
PATH=$("$src/deploy/local/mlflow.sh" venv):$PATH
export SS_SENTISTREAM=$SS_BIN DVC_NO_ANALYTICS=1
repo=$work/repo
git clone -q "$src" "$repo"
cd "$repo"
git config user.email test@sentistream.invalid
git config user.name test
head -n 2000 data/semeval-train.tsv >t && mv t data/semeval-train.tsv
head -n 500 data/semeval-2016test.tsv >t && mv t data/semeval-2016test.tsv
sed -i 's/^\(    dim_bits:\) 20/\1 14/; s/^\(    max_iter:\) 40/\1 20/' config/model/logreg.yaml
grep -q "dim_bits: 14" config/model/logreg.yaml || fail "could not set the small LR config"
git commit -qam "small slice for the test"

# ran LOG: the stages a repro log says it ran, sorted, one line
ran() { sed -n "s/^Running stage '\(.*\)':$/\1/p" "$1" | sort | tr '\n' ' '; }
avgrec() { python3 -c 'import json; print(json.load(open("dvc-out/metrics/logreg.json"))["metrics"]["avgrec"])'; }

step "first repro"
dvc repro evaluate@logreg >"$work/r1.log" 2>&1 || { cat "$work/r1.log"; fail "dvc repro"; }
[ "$(ran "$work/r1.log")" = "evaluate@logreg prepare train@logreg " ] || fail "first repro ran: $(ran "$work/r1.log")"
[ -f dvc-out/models/logreg.ssm ] && [ -f dvc-out/metrics/logreg.json ] || fail "outputs missing"
a1=$(avgrec)
git add -A && git commit -qm "pipeline run 1"

step "nothing changed: nothing runs"
dvc repro evaluate@logreg >"$work/r2.log" 2>&1 || { cat "$work/r2.log"; fail "dvc repro 2"; }
[ -z "$(ran "$work/r2.log")" ] || fail "an unchanged pipeline ran: $(ran "$work/r2.log")"

step "a CNN parameter changes: the LR is not retrained"
sed -i 's/^\(    filters:\) 100/\1 50/' config/model/cnn.yaml
grep -q "filters: 50" config/model/cnn.yaml || fail "could not change the CNN config"
dvc status train@cnn train@logreg >"$work/status.log" 2>&1 || true
grep -q "config/model/cnn.yaml" "$work/status.log" || { cat "$work/status.log"; fail "train@cnn not reported as changed"; }
dvc repro evaluate@logreg >"$work/r3.log" 2>&1 || { cat "$work/r3.log"; fail "dvc repro 3"; }
[ -z "$(ran "$work/r3.log")" ] || fail "a CNN change reran: $(ran "$work/r3.log")"
git checkout -q config/model/cnn.yaml

step "an LR parameter changes: train and evaluate rerun, prepare does not"
sed -i 's/^\(    l2:\) .*/\1 "1e-3"/' config/model/logreg.yaml
dvc repro evaluate@logreg >"$work/r4.log" 2>&1 || { cat "$work/r4.log"; fail "dvc repro 4"; }
[ "$(ran "$work/r4.log")" = "evaluate@logreg train@logreg " ] || fail "after an l2 change ran: $(ran "$work/r4.log")"
a2=$(avgrec)
echo "AvgRec $a1 -> $a2"
[ "$a1" != "$a2" ] || fail "the metrics did not move ($a1)"
dvc params diff >"$work/pdiff.log" 2>&1 || true
grep -q "model.logreg.l2" "$work/pdiff.log" || { cat "$work/pdiff.log"; fail "dvc params diff"; }
dvc metrics diff >"$work/mdiff.log" 2>&1 || true
grep -q "metrics.avgrec" "$work/mdiff.log" || { cat "$work/mdiff.log"; fail "dvc metrics diff"; }
cat "$work/mdiff.log" | grep -E "Path|avgrec"

step "dvc exp run -S"
dvc exp run -S config/model/logreg.yaml:model.logreg.max_iter=10 evaluate@logreg >"$work/exp.log" 2>&1 ||
        { cat "$work/exp.log"; fail "dvc exp run"; }
grep -q "max_iter: 10" config/model/logreg.yaml || fail "exp run did not set the parameter"
[ "$(ran "$work/exp.log")" = "evaluate@logreg train@logreg " ] || fail "exp run ran: $(ran "$work/exp.log")"

step "push, delete the cache and the model, pull"
cp dvc-out/models/logreg.ssm "$work/before.ssm"
dvc push --with-deps evaluate@logreg >"$work/push.log" 2>&1 || { cat "$work/push.log"; fail "dvc push"; }
[ -d .dvc-storage ] || fail "no local remote at .dvc-storage"
rm -rf .dvc/cache dvc-out/models dvc-out/data
dvc pull --with-deps evaluate@logreg >"$work/pull.log" 2>&1 || { cat "$work/pull.log"; fail "dvc pull"; }
cmp dvc-out/models/logreg.ssm "$work/before.ssm" || fail "dvc pull restored other bytes"
[ -f dvc-out/data/SHA256SUMS ] || fail "dvc pull did not restore the data"
(cd dvc-out/data && sha256sum -c --quiet SHA256SUMS) || fail "restored data does not match its sums"
echo PASS
