#!/usr/bin/env bash
# Redis on 127.0.0.1:6379 from Debian's redis-server package, state in .cache/dev/redis/.
# Durable as production runs it: an append-only file synced every second (a kill -9 loses at
# most about a second of writes), and no eviction (an evicting Redis would drop people in line).
# Usage: redis.sh up|down|status
#   up      install redis-server if missing, start one unless something already answers PING,
#           return once it answers (REDIS_START_TIMEOUT seconds at most, default 15)
#   down    stop the Redis that `up` started (pid file); a Redis started elsewhere is left alone
#   status  exit 0 when 127.0.0.1:$REDIS_PORT answers PING
set -euo pipefail
tag=redis
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

port=${REDIS_PORT:-6379}
state=$root/.cache/dev/redis
pidfile=$state/redis.pid

# timeout: redis-cli waits forever on a port whose listener never answers.
answering() { [[ $(timeout 2 redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null) == PONG ]]; }
ours() { pid_alive "$pidfile" redis-server; }
who() { if ours; then echo "pid $(<"$pidfile"), started by dev-up"; else echo "not started by dev-up"; fi; }

install() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server
  fi
}

up() {
  install
  if answering; then log "reusing the Redis answering on 127.0.0.1:$port ($(who))"; return; fi
  mkdir -p "$state"
  log "starting redis-server on 127.0.0.1:$port (log $state/redis.log)"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$state" \
    --pidfile "$pidfile" --logfile "$state/redis.log" --save "" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction 9>&-
  local timeout=${REDIS_START_TIMEOUT:-15}
  local deadline=$((SECONDS + timeout))
  while ((SECONDS < deadline)); do
    if answering; then log "ready on 127.0.0.1:$port ($(who))"; return; fi
    sleep 0.1
  done
  log "no answer to PING on 127.0.0.1:$port after $timeout s; last lines of $state/redis.log:" >&2
  tail -n 20 "$state/redis.log" >&2 || true
  exit 1
}

down() {
  stop_pid "$pidfile" redis-server 10
  if answering; then log "a Redis not started by dev-up still answers on 127.0.0.1:$port; left alone"; fi
}

status() {
  command -v redis-cli >/dev/null || { log "not installed"; return 1; }
  if answering; then log "answering on 127.0.0.1:$port ($(who))"; else log "not answering on 127.0.0.1:$port"; return 1; fi
}

case ${1:-} in
  up | down) lock "$state"; "$1" ;;
  status) "$1" ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
