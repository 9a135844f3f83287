# shellcheck shell=bash disable=SC2154
# (the variables named below come from the sourcing script)
# Shared by kafka.sh and redis.sh (sourced): the life cycle of one local service process.
# The sourcing script sets: svc (its name, for messages), what (e.g. "broker"), addr
# (host:port), run (state dir), here (deploy/local), pidfile, keep, timeout, and defines
# live_pid (the pid if our process runs, else nothing), answers (0 if it serves requests),
# probe (what answers sends, for messages) and stop_gently PID (ask the process to stop).

wait_gone() { # wait_gone PID SECONDS: 0 once PID is gone, 1 after SECONDS
        local i=0 n=$(($2 * 10))
        while kill -0 "$1" 2>/dev/null; do
                [ $i -lt $n ] || return 1
                sleep 0.1
                i=$((i + 1))
        done
}

port_busy() { # port_busy PORT: 0 if something listens on 127.0.0.1:PORT
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

cmd_stop() {
        local pid
        pid=$(live_pid)
        if [ -n "$pid" ]; then
                stop_gently "$pid"
                if ! wait_gone "$pid" "$timeout"; then
                        echo "$svc: $what pid $pid still running after ${timeout}s, sending SIGKILL" >&2
                        kill -KILL "$pid" 2>/dev/null || true
                        wait_gone "$pid" 10 || die "$what pid $pid does not die"
                fi
                echo "$svc: stopped $what on $addr (pid $pid)"
        else
                echo "$svc: not running on $addr"
        fi
        rm -f "$pidfile"
        if [ "$keep" = 0 ]; then
                rm -rf "$run"
                rmdir "$here/run" 2>/dev/null || true
        fi
}

cmd_kill() {
        local pid
        pid=$(live_pid)
        [ -n "$pid" ] || die "not running on $addr"
        kill -KILL "$pid"
        wait_gone "$pid" 10 || die "$what pid $pid survived SIGKILL"
        rm -f "$pidfile"
        echo "$svc: killed $what on $addr (pid $pid); data kept in $run"
}

cmd_status() {
        local pid
        pid=$(live_pid)
        if [ -z "$pid" ]; then
                echo "$svc: not running on $addr"
                exit 3
        fi
        if answers; then
                echo "$svc: running on $addr (pid $pid)"
        else
                echo "$svc: pid $pid on $addr does not answer $probe"
                exit 1
        fi
}
