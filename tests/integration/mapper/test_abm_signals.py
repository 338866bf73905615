"""The ABM platform's signals kept in the store: reveals, enrichments, engagement scores, push links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from schemas.events.abm_signals import CompanyRevealed, ContactEnriched, ScoreChanged, VisitedPage
from schemas.events.common import RecordOutcome, SyncObject
from schemas.events.push import PushCompleted, WrittenVersion
from schemas.events.settings import (
    DirectionSwitches,
    FieldMapping,
    FieldMode,
    ObjectSettings,
    TenantSettings,
)
from stream_runner.errors import PermanentError
from tests.integration.mapper.conftest import MapperHarness, result_of

pytestmark = pytest.mark.integration

T1 = datetime(2026, 11, 1, 10, tzinfo=UTC)
T2 = datetime(2026, 11, 1, 11, tzinfo=UTC)
BOTH_WAYS = DirectionSwitches(
    create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=True, update_in_abm=True
)
OVERWRITE_NAME = FieldMapping(
    abm_field="name", pipedrive_field="name", to_pipedrive=FieldMode.OVERWRITE, to_abm=FieldMode.OVERWRITE
)
NAMES_BOTH_WAYS = TenantSettings(
    version=1,
    objects={
        SyncObject.ORGANIZATION: ObjectSettings(
            directions=BOTH_WAYS,
            fields=(OVERWRITE_NAME, FieldMapping(abm_field="website", pipedrive_field="website")),
        )
    },
)


def _reveal(domain: str, name: str = "Acme", at: datetime = T1) -> CompanyRevealed:
    page = VisitedPage(url="https://abm-customer.io/pricing", visited_at=at)
    return CompanyRevealed(domain=domain, name=name, revealed_at=at, industry="Software", pages=(page,))


async def test_a_revealed_company_becomes_an_account_with_its_activity(mapper: MapperHarness) -> None:
    await mapper.send(_reveal("https://www.Acme.io/"))
    await mapper.send(_reveal("acme.io", name="Acme Renamed", at=T2))

    account = await mapper.account("acme.io")
    assert account["fields"]["name"] == "Acme"  # reveals only fill what is empty
    assert account["reveal_count"] == 2
    assert account["last_revealed_at"] == T2
    assert len(account["recent_pages"]) == 2


async def test_a_reveal_with_an_unusable_domain_is_refused_with_its_reason(mapper: MapperHarness) -> None:
    with pytest.raises(PermanentError, match="IP address"):
        await mapper.send(_reveal("192.168.1.10"))
    assert await mapper.rows("accounts") == []


async def test_the_latest_score_wins_whatever_the_order(mapper: MapperHarness) -> None:
    await mapper.send(ScoreChanged(domain="score.io", score=80, changed_at=T2))
    await mapper.send(ScoreChanged(domain="score.io", score=40, changed_at=T1))

    assert (await mapper.account("score.io"))["engagement_score"] == 80


async def test_an_enriched_contact_is_stored_by_its_normalized_email(mapper: MapperHarness) -> None:
    enriched = ContactEnriched(
        email=" Jane.Doe@Gmail.com ",
        first_name="Jane",
        last_name="Doe",
        company_domain="acme.io",
        enriched_at=T1,
    )
    await mapper.send(enriched)

    contacts = await mapper.rows("contacts")
    assert [(c["match_key"], c["fields"]["name"], c["fields"]["personal_email"]) for c in contacts] == [
        ("jane.doe@gmail.com", "Jane Doe", True)
    ]


async def test_a_pushed_record_is_linked_to_what_the_pusher_created(mapper: MapperHarness) -> None:
    await mapper.send(_reveal("pushed.io"))
    account = await mapper.account("pushed.io")
    await mapper.send(
        PushCompleted(
            object=SyncObject.ORGANIZATION,
            match_key="pushed.io",
            outcome=RecordOutcome.CREATED,
            pipedrive_id=900,
            run_id="push-1",
        )
    )

    assert [(link["pipedrive_id"], link["abm_id"]) for link in await mapper.rows("links")] == [
        (900, account["abm_id"])
    ]


async def test_a_name_the_push_wrote_is_kept_and_its_echo_changes_nothing(mapper: MapperHarness) -> None:
    await mapper.settings(NAMES_BOTH_WAYS)
    await mapper.change(
        SyncObject.ORGANIZATION, 901, {"name": "Acme", "website": "echo.io"}, at=T1.isoformat()
    )
    await mapper.send(_reveal("echo.io", name="Acme Renamed", at=T2))  # fills only: the name stays
    written_at = T2 + timedelta(seconds=3)
    echo = {"name": "Acme Renamed", "website": "echo.io"}

    await mapper.send(
        PushCompleted(
            object=SyncObject.ORGANIZATION, match_key="echo.io", outcome=RecordOutcome.UPDATED,
            pipedrive_id=901, fields_written=("name",), run_id="auto-push",
            written=WrittenVersion(update_time=written_at, values={"name": "Acme Renamed"}),
        )
    )  # fmt: skip

    assert (await mapper.account("echo.io"))["fields"]["name"] == "Acme Renamed"
    [link] = await mapper.rows("links")
    assert link["source_update_time"] == written_at
    applied = await mapper.change(SyncObject.ORGANIZATION, 901, echo, at=written_at.isoformat())
    assert result_of(applied)["outcome"] == "unchanged"
