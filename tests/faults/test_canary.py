"""A canary: the sandbox's API token is a planted random value (and a wrong one is tried first). Every
service runs at DEBUG on private servers while the token is used every way the product uses it: an
import of PSYNC_FAULT_CANARY_RECORDS organizations through every service, a webhook, an auto-push that
creates an organization, a sync failing on the revoked token. Then every place the product wrote to is
searched for both tokens: the services' logs, every row of every table, every message of every topic,
and Kafka's and PostgreSQL's files (segments, data, WAL, their own logs). The tenant id, searched the
same way, shows each place was read."""

from __future__ import annotations

import os
import secrets
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import COMPANY_REVEALED
from tests.faults.conftest import FaultReport
from tests.faults.places import every_message, every_row, files_under, occurrences_in_files
from tests.outages.private_infra import PrivateKafka, PrivatePostgres
from tests.outages.stack import ImportStack, import_stack
from tests.support.conditions import eventually
from tests.topic_namespace import NamespacedProducer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

RECORDS = int(os.environ.get("PSYNC_FAULT_CANARY_RECORDS", "2000"))
PLANTED = secrets.token_hex(20)
WRONG = secrets.token_hex(20)
BOTH_WAYS = {"create_in_pipedrive": True, "update_in_pipedrive": True, "create_in_abm": True}


async def _use_the_token_every_way(stack: ImportStack) -> dict[str, Any]:
    """Import, webhook, auto-push create, then a sync on the revoked token; what each gave."""
    refused = (await stack.call("connector", "POST", "/v1/connection/api-token", {"api_token": WRONG}))[0]
    run_id = await stack.start_import()
    await eventually(
        lambda: stack.run_of(run_id), lambda r: r.get("state") == "finished", within_s=1800, what="import"
    )
    await stack.settled(within_s=1800)
    hooked = (await stack.call("connector", "PUT", "/v1/webhooks", {"enabled": True}))[0]
    state = stack.sandbox.handle.state
    org = next(state.tables[Entity.ORGANIZATION].live())
    state.clock.advance(2)
    state.entities.update(Entity.ORGANIZATION, org.id, {"name": "Canary Co"}, 1, ChangeSource.APP)
    await eventually(
        stack.emitted,
        lambda found: any(b'"webhook"' in value for _, value in found),
        within_s=120,
        what="the webhook's change on the topic",
    )
    settings = {"objects": {"organization": {"directions": BOTH_WAYS}}, "auto_push": {"enabled": True}}
    saved = (await stack.call("connector", "PUT", "/v1/settings", settings))[0]
    await eventually(
        lambda: stack.count(
            f"SELECT count(*) FROM pusher_{stack.suffix}.tenant_settings WHERE tenant_id = $1"
        ),
        lambda n: n == 1,
        within_s=120,
        what="the pusher holds the settings",
    )
    await _reveal(stack, "canary-bird.io")
    await eventually(
        lambda: _websites(stack),
        lambda found: "canary-bird.io" in found,
        within_s=120,
        what="the revealed company created in the sandbox",
    )
    state.revoked_api_tokens.add(PLANTED)
    _, sync = await stack.call("connector", "POST", "/v1/sync")
    failed = await eventually(
        lambda: stack.run_of(sync["run_id"]),
        lambda r: r.get("state") == "finished",
        within_s=120,
        what="the sync on the revoked token",
    )
    return {
        "wrong_token_refused": refused == 400,
        "webhooks_on": hooked == 200,
        "settings_saved": saved == 200,
        "sync_on_revoked_token": f"{failed['status']}: {failed.get('message')}",
    }


async def _reveal(stack: ImportStack, domain: str) -> None:
    key = record_key(stack.tenant, SyncObject.ORGANIZATION, domain)
    event = build_event(
        CompanyRevealed(domain=domain, name="Canary Bird", revealed_at=datetime.now(UTC)),
        tenant=stack.tenant, subject=key, source="/faults", id_parts=(key,), time=datetime.now(UTC),
    )  # fmt: skip
    producer = NamespacedProducer(bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(COMPANY_REVEALED.name, encode_event(event), key=key.encode())
    finally:
        await producer.stop()


async def _websites(stack: ImportStack) -> list[str]:
    return [
        str(r.data.get("website") or "")
        for r in stack.sandbox.handle.state.tables[Entity.ORGANIZATION].live()
    ]


async def _search(
    stack: ImportStack, postgres: PrivatePostgres, kafka: PrivateKafka, log_dir: Path
) -> dict[str, dict[str, int]]:
    """Per place: the planted and the wrong token's occurrences, the tenant id's, and what was read."""
    needles = [PLANTED.encode(), WRONG.encode(), stack.tenant.encode()]
    assert stack.pool is not None
    rows, table_text = await every_row(stack.pool)
    messages, topic_text = await every_message(kafka.bootstrap)
    places: dict[str, tuple[dict[bytes, int], str, int]] = {}
    logs = files_under([log_dir])  # the services' logs and data folders
    places["service logs"] = (await occurrences_in_files(logs, needles), "files", len(logs))
    places["tables"] = ({n: table_text.count(n) for n in needles}, "rows", rows)
    places["topics"] = ({n: topic_text.count(n) for n in needles}, "messages", messages)
    for name, server in (("Kafka's files", kafka), ("PostgreSQL's files", postgres)):
        files = files_under([server.state])
        places[name] = (await occurrences_in_files(files, needles), "files", len(files))
    return {
        place: {
            "planted_token": found[needles[0]],
            "wrong_token": found[needles[1]],
            "tenant_id_control": found[needles[2]],
            f"{unit}_searched": size,
        }
        for place, (found, unit, size) in places.items()
    }


async def test_a_planted_token_appears_nowhere_the_product_wrote(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    started = time.monotonic()
    async with import_stack(
        private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path, log_level="DEBUG", api_token=PLANTED
    ) as stack:
        used = await _use_the_token_every_way(stack)
        for process in stack.processes.values():  # every log line written before the search
            await process.terminate()
        places = await _search(stack, private_postgres, private_kafka, tmp_path)
        calls_with_token = sum(1 for r in stack.sandbox.received if r.headers.get("x-api-token") == PLANTED)
        writes = stack.pipedrive_writes()
    found = sum(p["planted_token"] + p["wrong_token"] for p in places.values())
    every_place_read = all(p["tenant_id_control"] > 0 for p in places.values())
    fault_report.record(
        "canary token planted: searched in logs, tables, topics, Kafka's and PostgreSQL's files",
        {
            "records": RECORDS,
            "log_level": "DEBUG",
            "sandbox_calls_with_the_token": calls_with_token,
            "pipedrive_writes": writes,
            **used,
            "occurrences": places,
            "occurrences_total": found,
            "seconds_to_finish": round(time.monotonic() - started, 1),
            "result": "ok" if found == 0 and every_place_read and calls_with_token > 0 else "failed",
        },
    )
    assert calls_with_token > 0 and writes > 0, "the token was used, for reads and writes"
    assert used["wrong_token_refused"] and used["sync_on_revoked_token"].startswith("Error"), used
    assert every_place_read, places
    assert found == 0, places
