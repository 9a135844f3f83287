#!/usr/bin/env bash
# Kafka in the compose stack (runs inside localhost/sentistream-services): a single KRaft
# node (broker + controller) from the jars in /opt/kafka/jars, its data in /data. Two
# listeners: INTERNAL kafka:9092 for the other containers, EXTERNAL on 9094 advertised as
# 127.0.0.1:$KAFKA_EXTERNAL_PORT for tools on the host (compose publishes it on loopback).
# Once the broker answers, the topics in $KAFKA_TOPICS ("name:partitions ...") are created.
set -euo pipefail
jars=/opt/kafka/jars
props=/data/server.properties
ext=${KAFKA_EXTERNAL_PORT:?KAFKA_EXTERNAL_PORT not set}
mkdir -p /data/log
cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@localhost:9093
listeners=INTERNAL://0.0.0.0:9092,CONTROLLER://localhost:9093,EXTERNAL://0.0.0.0:9094
advertised.listeners=INTERNAL://kafka:9092,EXTERNAL://127.0.0.1:$ext
controller.listener.names=CONTROLLER
inter.broker.listener.name=INTERNAL
listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,EXTERNAL:PLAINTEXT
log.dirs=/data/log
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
default.replication.factor=1
min.insync.replicas=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
PROPS
java_opts=(-Xms"${KAFKA_HEAP:-512m}" -Xmx"${KAFKA_HEAP:-512m}" -XX:+UseG1GC
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$jars/*")
if [ ! -f /data/log/meta.properties ]; then
        id=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=' | sed 's/^-/A/')
        java "${java_opts[@]}" kafka.tools.StorageTool format -t "$id" -c "$props"
fi
java "${java_opts[@]}" kafka.Kafka "$props" &
pid=$!
trap 'kill -TERM "$pid"' TERM INT
until kcat -b localhost:9092 -L -m 2 >/dev/null 2>&1; do
        kill -0 "$pid" 2>/dev/null || { echo "kafka-run: broker exited during startup" >&2; exit 1; }
        sleep 0.5
done
for t in ${KAFKA_TOPICS:-}; do
        java "${java_opts[@]}" org.apache.kafka.tools.TopicCommand --bootstrap-server localhost:9092 \
                --create --if-not-exists --topic "${t%%:*}" --partitions "${t##*:}" \
                --replication-factor 1 >/dev/null
        echo "kafka-run: topic ${t%%:*} (${t##*:} partitions)"
done
echo "kafka-run: ready (external 127.0.0.1:$ext)"
rc=0
wait "$pid" || rc=$?
# a signal interrupted the wait: the broker is shutting down, wait for its own status
if kill -0 "$pid" 2>/dev/null; then
        rc=0
        wait "$pid" || rc=$?
fi
exit "$rc"
