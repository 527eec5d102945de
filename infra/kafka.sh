#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker (KRaft, combined broker+controller) on 127.0.0.1:9092,
# controller on 127.0.0.1:9093, run with java from the official jars that Maven resolves from
# Maven Central into .cache/kafka/libs; state and log in .cache/dev/kafka/.
# Usage: kafka.sh up|down|status|topics|consume TOPIC [args]|produce TOPIC [args]
#   up       resolve the jars if needed, format storage once, start the broker unless one already
#            answers, return once it serves requests (KAFKA_START_TIMEOUT seconds, default 90)
#   down     stop the broker `up` started (SIGTERM, then SIGKILL after 40 s)
#   status   exit 0 when something answers on 127.0.0.1:$KAFKA_PORT
#   topics   create the topics of infra/kafka/topics.txt if missing (KAFKA_TOPIC_PARTITIONS, default 3)
#   consume  Kafka's console consumer from the beginning, printing `KEY | VALUE`; extra args are
#            passed on, e.g. --max-messages 1 --timeout-ms 10000
#   produce  Kafka's console producer; each stdin line is `KEY | VALUE`; extra args are passed on
set -euo pipefail
tag=kafka
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
bootstrap=127.0.0.1:$port
pom=$root/infra/kafka/pom.xml
log4j=$root/infra/kafka/log4j2.yaml
libs=$root/.cache/kafka/libs
classes=$root/.cache/kafka/classes
state=$root/.cache/dev/kafka
pidfile=$state/kafka.pid

need() {  # need COMMAND DEBIAN_PACKAGE
  command -v "$1" >/dev/null || apt_install "$2"
}

# The jars, resolved again only when pom.xml changes; a failed resolve leaves no half folder.
jars() {
  local want tmp
  want=$(sha256sum "$pom" | cut -d' ' -f1)
  [[ -f $libs/.complete && $(<"$libs/.complete") == "$want" ]] && return
  need java openjdk-17-jre-headless
  need mvn maven
  log "resolving the Apache Kafka jars from Maven Central into $libs"
  tmp=$libs.tmp.$$
  rm -rf "$tmp"
  mkdir -p "$(dirname "$libs")"
  # Maven's output (even -q -B leaves colour codes) is shown only when it fails.
  if ! mvn -q -B -Dstyle.color=never -f "$pom" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$tmp" >"$tmp.log" 2>&1; then
    cat "$tmp.log" >&2
    rm -rf "$tmp" "$tmp.log"
    die "mvn could not resolve the Kafka jars (output above)"
  fi
  rm -f "$tmp.log"
  echo "$want" >"$tmp/.complete"
  rm -rf "$libs"
  mv "$tmp" "$libs"
}

# CreateTopics.java compiled once, not again by a source launch on every run.
helper() {
  local src=$root/infra/kafka/CreateTopics.java tmp
  if [[ ! -f $classes/CreateTopics.class || $src -nt $classes/CreateTopics.class ||
    $libs/.complete -nt $classes/CreateTopics.class ]]; then
    need javac openjdk-17-jdk-headless
    mkdir -p "$(dirname "$classes")"
    tmp=$(mktemp -d "$classes.XXXXXX")
    javac -nowarn -d "$tmp" -cp "$libs/*" "$src"
    rm -rf "$classes"
    mv "$tmp" "$classes"
  fi
}

# A short-lived tool JVM: small heap, C1 only and serial GC start fastest.
tool_jvm=(java -Xmx256m -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Dlog4j2.configurationFile="$log4j")
java_tool() { "${tool_jvm[@]}" -cp "$classes:$libs/*" "$@"; }

tcp_answering() { (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; }
ours() { pid_alive "$pidfile" kafka.Kafka; }
who() { if ours; then echo "pid $(<"$pidfile"), started by dev-up"; else echo "not started by dev-up"; fi; }

# The broker's settings, written again on every start.
properties() {
  cat <<PROPS
# Written by infra/kafka.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$state/data
num.partitions=3
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
log.retention.hours=168
num.network.threads=2
num.io.threads=4
PROPS
}

configure() {
  mkdir -p "$state/data"
  properties >"$state/server.properties"
  if [[ -f $state/data/meta.properties ]]; then
    sed -n 's/^cluster\.id=//p' "$state/data/meta.properties" >"$state/cluster.id"
    return
  fi
  if [[ ! -s $state/cluster.id ]]; then
    java_tool kafka.tools.StorageTool random-uuid >"$state/cluster.id"
  fi
  java_tool kafka.tools.StorageTool format --ignore-formatted -t "$(<"$state/cluster.id")" \
    -c "$state/server.properties" >"$state/format.log" 2>&1 ||
    { cat "$state/format.log" >&2; die "formatting the storage failed"; }
  log "storage formatted in $state/data (cluster id $(<"$state/cluster.id"))"
}

start() {
  local heap
  read -ra heap <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
  if [[ -f $state/server.log ]]; then mv -f "$state/server.log" "$state/server.log.1"; fi
  log "starting the broker on $bootstrap (log $state/server.log)"
  # setsid: its own session, so a Ctrl-C or a killed process group of the caller leaves it be.
  KAFKA_LOG_LEVEL=${KAFKA_LOG_LEVEL:-INFO} setsid nohup java "${heap[@]}" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -cp "$libs/*" -Dlog4j2.configurationFile="$log4j" \
    kafka.Kafka "$state/server.properties" >"$state/server.log" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
}

fail_start() {
  log "$1; errors in $state/server.log, then its last lines:" >&2
  grep -m 8 -E '^\[[^]]*\] (ERROR|FATAL)|^Caused by' "$state/server.log" | cut -c1-300 >&2 || true
  echo ... >&2
  tail -n 15 "$state/server.log" | cut -c1-300 >&2 || true
  exit 1
}

# The pid runs and is no zombie. (Just after the fork its command line is still this script's,
# so pid_alive's kafka.Kafka check would wrongly say it is gone.)
proc_alive() { local st; st=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $st != Z* ]]; }

# Ready = the broker answers a metadata request (a topic listing), not merely a TCP connect.
# wait_ready ours|other: ours = the broker in the pid file, which must stay alive meanwhile.
wait_ready() {
  local timeout=${KAFKA_START_TIMEOUT:-90} left pid=
  local deadline=$((SECONDS + timeout))
  [[ $1 == ours ]] && pid=$(<"$pidfile")
  while ((SECONDS < deadline)); do
    left=$((deadline - SECONDS))
    if tcp_answering && timeout "$((left < 30 ? left + 1 : 30))" "${tool_jvm[@]}" -cp "$libs/*" \
      org.apache.kafka.tools.TopicCommand --bootstrap-server "$bootstrap" --list >/dev/null 2>&1; then
      return
    fi
    if [[ -n $pid ]] && ! proc_alive "$pid"; then fail_start "the broker exited"; fi
    sleep 0.3
  done
  [[ -n $pid ]] || die "something not started by dev-up answers on $bootstrap but did not list topics" \
    "within $timeout s; stop it or set KAFKA_PORT"
  fail_start "the broker did not answer on $bootstrap within $timeout s"
}

up() {
  local t0=$SECONDS
  jars
  if ours; then
    log "reusing the broker on $bootstrap ($(who))"
    wait_ready ours
    return
  fi
  if tcp_answering; then
    log "reusing the broker answering on $bootstrap ($(who))"
    wait_ready other
    return
  fi
  configure
  start
  wait_ready ours
  log "ready on $bootstrap in $((SECONDS - t0)) s ($(who))"
}

down() {
  stop_pid "$pidfile" kafka.Kafka 40
  if tcp_answering; then log "something not started by dev-up still answers on $bootstrap; left alone"; fi
}

status() {
  if tcp_answering; then log "answering on $bootstrap ($(who))"; else log "not answering on $bootstrap"; return 1; fi
}

topics() {
  local partitions=${KAFKA_TOPIC_PARTITIONS:-3}
  [[ $partitions =~ ^[1-9][0-9]*$ ]] || die "KAFKA_TOPIC_PARTITIONS must be a positive number, not '$partitions'"
  jars
  helper
  java_tool CreateTopics "$bootstrap" "$partitions" "$root/infra/kafka/topics.txt"
}

consume() {
  local topic=${1:?usage: kafka.sh consume TOPIC [console consumer args]}
  shift
  jars
  # Ctrl-C is how a reader stops it: the consumer prints its count, and the script ends with 0
  # so make adds no "Error 130" (bash runs the trap once the consumer has exited).
  trap 'exit 0' INT
  "${tool_jvm[@]}" -cp "$libs/*" org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$bootstrap" --topic "$topic" --from-beginning \
    --property print.key=true --property 'key.separator= | ' "$@"
}

produce() {
  local topic=${1:?usage: kafka.sh produce TOPIC [console producer args] <lines}
  shift
  jars
  exec "${tool_jvm[@]}" -cp "$libs/*" org.apache.kafka.tools.ConsoleProducer \
    --bootstrap-server "$bootstrap" --topic "$topic" \
    --property parse.key=true --property 'key.separator= | ' "$@"
}

cmd=${1:-}
case $cmd in
  up | down) lock "$state"; "$cmd" ;;
  status | topics) "$cmd" ;;
  consume | produce) shift; "$cmd" "$@" ;;
  *) echo "usage: $0 up|down|status|topics|consume TOPIC [args]|produce TOPIC [args]" >&2; exit 2 ;;
esac
