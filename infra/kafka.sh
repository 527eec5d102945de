#!/usr/bin/env bash
# A single-node Apache Kafka 4.x broker (KRaft, combined broker+controller) on 127.0.0.1:9092,
# controller on 127.0.0.1:9093, run with java from the official jars that Maven resolves from
# Maven Central into .cache/kafka/libs; state and log in .cache/dev/kafka/. (Three brokers:
# infra/kafka-cluster.sh, from the same pieces in infra/kafka-lib.sh.)
# Usage: kafka.sh up|down|status|topics|consume TOPIC [args]|produce TOPIC [args]
#   up       resolve the jars if needed, format storage once, start the broker unless one already
#            answers, return once it serves requests (KAFKA_START_TIMEOUT seconds, default 90)
#   down     stop the broker `up` started (SIGTERM, then SIGKILL after 40 s)
#   status   exit 0 when something answers on 127.0.0.1:$KAFKA_PORT
#   topics   create the topics of infra/kafka/topics.txt if missing (KAFKA_TOPIC_PARTITIONS,
#            default 3), one replica each
#   consume  Kafka's console consumer from the beginning, printing `KEY | VALUE`; extra args are
#            passed on, e.g. --max-messages 1 --timeout-ms 10000
#   produce  Kafka's console producer; each stdin line is `KEY | VALUE`; extra args are passed on
set -euo pipefail
tag=kafka
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=kafka-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/kafka-lib.sh"

node_id=1
port=${KAFKA_PORT:-9092}
controller_port=${KAFKA_CONTROLLER_PORT:-$((port + 1))}
voters=1@127.0.0.1:$controller_port
replicas=1 in_sync=1
bootstrap=127.0.0.1:$port
state=$root/.cache/dev/kafka
node_state=$state
pidfile=$state/kafka.pid

who() { if ours; then echo "pid $(<"$pidfile"), started by dev-up"; else echo "not started by dev-up"; fi; }

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
  configure "$state/cluster.id"
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

cmd=${1:-}
case $cmd in
  up | down) lock "$state"; "$cmd" ;;
  status) "$cmd" ;;
  topics) create_topics "$bootstrap" "$replicas" "$in_sync" ;;
  consume | produce) shift; console "$cmd" "$bootstrap" "$@" ;;
  *) echo "usage: $0 up|down|status|topics|consume TOPIC [args]|produce TOPIC [args]" >&2; exit 2 ;;
esac
