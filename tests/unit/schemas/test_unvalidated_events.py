"""Hot-path shortcuts give exactly what the plain paths give: unvalidated events, event ids."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta, timezone

import orjson
import pytest

from schemas.catalog import build_event
from schemas.codec import EnvelopeTemplate, decode_event, encode_envelope, encode_event, envelope_time
from schemas.envelope import deterministic_event_id, event_id_of_name
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.record_results import RecordApplied
from schemas.events.source_changes import (
    ChangeAction,
    ChangeOrigin,
    DuplicateHandling,
    ImportContext,
    SourceChange,
)
from schemas.topics import RECORD_RESULTS

FIELDS = [
    {"object": SyncObject.ORGANIZATION, "match_key": "acme.io", "pipedrive_id": 7, "abm_id": "a-1",
     "outcome": RecordOutcome.CREATED, "message": None, "run_id": "run-1"},
    {"object": SyncObject.PERSON, "match_key": "-", "pipedrive_id": None, "abm_id": None,
     "outcome": RecordOutcome.SKIPPED, "message": "No usable match key", "run_id": None},
]  # fmt: skip


PAYLOADS = [
    RecordApplied(**FIELDS[0]),  # type: ignore[arg-type]
    RecordApplied(**FIELDS[1]),  # type: ignore[arg-type]
    SourceChange(
        object=SyncObject.ORGANIZATION,
        pipedrive_id=7,
        action=ChangeAction.UPSERTED,
        update_time=datetime(2026, 11, 1, 8, tzinfo=UTC),
        record={"id": 7, "name": 'Zürich "AG" ✓', "custom_fields": {"k": [1, 2.5, None]}, "z": None},
        origin=ChangeOrigin.IMPORT,
        import_context=ImportContext(
            import_id="import-1", duplicate_handling=DuplicateHandling.SKIP_DUPLICATES
        ),
    ),
]
MOMENTS = [
    datetime(2026, 11, 1, 9, tzinfo=UTC),
    datetime(2026, 11, 1, 9, 0, 1, 250, tzinfo=timezone(timedelta(hours=-5))),
]


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("moment", MOMENTS)
@pytest.mark.parametrize(("correlationid", "causationid"), [(None, None), ("run-1", None), ("run-1", "in-1")])
def test_an_envelope_written_as_json_is_the_encoded_event(
    payload: RecordApplied | SourceChange,
    moment: datetime,
    correlationid: str | None,
    causationid: str | None,
) -> None:
    event = build_event(
        payload,
        tenant="acme",
        subject="acme:organization:7",
        source="/psync/test",
        id_parts=("in-1",),
        time=moment,
        correlationid=correlationid,
        causationid=causationid,
    )

    written = encode_envelope(
        event_id=event.id,
        source="/psync/test",
        event_type=event.type,
        time=envelope_time(moment),
        subject="acme:organization:7",
        tenant="acme",
        data=payload.model_dump(mode="json", exclude_none=True),
        correlationid=correlationid,
        causationid=causationid,
    )

    assert written == encode_event(event)


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize(
    ("correlationid", "causationid"), [(None, None), ("run-1", None), ("r\\u0000n", 'in "1"')]
)
@pytest.mark.parametrize("subject", ["acme:organization:7", 'acme:organization:"\x00subject\\'])
def test_an_envelope_from_its_template_is_the_envelope_written_whole(
    payload: RecordApplied | SourceChange, correlationid: str | None, causationid: str | None, subject: str
) -> None:
    shared = {"source": "/psync/test", "event_type": "psync.x", "time": envelope_time(MOMENTS[1])}
    data = payload.model_dump(mode="json", exclude_none=True)
    template = EnvelopeTemplate(**shared, tenant="acme", correlationid=correlationid, causationid=causationid)

    written = template.encode("e\x00id", subject, orjson.dumps(data))

    assert written == encode_envelope(
        **shared,
        event_id="e\x00id",
        subject=subject,
        tenant="acme",
        data=data,
        correlationid=correlationid,
        causationid=causationid,
    )


@pytest.mark.parametrize("fields", FIELDS)
def test_an_unvalidated_record_result_encodes_as_the_validated_one(fields: dict[str, object]) -> None:
    common = {
        "tenant": "acme",
        "subject": f"acme:{fields['object']}:{fields['match_key']}",
        "source": "/psync/mapper",
        "id_parts": ("in-1", "applied"),
        "time": datetime(2026, 11, 1, 9, tzinfo=UTC),
        "correlationid": fields["run_id"],
        "causationid": "in-1",
    }
    checked = build_event(RecordApplied(**fields), **common)  # type: ignore[arg-type]
    unchecked = build_event(RecordApplied.model_construct(**fields), **common, validate=False)  # type: ignore[arg-type]

    assert encode_event(unchecked) == encode_event(checked)
    assert decode_event(RECORD_RESULTS.name, encode_event(unchecked)) == checked


@pytest.mark.parametrize("parts", [("a", 1), ("psync.record.applied", "t1", "e-1", "applied"), ("ü", None)])
def test_event_ids_are_the_uuid5_of_their_parts(parts: tuple[object, ...]) -> None:
    expected = uuid.uuid5(uuid.UUID("6f1c1d2e-4b7a-5b8e-9a51-2f0d3c6e7a10"), "\x1f".join(map(str, parts)))

    assert deterministic_event_id(*parts) == str(expected)


def test_event_ids_of_many_names_are_their_uuid5() -> None:
    rng = random.Random(16)
    namespace = uuid.UUID("6f1c1d2e-4b7a-5b8e-9a51-2f0d3c6e7a10")
    names = ["", *(f"psync.source.changed\x1ft{rng.getrandbits(32)}\x1forg\x1f{n}" for n in range(2000))]

    assert [event_id_of_name(name) for name in names] == [str(uuid.uuid5(namespace, name)) for name in names]
