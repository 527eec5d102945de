#!/usr/bin/env bash
# A Redis Cluster of three primaries with one replica each on 127.0.0.1:7000-7005, from Debian's
# redis-server package; each node's state (nodes.conf, append-only files, log) in
# .cache/dev/redis-cluster/<port>/. Durable and evicting nothing, like infra/redis.sh, and quick
# to fail over: a primary that does not answer for cluster-node-timeout is replaced by its replica.
# Usage: redis-cluster.sh up|down|status [--json]|start PORT
#   up      start every node that is not running (from its nodes.conf and append-only files when
#           it has them), create the cluster once (redis-cli --cluster create), return when every
#           node says cluster_state:ok (REDIS_CLUSTER_TIMEOUT seconds at most, default 60)
#   down    stop the nodes that `up` started (SIGTERM: each node syncs its append-only file)
#   status  each node's port, pid and role; exit 0 only when every node answers and says ok
#   start   start one node (a drill's restart of a node it killed); returns once it answers PING
set -euo pipefail
tag=redis-cluster
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

base=${REDIS_CLUSTER_BASE_PORT:-7000}
ports=("$base" $((base + 1)) $((base + 2)) $((base + 3)) $((base + 4)) $((base + 5)))
state=$root/.cache/dev/redis-cluster
node_timeout_ms=${REDIS_CLUSTER_NODE_TIMEOUT_MS:-3000}

cli() { local port=$1; shift; timeout 2 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>/dev/null; }
answering() { [[ $(cli "$1" ping) == PONG ]]; }
pidfile() { echo "$state/$1/redis.pid"; }
ours() { pid_alive "$(pidfile "$1")" redis-server; }
info_field() { { cli "$1" cluster info || true; } | tr -d '\r' | sed -n "s/^$2://p"; }

install() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    apt_install redis-server
  fi
}

# start PORT: one node, from its own folder; nodes.conf there holds its identity and the cluster.
start() {
  local port=$1 dir=$state/$1
  if answering "$port"; then return; fi
  mkdir -p "$dir"
  redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --dir "$dir" \
    --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" --save "" \
    --appendonly yes --appendfsync everysec --maxmemory-policy noeviction \
    --cluster-enabled yes --cluster-config-file nodes.conf \
    --cluster-node-timeout "$node_timeout_ms" 9>&-
  wait_for "node $port answering PING" 15 answering "$port"
}

# wait_for WHAT SECONDS COMMAND...: until COMMAND succeeds, or fail with the nodes' last log lines.
wait_for() {
  local what=$1 deadline=$((SECONDS + $2))
  shift 2
  while ((SECONDS < deadline)); do
    if "$@"; then return; fi
    sleep 0.2
  done
  for port in "${ports[@]}"; do tail -n 5 "$state/$port/redis.log" 2>/dev/null | sed "s/^/[$port] /" >&2; done
  die "no $what after the wait (the nodes' last log lines above)"
}

# The cluster exists once any node has slots; a fresh set of nodes knows only itself.
created() {
  local port assigned
  for port in "${ports[@]}"; do
    assigned=$(info_field "$port" cluster_slots_assigned)
    if [[ -n $assigned && $assigned != 0 ]]; then return 0; fi
  done
  return 1
}

all_ok() {
  local port
  for port in "${ports[@]}"; do [[ $(info_field "$port" cluster_state) == ok ]] || return 1; done
}

create() {
  local nodes=() port
  for port in "${ports[@]}"; do nodes+=("127.0.0.1:$port"); done
  log "creating the cluster: three primaries, one replica each"
  # redis-cli warns that replicas share their primary's host: on one machine they must.
  redis-cli --cluster create "${nodes[@]}" --cluster-replicas 1 --cluster-yes >"$state/create.log" 2>&1 ||
    { cat "$state/create.log" >&2; die "redis-cli --cluster create failed"; }
}

up() {
  local t0=$SECONDS port
  install
  for port in "${ports[@]}"; do start "$port"; done
  if ! created; then create; fi
  wait_for "cluster_state:ok on every node" "${REDIS_CLUSTER_TIMEOUT:-60}" all_ok
  log "ready on 127.0.0.1:${ports[0]}-${ports[5]} in $((SECONDS - t0)) s"
}

down() {
  local port
  for port in "${ports[@]}"; do
    tag="redis-cluster $port" stop_pid "$(pidfile "$port")" redis-server 10
  done
}

# role PORT: primary or replica, from the node's own ROLE reply.
role() {
  case $({ cli "$1" role || true; } | head -n 1) in
    master) echo primary ;;
    slave) echo replica ;;
    *) echo down ;;
  esac
}

status() {
  local port pid rc=0 role json=() ok
  for port in "${ports[@]}"; do
    pid=$(cat "$(pidfile "$port")" 2>/dev/null || true)
    ours "$port" || pid=
    role=$(role "$port")
    ok=$(info_field "$port" cluster_state)
    [[ $ok == ok ]] || rc=1
    json+=("{\"port\": $port, \"pid\": ${pid:-null}, \"role\": \"$role\", \"state\": \"${ok:-down}\"}")
    [[ ${1:-} == --json ]] || log "127.0.0.1:$port pid ${pid:--} $role cluster_state ${ok:-down}"
  done
  if [[ ${1:-} == --json ]]; then (IFS=,; echo "[${json[*]}]"); fi
  return $rc
}

case ${1:-} in
  up | down) mkdir -p "$state"; lock "$state"; "$1" ;;
  status) status "${2:-}" ;;
  start) [[ ${2:-} =~ ^[0-9]+$ ]] || die "usage: $0 start PORT"; start "$2" ;;
  *) echo "usage: $0 up|down|status [--json]|start PORT" >&2; exit 2 ;;
esac
