"""What a batch loads before it is planned: the links of its Pipedrive ids, their records, and the records
holding the match keys its plans ask for (`looks_up_key`): a change whose Pipedrive id links a record
asks for no key's record, so a sync or a re-import of linked records reads no key. The plans are those of
a view holding every stored row."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from mapper.planning import PlanKind, tenant_rules
from mapper.ports import RecordRow
from mapper.source_changes_apply import BatchView, Fresh, load_view, plan_batch
from schemas.events.common import SyncObject
from schemas.events.source_changes import (
    ChangeAction,
    ChangeOrigin,
    DuplicateHandling,
    ImportContext,
    SourceChange,
)
from tests.service.mapper_fakes import InMemoryAbmRecords, MapperTables

ORG = SyncObject.ORGANIZATION
T0 = datetime(2026, 11, 1, tzinfo=UTC)
RULES = {"t1": tenant_rules(None)}


class KeyReads(InMemoryAbmRecords):
    """The in-memory store, keeping the match keys each read by key asked for."""

    def __init__(self, tables: MapperTables) -> None:
        super().__init__(tables)
        self.keys_read: list[tuple[str, str]] = []

    async def records_by_key(
        self, obj: SyncObject, keys: Sequence[tuple[str, str]], *, lock: bool = True
    ) -> list[RecordRow]:
        self.keys_read += keys
        return await super().records_by_key(obj, keys, lock=lock)


def org(pipedrive_id: int, domain: str, *, later: int = 1, imported: bool = False) -> Fresh:
    context = ImportContext(import_id="i1", duplicate_handling=DuplicateHandling.SKIP_DUPLICATES)
    change = SourceChange(
        object=ORG, pipedrive_id=pipedrive_id, action=ChangeAction.UPSERTED,
        update_time=T0 + timedelta(seconds=later),
        record={"id": pipedrive_id, "name": f"Org {pipedrive_id}", "website": domain},
        origin=ChangeOrigin.IMPORT if imported else ChangeOrigin.POLL,
        import_context=context if imported else None,
    )  # fmt: skip
    return ("t1", change, domain)


async def stored(accounts: Sequence[tuple[str, str]], links: Sequence[tuple[int, str]]) -> KeyReads:
    """A store holding these accounts (ABM id, domain) and links (Pipedrive id, ABM id)."""
    store = KeyReads(MapperTables())
    await store.insert_records(
        ORG,
        [
            ("t1", abm_id, domain, False, {"name": abm_id, "website": domain}, False)
            for abm_id, domain in accounts
        ],
    )
    await store.save_links([("t1", ORG, pid, abm_id, T0, False, None) for pid, abm_id in links])
    store.keys_read.clear()
    return store


async def test_a_sync_of_linked_records_reads_only_the_keys_of_unlinked_changes() -> None:
    store = await stored([("a", "acme.io"), ("b", "beta.io")], [(1, "a"), (2, "b")])
    batch = [org(1, "acme.io"), org(2, "beta.io"), org(3, "gamma.io")]

    view = await load_view(store, batch)
    planned = plan_batch(view, RULES, batch)

    assert store.keys_read == [("t1", "gamma.io")]
    assert [(p.plan.kind, p.plan.abm_id) for p in planned] == [
        (PlanKind.UPDATE, "a"), (PlanKind.UPDATE, "b"), (PlanKind.CREATE, planned[2].plan.abm_id),
    ]  # fmt: skip


async def test_a_linked_change_whose_record_is_gone_reads_its_key_and_finds_the_record_there() -> None:
    store = await stored([("theirs", "acme.io")], [(1, "gone")])

    view = await load_view(store, [org(1, "acme.io")])
    planned = plan_batch(view, RULES, [org(1, "acme.io")])

    assert store.keys_read == [("t1", "acme.io")]
    assert (planned[0].plan.kind, planned[0].plan.abm_id) == (PlanKind.UPDATE, "theirs")


async def test_an_imported_change_of_a_linked_record_reads_no_key_and_updates_its_record() -> None:
    # An import's duplicate handling is about records found by key: a linked record is no duplicate, so
    # its change is planned by its link (it once read its key, and "skip duplicates" skipped it).
    store = await stored([("a", "acme.io"), ("other", "beta.io")], [(1, "a")])

    view = await load_view(store, [org(1, "beta.io", imported=True)])
    planned = plan_batch(view, RULES, [org(1, "beta.io", imported=True)])

    assert store.keys_read == []
    assert planned[0].situation.key_match is None
    assert (planned[0].plan.kind, planned[0].plan.abm_id) == (PlanKind.UPDATE, "a")


async def test_the_plans_are_those_of_a_view_holding_every_stored_row() -> None:
    accounts = [("a", "acme.io"), ("b", "beta.io"), ("c", "gamma.io"), ("d", "delta.io")]
    links = [(1, "a"), (2, "b"), (4, "gone")]
    batch = [
        org(1, "beta.io"),  # linked to a, now with b's domain: stays on a
        org(2, "beta.io", later=0),  # linked, older than the applied version: skipped
        org(3, "gamma.io"),  # unlinked: c holds its key
        org(4, "delta.io"),  # linked to a record that is gone: d holds its key
        org(5, "new.io"),  # creates
        org(5, "new.io", later=2),  # linked by the change before it
        org(6, "acme.io", imported=True),  # imported: a holds its key
        org(1, "acme.io", later=3, imported=True),  # linked and imported
    ]
    store = await stored(accounts, links)
    narrow = plan_batch(await load_view(store, batch), RULES, batch)

    whole = BatchView()
    for pid, abm_id in links:
        whole.add_link(("t1", ORG, pid), {
            "abm_id": abm_id, "source_update_time": T0, "deleted_in_crm": False, "merged_into_id": None,
        })  # fmt: skip
    for row in await store.records_by_id(ORG, [("t1", abm_id) for abm_id, _ in accounts]):
        whole.add_record(row, ORG)
    everything = plan_batch(whole, RULES, batch)

    assert [p.plan for p in narrow] == [p.plan for p in everything]
    assert [p.situation for p in narrow] == [p.situation for p in everything]
    assert ("t1", "beta.io") not in store.keys_read and ("t1", "delta.io") in store.keys_read
