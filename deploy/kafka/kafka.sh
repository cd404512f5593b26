#!/usr/bin/env bash
# A single-node Apache Kafka (KRaft, combined broker+controller) on 127.0.0.1,
# brought from Maven Central: no Docker, no Kafka package needed.
#
#   deploy/kafka/kafka.sh up              fetch (first time), format (first time), start, wait until ready
#   deploy/kafka/kafka.sh down [--purge]  stop by pid; --purge also deletes the data
#   deploy/kafka/kafka.sh status          exit 0 if running, 3 if not
#   deploy/kafka/kafka.sh fetch           only fetch the jars (first time)
#
# KAFKA_PORT (9092) and CONTROLLER_PORT (9093) choose the ports; KAFKA_HEAP (512m) the heap.
# KAFKA_RUN_DIR (deploy/kafka/.run) holds the pid, log, config and data: with other ports and its own
# run dir, a second broker runs beside the first (tests that stop a broker use one of their own).
# KAFKA_CACHE_DIR (deploy/kafka/.cache) holds the jars, shared by every run dir.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cache="${KAFKA_CACHE_DIR:-$here/.cache}"
libs="$cache/libs"
run="${KAFKA_RUN_DIR:-$here/.run}"
data="$run/data"
props="$run/server.properties"
pidfile="$run/kafka.pid"
logfile="$run/kafka.log"
port="${KAFKA_PORT:-9092}"
controller_port="${CONTROLLER_PORT:-9093}"
heap="${KAFKA_HEAP:-512m}"

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

running_pid() {
  [[ -f "$pidfile" ]] || return 1
  local pid
  pid="$(cat "$pidfile")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

# Brokers of different run dirs share the cache: the first caller fetches under the cache's lock,
# into a directory of its own that is renamed into place once complete, so a concurrent caller
# waits for it and a fetch cut short leaves no half-filled libs behind.
fetch() {
  mkdir -p "$cache"
  (
    flock 8
    if compgen -G "$libs/kafka_2.13-*.jar" >/dev/null; then exit 0; fi
    echo "kafka: fetching Apache Kafka and its classpath from Maven Central into $cache (first run only)" >&2
    local partial="$cache/libs.partial.$$"
    rm -rf "$cache"/libs.partial.*
    (cd "$here" && mvn -q -B dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$partial") >&2
    rm -rf "$libs"
    mv "$partial" "$libs"
  ) 8>"$cache/fetch.lock"
}

write_config() {
  mkdir -p "$data"
  cat >"$props" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=10
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=10
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
# no deletion by age: tests, benches and replays write records with historic event timestamps,
# which time-based retention would delete within minutes; size bounds each partition instead
log.retention.ms=-1
log.retention.bytes=1073741824
log.segment.bytes=268435456
PROPS
}

format_storage() {
  [[ -f "$data/meta.properties" ]] && return
  local cluster_id
  if [[ -f "$run/cluster.id" ]]; then
    cluster_id="$(cat "$run/cluster.id")"
  else
    cluster_id="$(java -cp "$libs/*" kafka.tools.StorageTool random-uuid 2>/dev/null | tail -1)"
    echo "$cluster_id" >"$run/cluster.id"
  fi
  java -cp "$libs/*" -Dlog4j.configuration="file:$here/log4j.properties" kafka.tools.StorageTool format -t "$cluster_id" -c "$props" >>"$logfile" 2>&1
}

up() {
  mkdir -p "$run"
  # two callers at once (parallel test workers) start one broker
  exec 9>"$run/lock"
  flock 9
  if pid="$(running_pid)"; then
    echo "kafka: already running (pid $pid) on 127.0.0.1:$port" >&2
  else
    fetch
    write_config
    format_storage
    nohup java -Xms"$heap" -Xmx"$heap" -XX:+UseG1GC -Djava.awt.headless=true \
      -Dlog4j.configuration="file:$here/log4j.properties" \
      -cp "$libs/*" kafka.Kafka "$props" >>"$logfile" 2>&1 </dev/null 9>&- &
    echo $! >"$pidfile"
    echo "kafka: starting (pid $!) on 127.0.0.1:$port, log in $logfile" >&2
  fi
  if ! node "$here/wait-ready.mjs" "127.0.0.1:$port" "${KAFKA_READY_TIMEOUT:-120}"; then
    echo "kafka: not ready; last lines of the log:" >&2
    tail -n 40 "$logfile" >&2 || true
    exit 1
  fi
  echo "KAFKA_BROKERS=127.0.0.1:$port"
}

down() {
  local pid
  if ! pid="$(running_pid)"; then
    echo "kafka: not running" >&2
  else
    kill -TERM "$pid"
    for _ in $(seq 1 60); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.5
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "kafka: did not stop in 30 s; killing" >&2
      kill -KILL "$pid" || true
    fi
    echo "kafka: stopped" >&2
  fi
  rm -f "$pidfile"
  if [[ "${1:-}" == "--purge" ]]; then rm -rf "$data" "$run/cluster.id"; echo "kafka: data deleted" >&2; fi
}

status() {
  local pid
  if pid="$(running_pid)"; then
    echo "kafka: running (pid $pid) on 127.0.0.1:$port"
  else
    echo "kafka: not running"
    exit 3
  fi
}

case "${1:-}" in
  up) up ;;
  down) shift; down "${1:-}" ;;
  status) status ;;
  fetch) fetch ;;
  -h | --help | help) usage ;;
  *) usage >&2; exit 2 ;;
esac
