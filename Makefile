# quantlab: every target creates .venv and installs the package (with dev extras) on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 5006
# numba's on-disk cache keys a function on its own file only: a kernel inlined into another
# module would survive an edit. Every target uses this cache folder, emptied whenever any
# kernel source changes.
NUMBA_CACHE := .numba_cache
export NUMBA_CACHE_DIR := $(CURDIR)/$(NUMBA_CACHE)

.PHONY: setup test lint format reports lab dashboard bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NUMBA_CACHE)/.stamp: $(wildcard quantlab/kernels/*.py)
	rm -rf $(NUMBA_CACHE)
	mkdir -p $(NUMBA_CACHE)
	touch $@

setup: $(STAMP) $(NUMBA_CACHE)/.stamp

test: $(STAMP) $(NUMBA_CACHE)/.stamp
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q --durations=15

lint: $(STAMP) $(NUMBA_CACHE)/.stamp
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

reports: $(STAMP) $(NUMBA_CACHE)/.stamp
	$(BIN)/quantlab report

lab: $(STAMP) $(NUMBA_CACHE)/.stamp
	$(BIN)/jupyter lab notebooks/

dashboard: $(STAMP) $(NUMBA_CACHE)/.stamp
	$(BIN)/quantlab dashboard --port $(PORT)

bench: $(STAMP) $(NUMBA_CACHE)/.stamp
	$(BIN)/python benchmarks/bench_import.py
	@for f in benchmarks/bench_*.py; do [ "$$f" = benchmarks/bench_import.py ] || $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) $(NUMBA_CACHE) .pytest_cache .ruff_cache .hypothesis
