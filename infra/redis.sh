#!/usr/bin/env bash
# Redis on 127.0.0.1:6379 from Debian's redis-server package.  Usage: redis.sh up|down|status
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
state=$root/.cache/dev/redis
port=${REDIS_PORT:-6379}
log() { echo "[redis] $*"; }
sudo_if_needed() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

install() {
  command -v redis-server >/dev/null && return
  log "installing redis-server from Debian's packages"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
}

answering() { redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; }

up() {
  install
  if answering; then log "already answering on 127.0.0.1:$port"; return; fi
  mkdir -p "$state"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$state" \
    --pidfile "$state/redis.pid" --logfile "$state/redis.log" --save "" --appendonly no
  for _ in $(seq 1 50); do answering && { log "ready on 127.0.0.1:$port"; return; }; sleep 0.1; done
  log "not answering after 5 s:"; tail -20 "$state/redis.log"; exit 1
}

down() {
  if [[ -f $state/redis.pid ]] && kill -0 "$(cat "$state/redis.pid")" 2>/dev/null; then
    redis-cli -h 127.0.0.1 -p "$port" shutdown nosave >/dev/null 2>&1 || kill "$(cat "$state/redis.pid")"
    log "stopped"
  fi
  rm -f "$state/redis.pid"
}

status() { if answering; then log "answering on 127.0.0.1:$port"; else log "not running"; return 1; fi; }

"${1:?usage: redis.sh up|down|status}"
