"""A batch's handling in one pass (`handlers.handled_and_runs`): each change applied now gets its plan's
result, a redelivery its saved results; each run's changes applied now are counted and placed in the
batch's order, and changes of no run or redelivered are in neither."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from mapper.handlers import handled_and_runs, result_run_id
from mapper.planning import Plan, PlanKind
from mapper.record_results import result_message_of
from mapper.source_changes_apply import Applied
from schemas.catalog import build_event
from schemas.codec import decode_event
from schemas.envelope import CloudEvent
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from schemas.topics import SOURCE_CHANGES
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage

AT = datetime(2026, 11, 1, 9, 30, 15, tzinfo=UTC)


def _item(tenant: str, pipedrive_id: int, run: str | None) -> tuple[CloudEvent[Any], IncomingMessage]:
    change = SourceChange(
        object=SyncObject.ORGANIZATION,
        pipedrive_id=pipedrive_id,
        action=ChangeAction.UPSERTED,
        update_time=AT,
        record={"id": pipedrive_id, "name": f"Org {pipedrive_id}"},
        origin=ChangeOrigin.IMPORT,
    )
    key = source_change_key(tenant, SyncObject.ORGANIZATION, pipedrive_id)
    event = build_event(
        change, tenant=tenant, subject=key, source="/connector", id_parts=(key,), time=AT, correlationid=run
    )
    value = orjson.dumps(event.model_dump(mode="json", exclude_none=True))
    return decode_event(SOURCE_CHANGES.name, value), IncomingMessage(
        SOURCE_CHANGES.name, 0, pipedrive_id, key.encode(), value
    )


CREATED = Plan(PlanKind.CREATE, RecordOutcome.CREATED, "a.com", "abm-1", {"name": "A"})
SKIPPED = Plan(PlanKind.SKIP, RecordOutcome.SKIPPED, None, None, message="No usable match key")
SAVED = [OutgoingMessage("psync.record-results.v1", "acme:organization:a.com", b"{}")]


def test_each_change_gets_its_result_and_each_run_its_outcomes_and_positions_in_order() -> None:
    items = [
        _item("acme", 1, "run-1"),
        _item("acme", 2, "run-2"),
        _item("acme", 3, "run-1"),  # redelivered: its saved results, in no run's count
        _item("acme", 4, None),  # no run: a result, in no run's count
        _item("beta", 5, "run-1"),  # another tenant's run of the same id
        _item("acme", 6, "run-1"),
    ]
    applied = [
        Applied(CREATED, []), Applied(SKIPPED, []), Applied(None, SAVED), Applied(CREATED, []),
        Applied(SKIPPED, []), Applied(CREATED, []),
    ]  # fmt: skip

    handled, runs = handled_and_runs(items, applied)

    expected = [
        Handled(outputs=SAVED, duplicate=True)
        if one.plan is None
        else Handled(outputs=[result_message_of(event, event.data, one.plan, result_run_id(event))])
        for (event, _), one in zip(items, applied, strict=True)
    ]
    assert handled == expected
    assert handled[0].outputs[0].value != handled[5].outputs[0].value
    assert runs.positions == {("acme", "run-1"): [0, 5], ("acme", "run-2"): [1], ("beta", "run-1"): [4]}
    assert runs.outcomes == [
        (("acme", "run-1"), RecordOutcome.CREATED),
        (("acme", "run-2"), RecordOutcome.SKIPPED),
        (("beta", "run-1"), RecordOutcome.SKIPPED),
        (("acme", "run-1"), RecordOutcome.CREATED),
    ]


def test_a_batch_of_redeliveries_counts_no_run() -> None:
    items = [_item("acme", 1, "run-1"), _item("acme", 2, "run-1")]
    handled, runs = handled_and_runs(items, [Applied(None, SAVED), Applied(None, [])])
    assert handled == [Handled(outputs=SAVED, duplicate=True), Handled(outputs=[], duplicate=True)]
    assert runs.positions == {}
    assert runs.outcomes == []
