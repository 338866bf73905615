"""Auto-push rules: which ABM signals become which Pipedrive pushes (pure)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.abm_signals import CompanyRevealed, ContactEnriched
from schemas.events.common import SyncObject
from schemas.events.settings import TenantSettings
from sync_rules.mapping_resolution import keeps_subdomains
from sync_rules.match_keys import email_match_key, website_match_key

ENGAGEMENT_SCORE_FIELD = "engagement_score"


@dataclass(frozen=True)
class RecordPush:
    """One ABM record to push: its object, match key (None when unusable) and fields by ABM name."""

    object: SyncObject
    match_key: str | None
    fields: Mapping[str, Any] = field(default_factory=dict)
    abm_id: str | None = None
    changed_at: datetime | None = None  # when the ABM side changed (None: a person pushes it now)


def auto_push_enabled(settings: TenantSettings | None) -> bool:
    """Whether the tenant turned auto-push on."""
    return settings is not None and settings.auto_push.enabled


def organization_key(domain: str, settings: TenantSettings | None) -> str | None:
    """An organization's match key under the tenant's domain settings."""
    return website_match_key(domain, keep_subdomains=keeps_subdomains(settings))


def bare_website(
    fields: Mapping[str, Any], key: str | None, settings: TenantSettings | None
) -> Mapping[str, Any]:
    """The fields with their website as the bare domain it is keyed by (`https://www.Acme.com/x` is
    `acme.com`): what a push writes (DESIGN: websites). A website of another domain is left as given."""
    website = fields.get("website")
    if key is None or not isinstance(website, str) or organization_key(website, settings) != key:
        return fields
    return {**fields, "website": key}


def company_push(revealed: CompanyRevealed, settings: TenantSettings | None) -> RecordPush:
    """A revealed company as an organization push (the website is the canonical domain)."""
    key = organization_key(revealed.domain, settings)
    fields = {
        "name": revealed.name,
        "website": key,
        "industry": revealed.industry,
        "employee_count": revealed.employee_count,
        "annual_revenue": revealed.annual_revenue,
        "linkedin": revealed.linkedin,
        "country": revealed.country,
    }
    return RecordPush(SyncObject.ORGANIZATION, key, fields, changed_at=revealed.revealed_at)


def contact_name(enriched: ContactEnriched) -> str | None:
    """The contact's full name, or first and last name joined."""
    if enriched.name:
        return enriched.name
    parts = [p for p in (enriched.first_name, enriched.last_name) if p]
    return " ".join(parts) or None


def contact_push(enriched: ContactEnriched, organization_id: int | None) -> RecordPush:
    """An enriched contact as a person push, linked to its company's organization when Pipedrive has it.

    The email is matched by its match key (lowercased) and written as given (trimmed): `Nora@Delta-rv.com`
    stays so in Pipedrive."""
    key = email_match_key(enriched.email)
    fields = {
        "name": contact_name(enriched),
        "email": enriched.email.strip() if key is not None else None,
        "phone": enriched.phone,
        "job_title": enriched.job_title,
        "organization": organization_id,
    }
    return RecordPush(SyncObject.PERSON, key, fields, changed_at=enriched.enriched_at)


def score_moved_enough(score: int, baseline: int | float | None, threshold: int) -> bool:
    """Whether a score is worth a write: no value in Pipedrive yet, or a move of at least the threshold
    from what Pipedrive holds (so small steps add up instead of each being dropped)."""
    return baseline is None or abs(score - baseline) >= threshold
