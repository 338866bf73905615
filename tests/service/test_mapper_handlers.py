"""The mapper's handlers as a specification, run on in-memory fakes of its ports (no Kafka, no
PostgreSQL): what each message does to the ABM store and what the mapper reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from mapper.handlers import MapperHandlers, dead_lettered_message
from schemas.catalog import build_event, event_type_of
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed, ScoreChanged, VisitedPage
from schemas.events.common import Direction, RecordOutcome, SyncObject
from schemas.events.push import PushCompleted
from schemas.events.settings import TenantSettings
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from stream_runner.messages import Handled, IncomingMessage
from tests.service.mapper_fakes import InMemoryMapperStore
from tests.service.settings_fake import InMemorySettings
from tests.support.event_dispatch import apply_as_consumed

TENANT = "acme-tenant"
T0 = datetime(2026, 11, 1, 9, tzinfo=UTC)
ORG = SyncObject.ORGANIZATION


class Mapper:
    """The handlers on fakes, fed events as the consumer loop feeds them."""

    def __init__(self) -> None:
        self.store, self.settings = InMemoryMapperStore(clock=lambda: T0), InMemorySettings()
        self.handlers = MapperHandlers(self.store, self.settings)
        self._offset = 0

    def event(self, payload: BaseModel, event_id: str, run_id: str | None = None) -> CloudEvent[Any]:
        return build_event(
            payload, tenant=TENANT, subject=f"{TENANT}:{event_id}", source="/test", id_parts=(event_id,),
            time=T0, correlationid=run_id,
        )  # fmt: skip

    def message(self, event: CloudEvent[Any]) -> IncomingMessage:
        self._offset += 1
        return IncomingMessage(event_type_of(event.data).topic.name, 0, self._offset, None, b"")

    async def deliver(self, event: CloudEvent[Any]) -> Handled:
        handlers = self.handlers
        return await apply_as_consumed(
            handlers.by_event_type(), handlers.batch_handlers(), event, self.message(event)
        )

    async def deliver_batch(self, events: list[CloudEvent[Any]]) -> list[Handled]:
        batch = self.handlers.batch_handlers()["psync.source.changed"]
        return list(await batch([(e, self.message(e)) for e in events]))

    def account(self, abm_id: str) -> dict[str, Any]:
        row = self.store.record(TENANT, ORG, abm_id)
        assert row is not None
        return row


def organization(pipedrive_id: int, website: str, minutes: int = 0) -> SourceChange:
    return SourceChange(
        object=ORG, pipedrive_id=pipedrive_id, action=ChangeAction.UPSERTED,
        update_time=T0 + timedelta(minutes=minutes),
        record={"id": pipedrive_id, "name": f"Org {pipedrive_id}", "website": website},
        origin=ChangeOrigin.POLL,
    )  # fmt: skip


def finished(run_id: str, emitted: int) -> RunFinished:
    return RunFinished(
        run_id=run_id, service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM, objects=(ORG,),
        started_at=T0, finished_at=T0, counts=RunCounts(), tokens_spent=0, status=RunStatus.SUCCESS,
        emitted=emitted,
    )  # fmt: skip


def payloads(handled: Handled) -> list[tuple[str, dict[str, Any]]]:
    """(event type, data) of every message the handler emitted, in order."""
    decoded = [orjson.loads(m.value) for m in handled.outputs]
    return [(d["type"], d["data"]) for d in decoded]


@pytest.fixture
def mapper() -> Mapper:
    return Mapper()


async def test_a_new_organization_becomes_an_account_and_its_result_says_created(mapper: Mapper) -> None:
    handled = await mapper.deliver(mapper.event(organization(1, "https://www.acme.io/about"), "e1"))

    [(kind, result)] = payloads(handled)
    assert kind == "psync.record.applied" and not handled.duplicate
    assert (result["outcome"], result["match_key"], result["pipedrive_id"]) == ("created", "acme.io", 1)
    assert mapper.account(result["abm_id"])["fields"]["name"] == "Org 1"


async def test_a_redelivered_change_writes_nothing_and_resends_its_first_result(mapper: Mapper) -> None:
    event = mapper.event(organization(1, "acme.io"), "e1")
    first = await mapper.deliver(event)
    before = mapper.store.tables.records

    again = await mapper.deliver(event)

    assert again.duplicate and list(again.outputs) == list(first.outputs)
    assert mapper.store.tables.records == before


async def test_an_event_twice_in_one_batch_is_applied_once(mapper: Mapper) -> None:
    event = mapper.event(organization(1, "acme.io"), "e1")

    first, second = await mapper.deliver_batch([event, event])

    assert not first.duplicate and second.duplicate
    assert [r["outcome"] for _, r in payloads(first)] == ["created"]


async def test_a_fresh_batch_writes_each_inbox_row_once_with_its_results(
    mapper: Mapper, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh batch is claimed last, rows and results in one write: the claim-first path's second write
    # (save_outputs_of) is not taken.
    second_writes: list[Any] = []
    monkeypatch.setattr(mapper.store.tables.inbox, "save_outputs_of", second_writes.append)
    events = [mapper.event(organization(1, "acme.io"), "e1"), mapper.event(organization(2, "b.io"), "e2")]

    handled = await mapper.deliver_batch(events)

    rows = mapper.store.tables.inbox.rows
    assert second_writes == []
    assert [rows[(TENANT, e.id)].outputs for e in events] == [list(h.outputs) for h in handled]


async def test_a_batch_with_an_event_applied_before_resends_its_results_and_applies_the_rest(
    mapper: Mapper,
) -> None:
    applied = mapper.event(organization(1, "acme.io"), "e1", run_id="run-1")
    first = await mapper.deliver(applied)
    records = mapper.store.tables.records

    again, fresh = await mapper.deliver_batch(
        [applied, mapper.event(organization(2, "acme.io", 1), "e2", run_id="run-1")]
    )

    assert again.duplicate and list(again.outputs) == list(first.outputs)
    [(_, result)] = [p for p in payloads(fresh) if p[0] == "psync.record.applied"]
    assert (result["outcome"], result["abm_id"]) == ("skipped", payloads(first)[-1][1]["abm_id"])
    assert len(mapper.store.tables.records) == len(records)
    counts = mapper.store.tables.runs[(TENANT, "run-1")]
    assert (counts["created"], counts["skipped"]) == (1, 1)


async def test_a_later_change_of_the_same_batch_sees_what_an_earlier_one_did(mapper: Mapper) -> None:
    handled = await mapper.deliver_batch(
        [mapper.event(organization(1, "acme.io"), "e1"), mapper.event(organization(2, "acme.io", 1), "e2")]
    )

    # The second organization of acme.io finds the account the first created, linked to it: a duplicate.
    outcomes = [payloads(h)[0][1] for h in handled]
    assert [o["outcome"] for o in outcomes] == ["created", "skipped"]
    assert outcomes[1]["message"] == "Duplicate found: acme.io is linked to Pipedrive organization 1"
    assert outcomes[0]["abm_id"] == outcomes[1]["abm_id"]


async def test_a_connector_run_is_reported_once_all_it_emitted_is_applied(mapper: Mapper) -> None:
    first = await mapper.deliver(mapper.event(organization(1, "acme.io"), "e1", run_id="run-1"))
    on_finish = await mapper.deliver(mapper.event(finished("run-1", 2), "end", run_id="run-1"))
    last = await mapper.deliver(mapper.event(organization(2, "beta.io"), "e2", run_id="run-1"))

    assert [kind for kind, _ in payloads(first)] == ["psync.run.started", "psync.record.applied"]
    assert payloads(first)[0][1]["run_id"] == "apply-run-1"
    assert payloads(on_finish) == []
    kinds = [kind for kind, _ in payloads(last)]
    # A completed run's report is its start (the same event id as the first) and its end.
    assert kinds == ["psync.record.applied", "psync.run.started", "psync.run.finished"]
    assert last.outputs[1] == first.outputs[0]
    report = payloads(last)[2][1]
    assert (report["run_id"], report["counts"]["created"], report["status"]) == ("apply-run-1", 2, "Success")


async def test_a_dead_lettered_change_fails_once_in_its_run(mapper: Mapper) -> None:
    event = mapper.event(organization(1, "acme.io"), "e1", run_id="run-2")
    dead_lettered = mapper.handlers.dead_letter_handlers()["psync.source.changed"]

    first = await dead_lettered(event, mapper.message(event), ValueError("bad"))
    again = await dead_lettered(event, mapper.message(event), ValueError("bad"))

    results = [data for kind, data in payloads(first) if kind == "psync.record.applied"]
    assert [(r["outcome"], r["message"]) for r in results] == [
        ("failed", dead_lettered_message(ValueError()))
    ]
    assert again.duplicate and list(again.outputs) == list(first.outputs)


async def test_a_record_the_pusher_created_is_linked_and_back_in_crm(mapper: Mapper) -> None:
    created = await mapper.deliver(
        mapper.event(CompanyRevealed(domain="acme.io", name="Acme", revealed_at=T0), "reveal")
    )
    assert created.outputs == []
    [abm_id] = [key[1] for key in mapper.store.tables.records["accounts"]]
    pushed = PushCompleted(
        object=ORG, match_key="acme.io", abm_id=abm_id, outcome=RecordOutcome.CREATED, pipedrive_id=42,
        fields_written=("name",), tokens_spent=10, run_id="auto-push",
    )  # fmt: skip

    await mapper.deliver(mapper.event(pushed, "pushed"))

    link = mapper.store.tables.links[(TENANT, ORG.value, 42)]
    assert (link["abm_id"], link["deleted_in_crm"]) == (abm_id, False)


async def test_a_record_pipedrive_no_longer_has_is_marked_deleted_in_crm(mapper: Mapper) -> None:
    created = payloads(await mapper.deliver(mapper.event(organization(7, "acme.io"), "e1")))[0][1]
    gone = PushCompleted(
        object=ORG, match_key="acme.io", abm_id=created["abm_id"], outcome=RecordOutcome.SKIPPED,
        pipedrive_id=7, run_id="auto-push", deleted_in_pipedrive=True,
    )  # fmt: skip

    await mapper.deliver(mapper.event(gone, "gone"))

    assert mapper.account(created["abm_id"])["deleted_in_crm"] is True


async def test_a_reveal_fills_the_account_and_an_older_score_is_ignored(mapper: Mapper) -> None:
    page = VisitedPage(url="https://acme.io/pricing", visited_at=T0)
    reveal = CompanyRevealed(domain="www.acme.io", name="Acme", revealed_at=T0, pages=(page,))
    await mapper.deliver(mapper.event(reveal, "reveal"))
    await mapper.deliver(mapper.event(ScoreChanged(domain="acme.io", score=70, changed_at=T0), "s1"))
    older = ScoreChanged(domain="acme.io", score=10, changed_at=T0 - timedelta(days=1))
    await mapper.deliver(mapper.event(older, "s0"))

    [account] = mapper.store.tables.records["accounts"].values()
    assert (account["match_key"], account["fields"]["name"], account["reveal_count"]) == (
        "acme.io",
        "Acme",
        1,
    )
    assert account["engagement_score"] == 70


async def test_only_newer_settings_replace_the_ones_kept(mapper: Mapper) -> None:
    newer = await mapper.deliver(mapper.event(TenantSettings(version=3, objects={}), "v3"))
    older = await mapper.deliver(mapper.event(TenantSettings(version=2, objects={}), "v2"))

    assert (newer.duplicate, older.duplicate) == (False, True)
    kept = await mapper.settings.get(TENANT)
    assert kept is not None and kept.version == 3
