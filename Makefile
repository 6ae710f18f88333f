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

# One pytest worker per core, a test file per worker (module fixtures are built once). From a fresh clone
# with empty caches (HOME pointed at an empty folder), set-up included: 5 min 51 s on a 2-core AMD EPYC
# with nothing else running (152 passed in 5:02). `-m slow` runs the heavier variants and end-to-end
# checks (.ci/run runs both). The persistent XLA cache (~/.cache/jaxdiv-test-xla) makes reruns faster.
test: setup
	$(BIN)/python -m pytest -q -n auto --dist loadfile --durations=15

bench: setup
	$(BIN)/pip install -q -e '.[bench]' --extra-index-url https://download.pytorch.org/whl/cpu
	$(BIN)/python bench/data_pipeline.py
	$(BIN)/python bench/probes.py
	$(BIN)/python -m bench.jpeg_pipeline
	$(BIN)/python -m bench.train_resnet --widths 64 8
	$(BIN)/python -m bench.multi_run --runs 1 4 8 16 --width 8

lint: venv
	$(BIN)/ruff check jaxdiv tests bench configs scripts
