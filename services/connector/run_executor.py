"""Executing one run (sync or import): started/finished events on `psync.sync-runs.v1`, progress and
tokens checkpointed after every acknowledged page, a budget exhaustion parks the run until the reset,
429s outlasting the client's waits park it like an unexpected failure, a Pipedrive error ends it in Error
with the activity log's message."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from connector.change_scan import Relation
from connector.ports import RunLifecycle, RunProgress, SyncCursors
from connector.queued_runs import Run, RunKindName, RunState
from connector.record_versions import Version
from pipedrive_client import (
    BudgetExhausted,
    Clock,
    PipedriveClient,
    PipedriveClientFactory,
    PipedriveError,
    RateLimitExceeded,
)
from schemas import sources
from schemas.catalog import build_event
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted
from schemas.keys import run_key
from schemas.topics import SYNC_RUNS
from stream_runner.errors import is_transient
from stream_runner.messages import OutgoingMessage
from stream_runner.producer import Delivery, EventProducer
from sync_rules.run_status import RunEnd, run_status

SERVICE = "connector"
CANCELLED = "Cancelled by the admin"
ALL_OBJECTS = (SyncObject.ORGANIZATION, SyncObject.PERSON, SyncObject.DEAL)
_log = structlog.get_logger(__name__)


class RunCancelled(Exception):
    """The admin cancelled the run; it stops after the page in flight."""


class RunRefused(Exception):
    """The run cannot do what it was asked (an import's filter no longer fits the account): it ends in
    Error with this message, without retries."""


@dataclass(frozen=True)
class ReadOptions:
    """How runs read Pipedrive."""

    page_size: int = 500
    overlap_seconds: int = 120
    webhooks_scan_every_s: float = 86_400.0


@dataclass
class RunContext:
    """What a run's work needs: the run, the tenant's client, the cursors it reads and marks, and a way to
    emit and to store its progress with what it emitted (`progress`)."""

    run: Run
    client: PipedriveClient
    producer: EventProducer
    cursors: SyncCursors
    progress: RunProgress
    clock: Clock
    options: ReadOptions
    tokens_before: int
    staged_versions: list[tuple[SyncObject, Sequence[tuple[int, Version]]]] = field(default_factory=list)
    """Versions an import emitted since its last checkpoint, stored by the next one."""
    staged_new: bool = True
    """Whether no record of the staged versions had a stored version when its page was looked up."""

    @property
    def tenant(self) -> str:
        """The run's tenant."""
        return self.run.tenant_id

    def now(self) -> datetime:
        """The current time (of the injected clock)."""
        return datetime.fromtimestamp(self.clock.now(), UTC)

    async def emit(self, messages: Sequence[OutgoingMessage]) -> None:
        """Send and wait until Kafka acknowledged every message."""
        if messages:
            await self.producer.send_all(messages)

    async def hand_over(self, messages: Sequence[OutgoingMessage]) -> list[Delivery]:
        """Hand the messages to the producer; one delivery each, resolved when Kafka acknowledged it."""
        return await self.producer.enqueue(messages) if messages else []

    async def record_page(
        self,
        obj: SyncObject,
        versions: Sequence[tuple[int, Version]],
        *,
        deleted: bool = False,
        advance_to: datetime | None = None,
        relations: Mapping[int, Relation] | None = None,
    ) -> None:
        """Store an acknowledged page's versions (and what its records point to), the moved cursor and the
        run's counts and tokens in one transaction: after a crash either all of them hold, or none and the
        page is emitted again (same event ids) and counted once."""
        self.run.tokens_spent = self.tokens_before + self.client.tokens_spent
        await self.progress.record_page(
            self.run, obj, versions, deleted=deleted, advance_to=advance_to, relations=relations
        )

    def stage_versions(
        self, obj: SyncObject, versions: Sequence[tuple[int, Version]], *, new: bool = False
    ) -> None:
        """Keep acknowledged versions for the next checkpoint, which stores them with the position (`new`:
        none of their records had a stored version when the page was looked up)."""
        self.staged_versions.append((obj, versions))
        self.staged_new = self.staged_new and new

    async def checkpoint(self, first_emitted: Mapping[SyncObject, Sequence[int]] | None = None) -> None:
        """Store progress, counts and tokens, and with them, in one transaction, the staged versions and
        `first_emitted`: the ids the run emitted for the first time and must not emit again (an import's
        organizations and persons). Raise RunCancelled when the admin asked to stop."""
        self.run.tokens_spent = self.tokens_before + self.client.tokens_spent
        staged, self.staged_versions = self.staged_versions, []
        new, self.staged_new = self.staged_new and bool(staged), True
        if await self.progress.checkpoint(self.run, staged, first_emitted, new=new):
            raise RunCancelled()


Work = Callable[[RunContext], Awaitable[None]]

MAX_RUN_FAILURES = 5
"""Unexpected failures after which a run ends in Error."""


def retry_delay(failures: int) -> timedelta:
    """How long a run waits after its n-th unexpected failure: 30 s, doubling, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** (failures - 1), 3600))


def _objects(run: Run) -> tuple[SyncObject, ...]:
    names = run.spec.get("objects")
    return tuple(SyncObject(n) for n in names) if names else ALL_OBJECTS


class RunExecutor:
    """Runs one run to its end (or to a pause) and reports it."""

    def __init__(
        self,
        factory: PipedriveClientFactory,
        producer: EventProducer,
        runs: RunLifecycle,
        cursors: SyncCursors,
        progress: RunProgress,
        clock: Clock,
        options: ReadOptions,
        work: dict[RunKindName, Work],
    ) -> None:
        self._factory = factory
        self._producer = producer
        self._runs = runs
        self._cursors = cursors
        self._progress = progress
        self._clock = clock
        self._options = options
        self._work = work

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock.now(), UTC)

    async def work(self, run: Run) -> Run:
        """Carry the run as far as it goes now: to its end, or to a pause until the budget resets."""
        if run.cancel_requested:
            return await self._end(run, RunState.CANCELLED, RunEnd.CANCELLED, CANCELLED)
        interrupted = run.state is RunState.RUNNING
        # A run interrupted by a crash may have died before its start was reported: report it again
        # (same event id, consumers drop the repeat).
        if await self._runs.start(run, self._now()) or interrupted:
            await self._report_started(run)
        context = RunContext(
            run,
            self._factory.for_tenant(run.tenant_id),
            self._producer,
            self._cursors,
            self._progress,
            self._clock,
            self._options,
            run.tokens_spent,
        )
        try:
            await self._work[run.kind](context)
            await context.checkpoint()
        except BudgetExhausted as exhausted:
            context.run.tokens_spent = context.tokens_before + context.client.tokens_spent
            await self._runs.pause(run, datetime.fromtimestamp(exhausted.resume_at, UTC))
            _log.info("run_paused", tenant=run.tenant_id, run_id=run.run_id, resume_at=exhausted.resume_at)
            return run
        except RunCancelled:
            return await self._end(run, RunState.CANCELLED, RunEnd.CANCELLED, CANCELLED)
        except RateLimitExceeded as limited:
            # Pipedrive still answered 429 after the client's waits (a storm): the run goes on later from
            # its checkpoint, as after an unexpected failure, instead of ending the import in Error.
            run.tokens_spent = context.tokens_before + context.client.tokens_spent
            return await self._failed(run, limited)
        except RunRefused as refused:
            run.tokens_spent = context.tokens_before + context.client.tokens_spent
            return await self._end(run, RunState.FINISHED, RunEnd.FAILED, str(refused))
        except PipedriveError as failure:
            run.tokens_spent = context.tokens_before + context.client.tokens_spent
            return await self._end(run, RunState.FINISHED, RunEnd.FAILED, str(failure))
        except Exception as failure:
            if is_transient(failure):
                raise  # the world around the run (database, broker): the next tick takes it up again
            run.tokens_spent = context.tokens_before + context.client.tokens_spent
            return await self._failed(run, failure)
        return await self._end(run, RunState.FINISHED, RunEnd.COMPLETED, None)

    async def _failed(self, run: Run, failure: Exception) -> Run:
        """A run that failed unexpectedly is retried later, from where it stopped, with a growing delay;
        after `MAX_RUN_FAILURES` such failures it ends in Error, so it never loops unseen."""
        reason = f"{type(failure).__name__}: {failure}"[:300]
        failures = await self._runs.count_failure(run)
        _log.error("run_failed", tenant=run.tenant_id, run_id=run.run_id, failures=failures, exc_info=failure)
        if failures >= MAX_RUN_FAILURES:
            return await self._end(
                run, RunState.FINISHED, RunEnd.FAILED, f"Failed {failures} times: {reason}"
            )
        await self._runs.pause(run, self._now() + retry_delay(failures))
        return run

    async def _end(self, run: Run, state: RunState, end: RunEnd, message: str | None) -> Run:
        """Publish the run's end, then close it. In that order: a crash between the two leaves the run
        open, and the worker ends it again (an import has no page left to read, `pages_left`) and publishes
        the same event again, which consumers drop. Closed first, a crash there would lose the RunFinished
        for good: the mapper would never learn how many changes the run emitted and never report its
        apply run."""
        now = self._now()
        counts = published_counts(run)
        status = run_status(counts, end)
        started = run.started_at or now
        finished = RunFinished(
            run_id=run.run_id,
            service=SERVICE,
            kind=_run_kind(run),
            direction=Direction.TO_ABM,
            objects=_objects(run),
            started_at=started,
            finished_at=now,
            counts=counts,
            tokens_spent=run.tokens_spent,
            status=status,
            message=message,
            emitted=emitted_by(run),
            retry_of=run.spec.get("retry_of"),
        )
        await self._send_run_event(run, finished, "finished", now)
        await self._runs.finish(run, state, status.value, message, now)
        _log.info(
            "run_finished", tenant=run.tenant_id, run_id=run.run_id, status=status.value, message=message
        )
        return run

    async def _report_started(self, run: Run) -> None:
        assert run.started_at is not None
        started = RunStarted(
            run_id=run.run_id,
            service=SERVICE,
            kind=_run_kind(run),
            direction=Direction.TO_ABM,
            objects=_objects(run),
            started_at=run.started_at,
            trigger=run.trigger,
            retry_of=run.spec.get("retry_of"),
        )
        await self._send_run_event(run, started, "started", run.started_at)

    async def _send_run_event(
        self, run: Run, payload: RunStarted | RunFinished, phase: str, at: datetime
    ) -> None:
        event = build_event(
            payload,
            tenant=run.tenant_id,
            subject=run_key(run.tenant_id, run.run_id),
            source=sources.CONNECTOR,
            id_parts=(run.run_id, phase),
            time=at,
            correlationid=run.run_id,
        )
        await self._producer.send_all([OutgoingMessage.of_event(SYNC_RUNS.name, event)])


def emitted_by(run: Run) -> int:
    """How many source changes the run emitted: each is counted created (a record's first version) or
    updated (a later one) in the run's own reading counts."""
    return run.counts.created + run.counts.updated


def published_counts(run: Run) -> RunCounts:
    """The outcomes the connector itself decides: records it read but could not emit (failed). What
    became of the records it emitted is the apply run's to say (the mapper's), so the activity log shows
    one truth: its reading counts (first or later versions, overlap re-reads) are progress, not outcomes."""
    return RunCounts(failed=run.counts.failed)


def _run_kind(run: Run) -> RunKind:
    """The kind the activity log shows: a retry is of the kind of the run it retries."""
    if run.kind is RunKindName.RETRY:
        return RunKind(run.spec.get("as_kind", RunKind.SYNC.value))
    return RunKind.IMPORT if run.kind is RunKindName.IMPORT else RunKind.SYNC
