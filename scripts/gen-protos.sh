#!/usr/bin/env bash
# Generates Python modules, gRPC stubs and .pyi stubs from protos/ into $1.
set -euo pipefail
out=${1:-build/gen}
rm -rf "$out" && mkdir -p "$out"
mapfile -t protos < <(cd protos && find . -name '*.proto' | sort)
(cd protos && ../.venv/bin/python -m grpc_tools.protoc -I . \
  --plugin=protoc-gen-mypy=../.venv/bin/protoc-gen-mypy \
  --plugin=protoc-gen-mypy_grpc=../.venv/bin/protoc-gen-mypy_grpc \
  --python_out="../$out" --grpc_python_out="../$out" \
  --mypy_out="../$out" --mypy_grpc_out="../$out" "${protos[@]}")
# protoc writes no __init__.py; make every generated folder a regular package.
find "$out" -mindepth 1 -type d -exec touch {}/__init__.py \;
echo "[gen] $(find "$out" -name '*_pb2*.py' | wc -l) modules in $out"
