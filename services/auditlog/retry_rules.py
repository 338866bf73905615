"""The rule of a retry, as values: which run's failed records are retried, by which service, how.

The activity log knows every run and its failed records, but not how to redo them: reading Pipedrive is
the connector's, writing it the pusher's. So a retry is a request to the service that did the work, for
exactly the records that failed, under a run id both sides derive from the first run and the attempt
(`schemas.events.sync_runs.retry_run_id`):

- an inbound run (a connector sync, import or webhook window, or the mapper's apply run of one) is
  retried by the connector, which re-reads those Pipedrive records by id and emits them as a new run
  (`POST /v1/retries` on the connector); the mapper applies it as it applies every connector run;
- an outbound run (a manual push or an auto-push window) is retried by the pusher, which re-pushes those
  ABM records as the ABM store holds them now (`POST /v1/push` with `retry`).

A record that cannot be named to that service (an inbound entry without a Pipedrive id, an outbound one
without an ABM id) is left out and counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from auditlog.run_views import LiveTally, StoredRun, results_not_logged
from schemas.events.sync_runs import RunKind, apply_run_id, retry_run_id

MAX_RECORDS = 1000
"""At most this many records per retry (a manual push's limit); the answer counts those left out."""
INBOUND_KINDS = {RunKind.SYNC.value, RunKind.IMPORT.value, RunKind.WEBHOOK.value}
OUTBOUND_KINDS = {RunKind.PUSH.value, RunKind.AUTO_PUSH.value}


class NotRetriable(Exception):
    """The run's failed records cannot be retried; `status` and `code` are the API's answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code = status, code


class RetryUndeliverable(Exception):
    """The service that works the retry did not answer as its API says."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"The {service} could not take the retry: {detail}")
        self.service = service


@dataclass(frozen=True)
class Refusal:
    """The service refused the retry with a JSON error (its status, code and message)."""

    status: int
    code: str
    message: str


@dataclass(frozen=True)
class FailedRecord:
    """A record that failed in a run, as its entry names it."""

    object: str
    pipedrive_id: int | None
    abm_id: str | None


@dataclass(frozen=True)
class RetryWork:
    """What to ask of which service, and the run the retry will be."""

    service: str
    path: str
    body: dict[str, Any]
    run_id: str
    retry_of: str
    kind: str
    direction: str
    objects: tuple[str, ...]
    records: int
    left_out: int


def first_run_of(run: StoredRun) -> str:
    """The run a retry of `run` retries: an apply run's connector run (the two are one piece of work)."""
    return run.applies_run_id or run.run_id


def runs_holding_failures(first_run_id: str) -> tuple[str, ...]:
    """The runs whose entries are the failed records of a first run: its own and its apply run's."""
    return (first_run_id, apply_run_id(first_run_id))


def is_inbound(run: StoredRun) -> bool:
    """Records read from Pipedrive: a connector run, or the mapper's apply run of one."""
    return (run.service == "connector" and run.kind in INBOUND_KINDS) or run.applies_run_id is not None


def is_outbound(run: StoredRun) -> bool:
    """Records written into Pipedrive by the pusher."""
    return run.service == "pusher" and run.kind in OUTBOUND_KINDS


def failures_not_logged_yet(runs: Sequence[StoredRun], tallies: Mapping[str, LiveTally]) -> int:
    """How many failed records the ended runs among `runs` reported that the log holds no entry of yet
    (`run_views.results_not_logged`, by which such a run is shown `finishing`): a retry decided then would
    leave those records out."""
    return sum(results_not_logged(run, tallies.get(run.run_id, LiveTally())).failed for run in runs)


def retry_work(run: StoredRun, failed: Sequence[FailedRecord], attempt: int) -> RetryWork:
    """The retry of `run`'s failed records as its `attempt`-th retry; NotRetriable when there is none."""
    if not failed:
        raise NotRetriable(409, "nothing_to_retry", f"Run {run.run_id} has no failed records to retry.")
    if is_inbound(run):
        return _inbound(run, failed, attempt)
    if is_outbound(run):
        return _outbound(run, failed, attempt)
    raise NotRetriable(
        422, "not_retriable", f"Runs of kind {run.kind} of the {run.service} cannot be retried."
    )


def _inbound(run: StoredRun, failed: Sequence[FailedRecord], attempt: int) -> RetryWork:
    first = first_run_of(run)
    named = sorted({(r.object, r.pipedrive_id) for r in failed if r.pipedrive_id is not None})
    if not named:
        raise NotRetriable(
            422, "not_retriable", "None of the failed records names its Pipedrive record: nothing to re-read."
        )
    chosen = named[:MAX_RECORDS]
    return RetryWork(
        service="connector",
        path="/v1/retries",
        body={
            "retry": {"of": first, "attempt": attempt},
            "records": [{"object": o, "pipedrive_id": i} for o, i in chosen],
        },
        run_id=retry_run_id(first, attempt),
        retry_of=first,
        kind=RunKind.IMPORT.value if run.kind == RunKind.IMPORT.value else RunKind.SYNC.value,
        direction="to_abm",
        objects=tuple(sorted({o for o, _ in chosen})),
        records=len(chosen),
        left_out=len(failed) - len(chosen),
    )


def _outbound(run: StoredRun, failed: Sequence[FailedRecord], attempt: int) -> RetryWork:
    named = sorted({(r.object, r.abm_id) for r in failed if r.abm_id is not None})
    if not named:
        raise NotRetriable(
            422, "not_retriable", "None of the failed records names its ABM record: nothing to push again."
        )
    # A push is of one object: an auto-push window's other objects are left out (and counted).
    obj = named[0][0]
    chosen = [abm_id for o, abm_id in named if o == obj][:MAX_RECORDS]
    return RetryWork(
        service="pusher",
        path="/v1/push",
        body={
            "object": obj,
            "records": [{"abm_id": abm_id} for abm_id in chosen],
            "retry": {"of": run.run_id, "attempt": attempt},
        },
        run_id=retry_run_id(run.run_id, attempt),
        retry_of=run.run_id,
        kind=RunKind.PUSH.value,
        direction="to_pipedrive",
        objects=(obj,),
        records=len(chosen),
        left_out=len(failed) - len(chosen),
    )
