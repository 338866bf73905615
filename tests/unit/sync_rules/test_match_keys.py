import pytest

from schemas.events.settings import OrganizationDomainField, TenantSettings
from sync_rules.mapping_resolution import record_match_key
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


def test_organization_key_takes_the_custom_field_before_the_native_website() -> None:
    record = {"id": 1, "website": "acme.com", "custom_fields": {CODE: "acme-group.io"}}

    assert pipedrive_match_key(SyncObject.ORGANIZATION, record, domain_field_code=CODE) == "acme-group.io"


@pytest.mark.parametrize("custom_fields", [None, {}, {CODE: None}, {CODE: ""}, {CODE: "  "}])
def test_organization_key_falls_back_to_the_native_website_when_the_custom_field_is_empty(
    custom_fields: dict[str, object] | None,
) -> None:
    record = {"id": 1, "website": "https://www.Acme.com/", "custom_fields": custom_fields}

    assert pipedrive_match_key(SyncObject.ORGANIZATION, record, domain_field_code=CODE) == "acme.com"


def test_organization_key_does_not_fall_back_from_a_filled_custom_field_that_is_no_domain() -> None:
    record = {"id": 1, "website": "acme.com", "custom_fields": {CODE: "n/a"}}

    assert pipedrive_match_key(SyncObject.ORGANIZATION, record, domain_field_code=CODE) is None


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


def test_a_tenants_domain_settings_key_an_organization_by_its_website_when_the_custom_field_is_empty() -> (
    None
):
    settings = TenantSettings(
        version=1,
        objects={},
        organization_domain=OrganizationDomainField(
            custom_field_label="Domain", custom_field_code=CODE, keep_subdomains=True
        ),
    )
    website_only = {"id": 1, "website": "https://shop.acme.com", "custom_fields": {CODE: None}}
    both = {"id": 2, "website": "acme.com", "custom_fields": {CODE: "eu.acme.com"}}

    assert record_match_key(SyncObject.ORGANIZATION, website_only, settings) == "shop.acme.com"
    assert record_match_key(SyncObject.ORGANIZATION, both, settings) == "eu.acme.com"
