"""Which fields a record may carry by ABM field name, and which values each takes (a manual push's input)."""

from typing import Any

import pytest

from sync_rules.field_types import ABM_FIELD_KINDS, AbmKind
from sync_rules.objects import SyncObject
from sync_rules.record_fields import (
    ABM_VALUES,
    field_value_problem,
    record_field_problems,
    value_fits,
)

ORG, PERSON, DEAL = SyncObject.ORGANIZATION, SyncObject.PERSON, SyncObject.DEAL


def test_every_kind_an_abm_field_holds_says_which_values_it_takes() -> None:
    held = {kind for kinds in ABM_FIELD_KINDS.values() for kind in kinds.values()}
    assert held <= set(ABM_VALUES) and set(AbmKind) == set(ABM_VALUES)


def test_a_field_the_object_does_not_have_is_named_with_the_fields_it_has() -> None:
    problem = field_value_problem(ORG, "colour", "blue")

    assert problem is not None
    assert problem.startswith('ABM accounts have no field "colour"; expected one of: add_time, address,')
    assert field_value_problem(PERSON, "website", "x.io") == field_value_problem(PERSON, "website", None)
    assert "ABM contacts have no field" in (field_value_problem(PERSON, "website", None) or "")


@pytest.mark.parametrize(
    ("obj", "field", "value", "kind", "given"),
    [
        (ORG, "name", ["x"], "free text", "a list"),
        (ORG, "name", 12, "free text", "a whole number"),
        (ORG, "address", {"value": "Main St 1"}, "free text", "an object"),
        (ORG, "employee_count", 12.5, "a whole number", "a number"),
        (ORG, "employee_count", "120", "a whole number", "a string"),
        (ORG, "annual_revenue", True, "a number", "true or false"),
        (PERSON, "organization", "acme.io", "an organization", "a string"),
        (DEAL, "status", 1, "a deal status", "a whole number"),
        (DEAL, "owner", [7], "an owner", "a list"),
    ],
)
def test_a_value_of_another_kind_is_refused_naming_the_field_its_kind_and_what_was_given(
    obj: SyncObject, field: str, value: Any, kind: str, given: str
) -> None:
    problem = field_value_problem(obj, field, value)

    assert problem is not None
    assert problem.startswith(f"{field} holds {kind}") and problem.endswith(f"or null, not {given}")


@pytest.mark.parametrize(
    ("obj", "field", "value"),
    [
        (ORG, "name", "Acme"),
        (ORG, "name", None),
        (ORG, "employee_count", 120),
        (ORG, "annual_revenue", 1.5e6),
        (ORG, "annual_revenue", 2_000_000),
        (ORG, "owner", "ana@acme.io"),
        (ORG, "owner", 17),
        (ORG, "add_time", "2026-11-02 09:30:00"),
        (PERSON, "organization", 900),
        (DEAL, "expected_close_date", "2026-12-01"),
        (DEAL, "stage", 3),
    ],
)
def test_a_value_of_the_fields_kind_or_null_is_taken(obj: SyncObject, field: str, value: Any) -> None:
    assert field_value_problem(obj, field, value) is None


def test_true_and_false_are_no_numbers() -> None:
    assert not value_fits(AbmKind.INTEGER, True)
    assert not value_fits(AbmKind.NUMBER, False)
    assert value_fits(AbmKind.INTEGER, 0)


def test_a_record_lists_the_problem_of_each_field_that_has_one() -> None:
    problems = record_field_problems(ORG, {"name": ["x"], "website": "x.io", "colour": "blue"})

    assert sorted(problems) == ["colour", "name"]
    assert record_field_problems(ORG, {"name": "X", "website": "x.io"}) == {}
