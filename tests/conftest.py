"""Where the integration tests find real Kafka and PostgreSQL, and the secret keys they run with.

Keys: services refuse to start without keys of their own (or local mode). The one place the tests get
theirs is `_TEST_KEYS` below: random keys for the session, set in the environment unless the caller set
them, so every settings object built in a test and every service process a test starts share them.

1. `KAFKA_BOOTSTRAP` / `DATABASE_URL` set (what `make test` and CI do): those are used.
2. Otherwise, when a Docker engine answers: testcontainers starts both for the session.
3. Otherwise the integration tests are skipped with the reason; but under CI (`CI=true`) a missing or
   unreachable service is an error, never a skip.

Topics: each test process (each xdist worker) has a topic namespace of its own (tests/topic_namespace.py);
the first test that needs Kafka creates the registry's topics in it.
"""

from __future__ import annotations

import asyncio
import gc
import os
import secrets
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from aiokafka.admin import AIOKafkaAdminClient

from postgres_store.pool import create_pool
from schemas.topics import ALL_TOPICS
from stream_runner.topic_admin import create_topics
from tests.docker_engine import docker_engine_available
from tests.topic_namespace import NAMESPACE

pytest_plugins = ["tests.hang_report"]

# The cyclic garbage collector paused while pytest imports and collects the test modules, then everything
# alive moved out of its generations (`pytest_collection_finish`). Collecting the suite allocates a heap
# of modules, classes and items that live as long as the test process; the collector's full collections
# scanned it again and again (gc.callbacks over `pytest --collect-only tests`: 7 full collections,
# 0.6 s of 3.9 s CPU; each of `make test`'s processes collects the suite), and afterwards every full
# collection during the run would scan it again.
gc.disable()


def pytest_collection_finish(session: pytest.Session) -> None:
    """The test modules and items collected: freeze what is alive and start the collector again."""
    gc.freeze()
    gc.enable()


IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_TEST_KEYS = ("PSYNC_CREDENTIALS_KEY", "CONSOLE_SERVICE_KEYS_KEY")
for _name in _TEST_KEYS:
    os.environ.setdefault(_name, secrets.token_hex(32))
_REACH_DEADLINE_S = 60.0
# How `make test` spreads the tests over its xdist workers (`pytest -n 4`). Each worker has a topic namespace
# of its own (tests/topic_namespace.py), so the stacks of service processes the workers run at once never
# see each other's events. A unit of work goes to one worker as a whole: a package whose tests share one
# stack (package-scoped fixtures) is one unit, every other test module one unit (its module-scoped stacks
# start once). The longest units go first, then those that start service processes or servers, so that
# the last units handed out are short. (xdist's own `--dist loadgroup` marks do not work with pytest 9:
# xdist 3.8 renames `item._nodeid`, which pytest 9 no longer reads.) The fuzzing package is one unit too:
# its first test in a process pays for loading schemathesis and for the fixtures' served mapper and
# sandbox (alone: auditlog 14.2 s and mapper and pusher 12.7 s, 5.6 and 9.3 s after the connector's in
# one process; the three modules 31.3 s of CPU one process each, 21.4 s in one, 2026-12-03 at load 7).
_ONE_WORKER_PACKAGES = ("browser", "end_to_end", "fuzz")
# The longest units, longest first (the order matters, the figures are a guide): handed out before all
# others, so that the last units handed out are short and the workers finish together (longest
# processing time first). Seconds of each unit in a run with three workers on the shared 2-core
# development machine, 2026-12-03 evening, two runs: at load 14 to 17 (every unit, 685 s in all) / at
# load 8 to 11 (the browser tests skipped, 502 s): fuzzing 182 / 118, browser 151 / -, end to end 104 /
# 76, the Kafka outage 82 / 78, sync runs 62 / 62, the PostgreSQL outage 52 / 52, crash-resume 44 / 54,
# mapper crash 57 / 35, the pusher killed after each create 49 / 40, crash recovery 41 / 43, mapper
# scale-out 45 / 35, service lifecycle 40 / 32, the two-way run 41 / 22, the mapper service 33 / 28,
# secret keys at start 23 / 27, the domain rules' property tests 28 / 21, the sandbox's list parameters
# 25 / 22, the local scripts 23 / 20, the activity-log flow 23 / 19, planted token 24 / 18, the console
# users command 16 / 22, apply runs 20 / 18, key rotation 17 / 21, churn 20 / 17, service start imports
# 21 / 14, topic namespaces 20 / 16, two mapper processes 18 / 17, the scheduler 19 / 15, the
# Kubernetes manifests 21 / 10, filter round trips 13 / 11, without rich 13 / 6; every other unit 18 s
# or less at load 14 to 17. The three unit-test modules among them were handed out last before (the
# unit package goes last) and ended the run on their workers.
_LONGEST_UNITS = (
    "browser",
    "end_to_end",
    "fuzz",
    "tests/outages/test_kafka_outage.py",
    "tests/integration/connector/test_sync_runs.py",
    "tests/outages/test_postgres_outage.py",
    "tests/integration/connector/test_crash_resume.py",
    "tests/integration/mapper/test_mapper_crash.py",
    "tests/integration/pusher/test_pusher_service.py",
    "tests/integration/test_crash_recovery.py",
    "tests/integration/mapper/test_mapper_scale_out.py",
    "tests/integration/test_service_lifecycle.py",
    "tests/integration/pusher/test_two_way_run.py",
    "tests/integration/mapper/test_mapper_service.py",
    "tests/integration/test_secret_keys_at_start.py",
    "tests/unit/sync_rules/test_domains.py",
    "tests/sandbox/test_list_parameters.py",
    "tests/infra/test_local_scripts.py",
    "tests/integration/test_activity_log_flow.py",
    "tests/integration/connector/test_planted_token.py",
    "tests/integration/tenant_auth/test_console_users_command.py",
    "tests/integration/mapper/test_apply_runs_service.py",
    "tests/integration/connector/test_credentials_key_rotation.py",
    "tests/integration/connector/test_churn.py",
    "tests/unit/test_service_start_imports.py",
    "tests/integration/test_topic_namespaces.py",
    "tests/integration/mapper/test_two_mapper_processes_one_domain.py",
    "tests/integration/connector/test_scheduler.py",
    "tests/deploy/test_kubernetes.py",
    "tests/unit/sync_rules/test_filter_round_trip.py",
    "tests/unit/service_runtime/test_without_rich.py",
)
# Then the packages whose tests start service processes or servers, the unit tests last.
_FIRST_PACKAGES = ("outages", "browser", "end_to_end", "faults", "integration", "fuzz")
_LAST_PACKAGES = ("unit",)


def _work_unit_of(nodeid: str) -> str:
    """The package for the tests of `_ONE_WORKER_PACKAGES`, else the test's module."""
    parts = nodeid.split("::", 1)[0].split("/")
    return (
        parts[1]
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in _ONE_WORKER_PACKAGES
        else "/".join(parts)
    )


def _handed_out_rank(nodeid: str) -> tuple[int, int]:
    """When a test's unit is handed out: the longest units first (`_LONGEST_UNITS`), then the packages
    that start stacks or servers, unit tests last."""
    unit = _work_unit_of(nodeid)
    if unit in _LONGEST_UNITS:
        return 0, _LONGEST_UNITS.index(unit)
    parts = nodeid.split("/")
    package = parts[1] if len(parts) > 2 and parts[0] == "tests" else ""
    if package in _FIRST_PACKAGES:
        return 1, _FIRST_PACKAGES.index(package)
    return 2, 1 if package in _LAST_PACKAGES else 0


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the tests in the order their units are handed out (a stable sort: within a package,
    collection order). Every worker sorts alike, so their collections stay identical."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: _handed_out_rank(item.nodeid))


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object:
    """xdist's scope scheduler with `_work_unit_of` as the scopes, handed out in collection order."""
    from xdist.scheduler import LoadScopeScheduling

    config.option.loadscopereorder = (
        False  # not by size: the workers' order (`pytest_collection_modifyitems`)
    )

    class PackageStackScheduling(LoadScopeScheduling):  # type: ignore[misc]
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit_of(nodeid)

    return PackageStackScheduling(config, log)


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"CI needs real Kafka and PostgreSQL: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def infrastructure() -> Iterator[tuple[str, str]]:
    """(kafka bootstrap, database url) of real servers, by the order of the module docstring."""
    bootstrap, dsn = os.environ.get("KAFKA_BOOTSTRAP"), os.environ.get("DATABASE_URL")
    if bootstrap and dsn:
        yield bootstrap, dsn
        return
    if not docker_engine_available():
        _unavailable(
            "no KAFKA_BOOTSTRAP/DATABASE_URL and no Docker engine for testcontainers: run `make test`"
        )
    from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    with KafkaContainer().with_kraft() as kafka, PostgresContainer("postgres:15") as postgres:
        url = postgres.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
        yield kafka.get_bootstrap_server(), url


@pytest.fixture(scope="session")
async def kafka_bootstrap(infrastructure: tuple[str, str]) -> str:
    """The bootstrap address of the real Kafka the tests use, once it answers and the registry's topics
    exist in this test process's namespace (created when missing)."""
    bootstrap = infrastructure[0]
    try:
        _, _, mismatches = await asyncio.wait_for(
            create_topics(bootstrap, ALL_TOPICS, 1, namespace=NAMESPACE), _REACH_DEADLINE_S
        )
    except Exception as exc:
        _unavailable(f"Kafka at {bootstrap} does not answer: {exc!r}")
    if mismatches:
        _unavailable(f"topics on {bootstrap} differ from the registry: {mismatches}")
    return bootstrap


@pytest.fixture(scope="session")
def database_url(infrastructure: tuple[str, str]) -> str:
    """The URL of the real PostgreSQL database the tests use."""
    return infrastructure[1]


@pytest.fixture(scope="session")
async def kafka_admin(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaAdminClient]:
    """An admin client of the real cluster, once it answers."""
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap, request_timeout_ms=10_000)
    try:
        await asyncio.wait_for(admin.start(), _REACH_DEADLINE_S)
    except Exception as exc:
        await admin.close()
        _unavailable(f"Kafka at {kafka_bootstrap} does not answer: {exc!r}")
    yield admin
    await admin.close()


@pytest.fixture(scope="session")
async def pg_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the real PostgreSQL, once it answers (configured as the services configure theirs)."""
    try:
        pool = await create_pool(database_url, min_size=1, max_size=4, connect_deadline_s=30)
    except Exception as exc:
        _unavailable(f"PostgreSQL at {database_url.rsplit('@', 1)[-1]} does not answer: {exc!r}")
    assert pool is not None
    yield pool
    await pool.close()
