#!/usr/bin/env bash
# Starts (up), stops (down) or reports on (status) the Waitroom services in the background on
# loopback. Logs go to var/log/, pids to var/run/; `up` returns once each answers its health check.
# Health checks and the walk-through's event use Python's gRPC stubs, so grpcurl is not needed here.
set -euo pipefail
cd "$(dirname "$0")/.."
export WAITROOM_ADMIN_TOKEN=${WAITROOM_ADMIN_TOKEN:-dev-admin-token}
grpc=(.venv/bin/python scripts/stack_grpc.py)
mkdir -p var/log var/run

# name:port of every service the stack runs
SERVICES=(waitroom:50051 checkout:50052 stats:50053)

# alive, and not a zombie waiting to be reaped
running() {
  [[ -f var/run/$1.pid ]] && [[ "$(ps -o stat= -p "$(cat "var/run/$1.pid")" 2>/dev/null)" =~ ^[^Z] ]]
}

start() {
  local name=$1
  if running "$name"; then
    echo "[stack] $name already running (pid $(cat "var/run/$name.pid"))"
  else
    nohup .venv/bin/python -m "$name" >>"var/log/$name.log" 2>&1 &
    echo $! >"var/run/$name.pid"
    echo "[stack] started $name (pid $!), log var/log/$name.log"
  fi
}

# Several serving processes share the port and the kernel picks one per connection: `wait`
# wants five SERVING replies in a row on fresh connections, not the first process ready.
wait_healthy() {
  local name=$1 port=$2 rc=0
  "${grpc[@]}" wait "$port" "$(cat "var/run/$name.pid")" --timeout 60 || rc=$?
  case $rc in
    0) echo "[stack] $name serving on 127.0.0.1:$port" ;;
    1) echo "[stack] $name exited; last log lines:"; tail -20 "var/log/$name.log"; exit 1 ;;
    *) echo "[stack] $name not healthy after 60 s"; tail -20 "var/log/$name.log"; exit 1 ;;
  esac
}

up() {
  for entry in "${SERVICES[@]}"; do
    start "${entry%%:*}"
    wait_healthy "${entry%%:*}" "${entry##*:}"
  done
  # The event the README's walk-throughs join (an existing one is kept).
  "${grpc[@]}" create-event concert-2024 --tickets 500
}

down() {
  for entry in "${SERVICES[@]}"; do
    local name=${entry%%:*}
    if running "$name"; then
      kill -TERM "$(cat "var/run/$name.pid")"
      for _ in $(seq 1 70); do running "$name" || break; sleep 0.5; done
      running "$name" && kill -KILL "$(cat "var/run/$name.pid")"
      echo "[stack] stopped $name"
    fi
    rm -f "var/run/$name.pid"
  done
}

# Each service's pid and health; exits 1 unless all three run and serve.
status() {
  local rc=0 name port health
  for entry in "${SERVICES[@]}"; do
    name=${entry%%:*} port=${entry##*:}
    health=$("${grpc[@]}" health "$port") || rc=1
    if running "$name"; then
      echo "[stack] $name pid $(cat "var/run/$name.pid"), 127.0.0.1:$port $health"
    else
      echo "[stack] $name not running (127.0.0.1:$port $health)"
      rc=1
    fi
  done
  return $rc
}

case ${1:-} in
  up | down | status) "$1" ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
