# quantlab: every target creates .venv and installs the package (with dev extras) on first use.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
PORT   ?= 5006

.PHONY: setup test lint format reports lab dashboard bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

reports: $(STAMP)
	$(BIN)/quantlab report

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks/

dashboard: $(STAMP)
	$(BIN)/quantlab dashboard --port $(PORT)

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_import.py
	@for f in benchmarks/bench_*.py; do [ "$$f" = benchmarks/bench_import.py ] || $(BIN)/python $$f; done

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
