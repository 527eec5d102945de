#!/usr/bin/env bash
# The cluster stack on one machine: the Redis Cluster (infra/redis-cluster.sh), the three Kafka
# brokers (infra/kafka-cluster.sh) and the services against them (STACK=cluster scripts/stack.sh).
# Usage: cluster.sh up|down|status [--json]
#   up      starts everything, health-checked; the single-node stack's services are stopped
#           first (they hold the same ports; its Redis and Kafka keep running for others)
#   down    stops the services, the brokers and the Redis nodes (their data stays on disk)
#   status  every Redis node, Kafka broker and service with port, pid and role or health;
#           exit 0 only when all answer; --json: one document {"redis", "kafka", "services"}
set -euo pipefail
cd "$(dirname "$0")/.."

up() {
  infra/redis-cluster.sh up
  infra/kafka-cluster.sh up
  infra/kafka-cluster.sh topics
  STACK=cluster scripts/stack.sh up
}

down() {
  STACK=cluster scripts/stack.sh down
  infra/kafka-cluster.sh down
  infra/redis-cluster.sh down
}

status() {
  local rc=0 redis kafka services
  if [[ ${1:-} == --json ]]; then
    redis=$(infra/redis-cluster.sh status --json) || rc=1
    kafka=$(infra/kafka-cluster.sh status --json) || rc=1
    services=$(STACK=cluster scripts/stack.sh status --json) || rc=1
    echo "{\"redis\": $redis, \"kafka\": $kafka, \"services\": $services}"
    return $rc
  fi
  infra/redis-cluster.sh status || rc=1
  infra/kafka-cluster.sh status || rc=1
  STACK=cluster scripts/stack.sh status || rc=1
  return $rc
}

case ${1:-} in
  up | down) "$1" ;;
  status) status "${2:-}" ;;
  *) echo "usage: $0 up|down|status [--json]" >&2; exit 2 ;;
esac
