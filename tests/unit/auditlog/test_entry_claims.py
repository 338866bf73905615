"""Which events of a batch add their entry: the first of each id the inbox claimed, as one at a time."""

from __future__ import annotations

from datetime import UTC, datetime

from auditlog.activity_log import EntryEvent, RecordEntry, first_claims

ENTRY = RecordEntry(
    run_id="run-1", object="organization", direction="to_abm", match_key="acme.io", pipedrive_id=1,
    abm_id=None, outcome="created", message=None, tokens_spent=0,
    occurred_at=datetime(2026, 11, 1, tzinfo=UTC),
)  # fmt: skip


def event(tenant: str, event_id: str) -> EntryEvent:
    return EntryEvent(tenant, event_id, "psync.record-results.v1", ENTRY)


def test_a_repeat_inside_the_batch_is_a_duplicate_of_its_first() -> None:
    events = [event("a", "1"), event("a", "2"), event("a", "1"), event("b", "1")]
    claimed = {("a", "1"), ("a", "2"), ("b", "1")}
    assert first_claims(events, claimed) == [True, True, False, True]


def test_an_event_the_inbox_held_before_is_a_duplicate_every_time() -> None:
    events = [event("a", "1"), event("a", "1"), event("a", "2")]
    assert first_claims(events, {("a", "2")}) == [False, False, True]


def test_the_same_id_under_another_tenant_is_another_event() -> None:
    assert first_claims([event("a", "1"), event("b", "1")], {("a", "1"), ("b", "1")}) == [True, True]
