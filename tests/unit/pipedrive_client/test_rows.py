"""Listed records read without a model per record (`pipedrive_client.rows`) are what the models give:
the same ids, update times and JSON values (same keys in the same order, so the same bytes), and the
records the models refuse are refused with the same error."""

from __future__ import annotations

import copy
import functools
import random
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import orjson
import pytest

from pipedrive_client import UnexpectedResponse
from pipedrive_client.models import Deal, Organization, Person, Record
from pipedrive_client.rows import RecordRow, reader_of, rows_of
from pipedrive_client.shapes import parse_as
from pipedrive_sandbox.config import SandboxConfig
from pipedrive_sandbox.state import build_state
from pipedrive_sandbox.store import Entity

MODELS: dict[Entity, type[Record]] = {
    Entity.ORGANIZATION: Organization,
    Entity.PERSON: Person,
    Entity.DEAL: Deal,
}
Mutation = Callable[[dict[str, Any]], None]


def _set(name: str, value: Any) -> Mutation:
    def mutate(record: dict[str, Any]) -> None:
        record[name] = value

    return mutate


def _drop(name: str) -> Mutation:
    def mutate(record: dict[str, Any]) -> None:
        record.pop(name, None)

    return mutate


def _reorder(record: dict[str, Any]) -> None:
    items = list(record.items())
    record.clear()
    record.update(reversed(items))


def _contact(change: Callable[[dict[str, Any]], None]) -> Mutation:
    def mutate(record: dict[str, Any]) -> None:
        record["emails"] = [{"value": "a@b.example", "primary": True, "label": "work"}]
        change(record["emails"][0])

    return mutate


# Each changes a record into one the models read differently, convert, or refuse.
MUTATIONS: list[Mutation] = [
    _set("id", "17"), _set("id", 17.0), _set("id", True), _set("id", None), _set("id", 0), _set("id", -3),
    _drop("id"), _drop("name"), _drop("title"), _set("name", None), _set("name", 5), _set("title", ["x"]),
    _set("update_time", None), _drop("update_time"), _set("update_time", "2026-11-01T10:00:00+02:00"),
    _set("update_time", "2026-11-01T10:00:00.750Z"), _set("update_time", "2026-11-01 10:00:00"),
    _set("update_time", "2026-11-01T10:00:00"), _set("update_time", "2026-02-30T10:00:00Z"),
    _set("update_time", "0999-01-01T10:00:00Z"), _set("update_time", "2026-11-01T24:00:00Z"),
    _set("update_time", "2026-11-01T10:00:60Z"),
    _set("update_time", "\uff12\uff10\uff12\uff16-11-01T10:00:00Z"),  # full-width digits
    _set("update_time", 1_700_000_000), _set("update_time", "yesterday"),
    _set("add_time", "2026-13-01T10:00:00Z"), _set("add_time", "2026-01-01"),
    _set("owner_id", "12"), _set("owner_id", 1.5), _set("owner_id", False),
    _set("is_deleted", 1), _set("is_deleted", "false"), _set("is_deleted", None), _drop("is_deleted"),
    _set("custom_fields", None), _set("custom_fields", []), _drop("custom_fields"),
    _set("custom_fields", {"a" * 40: [1, 2.5, {"x": None}], "b" * 40: "ü✓"}),
    _set("address", "1 Main Street"), _set("address", None), _set("website", 3),
    _set("value", 5700), _set("value", 5700.5), _set("value", "5700"), _set("value", 2**60),
    _set("value", True), _set("value", None),
    _set("org_id", True), _set("org_id", "4"), _set("org_id", None), _set("person_id", 4.0),
    _set("stage_id", None), _set("expected_close_date", 20240307),
    _set("emails", None), _set("emails", {"value": "a"}), _set("phones", ["+372 1"]),
    _contact(lambda e: e.pop("primary")), _contact(lambda e: e.pop("label")),
    _contact(lambda e: e.pop("value")), _contact(lambda e: e.update(primary=1)),
    _contact(lambda e: e.update(extra_attribute={"n": 1})), _contact(lambda e: e.update(label=None)),
    _set("unknown_attribute", {"nested": [True, None]}), _set("_private", 1), _set("__dict__", 2),
    _set("model_config", 3), _set("", 4), _reorder,
]  # fmt: skip


@functools.cache
def _sandbox_records(entity: Entity) -> list[dict[str, Any]]:
    state = build_state(SandboxConfig(organizations=40, seed=11))
    return [r.data for r in state.tables[entity].live()]


def _records(entity: Entity) -> list[dict[str, Any]]:
    return copy.deepcopy(_sandbox_records(entity))


def _by_the_model(model: type[Record], items: list[Any]) -> list[RecordRow] | str:
    try:
        return [RecordRow.of(parse_as(model, item, "a page of things")) for item in items]
    except UnexpectedResponse as refused:
        return str(refused)


def _read(model: type[Record], items: list[Any]) -> list[RecordRow] | str:
    try:
        return rows_of(model, items, "a page of things")
    except UnexpectedResponse as refused:
        return str(refused)


def _same(expected: list[RecordRow] | str, got: list[RecordRow] | str) -> None:
    if isinstance(expected, str) or isinstance(got, str):
        assert got == expected
        return
    assert [(r.id, r.update_time, r.update_time and r.update_time.utcoffset()) for r in got] == [
        (r.id, r.update_time, r.update_time and r.update_time.utcoffset()) for r in expected
    ]
    assert [orjson.dumps(r.values) for r in got] == [orjson.dumps(r.values) for r in expected]
    assert [r.values for r in got] == [r.values for r in expected]
    for row in got:  # a row read as plain carries its update_time's stamp as the model dumps it
        if row.plain_time:
            assert row.update_time is not None and row.update_time.utcoffset() == timedelta(0)
            assert row.values["update_time"] == row.update_time.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("entity", list(MODELS))
def test_listed_records_read_as_their_models_read_them(entity: Entity) -> None:
    model, records = MODELS[entity], _records(entity)
    read = reader_of(model)
    assert records and read is not None

    _same(_by_the_model(model, records), _read(model, records))
    # Records as API v2 writes them are read without their model (what makes the reading fast).
    rows = rows_of(model, records, "a page")
    assert [read(record) for record in records] == [r.values for r in rows]
    assert all(r.plain_time for r in rows if r.update_time is not None), "their update_time checked once"


@pytest.mark.parametrize("entity", list(MODELS))
@pytest.mark.parametrize("mutation", MUTATIONS)
def test_odd_records_are_read_converted_or_refused_as_their_models_do(
    entity: Entity, mutation: Mutation
) -> None:
    model = MODELS[entity]
    page = _records(entity)[:5]
    mutation(page[2])

    _same(_by_the_model(model, page), _read(model, page))


@pytest.mark.parametrize("entity", list(MODELS))
def test_randomly_mixed_odd_records_read_as_their_models_read_them(entity: Entity) -> None:
    model, rng = MODELS[entity], random.Random(16)
    records = _records(entity)
    for _ in range(300):
        page = [copy.deepcopy(rng.choice(records)) for _ in range(3)]
        for record in page:
            for mutation in rng.sample(MUTATIONS, rng.randrange(3)):
                mutation(record)

        _same(_by_the_model(model, page), _read(model, page))


@pytest.mark.parametrize("item", [None, 5, "x", [1], {"id": 1}])
def test_a_page_item_that_is_no_record_is_refused_naming_the_page(item: Any) -> None:
    with pytest.raises(UnexpectedResponse, match=r"^Unexpected response from Pipedrive: a page of things"):
        rows_of(Organization, [{"id": 1, "name": "a"}, item], "a page of things")
