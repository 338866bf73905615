"""The version a push reports it wrote: the body's fields as Pipedrive answered them, with the answer's
update time; nothing for a push that wrote nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from pusher.results import written_version
from schemas.events.common import RecordOutcome

CODE, OTHER = "a" * 40, "b" * 40
ANSWER = {
    "id": 7,
    "name": "Acme Renamed",
    "phones": [{"value": "+15550001", "primary": True, "label": "work"}],
    "address": {"value": "1 Main St"},
    "custom_fields": {CODE: 72, OTHER: "kept"},
    "update_time": "2026-11-02T09:29:58Z",
}


def test_the_written_fields_are_reported_as_pipedrive_answered_them() -> None:
    body = {"name": "Acme Renamed", "phones": [{"value": "+15550001"}], "custom_fields": {CODE: 72}}

    written = written_version(RecordOutcome.UPDATED, ANSWER, body)

    assert written is not None
    assert written.update_time == datetime(2026, 11, 2, 9, 29, 58, tzinfo=UTC)
    assert written.values == {
        "name": "Acme Renamed",
        "phones": [{"value": "+15550001", "primary": True, "label": "work"}],
        "custom_fields": {CODE: 72},
    }


def test_a_push_that_wrote_nothing_or_got_no_update_time_reports_no_version() -> None:
    body = {"name": "Acme Renamed"}

    assert written_version(RecordOutcome.SKIPPED, ANSWER, body) is None
    assert written_version(RecordOutcome.UPDATED, None, body) is None
    assert written_version(RecordOutcome.UPDATED, {**ANSWER, "update_time": None}, body) is None
