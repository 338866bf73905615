"""A filter names the product's labels and every field of the account by its Pipedrive label."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from sync_rules.filters import FilterError, compile_filter, evaluate_filter, plan_filter
from sync_rules.filters.fields import FieldKind, ServerParam, account_filter_fields
from sync_rules.filters.stages import PipelineStages, stage_options
from sync_rules.mappings import FieldDefinition
from sync_rules.objects import SyncObject

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
TIER = "b" * 40
ORGANIZATION_FIELDS = [
    FieldDefinition("name", "Name", False, "varchar"),
    FieldDefinition("add_time", "Organization created", False, "date", writable=False),
    FieldDefinition("employee_count", "Number of employees", False, "int"),
    FieldDefinition(
        "visible_to", "Visible to", False, "visible_to", options=(("1", "Owner"), ("3", "Company"))
    ),
    FieldDefinition("label_ids", "Labels", False, "set"),
    FieldDefinition(TIER, "Tier", True, "enum", options=((31, "A"), (32, "B"))),
    FieldDefinition("c" * 40, "Segments", True, "set", options=((41, "SaaS"), (42, "Retail"))),
    FieldDefinition("d" * 40, "Renewal window", True, "daterange"),
]
FIELDS = account_filter_fields(SyncObject.ORGANIZATION, ORGANIZATION_FIELDS, users={"Ann": 7})


def _matches(source: str, record: dict[str, object]) -> bool:
    return evaluate_filter(compile_filter(source, FIELDS), record, now=NOW, current_user_id=7)


def test_built_in_and_custom_fields_are_named_by_their_pipedrive_label() -> None:
    record = {
        "name": "Acme",
        "add_time": "2026-11-10T09:00:00Z",
        "employee_count": 250,
        "visible_to": 3,
        "custom_fields": {TIER: 31, "c" * 40: [41, 42]},
    }

    assert _matches('Tier = "a" AND Segments = "Retail" AND Number of employees > 100', record)
    assert _matches('Organization created > last 30 days AND Visible to = "Company"', record)
    assert not _matches('Tier = "B" OR Segments != "SaaS"', record)
    assert FIELDS["Add Time"] == FIELDS["Organization created"]


def test_fields_that_cannot_be_compared_are_not_offered() -> None:
    assert "Renewal window" not in FIELDS
    with pytest.raises(FilterError, match='unknown field "Renewal window"'):
        compile_filter('Renewal window = "x"', FIELDS)


def test_a_label_naming_two_fields_is_refused_at_its_column() -> None:
    doubled = account_filter_fields(
        SyncObject.ORGANIZATION, [*ORGANIZATION_FIELDS, FieldDefinition("e" * 40, "Owner", True, "varchar")]
    )

    with pytest.raises(FilterError) as refused:
        compile_filter('Name = "x" AND Owner = 7', doubled)

    assert refused.value.column == 16
    assert (
        refused.value.problem == '"Owner" names more than one field of this account; rename one in Pipedrive'
    )


def test_a_stage_name_of_two_pipelines_matches_either_and_stays_local() -> None:
    stages, ambiguous = stage_options(
        [PipelineStages(1, "Sales", ((3, "Proposal"),)), PipelineStages(2, "Partners", ((7, "Proposal"),))]
    )
    deals = account_filter_fields(SyncObject.DEAL, [], stages=stages, ambiguous_stages=ambiguous)
    bound = compile_filter('Value > 10000 AND Stage = "Proposal"', deals)

    plan = plan_filter(bound, SyncObject.DEAL, now=NOW, current_user_id=None)

    assert plan.params == {}
    assert evaluate_filter(bound, {"value": 20000, "stage_id": 7}, now=NOW, current_user_id=None)
    assert not evaluate_filter(bound, {"value": 20000, "stage_id": 4}, now=NOW, current_user_id=None)
    single = compile_filter('Stage = "Sales / Proposal"', deals)
    assert plan_filter(single, SyncObject.DEAL, now=NOW, current_user_id=None).params == {"stage_id": 3}


def test_a_reserved_parameter_stays_in_the_residual() -> None:
    deals = account_filter_fields(SyncObject.DEAL, [], stages={"Proposal": 3}, pipelines={"Sales": 1})
    bound = compile_filter('Stage = "Proposal" AND Pipeline = "Sales"', deals)

    plan = plan_filter(
        bound, SyncObject.DEAL, now=NOW, current_user_id=None, reserved=frozenset({ServerParam.STAGE_ID})
    )

    assert plan.params == {"pipeline_id": 1}
    assert plan.residual is not None and deals["Stage"].kind is FieldKind.OPTION
