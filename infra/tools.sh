#!/usr/bin/env bash
# Installs the command-line tools users poke the system with into .cache/bin.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin=$root/.cache/bin
GRPCURL_VERSION=v1.9.3

grpcurl() {
  if [[ ! -x $bin/grpcurl ]]; then
    echo "[tools] building grpcurl $GRPCURL_VERSION with go install"
    mkdir -p "$bin"
    GOBIN=$bin GOFLAGS=-mod=mod go install "github.com/fullstorydev/grpcurl/cmd/grpcurl@$GRPCURL_VERSION"
  fi
  echo "$bin/grpcurl"
}

"${1:?usage: tools.sh grpcurl}"
