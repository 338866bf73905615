"""Auto-push and records Pipedrive deleted or merged away: never re-created (only a manual push creates
them again), a merged organization's survivor updated instead; a write that meets a 404 is a skipped
result at once, the record known deleted from then on, no further call for it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity
from schemas.events.abm_signals import CompanyRevealed, ScoreChanged
from schemas.events.common import SyncObject
from schemas.events.push import PushRequested
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.keys import source_change_key
from tests.integration.pusher.conftest import PusherHarness, results_of

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
GONE_AT = datetime(2026, 11, 2, 8, tzinfo=UTC)


def reveal(domain: str, name: str) -> CompanyRevealed:
    return CompanyRevealed(domain=domain, name=name, revealed_at=NOW)


async def _known(pusher: PusherHarness, name: str, website: str) -> int:
    """An organization created in Pipedrive by a person, mirrored by the pusher from a sync."""
    client = pusher.clients.for_tenant(pusher.tenant)
    org = await client.organizations.create({"name": name, "website": website})
    await pusher.mirror(SyncObject.ORGANIZATION, org.model_dump(mode="json"))
    return org.id


async def _gone(pusher: PusherHarness, pipedrive_id: int, merged_into: int | None = None) -> None:
    action = ChangeAction.MERGED if merged_into else ChangeAction.DELETED
    change = SourceChange(
        object=SyncObject.ORGANIZATION, pipedrive_id=pipedrive_id, action=action, update_time=GONE_AT,
        merged_into_id=merged_into, origin=ChangeOrigin.POLL,
    )  # fmt: skip
    await pusher.send(change, subject=source_change_key(pusher.tenant, SyncObject.ORGANIZATION, pipedrive_id))


async def test_a_reveal_of_a_deleted_organizations_domain_creates_nothing_a_manual_push_does(
    pusher: PusherHarness,
) -> None:
    org_id = await _known(pusher, "Deleted Inc", "deleted.io")
    await _gone(pusher, org_id)
    pusher.sandbox.state.ledger.reset()

    [auto] = results_of(await pusher.send(reveal("deleted.io", "Deleted Inc")))
    assert pusher.writes() == []
    manual = PushRequested(
        object=SyncObject.ORGANIZATION, match_key="deleted.io", record={"name": "Deleted Inc"}, batch_id="b1"
    )
    [again] = results_of(await pusher.send(manual))

    assert (auto["outcome"], auto["pipedrive_id"]) == ("skipped", org_id)
    assert auto["message"].startswith("Deleted in CRM")
    assert again["outcome"] == "created" and again["pipedrive_id"] != org_id
    assert pusher.writes() == [("POST", "/api/v2/organizations")]


async def test_a_reveal_after_a_merge_updates_the_survivor_and_creates_nothing(pusher: PusherHarness) -> None:
    loser = await _known(pusher, "Merged Away", "merged.io")
    survivor = await _known(pusher, "Survivor", "")
    await _gone(pusher, loser, merged_into=survivor)
    pusher.sandbox.state.ledger.reset()

    [result] = results_of(await pusher.send(reveal("merged.io", "Merged Away")))

    assert result["pipedrive_id"] == survivor and result["outcome"] == "updated"
    assert pusher.writes() == [("PATCH", f"/api/v2/organizations/{survivor}")]
    assert pusher.record(Entity.ORGANIZATION, survivor)["website"] == "merged.io"  # Fill: it had none


async def test_an_update_that_meets_a_404_is_skipped_at_once_and_never_sent_again(
    pusher: PusherHarness,
) -> None:
    org_id = await _known(pusher, "Unnoticed", "unnoticed.io")
    pusher.sandbox.state.entities.delete(Entity.ORGANIZATION, org_id, 1, ChangeSource.APP)  # not synced yet
    pusher.sandbox.state.ledger.reset()

    first = await pusher.send(ScoreChanged(domain="unnoticed.io", score=70, changed_at=NOW))
    calls_after_first = pusher.calls()
    second = await pusher.send(reveal("unnoticed.io", "Unnoticed Renamed"))

    [gone] = [r for r in results_of(first) if r["object"] == "organization"]
    assert (gone["outcome"], gone["pipedrive_id"], gone["deleted_in_pipedrive"]) == ("skipped", org_id, True)
    assert "404" in gone["message"]
    patches = [w for w in pusher.writes() if w[0] == "PATCH"]
    assert patches == [("PATCH", f"/api/v2/organizations/{org_id}")]  # tried once, no retries
    [skipped] = results_of(second)
    assert skipped["outcome"] == "skipped" and pusher.calls() == calls_after_first
    mirrored = await pusher.pool.fetchval(
        f"SELECT deleted FROM {pusher.schema}.mirror WHERE tenant_id = $1 AND pipedrive_id = $2",
        pusher.tenant,
        org_id,
    )
    assert mirrored is True
