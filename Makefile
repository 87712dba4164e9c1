# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint up down clean

$(STAMP): requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==0.13.9
	$(BIN)/uv pip install --quiet --python $(BIN)/python -r requirements.lock
	$(BIN)/uv pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/hub demo

test: $(STAMP)
	$(BIN)/ruff check src dags tests $(wildcard plugins)
	$(BIN)/python -m pytest -x -q tests

bench: $(STAMP)
	$(BIN)/hub bench

up: $(STAMP)
	$(BIN)/hub up

down: $(STAMP)
	$(BIN)/hub down

clean:
	-$(BIN)/hub down
	rm -rf .hub
