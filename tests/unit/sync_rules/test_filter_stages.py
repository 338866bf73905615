"""Stages by name across pipelines, qualified by pipeline, or by id; ambiguous only within one pipeline."""

from __future__ import annotations

import pytest

from sync_rules.filters.stages import PipelineStages, StageReferenceError, resolve_stages, stage_options

PIPELINES = [
    PipelineStages(1, "Sales", ((1, "Qualified"), (2, "Proposal"))),
    PipelineStages(2, "Partnerships", ((5, "Proposal"), (6, "Signed"))),
]


def test_a_name_several_pipelines_have_stands_for_each_of_them_and_a_qualified_name_for_one() -> None:
    options, ambiguous = stage_options(PIPELINES)

    assert options["Proposal"] == (2, 5)
    assert options["Sales / Proposal"] == 2 and options["Partnerships / Proposal"] == 5
    assert options["Signed"] == 6
    assert ambiguous == {}


def test_two_stages_of_one_name_in_one_pipeline_are_ambiguous() -> None:
    twice = [*PIPELINES, PipelineStages(3, "Renewals", ((8, "Review"), (9, "review")))]

    options, ambiguous = stage_options(twice)

    assert "Review" not in options and "Renewals / Review" not in options
    assert ambiguous["Review"] == (
        'stage "Review" is ambiguous: pipeline "Renewals" has 2 stages of that name (ids 8, 9);'
        " use the stage id"
    )


def test_an_import_resolves_ids_names_and_qualified_names_each_once_in_order() -> None:
    assert resolve_stages([6, "proposal", "Sales / Qualified", 2], PIPELINES) == (6, 2, 5, 1)


@pytest.mark.parametrize(
    ("references", "problem"),
    [
        ([1, "Lost"], 'stages[1]: no stage is named "Lost"'),
        ([99], "stages[0]: no stage has id 99"),
    ],
)
def test_an_unknown_stage_is_named_with_its_position(references: list[int | str], problem: str) -> None:
    with pytest.raises(StageReferenceError, match=problem.replace("[", r"\[").replace("]", r"\]")):
        resolve_stages(references, PIPELINES)
