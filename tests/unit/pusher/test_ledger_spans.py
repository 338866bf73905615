"""Before reading the ledger rows of a batch's records one by one, the ledger is asked whether it holds any
row in the span of their ids: the least and the greatest id of each tenant's object."""

from __future__ import annotations

from pusher.push_ledger import id_spans
from schemas.events.common import SyncObject

ORG, PERSON = SyncObject.ORGANIZATION, SyncObject.PERSON


def test_each_tenant_s_object_spans_its_least_to_its_greatest_id_in_any_order() -> None:
    records = [("a", ORG, 9), ("a", ORG, 5), ("a", PERSON, 5), ("b", ORG, 3), ("a", ORG, 2), ("a", ORG, 12)]

    assert sorted(id_spans(records)) == [
        ("a", "organization", 2, 12),
        ("a", "person", 5, 5),
        ("b", "organization", 3, 3),
    ]


def test_no_records_make_no_span() -> None:
    assert id_spans([]) == []
