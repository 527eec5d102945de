#!/usr/bin/env bash
# Starts (up) or stops (down) the Waitroom services in the background on loopback.
# Logs go to var/log/, pids to var/run/; `up` returns once each answers its health check.
set -euo pipefail
cd "$(dirname "$0")/.."
GRPCURL=${GRPCURL:-.cache/bin/grpcurl}
export WAITROOM_ADMIN_TOKEN=${WAITROOM_ADMIN_TOKEN:-dev-admin-token}
mkdir -p var/log var/run

# name:port of every service the stack runs
SERVICES=(waitroom:50051 checkout:50052 stats:50053)

# alive, and not a zombie waiting to be reaped
running() {
  [[ -f var/run/$1.pid ]] && [[ "$(ps -o stat= -p "$(cat "var/run/$1.pid")" 2>/dev/null)" =~ ^[^Z] ]]
}

# The reply is read whole before it is matched: `grpcurl | grep -q` under pipefail fails at
# random, whenever grep has matched and exited before grpcurl wrote its last line (SIGPIPE).
healthy() {
  local reply
  reply=$("$GRPCURL" -plaintext -max-time 2 -d '{"service":""}' "127.0.0.1:$1" \
    grpc.health.v1.Health/Check 2>/dev/null) || return 1
  [[ $reply == *'"SERVING"'* ]]
}

up() {
  for entry in "${SERVICES[@]}"; do
    local name=${entry%%:*} port=${entry##*:}
    if running "$name"; then
      echo "[stack] $name already running (pid $(cat "var/run/$name.pid"))"
    else
      nohup .venv/bin/python -m "$name" >>"var/log/$name.log" 2>&1 &
      echo $! >"var/run/$name.pid"
      echo "[stack] started $name (pid $!), log var/log/$name.log"
    fi
    # Several serving processes share the port and the kernel picks one per connection:
    # one SERVING reply may come from the first process ready while another still connects.
    local serving=0
    for _ in $(seq 1 120); do
      if healthy "$port"; then
        serving=$((serving + 1))
        ((serving >= 5)) && break
        continue
      fi
      serving=0
      running "$name" || { echo "[stack] $name exited; last log lines:"; tail -20 "var/log/$name.log"; exit 1; }
      sleep 0.5
    done
    ((serving >= 5)) || { echo "[stack] $name not healthy after 60 s"; tail -20 "var/log/$name.log"; exit 1; }
    echo "[stack] $name serving on 127.0.0.1:$port"
  done
  # The event the README's grpcurl walk-through joins.
  "$GRPCURL" -plaintext -H "authorization: Bearer $WAITROOM_ADMIN_TOKEN" \
    -d '{"event_id":"concert-2024","tickets":500}' 127.0.0.1:50051 \
    waitroom.v1.AdminService/CreateEvent >/dev/null 2>&1 || true
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

"${1:?usage: stack.sh up|down}"
