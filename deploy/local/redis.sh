#!/usr/bin/env bash
# Debian's redis-server on 127.0.0.1 for local runs and tests, with its own directory, pid
# file and log under deploy/local/run/redis-<port>/. Append-only file on: the monitor keeps its
# state in Redis, and a restart must keep it. Never uses 6379 (the system redis of the package).
#
#   redis.sh start      start (reusing the data of an earlier run on this port) and wait for PING
#   redis.sh stop       SHUTDOWN (saves), SIGKILL after a bound; removes the run dir unless --keep
#   redis.sh kill       kill -9 (crash tests; start again keeps what the append-only file holds)
#   redis.sh status     exit 0 if running and answering PING, 3 if not running
#
# Options: --port P (env SS_REDIS_PORT, default 6380), --timeout S (default 30), --keep.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
port=${SS_REDIS_PORT:-6380}
timeout=30
keep=0

die() {
        echo "redis.sh: $*" >&2
        exit 1
}

usage() {
        sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//' >&2
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
[ "$port" != 6379 ] || die "port 6379 belongs to the system redis; use another"

run=$here/run/redis-$port
pidfile=$run/redis.pid
svc=redis.sh what=redis addr=127.0.0.1:$port probe=PING
# shellcheck source=svc_lib.sh
. "$here/svc_lib.sh"
log=$run/redis.log
conf=$run/redis.conf

live_pid() {
        [ -f "$pidfile" ] || return 0
        local pid
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] || return 0
        if [ -r "/proc/$pid/cmdline" ] &&
                tr '\0' ' ' <"/proc/$pid/cmdline" | grep -Eq "redis-server [^ ]*:$port( |$)"; then
                echo "$pid"
        fi
}

answers() {
        [ "$(redis-cli -h 127.0.0.1 -p "$port" PING 2>/dev/null)" = PONG ]
}

stop_gently() {
        redis-cli -h 127.0.0.1 -p "$port" SHUTDOWN >/dev/null 2>&1 || kill -TERM "$1" 2>/dev/null || true
}

write_conf() {
        cat >"$conf" <<EOF
# Local redis for sentistream (written by deploy/local/redis.sh).
bind 127.0.0.1
port $port
protected-mode yes
daemonize yes
pidfile $pidfile
logfile $log
dir $run
dbfilename dump.rdb
appendonly yes
appendfilename appendonly.aof
appendfsync everysec
save 60 1000
EOF
}

cmd_start() {
        command -v redis-server >/dev/null || die "redis-server not found (deploy/install-deps.sh installs it)"
        local pid
        pid=$(live_pid)
        if [ -n "$pid" ]; then
                answers || die "redis pid $pid on port $port is running but does not answer PING; see $log"
                echo "redis.sh: already running on 127.0.0.1:$port (pid $pid)"
                return 0
        fi
        port_busy "$port" && die "port $port is in use by another process"
        mkdir -p "$run"
        rm -f "$pidfile"
        write_conf
        local t0
        t0=$(date +%s%N)
        redis-server "$conf" || { tail -20 "$log" >&2 2>/dev/null; die "redis-server failed to start; log: $log"; }
        local deadline=$((SECONDS + timeout))
        until answers; do
                if [ $SECONDS -ge $deadline ]; then
                        tail -20 "$log" >&2
                        pid=$(live_pid)
                        [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
                        die "redis did not answer PING on 127.0.0.1:$port within ${timeout}s; log: $log"
                fi
                sleep 0.1
        done
        # The pid file is written once the server is up; PONG implies it is there.
        pid=$(live_pid)
        [ -n "$pid" ] || die "redis answers on $port but $pidfile names no redis-server of ours"
        echo "redis.sh: started on 127.0.0.1:$port (pid $pid) in $((($(date +%s%N) - t0) / 1000000)) ms; data in $run"
}

case $cmd in
start) cmd_start ;;
stop) cmd_stop ;;
kill) cmd_kill ;;
status) cmd_status ;;
-h | --help | help) usage ;;
*) die "unknown command '$cmd' (start|stop|kill|status)" ;;
esac
