#!/usr/bin/env bash
# The compose stack for real with podman-compose (opt-in: SS_TEST_CONTAINERS=1; images are
# built on first use, minutes; about a minute once they exist). Skipped (exit 77) otherwise.
# `deploy/compose.sh demo` brings up Kafka, Redis, two scorers in one group, the monitor and
# Prometheus on loopback ports from SS_TEST_PORT_BASE+700, waits for /readyz of the three
# sentistream processes, replays 500 tweets and their labels from the host, and fails unless
# both scorers scored a share adding up to 500, the monitor read 500 predictions and
# Prometheus has its 3 targets up; then brings everything down (volumes too).
set -euo pipefail
if [ "${SS_TEST_CONTAINERS:-0}" != 1 ]; then
        echo "skipped: set SS_TEST_CONTAINERS=1 to run the compose stack"
        exit 77
fi
: "${SS_BIN:?SS_BIN not set}" "${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}"
src=$SS_SOURCE_DIR
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-compose.XXXXXX")
trap 'rm -rf "$work"' EXIT
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
head -n 3000 "$src/data/semeval-train.tsv" >"$work/train.tsv"
"$SS_BIN" train data.train="$work/train.tsv" model.out="$work/logreg.ssm" model.logreg.dim_bits=16 \
        model.logreg.max_iter=30 >"$work/train.log" 2>&1 || { cat "$work/train.log"; exit 1; }
SS_COMPOSE_PORT_BASE=$((${SS_TEST_PORT_BASE:-19000} + 700)) SS_MODELS_DIR=$work SS_DEMO_LIMIT=500 \
        "$src/deploy/compose.sh" demo
