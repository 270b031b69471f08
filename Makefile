# Sizhi (四治). On a fresh machine two commands are enough:
#   make run    set up, load the demo city, serve http://127.0.0.1:8000/ with its background worker
#   make test   set up, run the whole test suite
# Set-up needs Python 3.11, Node.js with npm, and the package registries (PyPI, npm) once;
# after that nothing reaches the internet.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
SIZHI := $(BIN)/sizhi
# Stamps: set-up steps rerun only when what they install from has changed.
PY_STAMP := $(VENV)/.installed-pyproject
NODE_STAMP := node_modules/.installed-lock
DATA_DIR := $(or $(SIZHI_DATA_DIR),var)
ADDRESS ?= 127.0.0.1:8000
PG_URL ?= postgres://postgres@127.0.0.1:5432/test
PYTEST ?= $(BIN)/pytest -p no:cacheprovider
PYTEST_ARGS ?=

.PHONY: help setup run test test-pg lint browsers demo-reset clean serve-prod

help:
	@echo "make run        set up, migrate, load the demo city, serve $(ADDRESS) with the worker"
	@echo "make test       set up and run the whole test suite (SQLite)"
	@echo "make test-pg    the suite against PostgreSQL ($(PG_URL))"
	@echo "make lint       ruff and mypy"
	@echo "make browsers   install Debian's Chromium for the browser tests"
	@echo "make demo-reset remove the demo city and load it again"
	@echo "make serve-prod the production profile: PostgreSQL, Redis, gunicorn + worker (.env, see .env.example)"
	@echo "make setup      only the set-up: .venv (pip) and node_modules (npm)"

setup: $(PY_STAMP) $(NODE_STAMP)

$(PY_STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check --quiet --editable '.[dev]'
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --ignore-scripts --no-audit --no-fund
	@touch $@

# The embedded mode: SQLite (var/sizhi.sqlite3), SqliteHuey (var/queue.sqlite3), DEBUG on so that
# runserver serves the static files. `demo load` does nothing when the demo city is already there.
run: setup
	@mkdir -p $(DATA_DIR)
	SIZHI_DEBUG=1 $(SIZHI) migrate --noinput
	SIZHI_DEBUG=1 $(SIZHI) demo load
	SIZHI_DEBUG=1 exec $(SIZHI) serve $(ADDRESS)

# The production profile on this machine: PostgreSQL and Redis (from .env, else the local ones),
# migrate, collectstatic, then gunicorn and the huey worker together; Ctrl-C stops both.
# docs/deploy.md describes the same processes on several machines.
serve-prod: setup
	bash scripts/serve_prod.sh

test: setup
	$(PYTEST) $(PYTEST_ARGS)

test-pg: setup
	DATABASE_URL=$(PG_URL) $(PYTEST) $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check sizhi
	$(BIN)/mypy sizhi

browsers:
	@if command -v chromium >/dev/null 2>&1; then \
		chromium --version; \
	elif [ "$$(id -u)" = 0 ]; then \
		apt-get update && apt-get install -y chromium; \
	else \
		echo "Chromium is missing; install it with: sudo apt-get install -y chromium"; \
	fi

demo-reset: setup
	@mkdir -p $(DATA_DIR)
	$(SIZHI) migrate --noinput
	$(SIZHI) demo load --reset

clean:
	rm -rf $(VENV) node_modules
