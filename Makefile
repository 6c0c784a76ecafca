# Quick start: `make demo` (set up and run the showcase) and `make test` (set up and pass the tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test bench setup setup-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

setup: $(BIN)/python
	$(BIN)/pip install --quiet -e .

setup-dev: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: setup
	cd examples && ../$(BIN)/noodle run showcase.nd

test: setup-dev
	$(BIN)/python -m pytest -n 2 -q

bench: setup-dev
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) build *.egg-info
	find . -name __noodlecache__ -type d -prune -exec rm -rf {} +
