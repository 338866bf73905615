"""The churn scenario's definitions of ping-pong (tests/faults/ping_pong.py), held to small cases, so the
fault report's figure cannot silently count nothing."""

from __future__ import annotations

from typing import Any

from tests.faults.ping_pong import (
    EchoApplied,
    Write,
    echoes,
    pair_push_results,
    restated,
    same_second_writes,
    shared_versions,
    uncaused,
)

ORG = {"id": 7, "name": "Acme", "website": "https://acme.io", "update_time": "2026-12-02T10:00:00Z"}


def _write(seq: int, at: float, before: Any, after: Any, who: str = "sync", method: str = "PATCH") -> Write:
    return Write(seq, at, who, "organization", 7, method, {"name": after["name"]}, before, after, 200)


def _renamed(name: str, second: int) -> dict[str, Any]:
    return {**ORG, "name": name, "update_time": f"2026-12-02T10:00:{second:02d}Z"}


def test_a_write_that_changes_no_value_restates_whatever_its_update_time() -> None:
    assert restated(_write(0, 1.0, ORG, {**ORG, "update_time": "2026-12-02T10:00:05Z"}))
    assert not restated(_write(0, 1.0, ORG, _renamed("Acme 2", 5)))
    assert not restated(_write(0, 1.0, None, ORG, method="POST"))  # a create changes everything


def test_each_sync_write_needs_a_signal_of_its_own_published_before_it() -> None:
    writes = [_write(0, 5.0, ORG, _renamed("A", 5)), _write(1, 6.0, _renamed("A", 5), _renamed("B", 6))]
    # Two signals queued before both writes (the pusher lagging): each write has one.
    assert uncaused(writes, {("organization", "acme.io"): [1.0, 2.0]}) == []
    # One signal: the second write came back for nothing.
    assert uncaused(writes, {("organization", "acme.io"): [1.0]}) == [writes[1]]
    # The second signal was published after the second write: not its cause.
    assert uncaused(writes, {("organization", "acme.io"): [1.0, 7.0]}) == [writes[1]]


def test_an_echo_is_the_version_the_write_left_with_every_value_it_set() -> None:
    write = _write(0, 1.0, ORG, _renamed("Acme 2", 5))
    found = echoes(
        [write],
        [
            ("e1", "organization", 7, _renamed("Acme 2", 5)),  # the write's version
            ("e2", "organization", 7, _renamed("Edited", 9)),  # someone's later edit
            ("e3", "organization", 8, _renamed("Acme 2", 5)),  # another record
            ("e4", "organization", 7, _renamed("Edited", 5)),  # same second, another value
        ],
    )
    assert found == {"e1": write}


def test_a_version_someone_else_also_left_in_the_same_second_is_no_echo() -> None:
    ours = _write(0, 1.0, ORG, _renamed("Acme 2", 5))
    theirs = _write(1, 1.5, _renamed("Acme 2", 5), {**_renamed("Acme 2", 5), "phone": "1"}, who="editor")
    change = ("e1", "organization", 7, _renamed("Acme 2", 5))

    assert echoes([ours], [change], shared_versions([ours, theirs])) == {}
    assert echoes([ours], [change], shared_versions([ours])) == {"e1": ours}


def test_an_echo_counts_as_ping_pong_only_once_its_signal_and_push_result_were_applied() -> None:
    assert EchoApplied("updated", after_its_signal=True, after_its_push_result=True).ping_pong
    assert not EchoApplied("unchanged", after_its_signal=True, after_its_push_result=True).ping_pong
    assert not EchoApplied("updated", after_its_signal=True, after_its_push_result=False).ping_pong
    assert not EchoApplied("created", after_its_signal=False, after_its_push_result=True).ping_pong


def test_a_sync_write_leaving_the_second_an_earlier_write_of_the_record_left_is_a_same_second_one() -> None:
    # The churn's person 91: two enrichments 0.5 s apart pushed in one second (05:57:05); the mapper took
    # the first push's values, left the second's to the echo (the same-second guard), and the echo did it.
    first = _write(0, 1.0, ORG, _renamed("A", 5))
    second = _write(1, 1.5, _renamed("A", 5), _renamed("B", 5))
    later = _write(2, 2.5, _renamed("B", 5), _renamed("C", 6))
    failed = Write(3, 3.0, "sync", "organization", 7, "PATCH", {"name": "D"}, _renamed("C", 6), None, 500)
    elsewhere = Write(4, 3.5, "sync", "organization", 8, "PATCH", {"name": "E"}, None, _renamed("E", 6), 200)
    theirs_first = _write(5, 4.0, _renamed("C", 6), _renamed("F", 9), who="editor")
    ours_after = _write(6, 4.5, _renamed("F", 9), _renamed("G", 9))

    writes = [first, second, later, failed, elsewhere, theirs_first, ours_after]
    assert same_second_writes(writes) == {1, 6}
    # The order served (seq) decides which write of the second came first, not the list's order.
    assert same_second_writes([second, first]) == {1}


def test_a_same_second_echo_changing_the_store_is_counted_apart_from_ping_pong() -> None:
    left_to_the_echo = EchoApplied("updated", True, True, same_second=True)

    assert left_to_the_echo.changed_the_store
    assert not left_to_the_echo.ping_pong
    assert EchoApplied("updated", True, True, same_second=False).ping_pong


def test_push_results_pair_with_the_writes_of_their_record_in_order() -> None:
    writes = [_write(0, 1.0, ORG, _renamed("A", 1)), _write(1, 2.0, _renamed("A", 1), _renamed("B", 2))]
    results = [
        ("organization", 7, "p1", "s1"),
        ("organization", 7, "p2", "s2"),
        ("organization", 8, "p3", "s3"),
    ]
    assert pair_push_results(writes, results) == {0: ("p1", "s1"), 1: ("p2", "s2")}
