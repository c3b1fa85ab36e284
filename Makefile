# insitu: `make demo` runs the loop on embedded defaults; `make test` runs the whole suite.
# Every target does its own set-up: a virtualenv, Python deps, the Kafka broker jars.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.insitu-installed

.DEFAULT_GOAL := help
.PHONY: help setup test lint demo bench clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "Python 3.11+ is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## venv, Python deps and Kafka broker jars (idempotent)
	$(BIN)/insitu kafka install

lint: setup ## ruff and mypy
	$(BIN)/ruff check .
	$(BIN)/mypy

test: lint ## install what is missing, lint, run the whole test suite
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; exit 0; fi; exit $$rc

demo: setup ## the closed loop on the agrawal scenario, live progress, then a report (under .insitu/runs/)
	$(BIN)/insitu demo

bench: setup ## benchmarks; results go in the README
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m tests.bench

clean: ## remove the venv and local data
	rm -rf $(VENV) .insitu
