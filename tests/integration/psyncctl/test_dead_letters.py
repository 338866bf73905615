"""`psyncctl dlq list|show|redrive` on dead letters made by the stream runner's own dead_letter_for, for a
tenant of the test's own, whose origin is a scratch topic."""

from __future__ import annotations

import asyncio
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import orjson
from aiokafka import AIOKafkaProducer

from psyncctl.settings import CtlSettings
from stream_runner.dead_letters import dead_letter_for
from stream_runner.messages import IncomingMessage
from tests.integration.psyncctl.conftest import Psyncctl, read_all


class ContractViolation(Exception):
    """Stands for a contract error a service dead-letters."""


class HandlerFailed(Exception):
    """Stands for an error the rules cannot get past."""


async def _dead_letter(
    producer: AIOKafkaProducer, service: str, origin: str, tenant: str, n: int, error: Exception
) -> str:
    """Dead-letter one event of `tenant` read from `origin` at offset n; returns its event id."""
    event_id = f"{tenant}-event-{n}"
    original = IncomingMessage(
        topic=origin,
        partition=1,
        offset=n,
        key=f"{tenant}:organization:acme{n}.com".encode(),
        value=orjson.dumps({"id": event_id, "tenantid": tenant, "type": "abm.company.revealed"}),
        headers=(("traceparent", b"00-abc-def-01"),),
    )
    letter = dead_letter_for(original, service, error)
    await producer.send_and_wait(
        letter.topic, key=letter.key.encode(), value=letter.value, headers=list(letter.headers)
    )
    return event_id


async def test_dead_letters_are_listed_filtered_shown_and_re_driven_once(
    psyncctl: Psyncctl,
    ctl_settings: CtlSettings,
    scratch_topic: str,
    raw_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    pg_pool: asyncpg.Pool,
) -> None:
    tenant = f"dlq{secrets.token_hex(4)}"
    since = ("--since", (datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    first = await _dead_letter(
        raw_producer, "mapper", scratch_topic, tenant, 1, ContractViolation("score: missing")
    )
    second = await _dead_letter(
        raw_producer, "mapper", scratch_topic, tenant, 2, HandlerFailed("no rule applies")
    )
    third = await _dead_letter(
        raw_producer, "pusher", scratch_topic, tenant, 3, ContractViolation("email: bad")
    )

    listed = await psyncctl("dlq", "list", "--tenant", tenant, *since, "--json")
    assert listed.status == 0, listed.stderr
    assert sorted((r["service"], r["event_id"], r["error_class"]) for r in listed.json()) == [
        ("mapper", first, "ContractViolation"),
        ("mapper", second, "HandlerFailed"),
        ("pusher", third, "ContractViolation"),
    ]
    by_class = await psyncctl(
        "dlq",
        "list",
        "--tenant",
        tenant,
        "--service",
        "mapper",
        "--error-class",
        "ContractViolation",
        *since,
        "--json",
    )
    assert [r["event_id"] for r in by_class.json()] == [first]
    assert [r["origin"] for r in by_class.json()] == [f"{scratch_topic}:1:1"]
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert (await psyncctl("dlq", "list", "--tenant", tenant, "--since", later, "--json")).json() == []

    ref = by_class.json()[0]["ref"]
    shown = await psyncctl("dlq", "show", ref, "--json")
    assert shown.status == 0, shown.stderr
    assert shown.json()["value"]["id"] == first
    assert shown.json()["headers"]["dlq.error.message"] == "score: missing"
    assert shown.json()["key"] == f"{tenant}:organization:acme1.com"

    refused = await psyncctl("dlq", "redrive")
    assert refused.status == 3 and "--all" in refused.stderr

    dry = await psyncctl(
        "dlq", "redrive", "--tenant", tenant, "--service", "mapper", *since, "--dry-run", "--json"
    )
    assert dry.status == 0, dry.stderr
    assert len(dry.json()["redriven"]) == 2
    assert await read_all(kafka_bootstrap, scratch_topic) == []

    done = await psyncctl(
        "dlq", "redrive", "--tenant", tenant, "--service", "mapper", "--actor", "sre@example.com", "--json"
    )
    assert done.status == 0, done.stderr
    origin = await read_all(kafka_bootstrap, scratch_topic)
    assert sorted((m[2], orjson.loads(m[3] or b"")["id"]) for m in origin) == [
        (f"{tenant}:organization:acme1.com".encode(), first),
        (f"{tenant}:organization:acme2.com".encode(), second),
    ]
    for *_, headers in origin:
        names = [name for name, _ in headers]
        assert not [n for n in names if n.startswith("dlq.")]
        assert "traceparent" in names and "psyncctl.redriven-from" in names

    recorded = await pg_pool.fetch(
        f"SELECT event_id, actor, origin_topic FROM {ctl_settings.db_schema}.redrives WHERE tenant_id = $1",
        tenant,
    )
    assert sorted((r["event_id"], r["actor"], r["origin_topic"]) for r in recorded) == [
        (first, "sre@example.com", scratch_topic),
        (second, "sre@example.com", scratch_topic),
    ]
    again = await psyncctl("dlq", "redrive", "--tenant", tenant, "--service", "mapper", *since, "--json")
    assert again.json()["redriven"] == [] and again.json()["skipped_redriven_before"] == 2
    assert len(await read_all(kafka_bootstrap, scratch_topic)) == 2
    listed_after = await psyncctl("dlq", "list", "--tenant", tenant, "--service", "mapper", *since, "--json")
    assert all(r["redriven_at"] for r in listed_after.json())


async def test_a_fixed_value_keeps_the_event_id(
    psyncctl: Psyncctl,
    scratch_topic: str,
    raw_producer: AIOKafkaProducer,
    kafka_bootstrap: str,
    tmp_path: Path,
) -> None:
    tenant = f"dlq{secrets.token_hex(4)}"
    since = ("--since", (datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    event_id = await _dead_letter(
        raw_producer, "auditlog", scratch_topic, tenant, 7, ContractViolation("bad")
    )
    [letter] = (await psyncctl("dlq", "list", "--tenant", tenant, *since, "--json")).json()
    wrong_id = tmp_path / "wrong.json"
    await asyncio.to_thread(wrong_id.write_bytes, orjson.dumps({"id": "another", "tenantid": tenant}))
    fixed = tmp_path / "fixed.json"
    await asyncio.to_thread(
        fixed.write_bytes, orjson.dumps({"id": event_id, "tenantid": tenant, "fixed": True})
    )

    refused = await psyncctl("dlq", "redrive", letter["ref"], "--value-file", str(wrong_id))
    assert refused.status == 2 and "differs" in refused.stderr

    done = await psyncctl("dlq", "redrive", letter["ref"], "--value-file", str(fixed))
    assert done.status == 0, done.stderr
    [(_, _, _, value, _)] = await read_all(kafka_bootstrap, scratch_topic)
    assert orjson.loads(value or b"") == {"id": event_id, "tenantid": tenant, "fixed": True}


async def test_a_ref_where_no_dead_letter_is_answers_at_once_with_what_the_partition_holds(
    psyncctl: Psyncctl, scratch_topic: str, raw_producer: AIOKafkaProducer
) -> None:
    """An operator's mistyped ref (an offset past the partition's end, a partition the topic lacks): before,
    `dlq show` and `dlq redrive` waited forever for a message that never comes."""
    tenant = f"dlq{secrets.token_hex(4)}"
    since = ("--since", (datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    await _dead_letter(raw_producer, "pusher", scratch_topic, tenant, 4, ContractViolation("bad"))
    [letter] = (await psyncctl("dlq", "list", "--tenant", tenant, *since, "--json")).json()
    topic, partition, offset = letter["ref"].rsplit(":", 2)
    past_the_end = f"{topic}:{partition}:{int(offset) + 1000}"

    for verb in ("show", "redrive"):
        answer = await asyncio.wait_for(psyncctl("dlq", verb, past_the_end), timeout=60)
        assert answer.status == 3, (verb, answer.stderr)
        assert f"no message at {past_the_end}" in answer.stderr and "holds offsets" in answer.stderr
    no_partition = await asyncio.wait_for(psyncctl("dlq", "show", f"{topic}:99:0"), timeout=60)
    assert no_partition.status == 3 and f"{topic} has no partition 99" in no_partition.stderr


async def test_a_time_range_that_holds_nothing_is_a_bad_argument(psyncctl: Psyncctl) -> None:
    """Before: `dlq list --since 1h --until 2h` (the ages swapped) answered '0 dead letter(s) match', and
    a re-drive with it re-drove nothing, as if the DLQ were empty."""
    for verb in ("list", "redrive"):
        swapped = await psyncctl("dlq", verb, "--since", "1h", "--until", "2h")
        assert swapped.status == 2, (verb, swapped)
        assert "--until 2h is not after --since 1h" in swapped.stderr
