#!/usr/bin/env bash
# Command-line tools for poking the system, built into .cache/bin; prints the tool's path.
# Usage: tools.sh grpcurl|ghz|kustomize|background grpcurl
#   grpcurl  go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION (default
#            v1.9.4, the latest 1.9.x on the Go module proxy), unless that version is already there
#   background NAME  the same at nice 19 in the background, log in var/log/tools-NAME.log; a
#            later `tools.sh NAME` waits for it (one build at a time holds .cache/bin/.lock)
set -euo pipefail
tag=tools
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

bin=$root/.cache/bin
GRPCURL_VERSION=${GRPCURL_VERSION:-v1.9.4}

go_cmd() {
  if command -v go >/dev/null; then
    command -v go
  elif [[ -x /usr/local/go/bin/go ]]; then
    echo /usr/local/go/bin/go
  else
    die "go not found (looked on PATH and in /usr/local/go/bin); it is needed to build grpcurl"
  fi
}

# The module version a Go binary was built from, or nothing.
built_version() {
  [[ -x $2 ]] || return 0
  "$1" version -m "$2" 2>/dev/null | awk '$1 == "mod" { print $3; exit }'
}

# go_tool NAME MODULE_PATH/cmd/NAME VERSION: go install it into .cache/bin unless that version is there.
go_tool() {
  local go target=$bin/$1
  go=$(go_cmd)
  if [[ $(built_version "$go" "$target") != "$3" ]]; then
    lock "$bin"
  fi
  if [[ $(built_version "$go" "$target") != "$3" ]]; then
    log "building $1 $3 with go install into $bin" >&2
    mkdir -p "$bin"
    GOBIN=$bin GOFLAGS='' CGO_ENABLED=0 "$go" install "$2@$3" >&2
  fi
  echo "$target"
}

grpcurl() { go_tool grpcurl github.com/fullstorydev/grpcurl/cmd/grpcurl "$GRPCURL_VERSION"; }

# ghz, the gRPC load tool of bench/
ghz() { go_tool ghz github.com/bojand/ghz/cmd/ghz "${GHZ_VERSION:-v0.120.0}"; }

# kustomize, which renders deploy/k8s in tests/deploy; v5.8.2 is the newest that builds with Go 1.26
kustomize() {
  go_tool kustomize sigs.k8s.io/kustomize/kustomize/v5 "${KUSTOMIZE_VERSION:-v5.8.2}"
}

# background grpcurl: builds it off the caller's critical path, unless that version is there.
background() {
  [[ ${1:-} == grpcurl ]] || { echo "usage: $0 background grpcurl" >&2; exit 2; }
  local log=$root/var/log/tools-grpcurl.log
  [[ $(built_version "$(go_cmd)" "$bin/grpcurl") == "$GRPCURL_VERSION" ]] && return
  mkdir -p "$root/var/log"
  log "building grpcurl in the background (log ${log#"$root"/}); \`make tools\` waits for it"
  nohup nice -n 19 "$0" grpcurl >"$log" 2>&1 </dev/null 9>&- &
}

case ${1:-} in
  grpcurl | ghz | kustomize) "$1" ;;
  background) background "${2:-}" ;;
  *) echo "usage: $0 grpcurl|ghz|kustomize|background NAME" >&2; exit 2 ;;
esac
