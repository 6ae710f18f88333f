# jaxdiv: `make demo` sets up and runs the demo study; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: setup apt venv demo test bench lint

setup: apt venv

apt:
	bash scripts/install_apt.sh

venv: $(BIN)/jaxdiv

$(BIN)/jaxdiv: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

demo: setup
	$(BIN)/jaxdiv demo

test: setup
	$(BIN)/python -m pytest -q

bench: setup
	$(BIN)/python bench/data_pipeline.py

lint: venv
	$(BIN)/ruff check jaxdiv tests bench
