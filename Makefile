# The whole set-up on a fresh machine is `make run` or `make test`:
# both create .venv and install the project into it when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test test-all bench lint clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install -e '.[dev]'
	touch $(STAMP)

run: install
	$(BIN)/python -m llmhpo.run experiment=quickstart

test: install
	$(BIN)/python -m pytest

test-all: install
	$(BIN)/python -m pytest -m 'not gpu'

bench: install
	$(BIN)/python scripts/bench_toy.py

lint: install
	$(BIN)/ruff check src scripts tests

clean:
	rm -rf $(VENV) outputs multirun
