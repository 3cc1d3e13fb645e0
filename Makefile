# The two commands of the README: `make up` runs the app, `make test` runs the tests.
# Both set up what they need (virtualenv, Python packages, Debian packages) on a fresh machine.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup up test test-heavy lint bench clean

setup:
	@bash scripts/setup.sh

up: setup
	@$(PY) -m scripts.up

test: setup
	@bash scripts/test.sh

# Heavy checks (long model runs, evaluation on the shipped model): separate from CI's suite.
test-heavy: setup
	@bash scripts/test.sh -m heavy

lint: setup
	@$(VENV)/bin/ruff check . && $(VENV)/bin/mypy

bench: setup
	@$(PY) -m models.evaluation.bench

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache artifacts
