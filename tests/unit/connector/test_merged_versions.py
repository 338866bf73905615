"""Several import pages' versions stored as one keep, per record, what storing the pages one after the
other keeps (`versions_upsert`: a later page's version unless its update_time is older)."""

from __future__ import annotations

from datetime import UTC, datetime

from connector.record_versions import merged_versions

T1 = datetime(2026, 11, 1, 10, tzinfo=UTC)
T2 = datetime(2026, 11, 1, 11, tzinfo=UTC)


def test_pages_without_a_common_record_are_joined_in_order() -> None:
    first = [(1, (T1, "a")), (2, (T1, "b"))]
    second = [(3, (T2, "c"))]
    assert merged_versions([first, second]) == [*first, *second]


def test_a_record_on_two_pages_keeps_the_later_page_s_version_unless_it_is_older() -> None:
    assert merged_versions([[(1, (T1, "a"))], [(1, (T2, "b"))]]) == [(1, (T2, "b"))]
    assert merged_versions([[(1, (T1, "a"))], [(1, (T1, "b"))]]) == [(1, (T1, "b"))]
    assert merged_versions([[(1, (T2, "a"))], [(1, (T1, "b"))]]) == [(1, (T2, "a"))]
    assert merged_versions([[(1, (T1, None))], [(1, (T1, "b"))], [(2, (T1, "c"))]]) == [
        (1, (T1, "b")),
        (2, (T1, "c")),
    ]
