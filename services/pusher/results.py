"""The pusher's output events: one `psync.push-results.v1` per record, and the runs of manual batches."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from schemas import sources
from schemas.catalog import build_event
from schemas.envelope import CloudEvent
from schemas.events.common import Direction, RecordOutcome, SyncObject
from schemas.events.push import PushCompleted, WrittenVersion
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStarted
from schemas.keys import record_key, run_key
from schemas.topics import PUSH_RESULTS, SYNC_RUNS
from stream_runner.messages import OutgoingMessage
from sync_rules.run_status import run_status

SERVICE = "pusher"
NO_KEY = "-"


def result_message(
    cause: CloudEvent[Any],
    result: PushCompleted,
    *,
    time: datetime,
    step: str = "pushed",
) -> OutgoingMessage:
    """The result of one record, keyed `tenant:object:match_key`, with an id derived from its cause and
    the step that ended it (a push that gave up and is re-driven later reports again, under a new id)."""
    event = build_event(
        result,
        tenant=cause.tenantid,
        subject=record_key(cause.tenantid, result.object, result.match_key),
        source=sources.PUSHER,
        id_parts=(cause.id, result.object.value, result.match_key, step),
        time=time,
        correlationid=result.run_id,
        causationid=cause.id,
    )
    return OutgoingMessage.of_event(PUSH_RESULTS.name, event)


def written_version(
    outcome: RecordOutcome, record: Mapping[str, Any] | None, body: Mapping[str, Any]
) -> WrittenVersion | None:
    """The version a create or update left in Pipedrive: each field of the body as Pipedrive answered it
    (custom fields: the codes written), and the record's update time. None when nothing was written or the
    answer has no update time (then the mapper learns the values from the write's echo)."""
    if outcome not in (RecordOutcome.CREATED, RecordOutcome.UPDATED) or not record or not body:
        return None
    update_time = record.get("update_time")
    if not isinstance(update_time, str):
        return None
    values = {key: record.get(key) for key in body if key != "custom_fields"}
    if isinstance(body.get("custom_fields"), Mapping):
        answered = record.get("custom_fields") or {}
        values["custom_fields"] = {code: answered.get(code) for code in body["custom_fields"]}
    return WrittenVersion(update_time=datetime.fromisoformat(update_time), values=values)


def run_started_message(
    tenant: str,
    run_id: str,
    objects: tuple[SyncObject, ...],
    started_at: datetime,
    kind: RunKind,
    retry_of: str | None = None,
) -> OutgoingMessage:
    """The start of a manual push batch (or an auto-push window; `retry_of`: the run it retries)."""
    trigger = "retry" if retry_of else "manual" if kind is RunKind.PUSH else "auto_push"
    started = RunStarted(
        run_id=run_id, service=SERVICE, kind=kind, direction=Direction.TO_PIPEDRIVE, objects=objects,
        started_at=started_at, trigger=trigger, retry_of=retry_of,
    )  # fmt: skip
    event = build_event(
        started, tenant=tenant, subject=run_key(tenant, run_id), source=sources.PUSHER,
        id_parts=(run_id, "started"), time=started_at, correlationid=run_id,
    )  # fmt: skip
    return OutgoingMessage.of_event(SYNC_RUNS.name, event)


def run_finished_message(
    tenant: str,
    run_id: str,
    objects: tuple[SyncObject, ...],
    started_at: datetime,
    finished_at: datetime,
    counts: RunCounts,
    tokens: int,
    kind: RunKind = RunKind.PUSH,
) -> OutgoingMessage:
    """The end of a manual push batch (or an auto-push window), with its counts and tokens spent."""
    finished = RunFinished(
        run_id=run_id, service=SERVICE, kind=kind, direction=Direction.TO_PIPEDRIVE,
        objects=objects, started_at=started_at, finished_at=finished_at, counts=counts,
        tokens_spent=tokens, status=run_status(counts),
    )  # fmt: skip
    event = build_event(
        finished, tenant=tenant, subject=run_key(tenant, run_id), source=sources.PUSHER,
        id_parts=(run_id, "finished"), time=finished_at, correlationid=run_id,
    )  # fmt: skip
    return OutgoingMessage.of_event(SYNC_RUNS.name, event)
