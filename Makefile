# The two commands of the README: `make run` and `make test`. Both create .venv and
# install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TSDB_URL ?= postgres://postgres@127.0.0.1:5433/eye
PLAIN_URL ?= postgres://postgres@127.0.0.1:5432/eye

.PHONY: run demo test test-timescaledb test-postgres lint format clean bench

run: $(VENV)/.installed
	$(BIN)/python -m eye.serve

# Loads a million realistic events into the running Eye (start it with `make run` first).
demo: $(VENV)/.installed
	$(BIN)/python manage.py load_demo_events $(DEMO_ARGS)

# The benchmark suite of issue 6: starts its own services, prints a report and writes
# bench/results/<time>.json. BENCH_ARGS=--quick for a short try (see python -m bench.run -h).
bench: $(VENV)/.installed
	$(BIN)/python -m bench.run $(BENCH_ARGS)

test: $(VENV)/.installed-test lint
	bash tests/services/local.sh
	bash tests/services/timescaledb.sh start
	bash tests/services/chromium.sh
	$(MAKE) --no-print-directory test-timescaledb test-postgres

# The whole suite on TimescaleDB (hypertable tests must run here) ...
test-timescaledb: $(VENV)/.installed-test
	EYE_DATABASE_URL=$(TSDB_URL) EYE_TIMESCALEDB=required EYE_TEST_EXPECT_TIMESCALEDB=1 \
		$(BIN)/pytest $(PYTEST_ARGS)

# ... and again on plain PostgreSQL, where the same migrations build a plain table.
test-postgres: $(VENV)/.installed-test
	EYE_DATABASE_URL=$(PLAIN_URL) EYE_TIMESCALEDB=auto EYE_TEST_EXPECT_TIMESCALEDB=0 \
		$(BIN)/pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "The Eye needs Python 3.11 or newer; set PYTHON=python3.12 or similar")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet ".[test]"
	$(BIN)/pip install --quiet -e client
	@touch $@ $(VENV)/.installed

clean:
	rm -rf $(VENV) build *.egg-info
