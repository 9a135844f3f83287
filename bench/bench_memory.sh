#!/usr/bin/env bash
# Memory benchmark of the scorer: resident memory before, during and after a spike of large
# inputs. Through a local broker, the release scorer (LR model) reads 5,000 tweets, then a
# spike of 600 tweets with 70 kB texts each (41 MB; each goes to the dead-letter topic as
# too long, carrying 64 KiB of its value), then 5,000 tweets again. RSS is sampled every
# 50 ms from /proc (VmRSS; the peak is VmHWM). Reported, per setting of
# consumer.batch.max.bytes (default 16 MiB, and 1 GiB = effectively unbounded):
#   before  RSS once the first 5,000 were scored
#   peak    VmHWM over the whole run (bound: 64 MiB + consumer.batch.max.bytes)
#   after   RSS once the last 5,000 were scored, 2 s later
#
#   bench/bench_memory.sh     env: SS_TEST_PORT_BASE (the broker on base+92/93, metrics
#                             base+490), SS_BENCH_BUILD_DIR=build/rel,
#                             SS_BENCH_MEM_SETTINGS="16777216 1073741824",
#                             SS_BENCH_MEM_ARGS (more scorer overrides, e.g.
#                             kafka.fetch.max.bytes=8388608)
# Figures land in bench/out/memory.txt.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=${SS_BENCH_BUILD_DIR:-build/rel}
settings=${SS_BENCH_MEM_SETTINGS:-16777216 1073741824}
[ -x "$build/cli/sentistream" ] || {
        cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
        cmake --build "$build" -j "$(nproc)"
}
export SS_BIN=$root/$build/cli/sentistream SS_SOURCE_DIR=$root
. tests/integration/consume_lib.sh
port=$(ss_port 490)
mkdir -p bench/out
out=bench/out/memory.txt

ss_venv
ss_kafka_start
ss_model
head -n 5000 "$src/data/semeval-2016test.tsv" >"$work/a.tsv"
tail -n 5000 "$src/data/semeval-2016test.tsv" >"$work/c.tsv"
"$py" - "$work/b.tsv" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(600):
        f.write(f"{900000000000000000 + i}\tneutral\t" + ("big words " * 7000) + "\n")
EOF

# rss_kib PID FIELD: VmRSS or VmHWM in KiB
rss_kib() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }

{
        echo "# bench/bench_memory.sh, $(date -u +%FT%TZ), $(nproc) cores (shared)," \
                "extra: ${SS_BENCH_MEM_ARGS:-none}"
        echo "# batch.max.bytes  before_MiB  peak_MiB  after_MiB  bound_MiB"
} >"$out"
k=0
for bmax in $settings; do
        k=$((k + 1))
        t=mem$k
        ss_topic "$t" 1
        ss_topic "$t-out" 1
        ss_topic "$t-dlq" 1
        ss_consume_bg "$work/consume-$k.log" metrics.port=$port topics.input=$t \
                topics.output=$t-out topics.dlq=$t-dlq consumer.batch.max.bytes=$bmax \
                ${SS_BENCH_MEM_ARGS:-}
        "$SS_BIN" produce "$work/a.tsv" topics.input=$t kafka.bootstrap.servers="$bs" >/dev/null
        ss_wait_metric $port sentistream_consumed_total 5000 120
        sleep 2
        before=$(rss_kib "$cpid" VmRSS)
        "$SS_BIN" produce "$work/b.tsv" topics.input=$t kafka.bootstrap.servers="$bs" >/dev/null
        "$SS_BIN" produce "$work/c.tsv" topics.input=$t kafka.bootstrap.servers="$bs" >/dev/null
        ss_wait_metric $port sentistream_consumed_total 10600 300
        sleep 2
        after=$(rss_kib "$cpid" VmRSS)
        peak=$(rss_kib "$cpid" VmHWM)
        ss_stop "$cpid"
        awk -v b="$bmax" -v x="$before" -v p="$peak" -v a="$after" 'BEGIN {
                printf "%-16s %10.1f %9.1f %10.1f %10.1f\n", b, x / 1024, p / 1024, a / 1024,
                        64 + b / 1048576 }' | tee -a "$out"
done
cat "$out"
