"""Visited pages as an activity: when one is wanted, and what it says (pure rules)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pusher.planning import UNCHANGED
from pusher.record_pusher import PushDone
from pusher.visit_activity import MAX_LISTED_PAGES, visit_activity_body, visit_activity_wanted
from schemas.events.abm_signals import CompanyRevealed, VisitedPage
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.settings import AutoPush, TenantSettings

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
ORG = SyncObject.ORGANIZATION
ON = TenantSettings(version=1, objects={}, auto_push=AutoPush(enabled=True, visited_pages_as_activity=True))


def reveal(pages: int) -> CompanyRevealed:
    visited = tuple(
        VisitedPage(url=f"https://acme.io/p{n}?a=1&b=<2>", visited_at=NOW + timedelta(minutes=n))
        for n in range(pages)
    )
    return CompanyRevealed(domain="acme.io", name="Acme & Co", revealed_at=NOW, pages=visited)


def test_an_activity_is_wanted_for_a_live_organization_of_a_reveal_with_pages_when_turned_on() -> None:
    created = PushDone(ORG, "acme.io", RecordOutcome.CREATED, 7)
    unchanged = PushDone(ORG, "acme.io", RecordOutcome.UNCHANGED, 7, message=UNCHANGED)
    deleted = PushDone(ORG, "acme.io", RecordOutcome.SKIPPED, 7, message="Deleted in CRM")
    failed = PushDone(ORG, "acme.io", RecordOutcome.FAILED, message="Required field missing: name")
    off = ON.model_copy(update={"auto_push": AutoPush(enabled=True)})

    assert visit_activity_wanted(ON, reveal(1), created) and visit_activity_wanted(ON, reveal(1), unchanged)
    assert not visit_activity_wanted(ON, reveal(1), deleted)
    assert not visit_activity_wanted(ON, reveal(1), failed)
    assert not visit_activity_wanted(ON, reveal(0), created)
    assert not visit_activity_wanted(off, reveal(1), created)
    assert not visit_activity_wanted(None, reveal(1), created)


def test_the_activity_is_done_on_the_organization_with_the_pages_escaped_in_its_note() -> None:
    body = visit_activity_body(reveal(1), 7)

    assert body["subject"] == "Website visit: 1 page"
    assert (body["done"], body["org_id"], body["due_date"]) == (True, 7, "2026-11-02")
    assert "Acme &amp; Co" in body["note"]
    assert "2026-11-02 09:00 UTC: https://acme.io/p0?a=1&amp;b=&lt;2&gt;" in body["note"]


def test_a_long_visit_counts_every_page_and_lists_the_latest() -> None:
    body = visit_activity_body(reveal(MAX_LISTED_PAGES + 3), 7)

    assert body["subject"] == f"Website visit: {MAX_LISTED_PAGES + 3} pages"
    assert body["note"].count("<li>") == MAX_LISTED_PAGES
    assert "p2?" not in body["note"] and f"p{MAX_LISTED_PAGES + 2}?" in body["note"]
    assert "and 3 earlier pages" in body["note"]
