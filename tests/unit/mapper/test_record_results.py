"""The mapper's record results built straight as JSON are the bytes of the event models' path, for every
outcome and every optional value present or absent: a result built again (a redelivery, a replay) is
byte-identical whichever path built it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from mapper.planning import Plan, PlanKind
from mapper.record_results import record_result_message, result_message_of, time_text
from schemas.catalog import build_event
from schemas.codec import decode_event
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import RECORD_RESULTS, SOURCE_CHANGES

AT = datetime(2026, 11, 1, 9, 30, 15, tzinfo=UTC)


def _change_event(
    obj: SyncObject, *, correlationid: str | None, time: datetime, tenant: str = "acme"
) -> CloudEvent[Any]:
    """A source change as the mapper has it: validated from its wire form."""
    change = SourceChange(
        object=obj,
        pipedrive_id=42,
        action=ChangeAction.UPSERTED,
        update_time=AT,
        record={"id": 42, "name": "Zürich AG ✓"},
        origin=ChangeOrigin.IMPORT,
    )
    key = source_change_key(tenant, obj, 42)
    event = build_event(
        change, tenant=tenant, subject=key, source="/connector", id_parts=(key,), time=time,
        correlationid=correlationid,
    )  # fmt: skip
    return decode_event(SOURCE_CHANGES.name, orjson.dumps(event.model_dump(mode="json", exclude_none=True)))


PLANS = [
    Plan(PlanKind.CREATE, RecordOutcome.CREATED, "acme.com", "abm-1", {"name": "A"}),
    Plan(PlanKind.UPDATE, RecordOutcome.UNCHANGED, "acme.com", "abm-1", {}, "No changes"),
    Plan(PlanKind.SKIP, RecordOutcome.SKIPPED, None, None, message="No usable match key"),
    Plan(PlanKind.SKIP, RecordOutcome.SKIPPED, "bücher.de", None, message='Duplicate: ümlaut "quoted"'),
    Plan(PlanKind.SKIP, RecordOutcome.FAILED, message="Could not be applied: ValueError"),
    Plan(PlanKind.MARK_DELETED, RecordOutcome.UPDATED, None, "abm-2", message="Deleted in CRM"),
]
TIMES = [
    AT,
    AT.replace(microsecond=123456),
    datetime(2026, 11, 1, 11, 0, tzinfo=timezone(timedelta(hours=2))),
]


@pytest.mark.parametrize("plan", PLANS)
@pytest.mark.parametrize("obj", list(SyncObject))
@pytest.mark.parametrize("correlationid", ["run-1", None])
@pytest.mark.parametrize("run_id", ["apply-run-1", None])
@pytest.mark.parametrize("time", TIMES)
def test_a_result_built_as_json_is_byte_identical_to_the_models_path(
    plan: Plan, obj: SyncObject, correlationid: str | None, run_id: str | None, time: datetime
) -> None:
    event = _change_event(obj, correlationid=correlationid, time=time)

    fast = result_message_of(event, event.data, plan, run_id)

    assert fast == record_result_message(event, event.data, plan, run_id)
    assert fast.topic == RECORD_RESULTS.name


def test_results_of_changes_stamped_with_one_instant_carry_its_text_whatever_its_offset() -> None:
    # The time texts are kept by instant: a later change at the same instant written in another offset
    # gets the text of the instant (in UTC), byte-identical to the models' path.
    in_utc = AT.replace(microsecond=881138)
    in_berlin = in_utc.astimezone(timezone(timedelta(hours=1)))
    for time in (in_utc, in_berlin, in_utc, in_berlin + timedelta(microseconds=1)):
        event = _change_event(SyncObject.ORGANIZATION, correlationid="run-1", time=time)
        fast = result_message_of(event, event.data, PLANS[0], "apply-run-1")
        assert fast == record_result_message(event, event.data, PLANS[0], "apply-run-1")
    assert time_text(in_berlin) == time_text(in_utc) == "2026-11-01T09:30:15.881138Z"
    assert time_text(in_berlin + timedelta(microseconds=1)) == "2026-11-01T09:30:15.881139Z"


def test_a_result_is_a_valid_record_applied_event_keyed_by_its_record() -> None:
    event = _change_event(SyncObject.ORGANIZATION, correlationid="run-1", time=AT)

    message = result_message_of(event, event.data, PLANS[0], "apply-run-1")

    decoded = decode_event(RECORD_RESULTS.name, message.value)
    assert message.key == decoded.subject == "acme:organization:acme.com"
    assert decoded.causationid == event.id
    assert decoded.data.model_dump(mode="json", exclude_none=True) == {
        "object": "organization", "match_key": "acme.com", "pipedrive_id": 42, "abm_id": "abm-1",
        "outcome": "created", "run_id": "apply-run-1", "name": "Zürich AG ✓",
    }  # fmt: skip
