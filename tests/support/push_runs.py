"""A push run as the pusher publishes it (its own builders), for tests of how the activity log shows it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from pusher.results import result_message, run_finished_message, run_started_message
from schemas.codec import decode_event
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.sync_runs import RunCounts, RunKind
from schemas.topics import SYNC_RUNS
from stream_runner.messages import OutgoingMessage


@dataclass(frozen=True)
class PushRunMessages:
    """A push run's start and end (the runs topic) and its records' results (the push results topic)."""

    run_id: str
    started: OutgoingMessage
    finished: OutgoingMessage
    results: list[OutgoingMessage]


def push_run_of_failures(tenant: str, failed: int) -> PushRunMessages:
    """A push run of organizations that ended with `failed` records refused by Pipedrive, one result each."""
    run_id = f"push-early-{uuid.uuid4().hex[:8]}"
    objects, now = (SyncObject.ORGANIZATION,), datetime.now(UTC)
    started = run_started_message(tenant, run_id, objects, now, RunKind.PUSH)
    finished = run_finished_message(tenant, run_id, objects, now, now, RunCounts(failed=failed), 0)
    cause = decode_event(SYNC_RUNS.name, started.value)
    results = [
        result_message(
            cause,
            PushCompleted(
                object=SyncObject.ORGANIZATION, match_key=f"early-{n}.io", abm_id=f"acc-{n}",
                outcome=RecordOutcome.FAILED, message="Pipedrive refused the record", run_id=run_id,
            ),
            time=now,
        )
        for n in range(failed)
    ]  # fmt: skip
    return PushRunMessages(run_id, started, finished, results)
