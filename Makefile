# Two commands for a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_INDEX ?= .demo-index
# make bench CORPUS=../shared/corpus/indosum-news.jsonl N=50000  (resampled to N articles)
CORPUS ?= seeds/
N ?= 0
RUNS ?= 3

.PHONY: demo test lint docs package install dev bench clean

# compileall: an editable install's modules are compiled once here, not at every
# start of `search` (where PYTHONDONTWRITEBYTECODE is set, imports never cache them).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q searchlib
	touch $@

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	$(BIN)/python -m compileall -q searchlib
	touch $(VENV)/.installed $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m compileall -q searchlib
	touch $(VENV)/.installed $@

install: $(VENV)/.installed

dev: $(VENV)/.installed-dev

demo: install
	$(BIN)/search --index $(DEMO_INDEX) index --rebuild seeds/
	$(BIN)/search --index $(DEMO_INDEX) stats
	$(BIN)/search --index $(DEMO_INDEX) "evakuasi Kabul"
	$(BIN)/search --index $(DEMO_INDEX) analyze "Kedutaan Besar Rusia di Kabul mengerahkan penerbangan evakuasi tambahan dari Afghanistan"

lint: dev
	$(BIN)/ruff check searchlib tests benchmarks docs
	$(BIN)/ruff format --check searchlib tests benchmarks docs
	$(BIN)/mypy

test: lint
	$(BIN)/python -m pytest -q
	$(MAKE) --no-print-directory docs package

# The documentation site, strict: a broken link, reference or page fails the build.
docs: dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

# The sdist and wheel, built from this tree and checked as PyPI would.
package: dev
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist . >/dev/null
	$(BIN)/twine check --strict dist/*

# searchlib against naive Whoosh, SQLite FTS5 and tantivy: build and query, side by side.
bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench_query.py --corpus $(CORPUS) --n $(N) --runs $(RUNS)

clean:
	rm -rf $(VENV) $(DEMO_INDEX) .pytest_cache .ruff_cache .hypothesis site dist
