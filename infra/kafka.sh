#!/usr/bin/env bash
# A single-node Apache Kafka broker (KRaft) on 127.0.0.1:9092, run with Java 17 from the
# official jars resolved from Maven Central.  Usage: kafka.sh up|down|status|topics|consume TOPIC [args]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
libs=$root/.cache/kafka/libs
state=$root/.cache/dev/kafka
port=${KAFKA_PORT:-9092}
bootstrap=127.0.0.1:$port
log() { echo "[kafka] $*"; }

jars() {
  if [[ ! -f $libs/.complete ]]; then
    log "resolving Apache Kafka jars from Maven Central into $libs"
    mvn -q -B -Dstyle.color=never -f "$root/infra/kafka/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$libs" -DincludeScope=runtime
    touch "$libs/.complete"
  fi
}

java_run() {  # java_run MAIN_CLASS args...
  java -Xmx256m -XX:TieredStopAtLevel=1 -cp "$libs/*" \
    -Dlog4j2.configurationFile="$root/infra/kafka/log4j2.yaml" "$@"
}

answering() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }

running() { [[ -f $state/kafka.pid ]] && kill -0 "$(cat "$state/kafka.pid")" 2>/dev/null; }

configure() {
  mkdir -p "$state/data"
  cat >"$state/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$((port + 1))
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$((port + 1))
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=3
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
PROPS
  if [[ ! -f $state/data/meta.properties ]]; then
    java_run kafka.tools.StorageTool format -t "$(java_run kafka.tools.StorageTool random-uuid)" \
      -c "$state/server.properties" >/dev/null
    log "storage formatted in $state/data"
  fi
}

up() {
  if answering; then log "broker already answering on $bootstrap"; return; fi
  jars
  configure
  log "starting broker on $bootstrap (log $state/server.log)"
  KAFKA_LOG_LEVEL=INFO nohup java -Xms256m -Xmx768m -XX:+UseG1GC -cp "$libs/*" \
    -Dlog4j2.configurationFile="$root/infra/kafka/log4j2.yaml" \
    kafka.Kafka "$state/server.properties" >"$state/server.log" 2>&1 &
  echo $! >"$state/kafka.pid"
  for _ in $(seq 1 180); do
    if answering && java_run org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" \
      --list >/dev/null 2>&1; then
      log "broker ready on $bootstrap"
      return
    fi
    running || { log "broker exited:"; tail -30 "$state/server.log"; exit 1; }
    sleep 0.5
  done
  log "broker not ready after 90 s:"; tail -30 "$state/server.log"; exit 1
}

down() {
  if running; then
    kill -TERM "$(cat "$state/kafka.pid")"
    for _ in $(seq 1 60); do running || break; sleep 0.5; done
    running && kill -KILL "$(cat "$state/kafka.pid")"
    log "broker stopped"
  fi
  rm -f "$state/kafka.pid"
}

status() { if answering; then log "answering on $bootstrap"; else log "not running"; return 1; fi; }

topics() {
  jars
  java_run "$root/infra/kafka/CreateTopics.java" "$bootstrap" "${KAFKA_TOPIC_PARTITIONS:-3}"
}

consume() {
  local topic=${1:?usage: kafka.sh consume TOPIC [console-consumer args]}
  shift
  jars
  java_run org.apache.kafka.tools.consumer.ConsoleConsumer --bootstrap-server "$bootstrap" \
    --topic "$topic" --from-beginning --property print.key=true --property key.separator=' | ' "$@"
}

cmd=${1:?usage: kafka.sh up|down|status|topics|consume TOPIC}
shift
"$cmd" "$@"
