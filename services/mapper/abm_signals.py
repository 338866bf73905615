"""The ABM platform's own signals applied to the store: reveals, enrichments and engagement scores.

Identifiers from the platform are normalized with the shared rule book; one that cannot be (an IP, a
single label, a malformed email) is a PermanentError: the message goes to the dead-letter topic with the
reason, and nothing else changes.
"""

from __future__ import annotations

from typing import Any

from mapper.abm_store import AbmStore
from postgres_store.pool import Connection
from schemas.envelope import deterministic_event_id
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.common import SyncObject
from schemas.events.settings import FieldMode
from stream_runner.errors import PermanentError
from sync_rules.diffs import compute_changes
from sync_rules.domains import normalize_domain
from sync_rules.emails import normalize_email
from sync_rules.errors import SyncRuleError

RECENT_PAGES_KEPT = 20


def _domain(value: str) -> str:
    try:
        return normalize_domain(value)
    except SyncRuleError as exc:
        raise PermanentError(str(exc)) from exc


async def _fill(
    store: AbmStore, conn: Connection, tenant: str, obj: SyncObject, key: str, values: dict[str, Any]
) -> str:
    """Create the record holding `key`, or fill its empty fields from `values`; returns its ABM id."""
    existing = await store.record_by_key(conn, tenant, obj, key)
    fill_all = dict.fromkeys(values, FieldMode.FILL)
    if existing is None:
        abm_id = deterministic_event_id("abm-record", tenant, obj.value, "key", key)
        await store.create_record(conn, tenant, obj, abm_id, key, compute_changes(values, {}, fill_all))
        return abm_id
    changes = compute_changes(values, existing.fields, fill_all)
    if changes:
        await store.update_record(conn, tenant, obj, existing.abm_id, changes)
    return existing.abm_id


async def apply_company_revealed(
    store: AbmStore, conn: Connection, tenant: str, reveal: CompanyRevealed, _event_id: str
) -> None:
    """An account for the revealed company (created or filled), with its reveal activity."""
    domain = _domain(reveal.domain)
    values = {
        "name": reveal.name,
        "website": domain,
        "industry": reveal.industry,
        "employee_count": reveal.employee_count,
        "annual_revenue": reveal.annual_revenue,
        "country": reveal.country,
        "linkedin": reveal.linkedin,
    }
    abm_id = await _fill(store, conn, tenant, SyncObject.ORGANIZATION, domain, values)
    pages = [p.model_dump(mode="json") for p in reveal.pages]
    await conn.execute(
        f"UPDATE {store.schema}.accounts SET reveal_count = reveal_count + 1,"
        " last_revealed_at = GREATEST(last_revealed_at, $3),"
        " recent_pages = (SELECT coalesce(jsonb_agg(p), '[]') FROM"
        "   (SELECT p FROM jsonb_array_elements($4::jsonb || recent_pages) AS p LIMIT $5) AS kept)"
        " WHERE tenant_id = $1 AND abm_id = $2",
        tenant, abm_id, reveal.revealed_at, pages, RECENT_PAGES_KEPT,
    )  # fmt: skip


async def apply_contact_enriched(
    store: AbmStore, conn: Connection, tenant: str, enriched: ContactEnriched, _event_id: str
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
        "company_domain": _domain(enriched.company_domain) if enriched.company_domain else None,
        "personal_email": email.is_personal,
    }
    await _fill(store, conn, tenant, SyncObject.PERSON, email.address, values)


async def apply_score_changed(
    store: AbmStore, conn: Connection, tenant: str, score: ScoreChanged, _event_id: str
) -> None:
    """The account's engagement score, unless a later score was applied already."""
    domain = _domain(score.domain)
    abm_id = await _fill(store, conn, tenant, SyncObject.ORGANIZATION, domain, {"website": domain})
    await conn.execute(
        f"UPDATE {store.schema}.accounts SET engagement_score = $3, score_changed_at = $4"
        " WHERE tenant_id = $1 AND abm_id = $2 AND (score_changed_at IS NULL OR score_changed_at <= $4)",
        tenant, abm_id, score.score, score.changed_at,
    )  # fmt: skip
