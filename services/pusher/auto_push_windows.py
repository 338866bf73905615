"""Auto-push windows: the automatic pushes of one tenant in one hour are one run of the activity log.

A window's run starts with its first auto-push (`psync.run.started`) and is counted as results come in,
in the transaction of each push; a worker closes every window whose hour has ended
(`psync.run.finished` with the counts and tokens). Event ids derive from the run id, so a re-sent start
or end is dropped by the activity log.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from pusher.ports import PusherStore, PushRuns
from pusher.record_pusher import PushDone
from pusher.results import run_finished_message, run_started_message
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunCounts, RunKind
from stream_runner.messages import OutgoingMessage

WINDOW = timedelta(hours=1)
CLOSE_EVERY_S = 30.0
_log = structlog.get_logger(__name__)

Send = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]


async def count_in_window(
    runs: PushRuns, event: CloudEvent[Any], run_id: str, dones: list[PushDone], tokens: int
) -> list[OutgoingMessage]:
    """Add an auto-push's outcomes to its window's run; the window's first push also starts the run."""
    opened = await runs.open_window(event.tenantid, run_id, event.time)
    await runs.add(event.tenantid, run_id, outcome_counts(dones), tokens)
    if not opened:
        return []
    objects = tuple(dict.fromkeys(d.object for d in dones))
    return [run_started_message(event.tenantid, run_id, objects, event.time, RunKind.AUTO_PUSH)]


def outcome_counts(dones: Sequence[PushDone]) -> RunCounts:
    """The run counts of some pushes' outcomes."""
    return RunCounts(**{o.value: sum(1 for d in dones if d.outcome is o) for o in RecordOutcome})


def window_end(started_at: datetime) -> datetime:
    """The end of the hour a window started in."""
    return started_at.astimezone(UTC).replace(minute=0, second=0, microsecond=0) + WINDOW


async def close_ended_windows(store: PusherStore, send: Send, now: datetime) -> int:
    """Report every auto-push window whose hour has ended; returns how many were closed."""
    async with store.view() as view:
        ended = await view.runs.ended_windows(now)
        for run in ended:
            end = window_end(run.started_at)
            # Sent before it is marked: a crash in between re-sends the same event id, which is dropped.
            await send([run_finished_message(run.tenant, run.run_id, (), run.started_at, end, run.counts,
                                             run.tokens, RunKind.AUTO_PUSH)])  # fmt: skip
            await view.runs.mark_finished(run.tenant, run.run_id)
    return len(ended)


async def close_windows_until_stopped(store: PusherStore, send: Send, stop: asyncio.Event) -> None:
    """The worker: close ended windows every 30 seconds until the service stops."""
    while not stop.is_set():
        closed = await close_ended_windows(store, send, datetime.now(UTC))
        if closed:
            _log.info("auto_push_windows_closed", count=closed)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), CLOSE_EVERY_S)
