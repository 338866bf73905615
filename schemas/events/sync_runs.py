"""`psync.sync-runs.v1`: the start and the end of every run (sync, import, push batch, auto-push window)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events.common import Direction, SyncObject


class RunKind(StrEnum):
    """What kind of work a run is."""

    SYNC = "sync"
    IMPORT = "import"
    PUSH = "push"
    AUTO_PUSH = "auto_push"
    APPLY = "apply"
    WEBHOOK = "webhook"  # the changes webhooks brought to a tenant in one hour


class RunStatus(StrEnum):
    """The activity log's three outcomes (decided by `sync_rules.run_status`, nowhere else)."""

    SUCCESS = "Success"  # every record applied or unchanged
    WARNING = "Warning"  # some records skipped or failed, or the run was cancelled
    ERROR = "Error"  # the run failed, or every record failed


APPLY_RUN_PREFIX = "apply-"


def apply_run_id(source_run_id: str) -> str:
    """The id of the apply run of a connector run (the mapper's report of what its records became)."""
    return f"{APPLY_RUN_PREFIX}{source_run_id}"


def applied_run_id(run_id: str) -> str | None:
    """The connector run an apply run's id names, or None when it is not an apply run's id."""
    return run_id.removeprefix(APPLY_RUN_PREFIX) if run_id.startswith(APPLY_RUN_PREFIX) else None


RETRY_RUN_PREFIX = "retry"


def retry_run_id(first_run_id: str, attempt: int) -> str:
    """The id of the `attempt`-th retry of a run's failed records: the same for the same attempt, so a
    retry asked for twice (a double click) is one run wherever it is worked."""
    return f"{RETRY_RUN_PREFIX}{attempt}-{first_run_id}"


class RunCounts(BaseModel):
    """Per-record outcome counts of a run."""

    model_config = ConfigDict(frozen=True)

    created: int = Field(default=0, ge=0)
    updated: int = Field(default=0, ge=0)
    unchanged: int = Field(default=0, ge=0, description="Already up to date: nothing was written.")
    skipped: int = Field(default=0, ge=0, description="Not applied, for a reason the entry gives.")
    failed: int = Field(default=0, ge=0)

    @property
    def total(self) -> int:
        """How many records have an outcome."""
        return self.created + self.updated + self.unchanged + self.skipped + self.failed

    def __add__(self, other: RunCounts) -> RunCounts:
        return RunCounts(
            created=self.created + other.created,
            updated=self.updated + other.updated,
            unchanged=self.unchanged + other.unchanged,
            skipped=self.skipped + other.skipped,
            failed=self.failed + other.failed,
        )


class RunStarted(BaseModel):
    """A run began."""

    model_config = ConfigDict(frozen=True)

    run_id: str = Field(min_length=1)
    service: str = Field(min_length=1)
    kind: RunKind
    direction: Direction
    objects: tuple[SyncObject, ...]
    started_at: AwareDatetime
    trigger: str = Field(default="schedule", description="schedule, manual, webhook, auto_push, ...")
    applies_run_id: str | None = Field(
        default=None, description="For an apply run: the connector run whose records it applies."
    )
    retry_of: str | None = Field(
        default=None, description="For a retry: the run whose failed records it retries."
    )


class RunFinished(BaseModel):
    """A run ended, with its counts, the tokens it spent and its status."""

    model_config = ConfigDict(frozen=True)

    run_id: str = Field(min_length=1)
    service: str = Field(min_length=1)
    kind: RunKind
    direction: Direction
    objects: tuple[SyncObject, ...]
    started_at: AwareDatetime
    finished_at: AwareDatetime
    counts: RunCounts
    tokens_spent: int = Field(default=0, ge=0)
    status: RunStatus
    message: str | None = Field(
        default=None,
        description="Why the run ended as it did, when it failed or was cancelled (for example"
        " the standard message `Invalid API key`).",
    )
    emitted: int | None = Field(
        default=None,
        ge=0,
        description="For runs that emit source changes (the connector's): how many it emitted, so that"
        " the mapper knows when it has applied the whole run.",
    )
    applies_run_id: str | None = Field(
        default=None, description="For an apply run: the connector run whose records it applies."
    )
    retry_of: str | None = Field(
        default=None, description="For a retry: the run whose failed records it retries."
    )
