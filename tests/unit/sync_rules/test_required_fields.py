from typing import Any

import pytest

from sync_rules.objects import SyncObject
from sync_rules.required_fields import check_required_fields


@pytest.mark.parametrize(
    ("sync_object", "record"),
    [
        (SyncObject.ORGANIZATION, {"name": "Acme"}),
        (SyncObject.PERSON, {"name": "Ann", "emails": [{"value": "ann@acme.com", "primary": True}]}),
        (SyncObject.DEAL, {"title": "Big deal", "org_id": 4}),
        (SyncObject.DEAL, {"title": "Big deal", "person_id": 9}),
    ],
)
def test_complete_records_pass(sync_object: SyncObject, record: dict[str, Any]) -> None:
    check = check_required_fields(sync_object, record)

    assert check.ok is True
    assert check.message is None


@pytest.mark.parametrize(
    ("sync_object", "record", "message"),
    [
        (SyncObject.ORGANIZATION, {"name": "  "}, "Required field missing: name"),
        (SyncObject.PERSON, {"emails": [{"value": "a@b.io"}]}, "Required field missing: name"),
        (SyncObject.PERSON, {"name": "Ann", "emails": []}, "Required field missing: email"),
        (SyncObject.PERSON, {"name": "Ann", "emails": [{"value": ""}]}, "Required field missing: email"),
        (SyncObject.DEAL, {"org_id": 1}, "Required field missing: title"),
        (SyncObject.DEAL, {"title": "Deal"}, "Required field missing: organization or person"),
    ],
)
def test_missing_field_gives_the_standard_message(
    sync_object: SyncObject, record: dict[str, Any], message: str
) -> None:
    check = check_required_fields(sync_object, record)

    assert check.ok is False
    assert check.message == message


def test_all_missing_fields_are_listed() -> None:
    assert check_required_fields(SyncObject.PERSON, {}).missing == ("name", "email")
