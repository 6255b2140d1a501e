# Set-up and everyday commands. Every target creates .venv and installs what it needs,
# so a fresh clone needs nothing but Python 3.11+ and make.

PYTHON ?= python3
VENV   ?= .venv
PY      = $(VENV)/bin/python
ARGS   ?=

.PHONY: run dashboard test lint bench clean

$(VENV)/bin/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed (set PYTHON=...)")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamps re-run the install whenever pyproject.toml changes.
$(VENV)/.installed: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/bin/python pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(PY) -m trader run $(ARGS)

# The read-only web dashboard on 127.0.0.1:8501 (ARGS="--port 8502"; README: reach it over SSH).
dashboard: $(VENV)/.installed
	$(PY) -m trader dashboard $(ARGS)

test: $(VENV)/.installed-dev
	$(PY) -m pytest $(ARGS)

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(VENV)/.installed-dev
	$(PY) bench/live_pipeline.py $(ARGS)
	$(PY) bench/backtest.py --pairs 1
	$(PY) bench/backtest.py --pairs 1 --no-trade
	$(PY) bench/backtest.py --pairs 10 --runs 1

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
