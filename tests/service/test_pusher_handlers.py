"""The pusher's handlers as a specification, run on in-memory fakes of its ports (no Kafka, no PostgreSQL,
no Pipedrive): what each message pushes, what the pusher reports, and what it keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from pipedrive_client import BudgetExhausted, PipedriveUnavailable
from pusher.auto_push import RecordPush
from pusher.auto_push_windows import close_ended_windows
from pusher.bootstrap import handlers_on
from pusher.parking import ParkingLimits
from pusher.push_preview import preview_pushes
from schemas.catalog import build_event, event_type_of
from schemas.envelope import CloudEvent
from schemas.events.abm_signals import CompanyRevealed, ScoreChanged
from schemas.events.common import SyncObject
from schemas.events.push import PushRequested
from schemas.events.settings import AutoPush, DirectionSwitches, ObjectSettings, TenantSettings
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from stream_runner.messages import Handled, IncomingMessage, OutgoingMessage
from tests.service.pusher_fakes import FakePipedrive, InMemoryPusherStore
from tests.service.settings_fake import InMemorySettings
from tests.support.event_dispatch import apply_as_consumed

TENANT = "acme-tenant"
T0 = datetime(2026, 11, 1, 9, 15, tzinfo=UTC)
"""When the events happened."""
ORG = SyncObject.ORGANIZATION
BOTH_WAYS = DirectionSwitches(
    create_in_pipedrive=True, update_in_pipedrive=True, create_in_abm=True, update_in_abm=True
)


class Pusher:
    """The handlers on fakes, fed events as the consumer loop feeds them, on a clock the test moves."""

    def __init__(self) -> None:
        # The pusher times pauses and parked pushes' ages by the wall clock, the fakes by the test's clock
        # (`now`, moved by the test): both start together.
        self.start = datetime.now(UTC)
        self.now = self.start
        self.store = InMemoryPusherStore(clock=lambda: self.now)
        self.pipedrive = FakePipedrive(clock=lambda: self.now)
        self.settings = InMemorySettings()
        limits = ParkingLimits(retry_after=timedelta(0), max_failures=2)
        self.handlers = handlers_on(self.store, self.settings, self.pipedrive.writes_for, parking=limits)
        self.sent: list[OutgoingMessage] = []
        self._offset = 0

    def event(self, payload: BaseModel, event_id: str) -> CloudEvent[Any]:
        return build_event(
            payload, tenant=TENANT, subject=f"{TENANT}:{event_id}", source="/test", id_parts=(event_id,),
            time=T0,
        )  # fmt: skip

    async def deliver(self, event: CloudEvent[Any]) -> Handled:
        self._offset += 1
        message = IncomingMessage(event_type_of(event.data).topic.name, 0, self._offset, b"k", b"")
        handlers = self.handlers
        return await apply_as_consumed(handlers.by_event_type(), handlers.batch_handlers(), event, message)

    async def auto_push_on(self) -> None:
        chosen = {o: ObjectSettings(directions=BOTH_WAYS) for o in SyncObject}
        settings = TenantSettings(version=1, objects=chosen, auto_push=AutoPush(enabled=True), connected=True)
        await self.deliver(self.event(settings, "settings-1"))

    async def mirror(self, record: dict[str, Any]) -> None:
        """A sync's version of a Pipedrive organization."""
        change = SourceChange(
            object=ORG, pipedrive_id=record["id"], action=ChangeAction.UPSERTED,
            update_time=datetime.fromisoformat(record["update_time"]), record=record,
            origin=ChangeOrigin.POLL,
        )  # fmt: skip
        await self.deliver(self.event(change, f"change-{record['id']}-{record['update_time']}"))

    async def redrive_due(self) -> bool:
        async def send(messages: Any) -> None:
            self.sent.extend(messages)

        return await self.handlers.parked.redrive_one(self.handlers.redrive, self.handlers.give_up, send)


def reveal(domain: str, name: str) -> CompanyRevealed:
    return CompanyRevealed(domain=domain, name=name, revealed_at=T0)


def payloads(messages: Any) -> list[tuple[str, dict[str, Any]]]:
    """(event type, data) of every message, in order."""
    decoded = [orjson.loads(m.value) for m in messages]
    return [(d["type"], d["data"]) for d in decoded]


def results(messages: Any) -> list[dict[str, Any]]:
    return [data for kind, data in payloads(messages) if kind == "psync.push.completed"]


@pytest.fixture
async def pusher() -> Pusher:
    pusher = Pusher()
    await pusher.auto_push_on()
    return pusher


async def test_a_revealed_company_creates_its_organization_and_opens_the_hours_run(pusher: Pusher) -> None:
    handled = await pusher.deliver(pusher.event(reveal("www.acme.io", "Acme"), "r1"))

    [(result_kind, result), (run_kind, run)] = payloads(handled.outputs)
    assert (result_kind, run_kind) == ("psync.push.completed", "psync.run.started")
    assert (result["outcome"], result["match_key"], result["run_id"]) == ("created", "acme.io", run["run_id"])
    [created] = pusher.pipedrive.records[ORG].values()
    assert (created["id"], created["name"]) == (result["pipedrive_id"], "Acme")
    assert pusher.store.mirrored(TENANT, ORG, created["id"]) is not None


async def test_a_redelivered_signal_writes_nothing_and_resends_its_first_results_byte_for_byte(
    pusher: Pusher,
) -> None:
    event = pusher.event(reveal("acme.io", "Acme"), "r1")
    first = await pusher.deliver(event)
    calls = len(pusher.pipedrive.calls)

    again = await pusher.deliver(event)

    assert again.duplicate and [m.value for m in again.outputs] == [m.value for m in first.outputs]
    assert [(m.topic, m.key) for m in again.outputs] == [(m.topic, m.key) for m in first.outputs]
    assert len(pusher.pipedrive.calls) == calls


async def test_auto_push_off_pushes_nothing(pusher: Pusher) -> None:
    await pusher.deliver(pusher.event(TenantSettings(version=2, objects={}), "settings-2"))

    handled = await pusher.deliver(pusher.event(reveal("acme.io", "Acme"), "r1"))

    assert not handled.outputs and pusher.pipedrive.calls == []


async def test_the_echo_of_the_pushers_write_is_recognized_and_marked(pusher: Pusher) -> None:
    [result] = results((await pusher.deliver(pusher.event(reveal("acme.io", "Acme"), "r1"))).outputs)
    echoed = pusher.pipedrive.records[ORG][result["pipedrive_id"]]

    await pusher.mirror(dict(echoed))

    row = pusher.store.mirrored(TENANT, ORG, result["pipedrive_id"])
    assert row is not None and row["last_change_was_echo"] is True


async def test_a_batch_of_versions_recognizes_the_echo_then_forgets_what_a_person_changed_after(
    pusher: Pusher,
) -> None:
    [result] = results((await pusher.deliver(pusher.event(reveal("acme.io", "Acme"), "r1"))).outputs)
    pipedrive_id = result["pipedrive_id"]
    echoed = dict(pusher.pipedrive.records[ORG][pipedrive_id])
    later = datetime.fromisoformat(echoed["update_time"]) + timedelta(minutes=5)
    edited = {**echoed, "name": "Acme Corp", "update_time": later.isoformat()}

    def change(record: dict[str, Any]) -> tuple[CloudEvent[Any], IncomingMessage]:
        version = SourceChange(
            object=ORG, pipedrive_id=pipedrive_id, action=ChangeAction.UPSERTED,
            update_time=datetime.fromisoformat(record["update_time"]), record=record,
            origin=ChangeOrigin.POLL,
        )  # fmt: skip
        event = pusher.event(version, f"change-{record['update_time']}")
        return event, IncomingMessage("psync.source-changes.v1", 0, 1, b"k", b"")

    batch = pusher.handlers.batch_handlers()["psync.source.changed"]
    handled = await batch([change(echoed), change(edited), change(echoed)])

    assert [h.duplicate for h in handled] == [False, False, True]
    row = pusher.store.mirrored(TENANT, ORG, pipedrive_id)
    assert row is not None and row["record"]["name"] == "Acme Corp" and row["last_change_was_echo"] is False
    async with pusher.store.unit() as unit:
        entry = (await unit.ledger.entries_by_pipedrive_ids([(TENANT, ORG, pipedrive_id)])).get(
            (TENANT, ORG, pipedrive_id)
        )
    assert entry is not None and "name" not in entry.written


async def test_an_update_that_meets_a_404_is_skipped_and_the_record_never_asked_for_again(
    pusher: Pusher,
) -> None:
    known = pusher.pipedrive.add(ORG, {"name": "Unnoticed", "website": "unnoticed.io"})
    await pusher.mirror(known)
    pusher.pipedrive.delete(ORG, known["id"])  # in Pipedrive, before any sync saw it

    first = await pusher.deliver(
        pusher.event(ScoreChanged(domain="unnoticed.io", score=70, changed_at=T0), "s1")
    )
    calls = len(pusher.pipedrive.calls)
    second = await pusher.deliver(pusher.event(reveal("unnoticed.io", "Renamed Again"), "r2"))

    [gone] = [r for r in results(first.outputs) if r["object"] == "organization"]
    assert (gone["outcome"], gone["pipedrive_id"], gone["deleted_in_pipedrive"]) == (
        "skipped",
        known["id"],
        True,
    )
    assert "404" in gone["message"]
    assert [w for w in pusher.pipedrive.writes() if w[0] == "PATCH"] == [
        ("PATCH", "organization", known["id"])
    ]
    [skipped] = results(second.outputs)
    assert skipped["outcome"] == "skipped" and len(pusher.pipedrive.calls) == calls
    row = pusher.store.mirrored(TENANT, ORG, known["id"])
    assert row is not None and row["deleted"] is True


async def test_a_closed_budget_parks_the_push_and_the_tenants_next_pushes_wait_behind_it(
    pusher: Pusher,
) -> None:
    pusher.pipedrive.refusal = BudgetExhausted((pusher.start + timedelta(hours=1)).timestamp())

    parked = await pusher.deliver(pusher.event(reveal("first.io", "First"), "r1"))
    pusher.pipedrive.refusal = None
    queued = await pusher.deliver(pusher.event(reveal("second.io", "Second"), "r2"))

    assert not parked.outputs and not queued.outputs
    assert await pusher.handlers.parked.count(TENANT) == 2
    assert pusher.pipedrive.writes() == []


async def test_parked_pushes_resume_in_order_once_the_budget_reopens(pusher: Pusher) -> None:
    pusher.pipedrive.refusal = BudgetExhausted((pusher.start + timedelta(hours=1)).timestamp())
    await pusher.deliver(pusher.event(reveal("first.io", "First"), "r1"))
    pusher.pipedrive.refusal = None
    pusher.now = pusher.start + timedelta(seconds=1)
    await pusher.deliver(pusher.event(reveal("second.io", "Second"), "r2"))

    not_yet = await pusher.redrive_due()
    pusher.now = pusher.start + timedelta(hours=1)
    while await pusher.redrive_due():
        pass

    assert not not_yet
    assert [r["match_key"] for r in results(pusher.sent)] == ["first.io", "second.io"]
    assert await pusher.handlers.parked.count(TENANT) == 0


async def test_a_parked_push_that_keeps_failing_gives_up_with_a_failed_result_and_a_dead_letter(
    pusher: Pusher,
) -> None:
    pusher.pipedrive.refusal = BudgetExhausted(pusher.start.timestamp())
    await pusher.deliver(pusher.event(reveal("failing.io", "Failing"), "r1"))
    pusher.pipedrive.refusal = ValueError("broken")

    for hours in (1, 2):
        pusher.now = pusher.start + timedelta(hours=hours)
        await pusher.redrive_due()

    [failed] = results(pusher.sent)
    assert failed["outcome"] == "failed" and failed["message"].startswith("Gave up after 2 failed attempts")
    assert [m.topic for m in pusher.sent][-1] == "psync.pusher.dlq"
    assert await pusher.handlers.parked.count(TENANT) == 0


async def test_pipedrive_down_parks_the_push_without_counting_a_failure(pusher: Pusher) -> None:
    pusher.pipedrive.refusal = PipedriveUnavailable()

    handled = await pusher.deliver(pusher.event(reveal("down.io", "Down"), "r1"))

    assert not handled.outputs and await pusher.handlers.parked.count(TENANT) == 1
    [row] = pusher.store.tables.parked.values()
    assert row["failures"] == 0


async def test_a_manual_batch_ends_its_run_after_its_last_record(pusher: Pusher) -> None:
    def request(website: str) -> PushRequested:
        return PushRequested(
            object=ORG, match_key=website, record={"name": website, "website": website}, batch_id="push-1",
            batch_size=2,
        )  # fmt: skip

    first = await pusher.deliver(pusher.event(request("one.io"), "p1"))
    last = await pusher.deliver(pusher.event(request("two.io"), "p2"))

    assert [kind for kind, _ in payloads(first.outputs)] == ["psync.push.completed"]
    [(_, two), (ended, run)] = payloads(last.outputs)
    assert (two["outcome"], ended) == ("created", "psync.run.finished")
    assert (run["run_id"], run["counts"]["created"], run["status"]) == ("push-1", 2, "Success")


async def test_a_manual_push_creates_again_what_pipedrive_deleted(pusher: Pusher) -> None:
    known = pusher.pipedrive.add(ORG, {"name": "Deleted Inc", "website": "deleted.io"})
    await pusher.mirror(known)
    gone = SourceChange(
        object=ORG, pipedrive_id=known["id"], action=ChangeAction.DELETED, update_time=T0,
        origin=ChangeOrigin.POLL,
    )  # fmt: skip
    await pusher.deliver(pusher.event(gone, "gone"))
    manual = PushRequested(object=ORG, match_key="deleted.io", record={"name": "Deleted Inc"}, batch_id="b1")

    [auto] = results((await pusher.deliver(pusher.event(reveal("deleted.io", "Deleted Inc"), "r1"))).outputs)
    [again] = results((await pusher.deliver(pusher.event(manual, "m1"))).outputs)

    assert (auto["outcome"], auto["pipedrive_id"]) == ("skipped", known["id"])
    assert again["outcome"] == "created" and again["pipedrive_id"] != known["id"]


async def test_a_score_move_writes_the_engagement_field_created_once(pusher: Pusher) -> None:
    known = pusher.pipedrive.add(ORG, {"name": "Scored", "website": "scored.io"})
    await pusher.mirror(known)

    first = await pusher.deliver(
        pusher.event(ScoreChanged(domain="scored.io", score=70, changed_at=T0), "s1")
    )
    await pusher.deliver(pusher.event(ScoreChanged(domain="scored.io", score=90, changed_at=T0), "s2"))

    [updated] = results(first.outputs)
    assert (updated["outcome"], updated["fields_written"]) == ("updated", ["engagement_score"])
    assert [c for c in pusher.pipedrive.calls if c[0] == "POST"] == [("POST", "organizationFields", None)]
    [code] = [f.field_code for f in pusher.pipedrive.fields[ORG]]
    assert pusher.pipedrive.records[ORG][known["id"]]["custom_fields"] == {code: 90}


async def test_an_auto_push_window_is_reported_once_its_hour_has_ended(pusher: Pusher) -> None:
    await pusher.deliver(pusher.event(reveal("one.io", "One"), "r1"))
    await pusher.deliver(pusher.event(reveal("two.io", "Two"), "r2"))
    sent: list[OutgoingMessage] = []

    async def send(messages: Any) -> None:
        sent.extend(messages)

    during = await close_ended_windows(pusher.store, send, T0)
    after = await close_ended_windows(pusher.store, send, T0 + timedelta(hours=1))
    again = await close_ended_windows(pusher.store, send, T0 + timedelta(hours=2))

    assert (during, after, again) == (0, 1, 0)
    [(kind, run)] = payloads(sent)
    assert (kind, run["counts"]["created"], run["status"]) == ("psync.run.finished", 2, "Success")


async def test_the_preview_plans_each_record_as_a_push_would_and_calls_nothing(pusher: Pusher) -> None:
    known = pusher.pipedrive.add(ORG, {"name": "", "website": "known.io"})
    await pusher.mirror(known)
    pusher.pipedrive.calls.clear()
    jobs = [
        RecordPush(ORG, "new.io", {"name": "New Co", "website": "new.io"}, "a1"),
        RecordPush(ORG, "known.io", {"name": "Known Co", "website": "known.io"}, "a2"),
        RecordPush(ORG, None, {"name": "Keyless"}, "a3"),
    ]

    preview = await preview_pushes(
        pusher.handlers.pusher, TENANT, ORG, jobs, await pusher.settings.get(TENANT)
    )

    assert [(r["abm_id"], r["action"]) for r in preview["records"]] == [
        ("a1", "create"),
        ("a2", "update"),
        ("a3", "skip"),
    ]
    assert preview["records"][1]["changes"] == {"name": {"from": "", "to": "Known Co"}}
    assert preview["summary"] == {"create": 1, "update": 1, "unchanged": 0, "skip": 1, "fail": 0}
    assert pusher.pipedrive.calls == [] and pusher.store.tables.ledger == {}
