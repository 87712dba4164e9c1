# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pytest-xdist workers: each test module runs whole on one worker (--dist loadfile), each worker with its own
# HUB_HOME (embedded PostgreSQL, Airflow metadata, dbt target, GX context); TEST_WORKERS=0 runs in one process
TEST_WORKERS ?= 2
STAMP := $(VENV)/.installed

.PHONY: demo test bench lint up down serve clean browser

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
	@command -v chromium >/dev/null || echo "note: the headless-browser tests will skip; \
	  \`make browser\` (as root: Debian's chromium + CJK fonts) makes them run"
	$(BIN)/python -m pytest -x -q -n $(TEST_WORKERS) --dist loadfile tests

# Debian's chromium for tests/quality/test_pages_in_browser.py (Playwright's own download cannot work offline)
browser:
	apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk

bench: $(STAMP)
	$(BIN)/hub bench

up: $(STAMP)
	$(BIN)/hub up

# every Airflow component on the embedded stack until Ctrl-C or `make down` (README: "Run it as a service").
# A demo of the service: every extract every EXTRACT_EVERY minutes (staggered per feed), so that with
# `hub simulate --live` beside it a new version is published every few minutes; `make serve EXTRACT_EVERY=`
# keeps the contract's schedules (hourly databases and API, nightly files) as production does
EXTRACT_EVERY ?= 5
serve: $(STAMP)
	$(BIN)/hub serve $(if $(EXTRACT_EVERY),--extract-every $(EXTRACT_EVERY))

down: $(STAMP)
	$(BIN)/hub down

clean:
	-$(BIN)/hub down
	rm -rf .hub
