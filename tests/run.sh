#!/usr/bin/env bash
# Runs every test of sentistream on a fresh machine: installs the dependencies,
# builds with AddressSanitizer + UndefinedBehaviorSanitizer, and runs ctest
# (unit tests, then integration tests that start their own Kafka and Redis).
#   tests/run.sh                 all tests
#   tests/run.sh -L unit         only unit tests (any ctest arguments pass through)
# A full run (no arguments) ends with a short libFuzzer smoke of every fuzz target
# (tests/fuzz/run.sh, SS_FUZZ_SMOKE_SECONDS each, default 10; SS_FUZZ_SMOKE_SECONDS=0 skips it).
#   SS_TEST_CONTAINERS=1 tests/run.sh   also build and run the container image and the compose
#                                       stack with podman (minutes; skipped otherwise)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

if [ "${SS_TEST_CONTAINERS:-0}" = 1 ]; then
  deploy/install-deps.sh --containers
else
  deploy/install-deps.sh
fi

build=${SS_TEST_BUILD_DIR:-build/asan}
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSS_SANITIZE=ON >/dev/null
cmake --build "$build" -j "$(nproc)"

# Leak checks stay on; librdkafka and OpenBLAS keep some process-lifetime allocations,
# listed in tests/lsan.supp.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$root/tests/lsan.supp:print_suppressions=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

nargs=$#
(cd "$build" && ctest --output-on-failure --timeout 900 "$@")

smoke=${SS_FUZZ_SMOKE_SECONDS:-10}
if [ "$nargs" -eq 0 ] && [ "$smoke" != 0 ]; then
        echo "fuzz smoke: every target for ${smoke} s (tests/fuzz/run.sh)"
        tests/fuzz/run.sh "$smoke"
fi
