# civicdesk — `make run` serves the demo, `make test` runs every check. Both start from a bare Python 3.11.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export CIVICDESK_ENV ?= development

.PHONY: run test lint typecheck test-sqlite test-postgres install clean migration

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	@scripts/run-dev.sh

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy

test-sqlite: $(STAMP)
	scripts/ensure-redis.sh
	CIVICDESK_ENV=testing $(BIN)/pytest -q

test-postgres: $(STAMP)
	scripts/ensure-redis.sh
	CIVICDESK_ENV=testing scripts/with-postgres.sh $(BIN)/pytest -q

test: lint typecheck test-sqlite test-postgres

# make migration m="add requests table"
migration: $(STAMP)
	$(BIN)/python scripts/new_migration.py "$(m)"

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
