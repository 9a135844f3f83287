#!/usr/bin/env bash
# Static analysis: clang-tidy with the curated checks of .clang-tidy over every C file of the
# product (common/ models/ consumer/ monitor/ cli/; the generated WordPiece tables skipped),
# using BUILD_DIR/compile_commands.json. Any finding fails. A suppression is a
# `// NOLINT(check): why` on the line, never a blanket one.
# Usage: tests/lint/tidy.sh [ROOT [BUILD_DIR]]
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${2:-$root/build/asan}
command -v clang-tidy > /dev/null || { echo "tidy: clang-tidy missing (deploy/install-deps.sh)" >&2; exit 1; }
[ -f "$build/compile_commands.json" ] || { echo "tidy: $build/compile_commands.json missing (configure first)" >&2; exit 1; }
cd "$root"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
n=0
files=()
while IFS= read -r f; do files+=("$f"); n=$((n + 1)); done < <(
  find common models consumer monitor cli -name '*.c' ! -name wordpiece_tables.c | sort)
status=0
printf '%s\n' "${files[@]}" |
  xargs -P "$(nproc)" -n 4 clang-tidy -p "$build" --quiet > "$out" 2>&1 || status=$?
if [ "$status" != 0 ] || grep -q "warning:\|error:" "$out"; then
  grep -A3 "warning:\|error:" "$out" >&2 || cat "$out" >&2
  echo "tidy: $(grep -c 'warning:\|error:' "$out") findings" >&2
  exit 1
fi
echo "tidy: ok ($n files, no finding)"
