#!/usr/bin/env bash
# Every test in one pytest run: unit, integration (real Redis and Kafka), end to end (the stack).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/stack.sh up
.venv/bin/python -m pytest tests "$@"
