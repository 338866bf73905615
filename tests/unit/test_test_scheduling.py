"""How `make test` hands its units of work to the xdist workers (tests/conftest.py): the longest
units it names exist, and go out first, longest first."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import _LONGEST_UNITS, _handed_out_rank, _work_unit_of

ROOT = Path(__file__).resolve().parents[2]


def test_every_longest_unit_is_a_test_module_or_a_one_worker_package() -> None:
    missing = [
        unit
        for unit in _LONGEST_UNITS
        if not ((ROOT / unit).is_file() if unit.endswith(".py") else (ROOT / "tests" / unit).is_dir())
    ]
    assert missing == []


def test_the_longest_units_go_out_first_longest_first_and_unit_tests_last() -> None:
    nodeids = [
        "tests/unit/test_openapi.py::test_x",
        "tests/integration/test_inbox.py::test_x",
        "tests/fuzz/test_auditlog_api.py::test_x",
        "tests/outages/test_postgres_outage.py::test_x",
        "tests/sandbox/test_x.py::test_x",
        "tests/browser/test_sign_in.py::test_x",
        "tests/outages/test_kafka_outage.py::test_x",
    ]
    units = [_work_unit_of(nodeid) for nodeid in sorted(nodeids, key=_handed_out_rank)]
    assert units == [
        "browser",
        "fuzz",
        "tests/outages/test_kafka_outage.py",
        "tests/outages/test_postgres_outage.py",
        "tests/integration/test_inbox.py",
        "tests/sandbox/test_x.py",
        "tests/unit/test_openapi.py",
    ]
