"""Auto-push and planning against the sandbox: creates, updates, Fill vs Overwrite, required fields,
the engagement-score field, echoes and replays."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from pipedrive_sandbox.store import Entity
from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged
from schemas.events.common import SyncObject
from schemas.events.push import PushRequested
from schemas.events.settings import AutoPush, ObjectSettings
from tests.integration.pusher.conftest import BOTH_WAYS, PusherHarness, mapped, push_settings, results_of

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


def reveal(domain: str, name: str) -> CompanyRevealed:
    return CompanyRevealed(domain=domain, name=name, revealed_at=NOW)


async def test_a_revealed_company_creates_its_organization_once(pusher: PusherHarness) -> None:
    first = await pusher.send(reveal("https://www.Acme.io/about", "Acme"), event_id="r1")
    again = await pusher.send(reveal("acme.io", "Acme"), event_id="r2")
    replayed = await pusher.send(reveal("https://www.Acme.io/about", "Acme"), event_id="r1")

    [created], [unchanged] = results_of(first), results_of(again)
    assert created["outcome"] == "created" and created["tokens_spent"] == 5
    assert created["match_key"] == "acme.io"
    assert unchanged["outcome"] == "unchanged" and unchanged["message"] == "No changes"
    assert unchanged["tokens_spent"] == 0
    assert replayed.duplicate and results_of(replayed) == [created]
    assert pusher.writes() == [("POST", "/api/v2/organizations")]
    assert [o["name"] for o in pusher.organizations("acme.io")] == ["Acme"]


async def test_auto_push_off_writes_nothing(pusher: PusherHarness) -> None:
    await pusher.settings(push_settings(version=2).model_copy(update={"auto_push": AutoPush(enabled=False)}))

    handled = await pusher.send(reveal("quiet.io", "Quiet"))

    assert not handled.outputs and pusher.calls() == 0


async def test_an_enriched_contact_creates_a_person_linked_to_its_organization(pusher: PusherHarness) -> None:
    [org] = results_of(await pusher.send(reveal("beta.io", "Beta")))
    enriched = ContactEnriched(
        email=" Ann@Beta.io ", first_name="Ann", last_name="Lee", company_domain="beta.io", enriched_at=NOW
    )

    [person] = results_of(await pusher.send(enriched))

    assert person["outcome"] == "created" and person["match_key"] == "ann@beta.io"
    stored = pusher.record(Entity.PERSON, person["pipedrive_id"])
    assert stored["name"] == "Ann Lee" and stored["org_id"] == org["pipedrive_id"]
    assert [e["value"] for e in stored["emails"]] == [
        "Ann@Beta.io"
    ]  # written as given (trimmed), matched by its lowercase key


async def test_fill_writes_only_empty_fields_and_overwrite_replaces_differing_values(
    pusher: PusherHarness,
) -> None:
    client = pusher.clients.for_tenant(pusher.tenant)
    existing = await client.organizations.create({"name": "Old Name", "website": "gamma.io"})
    await pusher.mirror(SyncObject.ORGANIZATION, existing.model_dump(mode="json"))
    pusher.sandbox.state.ledger.reset()

    fill = await pusher.send(reveal("gamma.io", "Gamma Inc"))
    assert results_of(fill)[0]["message"] == "No changes" and pusher.writes() == []

    overwrite = ObjectSettings(
        directions=BOTH_WAYS,
        fields=(mapped("name", "name", "overwrite"), mapped("website", "website", "fill")),
    )
    await pusher.settings(push_settings(version=2, organization=overwrite))
    [updated] = results_of(await pusher.send(reveal("gamma.io", "Gamma Inc")))

    assert updated["outcome"] == "updated" and updated["fields_written"] == ["name"]
    assert pusher.writes() == [("PATCH", f"/api/v2/organizations/{existing.id}")]
    assert pusher.record(Entity.ORGANIZATION, existing.id)["name"] == "Gamma Inc"
    assert pusher.record(Entity.ORGANIZATION, existing.id)["website"] == "gamma.io"


async def test_a_record_missing_a_required_field_fails_without_a_call(pusher: PusherHarness) -> None:
    request = PushRequested(
        object=SyncObject.PERSON,
        match_key="nobody@delta.io",
        record={"email": "nobody@delta.io"},
        batch_id="b1",
    )

    [failed] = results_of(await pusher.send(request))

    assert failed["outcome"] == "failed" and failed["message"] == "Required field missing: name"
    assert pusher.calls() == 0


async def test_a_score_move_updates_the_organization_and_its_open_deals_creating_the_field_once(
    pusher: PusherHarness,
) -> None:
    client = pusher.clients.for_tenant(pusher.tenant)
    orgs = [await client.organizations.create({"name": f"S{n}", "website": f"s{n}.io"}) for n in range(3)]
    for org in orgs:
        await pusher.mirror(SyncObject.ORGANIZATION, org.model_dump(mode="json"))
    open_deal = await client.deals.create({"title": "Open", "org_id": orgs[0].id})
    won_deal = await client.deals.create({"title": "Won", "org_id": orgs[0].id, "status": "won"})
    for deal in (open_deal, won_deal):
        await pusher.mirror(SyncObject.DEAL, deal.model_dump(mode="json"))

    handled = await asyncio.gather(
        *(pusher.send(ScoreChanged(domain=f"s{n}.io", score=70, changed_at=NOW)) for n in range(3))
    )

    fields = pusher.sandbox.state.account.custom_fields(Entity.ORGANIZATION).values()
    codes = [f.field_code for f in fields if f.field_name == "Engagement score"]
    assert len(codes) == 1
    first = results_of(handled[0])
    assert [(r["object"], r["outcome"]) for r in first] == [("organization", "updated"), ("deal", "updated")]
    assert pusher.record(Entity.ORGANIZATION, orgs[0].id)["custom_fields"][codes[0]] == 70
    deal_codes = [
        f.field_code
        for f in pusher.sandbox.state.account.custom_fields(Entity.DEAL).values()
        if f.field_name == "Engagement score"
    ]
    assert pusher.record(Entity.DEAL, open_deal.id)["custom_fields"][deal_codes[0]] == 70
    assert (pusher.record(Entity.DEAL, won_deal.id).get("custom_fields") or {}).get(deal_codes[0]) is None

    pusher.sandbox.state.ledger.reset()
    [small] = results_of(await pusher.send(ScoreChanged(domain="s0.io", score=75, changed_at=NOW)))
    assert small["outcome"] == "skipped" and small["message"] == "Score moved less than the threshold"
    big = results_of(await pusher.send(ScoreChanged(domain="s0.io", score=80, changed_at=NOW)))
    assert [r["outcome"] for r in big] == ["updated", "updated"]
    assert sum(r["tokens_spent"] for r in big) == 10


async def test_the_echo_of_a_write_is_recognized_and_pushes_nothing_again(pusher: PusherHarness) -> None:
    [created] = results_of(await pusher.send(reveal("echo.io", "Echo")))
    echoed = pusher.record(Entity.ORGANIZATION, created["pipedrive_id"])
    pusher.sandbox.state.ledger.reset()

    await pusher.mirror(SyncObject.ORGANIZATION, echoed, at=echoed["update_time"])
    again = await pusher.send(reveal("echo.io", "Echo"))

    is_echo = await pusher.pool.fetchval(
        f"SELECT last_change_was_echo FROM {pusher.schema}.mirror WHERE tenant_id = $1 AND pipedrive_id = $2",
        pusher.tenant,
        created["pipedrive_id"],
    )
    assert is_echo is True
    assert results_of(again)[0]["outcome"] == "unchanged" and pusher.calls() == 0


async def test_a_record_deleted_in_pipedrive_is_not_recreated_by_auto_push(pusher: PusherHarness) -> None:
    [created] = results_of(await pusher.send(reveal("gone.io", "Gone")))
    from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
    from schemas.keys import source_change_key

    deleted = SourceChange(
        object=SyncObject.ORGANIZATION, pipedrive_id=created["pipedrive_id"], action=ChangeAction.DELETED,
        update_time=datetime(2030, 1, 1, tzinfo=UTC), origin=ChangeOrigin.WEBHOOK,
    )  # fmt: skip
    await pusher.send(deleted, subject=source_change_key(pusher.tenant, SyncObject.ORGANIZATION, 1))
    pusher.sandbox.state.ledger.reset()

    [skipped] = results_of(await pusher.send(reveal("gone.io", "Gone")))

    assert skipped["outcome"] == "skipped" and "Deleted in CRM" in skipped["message"]
    assert pusher.calls() == 0


NAME_INTO_VISIBLE_TO = ObjectSettings(
    directions=BOTH_WAYS, fields=(mapped("name", "visible_to", "overwrite"),)
)
"""A mapping Pipedrive refuses to write (text into an integer field), as settings from before the
connector checked field types could hold."""


async def test_an_update_pipedrive_refuses_fails_naming_the_record_it_was_for(pusher: PusherHarness) -> None:
    client = pusher.clients.for_tenant(pusher.tenant)
    existing = await client.organizations.create({"name": "Kappa", "website": "kappa.io"})
    await pusher.mirror(SyncObject.ORGANIZATION, existing.model_dump(mode="json"))
    await pusher.settings(push_settings(version=2, organization=NAME_INTO_VISIBLE_TO))

    [failed] = results_of(await pusher.send(reveal("kappa.io", "Kappa Ltd")))

    assert failed["outcome"] == "failed" and failed["message"].endswith("visible_to must be an integer")
    assert failed["pipedrive_id"] == existing.id and failed["match_key"] == "kappa.io"


async def test_a_create_pipedrive_refuses_fails_without_a_pipedrive_record(pusher: PusherHarness) -> None:
    await pusher.settings(push_settings(version=2, organization=NAME_INTO_VISIBLE_TO))

    [failed] = results_of(await pusher.send(reveal("lambda.io", "Lambda")))

    assert failed["outcome"] == "failed" and failed.get("pipedrive_id") is None
    assert pusher.organizations("lambda.io") == []
