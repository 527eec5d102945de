# Helpers shared by the infra scripts; sourced, not run.  Each script sets `tag` first.
# shellcheck shell=bash disable=SC2034,SC2154  # root is used and tag is set by the sourcing script

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

log() { echo "[$tag] $*"; }
die() { echo "[$tag] error: $*" >&2; exit 1; }

# Runs a command as root: directly when root, through sudo when it exists, else fails clearly.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    die "need root or sudo to run: $*"
  fi
}

# apt_install PACKAGE...: Debian packages, noninteractive, with a fresh package list; waits for
# the dpkg lock if another install runs; apt's chatter is shown only when it fails.
apt_install() {
  local out
  command -v apt-get >/dev/null || die "apt-get not found; install $* by hand"
  log "installing $* from Debian's packages"
  out=$(mktemp)
  if ! { as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq &&
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
      --no-install-recommends "$@"; } >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    die "apt-get could not install $*"
  fi
  rm -f "$out"
}

# lock DIR: hold DIR/.lock until the script exits, so two concurrent up/down never race.
# Servers started under it must close fd 9 (9>&-), or they would hold the lock for good.
lock() {
  mkdir -p "$1"
  exec 9>"$1/.lock"
  flock -w 300 9 || die "another infra script held $1/.lock for 300 s"
}

# pid_alive PIDFILE PATTERN: the pid file names a live process whose command line has PATTERN
# (so a recycled pid of some other program is never taken for ours).
pid_alive() {
  local pid command
  [[ -f $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  # read whole, then matched: `tr | grep -q` under pipefail can fail on SIGPIPE
  command=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
  [[ $command == *"$2"* ]]
}

# stop_pid PIDFILE PATTERN SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL; removes the pid file.
stop_pid() {
  local pid deadline
  if pid_alive "$1" "$2"; then
    pid=$(<"$1")
    kill -TERM "$pid" 2>/dev/null || true
    deadline=$((SECONDS + $3))
    while pid_alive "$1" "$2" && ((SECONDS < deadline)); do sleep 0.2; done
    if pid_alive "$1" "$2"; then
      log "still running after $3 s, sending SIGKILL to $pid"
      kill -KILL "$pid" 2>/dev/null || true
      for _ in {1..50}; do pid_alive "$1" "$2" || break; sleep 0.1; done
    fi
    log "stopped (pid $pid)"
  else
    log "none of ours running"
  fi
  rm -f "$1"
}
