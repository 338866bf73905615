"""The mapper's apply runs, as values: one per connector run, reported once all of that run is applied.

Source changes carry their connector run's id as correlation id. Each batch adds its records' outcomes to
the run's tally in the batch's own transaction (`ApplyRunStore`), so a redelivery, which the inbox drops,
never counts twice. The connector's RunFinished says how many changes it emitted; whichever comes last,
the change that makes the applied count reach that number or the RunFinished, completes the run, and the
mapper emits one RunStarted/RunFinished pair of kind APPLY. The batch that applies a run's first record
emits its RunStarted already, so the activity log shows the apply run running, its entries (filed under
the apply run's id) counted as they come. Run id and event ids derive from the connector's run id, so a
replay re-emits the same events (and the auditlog drops them).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from schemas import sources
from schemas.catalog import build_event
from schemas.events.common import Direction, RecordOutcome, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted, RunStatus, apply_run_id
from schemas.keys import run_key
from schemas.topics import SYNC_RUNS
from stream_runner.messages import OutgoingMessage
from sync_rules.run_status import run_status

SERVICE = "mapper"
TRIGGER = "connector_run"
NOTHING_APPLIED = "No record could be applied"

RunRef = tuple[str, str]
"""(tenant, connector run id)."""


@dataclass(frozen=True)
class CompletedRun:
    """An apply run whose every emitted change is applied: what the activity log shows of it."""

    tenant: str
    source_run_id: str
    counts: RunCounts
    objects: tuple[SyncObject, ...]
    started_at: datetime
    finished_at: datetime


@dataclass(frozen=True)
class RunsTallied:
    """What adding a batch's outcomes did to runs: those it started (with when), those it completed."""

    started: list[tuple[RunRef, datetime]]
    completed: list[CompletedRun]


@dataclass(frozen=True)
class StartedRun:
    """An apply run whose first record was applied now."""

    tenant: str
    source_run_id: str
    objects: tuple[SyncObject, ...]
    started_at: datetime


def tally_outcomes(outcomes: Iterable[tuple[RunRef, RecordOutcome]]) -> dict[RunRef, RunCounts]:
    """Per-run counts of record outcomes, runs in a fixed order (rows are locked in that order)."""
    # Counted by (run, outcome) at C speed, then spread per run: a dict of the five counts built per
    # outcome (what `setdefault` evaluates on every call) and the enum's Python-level `.value` cost about
    # 3 µs a record of a batch.
    counted: dict[RunRef, dict[str, int]] = {}
    for (ref, outcome), n in Counter(outcomes).items():
        if ref not in counted:
            counted[ref] = dict.fromkeys(_OUTCOME_NAMES, 0)
        counted[ref][outcome.value] += n
    return {ref: RunCounts(**counted[ref]) for ref in sorted(counted)}


_OUTCOME_NAMES = tuple(o.value for o in RecordOutcome)
"""RunCounts' field of each outcome (its value)."""


def is_complete(counts: RunCounts, emitted: int | None) -> bool:
    """Whether a run is applied whole: the connector said how many it emitted, and that many are applied.

    A run that emitted nothing is not an apply run. More applied than emitted happens when the connector
    re-emits after a crash what its last checkpoint had not counted; the run is complete then too.
    """
    return emitted is not None and emitted > 0 and counts.total >= emitted


def apply_status(counts: RunCounts) -> tuple[RunStatus, str | None]:
    """The run's status (`sync_rules.run_status`), and for an Error, that nothing could be applied."""
    status = run_status(counts)
    return status, NOTHING_APPLIED if status is RunStatus.ERROR else None


def _run_started(
    tenant: str, source_run_id: str, objects: tuple[SyncObject, ...], at: datetime
) -> RunStarted:
    return RunStarted(
        run_id=apply_run_id(source_run_id),
        service=SERVICE,
        kind=RunKind.APPLY,
        direction=Direction.TO_ABM,
        objects=objects,
        started_at=at,
        trigger=TRIGGER,
        applies_run_id=source_run_id,
    )


def started_message(run: StartedRun) -> OutgoingMessage:
    """The RunStarted of an apply run (the same event id as the one its completion sends again)."""
    started = _run_started(run.tenant, run.source_run_id, run.objects, run.started_at)
    return _run_message(run.tenant, run.source_run_id, started, "started", run.started_at)


def run_messages(run: CompletedRun) -> list[OutgoingMessage]:
    """The RunStarted and RunFinished of a completed apply run, with deterministic ids."""
    started = _run_started(run.tenant, run.source_run_id, run.objects, run.started_at)
    status, message = apply_status(run.counts)
    finished = RunFinished(
        **started.model_dump(exclude={"trigger"}),
        finished_at=run.finished_at,
        counts=run.counts,
        status=status,
        message=message,
    )
    return [
        _run_message(run.tenant, run.source_run_id, started, "started", run.started_at),
        _run_message(run.tenant, run.source_run_id, finished, "finished", run.finished_at),
    ]


def _run_message(
    tenant: str, source_run_id: str, payload: RunStarted | RunFinished, phase: str, at: datetime
) -> OutgoingMessage:
    run_id = apply_run_id(source_run_id)
    event = build_event(
        payload,
        tenant=tenant,
        subject=run_key(tenant, run_id),
        source=sources.MAPPER,
        id_parts=(run_id, phase),
        time=at,
        correlationid=source_run_id,
    )
    return OutgoingMessage.of_event(SYNC_RUNS.name, event)
