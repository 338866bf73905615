"""A connector run (a sync, an import, a retry) as the scheduler queues and works it: queued, running,
paused until a budget reset, finished or cancelled, with its progress, counts and tokens (stored by
`run_store`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

RESYNC_TRIGGER = "resync"
"""The trigger of the sync `psyncctl resync` queues: an operator's re-read of a tenant from a time."""


class RunKindName(StrEnum):
    """What a connector run does."""

    SYNC = "sync"
    IMPORT = "import"
    RETRY = "retry"  # the failed records of an earlier run, read again by id (connector.record_rereads)


class RunState(StrEnum):
    """Where a run is in its life."""

    QUEUED = "queued"
    RUNNING = "running"
    PAUSED = "paused"
    FINISHED = "finished"
    CANCELLED = "cancelled"


@dataclass
class Counts:
    """Per-record outcomes of a run, as the activity log counts them."""

    created: int = 0
    updated: int = 0
    skipped: int = 0
    failed: int = 0

    def as_json(self) -> dict[str, int]:
        """The counts as stored and published."""
        return {
            "created": self.created,
            "updated": self.updated,
            "skipped": self.skipped,
            "failed": self.failed,
        }


@dataclass
class Run:
    """One run as stored."""

    tenant_id: str
    run_id: str
    kind: RunKindName
    trigger: str
    state: RunState
    spec: dict[str, Any]
    progress: dict[str, Any]
    counts: Counts
    tokens_spent: int
    status: str | None = None
    message: str | None = None
    cancel_requested: bool = False
    resume_at: datetime | None = None
    queued_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The run as the API shows it."""

        def stamp(moment: datetime | None) -> str | None:
            return moment.isoformat() if moment else None

        return {
            "run_id": self.run_id,
            "kind": self.kind.value,
            "trigger": self.trigger,
            "state": self.state.value,
            "spec": self.spec,
            "progress": self.progress,
            "counts": self.counts.as_json(),
            "tokens_spent": self.tokens_spent,
            "status": self.status,
            "message": self.message,
            "cancel_requested": self.cancel_requested,
            "resume_at": stamp(self.resume_at),
            "queued_at": stamp(self.queued_at),
            "started_at": stamp(self.started_at),
            "finished_at": stamp(self.finished_at),
        }
