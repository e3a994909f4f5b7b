# Quick start: `make demo` (train on the embedded default data, digits; then check the theory) and
# `make test`. Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-quick lint browser theory clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gankit train
	$(BIN)/gankit theory

theory: $(STAMP)
	$(BIN)/gankit theory --out runs/theory

test: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q

# The quick subset (under a minute on 2 cores): every test file, without the tests marked slow in
# tests/conftest.py (training runs, subprocesses, cache rebuilds); `make test` runs them all.
test-quick: $(STAMP) browser
	$(BIN)/python -m pytest -n 2 -q -m "not slow"

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy

# The report's browser tests open pages in Debian's chromium; install it when missing and possible
# (root with apt-get), else they are skipped and this says why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium; \
	  else echo "make: chromium is not installed (needs root and apt-get); the report's browser tests will be skipped"; fi; }

clean:
	rm -rf runs .pytest_cache
