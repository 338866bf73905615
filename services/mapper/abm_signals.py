"""The ABM platform's own signals applied to the store: reveals, enrichments and engagement scores.

Identifiers from the platform are normalized with the shared rule book; one that cannot be (an IP, a
single label, a malformed email) is a PermanentError: the message goes to the dead-letter topic with the
reason, and nothing else changes.
"""

from __future__ import annotations

from typing import Any

from mapper.ports import AbmRecords
from schemas.envelope import deterministic_event_id
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.common import SyncObject
from schemas.events.settings import FieldMode, TenantSettings
from stream_runner.errors import PermanentError
from sync_rules.diffs import compute_changes
from sync_rules.domains import normalize_domain
from sync_rules.emails import normalize_email
from sync_rules.errors import SyncRuleError
from sync_rules.mapping_resolution import keeps_subdomains

RECENT_PAGES_KEPT = 20


def _domain(value: str, settings: TenantSettings | None) -> str:
    try:
        return normalize_domain(value, keep_subdomains=keeps_subdomains(settings))
    except SyncRuleError as exc:
        raise PermanentError(str(exc)) from exc


async def _fill(store: AbmRecords, tenant: str, obj: SyncObject, key: str, values: dict[str, Any]) -> str:
    """Create the record holding `key`, or fill its empty fields from `values`; returns its ABM id."""
    await store.lock_match_keys([(tenant, obj, key)])  # a batch of source changes may create it meanwhile
    existing = await store.record_by_key(tenant, obj, key)
    fill_all = dict.fromkeys(values, FieldMode.FILL)
    if existing is None:
        abm_id = deterministic_event_id("abm-record", tenant, obj.value, "key", key)
        await store.create_record(tenant, obj, abm_id, key, compute_changes(values, {}, fill_all))
        return abm_id
    changes = compute_changes(values, existing.fields, fill_all)
    if changes:
        await store.update_record(tenant, obj, existing.abm_id, changes)
    return existing.abm_id


async def apply_company_revealed(
    store: AbmRecords, tenant: str, reveal: CompanyRevealed, settings: TenantSettings | None
) -> None:
    """An account for the revealed company (created or filled), with its reveal activity; its domain
    under the tenant's domain settings, as Pipedrive's organizations and the pusher key it."""
    domain = _domain(reveal.domain, settings)
    values = {
        "name": reveal.name,
        "website": domain,
        "industry": reveal.industry,
        "employee_count": reveal.employee_count,
        "annual_revenue": reveal.annual_revenue,
        "country": reveal.country,
        "linkedin": reveal.linkedin,
    }
    abm_id = await _fill(store, tenant, SyncObject.ORGANIZATION, domain, values)
    await store.count_reveal(tenant, abm_id, reveal.revealed_at, reveal.pages, RECENT_PAGES_KEPT)


async def apply_contact_enriched(
    store: AbmRecords, tenant: str, enriched: ContactEnriched, settings: TenantSettings | None
) -> None:
    """A contact for the enriched person (created or filled), associated with its company's domain."""
    try:
        email = normalize_email(enriched.email)
    except SyncRuleError as exc:
        raise PermanentError(str(exc)) from exc
    name = enriched.name or " ".join(p for p in (enriched.first_name, enriched.last_name) if p) or None
    values = {
        "name": name,
        "email": email.address,
        "phone": enriched.phone,
        "job_title": enriched.job_title,
        "company_domain": _domain(enriched.company_domain, settings) if enriched.company_domain else None,
        "personal_email": email.is_personal,
    }
    await _fill(store, tenant, SyncObject.PERSON, email.address, values)


async def apply_score_changed(
    store: AbmRecords, tenant: str, score: ScoreChanged, settings: TenantSettings | None
) -> None:
    """The account's engagement score, unless a later score was applied already."""
    domain = _domain(score.domain, settings)
    abm_id = await _fill(store, tenant, SyncObject.ORGANIZATION, domain, {"website": domain})
    await store.set_score(tenant, abm_id, score.score, score.changed_at)
