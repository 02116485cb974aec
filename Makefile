# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_INDEX ?= .demo-index

.PHONY: demo test lint install dev bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/search --index $(DEMO_INDEX) index --rebuild seeds/
	$(BIN)/search --index $(DEMO_INDEX) stats
	$(BIN)/search --index $(DEMO_INDEX) "evakuasi Kabul"
	$(BIN)/search --index $(DEMO_INDEX) analyze "Kedutaan Besar Rusia di Kabul mengerahkan penerbangan evakuasi tambahan dari Afghanistan"

lint: dev
	$(BIN)/ruff check searchlib tests benchmarks
	$(BIN)/ruff format --check searchlib tests benchmarks

test: lint
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/bench_analyze.py

clean:
	rm -rf $(VENV) $(DEMO_INDEX) .pytest_cache .ruff_cache .hypothesis
