"""`psyncctl dlq list|show|redrive`: the dead-letter topics of the consuming services."""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator
from contextlib import aclosing
from datetime import timedelta

import orjson
from aiokafka import TopicPartition

from psyncctl.context import Context, Refused, Report
from psyncctl.dead_letters import (
    DeadLetter,
    DeadLetterFilter,
    parse_ref,
    read_dead_letter,
    redrive_headers,
    replacement_value,
)
from psyncctl.redrive_log_store import Redrive, RedriveLog
from schemas.topics import CONSUMER_SERVICES, dlq_topic_name

_CLOCK_MARGIN = timedelta(minutes=5)


async def dead_letters(
    context: Context, services: list[str], wanted: DeadLetterFilter
) -> AsyncIterator[DeadLetter]:
    """The dead letters of the services' DLQs that match, oldest first per partition (named ones are
    read where they are, not searched for)."""
    if wanted.refs:
        for ref in sorted(wanted.refs):
            letter = await _one(context, ref)
            if (not services or letter.service in services) and wanted.matches(letter):
                yield letter
        return
    for service in services or list(CONSUMER_SERVICES):
        partitions = await context.kafka.partitions(dlq_topic_name(service))
        if wanted.since is not None:
            # A dead letter is produced as it fails: nothing older than `since` (less a margin for clocks
            # apart) can match, so the read starts there instead of at the oldest retained message.
            at_ms = int((wanted.since - _CLOCK_MARGIN).timestamp() * 1000)
            starts = await context.kafka.offsets_at(partitions, at_ms)
        else:
            starts = await context.kafka.beginning_offsets(partitions)
        ends = await context.kafka.end_offsets(partitions)
        async for message in context.kafka.read({tp: (starts[tp], ends[tp]) for tp in partitions}):
            letter = read_dead_letter(service, message)
            if wanted.matches(letter):
                yield letter


async def _redrive_log(context: Context) -> RedriveLog:
    log = RedriveLog(await context.pool(), context.settings.db_schema)
    await log.install()
    return log


async def list_dead_letters(
    context: Context, services: list[str], wanted: DeadLetterFilter, limit: int
) -> Report:
    """The matching dead letters (at most `limit`), with when each was last re-driven."""
    redriven = await (await _redrive_log(context)).last_redriven(
        [dlq_topic_name(s) for s in services or CONSUMER_SERVICES]
    )
    rows: list[dict[str, object]] = []
    total = 0
    async for letter in dead_letters(context, services, wanted):
        total += 1
        if len(rows) < limit:
            m = letter.message
            rows.append({**letter.summary(), "redriven_at": redriven.get((m.topic, m.partition, m.offset))})
    notes = [f"{total} dead letter(s) match" + (f"; the first {limit} shown" if total > limit else "")]
    return Report(data=rows, rows=rows, notes=notes)


async def _one(context: Context, ref: str) -> DeadLetter:
    topic, partition, offset = parse_ref(ref)
    service = next((s for s in CONSUMER_SERVICES if dlq_topic_name(s) == topic), None)
    if service is None:
        raise Refused(
            f"{topic} is not a dead-letter topic ({', '.join(dlq_topic_name(s) for s in CONSUMER_SERVICES)})"
        )
    tp = TopicPartition(topic, partition)
    if tp not in await context.kafka.partitions(topic):
        raise Refused(f"{topic} has no partition {partition}: `psyncctl dlq list` prints the refs there are")
    first = (await context.kafka.beginning_offsets([tp]))[tp]
    end = (await context.kafka.end_offsets([tp]))[tp]
    if not first <= offset < end:  # a read past the end would wait for a message that never comes
        held = f"offsets {first} to {end - 1}" if first < end else "no message"
        raise Refused(
            f"no message at {ref}: {topic}:{partition} holds {held}; `psyncctl dlq list` prints the refs"
        )
    async with aclosing(context.kafka.read({tp: (offset, offset + 1)})) as messages:
        async for message in messages:
            return read_dead_letter(service, message)
    raise Refused(f"no message at {ref}")


async def show_dead_letter(context: Context, ref: str) -> Report:
    """Everything about one dead letter: its headers, key and value."""
    letter = await _one(context, ref)
    try:
        value: object = orjson.loads(letter.message.value or b"")
    except orjson.JSONDecodeError:
        value = (letter.message.value or b"").decode("utf-8", errors="replace")
    data = {
        **letter.summary(),
        "key": (letter.message.key or b"").decode("utf-8", errors="replace"),
        "headers": {k: v.decode("utf-8", errors="replace") for k, v in letter.message.headers},
        "value": value,
    }
    notes = [f"{k}: {v}" for k, v in data.items() if k not in {"value", "headers"}]
    notes += [f"header {k}: {v}" for k, v in data["headers"].items()]  # type: ignore[attr-defined]
    notes.append("value: " + orjson.dumps(value, option=orjson.OPT_INDENT_2).decode())
    return Report(data=data, notes=notes)


async def redrive(
    context: Context,
    services: list[str],
    wanted: DeadLetterFilter,
    *,
    everything: bool,
    again: bool,
    fixed_value: bytes | None,
    actor: str | None,
    dry_run: bool,
) -> Report:
    """Produce the matching dead letters to their origin topics (see psyncctl.dead_letters) and record
    each; those re-driven before are skipped unless `again`."""
    if not wanted.narrows and not everything:
        raise Refused("name the dead letters (refs, --tenant, --error-class, --since/--until) or pass --all")
    if fixed_value is not None and len(wanted.refs) != 1:
        raise Refused("--value-file replaces the value of exactly one dead letter: name it by its ref")
    log = await _redrive_log(context)
    redriven = await log.last_redriven([dlq_topic_name(s) for s in services or CONSUMER_SERVICES])
    who = actor or getpass.getuser()
    rows: list[dict[str, object]] = []
    skipped = 0
    async for letter in dead_letters(context, services, wanted):
        m = letter.message
        if not letter.origin_topic:
            raise Refused(f"{letter.ref} has no dlq.origin.topic header: not a dead letter of ours")
        if (m.topic, m.partition, m.offset) in redriven and not again:
            skipped += 1
            continue
        value = m.value if fixed_value is None else replacement_value(letter, fixed_value)
        row: dict[str, object] = {**letter.summary(), "to": letter.origin_topic}
        if not dry_run:
            partition, offset = await context.kafka.produce(
                letter.origin_topic, m.key, value, redrive_headers(letter)
            )
            await log.record(
                Redrive(
                    m.topic,
                    m.partition,
                    m.offset,
                    letter.origin_topic,
                    partition,
                    offset,
                    letter.tenant,
                    letter.event_id,
                    letter.error_class,
                    fixed_value is not None,
                    who,
                )
            )
            row["to"] = f"{letter.origin_topic}:{partition}:{offset}"
        rows.append(row)
    verb = "would re-drive" if dry_run else "re-drove"
    notes = [
        f"{verb} {len(rows)} dead letter(s)"
        + (f"; {skipped} re-driven before were skipped (--again sends them too)" if skipped else "")
    ]
    return Report(
        data={"dry_run": dry_run, "redriven": rows, "skipped_redriven_before": skipped},
        rows=rows,
        notes=notes,
    )
