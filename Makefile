# The single entry point. `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
.DEFAULT_GOAL := help
UV ?= $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
PY := .venv/bin/python
GEN := build/gen
PROTOS := $(shell find protos -name '*.proto')

include mk/infra.mk
include mk/deploy.mk

.PHONY: help install gen lint test test-unit test-integration test-e2e run up down status logs clean bench bench-quick bench-capacity

help: ## list the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-24s %s\n", $$1, $$2}'

$(UV):
	python3 -m pip install --quiet --user uv==0.13.9

.venv/.installed: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen --quiet && touch $@

$(GEN)/.stamp: $(PROTOS) .venv/.installed
	scripts/gen-protos.sh $(GEN) && touch $@

install: .venv/.installed $(GEN)/.stamp ## install Python dependencies and generate the API code

gen: $(GEN)/.stamp ## generate Python code and .pyi stubs from protos/

lint: install ## ruff and mypy
	$(UV) run --frozen ruff check . && $(UV) run --frozen ruff format --check .
	$(UV) run --frozen mypy libs services

test: lint dev-up tools kustomize ## every test: unit, integration (real Redis, Kafka), end to end (the stack)
	scripts/test.sh

test-unit: install ## unit tests only (no servers)
	$(PY) -m pytest tests/unit -q

test-integration: install dev-up ## integration tests only (real Redis and Kafka, no services)
	$(PY) -m pytest tests/integration -q

test-e2e: up tools ## the end-to-end tests alone, against the stack (the README's walk-throughs among them)
	$(PY) -m pytest tests/e2e -q

up: install dev-up ## Redis, Kafka and the services in the background, health-checked; grpcurl builds meanwhile
	scripts/stack.sh up
	@infra/tools.sh background grpcurl

status: ## each service's pid and health (fails unless all three serve)
	@scripts/stack.sh status

down: ## stop the services, Redis and Kafka
	scripts/stack.sh down; $(MAKE) --no-print-directory dev-down

logs: ## follow the services' logs
	tail -F var/log/*.log

run: up ## the stack, a demo event and a flash crowd through it
	$(PY) -m demo.flash_crowd

bench-quick: up ## every benchmark, smaller: results in bench/results/
	infra/tools.sh ghz >/dev/null && $(UV) sync --frozen --quiet --group bench
	$(PY) -m bench.run --quick

bench-capacity: install ## what one Redis primary carries for one event (its own redis-server on 6391), and the capacity model
	$(PY) -m bench.capacity $(ARGS) && $(PY) -m bench.capacity_plan

bench: up ## gRPC load at 10-200 calls in flight, 100,000 admitted, 1,000,000 people in line
	infra/tools.sh ghz >/dev/null && $(UV) sync --frozen --quiet --group bench
	$(PY) -m bench.run

clean: ## remove generated code and local state (not the caches)
	rm -rf build var
