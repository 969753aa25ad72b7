# Two commands: `make reproduce` (the pipeline) and `make test` (the suite).
# Both create .venv from requirements.lock on first use. Override the interpreter with PYTHON=...
PYTHON ?= python3.12
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STUDY  ?= studies/recovery.yaml
export PATH := $(CURDIR)/$(BIN):$(PATH)
# JAX must see one host device per chain before it is imported (numpyro runs chains in parallel).
export XLA_FLAGS ?= --xla_force_host_platform_device_count=4
export MPLBACKEND ?= Agg

.PHONY: reproduce test test-slow lint bench bench-bayesian clean-venv help

help:
	@echo "make reproduce   create .venv (pinned), run the DVC pipeline (dvc repro)"
	@echo "make test        create .venv (pinned), run the fast test suite"
	@echo "make test-slow   run the slow parameter-recovery tests"
	@echo "make bench       benchmark the frequentist objective (prints speed ratios)"
	@echo "make bench-bayesian  benchmark numpyro vs nutpie vs pymc samplers (~10 min)"
	@echo "make lint        ruff check + format check"

$(STAMP): requirements.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: '$(PYTHON)' not found. Install Python 3.12 (pyenv install 3.12 | conda env create -f environment.yml | apt-get install python3.12) or run: make PYTHON=/path/to/python3.12"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' || { echo "error: '$(PYTHON)' is not Python 3.12 (PyMC-Marketing 1.x needs >= 3.12; the lock is for 3.12). Run: make PYTHON=/path/to/python3.12"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

reproduce: $(STAMP)
	$(BIN)/dvc repro

test: $(STAMP)
	$(BIN)/python -m pytest

test-slow: $(STAMP)
	$(BIN)/python -m pytest -m slow

bench: $(STAMP)
	$(BIN)/python scripts/bench_frequentist.py

bench-bayesian: $(STAMP)
	$(BIN)/python scripts/bench_bayesian.py

lint: $(STAMP)
	$(BIN)/ruff check src tests notebooks scripts reports
	$(BIN)/ruff format --check src tests notebooks scripts reports

clean-venv:
	rm -rf $(VENV)
