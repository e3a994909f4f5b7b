# Quick start: `make demo` (train on the embedded default data, digits; then check the theory) and
# `make test`. Both create .venv and install what they need on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test theory clean

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -c constraints.txt -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/gankit train
	$(BIN)/gankit theory

theory: $(STAMP)
	$(BIN)/gankit theory --out runs/theory

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

clean:
	rm -rf runs .pytest_cache
