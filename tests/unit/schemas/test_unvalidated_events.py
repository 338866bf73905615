"""Hot-path shortcuts give exactly what the plain paths give: unvalidated events, event ids."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime

import pytest

from schemas.catalog import build_event
from schemas.codec import decode_event, encode_event
from schemas.envelope import deterministic_event_id, event_id_of_name
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.record_results import RecordApplied
from schemas.topics import RECORD_RESULTS

FIELDS = [
    {"object": SyncObject.ORGANIZATION, "match_key": "acme.io", "pipedrive_id": 7, "abm_id": "a-1",
     "outcome": RecordOutcome.CREATED, "message": None, "run_id": "run-1"},
    {"object": SyncObject.PERSON, "match_key": "-", "pipedrive_id": None, "abm_id": None,
     "outcome": RecordOutcome.SKIPPED, "message": "No usable match key", "run_id": None},
]  # fmt: skip


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
