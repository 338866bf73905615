"""The connector's fast encoding of upserted records gives the bytes of the validated path, record for
record: the same event ids, the same JSON, so a page emitted again is byte-identical whichever path built
it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any

import pytest
from pydantic import AwareDatetime, TypeAdapter, ValidationError

from connector.source_events import (
    UpsertEncoder,
    record_digest,
    source_change_message,
    source_change_topic,
    sync_read_is_bulk,
    upserted,
)
from pipedrive_client.models import Deal, Organization, Person, Record
from pipedrive_client.rows import rows_of
from pipedrive_sandbox.config import SandboxConfig
from pipedrive_sandbox.state import build_state
from pipedrive_sandbox.store import Entity
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeOrigin, DuplicateHandling, ImportContext
from schemas.topics import BULK_SOURCE_CHANGES, SOURCE_CHANGES

NOW = datetime(2026, 11, 2, 8, 30, 15, 123456, tzinfo=UTC)
MODELS: dict[Entity, tuple[SyncObject, type[Record]]] = {
    Entity.ORGANIZATION: (SyncObject.ORGANIZATION, Organization),
    Entity.PERSON: (SyncObject.PERSON, Person),
    Entity.DEAL: (SyncObject.DEAL, Deal),
}
ODD_RECORDS: list[dict[str, Any]] = [
    {"id": 1, "name": "Zürich AG ✓", "website": None, "update_time": "2026-11-01T10:00:00+02:00"},
    {"id": 2, "name": "A", "custom_fields": {"a" * 40: None, "b" * 40: [1, 2.5, {"x": None}]},
     "address": {"value": "1 Rue", "country": None}, "update_time": "2026-11-01T10:00:00.750Z",
     "owner_id": 9, "unknown_attribute": {"nested": True}},
    {"id": 3, "name": "", "update_time": "2026-11-01T23:59:59Z", "value": 1e16},
]  # fmt: skip


def _bodies(entity: Entity) -> list[tuple[SyncObject, dict[str, Any], datetime]]:
    state = build_state(SandboxConfig(organizations=60, seed=7))
    obj, model = MODELS[entity]
    records = [model.model_validate(r.data) for r in state.tables[entity].live()]
    return [(obj, r.model_dump(mode="json"), r.update_time) for r in records if r.update_time is not None]


def _odd_bodies() -> list[tuple[SyncObject, dict[str, Any], datetime]]:
    records = [Organization.model_validate(r) for r in ODD_RECORDS]
    return [(SyncObject.ORGANIZATION, r.model_dump(mode="json"), r.update_time) for r in records]  # type: ignore[misc]


CASES = [*(_bodies(entity) for entity in Entity if entity in MODELS), _odd_bodies()]
CONTEXTS = [
    (
        ChangeOrigin.IMPORT,
        ImportContext(import_id="import-1", duplicate_handling=DuplicateHandling.UPDATE_EXISTING),
    ),
    (ChangeOrigin.POLL, None),
]


@pytest.mark.parametrize("bodies", CASES)
@pytest.mark.parametrize(("origin", "context"), CONTEXTS)
def test_an_encoded_upsert_is_byte_identical_to_the_validated_event(
    bodies: list[tuple[SyncObject, dict[str, Any], datetime]],
    origin: ChangeOrigin,
    context: ImportContext | None,
) -> None:
    assert bodies
    for obj, body, update_time in bodies:
        at = update_time.replace(microsecond=0)
        digest = record_digest(body)
        encoder = UpsertEncoder("acme", obj, origin, run_id="run-1", now=NOW, import_context=context)
        change = upserted(obj, body, at, origin, context)

        expected = source_change_message("acme", change, run_id="run-1", now=NOW, digest=digest)

        assert encoder.message(body, at, digest) == expected


PYDANTIC_UTC = TypeAdapter(AwareDatetime).validate_python("2026-01-01T00:00:00Z").tzinfo
ZONES = [UTC, PYDANTIC_UTC, timezone(timedelta(0), "GMT"), timezone(timedelta(hours=2))]


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize(
    "written",
    [None, 5, "", "2026-11-01T10:00:00Z", "2026-11-01T10:00:01Z", "2026-11-01T10:00:00+00:00",
     "2026-11-01T10:00:00.000Z", "2026-W44-7T10:00:00Z", "2026-11-01T10:00:00z", "0999-11-01T10:00:00Z"],
)  # fmt: skip
def test_the_time_as_written_or_as_the_update_time_gives_the_validated_event(
    zone: tzinfo, written: object
) -> None:
    at = datetime(2026, 11, 1, 10, tzinfo=UTC).astimezone(zone)
    body = {"id": 7, "name": "x", "update_time": written}
    encoder = UpsertEncoder("acme", SyncObject.ORGANIZATION, ChangeOrigin.POLL, run_id="r", now=NOW)
    change = upserted(SyncObject.ORGANIZATION, body, at, ChangeOrigin.POLL)

    expected = source_change_message("acme", change, run_id="r", now=NOW, digest=record_digest(body))

    assert encoder.message(body, at, record_digest(body)) == expected


@pytest.mark.parametrize(
    ("body", "update_time"),
    [
        ({"id": 0, "name": "x"}, datetime(2026, 1, 1, tzinfo=UTC)),
        ({"id": 5, "name": "x"}, datetime(2026, 1, 1)),
    ],
)
def test_a_record_the_contract_refuses_is_refused_as_by_the_validated_path(
    body: dict[str, Any], update_time: datetime
) -> None:
    encoder = UpsertEncoder("acme", SyncObject.ORGANIZATION, ChangeOrigin.POLL, run_id="run-1", now=NOW)

    with pytest.raises(ValidationError):
        encoder.message(body, update_time, record_digest(body))


def test_the_envelope_time_is_utc_whatever_zone_now_carries() -> None:
    body = {"id": 4, "name": "x"}
    at = datetime(2026, 1, 1, tzinfo=UTC)
    local_now = NOW.astimezone(timezone(timedelta(hours=-5)))
    encoder = UpsertEncoder("acme", SyncObject.ORGANIZATION, ChangeOrigin.POLL, run_id="r", now=local_now)
    change = upserted(SyncObject.ORGANIZATION, body, at, ChangeOrigin.POLL)

    expected = source_change_message("acme", change, run_id="r", now=local_now, digest=record_digest(body))

    assert encoder.message(body, at, record_digest(body)) == expected


@pytest.mark.parametrize("entity", list(MODELS))
def test_a_page_read_as_rows_encodes_to_the_events_its_models_gave(entity: Entity) -> None:
    obj, model = MODELS[entity]
    items = [r.data for r in build_state(SandboxConfig(organizations=30, seed=3)).tables[entity].live()]
    context = CONTEXTS[0][1]
    encoder = UpsertEncoder("acme", obj, ChangeOrigin.IMPORT, run_id="run-1", now=NOW, import_context=context)

    got = []
    for row in rows_of(model, items, "a page"):
        assert row.update_time is not None and row.plain_time  # the sandbox writes times as API v2 does
        got.append(
            encoder.message(
                row.values,
                row.update_time.replace(microsecond=0),
                record_digest(row.values),
                plain_time=row.plain_time,
            )
        )
    before = []
    for record in (model.model_validate(item) for item in items):
        assert record.update_time is not None
        body, at = record.model_dump(mode="json"), record.update_time.replace(microsecond=0)
        change = upserted(obj, body, at, ChangeOrigin.IMPORT, context)
        before.append(
            source_change_message("acme", change, run_id="run-1", now=NOW, digest=record_digest(body))
        )

    assert got and got == before


@pytest.mark.parametrize("entity", list(MODELS))
def test_a_page_encoded_in_one_loop_gives_the_validated_events_in_order(entity: Entity) -> None:
    obj, model = MODELS[entity]
    items = [r.data for r in build_state(SandboxConfig(organizations=30, seed=5)).tables[entity].live()]
    if entity is Entity.ORGANIZATION:
        items += ODD_RECORDS  # times with an offset or a fraction: encoded one by one, in their place
    rows = [row for row in rows_of(model, items, "a page") if row.update_time is not None]
    assert any(row.plain_time for row in rows)
    assert entity is not Entity.ORGANIZATION or any(not row.plain_time for row in rows)
    versions = [
        (
            row,
            (
                row.update_time if row.plain_time else row.update_time.replace(microsecond=0),
                record_digest(row.values),
            ),
        )
        for row in rows
        if row.update_time is not None
    ]
    context = CONTEXTS[0][1]
    encoder = UpsertEncoder("acme", obj, ChangeOrigin.IMPORT, run_id="run-1", now=NOW, import_context=context)

    expected = [
        source_change_message(
            "acme",
            upserted(obj, row.values, at, ChangeOrigin.IMPORT, context),
            run_id="run-1",
            now=NOW,
            digest=digest,
        )
        for row, (at, digest) in versions
    ]

    assert encoder.messages(versions) == expected


@pytest.mark.parametrize(
    ("origin", "bulk", "topic"),
    [
        (ChangeOrigin.IMPORT, False, BULK_SOURCE_CHANGES.name),
        (ChangeOrigin.POLL, True, BULK_SOURCE_CHANGES.name),  # a first sync reads the whole list
        (ChangeOrigin.POLL, False, SOURCE_CHANGES.name),
        (ChangeOrigin.WEBHOOK, False, SOURCE_CHANGES.name),
        (ChangeOrigin.RECONCILE, False, SOURCE_CHANGES.name),
    ],
)
def test_bulk_reads_go_to_the_bulk_topic_and_live_changes_to_the_live_one(
    origin: ChangeOrigin, bulk: bool, topic: str
) -> None:
    obj, body, update_time = _odd_bodies()[0]
    encoder = UpsertEncoder("t1", obj, origin, run_id="run-1", now=NOW, bulk=bulk)
    [row] = rows_of(Organization, [ODD_RECORDS[0]], "a page")
    change = upserted(obj, body, update_time, origin)

    assert source_change_topic(origin, bulk=bulk) == topic
    assert {m.topic for m in encoder.messages([(row, (update_time, record_digest(body)))])} == {topic}
    assert encoder.message(body, update_time, record_digest(body)).topic == topic
    validated = source_change_message("t1", change, run_id="run-1", now=NOW, bulk=bulk)
    assert validated.topic == topic


def test_a_syncs_first_read_of_an_object_and_a_resync_are_bulk_work_a_later_read_is_live() -> None:
    assert sync_read_is_bulk(None, "schedule")  # no cursor yet: the object's whole list
    assert sync_read_is_bulk(NOW, "resync")  # an operator's re-read from a time
    assert not sync_read_is_bulk(NOW, "schedule")
    assert not sync_read_is_bulk(NOW, "manual")
