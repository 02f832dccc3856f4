# Baton: `make run` starts everything, `make test` runs every test.
# Nothing needs installing by hand: uv comes from PyPI into .tools/ when it is missing,
# Kafka and a MongoDB-wire server are installed under .stack/ by tools/stack (baton_stack).

SHELL := /bin/bash
UV ?= $(or $(shell command -v uv 2>/dev/null),$(CURDIR)/.tools/bin/uv)
PYTHON ?= python3
RUN := $(UV) run --locked

.PHONY: help sync run test test-unit lint fmt schemas tools asyncapi-cli helm prometheus stack-up stack-down stack-status up down bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-18s %s\n", $$1, $$2}'

$(CURDIR)/.tools/bin/uv:
	$(PYTHON) -m venv $(CURDIR)/.tools
	$(CURDIR)/.tools/bin/pip install --quiet uv

.venv/.synced: $(UV) uv.lock pyproject.toml $(wildcard libs/*/pyproject.toml services/*/pyproject.toml tools/*/pyproject.toml)
	$(UV) sync --locked --all-packages
	@touch $@

sync: .venv/.synced ## install the workspace into .venv

run: sync ## start Kafka, MongoDB, the four services (and the demo model without OPENAI_API_KEY)
	$(RUN) python scripts/run.py

test: sync tools ## every test: unit, integration, e2e, observability, fault injection, contracts, API fuzzing, deployment
	$(RUN) pytest

# The tools the tests drive, installed once under .tools/ before the session, so their
# first build (minutes) counts against no test's time limit.
tools: asyncapi-cli helm prometheus ## install the AsyncAPI CLI, helm and Prometheus 3 under .tools/ (once)

test-unit: sync ## unit tests only (no Kafka, no MongoDB)
	$(RUN) pytest tests/unit

lint: sync ## ruff and mypy
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

fmt: sync ## format and fix what ruff can
	$(RUN) ruff format .
	$(RUN) ruff check --fix .

schemas: sync ## regenerate each event's JSON Schema (libs/contracts/schemas) and the AsyncAPI document
	$(RUN) python -m baton_contracts.schema

asyncapi-cli: ## install the AsyncAPI CLI (pinned in scripts/asyncapi/) under .tools/asyncapi
	$(PYTHON) scripts/asyncapi_cli.py

helm: ## build helm (pinned in scripts/helm/) under .tools/helm, for deploy/helm/baton
	$(PYTHON) scripts/go_tools.py helm

prometheus: ## build Prometheus 3 and promtool (pinned in scripts/prometheus/) under .tools/prometheus
	$(PYTHON) scripts/go_tools.py prometheus

.PHONY: docs
docs: sync ## regenerate docs/configuration.md from the Settings classes
	$(RUN) python scripts/configuration_docs.py

stack-up: sync ## install (first time) and start local Kafka + MongoDB server, without Docker
	$(RUN) python -m baton_stack up

stack-down: sync ## stop the local stack
	$(RUN) python -m baton_stack down

stack-status: sync ## is the local stack running?
	$(RUN) python -m baton_stack status

COMPOSE_ENV ?= .run/compose.env
COMPOSE = docker compose --env-file $(COMPOSE_ENV) -f docker-compose.yml $(if $(EXPOSE),-f docker-compose.expose.yml)

up: ## docker compose: everything in containers, secrets in .run/compose.env (EXPOSE=1: Kafka, MongoDB on loopback)
	$(PYTHON) scripts/compose_env.py $(COMPOSE_ENV)
	$(COMPOSE) up --build -d
	@echo "ingest http://127.0.0.1:8001/docs  human-queue http://127.0.0.1:8004/docs"
	@echo "prometheus http://127.0.0.1:9090  grafana http://127.0.0.1:3000  jaeger http://127.0.0.1:16686"
	@echo "admin tokens and the Grafana admin password: $(COMPOSE_ENV)"

down: ## docker compose: stop and remove the containers
	$(PYTHON) scripts/compose_env.py $(COMPOSE_ENV)
	$(COMPOSE) down

bench: sync ## throughput, latency, claims, memory and model latency here (not in make test; BENCH_ARGS for options)
	$(UV) run --locked --group bench python -m baton_bench $(BENCH_ARGS)
