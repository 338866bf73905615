"""How the activity log shows a run, as values: its status, counts, tokens, message and links.

A run is stored as its producer reported it (start, end, counts, status) and its entries are counted as
they are written (`LiveTally`). A running run shows the counts of its entries so far. A connector run
that emitted records is one piece of work with the apply run of those records: it shows the apply run's
outcomes (the connector itself only counts what it could not read), stays running until the apply run
ends, and then takes the worse of the two statuses. Its entries are the apply run's; the two link to each
other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from schemas.events.common import RecordOutcome
from schemas.events.sync_runs import RunCounts, RunStatus
from sync_rules.run_status import worst_status

REASONS_SHOWN = 3
RUNNING = "running"
FINISHING = "finishing"
"""The status shown for a run that has ended but whose records' results are not all in the log yet."""
ENTRY_PER_RECORD_SERVICES = frozenset({"mapper", "pusher"})
"""The services whose runs report every record's outcome as an activity-log entry (the connector counts
the records it could not read without an entry of each)."""
_NOT_APPLIED = (RecordOutcome.SKIPPED, RecordOutcome.FAILED)
ENTRY_COLUMNS = (
    "event_id", "run_id", "source_topic", "object", "direction", "match_key", "pipedrive_id", "abm_id",
    "outcome", "message", "tokens_spent", "occurred_at", "name",
)  # fmt: skip
"""An entry's fields as the API (and its CSV) shows them (`name`: the record's name or deal title, last
so that the CSV's earlier columns keep their places)."""
Position = tuple[datetime, str]
"""Where a page starts: (time, run id or event id)."""


@dataclass(frozen=True)
class RunFilter:
    """Which runs a list shows: of a status, a service, a kind, started at or after `started_since` and
    before `started_before`."""

    status: str | None = None
    service: str | None = None
    kind: str | None = None
    started_since: datetime | None = None
    started_before: datetime | None = None


@dataclass(frozen=True)
class Reason:
    """How many records of a run ended with one outcome for one reason."""

    outcome: RecordOutcome
    reason: str
    records: int


@dataclass(frozen=True)
class LiveTally:
    """A run's entries counted so far: outcomes, tokens, and its most frequent skip and failure reasons."""

    counts: RunCounts = field(default_factory=RunCounts)
    tokens: int = 0
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True)
class StoredRun:
    """A run as the activity log stored it from its producer's events: `own_status` as the producer
    reported it (None: it has not ended), `status` as shown (`shown_status`, kept with the run so that
    runs can be listed by it; None: running)."""

    run_id: str
    service: str
    kind: str
    direction: str
    objects: tuple[str, ...]
    trigger: str | None
    started_at: datetime
    finished_at: datetime | None
    counts: RunCounts
    tokens_spent: int
    own_status: RunStatus | None
    status: RunStatus | None
    message: str | None
    emitted: int | None = None
    applies_run_id: str | None = None
    retry_of: str | None = None


@dataclass(frozen=True)
class RunRelations:
    """What the activity log knows around a run: its entries' tally, its apply run, its retries."""

    tally: LiveTally = field(default_factory=LiveTally)
    apply_run: StoredRun | None = None
    apply_tally: LiveTally = field(default_factory=LiveTally)
    retried_by: tuple[str, ...] = ()


def shown_status(
    own: RunStatus | None, emitted: int | None, apply_status: RunStatus | None
) -> RunStatus | None:
    """The status the activity log shows (None: running): a run that has not ended is running, and so is
    one that emitted records its apply run has not finished applying; then the worse of the two."""
    if own is None or (emitted and apply_status is None):
        return None
    return worst_status(own, *([apply_status] if apply_status else []))


class ResultsToCome(NamedTuple):
    """How many of the records an ended run reported have no entry in the log yet: in all, and of those it
    reported failed (what a retry would leave out)."""

    records: int = 0
    failed: int = 0

    @property
    def pending(self) -> int:
        """How many entries the run is still waiting for (0: its results are all in the log)."""
        return max(self.records, self.failed)


def results_not_logged(run: StoredRun, tally: LiveTally) -> ResultsToCome:
    """How many of the records an ended mapper or pusher run reported have no entry in the log yet
    (`tally`: its entries counted so far; none are waited for of a run still running, nor of a connector
    run): a run's end and its records' results travel on different topics, so the end can come first. An
    entry more than reported (a record that failed twice, pushed again later) stands for no other."""
    if run.own_status is None or run.service not in ENTRY_PER_RECORD_SERVICES:
        return ResultsToCome()
    return ResultsToCome(
        records=max(0, run.counts.total - tally.counts.total),
        failed=max(0, run.counts.failed - tally.counts.failed),
    )


def merged_reasons(reasons: Iterable[Reason]) -> tuple[Reason, ...]:
    """The most frequent skip and failure reasons first, at most `REASONS_SHOWN`."""
    kept = [r for r in reasons if r.outcome in _NOT_APPLIED and r.reason]
    return tuple(sorted(kept, key=lambda r: (-r.records, r.outcome.value, r.reason))[:REASONS_SHOWN])


def reasons_message(counts: RunCounts, reasons: Sequence[Reason]) -> str | None:
    """In words, what was not applied and why: "92 skipped: Duplicate found; 3 failed: ..."."""
    parts = [f"{r.records} {r.outcome.value}: {r.reason}" for r in reasons]
    unexplained = counts.skipped + counts.failed - sum(r.records for r in reasons)
    if unexplained > 0 and parts:
        parts.append(f"{unexplained} more skipped or failed")
    elif unexplained > 0:
        parts += [f"{n} {o.value}" for o, n in ((o, getattr(counts, o.value)) for o in _NOT_APPLIED) if n]
    return "; ".join(parts) or None


def shown_message(
    status: RunStatus | None, own: str | None, counts: RunCounts, reasons: Sequence[Reason]
) -> str | None:
    """A Warning or Error run says why: its producer's message (a failure, a cancel) and its reasons; a
    running run, the reasons so far."""
    if status is RunStatus.SUCCESS:
        return own
    parts = [p for p in (own, reasons_message(counts, reasons)) if p]
    return ". ".join(parts) or None


def _counts_and_tokens(run: StoredRun, tally: LiveTally) -> tuple[RunCounts, int, int]:
    """What the producer reported once the run ended and its entries are all in the log; until then, its
    entries counted so far. Last, how many of its records' results are not in the log yet."""
    pending = results_not_logged(run, tally).pending
    if run.own_status is not None and not pending:
        return run.counts, run.tokens_spent, 0
    return tally.counts, max(run.tokens_spent, tally.tokens), pending


def present_run(run: StoredRun, around: RunRelations) -> dict[str, Any]:
    """The run as the API shows it (a connector run together with the apply run of its records)."""
    counts, tokens, pending = _counts_and_tokens(run, around.tally)
    reasons = around.tally.reasons
    ends = [run.finished_at]
    apply = around.apply_run
    if apply is not None:
        apply_counts, apply_tokens, apply_pending = _counts_and_tokens(apply, around.apply_tally)
        counts, tokens, pending = counts + apply_counts, tokens + apply_tokens, pending + apply_pending
        reasons = merged_reasons((*reasons, *around.apply_tally.reasons))
        ends.append(apply.finished_at)
    status = run.status if not pending else None
    finished_at = max((at for at in ends if at is not None), default=None) if status else None
    return {
        "run_id": run.run_id,
        "service": run.service,
        "kind": run.kind,
        "direction": run.direction,
        "objects": list(run.objects),
        "trigger": run.trigger,
        "started_at": run.started_at.isoformat(),
        "finished_at": finished_at.isoformat() if finished_at else None,
        **counts.model_dump(),
        "emitted": run.emitted,
        "tokens_spent": tokens,
        "status": status.value if status else (FINISHING if pending else RUNNING),
        "results_pending": pending,
        "message": shown_message(status, run.message, counts, reasons),
        "links": {
            "applies_run_id": run.applies_run_id,
            "apply_run_id": apply.run_id if apply else None,
            "retry_of": run.retry_of,
            "retried_by": list(around.retried_by),
        },
    }
