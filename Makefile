# Two commands: `make reproduce` (the pipeline) and `make test` (the suite).
# Both create .venv from requirements.lock on first use. Override the interpreter with PYTHON=...
PYTHON ?= python3.12
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
export PATH := $(CURDIR)/$(BIN):$(PATH)
# JAX must see one host device per chain before it is imported (numpyro runs chains in parallel).
export XLA_FLAGS ?= --xla_force_host_platform_device_count=4
export MPLBACKEND ?= Agg
# test processes `make test` runs at once (pytest-xdist, whole modules each: a module-scoped
# fixture is built once); each holds PyMC and JAX (~2-3 GB)
TEST_WORKERS ?= 2

# `make audit`: which study's committed records, how many to refit, and the sample's seed
STUDY ?= studies/recovery.yaml
N     ?= 20
SEED  ?= 1
# `make reproduce-all`: a Dask scheduler (tcp://host:port) to run the refits on; empty: local
SCHEDULER ?=

.PHONY: help reproduce reproduce-full reproduce-all audit export verify test browser test-slow lint typecheck check hooks bench bench-bayesian clean-venv

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'

$(STAMP): requirements.lock requirements-dev.lock pyproject.toml
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "error: '$(PYTHON)' not found. Install Python 3.12 (pyenv install 3.12 | conda env create -f environment.yml | apt-get install python3.12) or run: make PYTHON=/path/to/python3.12"; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 12) else 1)' || { echo "error: '$(PYTHON)' is not Python 3.12 (PyMC-Marketing 1.x needs >= 3.12; the lock is for 3.12). Run: make PYTHON=/path/to/python3.12"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.lock -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

reproduce: $(STAMP) ## create .venv (pinned) and run the DVC pipeline (dvc repro)
	$(BIN)/python -m mmm_recovery.core.sources --write || test $$? -eq 1  # 1: deps rewritten
	$(BIN)/dvc repro

reproduce-full: $(STAMP) ## the full study (studies/full.yaml; hours, resumable): reports/metrics/full/
	$(BIN)/python -m mmm_recovery.reporting.notebook notebooks/04_study.py \
		data/full/notebooks/04_study.ipynb -p study studies/full.yaml \
		-p metrics_dir reports/metrics/full -p data_root data/full
	$(BIN)/python -m mmm_recovery.evaluation.aggregate studies/full.yaml reports/metrics/full

reproduce-all: $(STAMP) ## refit every study fit from scratch (no archive; SCHEDULER=tcp://...), then verify
	$(BIN)/python -m mmm_recovery study run $(STUDY) --out data/refit --no-archive --no-reports \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER))
	$(BIN)/python -m mmm_recovery verify --metrics-dir data/refit/metrics

audit: $(STAMP) ## refit N committed records (sample seed SEED) and compare: make audit SEED=7 N=20
	$(BIN)/python -m mmm_recovery study audit $(STUDY) --seed $(SEED) -n $(N)

export: $(STAMP) ## add the finished study records to records/ (commit them): make export STUDY=...
	$(BIN)/python -m mmm_recovery study export $(STUDY) \
		$(if $(filter studies/full.yaml,$(STUDY)),--data-root data/full)

verify: $(STAMP) ## compare reproduced metrics with the committed ones (Monte Carlo error)
	$(BIN)/python -m mmm_recovery.evaluation.verify

test: $(STAMP) browser ## create .venv (pinned) and run the fast test suite (TEST_WORKERS processes)
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadscope

test-slow: $(STAMP) ## run the slow parameter-recovery tests
	$(BIN)/python -m pytest -m slow

bench: $(STAMP) ## benchmark the frequentist objective (ratios; writes docs/benchmarks/)
	$(BIN)/python scripts/bench_frequentist.py

bench-bayesian: $(STAMP) ## benchmark numpyro vs nutpie vs pymc (~10 min; writes docs/benchmarks/)
	$(BIN)/python scripts/bench_bayesian.py

browser: ## install Debian's Chromium for the report browser test, where absent and possible
	@scripts/install_browser.sh

lint: $(STAMP) ## ruff check + format check
	$(BIN)/ruff check src tests notebooks scripts reports
	$(BIN)/ruff format --check src tests notebooks scripts reports

typecheck: $(STAMP) ## mypy on src/ (core and families fully typed)
	$(BIN)/mypy

check: lint typecheck test ## what CI runs: lint, type check, fast tests

hooks: $(STAMP) ## install the pre-commit hooks (ruff, yaml/toml, large files, schema, mypy)
	$(BIN)/pre-commit install

clean-venv: ## remove .venv
	rm -rf $(VENV)
