#!/usr/bin/env bash
# A real single-node Apache Kafka broker (KRaft mode, broker + controller in one JVM) on
# 127.0.0.1, run from the Maven Central jars; no tarball, no container.
#
#   kafka.sh fetch                          copy the jars into deploy/local/jars/ (idempotent)
#   kafka.sh start [--keep-data]            format a fresh log dir (or reuse it) and start;
#                                           waits until a metadata request answers
#   kafka.sh stop [--keep]                  SIGTERM, SIGKILL after a bound; removes the run
#                                           dir unless --keep
#   kafka.sh kill                           kill -9 (crash tests; restart with start --keep-data)
#   kafka.sh status                         exit 0 if running and answering, 3 if not running
#   kafka.sh create-topic NAME PARTITIONS   create a topic (replication factor 1), idempotent
#                                           (KEY=VALUE... after it: topic configs)
#   kafka.sh delete-topic NAME              delete a topic
#
# Options (any command): --port P (env SS_KAFKA_PORT, default 9092), --controller-port C
# (env SS_KAFKA_CONTROLLER_PORT, default 9093), --timeout S (start/stop bound, default 60).
# start only: --sasl-port S --jaas FILE adds a SASL_PLAINTEXT listener on 127.0.0.1:S
# (mechanism PLAIN; FILE is the JAAS config with the KafkaServer section holding
# PlainLoginModule's user_NAME="PASSWORD" entries). --scram NAME=PASSWORD (repeatable)
# also enables SCRAM-SHA-256 and SCRAM-SHA-512 on the SASL listeners and creates NAME's
# credentials for both when the log dir is formatted (KRaft keeps them in its metadata).
# --ssl-dir DIR with --ssl-port P adds an SSL listener on 127.0.0.1:P, with
# --sasl-ssl-port Q a SASL_SSL listener on 127.0.0.1:Q (needs --jaas); DIR holds
# broker.pem (the broker's PKCS#8 key, then its certificate) and ca.pem (PEM keystore and
# truststore, no client certificates asked).
# State lives in deploy/local/run/<port>/: server.properties, data/, kafka.log, kafka.pid,
# gc.log (the JVM's collections with their pauses).
# SS_KAFKA_HEAP (default 512m) sizes the JVM heap; SS_KAFKA_JVM_OPTS adds JVM flags (split on
# spaces, after the defaults, so a flag there wins), e.g. SS_KAFKA_JVM_OPTS=-XX:+AlwaysPreTouch.
# Topics are never created on the fly (auto.create.topics.enable=false): create them with
# create-topic and the partition count you need.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
jars=$here/jars
port=${SS_KAFKA_PORT:-9092}
cport=${SS_KAFKA_CONTROLLER_PORT:-9093}
timeout=60
keep=0
keep_data=0
heap=${SS_KAFKA_HEAP:-512m}
sasl_port=""
jaas=""
ssl_port=""
sasl_ssl_port=""
ssl_dir=""
scram=()

die() {
        echo "kafka.sh: $*" >&2
        exit 1
}

usage() {
        sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
}

[ $# -ge 1 ] || usage
cmd=$1
shift
args=()
while [ $# -gt 0 ]; do
        case $1 in
        --port) port=${2:?--port needs a value}; shift 2 ;;
        --controller-port) cport=${2:?--controller-port needs a value}; shift 2 ;;
        --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
        --keep) keep=1; shift ;;
        --keep-data) keep_data=1; shift ;;
        --sasl-port) sasl_port=${2:?--sasl-port needs a value}; shift 2 ;;
        --jaas) jaas=${2:?--jaas needs a file}; shift 2 ;;
        --scram) scram+=("${2:?--scram needs NAME=PASSWORD}"); shift 2 ;;
        --ssl-port) ssl_port=${2:?--ssl-port needs a value}; shift 2 ;;
        --sasl-ssl-port) sasl_ssl_port=${2:?--sasl-ssl-port needs a value}; shift 2 ;;
        --ssl-dir) ssl_dir=${2:?--ssl-dir needs a directory}; shift 2 ;;
        -h | --help) usage ;;
        --*) die "unknown option $1" ;;
        *) args+=("$1"); shift ;;
        esac
done
[[ $port =~ ^[0-9]+$ && $cport =~ ^[0-9]+$ ]] || die "ports must be numbers (got $port, $cport)"
[ "$port" != "$cport" ] || die "--port and --controller-port must differ (both $port)"
for p in "$sasl_port" "$ssl_port" "$sasl_ssl_port"; do
        [[ -z $p || $p =~ ^[0-9]+$ ]] || die "listener ports must be numbers (got $p)"
done
if [ -n "$sasl_port$sasl_ssl_port" ]; then
        [ -f "$jaas" ] || die "a SASL listener needs --jaas FILE (the JAAS config of the listener)"
        jaas=$(cd "$(dirname "$jaas")" && pwd)/$(basename "$jaas")
fi
if [ -n "$ssl_port$sasl_ssl_port" ]; then
        [ -f "$ssl_dir/broker.pem" ] && [ -f "$ssl_dir/ca.pem" ] ||
                die "an SSL listener needs --ssl-dir DIR with broker.pem and ca.pem"
        ssl_dir=$(cd "$ssl_dir" && pwd)
fi
for u in "${scram[@]}"; do
        [[ $u =~ ^[A-Za-z0-9_.-]+=[^],[]+$ ]] || die "--scram wants NAME=PASSWORD (got ${u%%=*}=...)"
done

run=$here/run/$port
pidfile=$run/kafka.pid
log=$run/kafka.log
props=$run/server.properties
bootstrap=127.0.0.1:$port
svc=kafka.sh what=broker addr=$bootstrap probe="metadata requests"
# shellcheck source=svc_lib.sh
. "$here/svc_lib.sh"

stop_gently() {
        kill -TERM "$1" 2>/dev/null || true
}

# The fetched jar set is tied to the pom: a changed pom (another Kafka version) refetches.
pom_stamp() {
        sha256sum "$here/pom.xml" | cut -d' ' -f1
}

cmd_fetch() {
        if [ -f "$jars/.complete" ] && [ "$(cat "$jars/.complete")" = "$(pom_stamp)" ]; then
                echo "kafka.sh: jars present in $jars"
                return 0
        fi
        command -v mvn >/dev/null || die "mvn not found (deploy/install-deps.sh installs maven)"
        command -v java >/dev/null || die "java not found (deploy/install-deps.sh installs it)"
        local tmp=$here/jars.tmp.$$
        rm -rf "$tmp"
        echo "kafka.sh: fetching Kafka jars from Maven Central into $jars"
        local mlog=$here/jars.fetch.$$.log
        if ! mvn -B -Dstyle.color=never -f "$here/pom.xml" dependency:copy-dependencies \
                -DincludeScope=runtime -DoutputDirectory="$tmp" >"$mlog" 2>&1; then
                tail -40 "$mlog" >&2
                rm -rf "$tmp" "$mlog"
                die "mvn dependency:copy-dependencies failed (log tail above)"
        fi
        rm -f "$mlog"
        ls "$tmp"/kafka_2.13-*.jar >/dev/null 2>&1 || { rm -rf "$tmp"; die "no kafka_2.13 jar fetched"; }
        pom_stamp >"$tmp/.complete"
        rm -rf "$jars"
        mv "$tmp" "$jars"
        echo "kafka.sh: $(ls "$jars"/*.jar | wc -l) jars in $jars"
}

need_jars() {
        [ -f "$jars/.complete" ] || die "no jars in $jars: run '$0 fetch' first"
        [ "$(cat "$jars/.complete")" = "$(pom_stamp)" ] ||
                die "the jars in $jars were fetched for another pom.xml: run '$0 fetch'"
        command -v java >/dev/null || die "java not found (deploy/install-deps.sh installs it)"
}

java_run() {
        java -Xms128m -Xmx256m -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
                -cp "$jars/*" "$@"
}

# Pid of our broker for this port, or nothing. A pid file whose process is gone, or is not
# our broker (pid reused), counts as not running.
live_pid() {
        [ -f "$pidfile" ] || return 0
        local pid
        pid=$(cat "$pidfile" 2>/dev/null || true)
        [[ $pid =~ ^[0-9]+$ ]] || return 0
        if [ -r "/proc/$pid/cmdline" ] &&
                tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "kafka.Kafka $props"; then
                echo "$pid"
        fi
}

answers() {
        kcat -b "$bootstrap" -L -m 2 -X socket.timeout.ms=2000 -X topic.metadata.refresh.interval.ms=-1 2>/dev/null |
                grep -q "broker 1 at 127.0.0.1:$port"
}

# A Kafka Uuid as `kafka-storage.sh random-uuid` prints it (16 random bytes, base64url, no
# padding; never starting with '-'), without starting a JVM for it.
random_uuid() {
        local id
        while :; do
                id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')
                [ "${id:0:1}" != "-" ] && break
        done
        echo "$id"
}

write_props() {
        local listeners="PLAINTEXT://127.0.0.1:$port" map="CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT"
        if [ -n "$sasl_port" ]; then
                listeners="$listeners,SASL_PLAINTEXT://127.0.0.1:$sasl_port"
                map="$map,SASL_PLAINTEXT:SASL_PLAINTEXT"
        fi
        if [ -n "$ssl_port" ]; then
                listeners="$listeners,SSL://127.0.0.1:$ssl_port"
                map="$map,SSL:SSL"
        fi
        if [ -n "$sasl_ssl_port" ]; then
                listeners="$listeners,SASL_SSL://127.0.0.1:$sasl_ssl_port"
                map="$map,SASL_SSL:SASL_SSL"
        fi
        cat >"$props" <<EOF
# Single-node KRaft broker for local runs and tests (written by deploy/local/kafka.sh).
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$cport
listeners=$listeners,CONTROLLER://127.0.0.1:$cport
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$map
log.dirs=$run/data
num.partitions=1
auto.create.topics.enable=false
# One broker: every internal topic has one replica, and few partitions keep startup short.
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
# After a kill -9 the controller keeps the dead broker's registration until its session times
# out; a short session lets a crash-restart come back in seconds (default 9 s).
broker.session.timeout.ms=4000
broker.heartbeat.interval.ms=1000
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
EOF
        if [ -n "$sasl_port$sasl_ssl_port" ]; then
                if [ ${#scram[@]} -gt 0 ]; then
                        echo "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512" >>"$props"
                        # every enabled mechanism needs its login module on the listener (the
                        # JAAS file holds PLAIN's); without it the broker drops SCRAM logins
                        local l m
                        for l in ${sasl_port:+sasl_plaintext} ${sasl_ssl_port:+sasl_ssl}; do
                                for m in scram-sha-256 scram-sha-512; do
                                        echo "listener.name.$l.$m.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;" >>"$props"
                                done
                        done
                else
                        echo "sasl.enabled.mechanisms=PLAIN" >>"$props"
                fi
        fi
        if [ -n "$ssl_port$sasl_ssl_port" ]; then
                cat >>"$props" <<EOF
ssl.keystore.type=PEM
ssl.keystore.location=$ssl_dir/broker.pem
ssl.truststore.type=PEM
ssl.truststore.location=$ssl_dir/ca.pem
ssl.client.auth=none
EOF
        fi
}

cmd_start() {
        need_jars
        command -v kcat >/dev/null || die "kcat not found (deploy/install-deps.sh installs it)"
        local pid
        pid=$(live_pid)
        if [ -n "$pid" ]; then
                answers || die "broker pid $pid on port $port is running but does not answer; see $log"
                echo "kafka.sh: already running on $bootstrap (pid $pid)"
                return 0
        fi
        port_busy "$port" && die "port $port is in use by another process"
        port_busy "$cport" && die "controller port $cport is in use by another process"
        for p in "$sasl_port" "$ssl_port" "$sasl_ssl_port"; do
                [ -n "$p" ] && port_busy "$p" && die "listener port $p is in use by another process"
        done

        if [ "$keep_data" = 1 ] && [ -f "$run/data/meta.properties" ]; then
                echo "kafka.sh: restarting on the existing log dir $run/data"
        else
                rm -rf "$run"
        fi
        mkdir -p "$run/data"
        write_props
        local t0 cluster_id
        t0=$(date +%s.%N)
        if [ ! -f "$run/data/meta.properties" ]; then
                cluster_id=$(random_uuid)
                local scram_opt=() u
                for u in "${scram[@]}"; do
                        scram_opt+=(--add-scram "SCRAM-SHA-256=[name=${u%%=*},password=${u#*=}]"
                                --add-scram "SCRAM-SHA-512=[name=${u%%=*},password=${u#*=}]")
                done
                java_run kafka.tools.StorageTool format -t "$cluster_id" -c "$props" \
                        "${scram_opt[@]}" >>"$log" 2>&1 ||
                        { tail -20 "$log" >&2; die "formatting $run/data failed"; }
        fi

        # setsid: the broker outlives this script and the terminal that started it.
        local jaas_opt=()
        [ -n "$jaas" ] && jaas_opt=(-Djava.security.auth.login.config="$jaas")
        local extra_opt=()
        [ -n "${SS_KAFKA_JVM_OPTS:-}" ] && read -r -a extra_opt <<<"$SS_KAFKA_JVM_OPTS"
        # gc.log: every collection and its pause (what a latency tail can be checked against)
        setsid java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
                -Xlog:gc:file="$run/gc.log":uptime "${jaas_opt[@]}" \
                -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent \
                "${extra_opt[@]}" \
                -Djava.awt.headless=true -Dorg.slf4j.simpleLogger.showDateTime=true \
                -Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd'T'HH:mm:ss.SSS" \
                -Dorg.slf4j.simpleLogger.defaultLogLevel="${SS_KAFKA_LOG_LEVEL:-info}" \
                -cp "$jars/*" kafka.Kafka "$props" >>"$log" 2>&1 </dev/null &
        pid=$!
        echo "$pid" >"$pidfile"

        local deadline=$((SECONDS + timeout))
        until answers; do
                if ! kill -0 "$pid" 2>/dev/null; then
                        tail -30 "$log" >&2
                        rm -f "$pidfile"
                        die "broker exited during startup; log: $log"
                fi
                if [ $SECONDS -ge $deadline ]; then
                        tail -30 "$log" >&2
                        kill -9 "$pid" 2>/dev/null || true
                        rm -f "$pidfile"
                        die "broker did not answer a metadata request on $bootstrap within ${timeout}s; log: $log"
                fi
                sleep 0.3
        done
        local t1
        t1=$(date +%s.%N)
        printf 'kafka.sh: started on %s (controller %s, pid %s) in %.1f s\n' \
                "$bootstrap" "$cport" "$pid" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')"
}

# Waits up to $2 seconds for pid $1 to exit. Returns 0 when it is gone.
cmd_create_topic() {
        [ ${#args[@]} -ge 2 ] || die "usage: create-topic NAME PARTITIONS [KEY=VALUE...]"
        [[ ${args[1]} =~ ^[1-9][0-9]*$ ]] || die "PARTITIONS must be a positive number (got ${args[1]})"
        need_jars
        local kv topic_conf=()
        for kv in "${args[@]:2}"; do
                [[ $kv =~ ^[a-z.]+=[^[:space:]]+$ ]] || die "topic config wants KEY=VALUE (got $kv)"
                topic_conf+=(--config "$kv")
        done
        java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --create \
                --if-not-exists --topic "${args[0]}" --partitions "${args[1]}" \
                --replication-factor 1 "${topic_conf[@]}" >/dev/null ||
                die "creating topic ${args[0]} on $bootstrap failed"
        echo "kafka.sh: topic ${args[0]} (${args[1]} partitions) on $bootstrap"
}

cmd_delete_topic() {
        [ ${#args[@]} -eq 1 ] || die "usage: delete-topic NAME"
        need_jars
        java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --delete \
                --topic "${args[0]}" || die "deleting topic ${args[0]} on $bootstrap failed"
}

case $cmd in
fetch) cmd_fetch ;;
start) cmd_start ;;
stop) cmd_stop ;;
kill) cmd_kill ;;
status) cmd_status ;;
create-topic) cmd_create_topic ;;
delete-topic) cmd_delete_topic ;;
-h | --help | help) usage ;;
*) die "unknown command '$cmd' (fetch|start|stop|kill|status|create-topic|delete-topic)" ;;
esac
