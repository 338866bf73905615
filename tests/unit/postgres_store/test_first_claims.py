"""Which events of a batch the inbox applies now: the first of each id it claimed, as one at a time."""

from __future__ import annotations

from postgres_store.inbox import first_claims


def test_a_repeat_inside_the_batch_is_a_duplicate_of_its_first() -> None:
    events = [("a", "1"), ("a", "2"), ("a", "1"), ("b", "1")]
    claimed = {("a", "1"), ("a", "2"), ("b", "1")}
    assert first_claims(events, claimed) == [True, True, False, True]


def test_an_event_the_inbox_held_before_is_a_duplicate_every_time() -> None:
    events = [("a", "1"), ("a", "1"), ("a", "2")]
    assert first_claims(events, {("a", "2")}) == [False, False, True]


def test_the_same_id_under_another_tenant_is_another_event() -> None:
    assert first_claims([("a", "1"), ("b", "1")], {("a", "1"), ("b", "1")}) == [True, True]
