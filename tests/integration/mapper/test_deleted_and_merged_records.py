"""Records Pipedrive deleted or merged away, in the ABM store: marked and unlinked, never revived by a
reveal; a merged organization's account, contacts and opportunities follow the survivor; a push that met
a 404 marks the record at once; a manual push that creates it again unmarks it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from schemas.events.abm_signals import CompanyRevealed
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.source_changes import ChangeAction
from tests.integration.mapper.conftest import MapperHarness

pytestmark = pytest.mark.integration

ORG = SyncObject.ORGANIZATION


async def test_a_reveal_of_a_deleted_organizations_domain_keeps_the_account_marked(
    mapper: MapperHarness,
) -> None:
    await mapper.change(ORG, 40, {"name": "Gone"}, at="2026-11-01T10:00:00Z")
    await mapper.change(ORG, 41, {"name": "Gone Two", "website": "gone.io"}, at="2026-11-01T10:00:00Z")
    await mapper.change(ORG, 41, None, action=ChangeAction.DELETED, at="2026-11-01T11:00:00Z")

    await mapper.send(
        CompanyRevealed(domain="gone.io", name="Gone", industry="Software", revealed_at=datetime.now(UTC))
    )

    account = await mapper.account("gone.io")
    assert account["deleted_in_crm"] is True
    assert account["fields"]["industry"] == "Software"  # the reveal still filled what was empty


async def test_a_merged_organizations_contacts_and_opportunities_follow_the_survivor(
    mapper: MapperHarness,
) -> None:
    await mapper.change(ORG, 50, {"name": "Loser", "website": "loser.io"})
    await mapper.change(ORG, 51, {"name": "Survivor", "website": "survivor.io"})
    await mapper.change(
        SyncObject.PERSON, 60, {"name": "Pat", "emails": [{"value": "pat@loser.io"}], "org_id": 50}
    )
    await mapper.change(SyncObject.DEAL, 70, {"title": "Deal", "org_id": 50, "person_id": 60})

    await mapper.change(ORG, 50, None, action=ChangeAction.MERGED, merged_into=51, at="2026-11-01T11:00:00Z")

    links = {
        link["pipedrive_id"]: link for link in await mapper.rows("links") if link["object"] == "organization"
    }
    survivor_account = (await mapper.account("survivor.io"))["abm_id"]
    assert links[51]["abm_id"] == survivor_account  # the survivor keeps its own account
    assert (links[50]["merged_into_id"], links[50]["deleted_in_crm"]) == (51, True)
    assert [c["fields"]["organization"] for c in await mapper.rows("contacts")] == [51]
    assert [o["fields"]["organization"] for o in await mapper.rows("opportunities")] == [51]


async def test_a_merged_person_leaves_its_opportunities_on_the_survivor(mapper: MapperHarness) -> None:
    await mapper.change(SyncObject.PERSON, 60, {"name": "Pat", "emails": [{"value": "pat@a.io"}]})
    await mapper.change(SyncObject.DEAL, 70, {"title": "Deal", "person_id": 60})

    await mapper.change(
        SyncObject.PERSON, 60, None, action=ChangeAction.MERGED, merged_into=61, at="2026-11-01T11:00:00Z"
    )

    assert [o["fields"]["person"] for o in await mapper.rows("opportunities")] == [61]


def _pushed(outcome: RecordOutcome, pipedrive_id: int, *, gone: bool = False) -> PushCompleted:
    return PushCompleted(
        object=ORG, match_key="acme.io", outcome=outcome, pipedrive_id=pipedrive_id, run_id="auto-push-1",
        deleted_in_pipedrive=gone,
    )  # fmt: skip


async def test_a_push_that_met_a_404_marks_the_record_and_a_manual_create_unmarks_it(
    mapper: MapperHarness,
) -> None:
    await mapper.change(ORG, 80, {"name": "Acme", "website": "acme.io"})

    await mapper.send(_pushed(RecordOutcome.SKIPPED, 80, gone=True))
    marked = await mapper.account("acme.io")
    await mapper.send(_pushed(RecordOutcome.CREATED, 81))
    revived = await mapper.account("acme.io")

    assert marked["deleted_in_crm"] is True
    links = {link["pipedrive_id"]: link for link in await mapper.rows("links")}
    assert links[80]["deleted_in_crm"] is True
    assert revived["deleted_in_crm"] is False and links[81]["abm_id"] == revived["abm_id"]
