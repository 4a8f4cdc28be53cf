# Two commands: `make run` and `make test`. Everything installs into .venv.
# `make test-fast`: the unit and integration tests alone (no process started), in about two minutes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# axe-core for the browser tests' accessibility checks (tests/e2e inject it into the pages).
NPM_STAMP := node_modules/.installed

.PHONY: install run test test-fast lint format bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

$(NPM_STAMP): package-lock.json
	npm ci --no-audit --no-fund
	touch $(NPM_STAMP)

install: $(STAMP) $(NPM_STAMP)

# The stack needs no npm: axe-core is for the browser tests only.
run: $(STAMP)
	$(BIN)/python -m proctoring_site.devstack

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports --no-cache
	DJANGO_DEBUG=true $(BIN)/mypy .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Two pytest processes (pytest-xdist), each with its own redis-server, database and ports: most
# of the suite's time is real processes waiting on real clocks (backoffs, outages, failovers),
# and the rest is CPU for the two cores. TEST_PROCESSES=0 runs everything in one process.
TEST_PROCESSES ?= 2

test: install lint
	$(BIN)/python -m pytest -n $(TEST_PROCESSES)

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) tests/unit tests/integration

bench: install
	$(BIN)/python bench/gateway_load.py

clean:
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
