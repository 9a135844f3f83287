#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, SS_FUZZ=ON, in build/fuzz) and runs each for SECONDS
# (default 60), starting from the committed seeds (tests/fuzz/corpus/<target>/) and crash
# regressions (tests/fuzz/regressions/<target>/). The growing corpus stays in
# build/fuzz/corpus/<target>/; a crashing input is written to build/fuzz/artifacts/<target>/
# and the script exits non-zero. Prints per target: executions, coverage (edges), features.
#   tests/fuzz/run.sh [SECONDS] [TARGET ...]      e.g. tests/fuzz/run.sh 600 avro_tweet
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
secs=${1:-60}
shift || true
build=${SS_FUZZ_BUILD_DIR:-build/fuzz}

if [ ! -f "$build/CMakeCache.txt" ]; then
        CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_FUZZ=ON >/dev/null
fi
cmake --build "$build" -j "$(nproc)" --target fuzz_all >/dev/null

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
        for f in tests/fuzz/fuzz_*.c; do
                t=$(basename "$f" .c)
                targets+=("${t#fuzz_}")
        done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export OPENBLAS_NUM_THREADS=1 SS_SOURCE_DIR="$root"
failed=0
printf '%-16s %8s %12s %8s %8s  %s\n' target seconds executions edges features result
for t in "${targets[@]}"; do
        work="$build/corpus/$t" art="$build/artifacts/$t"
        mkdir -p "$work" "$art"
        dirs=("$work" "tests/fuzz/corpus/$t")
        [ -d "tests/fuzz/regressions/$t" ] && dirs+=("tests/fuzz/regressions/$t")
        log="$build/fuzz_$t.log"
        max_len=65536
        [ "$t" = model ] && max_len=262144 # the model seed is 210 KB: never truncate it
        rc=0
        "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" -print_final_stats=1 \
                -max_len="$max_len" -timeout=10 -rss_limit_mb=2048 -artifact_prefix="$art/" \
                "${dirs[@]}" >"$log" 2>&1 || rc=$?
        execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
        edges=$(echo "$cov" | awk '{print $2}')
        ft=$(echo "$cov" | awk '{print $4}')
        result=ok
        if [ "$rc" -ne 0 ]; then
                result="CRASH (exit $rc): see $log and $art/"
                failed=1
        fi
        printf '%-16s %8s %12s %8s %8s  %s\n' "$t" "$secs" "${execs:-?}" "${edges:-?}" "${ft:-?}" "$result"
done
exit $failed
