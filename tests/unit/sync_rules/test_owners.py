from schemas.events.settings import FieldMode
from sync_rules.owners import find_owner_id, index_users_by_email, owner_change_to_pipedrive

USERS = index_users_by_email(
    [
        {"id": 1, "email": "Ann@Acme.com", "active_flag": True},
        {"id": 2, "email": "bob@acme.com"},
        {"id": 3, "email": "gone@acme.com", "active_flag": False},
    ]
)


def test_owners_are_matched_by_user_email_case_insensitively() -> None:
    assert find_owner_id(" ann@ACME.com", USERS) == 1
    assert find_owner_id("nobody@acme.com", USERS) is None
    assert find_owner_id(None, USERS) is None


def test_inactive_users_cannot_be_owners() -> None:
    assert find_owner_id("gone@acme.com", USERS) is None


def test_existing_owner_is_kept_under_fill() -> None:
    assert owner_change_to_pipedrive("bob@acme.com", 1, FieldMode.FILL, USERS) == {}


def test_existing_owner_is_replaced_under_overwrite() -> None:
    assert owner_change_to_pipedrive("bob@acme.com", 1, FieldMode.OVERWRITE, USERS) == {"owner_id": 2}


def test_missing_owner_is_filled() -> None:
    assert owner_change_to_pipedrive("bob@acme.com", None, FieldMode.FILL, USERS) == {"owner_id": 2}


def test_unknown_owner_email_never_changes_the_owner() -> None:
    assert owner_change_to_pipedrive("stranger@x.com", 1, FieldMode.OVERWRITE, USERS) == {}


def test_owner_is_not_synced_under_dont_sync() -> None:
    assert owner_change_to_pipedrive("bob@acme.com", None, FieldMode.DONT_SYNC, USERS) == {}
