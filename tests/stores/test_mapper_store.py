"""One suite, two stores: the mapper's ports on PostgreSQL and the in-memory fakes the service tests use
answer alike (STYLE rule 6: every fake is checked against the real thing)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import asyncpg
import pytest

from mapper.apply_runs import CompletedRun
from mapper.audience_store import AudienceStore
from mapper.bootstrap import install_tables
from mapper.planning import StoredRecord
from mapper.ports import MapperStore
from mapper.store import PostgresMapperStore
from schemas.events.abm_signals import VisitedPage
from schemas.events.common import Direction, SyncObject
from schemas.events.sync_runs import RunCounts, RunFinished, RunKind, RunStatus
from stream_runner.messages import OutgoingMessage
from tests.service.mapper_fakes import InMemoryMapperStore
from tests.stores.backends import BACKENDS, memory_or_postgres
from tests.support.schemas import fresh_schema

ORG, PERSON, DEAL = SyncObject.ORGANIZATION, SyncObject.PERSON, SyncObject.DEAL
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RESULT = OutgoingMessage("psync.record-results.v1", "t:organization:acme.io", b'{"b":1,"a":2}')


@dataclass
class StoreUnderTest:
    """A store, and a look at a record's row as the audiences API reads it."""

    store: MapperStore
    peek: Callable[[str, SyncObject, str], Any]


@pytest.fixture(scope="module")
async def postgres_store(pg_pool: asyncpg.Pool) -> AsyncIterator[StoreUnderTest]:
    """The mapper's tables in a fresh schema, shared by the module (each test has a tenant of its own)."""
    async with fresh_schema(pg_pool, "mapper_store", install_tables) as schema:
        yield StoreUnderTest(PostgresMapperStore(pg_pool, schema), AudienceStore(pg_pool, schema).record)


@pytest.fixture(params=BACKENDS)
def subject(request: pytest.FixtureRequest) -> StoreUnderTest:
    """The fakes, or PostgreSQL."""

    def fakes() -> StoreUnderTest:
        memory = InMemoryMapperStore(clock=lambda: datetime.now(UTC))

        async def peek(tenant: str, obj: SyncObject, abm_id: str) -> Any:
            return memory.record(tenant, obj, abm_id)

        return StoreUnderTest(memory, peek)

    return memory_or_postgres(request, fakes)


def finished(run_id: str, emitted: int) -> RunFinished:
    return RunFinished(
        run_id=run_id, service="connector", kind=RunKind.SYNC, direction=Direction.TO_ABM,
        objects=(ORG,), started_at=T0, finished_at=T0, counts=RunCounts(), tokens_spent=0,
        status=RunStatus.SUCCESS, emitted=emitted,
    )  # fmt: skip


async def test_an_event_is_claimed_once_and_keeps_its_outputs(subject: StoreUnderTest, tenant: str) -> None:
    async with subject.store.unit() as unit:
        first = await unit.inbox.claim(tenant, "e1", "topic")
        await unit.inbox.save_outputs(tenant, "e1", [RESULT])
    async with subject.store.unit() as unit:
        again = await unit.inbox.claim(tenant, "e1", "topic")
        saved = await unit.inbox.saved_outputs(tenant, "e1")

    assert (first, again, saved) == (True, False, [RESULT])


async def test_a_batch_claims_the_first_of_each_new_event(subject: StoreUnderTest, tenant: str) -> None:
    async with subject.store.unit() as unit:
        await unit.inbox.claim(tenant, "old", "topic")
    async with subject.store.unit() as unit:
        events = [(tenant, "new", "x"), (tenant, "old", "x"), (tenant, "new", "x")]
        fresh = await unit.inbox.claim_batch(events)
        await unit.inbox.save_outputs_of([(tenant, "new", [RESULT])])
        saved = await unit.inbox.saved_outputs_of([(tenant, "new"), (tenant, "old")])

    assert fresh == [True, False, False]
    assert saved == {(tenant, "new"): [RESULT], (tenant, "old"): []}


async def test_a_batch_claimed_with_its_results_counts_the_events_not_applied_before(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        await unit.inbox.claim_with_outputs([(tenant, "old", "x", [RESULT])])
    async with subject.store.unit() as unit:
        claimed = await unit.inbox.claim_with_outputs([(tenant, "new", "x", []), (tenant, "old", "x", [])])

    found = await subject.store.applied_outputs_of([(tenant, "new"), (tenant, "old")])

    assert claimed == 1
    assert found == {(tenant, "new"): [], (tenant, "old"): [RESULT]}


async def test_new_links_are_inserted_and_one_that_exists_fails_the_unit(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        await unit.records.insert_links([(tenant, ORG.value, 7, "a1", T0, False, None)])
    with pytest.raises((asyncpg.UniqueViolationError, ValueError)):
        async with subject.store.unit() as unit:
            await unit.records.insert_links(
                [(tenant, ORG.value, 8, "a2", T0, False, None), (tenant, ORG.value, 7, "a3", T0, False, None)]
            )
    async with subject.store.unit() as unit:
        links = await unit.records.links([(tenant, ORG.value, 7), (tenant, ORG.value, 8)], lock=False)

    assert {key: row["abm_id"] for key, row in links.items()} == {(tenant, ORG.value, 7): "a1"}


class _RolledBack(Exception):
    """Raised in a unit to roll it back, as the mapper does when a batch's claim finds a repeat."""


async def test_a_batch_claimed_whole_with_its_results_is_refused_when_one_event_was_applied_before(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        assert await unit.inbox.claim_all_with_outputs([(tenant, "old", "x", [RESULT])])
    with pytest.raises(_RolledBack):
        async with subject.store.unit() as unit:
            claimed = await unit.inbox.claim_all_with_outputs(
                [(tenant, "new", "x", [RESULT]), (tenant, "old", "x", [])]
            )
            raise _RolledBack()
    async with subject.store.unit() as unit:
        claimed_alone = await unit.inbox.claim_all_with_outputs([(tenant, "other", "x", [])])

    found = await subject.store.applied_outputs_of([(tenant, "new"), (tenant, "old"), (tenant, "other")])

    assert claimed is False
    assert claimed_alone is True
    assert found == {(tenant, "old"): [RESULT], (tenant, "other"): []}


async def test_what_applied_events_produced_is_read_outside_a_unit_byte_for_byte(
    subject: StoreUnderTest, tenant: str
) -> None:
    odd = OutgoingMessage(
        "psync.record-results.v1", f"{tenant}:organization:é.io", '{"b":1, "a":"é\\u00e9"}'.encode()
    )
    async with subject.store.unit() as unit:
        await unit.inbox.claim_batch([(tenant, "one", "x"), (tenant, "none", "x")])
        await unit.inbox.save_outputs_of([(tenant, "one", [RESULT, odd])])

    found = await subject.store.applied_outputs_of([(tenant, "one"), (tenant, "none"), (tenant, "never")])

    assert found == {(tenant, "one"): [RESULT, odd], (tenant, "none"): []}


async def test_a_unit_that_raises_writes_nothing(subject: StoreUnderTest, tenant: str) -> None:
    with pytest.raises(RuntimeError):
        async with subject.store.unit() as unit:
            await unit.inbox.claim(tenant, "e1", "topic")
            await unit.records.create_record(tenant, ORG, "a1", "acme.io", {"name": "Acme"})
            raise RuntimeError("the effect failed")

    async with subject.store.unit() as unit:
        assert await unit.inbox.claim(tenant, "e1", "topic")
        assert await unit.records.record_by_key(tenant, ORG, "acme.io") is None


async def test_a_record_is_found_by_its_key_and_updated_field_by_field(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        await unit.records.create_record(tenant, ORG, "a1", "acme.io", {"name": "Acme", "industry": "x"})
        await unit.records.update_record(tenant, ORG, "a1", {"industry": "Software"})
        found = await unit.records.record_by_key(tenant, ORG, "acme.io")

    assert found == StoredRecord("a1", {"name": "Acme", "industry": "Software"}, False)


async def test_reveals_count_keep_the_latest_time_and_the_newest_pages(
    subject: StoreUnderTest, tenant: str
) -> None:
    def page(n: int) -> VisitedPage:
        return VisitedPage(url=f"https://acme.io/{n}", visited_at=T0 + timedelta(minutes=n))

    async with subject.store.unit() as unit:
        await unit.records.create_record(tenant, ORG, "a1", "acme.io", {})
        await unit.records.count_reveal(tenant, "a1", T0 + timedelta(hours=1), [page(1), page(2)], 3)
        await unit.records.count_reveal(tenant, "a1", T0, [page(3), page(4)], 3)

    row = await subject.peek(tenant, ORG, "a1")
    assert row["reveal_count"] == 2
    assert row["last_revealed_at"] == T0 + timedelta(hours=1)
    assert [p["url"] for p in row["recent_pages"]] == [f"https://acme.io/{n}" for n in (3, 4, 1)]


async def test_an_older_score_does_not_replace_a_newer_one(subject: StoreUnderTest, tenant: str) -> None:
    async with subject.store.unit() as unit:
        await unit.records.create_record(tenant, ORG, "a1", "acme.io", {})
        await unit.records.set_score(tenant, "a1", 80, T0)
        await unit.records.set_score(tenant, "a1", 20, T0 - timedelta(hours=1))

    row = await subject.peek(tenant, ORG, "a1")
    assert (row["engagement_score"], row["score_changed_at"]) == (80, T0)


async def test_a_deletion_in_pipedrive_marks_the_record_unless_a_live_link_holds_it(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        records = unit.records
        await records.create_record(tenant, ORG, "a1", "acme.io", {})
        await records.create_record(tenant, ORG, "a2", "beta.io", {})
        assert await records.link_if_unlinked(tenant, ORG, 1, "a1", T0)
        assert await records.link_if_unlinked(tenant, ORG, 2, "a1", T0)
        assert not await records.link_if_unlinked(tenant, ORG, 2, "a2", T0)
        await records.mark_deleted_in_crm(tenant, ORG, 1, None, T0)
        held = (await records.records_by_id(ORG, [(tenant, "a1")]))[0]["deleted_in_crm"]
        await records.mark_deleted_in_crm(tenant, ORG, 2, None, T0)
        await records.mark_deleted_in_crm(tenant, ORG, 3, "a2", T0)
        links = await records.links([(tenant, ORG.value, 1), (tenant, ORG.value, 3), (tenant, ORG.value, 9)])
        rows = await records.records_by_id(ORG, [(tenant, "a1"), (tenant, "a2")])

    assert held is False
    assert {key[2]: (row["abm_id"], row["deleted_in_crm"]) for key, row in links.items()} == {
        1: ("a1", True),
        3: ("a2", True),
    }
    assert [(r["abm_id"], r["deleted_in_crm"]) for r in rows] == [("a1", True), ("a2", True)]

    async with subject.store.unit() as unit:
        await unit.records.mark_in_crm(tenant, ORG, "a2")
        again = await unit.records.record_by_key(tenant, ORG, "beta.io")
    assert again is not None and again.deleted_in_crm is False


async def test_a_batch_writes_records_and_links_and_reads_them_back(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        records = unit.records
        await records.insert_records(
            ORG,
            [
                (tenant, "a1", "acme.io", False, {"name": "Acme"}, False),
                (tenant, "a2", "acme.io", True, {"name": "Acme twin"}, False),
            ],
        )
        await records.update_records(ORG, [(tenant, "a1", {"name": "Acme Inc"}, True)])
        await records.save_links([(tenant, ORG.value, 7, "a1", T0, False, None)])
        await records.save_links([(tenant, ORG.value, 7, "a2", T0 - timedelta(days=1), True, 8)])
        by_key = await records.records_by_key(ORG, [(tenant, "acme.io"), (tenant, "none.io")])
        by_id = await records.records_by_id(ORG, [(tenant, "a2")])
        links = await records.links([(tenant, ORG.value, 7)], lock=False)

    assert [(r["abm_id"], r["fields"], r["deleted_in_crm"]) for r in by_key] == [
        ("a1", {"name": "Acme Inc"}, True)
    ]
    assert [(r["abm_id"], r["match_key"], r["is_duplicate"]) for r in by_id] == [("a2", "acme.io", True)]
    link = links[(tenant, ORG.value, 7)]
    assert (link["abm_id"], link["source_update_time"], link["deleted_in_crm"], link["merged_into_id"]) == (
        "a2",
        T0,
        True,
        8,
    )


async def test_a_record_read_by_key_says_which_live_link_holds_it(
    subject: StoreUnderTest, tenant: str
) -> None:
    """`linked_id`: a link deleted in Pipedrive holds nothing, nor does one of another object or tenant."""
    async with subject.store.unit() as unit:
        records = unit.records
        await records.insert_records(
            ORG, [(tenant, a, f"{a}.io", False, {}, False) for a in ("held", "let-go", "unlinked")]
        )
        await records.insert_links(
            [
                (tenant, ORG.value, 7, "held", T0, False, None),
                (tenant, ORG.value, 8, "held", T0, True, None),
                (tenant, ORG.value, 9, "let-go", T0, True, None),
                (tenant, PERSON.value, 10, "unlinked", T0, False, None),
                (f"{tenant}-other", ORG.value, 11, "unlinked", T0, False, None),
            ]
        )
        by_key = await records.records_by_key(
            ORG, [(tenant, f"{a}.io") for a in ("held", "let-go", "unlinked")]
        )
        none_found = await records.records_by_key(ORG, [(tenant, "none.io")], lock=False)

    assert {r["abm_id"]: r["linked_id"] for r in by_key} == {"held": 7, "let-go": None, "unlinked": None}
    assert none_found == []


ODD_TEXT = [
    "a,b", '"q"', "back\\slash", "{x,y}", "NULL", "n", "tab\tnew\nline", "ünïcødé 🙂", "", " ", "\\N", "\\.",
    "car\rriage",
]  # fmt: skip
"""Texts a comma-joined, quoted, array-literal or COPY-text encoding of a batch's rows could get wrong."""


async def test_a_batch_keeps_every_value_exact(subject: StoreUnderTest, tenant: str) -> None:
    """Rows go to PostgreSQL as one JSON parameter (`postgres_store.json_rows`), new records as COPY text
    (`record_copy_text`), new links with binary COPY: texts with commas, quotes, backslashes, braces,
    control characters, COPY's NULL and Unicode, 64-bit ids, fields of any JSON and times with
    microseconds and other offsets than UTC come back as written."""
    fields = {
        "name": 'A, "B" \\ C',
        "n": 2**62 + 1,
        "f": 0.1,
        "small": 1.5e-7,
        "list": [1, "x,y", None],
        "u": "ü",
        "ctl": "tab\tnew\nline\r\\N",
    }
    at = datetime(2026, 11, 2, 11, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2)))
    ids = [f"id{n}{text}" for n, text in enumerate(ODD_TEXT)]
    keys = [f"key{n}{text}" for n, text in enumerate(ODD_TEXT)]
    async with subject.store.unit() as unit:
        records = unit.records
        await records.lock_match_keys([(tenant, ORG, k) for k in keys])
        await records.insert_records(
            ORG, [(tenant, a, k, False, {**fields, "text": a}, False) for a, k in zip(ids, keys, strict=True)]
        )
        await records.update_records(ORG, [(tenant, ids[0], {**fields, "text": "changed,"}, True)])
        await records.insert_links(
            [(tenant, ORG.value, 2**62 + n, a, at, False, None) for n, a in enumerate(ids)]
        )
        await records.save_links(
            [(tenant, ORG.value, 2**62, ids[1], at + timedelta(days=1), True, 2**62 + 1)]
        )
        by_key = await records.records_by_key(ORG, [(tenant, k) for k in keys])
        by_id = await records.records_by_id(ORG, [(tenant, a) for a in ids])
        links = await records.links([(tenant, ORG.value, 2**62 + n) for n in range(len(ids))], lock=False)

    expected = {a: (k, {**fields, "text": a}, False) for a, k in zip(ids, keys, strict=True)}
    expected[ids[0]] = (keys[0], {**fields, "text": "changed,"}, True)
    assert {r["abm_id"]: (r["match_key"], r["fields"], r["deleted_in_crm"]) for r in by_key} == expected
    assert {r["abm_id"]: (r["match_key"], r["fields"], r["deleted_in_crm"]) for r in by_id} == expected
    found = {
        key[2] - 2**62: (row["abm_id"], row["source_update_time"], row["merged_into_id"])
        for key, row in links.items()
    }
    assert found == {
        n: (ids[1], at + timedelta(days=1), 2**62 + 1) if n == 0 else (a, at, None) for n, a in enumerate(ids)
    }


async def test_a_new_record_whose_whole_texts_are_special_to_copy_comes_back_as_written(
    subject: StoreUnderTest, tenant: str
) -> None:
    """A text that is COPY's NULL marker or its end-of-data line as a whole field, and a NULL key."""
    rows = [(tenant, "\\N", "\\N", False, {"\\N": "\\."}, False), (tenant, "\\.", None, True, {}, True)]
    async with subject.store.unit() as unit:
        await unit.records.insert_records(ORG, rows)
        found = await unit.records.records_by_id(ORG, [(tenant, "\\N"), (tenant, "\\.")], lock=False)

    assert sorted((r["abm_id"], r["match_key"], r["fields"], r["deleted_in_crm"]) for r in found) == [
        ("\\.", None, {}, True),
        ("\\N", "\\N", {"\\N": "\\."}, False),
    ]


async def test_records_pointing_to_a_merged_organization_follow_its_survivor(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        records = unit.records
        await records.insert_records(PERSON, [(tenant, "c1", "a@acme.io", False, {"organization": 5}, False)])
        await records.insert_records(DEAL, [(tenant, "d1", "11", False, {"organization": "5"}, False)])
        await records.insert_records(DEAL, [(tenant, "d2", "12", False, {"organization": 6}, False)])
        await records.repoint_associations(tenant, ORG, 5, 9)
        people = await records.records_by_id(PERSON, [(tenant, "c1")])
        deals = await records.records_by_id(DEAL, [(tenant, "d1"), (tenant, "d2")])

    assert people[0]["fields"] == {"organization": 9}
    assert [d["fields"] for d in deals] == [{"organization": 9}, {"organization": 6}]


async def test_a_run_starts_with_its_first_records_and_completes_when_all_it_emitted_are_applied(
    subject: StoreUnderTest, tenant: str
) -> None:
    ref = (tenant, "run-1")
    async with subject.store.unit() as unit:
        first = await unit.runs.add_applied({ref: RunCounts(created=2)})
    async with subject.store.unit() as unit:
        on_finish = await unit.runs.add_emitted(tenant, finished("run-1", 3))
    async with subject.store.unit() as unit:
        last = await unit.runs.add_applied({ref: RunCounts(skipped=1)})
    async with subject.store.unit() as unit:
        later = await unit.runs.add_applied({ref: RunCounts(updated=1)})

    assert [r for r, _ in first.started] == [ref] and first.completed == []
    assert on_finish == []
    assert last.started == [] and _shape(last.completed) == [
        (tenant, "run-1", RunCounts(created=2, skipped=1))
    ]
    assert last.completed[0].objects == (ORG,)
    assert later.completed == []


async def test_a_run_whose_records_were_all_applied_first_completes_with_its_finish(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        await unit.runs.add_applied({(tenant, "run-2"): RunCounts(updated=1)})
    async with subject.store.unit() as unit:
        completed = await unit.runs.add_emitted(tenant, finished("run-2", 1))
    async with subject.store.unit() as unit:
        again = await unit.runs.add_emitted(tenant, finished("run-2", 1))

    assert _shape(completed) == [(tenant, "run-2", RunCounts(updated=1))] and again == []


async def test_a_dead_lettered_change_is_claimed_once_and_keeps_its_outputs(
    subject: StoreUnderTest, tenant: str
) -> None:
    async with subject.store.unit() as unit:
        first = await unit.runs.claim_dead_letter(tenant, "e1")
        await unit.runs.save_dead_letter_outputs(tenant, "e1", [RESULT])
    async with subject.store.unit() as unit:
        again = await unit.runs.claim_dead_letter(tenant, "e1")

    assert (first, again) == (None, [RESULT])


async def test_a_dry_run_reads_what_units_wrote(subject: StoreUnderTest, tenant: str) -> None:
    async with subject.store.unit() as unit:
        await unit.records.create_record(tenant, PERSON, "c1", "a@acme.io", {"name": "Ann"})
    async with subject.store.dry_run() as records:
        rows = await records.records_by_key(PERSON, [(tenant, "a@acme.io")], lock=False)

    assert [(r["abm_id"], r["fields"]) for r in rows] == [("c1", {"name": "Ann"})]


def _shape(runs: list[CompletedRun]) -> list[tuple[str, str, RunCounts]]:
    return [(r.tenant, r.source_run_id, r.counts) for r in runs]
