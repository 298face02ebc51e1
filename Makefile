# The two commands: `make run` starts the gateway, `make test` runs the whole suite.
# Both set up everything they need on a machine with only python3, git and make.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install -q --disable-pip-version-check
CKSUM := $(shell cat pyproject.toml setup.py | cksum | cut -d' ' -f1)
# `make run` needs the runtime dependencies only; `make test` adds the dev ones (linters, browser
# driver, SDK test tools), which would make a first `make run` several times slower.
RUN_STAMP := $(VENV)/.runtime-$(CKSUM)
STAMP := $(VENV)/.installed-$(CKSUM)

.PHONY: run test lint typecheck pytest bench clean

$(RUN_STAMP): pyproject.toml setup.py
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "the gateway needs Python 3.11 or newer; run: make PYTHON=python3.11 ...")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	rm -f $(VENV)/.runtime-*
	touch $(RUN_STAMP)

$(STAMP): $(RUN_STAMP)
	$(PIP) -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

run: $(RUN_STAMP)
	$(BIN)/gateway serve --config config.toml

test: $(STAMP) lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check gateway plugins tests bench

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP)
	$(BIN)/python tests/setup_machine.py
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Deletes the virtualenvs AND data/ (the durable log and the sqlite sink's events, with the default config).
clean:
	rm -rf $(VENV) .venv-sdks .npm-sdks data
