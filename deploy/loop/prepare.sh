#!/usr/bin/env bash
# Data and champion for the closed loop (drift event -> retrain -> promotion -> swap), drawn
# deterministically from the project's data files (fixed seeds, file order; the same inputs
# give the same files and, LR training being deterministic, the same model bytes):
#
#   OUT/base-train.tsv   the champion's training set: data/semeval-train.tsv with only one
#                        negative in SS_LOOP_NEG_KEEP kept (default 10: ~3 % negatives instead
#                        of 15.5 %), then its first SS_LOOP_TRAIN_MAX lines (0 = all)
#   OUT/validation.tsv   one line in four of data/semeval-2016test.tsv (its class mix, about
#                        .16/.50/.34): the card's reference, never streamed
#   OUT/stream.tsv       SS_LOOP_STREAM tweets (default 6000) of the other three lines in four,
#                        resampled to the shares SS_LOOP_MIX (negative,neutral,positive;
#                        default 0.40,0.40,0.20: many negatives) and shuffled
#   OUT/champion.ssm     LR trained on base-train.tsv, validated on validation.tsv (+ card)
#
# With tracking.uri=... among the arguments the training is tracked on that MLflow server and
# the model registered as SS_LOOP_MODEL_NAME (default sentiment-loop) with alias champion.
# Every other key=value argument goes to `sentistream train` (e.g. model.logreg.dim_bits=16).
# SS_BIN names the binary (default build/release/cli/sentistream). Prints each file's sha256.
#
# usage: deploy/loop/prepare.sh OUT_DIR [key=value ...]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
[ $# -ge 1 ] || { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 2; }
out=$1
shift
bin=${SS_BIN:-$root/build/release/cli/sentistream}
neg_keep=${SS_LOOP_NEG_KEEP:-10}
train_max=${SS_LOOP_TRAIN_MAX:-0}
n=${SS_LOOP_STREAM:-6000}
mix=${SS_LOOP_MIX:-0.40,0.40,0.20}
name=${SS_LOOP_MODEL_NAME:-sentiment-loop}
[ -x "$bin" ] || { echo "prepare: $bin not built (SS_BIN names the binary)" >&2; exit 2; }
case $neg_keep$train_max$n in *[!0-9]*) echo "prepare: SS_LOOP_NEG_KEEP, SS_LOOP_TRAIN_MAX and SS_LOOP_STREAM are whole numbers" >&2; exit 2 ;; esac
IFS=, read -r s_neg s_neu s_pos <<<"$mix"
awk -v a="$s_neg" -v b="$s_neu" -v c="$s_pos" 'BEGIN { exit !(a >= 0 && b >= 0 && c >= 0 && a + b + c > 0.999 && a + b + c < 1.001) }' ||
        { echo "prepare: SS_LOOP_MIX=$mix: three shares (negative,neutral,positive) summing to 1" >&2; exit 2; }
tracking=
train_args=()
for a in "$@"; do
        case $a in
        tracking.uri=*) tracking=${a#tracking.uri=} ;;
        *=*) ;;
        *) echo "prepare: unexpected argument '$a' (key=value overrides only)" >&2; exit 2 ;;
        esac
        train_args+=("$a")
done
mkdir -p "$out"

shuffle() { # shuffle SEED < file: a fixed permutation for a given seed and input
        awk -v seed="$1" 'BEGIN { srand(seed) } { print rand() "\t" $0 }' |
                sort -t$'\t' -k1,1 -g -s | cut -f2-
}

# the champion's training set: few negatives
awk -F'\t' -v k="$neg_keep" -v max="$train_max" '
        $2 == "negative" && (++neg % k) != 1 && k > 1 { next }
        { print } max > 0 && ++n >= max { exit }' "$root/data/semeval-train.tsv" >"$out/base-train.tsv"
# validation (reference mix) and the pool the stream is drawn from: disjoint by line
awk 'NR % 4 == 0' "$root/data/semeval-2016test.tsv" >"$out/validation.tsv"
awk 'NR % 4 != 0' "$root/data/semeval-2016test.tsv" | shuffle 31 |
        awk -F'\t' -v n="$n" -v a="$s_neg" -v b="$s_neu" -v c="$s_pos" '
                $2 == "negative" && kn < int(n * a + 0.5) { kn++; print; next }
                $2 == "neutral" && ku < int(n * b + 0.5) { ku++; print; next }
                $2 == "positive" && kp < n - int(n * a + 0.5) - int(n * b + 0.5) { kp++; print }' |
        shuffle 32 >"$out/stream.tsv"
got=$(wc -l <"$out/stream.tsv")
[ "$got" -eq "$n" ] || { echo "prepare: the pool holds only $got tweets for SS_LOOP_STREAM=$n at $mix" >&2; exit 1; }

shares() { # shares FILE: "n=N negative .xx neutral .xx positive .xx"
        awk -F'\t' '{ c[$2]++; t++ } END { printf "n=%d negative %.3f neutral %.3f positive %.3f", t, c["negative"] / t, c["neutral"] / t, c["positive"] / t }' "$1"
}
for f in base-train validation stream; do
        printf 'prepare: %-15s %s  sha256 %s\n' "$f.tsv" "$(shares "$out/$f.tsv")" "$(sha256sum <"$out/$f.tsv" | cut -c1-16)"
done

"$bin" train model=logreg model.name="$name" data.train="$out/base-train.tsv" data.validation="$out/validation.tsv" \
        model.out="$out/champion.ssm" "${train_args[@]}" >"$out/train.log" 2>&1 ||
        { tail -n 20 "$out/train.log" >&2; echo "prepare: training failed (log $out/train.log)" >&2; exit 1; }
echo "prepare: champion.ssm     sha256 $(sha256sum <"$out/champion.ssm" | cut -c1-16) ($(grep -o 'AvgRec [0-9.]*' "$out/train.log" | tail -n 1 || echo trained))"
if [ -n "$tracking" ]; then
        "$bin" models register "$out/champion.ssm" --name "$name" --alias champion tracking.uri="$tracking" \
                >"$out/register.log" 2>&1 ||
                { cat "$out/register.log" >&2; echo "prepare: register failed" >&2; exit 1; }
        grep -E '^registered|alias' "$out/register.log" | sed 's/^/prepare: /'
fi
