"""A batch of mirror changes is written in rounds where no record appears twice, each record's changes in
the batch's order (one statement may change a row only once)."""

from __future__ import annotations

from pusher.mirror import rounds_by_key


def test_each_key_s_changes_go_to_successive_rounds_in_order() -> None:
    assert rounds_by_key(["a", "b", "a", "c", "a", "b"]) == [[0, 1, 3], [2, 5], [4]]


def test_distinct_keys_make_one_round_and_none_make_none() -> None:
    assert rounds_by_key([("t", "organization", 1), ("t", "organization", 2)]) == [[0, 1]]
    assert rounds_by_key([]) == []
