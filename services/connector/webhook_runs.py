"""Webhook changes as runs of the activity log: one run per tenant and hour (like the pusher's auto-push
windows), "webhook changes", that holds every change the hint reader emitted in that hour.

A window opens with the first hint re-read in its hour (`psync.run.started`, kind `webhook`) and counts
what is emitted in the transaction that records the emitted version, so a change is counted once even
when a crash makes the reader emit it again. Once its hour (and the lease a hint may still be read under)
has passed, the window closes with `psync.run.finished`: `emitted`, as a sync run reports it, lets the
mapper report the apply run of its records, whose entries are the window's per-record entries. Event ids
derive from the run id, so a start or an end sent twice is dropped by its consumers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta

from connector.run_executor import ALL_OBJECTS, SERVICE
from schemas import sources
from schemas.catalog import build_event
from schemas.events.common import Direction
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted
from schemas.keys import run_key
from schemas.topics import SYNC_RUNS
from stream_runner.messages import OutgoingMessage
from sync_rules.run_status import run_status

WINDOW = timedelta(hours=1)
TRIGGER = "webhook"
Send = Callable[[Sequence[OutgoingMessage]], Awaitable[None]]


def window_of(moment: datetime) -> tuple[str, datetime]:
    """The run id of the hour `moment` falls in, and when that hour began."""
    start = moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return f"webhooks-{start:%Y-%m-%dT%H}", start


def started_message(tenant: str, run_id: str, started_at: datetime) -> OutgoingMessage:
    """The start of a tenant's webhook window."""
    started = RunStarted(
        run_id=run_id, service=SERVICE, kind=RunKind.WEBHOOK, direction=Direction.TO_ABM,
        objects=ALL_OBJECTS, started_at=started_at, trigger=TRIGGER,
    )  # fmt: skip
    return _message(tenant, run_id, started, "started", started_at)


def finished_message(
    tenant: str, run_id: str, started_at: datetime, emitted: int, tokens: int
) -> OutgoingMessage:
    """The end of a tenant's webhook window: what it emitted (its records' outcomes are the apply run's)."""
    counts = RunCounts()
    finished = RunFinished(
        run_id=run_id, service=SERVICE, kind=RunKind.WEBHOOK, direction=Direction.TO_ABM,
        objects=ALL_OBJECTS, started_at=started_at, finished_at=started_at + WINDOW, counts=counts,
        tokens_spent=tokens, status=run_status(counts), emitted=emitted,
    )  # fmt: skip
    return _message(tenant, run_id, finished, "finished", started_at + WINDOW)


def _message(
    tenant: str, run_id: str, payload: RunStarted | RunFinished, phase: str, at: datetime
) -> OutgoingMessage:
    event = build_event(
        payload, tenant=tenant, subject=run_key(tenant, run_id), source=sources.CONNECTOR,
        id_parts=(run_id, phase), time=at, correlationid=run_id,
    )  # fmt: skip
    return OutgoingMessage.of_event(SYNC_RUNS.name, event)
