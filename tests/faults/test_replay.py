"""A replay of every topic from an hour ago (`psyncctl replay`, as the runbook does it): after an import of
PSYNC_FAULT_REPLAY_RECORDS organizations through every service and PSYNC_FAULT_REPLAY_REVEALS revealed
companies auto-pushed into Pipedrive, the mapper, the pusher and the auditlog are stopped, each of their
groups is moved back an hour on every topic it reads, and they are started again. Once every group has
read to the end again, every row of their tables is what it was before, and Pipedrive received no
write."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from pipedrive_sandbox.store import Entity
from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import SyncObject
from schemas.keys import record_key
from schemas.topics import COMPANY_REVEALED, topics_consumed_by
from tests.faults.conftest import FaultReport
from tests.faults.places import event_ids_by_topic
from tests.integration.psyncctl.conftest import run_psyncctl_process
from tests.outages.private_infra import PrivateKafka, PrivatePostgres
from tests.outages.stack import ImportStack, import_stack
from tests.support.conditions import eventually
from tests.topic_namespace import NamespacedProducer

pytestmark = [pytest.mark.integration, pytest.mark.timeout(3600)]

RECORDS = int(os.environ.get("PSYNC_FAULT_REPLAY_RECORDS", "10000"))
REVEALS = int(os.environ.get("PSYNC_FAULT_REPLAY_REVEALS", "20"))
CONSUMERS = ("mapper", "pusher", "auditlog")
BOTH_WAYS = {"create_in_pipedrive": True, "update_in_pipedrive": True, "create_in_abm": True}


async def _import_and_push(stack: ImportStack) -> None:
    """The import, settled everywhere; then auto-push on and REVEALS companies created in Pipedrive."""
    run_id = await stack.start_import()
    await eventually(
        lambda: stack.run_of(run_id), lambda r: r.get("state") == "finished", within_s=1800, what="import"
    )
    await stack.settled(within_s=1800)
    settings = {"objects": {"organization": {"directions": BOTH_WAYS}}, "auto_push": {"enabled": True}}
    assert (await stack.call("connector", "PUT", "/v1/settings", settings))[0] == 200
    held = f"SELECT count(*) FROM pusher_{stack.suffix}.tenant_settings WHERE tenant_id = $1"
    await eventually(lambda: stack.count(held), lambda n: n == 1, within_s=120, what="pusher has settings")
    producer = NamespacedProducer(bootstrap_servers=stack.bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for n in range(REVEALS):
            domain = f"replayed{n}.io"
            key = record_key(stack.tenant, SyncObject.ORGANIZATION, domain)
            event = build_event(
                CompanyRevealed(domain=domain, name=f"Replayed {n}", revealed_at=datetime.now(UTC)),
                tenant=stack.tenant, subject=key, source="/faults", id_parts=(key,), time=datetime.now(UTC),
            )  # fmt: skip
            await producer.send_and_wait(COMPANY_REVEALED.name, encode_event(event), key=key.encode())
    finally:
        await producer.stop()
    await eventually(
        lambda: _created(stack), lambda n: n == REVEALS, within_s=600, what="every revealed company created"
    )


async def _created(stack: ImportStack) -> int:
    table = stack.sandbox.handle.state.tables[Entity.ORGANIZATION]
    return sum(1 for r in table.live() if str(r.data.get("website") or "").startswith("replayed"))


async def _tables(pool: asyncpg.Pool, suffix: str) -> dict[str, Counter[str]]:
    """Every row of the consuming services' tables, as text, per table."""
    found: dict[str, Counter[str]] = {}
    for service in CONSUMERS:
        schema = f"{service}_{suffix}"
        names = await pool.fetch(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = $1", schema
        )
        for row in names:
            name = f"{schema}.{row['table_name']}"
            found[name] = Counter(r[0] for r in await pool.fetch(f"SELECT t::text FROM {name} t"))
    return found


async def _replay_every_topic(stack: ImportStack, save_dir: Path) -> int:
    """psyncctl replay of each group on each topic it reads, from an hour ago; messages replayed."""
    env = {"KAFKA_BOOTSTRAP": stack.bootstrap, "DATABASE_URL": stack.database_url}
    replayed = 0
    for service in CONSUMERS:
        group = stack.env(service)[f"{service.upper()}_GROUP_ID"]
        for topic in topics_consumed_by(service):
            result = await run_psyncctl_process(
                "replay", group, "--topic", topic.name, "--from", "1h", "--save-dir", str(save_dir),
                "--json", env=env,
            )  # fmt: skip
            assert result.status == 0, result.stderr
            replayed += sum(p["replays"] for p in json.loads(result.stdout)["partitions"])
    return replayed


def _published(before: dict[str, Counter[str]], after: dict[str, Counter[str]]) -> dict[str, dict[str, int]]:
    """Per topic, what the replay published: again under ids already there, and under new ids."""
    published = {}
    for topic, ids in after.items():
        added = ids - before.get(topic, Counter())
        if added:
            again = sum(n for i, n in added.items() if i in before.get(topic, Counter()))
            published[topic] = {"same_ids": again, "new_ids": sum(added.values()) - again}
    return published


def _difference(before: Counter[str] | None, after: Counter[str] | None) -> dict[str, list[str]]:
    was, now = before or Counter(), after or Counter()
    return {"gone": list((was - now).elements())[:3], "new": list((now - was).elements())[:3]}


async def _lag(stack: ImportStack) -> int:
    groups = [stack.env(s)[f"{s.upper()}_GROUP_ID"] for s in CONSUMERS]
    env = {"KAFKA_BOOTSTRAP": stack.bootstrap, "DATABASE_URL": stack.database_url}
    result = await run_psyncctl_process("lag", *groups, "--json", env=env)
    assert result.status == 0, result.stderr
    return sum(int(row["lag"]) for row in json.loads(result.stdout))


async def test_a_replay_of_every_topic_from_an_hour_ago_changes_nothing(
    private_postgres: PrivatePostgres, private_kafka: PrivateKafka, fault_report: FaultReport, tmp_path: Path
) -> None:
    async with import_stack(private_postgres.url, private_kafka.bootstrap, RECORDS, tmp_path) as stack:
        assert stack.pool is not None
        await _import_and_push(stack)
        writes_before, ids_before = stack.pipedrive_writes(), await event_ids_by_topic(stack.bootstrap)
        for service in CONSUMERS:
            await stack.processes[service].terminate()
        before = await _tables(stack.pool, stack.suffix)
        started = time.monotonic()
        replayed = await _replay_every_topic(stack, tmp_path)
        for service in CONSUMERS:
            await stack.process(service, generation=2).start()
        for service in CONSUMERS:
            await stack.processes[service].wait_ready(within_s=120)
        await eventually(lambda: _lag(stack), lambda n: n == 0, within_s=1800, what="every group at the end")
        caught_up_s = round(time.monotonic() - started, 1)
        after = await _tables(stack.pool, stack.suffix)
        writes = stack.pipedrive_writes() - writes_before
        ids_after = await event_ids_by_topic(stack.bootstrap)
        exited = stack.exited()
    new_ids = sum(p["new_ids"] for p in _published(ids_before, ids_after).values())
    changed = sorted(t for t in before.keys() | after.keys() if before.get(t) != after.get(t))
    fault_report.record(
        "replay of every topic from 1 h ago (every group, every topic it reads)",
        {
            "records": RECORDS,
            "auto_pushed_before": REVEALS,
            "pipedrive_writes_before": writes_before,
            "messages_replayed": replayed,
            "seconds_to_read_to_the_end": caught_up_s,
            "rows_compared": sum(sum(c.values()) for c in before.values()),
            "tables_compared": len(before),
            "tables_changed": changed,
            "pipedrive_writes": writes,
            "messages_published_by_the_replay": _published(ids_before, ids_after),
            "services_exited": len(exited),
            "result": "ok" if not changed and writes == 0 and not exited and not new_ids else "failed",
        },
    )
    assert writes_before >= REVEALS
    assert replayed > RECORDS
    assert changed == [], {t: _difference(before.get(t), after.get(t)) for t in changed[:3]}
    assert writes == 0
    assert exited == {}
    assert all(p["new_ids"] == 0 for p in _published(ids_before, ids_after).values())
