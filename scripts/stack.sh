#!/usr/bin/env bash
# Starts (up), stops (down) or reports on (status) the Waitroom services in the background on
# loopback. Logs go to var/log/, pids to var/run/; `up` returns once each answers its health check.
# Health checks and the walk-through's event use Python's gRPC stubs, so grpcurl is not needed here.
# STACK=cluster: the services against the Redis Cluster and the three Kafka brokers
# (make cluster-up), the waitroom twice (50051 and 50061, so two processors compete); logs in
# var/log/cluster/, pids in var/run/cluster/.
# Usage: stack.sh up|down|status [--json]|start NAME|stop NAME
#   up           stops the other stack's services first: both use the same ports
#   start, stop  one service by name (a drill's restart of one it killed)
set -euo pipefail
cd "$(dirname "$0")/.."
export WAITROOM_ADMIN_TOKEN=${WAITROOM_ADMIN_TOKEN:-dev-admin-token}
grpc=(.venv/bin/python scripts/stack_grpc.py)
run=var/run logs=var/log

# name:port of every service the stack runs; a name's module is the name up to its first dash
SERVICES=(waitroom:50051 checkout:50052 stats:50053)
if [[ ${STACK:-single} == cluster ]]; then
  run=var/run/cluster logs=var/log/cluster
  SERVICES=(waitroom:50051 waitroom-2:50061 checkout:50052 stats:50053)
  export REDIS_URL=${CLUSTER_REDIS_URL:-redis+cluster://127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002/0}
  export KAFKA_BOOTSTRAP_SERVERS=${CLUSTER_KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194}
fi
mkdir -p "$logs" "$run"

# The settings that tell the cluster's two waitroom replicas apart.
replica_env() {
  case ${STACK:-single}:$1 in
    cluster:waitroom) echo WAITROOM_INSTANCE_ID=waitroom-1 ;;
    cluster:waitroom-2) echo WAITROOM_INSTANCE_ID=waitroom-2 WAITROOM_GRPC_PORT=50061 WAITROOM_METRICS_PORT=9111 ;;
  esac
}

port_of() {
  local entry
  for entry in "${SERVICES[@]}"; do [[ ${entry%%:*} == "$1" ]] && { echo "${entry##*:}"; return; }; done
  echo "[stack] no service named $1 (${SERVICES[*]})" >&2
  exit 2
}

pid_of() { cat "$run/$1.pid" 2>/dev/null || true; }

# alive, and not a zombie waiting to be reaped
running() {
  [[ -f $run/$1.pid ]] && [[ "$(ps -o stat= -p "$(pid_of "$1")" 2>/dev/null)" =~ ^[^Z] ]]
}

start() {
  local name=$1 settings wrap
  if running "$name"; then
    echo "[stack] $name already running (pid $(pid_of "$name"))"
  else
    read -ra settings <<<"$(replica_env "$name")"
    read -ra wrap <<<"${STACK_WRAP:-}"  # e.g. ip netns exec NAME: a drill's network namespace
    env "${settings[@]}" "${wrap[@]}" nohup .venv/bin/python -m "${name%%-*}" >>"$logs/$name.log" 2>&1 &
    echo $! >"$run/$name.pid"
    echo "[stack] started $name (pid $!), log $logs/$name.log"
  fi
}

# Several serving processes share the port and the kernel picks one per connection: `wait`
# wants five SERVING replies in a row on fresh connections, not the first process ready.
wait_healthy() {
  local name=$1 port=$2 rc=0
  "${grpc[@]}" wait "$port" "$(pid_of "$name")" --timeout 60 || rc=$?
  case $rc in
    0) echo "[stack] $name serving on 127.0.0.1:$port" ;;
    1) echo "[stack] $name exited; last log lines:"; tail -20 "$logs/$name.log"; exit 1 ;;
    *) echo "[stack] $name not healthy after 60 s"; tail -20 "$logs/$name.log"; exit 1 ;;
  esac
}

# The other stack's services hold the same ports (SO_REUSEPORT would let both bind them
# silently): stopped first.
other_stack_down() {
  local other=cluster
  [[ ${STACK:-single} == cluster ]] && other=single
  if [[ $(STACK=$other scripts/stack.sh status --json || true) == *'"pid": '[0-9]* ]]; then
    echo "[stack] stopping the $other stack's services first (they use the same ports)"
    STACK=$other scripts/stack.sh down
  fi
}

up() {
  other_stack_down
  for entry in "${SERVICES[@]}"; do
    start "${entry%%:*}"
    wait_healthy "${entry%%:*}" "${entry##*:}"
  done
  # The event the README's walk-throughs join (an existing one is kept).
  "${grpc[@]}" create-event concert-2024 --tickets 500
}

stop() {
  local name=$1
  if running "$name"; then
    kill -TERM "$(pid_of "$name")"
    for _ in $(seq 1 70); do running "$name" || break; sleep 0.5; done
    running "$name" && kill -KILL "$(pid_of "$name")"
    echo "[stack] stopped $name"
  fi
  rm -f "$run/$name.pid"
}

down() {
  for entry in "${SERVICES[@]}"; do stop "${entry%%:*}"; done
}

# Each service's pid and health; exits 1 unless all run and serve. --json: one JSON list.
status() {
  local rc=0 name port health pid json=()
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    health=$("${grpc[@]}" health "$port") || rc=1
    pid=
    if running "$name"; then pid=$(pid_of "$name"); else rc=1; fi
    json+=("{\"name\": \"$name\", \"port\": $port, \"pid\": ${pid:-null}, \"health\": \"$health\"}")
    [[ ${1:-} == --json ]] && continue
    if [[ -n $pid ]]; then
      echo "[stack] $name pid $pid, 127.0.0.1:$port $health"
    else
      echo "[stack] $name not running (127.0.0.1:$port $health)"
    fi
  done
  if [[ ${1:-} == --json ]]; then (IFS=,; echo "[${json[*]}]"); fi
  return $rc
}

case ${1:-} in
  up | down) "$1" ;;
  status) status "${2:-}" ;;
  start) start "${2:?usage: $0 start NAME}"; wait_healthy "$2" "$(port_of "$2")" ;;
  stop) port_of "${2:?usage: $0 stop NAME}" >/dev/null; stop "$2" ;;
  *) echo "usage: $0 up|down|status [--json]|start NAME|stop NAME" >&2; exit 2 ;;
esac
