from sync_rules.match_keys import (
    deal_match_key,
    email_match_key,
    pipedrive_match_key,
    website_match_key,
)
from sync_rules.objects import SyncObject

CODE = "a" * 40


def test_organization_key_is_the_native_website_domain() -> None:
    record = {"id": 1, "name": "Acme", "website": "https://www.Acme.co.uk/contact"}

    assert pipedrive_match_key(SyncObject.ORGANIZATION, record) == "acme.co.uk"


def test_organization_key_can_come_from_a_configured_custom_field() -> None:
    record = {"id": 1, "website": None, "custom_fields": {CODE: "acme.io"}}

    assert pipedrive_match_key(SyncObject.ORGANIZATION, record, domain_field_code=CODE) == "acme.io"


def test_organization_key_keeps_subdomains_when_asked() -> None:
    record = {"website": "eu.acme.com"}

    assert pipedrive_match_key(SyncObject.ORGANIZATION, record, keep_subdomains=True) == "eu.acme.com"


def test_organization_without_usable_website_has_no_key() -> None:
    assert pipedrive_match_key(SyncObject.ORGANIZATION, {"website": "10.1.1.1"}) is None
    assert pipedrive_match_key(SyncObject.ORGANIZATION, {"website": None}) is None


def test_person_key_is_the_primary_email() -> None:
    record = {
        "emails": [
            {"value": "old@acme.com", "primary": False, "label": "other"},
            {"value": " Jane@Acme.com", "primary": True, "label": "work"},
        ]
    }

    assert pipedrive_match_key(SyncObject.PERSON, record) == "jane@acme.com"


def test_person_key_falls_back_to_the_first_usable_email() -> None:
    record = {"emails": [{"value": "broken", "primary": True}, {"value": "b@acme.com", "primary": False}]}

    assert pipedrive_match_key(SyncObject.PERSON, record) == "b@acme.com"


def test_person_without_emails_has_no_key() -> None:
    assert pipedrive_match_key(SyncObject.PERSON, {"emails": []}) is None


def test_deal_key_is_the_pipedrive_id() -> None:
    assert pipedrive_match_key(SyncObject.DEAL, {"id": 42}) == "42"
    assert deal_match_key("007") == "7"
    assert deal_match_key(0) is None
    assert deal_match_key(True) is None
    assert deal_match_key("x") is None


def test_single_value_keys() -> None:
    assert website_match_key("WWW.acme.com") == "acme.com"
    assert email_match_key("A@acme.com") == "a@acme.com"
    assert email_match_key("") is None
