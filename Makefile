# The project's contract: `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# checkov (the deploy template's checker) in a venv of its own: its pins conflict with pytest's.
CHECKOV := .tools/checkov/bin/checkov
# Azurite ports used by the test suite (kept apart from the ones `make run` uses).
export AZURITE_BLOB_PORT ?= 10100
export AZURITE_QUEUE_PORT ?= 10101
export AZURITE_TABLE_PORT ?= 10102

.PHONY: help install console run test lint format bench fuzz package deploy clean

help:
	@echo "make run      set everything up and run the service (emulator + Azurite)"
	@echo "make test     set everything up, lint, and run the whole test suite"
	@echo "make lint     ruff check + ruff format --check"
	@echo "make bench    pipeline, emulator and fan-out benchmarks (ratios against baselines)"
	@echo "make fuzz     schemathesis against the served OpenAPI document"
	@echo "make package  build dist/<name>-<version>.zip for Azure"
	@echo "make deploy   deploy to Azure with the az CLI"

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	@touch $@

$(CHECKOV): requirements-checkov.txt
	@test -x .tools/checkov/bin/python || $(PYTHON) -m venv .tools/checkov
	.tools/checkov/bin/python -m pip install --quiet -r requirements-checkov.txt
	@touch $@

# The Python worker's indexing code, apart from the venv (see requirements-worker-index.txt).
WORKER_INDEX := .tools/azure-functions-runtime
$(WORKER_INDEX)/.installed: requirements-worker-index.txt $(VENV)/.installed
	rm -rf $(WORKER_INDEX)
	$(PY) -m pip install --quiet --no-deps --ignore-requires-python \
		--target $(WORKER_INDEX) -r requirements-worker-index.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --silent
	@touch $@

.debian-tools: scripts/ensure-debian-tools.sh
	@bash scripts/ensure-debian-tools.sh
	@touch $@

# The web console: npm from its lockfile, then the build the app serves at /.
CONSOLE_SOURCES := $(shell find console/src console/public -type f 2>/dev/null) \
	console/index.html console/vite.config.ts console/tsconfig.json

console/node_modules/.installed: console/package.json console/package-lock.json
	cd console && npm ci --no-audit --no-fund --silent
	@touch $@

console/dist/index.html: console/node_modules/.installed $(CONSOLE_SOURCES)
	cd console && npm run --silent build

console: console/dist/index.html

install: $(VENV)/.installed $(CHECKOV) $(WORKER_INDEX)/.installed node_modules/.installed \
	.debian-tools console

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

test: install
	@bash scripts/services.sh start-test
	$(MAKE) --no-print-directory lint
	cd console && npm test --silent
	$(PY) -m pytest $(PYTEST_ARGS)

run: install
	@bash scripts/run.sh

bench: install
	@bash scripts/services.sh start-test
	$(PY) bench/pipeline.py $(BENCH_ARGS)
	$(PY) bench/emulator.py
	$(PY) bench/fanout.py

fuzz: install
	@bash scripts/fuzz.sh

package: install
	$(PY) scripts/package.py

deploy: package
	@bash scripts/deploy.sh

clean:
	rm -rf $(VENV) .tools node_modules dist build .debian-tools .pytest_cache .ruff_cache \
		console/node_modules console/dist console/screenshots
