# shellcheck shell=bash
# Shared by tests/integration/test_consume_*.sh (sourced, not a test itself): a real Kafka
# broker on 127.0.0.1:BASE+92 (controller BASE+93; BASE is SS_TEST_PORT_BASE, default 19000) started by the test and always stopped by the
# trap, a small logistic-regression model trained on a slice, helpers to run the scorer in
# the background, wait on its metrics, and dump topics for consume_check.py.
set -euo pipefail
: "${SS_BIN:?SS_BIN not set}" "${SS_SOURCE_DIR:?SS_SOURCE_DIR not set}"
src=$SS_SOURCE_DIR
# Every test port is an offset from one base, so that two checkouts can run their tests side
# by side: SS_TEST_PORT_BASE=21000 tests/run.sh.
ss_port_base=${SS_TEST_PORT_BASE:-19000}
ss_port() { echo $((ss_port_base + $1)); }
SS_KAFKA_PORT=$(ss_port 92) SS_KAFKA_CONTROLLER_PORT=$(ss_port 93)
export SS_KAFKA_PORT SS_KAFKA_CONTROLLER_PORT
kafka_sh=$src/deploy/local/kafka.sh
bs=127.0.0.1:$SS_KAFKA_PORT
work=$(mktemp -d "${TMPDIR:-/tmp}/ss-consume-test.XXXXXX")
bg_pids=()
# ASan: leak checks stay on; the suppressions cover third-party process-lifetime allocations.
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$src/tests/lsan.supp:print_suppressions=0}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}

ss_cleanup() {
        for p in "${bg_pids[@]}"; do kill -9 "$p" 2>/dev/null || true; done
        "$kafka_sh" stop >/dev/null 2>&1 || true
        if [ -n "${SS_TEST_KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap ss_cleanup EXIT

fail() {
        echo "FAIL: $*" >&2
        for f in "$work"/consume*.log; do
                [ -f "$f" ] && { echo "--- tail of $f" >&2; tail -n 20 "$f" >&2; }
        done
        exit 1
}

ss_kafka_start() {
        "$kafka_sh" stop >/dev/null 2>&1 || true
        "$kafka_sh" start >"$work/kafka.out" 2>&1 || { cat "$work/kafka.out"; fail "kafka start"; }
}

# ss_topic NAME PARTITIONS
ss_topic() {
        "$kafka_sh" create-topic "$1" "$2" >/dev/null || fail "create topic $1"
}

# A small model: 3,000 training tweets, 2^16 hashed features (a few seconds).
ss_model() {
        model=$work/lr.ssm
        head -n 3000 "$src/data/semeval-train.tsv" >"$work/train.tsv"
        "$SS_BIN" train data.train="$work/train.tsv" model.out="$model" model.logreg.dim_bits=16 \
                model.logreg.max_iter=30 model.logreg.l2=1e-4 >"$work/train.out" 2>&1 ||
                { cat "$work/train.out"; fail "train"; }
}

# The Python venv shared by the integration tests (fastavro), created on first use.
ss_venv() {
        venv=$src/tests/.venv
        (
                flock 9
                if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import fastavro' 2>/dev/null; then
                        echo "creating $venv with fastavro"
                        rm -rf "$venv"
                        python3 -m venv "$venv"
                        echo '*' >"$venv/.gitignore"
                        "$venv/bin/pip" install -q --disable-pip-version-check fastavro
                fi
        ) 9>"${TMPDIR:-/tmp}/sentistream-test-venv.lock"
        # shellcheck disable=SC2034 # read by the tests that source this file
        py=$venv/bin/python
}

# ss_consume_bg LOG [overrides...]: starts the scorer in the background; its pid in $cpid.
ss_consume_bg() {
        local log=$1
        shift
        "$SS_BIN" consume kafka.bootstrap.servers="$bs" consumer.model.path="$model" "$@" \
                >"$log" 2>&1 &
        cpid=$!
        bg_pids+=("$cpid")
}

# ss_metric PORT NAME: the value of an unlabelled sample, or 0 when not reachable.
ss_metric() {
        { curl -s --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
                awk -v n="$2" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) }'
}

# ss_wait_metric PORT NAME MIN TIMEOUT_S: waits until NAME >= MIN (fails after the timeout).
ss_wait_metric() {
        local port=$1 name=$2 min=$3 t=$4 v=0
        for _ in $(seq 1 $((t * 5))); do
                v=$(ss_metric "$port" "$name")
                awk -v v="$v" -v m="$min" 'BEGIN { exit !(v + 0 >= m + 0) }' && return 0
                sleep 0.2
        done
        fail "$name on port $port stayed at $v (wanted >= $min within $t s)"
}

# ss_wait_lag PORT N TIMEOUT_S: waits until N partitions report a consumer_lag sample (the
# scorer joined the group, was assigned them, and refreshed the gauges).
ss_wait_lag() {
        local c=0
        for _ in $(seq 1 $(($3 * 5))); do
                c=$({ curl -s --max-time 2 "http://127.0.0.1:$1/metrics" 2>/dev/null || true; } |
                        grep -c '^sentistream_consumer_lag{' || true)
                [ "$c" -ge "$2" ] && return 0
                sleep 0.2
        done
        fail "only $c partition(s) with a lag gauge on port $1 after $3 s (wanted $2)"
}

# ss_lag_zero PORT N TIMEOUT_S: waits until N partitions report a consumer_lag of 0;
# returns 1 (no failure of its own) if they do not within TIMEOUT_S.
ss_lag_zero() {
        local z=0
        for _ in $(seq 1 $(($3 * 5))); do
                z=$({ curl -s "http://127.0.0.1:$1/metrics" || true; } |
                        grep -c '^sentistream_consumer_lag{.*} 0$' || true)
                [ "$z" = "$2" ] && return 0
                sleep 0.2
        done
        return 1
}

# ss_stop PID: SIGTERM, then waits; fails unless the exit status is 0 within 60 s.
ss_stop() {
        local pid=$1 rc=0
        kill -TERM "$pid"
        for _ in $(seq 1 600); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
        done
        kill -0 "$pid" 2>/dev/null && fail "scorer $pid still running 60 s after SIGTERM"
        wait "$pid" || rc=$?
        [ "$rc" = 0 ] || fail "scorer $pid exited $rc after SIGTERM"
}

# ss_dump TOPIC OUT: every message value of TOPIC, each prefixed with its 4-byte length.
ss_dump() {
        kcat -b "$bs" -C -t "$1" -o beginning -e -q -f '%R%s' >"$2" || fail "kcat dump $1"
}

# ss_dump_keys TOPIC OUT: one "key<TAB>partition" line per message.
ss_dump_keys() {
        kcat -b "$bs" -C -t "$1" -o beginning -e -q -f '%k\t%p\n' >"$2" || fail "kcat keys $1"
}

# ss_count TOPIC: messages in TOPIC.
ss_count() {
        kcat -b "$bs" -C -t "$1" -o beginning -e -q -f 'x\n' | wc -l
}
