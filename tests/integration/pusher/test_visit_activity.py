"""Visited pages as recent activity: one done activity per reveal event on the organization, only when the
tenant turned it on, never twice for one event (redelivery, replay, or an add interrupted before its
result was recorded)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from schemas.events.abm_signals import CompanyRevealed, VisitedPage
from schemas.events.settings import AutoPush
from tests.integration.pusher.conftest import PusherHarness, push_settings, results_of

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
ORGS, ACTIVITIES = ("POST", "/api/v2/organizations"), ("POST", "/api/v2/activities")


def visit(domain: str, *paths: str) -> CompanyRevealed:
    pages = tuple(
        VisitedPage(url=f"https://{domain}{path}", title=path.strip("/").title() or None,
                    visited_at=NOW + timedelta(minutes=n))
        for n, path in enumerate(paths)
    )  # fmt: skip
    return CompanyRevealed(domain=domain, name=domain.split(".")[0].title(), revealed_at=NOW, pages=pages)


async def _pages_on(pusher: PusherHarness) -> None:
    on = AutoPush(enabled=True, visited_pages_as_activity=True)
    await pusher.settings(push_settings(version=2).model_copy(update={"auto_push": on}))


def activities(pusher: PusherHarness) -> list[dict[str, Any]]:
    return list(pusher.sandbox.state.activities.records.values())


async def test_a_reveal_with_pages_adds_one_done_activity_on_its_organization(pusher: PusherHarness) -> None:
    await _pages_on(pusher)

    [created] = results_of(await pusher.send(visit("visits.io", "/pricing", "/docs/api"), event_id="v1"))

    [activity] = activities(pusher)
    assert created["outcome"] == "created" and created["tokens_spent"] == 10
    assert created["fields_written"] == ["name", "website", "visited_pages"]
    assert activity["org_id"] == created["pipedrive_id"] and activity["done"] is True
    assert activity["subject"] == "Website visit: 2 pages" and activity["due_date"] == "2026-11-02"
    assert "2026-11-02 09:00 UTC: Pricing (https://visits.io/pricing)" in activity["note"]
    assert "2026-11-02 09:01 UTC: Docs/Api (https://visits.io/docs/api)" in activity["note"]
    assert pusher.writes() == [ORGS, ACTIVITIES]


async def test_a_redelivered_reveal_adds_nothing_and_a_new_visit_adds_its_own_activity(
    pusher: PusherHarness,
) -> None:
    await _pages_on(pusher)
    await pusher.send(visit("again.io", "/"), event_id="a1")

    redelivered = await pusher.send(visit("again.io", "/"), event_id="a1")
    [next_visit] = results_of(await pusher.send(visit("again.io", "/careers"), event_id="a2"))

    assert redelivered.duplicate
    assert next_visit["outcome"] == "unchanged" and next_visit["message"] == "No changes"
    assert next_visit["fields_written"] == ["visited_pages"] and next_visit["tokens_spent"] == 5
    assert pusher.writes() == [ORGS, ACTIVITIES, ACTIVITIES]
    assert [a["subject"] for a in activities(pusher)] == ["Website visit: 1 page"] * 2


async def test_pages_are_not_written_unless_the_tenant_turned_it_on(pusher: PusherHarness) -> None:
    [created] = results_of(await pusher.send(visit("quiet-pages.io", "/pricing")))

    assert created["tokens_spent"] == 5 and created["fields_written"] == ["name", "website"]
    assert pusher.writes() == [ORGS] and activities(pusher) == []


async def test_an_add_interrupted_before_its_result_is_found_not_repeated(pusher: PusherHarness) -> None:
    await _pages_on(pusher)
    await pusher.send(visit("crashed.io", "/pricing"), event_id="c1")
    # As if the process died after the POST answered: neither its result nor the event's claim committed.
    await pusher.pool.execute(
        f"UPDATE {pusher.schema}.visit_activities SET state = 'intent', activity_id = NULL"
        " WHERE tenant_id = $1",
        pusher.tenant,
    )
    await pusher.pool.execute(f"DELETE FROM {pusher.schema}.inbox WHERE tenant_id = $1", pusher.tenant)

    [again] = results_of(await pusher.send(visit("crashed.io", "/pricing"), event_id="c1"))

    assert len(activities(pusher)) == 1 and "visited_pages" not in again["fields_written"]
    assert pusher.writes() == [ORGS, ACTIVITIES]
    assert ("GET", "/api/v2/activities") in [(e.method, e.path) for e in pusher.sandbox.state.ledger.entries]


async def test_an_intent_whose_add_never_left_adds_the_activity(pusher: PusherHarness) -> None:
    await _pages_on(pusher)
    await pusher.send(visit("lost.io", "/pricing"), event_id="l1")
    pusher.sandbox.state.activities.records.clear()  # the POST never reached Pipedrive
    await pusher.pool.execute(
        f"UPDATE {pusher.schema}.visit_activities SET state = 'intent' WHERE tenant_id = $1", pusher.tenant
    )
    await pusher.pool.execute(f"DELETE FROM {pusher.schema}.inbox WHERE tenant_id = $1", pusher.tenant)

    [again] = results_of(await pusher.send(visit("lost.io", "/pricing"), event_id="l1"))

    assert len(activities(pusher)) == 1 and again["fields_written"] == ["visited_pages"]
