"""`psyncctl lag`: how far each consumer group is behind, per topic and partition."""

from __future__ import annotations

from aiokafka import TopicPartition

from psyncctl.context import Context, Report
from psyncctl.positions import PartitionLag, lag_rows
from schemas.topics import topics_consumed_by


async def group_partitions(
    context: Context, group: str
) -> tuple[dict[TopicPartition, int], list[TopicPartition]]:
    """A group's committed offsets, and the partitions it reads: those it committed, and for a service's
    group every partition of the topics the registry says it consumes."""
    committed = await context.kafka.committed(group)
    topics = {tp.topic for tp in committed}
    service = context.service_of_group(group)
    if service is not None:
        topics |= {t.name for t in topics_consumed_by(service)}
    partitions = [tp for topic in sorted(topics) for tp in await context.kafka.partitions(topic)]
    return committed, partitions


async def group_lag(context: Context, group: str) -> list[PartitionLag]:
    """Committed offset, end offset and lag of every partition the group reads."""
    committed, partitions = await group_partitions(context, group)
    return lag_rows(group, committed, await context.kafka.end_offsets(partitions))


async def show_lag(context: Context, groups: list[str], all_groups: bool, nonzero: bool) -> Report:
    """The lag of the named groups (the services' by default, every group of the cluster with `all`)."""
    names = groups or (await context.kafka.groups() if all_groups else list(context.settings.groups.values()))
    data: list[dict[str, object]] = []
    notes: list[str] = []
    for group in names:
        state = await context.kafka.group_state(group)
        rows = await group_lag(context, group)
        total = sum(r.lag for r in rows)
        if state.state == "Dead" and all(r.committed is None for r in rows):
            notes.append(
                f"{group}: no such group (no member, no committed offset);"
                " `psyncctl lag --all` lists the groups there are"
            )
        else:
            notes.append(f"{group}: {state.state}, {state.members} member(s), lag {total}")
        data += [
            {
                "group": r.group,
                "topic": r.topic,
                "partition": r.partition,
                "committed": r.committed,
                "end": r.end,
                "lag": r.lag,
            }
            for r in rows
            if r.lag or not nonzero
        ]
    return Report(data=data, rows=data, notes=notes)
