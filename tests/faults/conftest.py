"""The fault report: collected only under `make faults` (PSYNC_FAULTS=1); each scenario's figures are
merged into bench-results/faults.json as soon as the scenario ends."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from bench.report import machine_facts, measured_at
from tests.outages.conftest import private_kafka, private_postgres

ROOT = Path(__file__).resolve().parents[2]
REPORT = ROOT / "bench-results" / "faults.json"

__all__ = ["private_kafka", "private_postgres"]

collect_ignore_glob = [] if os.environ.get("PSYNC_FAULTS") == "1" else ["test_*.py"]


class FaultReport:
    """bench-results/faults.json: one entry per scenario, replaced when the scenario runs again."""

    def record(self, scenario: str, figures: dict[str, Any]) -> None:
        """Store a scenario's figures (with where and when they were measured)."""
        report = orjson.loads(REPORT.read_text()) if REPORT.exists() else {}
        report.setdefault("scenarios", {})[scenario] = {**figures, "measured_at": measured_at()}
        report["machine"] = machine_facts()
        report["how"] = (
            "make faults: each scenario on private PostgreSQL and Kafka on loopback (deploy/local scripts),"
            " connector, mapper, pusher and auditlog as processes, an in-process Pipedrive sandbox;"
            " lost/doubled compare every service's records with one clean pass over the sandbox"
        )
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(
            orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode() + "\n"
        )


@pytest.fixture(scope="session")
def fault_report() -> FaultReport:
    """Where scenarios write their figures."""
    return FaultReport()
