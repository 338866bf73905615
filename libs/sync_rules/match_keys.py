"""Match keys: organization by website domain, person by email, deal by Pipedrive deal id.

The Kafka record key built from them (`tenant:object:match_key`) is part of the contract: `schemas.keys`.
"""

from collections.abc import Mapping
from typing import Any

from sync_rules.domains import try_normalize_domain
from sync_rules.emails import try_normalize_email
from sync_rules.objects import SyncObject


def website_match_key(website: str | None, *, keep_subdomains: bool = False) -> str | None:
    """Return the organization match key (canonical domain) of a website, or None when unusable."""
    return try_normalize_domain(website, keep_subdomains=keep_subdomains)


def email_match_key(email: str | None) -> str | None:
    """Return the person match key (canonical address) of an email, or None when unusable.

    Personal (freemail) addresses are still keys: a person is the same person at gmail.com.
    """
    normalized = try_normalize_email(email)
    return normalized.address if normalized else None


def deal_match_key(deal_id: object) -> str | None:
    """Return the deal match key (the Pipedrive deal id as decimal text), or None without a valid id."""
    if isinstance(deal_id, bool):
        return None
    if isinstance(deal_id, int):
        return str(deal_id) if deal_id > 0 else None
    if isinstance(deal_id, str) and deal_id.strip().isdigit() and int(deal_id) > 0:
        return str(int(deal_id))
    return None


def organization_website(record: Mapping[str, Any], domain_field_code: str | None = None) -> str | None:
    """Return the website a v2 organization is keyed by: the configured domain custom field, and when it is
    empty (or none is configured), the native ``website``.

    A tenant that keeps its domains in a custom field rarely fills it on every record: an organization with
    only its native website filled is still the company of that website.
    """
    if domain_field_code is not None:
        custom = (record.get("custom_fields") or {}).get(domain_field_code)
        if isinstance(custom, str) and custom.strip():
            return custom
    value = record.get("website")
    return value if isinstance(value, str) else None


def person_emails(record: Mapping[str, Any]) -> list[str]:
    """Return a v2 person's email values, the primary one first."""
    entries = [entry for entry in record.get("emails") or [] if isinstance(entry, Mapping)]
    ordered = sorted(entries, key=lambda entry: not entry.get("primary"))
    return [entry["value"] for entry in ordered if isinstance(entry.get("value"), str)]


def pipedrive_match_key(
    sync_object: SyncObject,
    record: Mapping[str, Any],
    *,
    domain_field_code: str | None = None,
    keep_subdomains: bool = False,
) -> str | None:
    """Return the match key of a Pipedrive v2 record, or None when it has no usable key.

    Persons use their primary email, else the first usable one.
    """
    if sync_object is SyncObject.ORGANIZATION:
        website = organization_website(record, domain_field_code)
        return website_match_key(website, keep_subdomains=keep_subdomains)
    if sync_object is SyncObject.PERSON:
        keys = (email_match_key(email) for email in person_emails(record))
        return next((key for key in keys if key), None)
    return deal_match_key(record.get("id"))
