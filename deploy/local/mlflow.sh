#!/usr/bin/env bash
# A real MLflow tracking server and model registry (PyPI mlflow, pinned) on 127.0.0.1: SQLite
# backend store, the built-in artifact proxy (--serve-artifacts), one worker, no job runner.
# MLflow and DVC live in the git-ignored project venv .venv-mlops (created by `install`).
#
#   mlflow.sh install     create .venv-mlops with mlflow==3.17.2 and dvc==3.67.1 (idempotent)
#   mlflow.sh start       start (reusing the store of an earlier run on this port); waits for
#                         GET /health
#   mlflow.sh stop        SIGTERM, SIGKILL after a bound; removes the run dir unless --keep
#   mlflow.sh kill        kill -9 (crash tests; start again keeps the store)
#   mlflow.sh status      exit 0 if running and answering /health, 3 if not running
#   mlflow.sh venv        print the venv's bin directory (for `dvc`, `mlflow`)
#
# Options: --port P (env SS_MLFLOW_PORT, default 5000), --timeout S (default 120), --keep.
# State lives in deploy/local/run/mlflow-<port>/: mlflow.db, artifacts/, mlflow.log, mlflow.pid.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
venv=${SS_MLOPS_VENV:-$root/.venv-mlops}
port=${SS_MLFLOW_PORT:-5000}
timeout=120
keep=0
mlflow_pin=mlflow==3.17.2
dvc_pin=dvc==3.67.1

die() {
        echo "mlflow.sh: $*" >&2
        exit 1
}

usage() {
        sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
while [ $# -gt 0 ]; do
        case $1 in
        --port) port=${2:?--port needs a value}; shift 2 ;;
        --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
        --keep) keep=1; shift ;;
        -h | --help) usage ;;
        *) die "unknown argument $1" ;;
        esac
done
[[ $port =~ ^[0-9]+$ ]] || die "--port must be a number (got $port)"

run=$here/run/mlflow-$port
pidfile=$run/mlflow.pid
log=$run/mlflow.log
svc=mlflow.sh what="mlflow server" addr=127.0.0.1:$port probe="GET /health"
# shellcheck source=svc_lib.sh
. "$here/svc_lib.sh"

# The pins the venv was built with; a changed pin rebuilds it.
venv_stamp() {
        echo "$mlflow_pin $dvc_pin"
}

cmd_install() {
        if [ -x "$venv/bin/mlflow" ] && [ -x "$venv/bin/dvc" ] &&
                [ "$(cat "$venv/.complete" 2>/dev/null)" = "$(venv_stamp)" ]; then
                echo "mlflow.sh: $mlflow_pin and $dvc_pin present in $venv"
                return 0
        fi
        python3 -m venv --help >/dev/null 2>&1 || die "python3-venv missing (deploy/install-deps.sh installs it)"
        rm -rf "$venv"
        python3 -m venv "$venv"
        echo "mlflow.sh: pip install $mlflow_pin $dvc_pin into $venv (about a minute)"
        "$venv/bin/pip" install --quiet --disable-pip-version-check "$mlflow_pin" "$dvc_pin" ||
                die "pip install $mlflow_pin $dvc_pin failed"
        venv_stamp >"$venv/.complete"
}

live_pid() {
        [ -f "$pidfile" ] || return 0
        local pid
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] || return 0
        if [ -r "/proc/$pid/cmdline" ] &&
                tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq "mlflow server .*--port $port( |$)"; then
                echo "$pid"
        fi
}

answers() {
        [ "$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health" 2>/dev/null)" = 200 ]
}

# SIGTERM to the CLI process stops its whole tree (the uvicorn worker included).
stop_gently() {
        kill -TERM "$1" 2>/dev/null || true
}

cmd_start() {
        [ -x "$venv/bin/mlflow" ] || cmd_install
        local pid
        pid=$(live_pid)
        if [ -n "$pid" ]; then
                answers || die "mlflow pid $pid on port $port is running but does not answer /health; see $log"
                echo "mlflow.sh: already running on 127.0.0.1:$port (pid $pid)"
                return 0
        fi
        port_busy "$port" && die "port $port is in use by another process"
        mkdir -p "$run/artifacts"
        rm -f "$pidfile"
        local t0
        t0=$(date +%s%N)
        # The job runner (on by default) forks a Huey pool: ~2.5 GB and 10 processes for
        # nothing the project uses. setsid: the server outlives the shell that started it.
        MLFLOW_SERVER_ENABLE_JOB_EXECUTION=false setsid "$venv/bin/mlflow" server \
                --backend-store-uri "sqlite:///$run/mlflow.db" \
                --artifacts-destination "$run/artifacts" --serve-artifacts \
                --host 127.0.0.1 --port "$port" --workers 1 \
                </dev/null >"$log" 2>&1 &
        echo $! >"$pidfile"
        local deadline=$((SECONDS + timeout))
        until answers; do
                pid=$(live_pid)
                if [ -z "$pid" ]; then
                        tail -20 "$log" >&2
                        rm -f "$pidfile"
                        die "mlflow server exited during startup; log: $log"
                fi
                if [ $SECONDS -ge $deadline ]; then
                        tail -20 "$log" >&2
                        kill -KILL "$pid" 2>/dev/null || true
                        die "mlflow server did not answer /health on 127.0.0.1:$port within ${timeout}s; log: $log"
                fi
                sleep 0.2
        done
        echo "mlflow.sh: started on http://127.0.0.1:$port (pid $(live_pid)) in $((($(date +%s%N) - t0) / 1000000)) ms; store in $run"
}

case $cmd in
install) cmd_install ;;
start) cmd_start ;;
stop) cmd_stop ;;
kill) cmd_kill ;;
status) cmd_status ;;
venv) echo "$venv/bin" ;;
-h | --help | help) usage ;;
*) die "unknown command '$cmd' (install|start|stop|kill|status|venv)" ;;
esac
