#!/usr/bin/env bash
# The compose stack (deploy/compose.yaml) with podman-compose, pinned in .venv-deploy.
#   deploy/compose.sh up      build the images if missing (base, sentistream, services,
#                             mlflow), train models-out/logreg.ssm if missing, start the
#                             stack, wait until every sentistream process answers /readyz
#                             and MLflow /health
#   deploy/compose.sh demo    up, replay tweets (SS_DEMO_LIMIT, default 2000) and their labels
#                             from the host, show the predictions, the scorers' and the
#                             monitor's counts and Prometheus' targets, then down
#   deploy/compose.sh down    stop and remove the containers, the network and the volumes
#   deploy/compose.sh ps|logs [SERVICE]
# Ports (all on 127.0.0.1): SS_COMPOSE_KAFKA_PORT (19094), SS_COMPOSE_REDIS_PORT (16379),
# SS_COMPOSE_SCORER1_PORT (19464), SS_COMPOSE_SCORER2_PORT (19466), SS_COMPOSE_MONITOR_PORT
# (19465), SS_COMPOSE_PROMETHEUS_PORT (19090), SS_COMPOSE_MLFLOW_PORT (15000);
# SS_COMPOSE_PORT_BASE=B sets them all to B+94, B+79, B+64, B+66, B+65, B+90, B+50.
# SS_MODELS_DIR: the models mounted at /models.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
export CONTAINERS_CONF=${CONTAINERS_CONF:-$here/container/containers.conf}
if [ -n "${SS_COMPOSE_PORT_BASE:-}" ]; then
        b=$SS_COMPOSE_PORT_BASE
        export SS_COMPOSE_KAFKA_PORT=$((b + 94)) SS_COMPOSE_REDIS_PORT=$((b + 79))
        export SS_COMPOSE_SCORER1_PORT=$((b + 64)) SS_COMPOSE_SCORER2_PORT=$((b + 66))
        export SS_COMPOSE_MONITOR_PORT=$((b + 65)) SS_COMPOSE_PROMETHEUS_PORT=$((b + 90))
        export SS_COMPOSE_MLFLOW_PORT=$((b + 50))
fi
kport=${SS_COMPOSE_KAFKA_PORT:-19094}
rport=${SS_COMPOSE_REDIS_PORT:-16379}
s1=${SS_COMPOSE_SCORER1_PORT:-19464}
s2=${SS_COMPOSE_SCORER2_PORT:-19466}
mport=${SS_COMPOSE_MONITOR_PORT:-19465}
pport=${SS_COMPOSE_PROMETHEUS_PORT:-19090}
fport=${SS_COMPOSE_MLFLOW_PORT:-15000}
export SS_MODELS_DIR=${SS_MODELS_DIR:-$root/models-out}
bin=${SS_BIN:-$root/build/rel/cli/sentistream}
pc=
tmp=
compose() { "$pc" -f "$here/compose.yaml" "$@"; }

say() { echo "compose.sh: $*"; }
die() {
        echo "compose.sh: $*" >&2
        exit 1
}

# wait_ready PORT NAME TIMEOUT_S: until GET /readyz answers 200
wait_ready() {
        local body=
        for _ in $(seq 1 $(($3 * 2))); do
                body=$(curl -s --max-time 3 "http://127.0.0.1:$1/readyz" || true)
                [ "$body" = ready ] && { say "$2 ready (127.0.0.1:$1)"; return 0; }
                sleep 0.5
        done
        compose logs "$2" 2>&1 | tail -n 20 >&2 || true
        die "$2 not ready within $3 s (last /readyz: ${body:-no answer})"
}

build_host_binary() {
        if [ ! -x "$bin" ]; then
                cmake -S "$root" -B "$root/build/rel" -DCMAKE_BUILD_TYPE=Release >/dev/null
                cmake --build "$root/build/rel" -j "$(nproc)" --target sentistream >/dev/null
        fi
}

cmd_up() {
        "$here/container/build.sh" localhost/sentistream:latest
        "$here/compose/services-image.sh"
        "$here/compose/mlflow-image.sh"
        if [ ! -f "$SS_MODELS_DIR/logreg.ssm" ]; then
                build_host_binary
                say "training $SS_MODELS_DIR/logreg.ssm"
                (cd "$root" && "$bin" train model.out="$SS_MODELS_DIR/logreg.ssm") >/dev/null
        fi
        compose up -d >/dev/null 2>&1 || { compose up -d; die "podman-compose up failed"; }
        wait_ready "$s1" scorer-1 180
        wait_ready "$s2" scorer-2 60
        wait_ready "$mport" monitor 60
        local h=
        for _ in $(seq 1 120); do
                h=$(curl -s --max-time 3 "http://127.0.0.1:$fport/health" || true)
                [ "$h" = OK ] && { say "mlflow ready (127.0.0.1:$fport)"; return 0; }
                sleep 0.5
        done
        compose logs mlflow 2>&1 | tail -n 20 >&2 || true
        die "mlflow: GET /health answered '${h:-nothing}' within 60 s"
}

cmd_down() {
        compose down -v >/dev/null 2>&1 || compose down -v
        say "down"
}

# targets_up: number of Prometheus targets with health "up"
targets_up() {
        curl -s --max-time 3 "http://127.0.0.1:$pport/api/v1/targets" |
                python3 -c 'import json, sys
print(sum(t["health"] == "up" for t in json.load(sys.stdin)["data"]["activeTargets"]))' 2>/dev/null || echo 0
}

metric() { # metric PORT NAME
        { curl -s --max-time 3 "http://127.0.0.1:$1/metrics" || true; } |
                awk -v n="$2" '$1 == n { v = $2 } END { print (v == "" ? 0 : v) }'
}

cmd_demo() {
        build_host_binary
        local n=${SS_DEMO_LIMIT:-2000} data=$root/data/semeval-2016test.tsv
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/ss-compose-demo.XXXXXX")
        trap 'cmd_down; rm -rf "$tmp"' EXIT
        cmd_up
        head -n "$n" "$data" >"$tmp/tweets.tsv"
        say "replaying $n tweets into 127.0.0.1:$kport, labels into Redis 127.0.0.1:$rport"
        "$bin" produce "$tmp/tweets.tsv" kafka.bootstrap.servers=127.0.0.1:"$kport" >"$tmp/produce.log" 2>&1 ||
                { cat "$tmp/produce.log"; die "produce"; }
        "$bin" label "$tmp/tweets.tsv" redis.port="$rport" >"$tmp/label.log" 2>&1 ||
                { cat "$tmp/label.log"; die "label"; }
        local a=0 b=0 m=0 up=0
        for _ in $(seq 1 240); do
                a=$(metric "$s1" sentistream_scored_total)
                b=$(metric "$s2" sentistream_scored_total)
                m=$(metric "$mport" sentistream_monitor_predictions_total)
                up=$(targets_up)
                [ "$(awk -v a="$a" -v b="$b" 'BEGIN { print a + b }')" = "$n" ] && [ "$m" = "$n" ] &&
                        [ "$up" = 3 ] && break
                sleep 0.5
        done
        say "scored: scorer-1 $a + scorer-2 $b (of $n); the monitor read $m predictions; Prometheus targets up: $up of 3"
        say "three predictions, read back from the host:"
        "$bin" tail tweet-predictions --max 3 kafka.bootstrap.servers=127.0.0.1:"$kport" 2>/dev/null || true
        echo
        [ "$(awk -v a="$a" -v b="$b" 'BEGIN { print a + b }')" = "$n" ] || die "the scorers scored $a + $b of $n"
        [ "$a" != 0 ] && [ "$b" != 0 ] || die "one scorer scored nothing ($a, $b): not one group sharing the partitions"
        [ "$m" = "$n" ] || die "the monitor read $m of $n predictions"
        [ "$up" = 3 ] || die "Prometheus: $up of 3 targets up"
        # MLflow as the other containers reach it (its allowed-hosts check included)
        local h
        h=$(compose exec -T mlflow curl -s --max-time 5 http://mlflow:5000/health 2>/dev/null || true)
        [ "$h" = OK ] || die "MLflow at mlflow:5000 inside the compose network answered '${h:-nothing}'"
        say "MLflow answers at mlflow:5000 inside the network and 127.0.0.1:$fport outside"
        say "demo ok"
}

[ $# -ge 1 ] || { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
pc=$("$here/tools.sh" podman-compose)
case $1 in
up) cmd_up ;;
down) cmd_down ;;
demo) cmd_demo ;;
ps) compose ps ;;
logs) shift; compose logs "$@" ;;
*) die "unknown command $1 (up, demo, down, ps, logs)" ;;
esac
