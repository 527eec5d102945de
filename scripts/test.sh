#!/usr/bin/env bash
# Every test: unit, integration (real Redis and Kafka), end to end (the single-node stack), then
# the cluster suite on the cluster stack (Redis Cluster, three brokers, the services against
# them): its Lua scripts and consumers, one whole sale, and the short fault drill. The
# single-node stack's services are up again at the end, so they keep up with the shared broker
# between runs (stopped for long, they start the next run behind it).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/stack.sh up
.venv/bin/python -m pytest tests --ignore=tests/cluster "$@"
scripts/cluster.sh up
.venv/bin/python -m pytest tests/cluster "$@"
scripts/stack.sh up
