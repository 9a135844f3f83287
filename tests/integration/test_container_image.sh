#!/usr/bin/env bash
# The container image, for real with podman (opt-in: SS_TEST_CONTAINERS=1; the first run
# builds the base image with mmdebstrap, ~3 min, later runs reuse it and podman's layer
# cache, ~1 min). Skipped (exit 77) otherwise.
#   - deploy/container/build.sh builds localhost/sentistream:test from a clean context;
#   - `sentistream score` inside the container, on 50 tweets with a model mounted read-only
#     (read-only root file system, no network), gives the same JSON lines as the host binary;
#   - the process runs as uid 10001, not root (read from /proc on the host);
#   - SIGTERM (`podman stop`) reaches sentistream through tini: the container ends at once
#     with 143, not after the stop timeout with 137 (SIGKILL).
set -euo pipefail
if [ "${SS_TEST_CONTAINERS:-0}" != 1 ]; then
        echo "skipped: set SS_TEST_CONTAINERS=1 to build and run the container image"
        exit 77
fi
: "${SS_BIN:?SS_BIN not set}" "${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}"
src=$SS_SOURCE_DIR
export CONTAINERS_CONF=$src/deploy/container/containers.conf
tag=localhost/sentistream:test
name=ss-image-test-$$
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-image.XXXXXX")
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
cleanup() {
        podman rm -f "$name" >/dev/null 2>&1 || true
        rm -rf "$work"
}
trap cleanup EXIT
fail() {
        echo "FAIL: $*" >&2
        exit 1
}
command -v podman >/dev/null && command -v mmdebstrap >/dev/null ||
        fail "podman and mmdebstrap are needed (deploy/install-deps.sh --containers)"

start=$(date +%s)
"$src/deploy/container/build.sh" "$tag" || fail "image build"
echo "image built in $(($(date +%s) - start)) s"
podman image inspect --format '{{.Config.User}}' "$tag" | grep -qx '10001:10001' || fail "image user"

# a small model, trained by the host binary
mkdir "$work/m"
head -n 3000 "$src/data/semeval-train.tsv" >"$work/train.tsv"
"$SS_BIN" train data.train="$work/train.tsv" model.out="$work/m/lr.ssm" model.logreg.dim_bits=16 \
        model.logreg.max_iter=30 >"$work/train.log" 2>&1 || { cat "$work/train.log"; fail "train"; }
head -n 50 "$src/data/semeval-2016test.tsv" >"$work/tweets.tsv"
"$SS_BIN" score "$work/m/lr.ssm" <"$work/tweets.tsv" >"$work/host.jsonl" || fail "host score"

run=(podman run --rm -i --read-only --network none -v "$work/m:/models:ro")
"${run[@]}" "$tag" score /models/lr.ssm <"$work/tweets.tsv" >"$work/container.jsonl" ||
        fail "score in the container"
[ "$(wc -l <"$work/container.jsonl")" = 50 ] || fail "$(wc -l <"$work/container.jsonl") lines, want 50"
cmp -s "$work/host.jsonl" "$work/container.jsonl" ||
        fail "container output differs from the host's: $(diff "$work/host.jsonl" "$work/container.jsonl" | head -5)"
echo "score in the container: 50 lines, identical to the host binary's"

# A long-running score (stdin held open): its uid, then SIGTERM through tini.
mkfifo "$work/in"
sleep 300 >"$work/in" &
holder=$!
podman run -d --name "$name" -i --read-only --network none -v "$work/m:/models:ro" "$tag" \
        score /models/lr.ssm <"$work/in" >/dev/null
pid=
for _ in $(seq 50); do
        pid=$(podman inspect --format '{{.State.Pid}}' "$name" 2>/dev/null || true)
        [ -n "$pid" ] && [ "$pid" != 0 ] && [ -n "$(cat "/proc/$pid/task/$pid/children" 2>/dev/null)" ] && break
        sleep 0.2
done
child=$(awk '{ print $1 }' "/proc/$pid/task/$pid/children")
[ -n "$child" ] || fail "no process under the container's PID 1"
grep -q 'tini' "/proc/$pid/cmdline" || fail "PID 1 is not tini: $(tr '\0' ' ' <"/proc/$pid/cmdline")"
uid=$(awk '/^Uid:/ { print $2 }' "/proc/$child/status")
comm=$(cat "/proc/$child/comm")
[ "$uid" = 10001 ] || fail "$comm runs as uid $uid, not 10001"
echo "in the container: PID 1 tini, $comm as uid $uid"
t0=$(date +%s%N)
podman stop -t 20 "$name" >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
rc=$(podman inspect --format '{{.State.ExitCode}}' "$name")
kill "$holder" 2>/dev/null || true
[ "$rc" = 143 ] || fail "exit code after SIGTERM: $rc (137 means the signal was not delivered)"
[ "$ms" -lt 10000 ] || fail "podman stop took $ms ms"
echo "SIGTERM: stopped in $ms ms with exit code $rc"
echo "image $tag: $(podman image inspect --format '{{.Size}}' "$tag" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
