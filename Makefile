# The two commands of the README: `make run` and `make test`. Both create .venv and
# install what they need on first use.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TSDB_URL ?= postgres://postgres@127.0.0.1:5433/eye
PLAIN_URL ?= postgres://postgres@127.0.0.1:5432/eye

.PHONY: run demo test test-tracker test-timescaledb test-postgres lint format clean bench bench-scale constraints audit

run: $(VENV)/.installed
	$(BIN)/python -m eye.serve

# Loads a million realistic events into the running Eye (start it with `make run` first).
demo: $(VENV)/.installed
	$(BIN)/python manage.py load_demo_events $(DEMO_ARGS)

# The benchmark suite of issue 6: starts its own services, prints a report and writes
# bench/results/<time>.json. BENCH_ARGS=--quick for a short try (see python -m bench.run -h).
bench: $(VENV)/.installed
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Growth (up to 30 minutes): ingest and query latencies at 0, 10M and 30M events.
# BENCH_ARGS="--scale-sizes 0,1000000,3000000 --duration 10" for a shorter try.
bench-scale: $(VENV)/.installed
	$(BIN)/python -m bench.run --scale $(BENCH_ARGS)

test: $(VENV)/.installed-test lint
	bash tests/services/local.sh
	bash tests/services/timescaledb.sh start
	bash tests/services/chromium.sh
	$(MAKE) --no-print-directory --jobs=3 --output-sync=target test-tracker test-timescaledb test-postgres

# The browser tracker's own unit tests, with Node's built-in runner (no npm install).
test-tracker:
	node --test tracker/test/

# The suite on TimescaleDB (hypertable tests must run here) and again on plain PostgreSQL,
# where the same migrations build a plain table. Two groups run in one pass only: the
# browser's pages read through the selectors that tests/dashboard checks in both, so
# Chromium runs in the first; tests that start an Eye on a database of their own
# (own_database) would do the same in either, so they run in the second, which is the
# shorter without them. `make test` runs the passes at once: each has its own database
# server, Redis database and queue, and one pass alone leaves the machine idle much of
# the time while it waits on the servers and consumers it starts.
test-timescaledb: $(VENV)/.installed-test
	EYE_DATABASE_URL=$(TSDB_URL) EYE_TIMESCALEDB=required EYE_TEST_EXPECT_TIMESCALEDB=1 \
		EYE_REDIS_URL=redis://127.0.0.1:6379/15 EYE_QUEUE_NAME=eye-test-timescaledb \
		$(BIN)/pytest -m "not own_database" $(PYTEST_ARGS)

test-postgres: $(VENV)/.installed-test
	EYE_DATABASE_URL=$(PLAIN_URL) EYE_TIMESCALEDB=auto EYE_TEST_EXPECT_TIMESCALEDB=0 \
		EYE_REDIS_URL=redis://127.0.0.1:6379/14 EYE_QUEUE_NAME=eye-test-postgres \
		$(BIN)/pytest --ignore=tests/browser $(PYTEST_ARGS)

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

# Every install takes the exact versions of constraints.txt (see `make constraints`).
# The client too, so that .venv/bin/eye works right after `make run`, as the README shows.
$(VENV)/.installed: pyproject.toml client/pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt . -e client
	@touch $@

$(VENV)/.installed-test: pyproject.toml client/pyproject.toml constraints.txt | $(BIN)/python
	$(BIN)/pip install --quiet -c constraints.txt ".[test]" -e client
	@touch $@ $(VENV)/.installed

# Regenerates constraints.txt: the newest versions that the ranges of pyproject.toml and
# client/pyproject.toml allow, resolved in a throwaway virtualenv (so that nothing installed
# by hand gets in) on Python 3.11, the version of the image. Review the diff, run make test.
CONSTRAINTS_PYTHON ?= python3.11
constraints:
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	$(CONSTRAINTS_PYTHON) -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11) and "make constraints needs Python 3.11: set CONSTRAINTS_PYTHON")'; \
	$(CONSTRAINTS_PYTHON) -m venv "$$tmp/venv"; \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip; \
	"$$tmp/venv/bin/pip" install --quiet ".[test,bench]" -e client; \
	{ \
		echo "# Exact versions of everything that \`pip install \".[test,bench]\"\` and"; \
		echo "# \`pip install -e client\` install on Python 3.11: the Makefile and the Dockerfile install"; \
		echo "# with -c constraints.txt. pyproject.toml keeps the ranges; regenerate this file with"; \
		echo "#     make constraints"; \
		echo "# and check it with make audit (known vulnerabilities) and make test."; \
		"$$tmp/venv/bin/pip" freeze --exclude-editable | grep -viE '^(the-eye|eye-client) *(@|==)'; \
	} > "$$tmp/constraints.txt"; \
	mv "$$tmp/constraints.txt" constraints.txt; \
	echo "constraints.txt: $$(grep -c '==' constraints.txt) pins"

# Known vulnerabilities in the pinned versions, by pip-audit (in a virtualenv of its own,
# so that its dependencies stay out of the project's). A pin the vulnerability service
# cannot look up fails the audit too, so an unreachable service never reads as "no known
# vulnerabilities"; AUDIT_ARGS=--allow-unaudited (CI) turns that into a loud warning.
# PIP_AUDIT_ARGS="--vulnerability-service osv" asks OSV instead of PyPI.
AUDIT_VENV := $(VENV)/pip-audit
audit: constraints.txt | $(BIN)/python
	@test -x $(AUDIT_VENV)/bin/pip-audit || { $(PYTHON) -m venv $(AUDIT_VENV) && \
		$(AUDIT_VENV)/bin/pip install --quiet "pip-audit>=2.10,<3"; }
	$(AUDIT_VENV)/bin/pip-audit --requirement constraints.txt --no-deps --disable-pip \
		--progress-spinner off --format json --output $(VENV)/pip-audit.json $(PIP_AUDIT_ARGS)
	$(BIN)/python .ci/audit_verdict.py $(AUDIT_ARGS) < $(VENV)/pip-audit.json

clean:
	rm -rf $(VENV) build *.egg-info
