#!/usr/bin/env bash
# Three Apache Kafka brokers in KRaft mode on one machine, each a combined broker+controller (node
# ids 1-3, the three of them the controller quorum): brokers on 127.0.0.1:9192-9194, controllers
# on 127.0.0.1:9195-9197, from the same jars as infra/kafka.sh (infra/kafka-lib.sh); state and
# logs in .cache/dev/kafka-cluster/<id>/. Every topic, internal ones too, has three replicas and
# min.insync.replicas=2, so an acks=all write survives one broker lost and waits for a second.
# Usage: kafka-cluster.sh up|down|status [--json]|topics|start ID|consume TOPIC [args]|produce TOPIC [args]
#   up       format each node's storage once (one cluster id), start the brokers not running,
#            return once each serves requests (KAFKA_START_TIMEOUT seconds, default 90)
#   down     stop the brokers `up` started (SIGTERM, then SIGKILL after 40 s)
#   status   each broker's port, pid and controller role (leader or follower, from its own
#            quorum-state); exit 0 only when all three answer
#   topics   the topics of infra/kafka/topics.txt, three replicas and two in sync each
#   start    start one broker again (a drill's restart of one it killed)
#   consume, produce  as in infra/kafka.sh, against the three brokers
set -euo pipefail
tag=kafka-cluster
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=kafka-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka-lib.sh"

ids=(1 2 3)
base=${KAFKA_CLUSTER_BASE_PORT:-9192}
voters=1@127.0.0.1:$((base + 3)),2@127.0.0.1:$((base + 4)),3@127.0.0.1:$((base + 5))
bootstrap=127.0.0.1:$base,127.0.0.1:$((base + 1)),127.0.0.1:$((base + 2))
replicas=3 in_sync=2
state=$root/.cache/dev/kafka-cluster
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}

# node ID: the variables kafka-lib.sh's broker functions read.
node() {
  node_id=$1
  port=$((base + $1 - 1))
  controller_port=$((base + $1 + 2))
  node_state=$state/$1
  pidfile=$node_state/kafka.pid
  tag="kafka-cluster $1"
}

start_node() {
  node "$1"
  if ours || tcp_answering; then return; fi
  configure "$state/cluster.id"
  start
}

# ready ID: one broker answers; the first needs a second one up for its quorum.
ready() {
  node "$1"
  if ours; then wait_ready ours; else wait_ready other; fi
}

up() {
  local t0=$SECONDS id
  jars
  for id in "${ids[@]}"; do start_node "$id"; done
  for id in "${ids[@]}"; do ready "$id"; done
  tag=kafka-cluster
  log "ready on $bootstrap in $((SECONDS - t0)) s"
}

down() {
  local id
  for id in "${ids[@]}"; do node "$id"; stop_pid "$pidfile" kafka.Kafka 40; done
}

# role: this node's view of the controller quorum, from the quorum-state file Raft keeps.
role() {
  local file=$node_state/data/__cluster_metadata-0/quorum-state leader
  leader=$(sed -n 's/.*"leaderId":\([-0-9]*\).*/\1/p' "$file" 2>/dev/null || true)
  if [[ $leader == "$node_id" ]]; then echo leader; else echo follower; fi
}

status() {
  local id pid rc=0 up json=() role
  for id in "${ids[@]}"; do
    node "$id"
    pid=$(cat "$pidfile" 2>/dev/null || true)
    ours || pid=
    if tcp_answering; then up=up role=$(role); else up=down role=down rc=1; fi
    json+=("{\"id\": $id, \"port\": $port, \"controller_port\": $controller_port, \"pid\": ${pid:-null}, \"state\": \"$up\", \"controller\": \"$role\"}")
    [[ ${1:-} == --json ]] || log "127.0.0.1:$port pid ${pid:--} $up broker+controller ($role)"
  done
  if [[ ${1:-} == --json ]]; then (IFS=,; echo "[${json[*]}]"); fi
  return $rc
}

cmd=${1:-}
case $cmd in
  up | down) mkdir -p "$state"; lock "$state"; "$cmd" ;;
  status) status "${2:-}" ;;
  topics) create_topics "$bootstrap" "$replicas" "$in_sync" ;;
  start) [[ ${2:-} =~ ^[1-3]$ ]] || die "usage: $0 start 1|2|3"; jars; start_node "$2"; ready "$2" ;;
  consume | produce) shift; console "$cmd" "$bootstrap" "$@" ;;
  *) echo "usage: $0 up|down|status [--json]|topics|start ID|consume TOPIC [args]|produce TOPIC [args]" >&2; exit 2 ;;
esac
