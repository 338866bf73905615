"""`POST /v1/retries`: the failed records of an earlier run read again by id and emitted as a run linked to
it (the auditlog's retry), through the connector's API, on the sandbox, real Kafka and PostgreSQL."""

from __future__ import annotations

import pytest

from pipedrive_sandbox.store import Entity
from tests.integration.connector.conftest import ConnectorHarness

pytestmark = pytest.mark.integration


async def test_a_retry_reads_exactly_its_records_again_as_a_run_linked_to_the_first(
    harness: ConnectorHarness,
) -> None:
    await harness.connect_by_token()
    [first, second] = [
        o.id for o in list(harness.sandbox.handle.state.tables[Entity.ORGANIZATION].live())[:2]
    ]
    body = {
        "retry": {"of": "import-first", "attempt": 1},
        "records": [
            {"object": "organization", "pipedrive_id": first},
            {"object": "organization", "pipedrive_id": second},
            {"object": "person", "pipedrive_id": 999_999},  # not in Pipedrive: cannot be read
        ],
    }

    queued = await harness.api.post("/v1/retries", json=body, headers=harness.headers)
    again = await harness.api.post("/v1/retries", json=body, headers=harness.headers)
    assert (queued.status, again.status) == (202, 202)
    assert (await queued.json())["run_id"] == (await again.json())["run_id"] == "retry1-import-first"
    await harness.connector.scheduler.work_tenant(harness.tenant)

    changes = await harness.events()
    assert sorted(e["data"]["pipedrive_id"] for e in changes) == sorted([first, second])
    assert {e["correlationid"] for e in changes} == {"retry1-import-first"}
    assert {e["data"]["import_context"]["import_id"] for e in changes} == {"retry1-import-first"}
    runs = [e for e in await harness.run_events() if e["data"]["run_id"] == "retry1-import-first"]
    assert [(e["type"], e["data"]["retry_of"], e["data"]["kind"]) for e in runs] == [
        ("psync.run.started", "import-first", "sync"),
        ("psync.run.finished", "import-first", "sync"),
    ]
    assert (runs[1]["data"]["emitted"], runs[1]["data"]["counts"]["failed"]) == (2, 1)


async def test_a_retry_asks_for_records_by_object_and_id(harness: ConnectorHarness) -> None:
    await harness.connect_by_token()
    bad = {"retry": {"of": "x", "attempt": 0}, "records": [{"object": "lead", "pipedrive_id": 0}]}

    answer = await harness.api.post("/v1/retries", json=bad, headers=harness.headers)

    assert answer.status == 400
    problems = (await answer.json())["problems"]
    assert {p.split(":")[0].split(".")[0] for p in problems} == {"retry", "records"}
