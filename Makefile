# Local development and CI entry points (DESIGN.md section 10). No Docker: Kafka runs from Maven Central
# jars with the machine's JDK 17, PostgreSQL from Debian's server binaries, all state under .state/.
#
#   make up          venv, Kafka + PostgreSQL + topics, all services; prints the URLs
#   make down        stops everything `make up` started
#   make test        venv, infrastructure, lint, type check, the whole test suite (what CI runs)
#   make help        all targets
#
# `make test` and `make bench` use KAFKA_BOOTSTRAP / DATABASE_URL when the caller sets them (environment
# or make command line) and then start no local Kafka / PostgreSQL; otherwise they start the local ones.
# They never stop infrastructure: it stays up for the next run (`make down` stops it). In CI the machine
# is discarded afterwards, so nothing is left behind there either.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

VENV := .venv
PY := $(VENV)/bin/python
# The stamp records that `pip install` ran against the current pyproject.toml and requirements.lock.
VENV_STAMP := $(VENV)/.psync-installed
# Every dependency, transitive ones included, pinned; generated from pyproject.toml by `make lock`.
LOCK := requirements.lock
# The lock's generator (a tool of `make lock` only, so not a dependency of the project).
UV_VERSION := 0.13.8

# The local infrastructure's addresses (fixed ports, see deploy/local/*.sh).
LOCAL_KAFKA_BOOTSTRAP := 127.0.0.1:19092
LOCAL_DATABASE_URL := postgresql://psync:psync@127.0.0.1:55432/psync
LOCAL_ENV := KAFKA_BOOTSTRAP=$(LOCAL_KAFKA_BOOTSTRAP) DATABASE_URL=$(LOCAL_DATABASE_URL)
# For test/bench: the caller's value when set, else the local one (evaluated by the recipe's shell).
# Bytecode is written even when the caller's environment says not to (PYTHONDONTWRITEBYTECODE, as on the
# development machine): without it every pytest process rewrites and compiles its plugins (schemathesis,
# hypothesis) and all test modules again, 9.3 s instead of 5.2 s CPU for one collection of the suite.
TEST_ENV := KAFKA_BOOTSTRAP="$${KAFKA_BOOTSTRAP:-$(LOCAL_KAFKA_BOOTSTRAP)}" \
	DATABASE_URL="$${DATABASE_URL:-$(LOCAL_DATABASE_URL)}" PYTHONDONTWRITEBYTECODE=

# Processes per consumer service for `make up` (they share one consumer group, up to 12 each); the
# defaults (2 mappers, 1 of every other service) are deploy/local/services.sh's DEFAULT_REPLICAS, and a
# variable given on make's command line reaches the script (and `make bench`) as it is:
#   make up MAPPER_REPLICAS=3 PUSHER_REPLICAS=2

# The encryption keys of benchmark processes: the caller's, else the random ones `make up` keeps in
# .state/keys/ (services refuse the public development keys; the tests set their own in tests/conftest.py).
KEYS_ENV := PSYNC_CREDENTIALS_KEY="$${PSYNC_CREDENTIALS_KEY:-$$(bash -c 'source deploy/local/lib.sh && secret_key credentials-key')}" \
	CONSOLE_SERVICE_KEYS_KEY="$${CONSOLE_SERVICE_KEYS_KEY:-$$(bash -c 'source deploy/local/lib.sh && secret_key console-service-keys-key')}"

TYPED_DIRS := libs services schemas tests
PYTEST_ARGS ?=
# `make test` runs pytest in 4 worker processes (pytest-xdist), which overlaps the waits on service
# processes, Kafka and PostgreSQL (on 2 cores the suite waits more than it computes: 2 workers 265 and
# 301 s, 3 workers 225 and 275 s, fresh clones of 604bfc9 / cb643aa, 2026-12-03; then two alternating
# pairs on the shared development machine at load 5 to 10, 2026-12-03 21:24-21:40, all 2,164 passed each
# time: 3 workers 210.8 and 236.2 s, 4 workers 197.0 and 225.7 s, each 4-worker run 10 to 12 s more CPU,
# its fourth collection of the suite among it). Each worker has a topic namespace of its own on the
# shared Kafka (PSYNC_TOPIC_PREFIX=test-gw0., test-gw1., ..., tests/topic_namespace.py), so the workers'
# stacks of service processes never consume each other's tenants' events; tests/conftest.py hands out
# whole test modules (the browser, end-to-end and fuzzing packages whole), the longest first.
# PYTEST_WORKERS=0 runs one process (namespace test-main.).
PYTEST_WORKERS ?= 4

.PHONY: help venv lock infra-up infra-down up down status test test-infra nightly faults lint format schemas \
	sandbox bench clean-state chromium screenshots

help:
	@echo "make up           start Kafka, PostgreSQL, topics and all services (from a fresh clone);"
	@echo "                  MAPPER_REPLICAS=N / PUSHER_REPLICAS=N run N processes of mapper / pusher (2 / 1)"
	@echo "make down         stop everything make up started"
	@echo "make status       what is running"
	@echo "make test         infra (unless KAFKA_BOOTSTRAP/DATABASE_URL are set), lint, mypy, pytest"
	@echo "make nightly      the long test runs make test leaves out (crash runs of 100,000 records)"
	@echo "make faults       the fault report: crashes and outages during imports -> bench-results/faults.json"
	@echo "make lint         ruff check, ruff format --check, mypy"
	@echo "make format       ruff format and ruff check --fix"
	@echo "make infra-up     Kafka + PostgreSQL + topics only;  make infra-down  stops them"
	@echo "make schemas      export the event JSON Schemas, the AsyncAPI and the OpenAPI documents"
	@echo "make sandbox      run the Pipedrive sandbox in the foreground"
	@echo "make bench        run bench/bench_*.py, JSON reports into bench-results/"
	@echo "make venv         create/update .venv (pinned by requirements.lock)"
	@echo "make chromium     install Debian's chromium for the browser tests (as root, when missing)"
	@echo "make screenshots  run the browser tests and write the console's screenshots to docs/screenshots/"
	@echo "make lock         regenerate requirements.lock from pyproject.toml (after changing a dependency)"
	@echo "make clean-state  stop everything and delete .state/ (Kafka and PostgreSQL data, logs)"

# ---- virtualenv -------------------------------------------------------------------------------------

venv: $(VENV_STAMP)

# Re-runs whenever pyproject.toml (or requirements.lock) is newer than the stamp. Debian's python3
# lacks ensurepip until python3-venv is installed; as root we install it rather than fail.
$(VENV_STAMP): pyproject.toml $(LOCK)
	@if [ ! -x $(PY) ]; then \
		echo "creating $(VENV)"; \
		if ! python3 -m venv $(VENV); then \
			rm -rf $(VENV); \
			if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
				DEBIAN_FRONTEND=noninteractive apt-get update -q && \
				DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv; \
				python3 -m venv $(VENV); \
			else \
				echo "python3 -m venv failed: install python3-venv" >&2; exit 1; \
			fi; \
		fi; \
	fi
	$(PY) -m pip install -q --disable-pip-version-check -e '.[dev]' -c $(LOCK)
	@touch $@

# requirements.lock: pyproject.toml's dependencies (runtime and the dev extra) with every transitive one
# pinned, resolved for Python 3.11 and later on any platform (--universal), so the Dockerfile's image and
# the venv install the same versions. Needs only python3 and PyPI: uv is installed into .venv on demand.
# It does not depend on `venv`: that would install against the old lock first.
lock:
	@test -x $(PY) || python3 -m venv $(VENV)
	@test -x $(VENV)/bin/uv && [ "$$($(VENV)/bin/uv --version)" = "uv $(UV_VERSION)" ] \
		|| $(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--custom-compile-command 'make lock' --quiet -o $(LOCK)

# ---- the browser of the console's tests -------------------------------------------------------------

# Debian's chromium, driven by Playwright for Python with executable_path (never `playwright install`,
# which downloads a browser build of its own).
CHROMIUM := /usr/bin/chromium

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
			DEBIAN_FRONTEND=noninteractive apt-get update -q && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
		else \
			echo "$(CHROMIUM) missing: install Debian's chromium package (apt-get install chromium)" >&2; exit 1; \
		fi; \
	fi

# ---- infrastructure ---------------------------------------------------------------------------------

# Always the local infrastructure, whatever KAFKA_BOOTSTRAP / DATABASE_URL say.
infra-up: venv
	deploy/local/postgres.sh start
	deploy/local/kafka.sh start
	$(LOCAL_ENV) $(PY) deploy/local/create_topics.py

infra-down:
	deploy/local/kafka.sh stop
	deploy/local/postgres.sh stop

# Infrastructure for test/bench: start locally only what the caller did not point us at. Topics are
# created on whichever Kafka is used (idempotent), since the services and tests expect them.
# TEST_KAFKA_JVM_OPTS: more JVM options for a broker started here (deploy/local/kafka.sh's
# KAFKA_JVM_EXTRA_OPTS; the caller's KAFKA_JVM_EXTRA_OPTS, when set, wins). Empty but for `make test`.
TEST_KAFKA_JVM_OPTS :=
test-infra: venv
	@if [ -z "$${DATABASE_URL:-}" ]; then deploy/local/postgres.sh start; \
	else echo "using the caller's DATABASE_URL; not starting local PostgreSQL"; fi
	@if [ -z "$${KAFKA_BOOTSTRAP:-}" ]; then \
		KAFKA_JVM_EXTRA_OPTS="$${KAFKA_JVM_EXTRA_OPTS-$(TEST_KAFKA_JVM_OPTS)}" deploy/local/kafka.sh start; \
	else echo "using the caller's KAFKA_BOOTSTRAP=$$KAFKA_BOOTSTRAP; not starting local Kafka"; fi
	$(TEST_ENV) $(PY) deploy/local/create_topics.py

# ---- the running system -----------------------------------------------------------------------------

# The Pipedrive sandbox (demo data) starts with the services; then the demo tenant is connected to it and
# a stream of demo reveal events starts (deploy/local/demo.py).
up: infra-up
	$(LOCAL_ENV) deploy/local/services.sh start
	$(LOCAL_ENV) $(PY) deploy/local/demo.py setup
	$(LOCAL_ENV) deploy/local/demo-reveals.sh start
	@echo
	@echo "Kafka:      $(LOCAL_KAFKA_BOOTSTRAP)"
	@echo "PostgreSQL: $(LOCAL_DATABASE_URL)"
	@$(LOCAL_ENV) deploy/local/services.sh status
	@echo "Logs:       .state/logs/    stop with: make down"
	@echo
	@echo "Console:    http://127.0.0.1:8080/  sign in as $$(cut -d' ' -f1 .state/console-login), password: $$(cut -d' ' -f2 .state/console-login)  (kept in .state/console-login)"
	@echo "Sandbox:    http://127.0.0.1:8765/  (API token and OAuth client: .state/logs/pipedrive_sandbox.log)"
	@echo "Demo:       tenant demo, API key in .state/demo-api-key; reveals stream into abm.* every 3 s"

# Stops services first (they hold Kafka and PostgreSQL connections), then the infrastructure.
down:
	deploy/local/demo-reveals.sh stop
	deploy/local/services.sh stop
	deploy/local/kafka.sh stop
	deploy/local/postgres.sh stop

# Informational: always succeeds (each script's own exit status says "not running").
status:
	@deploy/local/postgres.sh status || true
	@deploy/local/kafka.sh status || true
	@deploy/local/services.sh status || true

# ---- checks -----------------------------------------------------------------------------------------

lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(TYPED_DIRS)

format: venv
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

# The CI entry point (.ci/run). Leaves the local infrastructure running (see the top of this file).
# A broker `make test` starts (a fresh clone, CI) compiles with the JIT's first tier only: over a whole
# run a freshly started broker's compiler threads used 26.9 s of its 58.8 s of CPU (C2 23.7 s; 2026-12-03,
# 2,056 tests, -n 2), CPU the 2 cores' test processes wait for, and C1's code serves the tests for less
# in all. Two fresh brokers started together, the same 23 tests (mapper crash, stream runner, sync runs)
# run against each at once: 11.3 s of CPU to start and 30.1 s for the tests with both tiers, 5.7 s and
# 11.3 s with C1 only (its request threads 3.6 s against 4.5 s). deploy/local/kafka.sh starts every
# broker so since 2026-12-03 (`make up` and `make bench` too; docs/operations.md, the servers' own
# settings), so this only repeats it.
test: TEST_KAFKA_JVM_OPTS := -XX:TieredStopAtLevel=1
test: venv chromium test-infra
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy $(TYPED_DIRS)
	$(TEST_ENV) $(VENV)/bin/pytest -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

# The long runs `make test` keeps short: the mapper's SIGKILL-in-an-import test at 100,000 records (CI
# runs it at 10,000).
nightly: venv test-infra
	$(TEST_ENV) PSYNC_CRASH_RECORDS=100000 $(VENV)/bin/pytest $(PYTEST_ARGS) \
		tests/integration/mapper/test_mapper_crash.py

# The fault report (bench-results/faults.json, shown in README): services killed, PostgreSQL and Kafka
# crashed during imports of 100,000 records, on private servers on loopback (the shared ones are never
# stopped). Each scenario is bounded (2 h); with 10,000 records the whole run took 25 minutes on 2 shared
# cores; with 100,000 a service killed three times took 3 to 5 minutes to finish there (5 to 7 per test).
# PSYNC_FAULT_RECORDS and PSYNC_FAULT_OUTAGE_S scale it; PSYNC_FAULT_CHURN_S the two-way churn (600 s).
faults: venv test-infra
	$(TEST_ENV) PSYNC_FAULTS=1 $(VENV)/bin/pytest tests/faults $(PYTEST_ARGS)

# The browser tests write each page at 1280 and 390 px wide when PSYNC_SCREENSHOTS_DIR is set.
screenshots: venv chromium test-infra
	$(TEST_ENV) PSYNC_SCREENSHOTS_DIR=docs/screenshots $(VENV)/bin/pytest tests/browser -q

# ---- other entry points -----------------------------------------------------------------------------

schemas: venv
	$(PY) -m schemas.export
	$(PY) -m openapi_docs

sandbox: venv
	$(PY) -m pipedrive_sandbox

# Every benchmark runs even when one fails; the target fails at the end if any did.
bench: venv test-infra
	@mkdir -p bench-results
	@shopt -s nullglob; files=(bench/bench_*.py); failed=(); \
	if [ $${#files[@]} -eq 0 ]; then echo "no bench/bench_*.py found"; exit 1; fi; \
	for f in "$${files[@]}"; do \
		echo "== $$f"; \
		$(TEST_ENV) $(KEYS_ENV) $(PY) "$$f" || failed+=("$$f"); \
	done; \
	if [ $${#failed[@]} -gt 0 ]; then echo "failed: $${failed[*]}" >&2; exit 1; fi; \
	echo "results in bench-results/"

clean-state: down
	rm -rf .state
