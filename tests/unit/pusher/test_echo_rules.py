"""Echoes of the pusher's writes, as pure rules: the version the write produced carrying the values written;
a person's later edit of a written field is forgotten, so later echoes are still recognized."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pusher.push_ledger import LedgerEntry, is_echo_of, still_held

WRITTEN_AT = datetime(2026, 11, 2, 9, tzinfo=UTC)
CODE = "a" * 40


def entry(written: dict[str, object]) -> LedgerEntry:
    return LedgerEntry("acme.io", "done", 7, None, None, written, WRITTEN_AT, WRITTEN_AT)


def test_the_version_the_write_produced_with_the_values_written_is_an_echo() -> None:
    written = entry({"name": "Acme", "custom_fields": {CODE: 40}})
    record = {"name": "Acme", "address": None, "custom_fields": {CODE: 40}}

    assert is_echo_of(written, record, WRITTEN_AT)
    assert not is_echo_of(written, record, WRITTEN_AT + timedelta(seconds=1)), "someone changed it later"
    assert not is_echo_of(written, {**record, "name": "Acme Corp"}, WRITTEN_AT)


def test_a_later_edit_of_a_written_field_forgets_only_that_field() -> None:
    written = entry({"name": "Acme", "employee_count": 10, "custom_fields": {CODE: 40}})
    edited = {"name": "Acme Corp", "employee_count": 10, "custom_fields": {CODE: 40}}

    assert still_held(written, edited, WRITTEN_AT + timedelta(seconds=5)) == {
        "employee_count": 10,
        "custom_fields": {CODE: 40},
    }


def test_an_older_version_or_one_holding_everything_forgets_nothing() -> None:
    written = entry({"name": "Acme"})

    assert still_held(written, {"name": "Old name"}, WRITTEN_AT - timedelta(seconds=5)) is None
    assert (
        still_held(written, {"name": "Acme", "address": "1 Main St"}, WRITTEN_AT + timedelta(seconds=5))
        is None
    )
