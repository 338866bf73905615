"""Pipedrive changes applied to the ABM store, scenario by scenario against the rule book."""

from __future__ import annotations

import pytest

from schemas.events.common import SyncObject
from schemas.events.settings import (
    DirectionSwitches,
    FieldMapping,
    FieldMode,
    ObjectSettings,
    TenantSettings,
)
from schemas.events.source_changes import ChangeAction, DuplicateHandling
from tests.integration.mapper.conftest import MapperHarness, result_of

pytestmark = pytest.mark.integration

ORG = SyncObject.ORGANIZATION


async def test_a_new_organization_becomes_a_linked_account(mapper: MapperHarness) -> None:
    handled = await mapper.change(ORG, 10, {"name": "Acme", "website": "https://www.Acme.co.uk/about"})

    account = await mapper.account("acme.co.uk")
    assert account["fields"]["name"] == "Acme"
    links = await mapper.rows("links")
    assert [(link["pipedrive_id"], link["abm_id"]) for link in links] == [(10, account["abm_id"])]
    result = result_of(handled)
    assert (result["outcome"], result["match_key"], result["abm_id"]) == (
        "created",
        "acme.co.uk",
        account["abm_id"],
    )


async def test_every_messy_form_of_one_website_finds_one_account_linked_to_the_first(
    mapper: MapperHarness,
) -> None:
    forms = ["https://www.Acme.com/about", "acme.com.", "HTTP://ACME.COM:8080/x?y=1", "www.acme.com"]
    handled = [
        await mapper.change(ORG, pipedrive_id, {"name": f"Acme {pipedrive_id}", "website": website})
        for pipedrive_id, website in enumerate(forms, start=1)
    ]

    accounts = await mapper.rows("accounts")
    assert [a["match_key"] for a in accounts] == ["acme.com"]
    assert [(link["pipedrive_id"], link["abm_id"]) for link in await mapper.rows("links")] == [
        (1, accounts[0]["abm_id"])
    ]
    assert [(result_of(h)["outcome"], result_of(h).get("message")) for h in handled[1:]] == [
        ("skipped", "Duplicate found: acme.com is linked to Pipedrive organization 1")
    ] * 3
    assert accounts[0]["fields"]["name"] == "Acme 1"


async def test_an_organization_without_a_usable_domain_is_skipped_with_a_warning(
    mapper: MapperHarness,
) -> None:
    handled = await mapper.change(ORG, 11, {"name": "No site", "website": "10.0.0.1"})

    assert await mapper.rows("accounts") == []
    result = result_of(handled)
    assert result["outcome"] == "skipped"
    assert "No usable match key" in result["message"]


async def test_a_redelivered_change_is_applied_once_and_reports_the_same_result(
    mapper: MapperHarness,
) -> None:
    first = await mapper.change(ORG, 12, {"name": "Once", "website": "once.io"})
    again = await mapper.change(ORG, 12, {"name": "Once", "website": "once.io"})

    assert again.duplicate
    assert again.outputs == first.outputs
    assert len(await mapper.rows("accounts")) == 1


async def test_an_older_version_never_regresses_the_record(mapper: MapperHarness) -> None:
    await mapper.change(ORG, 13, {"name": "New name", "website": "order.io"}, at="2026-11-02T10:00:00Z")
    stale = await mapper.change(
        ORG, 13, {"name": "Old name", "website": "order.io"}, at="2026-11-01T10:00:00Z"
    )

    assert (await mapper.account("order.io"))["fields"]["name"] == "New name"
    assert result_of(stale)["outcome"] == "unchanged"


def _org_settings(name_mode: FieldMode, *, version: int = 1) -> TenantSettings:
    fields = (
        FieldMapping(abm_field="name", pipedrive_field="name", to_abm=name_mode),
        FieldMapping(abm_field="website", pipedrive_field="website", to_abm=FieldMode.OVERWRITE),
    )
    directions = DirectionSwitches(create_in_abm=True, update_in_abm=True)
    return TenantSettings(
        version=version, objects={ORG: ObjectSettings(directions=directions, fields=fields)}
    )


async def test_fill_never_overwrites_a_value(mapper: MapperHarness) -> None:
    await mapper.settings(_org_settings(FieldMode.FILL))
    await mapper.change(ORG, 20, {"name": "First", "website": "fill.io"}, at="2026-11-01T10:00:00Z")
    await mapper.change(ORG, 20, {"name": "Second", "website": "fill.io"}, at="2026-11-01T11:00:00Z")

    assert (await mapper.account("fill.io"))["fields"]["name"] == "First"


async def test_overwrite_writes_a_differing_value(mapper: MapperHarness) -> None:
    await mapper.settings(_org_settings(FieldMode.OVERWRITE))
    await mapper.change(ORG, 21, {"name": "First", "website": "over.io"}, at="2026-11-01T10:00:00Z")
    handled = await mapper.change(
        ORG, 21, {"name": "Second", "website": "over.io"}, at="2026-11-01T11:00:00Z"
    )

    assert (await mapper.account("over.io"))["fields"]["name"] == "Second"
    assert result_of(handled)["outcome"] == "updated"


async def test_an_empty_source_never_clears_a_value(mapper: MapperHarness) -> None:
    await mapper.settings(_org_settings(FieldMode.OVERWRITE))
    await mapper.change(ORG, 22, {"name": "Kept", "website": "keep.io"}, at="2026-11-01T10:00:00Z")
    await mapper.change(ORG, 22, {"name": "", "website": "keep.io"}, at="2026-11-01T11:00:00Z")

    assert (await mapper.account("keep.io"))["fields"]["name"] == "Kept"


async def test_dont_sync_leaves_the_field_alone(mapper: MapperHarness) -> None:
    await mapper.settings(_org_settings(FieldMode.DONT_SYNC))
    await mapper.change(ORG, 23, {"name": "Never", "website": "dont.io"})

    assert "name" not in (await mapper.account("dont.io"))["fields"]


async def test_a_settings_change_applies_to_the_next_event(mapper: MapperHarness) -> None:
    await mapper.settings(_org_settings(FieldMode.FILL, version=1))
    await mapper.change(ORG, 24, {"name": "First", "website": "next.io"}, at="2026-11-01T10:00:00Z")
    await mapper.settings(_org_settings(FieldMode.OVERWRITE, version=2))
    await mapper.change(ORG, 24, {"name": "Second", "website": "next.io"}, at="2026-11-01T11:00:00Z")

    assert (await mapper.account("next.io"))["fields"]["name"] == "Second"


async def test_creating_in_abm_switched_off_skips_new_records(mapper: MapperHarness) -> None:
    directions = DirectionSwitches(create_in_abm=False, update_in_abm=True)
    await mapper.settings(TenantSettings(version=1, objects={ORG: ObjectSettings(directions=directions)}))
    handled = await mapper.change(ORG, 25, {"name": "Nope", "website": "nope.io"})

    assert await mapper.rows("accounts") == []
    assert result_of(handled)["message"] == "Creating organizations is turned off"


@pytest.mark.parametrize(
    ("handling", "accounts", "outcome", "name"),
    [
        (DuplicateHandling.SKIP_DUPLICATES, 1, "skipped", "Existing"),
        (DuplicateHandling.UPDATE_EXISTING, 1, "updated", "Imported"),
        (DuplicateHandling.CREATE_DUPLICATES, 2, "created", "Existing"),
    ],
)
async def test_import_duplicate_handling_of_an_account_no_organization_links(
    mapper: MapperHarness, handling: DuplicateHandling, accounts: int, outcome: str, name: str
) -> None:
    # The account's organization was deleted in Pipedrive: the account stays, linked to none.
    await mapper.change(ORG, 30, {"name": "Existing", "website": "dup.io"})
    await mapper.change(ORG, 30, None, action=ChangeAction.DELETED, at="2026-11-01T10:30:00Z")
    handled = await mapper.change(
        ORG, 31, {"name": "Imported", "website": "www.dup.io"}, at="2026-11-01T11:00:00Z", duplicates=handling
    )

    assert len(await mapper.rows("accounts")) == accounts
    assert result_of(handled)["outcome"] == outcome
    assert (await mapper.account("dup.io"))["fields"]["name"] == name
    if handling is DuplicateHandling.SKIP_DUPLICATES:
        assert result_of(handled)["message"] == "Duplicate found"
    if handling is DuplicateHandling.UPDATE_EXISTING:
        live = [link["pipedrive_id"] for link in await mapper.rows("links") if not link["deleted_in_crm"]]
        assert live == [31]


@pytest.mark.parametrize(
    ("handling", "accounts", "outcome"),
    [
        (None, 1, "skipped"),
        (DuplicateHandling.SKIP_DUPLICATES, 1, "skipped"),
        (DuplicateHandling.UPDATE_EXISTING, 1, "skipped"),
        (DuplicateHandling.CREATE_DUPLICATES, 2, "created"),
    ],
)
async def test_an_organization_whose_domain_is_linked_to_another_is_a_duplicate_of_it(
    mapper: MapperHarness, handling: DuplicateHandling | None, accounts: int, outcome: str
) -> None:
    # Two organizations of acme-rv.com: the account follows the first, linked to it, never the second
    # (which once updated it and was linked to it too: the account took whichever changed last).
    await mapper.change(ORG, 12, {"name": "Acme RV", "website": "acme-rv.com"})
    second = {"name": "Acme RV (2)", "website": "https://acme-rv.com/"}
    handled = await mapper.change(ORG, 13, second, duplicates=handling)
    later = await mapper.change(ORG, 13, second, at="2026-11-01T12:00:00Z")  # a later sync of it
    await mapper.change(ORG, 12, {"name": "Acme RV Inc", "website": "acme-rv.com"}, at="2026-11-01T13:00:00Z")

    assert len(await mapper.rows("accounts")) == accounts
    assert result_of(handled)["outcome"] == outcome
    account = await mapper.account("acme-rv.com")
    assert account["fields"]["name"] == "Acme RV Inc"
    linked = {link["pipedrive_id"]: link["abm_id"] for link in await mapper.rows("links")}
    assert linked[12] == account["abm_id"] and linked.get(13) != account["abm_id"]
    if outcome == "skipped":
        assert 13 not in linked
        for result in (result_of(handled), result_of(later)):
            assert (result["outcome"], result["message"]) == (
                "skipped",
                "Duplicate found: acme-rv.com is linked to Pipedrive organization 12",
            )


@pytest.mark.parametrize("handling", list(DuplicateHandling))
async def test_a_reimport_of_a_linked_record_is_no_duplicate_under_any_handling(
    mapper: MapperHarness, handling: DuplicateHandling
) -> None:
    await mapper.change(ORG, 32, {"name": "Known", "website": "known.io"}, duplicates=handling)
    again = await mapper.change(
        ORG, 32, {"name": "Known", "website": "known.io"}, at="2026-11-01T11:00:00Z", duplicates=handling
    )
    renamed = await mapper.change(
        ORG, 32, {"name": "Renamed", "website": "known.io"}, at="2026-11-01T12:00:00Z", duplicates=handling
    )

    assert (result_of(again)["outcome"], result_of(again)["message"]) == ("unchanged", "No changes")
    assert result_of(renamed)["outcome"] == "updated"
    assert [a["fields"]["name"] for a in await mapper.rows("accounts")] == ["Renamed"]
    assert len(await mapper.rows("links")) == 1


async def test_a_deleted_organization_unlinks_and_marks_but_keeps_the_account(mapper: MapperHarness) -> None:
    await mapper.change(ORG, 40, {"name": "Gone", "website": "gone.io"}, at="2026-11-01T10:00:00Z")
    handled = await mapper.change(ORG, 40, None, action=ChangeAction.DELETED, at="2026-11-01T11:00:00Z")

    account = await mapper.account("gone.io")
    assert account["deleted_in_crm"] is True
    assert account["fields"]["name"] == "Gone"
    assert [link["deleted_in_crm"] for link in await mapper.rows("links")] == [True]
    assert result_of(handled)["message"] == "Deleted in CRM"


async def test_a_merge_repoints_the_link_to_the_survivor_without_creating(mapper: MapperHarness) -> None:
    await mapper.change(ORG, 50, {"name": "Loser", "website": "merge.io"}, at="2026-11-01T10:00:00Z")
    await mapper.change(ORG, 50, None, action=ChangeAction.MERGED, merged_into=51, at="2026-11-01T11:00:00Z")
    await mapper.change(ORG, 51, {"name": "Survivor", "website": "merge.io"}, at="2026-11-01T11:00:00Z")

    accounts = await mapper.rows("accounts")
    assert len(accounts) == 1
    links = {link["pipedrive_id"]: link for link in await mapper.rows("links")}
    assert links[51]["abm_id"] == accounts[0]["abm_id"]
    assert links[50]["merged_into_id"] == 51


async def test_persons_match_by_email_and_deals_by_id(mapper: MapperHarness) -> None:
    person = {
        "name": "Jane",
        "emails": [{"value": "x@other.io", "primary": False}, {"value": "Jane@Acme.io", "primary": True}],
    }
    await mapper.change(SyncObject.PERSON, 60, person)
    await mapper.change(
        SyncObject.DEAL, 70, {"title": "Big deal", "value": 5000, "org_id": 10, "person_id": 60}
    )

    contacts = await mapper.rows("contacts")
    assert [(c["match_key"], c["fields"]["email"]) for c in contacts] == [("jane@acme.io", "Jane@Acme.io")]
    opportunities = await mapper.rows("opportunities")
    assert [(o["match_key"], o["fields"]["title"], o["fields"]["person"]) for o in opportunities] == [
        ("70", "Big deal", 60)
    ]
