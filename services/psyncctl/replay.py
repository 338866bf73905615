"""`psyncctl replay` and `psyncctl restore-offsets`.

A group replay moves the group's committed offsets back: it needs the group to have no members (Kafka
refuses to move a live group's offsets, and psyncctl checks first and stops nothing itself), saves every
offset the group had to a file before it moves any, and prints the command that puts them back.

A tenant replay (`--tenant`) moves no offsets: it reads the range from the origin topic and produces that
tenant's messages to the same topic again, unchanged (same key, so the same partition and order; same
value, so the same event id), with a `psyncctl.replayed-from` header. Every group reading the topic
receives the copies: those that applied the originals drop them by id (the inbox, counted as
`duplicate`), the one that lost them applies them; other tenants are not touched. A separate replay topic
would need every service to read one more topic; the origin needs nothing new, and the inbox, which
already makes any redelivery safe, makes this safe too.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import TopicPartition

from psyncctl.context import Context, Refused, Report
from psyncctl.kafka_cluster import GroupState
from psyncctl.lag import group_partitions
from psyncctl.positions import (
    BadArgument,
    PartitionMove,
    StartAt,
    clamp,
    offsets_from_document,
    saved_offsets_document,
    tenant_of_key,
)
from schemas.topics import topics_consumed_by

REPLAYED_FROM_HEADER = "psyncctl.replayed-from"


async def _targets(
    context: Context, partitions: list[TopicPartition], start: StartAt
) -> dict[TopicPartition, int]:
    earliest = await context.kafka.beginning_offsets(partitions)
    ends = await context.kafka.end_offsets(partitions)
    if start.time is not None:
        at = await context.kafka.offsets_at(partitions, int(start.time.timestamp() * 1000))
        return {tp: clamp(at[tp], earliest[tp], ends[tp]) for tp in partitions}
    assert start.offset is not None
    return {tp: clamp(start.offset, earliest[tp], ends[tp]) for tp in partitions}


async def _partitions(context: Context, topic: str, partition: int | None) -> list[TopicPartition]:
    found = await context.kafka.partitions(topic)
    if not found:
        raise Refused(f"topic {topic} does not exist")
    if partition is None:
        return found
    if TopicPartition(topic, partition) not in found:
        raise Refused(f"{topic} has no partition {partition} (it has {len(found)})")
    return [TopicPartition(topic, partition)]


def _stop_hint(context: Context, group: str) -> str:
    service = context.service_of_group(group) or "<service>"
    pidfiles = f".state/run/svc-{service}.pid .state/run/svc-{service}-*.pid"
    return (
        f"stop every member of {group} first: locally (every replica: make up runs {service},"
        f" {service}-2, ...) kill -TERM $(cat {pidfiles} 2>/dev/null),"
        f" compose: docker compose -f deploy/compose.yaml stop {service},"
        f" Kubernetes: kubectl -n psync scale deploy/{service} --replicas=0"
    )


def _members_note(context: Context, state: GroupState) -> list[str]:
    """What a dry run says of a group that still has members: the plan holds, the move itself waits."""
    if state.is_empty:
        return []
    return [
        f"{state.group} has {state.members} member(s) ({state.state}) now, so the current offsets may still"
        f" move and the command itself will be refused until they stop; {_stop_hint(context, state.group)}"
    ]


def _require_reader(context: Context, group: str, topic: str, committed: dict[TopicPartition, int]) -> None:
    """Refuse a group that does not read the topic (a mistyped group or --topic): moving its offsets would
    create offsets, or a whole group, that no service reads."""
    service = context.service_of_group(group)
    read = {t.name for t in topics_consumed_by(service)} if service else set()
    if topic in read or any(tp.topic == topic for tp in committed):
        return
    reads = f"; {service} reads {', '.join(sorted(read))}" if service else ""
    raise Refused(
        f"{group} does not read {topic}: it has no offset there{reads}; check the group and --topic"
        " (`psyncctl lag --all` lists every group and the topics it has offsets on)"
    )


async def replay_group(
    context: Context,
    group: str,
    topics: Sequence[str],
    partition: int | None,
    start: StartAt,
    save_dir: Path,
    dry_run: bool,
) -> Report:
    """Move the group's offsets of the topics (or one partition of each) back to `start`, after saving
    them all: one move for several topics (a service's source changes travel on two, the live and the bulk
    one), so one undo file restores them."""
    partitions = [tp for topic in topics for tp in await _partitions(context, topic, partition)]
    state = await context.kafka.group_state(group)
    committed, _ = await group_partitions(context, group)
    for topic in topics:
        _require_reader(context, group, topic, committed)
    targets = await _targets(context, partitions, start)
    ends = await context.kafka.end_offsets(partitions)
    moves = [
        PartitionMove(tp.topic, tp.partition, committed.get(tp), targets[tp], ends[tp]) for tp in partitions
    ]
    rows = [
        {
            "topic": m.topic,
            "partition": m.partition,
            "current": m.current,
            "new": m.target,
            "replays": m.messages,
        }
        for m in moves
    ]
    report = Report(data={"group": group, "from": start.describe(), "partitions": rows}, rows=rows)
    if dry_run:
        report.notes.append(
            f"dry run: {sum(m.messages for m in moves)} message(s) would be read again by {group}"
        )
        report.notes += _members_note(context, state)
        return report
    if not state.is_empty:
        raise Refused(f"{group} has {state.members} member(s) ({state.state}); {_stop_hint(context, group)}")
    saved = save_dir / f"{group}-offsets-{datetime.now(UTC):%Y%m%dT%H%M%SZ}.json"
    saved.write_text(json.dumps(saved_offsets_document(group, committed, datetime.now(UTC)), indent=2))
    await context.kafka.commit(group, targets)
    report.data["saved"] = str(saved)
    report.notes += [
        f"moved {group}: {sum(m.messages for m in moves)} message(s) to read again; old offsets in {saved}",
        f"undo (before starting the service): psyncctl restore-offsets {saved}",
        'then start the service; watch psync_messages_total{outcome="duplicate"} and `psyncctl lag`',
    ]
    return report


async def replay_tenant(
    context: Context,
    group: str,
    topics: Sequence[str],
    partition: int | None,
    start: StartAt,
    tenant: str,
    dry_run: bool,
) -> Report:
    """`replay_topic_of_tenant` of each topic, in one report."""
    reports = [
        await replay_topic_of_tenant(context, group, topic, partition, start, tenant, dry_run)
        for topic in topics
    ]
    if len(reports) == 1:
        return reports[0]
    rows = [row for report in reports for row in report.rows]
    data = {
        "group": group,
        "tenant": tenant,
        "topics": list(topics),
        "dry_run": dry_run,
        "produced": sum(report.data["produced"] for report in reports),
        "partitions": rows,
    }
    return Report(data=data, rows=rows, notes=[note for report in reports for note in report.notes])


async def replay_topic_of_tenant(
    context: Context,
    group: str,
    topic: str,
    partition: int | None,
    start: StartAt,
    tenant: str,
    dry_run: bool,
) -> Report:
    """Produce the tenant's messages of the range [start, end now) to the topic again (see the module)."""
    partitions = await _partitions(context, topic, partition)
    targets = await _targets(context, partitions, start)
    ends = await context.kafka.end_offsets(partitions)
    counts: dict[int, int] = {}
    async for message in context.kafka.read({tp: (targets[tp], ends[tp]) for tp in partitions}):
        if tenant_of_key(message.key) != tenant:
            continue
        counts[message.partition] = counts.get(message.partition, 0) + 1
        if not dry_run:
            origin = f"{message.topic}:{message.partition}:{message.offset}".encode()
            headers = [(k, v) for k, v in message.headers if k != REPLAYED_FROM_HEADER]
            await context.kafka.produce(
                topic, message.key, message.value, [*headers, (REPLAYED_FROM_HEADER, origin)]
            )
    rows = [
        {
            "topic": tp.topic,
            "partition": tp.partition,
            "from": targets[tp],
            "to": ends[tp],
            "tenant_messages": counts.get(tp.partition, 0),
        }
        for tp in partitions
    ]
    total = sum(counts.values())
    verb = "would re-produce" if dry_run else "re-produced"
    notes = [
        f"{verb} {total} message(s) of tenant {tenant} to {topic};"
        f" every group reading it receives them, and groups that applied them drop them by id"
        f" ({group} applies what it lacks)"
    ]
    return Report(
        data={
            "group": group,
            "tenant": tenant,
            "topic": topic,
            "dry_run": dry_run,
            "produced": 0 if dry_run else total,
            "partitions": rows,
        },
        rows=rows,
        notes=notes,
    )


async def restore_offsets(context: Context, saved: Path, dry_run: bool) -> Report:
    """Put a group's offsets back from a file `replay` saved (the group must have no members)."""
    try:
        document = json.loads(await asyncio.to_thread(saved.read_bytes))
    except OSError as failure:
        raise BadArgument(f"cannot read {saved}: {failure.strerror or failure}") from failure
    except ValueError as failure:  # not JSON, or not UTF-8
        raise BadArgument(f"{saved} is not a saved offsets file of psyncctl (not JSON)") from failure
    group, offsets = offsets_from_document(document)
    current = await context.kafka.committed(group)
    rows = [
        {"topic": tp.topic, "partition": tp.partition, "current": current.get(tp), "restored": offset}
        for tp, offset in sorted(offsets.items(), key=lambda i: (i[0].topic, i[0].partition))
    ]
    report = Report(data={"group": group, "partitions": rows}, rows=rows)
    state = await context.kafka.group_state(group)
    if dry_run:
        report.notes.append(f"dry run: {len(rows)} offset(s) of {group} would be restored")
        report.notes += _members_note(context, state)
        return report
    if not state.is_empty:
        raise Refused(f"{group} has {state.members} member(s) ({state.state}); {_stop_hint(context, group)}")
    await context.kafka.commit(group, offsets)
    report.notes.append(f"restored {len(rows)} offset(s) of {group} from {saved}")
    return report
