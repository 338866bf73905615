"""One suite, two stores: the pusher's ports on PostgreSQL and the in-memory fakes the service tests use
answer alike (STYLE rule 6: every fake is checked against the real thing)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone

import asyncpg
import pytest

from pusher.bootstrap import install_tables
from pusher.planning import PipedriveRecord
from pusher.ports import PusherStore
from pusher.push_ledger import DONE
from pusher.store import PostgresPusherStore
from schemas.events.common import SyncObject
from schemas.events.source_changes import ChangeAction, ChangeOrigin, SourceChange
from schemas.events.sync_runs import RunCounts
from stream_runner.messages import OutgoingMessage
from tests.service.pusher_fakes import InMemoryPusherStore
from tests.stores.backends import BACKENDS, memory_or_postgres
from tests.support.schemas import fresh_schema

ORG, DEAL, PERSON = SyncObject.ORGANIZATION, SyncObject.DEAL, SyncObject.PERSON
T0 = datetime(2026, 11, 2, 9, 10, tzinfo=UTC)
RESULT = OutgoingMessage("psync.push-results.v1", "t:organization:acme.io", b'{"b":1,"a":2}')


@pytest.fixture(scope="module")
async def postgres_store(pg_pool: asyncpg.Pool) -> AsyncIterator[PostgresPusherStore]:
    """The pusher's tables in a fresh schema, shared by the module (each test has a tenant of its own)."""
    async with fresh_schema(pg_pool, "pusher_store", install_tables) as schema:
        yield PostgresPusherStore(pg_pool, schema)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest) -> PusherStore:
    """The fakes, or PostgreSQL."""
    return memory_or_postgres(request, InMemoryPusherStore)


def organization(pipedrive_id: int, website: str, **more: object) -> dict[str, object]:
    return {"id": pipedrive_id, "name": website, "website": website, **more}


async def test_an_event_is_claimed_once_and_its_outputs_read_back_in_one_look(
    store: PusherStore, tenant: str
) -> None:
    async with store.view() as view:
        before = await view.inbox.applied_outputs(tenant, "e1")
    async with store.unit() as unit:
        first = await unit.inbox.claim(tenant, "e1", "topic")
        await unit.inbox.save_outputs(tenant, "e1", [RESULT])
    async with store.unit() as unit:
        again = await unit.inbox.claim(tenant, "e1", "topic")
        saved = await unit.inbox.saved_outputs(tenant, "e1")
    async with store.view() as view:
        applied = await view.inbox.applied_outputs(tenant, "e1")

    assert (before, first, again) == (None, True, False)
    assert saved == applied == [RESULT]


async def test_a_unit_that_raises_writes_nothing(store: PusherStore, tenant: str) -> None:
    with pytest.raises(RuntimeError):
        async with store.unit() as unit:
            await unit.inbox.claim(tenant, "e1", "topic")
            await unit.ledger.record_write(tenant, ORG, "acme.io", 7, {"name": "Acme"}, T0)
            await unit.mirror.upsert(tenant, ORG, 7, organization(7, "acme.io"), T0, "acme.io")
            raise RuntimeError("the effect failed")

    async with store.view() as view:
        assert await view.inbox.applied_outputs(tenant, "e1") is None
        assert await view.ledger.entry(tenant, ORG, "acme.io") is None
        assert await view.mirror.by_id(tenant, ORG, 7) is None


async def test_an_intent_commits_on_a_view_and_a_write_resolves_it(store: PusherStore, tenant: str) -> None:
    async with store.view() as view:
        await view.ledger.record_intent(tenant, ORG, "acme.io", {"name": "Acme"})
    async with store.view() as view:
        intended = await view.ledger.entry(tenant, ORG, "acme.io")
    async with store.unit() as unit:
        await unit.ledger.record_write(tenant, ORG, "acme.io", 7, {"name": "Acme"}, T0)
        written = await unit.ledger.entry(tenant, ORG, "acme.io")
        by_id = await unit.ledger.entries_by_pipedrive_ids([(tenant, ORG, 7)])

    assert intended is not None and intended.unresolved_intent and intended.planned_body == {"name": "Acme"}
    assert intended.intent_at is not None and intended.pipedrive_id is None
    assert written is not None and (written.state, written.pipedrive_id, written.written) == (
        DONE,
        7,
        {"name": "Acme"},
    )
    assert written.written_version == T0 and written.planned_body == {"name": "Acme"}
    assert by_id == {(tenant, ORG, 7): written}


async def test_a_dropped_intent_is_done_and_a_done_entry_stays_done(store: PusherStore, tenant: str) -> None:
    async with store.view() as view:
        await view.ledger.record_intent(tenant, ORG, "a.io", {"name": "A"})
        await view.ledger.drop_intent(tenant, ORG, "a.io")
        await view.ledger.drop_intent(tenant, ORG, "never.io")
        dropped = await view.ledger.entry(tenant, ORG, "a.io")
        missing = await view.ledger.entry(tenant, ORG, "never.io")

    assert dropped is not None and dropped.state == DONE and missing is None


async def test_writes_to_the_same_record_merge_and_an_empty_one_keeps_the_version(
    store: PusherStore, tenant: str
) -> None:
    async with store.unit() as unit:
        ledger = unit.ledger
        await ledger.record_write(tenant, ORG, "acme.io", 7, {"name": "A", "custom_fields": {"x": 1}}, T0)
        await ledger.record_write(tenant, ORG, "acme.io", 7, {"custom_fields": {"y": 2}}, T0 + timedelta(1))
        await ledger.record_write(tenant, ORG, "acme.io", 7, {}, T0 + timedelta(2))
        merged = await ledger.entry(tenant, ORG, "acme.io")
        await ledger.record_write(tenant, ORG, "acme.io", 8, {"name": "B"}, T0)
        moved = await ledger.entry(tenant, ORG, "acme.io")
        await ledger.keep_held(tenant, ORG, "acme.io", {})
        forgotten = await ledger.entry(tenant, ORG, "acme.io")

    assert merged is not None and merged.written == {"name": "A", "custom_fields": {"x": 1, "y": 2}}
    assert merged.written_version == T0 + timedelta(1)
    assert moved is not None and (moved.pipedrive_id, moved.written) == (8, {"name": "B"})
    assert forgotten is not None and forgotten.written == {}


async def test_the_mirror_keeps_the_newest_version_and_never_revives_a_merge(
    store: PusherStore, tenant: str
) -> None:
    async with store.unit() as unit:
        mirror = unit.mirror
        newer = await mirror.upsert(tenant, ORG, 7, organization(7, "acme.io", name="New"), T0, "acme.io")
        older = await mirror.upsert(
            tenant, ORG, 7, organization(7, "acme.io", name="Old"), T0 - timedelta(1), "x"
        )
        merged = SourceChange(
            object=ORG, pipedrive_id=7, action=ChangeAction.MERGED, update_time=T0, merged_into_id=9,
            origin=ChangeOrigin.POLL,
        )  # fmt: skip
        gone = await mirror.apply_changes([(tenant, merged, None, False)])
        revived = await mirror.upsert(
            tenant, ORG, 7, organization(7, "acme.io"), T0 + timedelta(1), "acme.io"
        )
        found = await mirror.by_id(tenant, ORG, 7)

    assert (newer, older, gone, revived) == (True, False, [True], False)
    assert found == PipedriveRecord(7, organization(7, "acme.io", name="New"), True, 9)


def _version(pipedrive_id: int, at: datetime, name: str) -> SourceChange:
    return SourceChange(
        object=ORG, pipedrive_id=pipedrive_id, action=ChangeAction.UPSERTED, update_time=at,
        record=organization(pipedrive_id, f"org{pipedrive_id}.io", name=name), origin=ChangeOrigin.POLL,
    )  # fmt: skip


async def test_a_batch_of_changes_is_mirrored_as_one_by_one_would_be(store: PusherStore, tenant: str) -> None:
    merged = SourceChange(
        object=ORG, pipedrive_id=7, action=ChangeAction.MERGED, update_time=T0 + timedelta(2),
        merged_into_id=9, origin=ChangeOrigin.POLL,
    )  # fmt: skip
    batch = [
        (tenant, _version(7, T0, "First"), "org7.io", False),
        (tenant, _version(8, T0, "Eight"), "org8.io", True),
        (tenant, _version(7, T0 - timedelta(1), "Older"), "org7.io", False),
        (tenant, _version(7, T0 + timedelta(1), "Newer"), "org7.io", False),
        (tenant, merged, None, False),
        (tenant, _version(7, T0 + timedelta(3), "Revived"), "org7.io", False),
    ]
    async with store.unit() as unit:
        kept = await unit.mirror.apply_changes(batch)
        seven, eight = await unit.mirror.by_id(tenant, ORG, 7), await unit.mirror.by_id(tenant, ORG, 8)

    assert kept == [True, True, False, True, True, False]
    assert seven == PipedriveRecord(7, organization(7, "org7.io", name="Newer"), True, 9)
    assert eight == PipedriveRecord(8, organization(8, "org8.io", name="Eight"), False, None)


async def test_a_version_the_mirror_holds_already_is_not_written_again(
    store: PusherStore, tenant: str
) -> None:
    """A redelivered batch changes nothing: its versions, deletes and merges are reported not kept (the
    row is not rewritten); the same version marked as an echo now, a delete after it, are written."""
    merged = SourceChange(
        object=ORG, pipedrive_id=9, action=ChangeAction.MERGED, update_time=T0, merged_into_id=7,
        origin=ChangeOrigin.POLL,
    )  # fmt: skip
    deleted = SourceChange(
        object=ORG, pipedrive_id=7, action=ChangeAction.DELETED, update_time=T0 + timedelta(1),
        origin=ChangeOrigin.POLL,
    )  # fmt: skip
    batch = [(tenant, _version(7, T0, "Seven"), "org7.io", False), (tenant, merged, None, False)]
    async with store.unit() as unit:
        first = await unit.mirror.apply_changes(batch)
    async with store.unit() as unit:
        again = await unit.mirror.apply_changes(batch)
        seven_again = organization(7, "org7.io", name="Seven")
        answered = await unit.mirror.upsert(tenant, ORG, 7, seven_again, T0, "org7.io")
        echo = await unit.mirror.apply_changes([(tenant, _version(7, T0, "Seven"), "org7.io", True)])
        gone = await unit.mirror.apply_changes([(tenant, deleted, None, False)])
        gone_again = await unit.mirror.apply_changes([(tenant, deleted, None, False)])
        seven = await unit.mirror.by_id(tenant, ORG, 7)

    assert (first, again, answered, echo) == ([True, True], [False, False], False, [True])
    assert (gone, gone_again) == ([True], [False])
    assert seven == PipedriveRecord(7, organization(7, "org7.io", name="Seven"), True, None)


async def test_the_mirror_keeps_every_value_of_a_version_as_written(store: PusherStore, tenant: str) -> None:
    """A batch's versions travel to PostgreSQL as one JSON document split in SQL, their records as JSON texts
    beside it: the record (any JSON, a NUL in a string too: it is kept as text, not jsonb),
    the match key, the organization a deal belongs to, the deleted flag and the update time (to the
    microsecond, whatever its offset: the version guard compares it) are kept as they were."""
    odd = 'a,b "q" \\ n\nü 🚀 null'
    org = {
        "id": 7, "name": odd, "website": odd, "is_deleted": False, "ratio": 0.1, "big": 2**63 - 1,
        "small": -(2**63), "none": None, "nested": {"list": [1, None, True, "x,y"], "empty": {}}, "n": "n",
        "nul": "a\x00b",
    }  # fmt: skip
    deal = {"id": 5, "title": odd, "org_id": 2**53 + 1, "status": "open", "value": 1234.5678}
    gone = {"id": 8, "name": "Gone", "website": "gone.io", "is_deleted": True}
    at = datetime(2026, 11, 2, 14, 40, 7, 123_456, tzinfo=timezone(timedelta(hours=5, minutes=30, seconds=7)))
    in_utc = datetime(2026, 11, 2, 9, 10, 0, 123_456, tzinfo=UTC)
    change = SourceChange(
        object=ORG, pipedrive_id=7, action=ChangeAction.UPSERTED, update_time=at, record=org,
        origin=ChangeOrigin.IMPORT,
    )  # fmt: skip
    async with store.unit() as unit:
        kept = await unit.mirror.apply_changes([(tenant, change, odd, False)])
        deal_kept = await unit.mirror.upsert(tenant, DEAL, 5, deal, at, None)
        gone_kept = await unit.mirror.upsert(tenant, ORG, 8, gone, at, "gone.io", echo=True)
        earlier = await unit.mirror.upsert(
            tenant, ORG, 7, {**org, "name": "Earlier"}, in_utc - timedelta(microseconds=1), odd
        )
        by_key = await unit.mirror.by_match_key(tenant, ORG, odd)
        same_time = await unit.mirror.upsert(tenant, ORG, 7, {**org, "name": "Same"}, in_utc, odd)
        deals = await unit.mirror.open_deals_of(tenant, 2**53 + 1)
        live_gone = await unit.mirror.by_match_key(tenant, ORG, "gone.io")
        deleted = await unit.mirror.gone_by_match_key(tenant, ORG, "gone.io")

    assert (kept, deal_kept, gone_kept, earlier, same_time) == ([True], True, True, False, True)
    assert by_key == PipedriveRecord(7, org, False, None)
    assert deals == [PipedriveRecord(5, deal, False, None)]
    assert live_gone is None and deleted == PipedriveRecord(8, gone, True, None)


async def test_the_ledger_entries_of_many_records_are_read_at_once(store: PusherStore, tenant: str) -> None:
    async with store.unit() as unit:
        await unit.ledger.record_write(tenant, ORG, "acme.io", 7, {"name": "A"}, T0)
        await unit.ledger.record_write(tenant, DEAL, "deal-1", 7, {"title": "D"}, T0)
        found = await unit.ledger.entries_by_pipedrive_ids(
            [(tenant, ORG, 7), (tenant, DEAL, 7), (tenant, ORG, 8)]
        )
        one = await unit.ledger.entry(tenant, ORG, "acme.io")

    assert set(found) == {(tenant, ORG, 7), (tenant, DEAL, 7)}
    assert found[(tenant, ORG, 7)] == one and found[(tenant, DEAL, 7)].written == {"title": "D"}


async def test_a_written_record_is_found_among_unsorted_ids_and_only_under_its_own_tenant_and_object(
    store: PusherStore, tenant: str
) -> None:
    # The ledger's store first asks whether it holds any row in the span of the asked ids (least to
    # greatest per tenant and object): the written id here is neither the first nor the last asked.
    async with store.unit() as unit:
        await unit.ledger.record_write(tenant, ORG, "acme.io", 5, {"name": "A"}, T0)
        await unit.ledger.record_write(f"{tenant}-other", PERSON, "a@acme.io", 30, {"name": "P"}, T0)
    async with store.view() as view:
        found = await view.ledger.entries_by_pipedrive_ids(
            [(tenant, ORG, 9), (tenant, ORG, 5), (tenant, ORG, 2)]
        )
        beside = await view.ledger.entries_by_pipedrive_ids(
            [(tenant, ORG, 2), (tenant, ORG, 4), (tenant, ORG, 6)]
        )
        elsewhere = await view.ledger.entries_by_pipedrive_ids(
            [(tenant, PERSON, 30), (f"{tenant}-other", ORG, 5)]
        )

    assert set(found) == {(tenant, ORG, 5)} and found[(tenant, ORG, 5)].written == {"name": "A"}
    assert beside == {} and elsewhere == {}


async def test_a_pipedrive_id_written_under_two_match_keys_finds_the_last_write(
    store: PusherStore, tenant: str
) -> None:
    async with store.unit() as unit:
        await unit.ledger.record_write(tenant, ORG, "old.io", 7, {"name": "Old"}, T0)
    async with store.unit() as unit:
        await unit.ledger.record_write(tenant, ORG, "new.io", 7, {"name": "New"}, T0)
    async with store.view() as view:
        found = await view.ledger.entries_by_pipedrive_ids([(tenant, ORG, 7)])

    assert found[(tenant, ORG, 7)].match_key == "new.io"


async def test_a_match_key_finds_the_oldest_live_record_or_the_last_one_gone(
    store: PusherStore, tenant: str
) -> None:
    async with store.unit() as unit:
        mirror = unit.mirror
        for pipedrive_id in (12, 11):
            await mirror.upsert(
                tenant, ORG, pipedrive_id, organization(pipedrive_id, "acme.io"), T0, "acme.io"
            )
        live = await mirror.by_match_key(tenant, ORG, "acme.io")
        await mirror.mark_deleted(tenant, ORG, 11, T0 + timedelta(hours=1))
        await mirror.mark_deleted(tenant, ORG, 12, T0 + timedelta(hours=2))
        after = await mirror.by_match_key(tenant, ORG, "acme.io")
        gone = await mirror.gone_by_match_key(tenant, ORG, "acme.io")
        await mirror.mark_deleted(tenant, ORG, 99, T0)
        unknown = await mirror.by_id(tenant, ORG, 99)

    assert live is not None and live.pipedrive_id == 11
    assert after is None
    assert gone is not None and (gone.pipedrive_id, gone.deleted) == (12, True)
    assert unknown == PipedriveRecord(99, {}, True, None)


async def test_an_organizations_open_deals_are_its_live_open_ones(store: PusherStore, tenant: str) -> None:
    async with store.unit() as unit:
        mirror = unit.mirror
        deals = {
            1: {"id": 1, "org_id": 5, "status": "open"},
            2: {"id": 2, "org_id": 5, "status": "won"},
            3: {"id": 3, "org_id": 6, "status": "open"},
            4: {"id": 4, "org_id": 5, "status": "open", "is_deleted": True},
            0: {"id": 0, "org_id": 5, "status": "open"},
        }
        for pipedrive_id, deal in deals.items():
            await mirror.upsert(tenant, DEAL, pipedrive_id, deal, T0, None)
        found = await mirror.open_deals_of(tenant, 5)

    assert [d.pipedrive_id for d in found] == [0, 1]


async def test_push_runs_count_outcomes_and_an_ended_window_is_listed_until_reported(
    store: PusherStore, tenant: str
) -> None:
    async with store.unit() as unit:
        runs = unit.runs
        opened = await runs.open_window(tenant, "auto-1", T0)
        again = await runs.open_window(tenant, "auto-1", T0 + timedelta(minutes=5))
        await runs.add(tenant, "auto-1", RunCounts(created=1), 5)
        counted = await runs.add(tenant, "auto-1", RunCounts(skipped=2), 3)
        await runs.open_batch(tenant, "push-1", 2, T0)
        await runs.open_batch(tenant, "push-1", 9, T0)
        batch = await runs.add(tenant, "push-1", RunCounts(), 0)
        nothing = await runs.add(tenant, "no-such-run", RunCounts(failed=1), 0)
    async with store.view() as view:
        during = await view.runs.ended_windows(T0 + timedelta(minutes=49))
        ended = [r for r in await view.runs.ended_windows(T0 + timedelta(minutes=50)) if r.tenant == tenant]
        await view.runs.mark_finished(tenant, "auto-1")
        reported = [r for r in await view.runs.ended_windows(T0 + timedelta(hours=3)) if r.tenant == tenant]

    assert (opened, again, nothing) == (True, False, None)
    assert counted is not None and (counted.counts, counted.tokens) == (RunCounts(created=1, skipped=2), 8)
    assert (counted.started_at, counted.expected, counted.finished) == (T0, None, False)
    assert batch is not None and batch.expected == 2
    assert [r.run_id for r in during if r.tenant == tenant] == []
    assert [r.run_id for r in ended] == ["auto-1"] and reported == []


async def test_parked_pushes_are_redriven_oldest_first_per_tenant_and_kept_when_a_redrive_raises(
    store: PusherStore, tenant: str
) -> None:
    past = datetime.now(UTC) - timedelta(minutes=1)
    parked = store.parked
    await parked.park(tenant, "e1", "topic", "{}", past, "budget", (0, 1, "k"))
    # Due earlier, but parked later: it waits behind the tenant's older push.
    await parked.park(tenant, "e2", "topic", "{}", past - timedelta(hours=1), "queued", (0, 2, None))
    await parked.park(tenant, "e1", "topic", "{}", past, "redelivered", (0, 9, None))
    counts = await parked.counts()

    with pytest.raises(RuntimeError):
        async with parked.next_due() as due:
            assert due is not None and due.row.event_id == "e1"
            await due.remove()
            raise RuntimeError("the re-drive failed")
    kept = await parked.count(tenant)
    order = []
    for _ in range(3):
        async with parked.next_due() as due:
            if due is None:
                break
            order.append((due.row.event_id, due.row.origin_offset, due.row.origin_key))
            await due.remove()

    assert counts[tenant] == 2 and kept == 2
    assert order == [("e1", 1, "k"), ("e2", 2, None)]
    assert not await parked.tenant_paused(tenant)


async def test_a_rescheduled_push_waits_until_its_new_time(store: PusherStore, tenant: str) -> None:
    await store.parked.park(tenant, "e1", "topic", '{"a":1}', datetime.now(UTC), "budget", (3, 4, "key"))

    async with store.parked.next_due() as due:
        assert due is not None
        row = due.row
        await due.reschedule(datetime.now(UTC) + timedelta(days=1), "still closed", 1)
    async with store.parked.next_due() as later:
        waiting = later

    assert (row.event_id, row.topic, row.event, row.failures) == ("e1", "topic", '{"a":1}', 0)
    assert (row.origin_partition, row.origin_offset, row.origin_key) == (3, 4, "key")
    assert waiting is None and await store.parked.count(tenant) == 1


async def test_a_field_code_is_kept_once_and_forgotten(store: PusherStore, tenant: str) -> None:
    codes = store.field_codes
    async with codes.slot(tenant, ORG, "Engagement score") as slot:
        unknown = await slot.known()
        await slot.keep("a" * 40)
    async with codes.slot(tenant, ORG, "Engagement score") as slot:
        kept = await slot.known()
    known = await codes.known(tenant, ORG, "Engagement score")
    other = await codes.known(tenant, DEAL, "Engagement score")
    await codes.forget(tenant, ORG, "Engagement score")

    assert (unknown, kept, known, other) == (None, "a" * 40, "a" * 40, None)
    assert await codes.known(tenant, ORG, "Engagement score") is None


async def test_a_visit_activity_goes_from_intent_to_done_and_only_an_intent_is_forgotten(
    store: PusherStore, tenant: str
) -> None:
    visits = store.visits
    await visits.record_intent(tenant, "r1", 7)
    intended = await visits.state(tenant, "r1")
    await visits.record_done(tenant, "r1", 99)
    await visits.forget_intent(tenant, "r1")
    done = await visits.state(tenant, "r1")
    await visits.record_intent(tenant, "r2", 7)
    await visits.forget_intent(tenant, "r2")

    assert intended is not None and intended.state == "intent"
    assert done is not None and (done.state, done.intent_at) == ("done", intended.intent_at)
    assert await visits.state(tenant, "r2") is None and await visits.state(tenant, "r3") is None
