#!/usr/bin/env bash
# The commands of the DVC pipeline's stages (dvc.yaml), run from the repository root by `dvc repro`.
#   stage.sh prepare          check the data files and copy them into dvc-out/data/ with SHA256SUMS
#   stage.sh train KIND       train model=KIND on dvc-out/data -> dvc-out/models/KIND.ssm (+ card)
#   stage.sh evaluate KIND    dvc-out/models/KIND.ssm on the validation file -> dvc-out/metrics/KIND.json
# The binary is $SS_SENTISTREAM, else build/rel/cli/sentistream. Extra training overrides (e.g.
# tracking.uri=...) come from $SS_DVC_TRAIN_ARGS.
set -euo pipefail
bin=${SS_SENTISTREAM:-build/rel/cli/sentistream}
train_file=data/semeval-train.tsv
val_file=data/semeval-2016test.tsv
lexicon=data/lexicon/vader_lexicon.txt

die() {
        echo "stage.sh: $*" >&2
        exit 1
}

[ -x "$bin" ] || die "$bin not found: build it (cmake -S . -B build/rel && cmake --build build/rel) or set SS_SENTISTREAM"
case ${1:-} in
prepare)
        for f in "$train_file" "$val_file" "$lexicon"; do
                [ -s "$f" ] || die "data file $f missing or empty"
        done
        # every line of a data file must parse: sentistream eval reads them with the loader
        rm -rf dvc-out/data
        mkdir -p dvc-out/data
        cp "$train_file" "$val_file" "$lexicon" dvc-out/data/
        (cd dvc-out/data && sha256sum -- * >SHA256SUMS)
        cat dvc-out/data/SHA256SUMS
        ;;
train)
        kind=${2:?train needs a model kind}
        mkdir -p dvc-out/models
        # shellcheck disable=SC2086 # SS_DVC_TRAIN_ARGS is a list of key=value words
        "$bin" train model="$kind" data.train=dvc-out/data/${train_file##*/} \
                data.validation=dvc-out/data/${val_file##*/} \
                model.out=dvc-out/models/"$kind".ssm ${SS_DVC_TRAIN_ARGS:-}
        ;;
evaluate)
        kind=${2:?evaluate needs a model kind}
        mkdir -p dvc-out/metrics
        "$bin" eval dvc-out/models/"$kind".ssm dvc-out/data/${val_file##*/} --json \
                >dvc-out/metrics/"$kind".json.tmp
        mv dvc-out/metrics/"$kind".json.tmp dvc-out/metrics/"$kind".json
        ;;
*) die "usage: stage.sh prepare | train KIND | evaluate KIND" ;;
esac
