#!/usr/bin/env bash
# The probes and a real Prometheus server against a running scorer and monitor (real Kafka
# broker and Redis on test ports):
#   - /healthz answers 200 at once; /readyz answers 503 with a reason until the process is
#     assigned its partitions (and, for the monitor, Redis answers), then 200;
#   - /metrics of both passes `promtool check metrics`;
#   - Prometheus (Debian's server, on loopback) loads deploy/prometheus/rules.yml, scrapes
#     both processes (target `up` = 1 for each), and its HTTP API returns the scorer's
#     sentistream_scored_total = the tweets produced and the monitor's predictions count;
#   - with Redis stopped, the monitor's /readyz turns 503 ("Redis unreachable"); with the
#     broker stopped, the scorer's /readyz turns 503 ("broker unreachable"); /healthz of both
#     stays 200.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/consume_lib.sh"

rport=$(ss_port 380)
sport=$(ss_port 600) # scorer metrics
mport=$(ss_port 601) # monitor metrics
pport=$(ss_port 602) # Prometheus
n=300
redis() { "$src/deploy/local/redis.sh" "$@" --port "$rport"; }
prom_pid=

# code PORT PATH: the HTTP status of GET PATH (000 when nothing answers)
code() { curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$1$2" || true; }
# wait_code PORT PATH CODE TIMEOUT_S
wait_code() {
        local c=
        for _ in $(seq 1 $(($4 * 5))); do
                c=$(code "$1" "$2")
                [ "$c" = "$3" ] && return 0
                sleep 0.2
        done
        fail "GET :$1$2 answered $c, wanted $3 within $4 s ($(curl -s "http://127.0.0.1:$1$2"))"
}
# promq QUERY: the first sample value of an instant query through the HTTP API ("" if none)
promq() {
        curl -s --max-time 5 "http://127.0.0.1:$pport/api/v1/query" --data-urlencode "query=$1" |
                python3 -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")'
}
cleanup_more() {
        [ -n "$prom_pid" ] && kill "$prom_pid" 2>/dev/null
        redis stop >/dev/null 2>&1 || true
        ss_cleanup
}
trap cleanup_more EXIT

ss_kafka_start
redis start >/dev/null || fail "redis start"
ss_topic tweets 2
ss_topic tweet-predictions 2
ss_topic tweets-dlq 1
ss_topic model-retrain-triggers 1
ss_model
head -n "$n" "$src/data/semeval-2016test.tsv" >"$work/tweets.tsv"

# Before any process: nothing answers. The scorer: alive at once, ready once assigned.
ss_consume_bg "$work/consume.log" metrics.port="$sport"
wait_code "$sport" /healthz 200 30
[ "$(code "$sport" /readyz)" = 200 ] || curl -s "http://127.0.0.1:$sport/readyz" | grep -q '^not ready: ' ||
        fail "scorer /readyz neither ready nor a reason"
wait_code "$sport" /readyz 200 60
"$SS_BIN" monitor kafka.bootstrap.servers="$bs" redis.port="$rport" monitor.card="${model%.ssm}.card.json" \
        monitor.metrics.port="$mport" monitor.report.interval.ms=200 >"$work/consume-monitor.log" 2>&1 &
mon_pid=$!
bg_pids+=("$mon_pid")
wait_code "$mport" /healthz 200 30
wait_code "$mport" /readyz 200 60
curl -s "http://127.0.0.1:$mport/readyz" | grep -qx ready || fail "monitor /readyz body"

cat >"$work/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $src/deploy/prometheus/rules.yml
scrape_configs:
  - job_name: sentistream-scorer
    static_configs: [{targets: ["127.0.0.1:$sport"]}]
  - job_name: sentistream-monitor
    static_configs: [{targets: ["127.0.0.1:$mport"]}]
EOF
promtool check config "$work/prometheus.yml" >"$work/consume-promtool.log" 2>&1 ||
        { cat "$work/consume-promtool.log"; fail "promtool check config"; }
prometheus --config.file="$work/prometheus.yml" --web.listen-address="127.0.0.1:$pport" \
        --storage.tsdb.path="$work/tsdb" >"$work/consume-prometheus.log" 2>&1 &
prom_pid=$!
bg_pids+=("$prom_pid")
wait_code "$pport" /-/ready 200 60

"$SS_BIN" produce "$work/tweets.tsv" kafka.bootstrap.servers="$bs" >"$work/produce.out" 2>&1 ||
        { cat "$work/produce.out"; fail "produce"; }
ss_wait_metric "$sport" sentistream_scored_total "$n" 120
ss_wait_metric "$mport" sentistream_monitor_predictions_total "$n" 120
for p in "$sport" "$mport"; do
        curl -s "http://127.0.0.1:$p/metrics" >"$work/metrics-$p.txt"
        promtool check metrics <"$work/metrics-$p.txt" || fail "promtool check metrics on :$p"
done

ok=0
for _ in $(seq 1 100); do
        s=$(promq 'sentistream_scored_total{job="sentistream-scorer"}')
        p=$(promq 'sentistream_monitor_predictions_total{job="sentistream-monitor"}')
        u=$(promq 'sum(up{job=~"sentistream-.*"})')
        [ "$s" = "$n" ] && [ "$p" = "$n" ] && [ "$u" = 2 ] && { ok=1; break; }
        sleep 0.3
done
[ "$ok" = 1 ] || fail "Prometheus API: scored_total=$s monitor predictions=$p up=$u (want $n, $n, 2)"
rules=$(curl -s "http://127.0.0.1:$pport/api/v1/rules" | python3 -c 'import json, sys
g = json.load(sys.stdin)["data"]["groups"]
print(sum(len(x["rules"]) for x in g), sum(r.get("health") != "ok" and r.get("health") != "unknown" for x in g for r in x["rules"]))')
[ "${rules% *}" -ge 8 ] && [ "${rules#* }" = 0 ] || fail "rules loaded / unhealthy: $rules"
echo "Prometheus: scored_total=$s, monitor predictions=$p, targets up=$u, rules (loaded unhealthy)=$rules"

# Redis gone: the monitor stays alive and says it is not ready.
redis stop >/dev/null 2>&1
wait_code "$mport" /readyz 503 60
curl -s "http://127.0.0.1:$mport/readyz" | grep -qx 'not ready: Redis unreachable' ||
        fail "monitor /readyz reason: $(curl -s "http://127.0.0.1:$mport/readyz")"
[ "$(code "$mport" /healthz)" = 200 ] || fail "monitor /healthz while Redis is away"
echo "Redis stopped: monitor /readyz: $(curl -s "http://127.0.0.1:$mport/readyz")"

# Broker gone: the scorer stays alive and says it is not ready.
"$kafka_sh" stop >/dev/null 2>&1
wait_code "$sport" /readyz 503 60
curl -s "http://127.0.0.1:$sport/readyz" | grep -q '^not ready: broker unreachable' ||
        fail "scorer /readyz reason: $(curl -s "http://127.0.0.1:$sport/readyz")"
[ "$(code "$sport" /healthz)" = 200 ] || fail "scorer /healthz while the broker is away"
echo "broker stopped: scorer /readyz: $(curl -s "http://127.0.0.1:$sport/readyz")"
