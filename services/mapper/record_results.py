"""Record results as messages: the `psync.record.applied` event of one planned change (pure).

`record_result_message` is the message of one change's result; `result_message_of` builds the same
bytes straight as JSON (no pydantic model per record: the models' construction and serialization cost
more than planning the change), and a unit test compares the two for every outcome and optional value.
Their ids derive from the applied event's id, so a result built again is byte-identical.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Any

from mapper.planning import Plan
from schemas import sources
from schemas.catalog import build_event, event_type
from schemas.codec import encode_envelope, envelope_time
from schemas.envelope import CloudEvent, deterministic_event_id
from schemas.events.common import SyncObject
from schemas.events.record_results import RecordApplied
from schemas.events.source_changes import SourceChange
from schemas.keys import record_key
from schemas.topics import RECORD_RESULTS
from stream_runner.messages import OutgoingMessage

NO_KEY = "-"
"""The match key of a result whose change had no usable one."""

_APPLIED = event_type("psync.record.applied").name
_NAME_KEYS = {SyncObject.ORGANIZATION: "name", SyncObject.PERSON: "name", SyncObject.DEAL: "title"}


@lru_cache(maxsize=256)
def time_text(moment: datetime) -> str:
    """`envelope_time` of an event's time, kept for the next results: a connector run stamps every change
    of an import page (or of a run) with one time, and its text through pydantic costs about 1.5 µs, a
    look-up here about 0.1. Aware times equal as instants (whatever their offsets) are one key and have
    one text (in UTC); an event's time is always aware."""
    return envelope_time(moment)


def record_name(change: SourceChange) -> str | None:
    """The name of the changed record (a deal's title), for the activity log to show which record a result
    is about when its match key does not say (`-`); None when the change carries no record."""
    record = change.record
    if record is None:
        return None
    name = record.get(_NAME_KEYS[change.object])
    return name if isinstance(name, str) and name else None


def record_result_message(
    event: CloudEvent[Any], change: SourceChange, plan: Plan, run_id: str | None
) -> OutgoingMessage:
    """The result of one change, through the event models (the reference the fast path is held to)."""
    match_key = plan.match_key or NO_KEY
    result = RecordApplied.model_construct(
        object=change.object,
        match_key=match_key,
        pipedrive_id=change.pipedrive_id,
        abm_id=plan.abm_id,
        outcome=plan.outcome,
        message=plan.message,
        run_id=run_id,
        name=record_name(change),
    )
    outgoing = build_event(
        result,
        tenant=event.tenantid,
        subject=record_key(event.tenantid, change.object, match_key),
        source=sources.MAPPER,
        id_parts=(event.id, "applied"),
        time=event.time,
        correlationid=event.correlationid,
        causationid=event.id,
        validate=False,
    )
    return OutgoingMessage.of_event(RECORD_RESULTS.name, outgoing)


def result_message_of(
    event: CloudEvent[Any], change: SourceChange, plan: Plan, run_id: str | None
) -> OutgoingMessage:
    """`record_result_message`'s bytes, built as JSON: every value comes from the validated change and
    the plan, absent optional values are left out as `exclude_none` leaves them out."""
    tenant, match_key, event_id = event.tenantid, plan.match_key or NO_KEY, event.id
    subject = record_key(tenant, change.object, match_key)
    # The enums as they are: orjson writes a StrEnum as its value (`.value` is a Python-level property).
    data: dict[str, Any] = {"object": change.object, "match_key": match_key}
    if change.pipedrive_id is not None:
        data["pipedrive_id"] = change.pipedrive_id
    if plan.abm_id is not None:
        data["abm_id"] = plan.abm_id
    data["outcome"] = plan.outcome
    if plan.message is not None:
        data["message"] = plan.message
    if run_id is not None:
        data["run_id"] = run_id
    name = record_name(change)
    if name is not None:
        data["name"] = name
    value = encode_envelope(
        event_id=deterministic_event_id(_APPLIED, tenant, event_id, "applied"),
        source=sources.MAPPER,
        event_type=_APPLIED,
        time=time_text(event.time),
        subject=subject,
        tenant=tenant,
        data=data,
        correlationid=event.correlationid,
        causationid=event_id,
    )
    return OutgoingMessage(RECORD_RESULTS.name, subject, value)
