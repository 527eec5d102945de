# The Apache Kafka pieces shared by infra/kafka.sh (one broker) and infra/kafka-cluster.sh (three);
# sourced after lib.sh, not run. A broker's functions read the node the sourcing script set:
#   node_id, port, controller_port, voters (controller.quorum.voters), node_state (its folder),
#   pidfile, replicas and in_sync (the defaults of its topics, internal ones included).
# shellcheck shell=bash disable=SC2034,SC2154  # the node's variables are set by the sourcing script

pom=$root/infra/kafka/pom.xml
log4j=$root/infra/kafka/log4j2.yaml
libs=$root/.cache/kafka/libs
classes=$root/.cache/kafka/classes
topics_file=$root/infra/kafka/topics.txt

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

# The broker's settings, written again on every start.
properties() {
  cat <<PROPS
# Written by infra/kafka-lib.sh on every start; edit the script, not this file.
process.roles=broker,controller
node.id=$node_id
controller.quorum.voters=$voters
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
log.dirs=$node_state/data
num.partitions=3
default.replication.factor=$replicas
min.insync.replicas=$in_sync
auto.create.topics.enable=false
offsets.topic.replication.factor=$replicas
offsets.topic.num.partitions=6
transaction.state.log.replication.factor=$replicas
transaction.state.log.min.isr=$in_sync
transaction.state.log.num.partitions=6
share.coordinator.state.topic.replication.factor=$replicas
share.coordinator.state.topic.min.isr=$in_sync
group.initial.rebalance.delay.ms=0
log.retention.hours=168
num.network.threads=2
num.io.threads=4
PROPS
}

# configure CLUSTER_ID_FILE: the properties, and the storage formatted once with that cluster id
# (made on first use; every node of a cluster shares it).
configure() {
  local id_file=$1
  mkdir -p "$node_state/data"
  properties >"$node_state/server.properties"
  if [[ -f $node_state/data/meta.properties ]]; then
    sed -n 's/^cluster\.id=//p' "$node_state/data/meta.properties" >"$id_file"
    return
  fi
  if [[ ! -s $id_file ]]; then
    java_tool kafka.tools.StorageTool random-uuid >"$id_file"
  fi
  java_tool kafka.tools.StorageTool format --ignore-formatted -t "$(<"$id_file")" \
    -c "$node_state/server.properties" >"$node_state/format.log" 2>&1 ||
    { cat "$node_state/format.log" >&2; die "formatting the storage failed"; }
  log "storage formatted in $node_state/data (cluster id $(<"$id_file"))"
}

start() {
  local heap
  read -ra heap <<<"${KAFKA_HEAP_OPTS:--Xms256m -Xmx768m}"
  if [[ -f $node_state/server.log ]]; then mv -f "$node_state/server.log" "$node_state/server.log.1"; fi
  log "starting broker $node_id on 127.0.0.1:$port (log $node_state/server.log)"
  # setsid: its own session, so a Ctrl-C or a killed process group of the caller leaves it be.
  KAFKA_LOG_LEVEL=${KAFKA_LOG_LEVEL:-INFO} setsid nohup java "${heap[@]}" \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError -Djava.awt.headless=true \
    -cp "$libs/*" -Dlog4j2.configurationFile="$log4j" \
    kafka.Kafka "$node_state/server.properties" >"$node_state/server.log" 2>&1 </dev/null 9>&- &
  echo $! >"$pidfile"
}

fail_start() {
  log "$1; errors in $node_state/server.log, then its last lines:" >&2
  grep -m 8 -E '^\[[^]]*\] (ERROR|FATAL)|^Caused by' "$node_state/server.log" | cut -c1-300 >&2 || true
  echo ... >&2
  tail -n 15 "$node_state/server.log" | cut -c1-300 >&2 || true
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
      org.apache.kafka.tools.TopicCommand --bootstrap-server "127.0.0.1:$port" --list >/dev/null 2>&1; then
      return
    fi
    if [[ -n $pid ]] && ! proc_alive "$pid"; then fail_start "the broker exited"; fi
    sleep 0.3
  done
  [[ -n $pid ]] || die "something not started by dev-up answers on 127.0.0.1:$port but did not list" \
    "topics within $timeout s; stop it or set KAFKA_PORT"
  fail_start "the broker did not answer on 127.0.0.1:$port within $timeout s"
}

# create_topics BOOTSTRAP REPLICAS IN_SYNC: the topics of topics.txt, KAFKA_TOPIC_PARTITIONS each
# (default 3), with that replication factor and min.insync.replicas.
create_topics() {
  local partitions=${KAFKA_TOPIC_PARTITIONS:-3}
  [[ $partitions =~ ^[1-9][0-9]*$ ]] || die "KAFKA_TOPIC_PARTITIONS must be a positive number, not '$partitions'"
  jars
  helper
  java_tool CreateTopics "$1" "$partitions" "$topics_file" "$2" "$3"
}

# console consume|produce BOOTSTRAP TOPIC [args]: Kafka's console tools, `KEY | VALUE` lines.
console() {
  local kind=$1 bootstrap=$2 topic=${3:?usage: $0 $1 TOPIC [console tool args]}
  shift 3
  jars
  if [[ $kind == produce ]]; then
    exec "${tool_jvm[@]}" -cp "$libs/*" org.apache.kafka.tools.ConsoleProducer \
      --bootstrap-server "$bootstrap" --topic "$topic" \
      --property parse.key=true --property 'key.separator= | ' "$@"
  fi
  # Ctrl-C is how a reader stops it: the consumer prints its count, and the script ends with 0
  # so make adds no "Error 130" (bash runs the trap once the consumer has exited).
  trap 'exit 0' INT
  "${tool_jvm[@]}" -cp "$libs/*" org.apache.kafka.tools.consumer.ConsoleConsumer \
    --bootstrap-server "$bootstrap" --topic "$topic" --from-beginning \
    --property print.key=true --property 'key.separator= | ' "$@"
}
