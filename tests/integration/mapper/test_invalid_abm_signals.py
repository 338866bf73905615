"""The ABM platform's events that break their contract (schemas/ABM-CONTRACTS.md) are dead-lettered by the
mapper process at once, as `InvalidEvent` with the reason, and the events around them are applied without
a retry: a NUL character in a string (PostgreSQL's text cannot hold one), a key that is not the record
key of the topic's object (`tenant:organization:<domain>`), a `subject` that is not the key, a time more
than a day ahead (it would pin what it sets)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client.parser import text_string_to_metric_families

from schemas.catalog import build_event
from schemas.codec import encode_event
from schemas.events.abm_signals import CompanyRevealed, ScoreChanged
from schemas.topics import COMPANY_REVEALED, SCORE_CHANGED
from tests.support.commands import run_module
from tests.support.conditions import eventually
from tests.support.service_process import ServiceProcess

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 1, 10, tzinfo=UTC)


def reveal(
    tenant: str,
    domain: str,
    name: str,
    *,
    key: str | None = None,
    subject: str | None = None,
    revealed_at: datetime = AT,
) -> tuple[bytes, bytes]:
    """A company-revealed message (key, value) as the platform publishes it, or with the `key`, the
    `subject` or the `revealed_at` given."""
    key = key or f"{tenant}:organization:{domain}"
    payload = CompanyRevealed(domain=domain, name=name, revealed_at=revealed_at)
    event = build_event(
        payload, tenant=tenant, subject=subject or key, source="/itest",
        id_parts=(key, domain, revealed_at.isoformat()), time=AT,
    )  # fmt: skip
    return key.encode(), encode_event(event)


def score(tenant: str, domain: str, value: int, changed_at: datetime) -> tuple[bytes, bytes]:
    """A score-changed message (key, value) as the platform publishes it."""
    key = f"{tenant}:organization:{domain}"
    payload = ScoreChanged(domain=domain, score=value, changed_at=changed_at)
    event = build_event(
        payload, tenant=tenant, subject=key, source="/itest", id_parts=(key, changed_at.isoformat()), time=AT
    )
    return key.encode(), encode_event(event)


async def retries_counted(process: ServiceProcess) -> float:
    """The process's `psync_message_retries_total`, all topics together."""
    async with aiohttp.ClientSession() as session, session.get(process.url + "/metrics") as response:
        text = await response.text()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "psync_message_retries_total"
    )


async def dead_letters(tenant: str, error_class: str) -> list[dict[str, Any]]:
    """What `psyncctl dlq list` finds of the mapper's dead letters of `tenant` with `error_class`."""
    listed = await run_module(
        "psyncctl",
        "dlq",
        "list",
        "--service",
        "mapper",
        "--tenant",
        tenant,
        "--error-class",
        error_class,
        "--json",
    )
    assert listed.status == 0, listed.stderr
    found: list[dict[str, Any]] = orjson.loads(listed.stdout)
    return found


async def test_events_breaking_the_contract_are_dead_lettered_at_once_as_invalid_and_the_rest_applied(
    mapper_env: dict[str, str], producer: AIOKafkaProducer, pg_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    uid = uuid.uuid4().hex[:8]
    bad, good = f"bad{uid}", f"good{uid}"
    breaking = {
        "data.name: must not contain NUL characters": reveal(bad, "nul.io", "Acme\u0000Evil"),
        "key: 'bad": reveal(bad, "tenant-only.io", "Acme", key=bad),
        f"key: '{bad}:person:jane@x.io' is not a key of organizations": reveal(
            bad, "person.io", "Acme", key=f"{bad}:person:jane@x.io"
        ),
        f"subject: '{bad}:organization:other.io' is not the key '{bad}:organization:subject.io'": reveal(
            bad, "subject.io", "Acme", subject=f"{bad}:organization:other.io"
        ),
    }
    assert b"\\u0000" in breaking["data.name: must not contain NUL characters"][1]  # as JSON writes a NUL
    for key, value in breaking.values():
        await producer.send_and_wait(COMPANY_REVEALED.name, value, key=key)
    domains = [f"company{n}.io" for n in range(5)]
    for domain in domains:  # read in the same polls as the bad ones: the mapper is not started yet
        good_key, good_value = reveal(good, domain, "Good")
        await producer.send_and_wait(COMPANY_REVEALED.name, good_value, key=good_key)

    process = ServiceProcess("mapper", mapper_env, tmp_path / "mapper.log")
    await process.start()
    await process.wait_ready()
    schema = mapper_env["MAPPER_DB_SCHEMA"]
    await eventually(
        lambda: pg_pool.fetchval(f"SELECT count(*) FROM {schema}.accounts WHERE tenant_id = $1", good),
        lambda n: n == len(domains), within_s=90, what="the other tenant's reveals applied",
    )  # fmt: skip
    letters = await eventually(
        lambda: dead_letters(bad, "InvalidEvent"),
        lambda found: len(found) >= len(breaking),
        within_s=60,
        what="the events breaking the contract dead-lettered",
    )

    reasons = {letter["event_id"]: letter["error_message"] for letter in letters}
    for reason, (_, value) in breaking.items():
        assert reason in reasons.get(orjson.loads(value)["id"], ""), (reason, letters)
    assert len(letters) == len(breaking), letters
    assert await retries_counted(process) == 0
    assert await process.terminate() == 0
    assert await pg_pool.fetchval(f"SELECT count(*) FROM {schema}.accounts WHERE tenant_id = $1", bad) == 0


async def test_signals_dated_far_ahead_are_dead_lettered_as_invalid_and_pin_nothing(
    mapper_env: dict[str, str], producer: AIOKafkaProducer, pg_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    tenant, domain = f"ahead{uuid.uuid4().hex[:8]}", "ahead.io"
    later, far = AT + timedelta(hours=1), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    for topic, (key, value) in [
        (COMPANY_REVEALED, reveal(tenant, domain, "Ahead")),
        (COMPANY_REVEALED, reveal(tenant, domain, "Ahead", revealed_at=far)),
        (SCORE_CHANGED, score(tenant, domain, 90, far)),
        (COMPANY_REVEALED, reveal(tenant, domain, "Ahead", revealed_at=later)),
        (SCORE_CHANGED, score(tenant, domain, 40, later)),
    ]:
        await producer.send_and_wait(topic.name, value, key=key)

    process = ServiceProcess("mapper", mapper_env, tmp_path / "mapper.log")
    await process.start()
    await process.wait_ready()
    schema = mapper_env["MAPPER_DB_SCHEMA"]
    account = await eventually(
        lambda: pg_pool.fetchrow(
            "SELECT reveal_count, last_revealed_at, engagement_score, score_changed_at"
            f" FROM {schema}.accounts WHERE tenant_id = $1",
            tenant,
        ),
        lambda row: row is not None and row["reveal_count"] >= 2 and row["score_changed_at"] is not None,
        within_s=90,
        what="the reveals and the score applied",
    )
    letters = await eventually(
        lambda: dead_letters(tenant, "InvalidEvent"), lambda found: len(found) >= 2, within_s=60,
        what="the signals dated far ahead dead-lettered",
    )  # fmt: skip

    assert account is not None and dict(account) == {
        "reveal_count": 2, "last_revealed_at": later, "engagement_score": 40, "score_changed_at": later
    }  # fmt: skip
    assert sorted(letter["error_message"].split(": ")[1] for letter in letters) == [
        "data.changed_at",
        "data.revealed_at",
    ]
    assert all("is more than a day ahead" in letter["error_message"] for letter in letters)
    assert await retries_counted(process) == 0
    assert await process.terminate() == 0
