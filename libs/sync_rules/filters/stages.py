"""Stages by name: a name means that stage in every pipeline that has one of that name ("Proposal" is the
Proposal stage of Sales and of Partnerships), "Pipeline / Stage" means one pipeline's stage. A name is
ambiguous only when one pipeline has two stages of that name: nothing can tell them apart but their ids.

Used by filters (`Stage = "Proposal"`) and by imports of deals at chosen stages (names or ids).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sync_rules.errors import SyncRuleError
from sync_rules.filters.fields import OptionValue


@dataclass(frozen=True)
class PipelineStages:
    """A pipeline and its stages as (id, name) pairs in order."""

    id: int
    name: str
    stages: tuple[tuple[int, str], ...]


class StageReferenceError(SyncRuleError):
    """A stage named by an import names no stage, or cannot be told apart from another."""

    def __init__(self, index: int, problem: str) -> None:
        super().__init__(f"stages[{index}]: {problem}")
        self.index = index
        self.problem = problem


def stage_options(pipelines: Sequence[PipelineStages]) -> tuple[dict[str, OptionValue], dict[str, str]]:
    """The names a filter may give a stage, each mapped to its stage ids (one id, or a tuple when several
    pipelines have the name), and the ambiguous names with why."""
    ids_by_name: dict[str, list[int]] = {}
    display: dict[str, str] = {}
    options: dict[str, OptionValue] = {}
    ambiguous: dict[str, str] = {}
    for pipeline in pipelines:
        seen: dict[str, list[int]] = {}
        for stage_id, name in pipeline.stages:
            key = _key(name)
            display.setdefault(key, name)
            seen.setdefault(key, []).append(stage_id)
            ids_by_name.setdefault(key, []).append(stage_id)
        for key, ids in seen.items():
            qualified = f"{pipeline.name} / {display[key]}"
            if len(ids) > 1:
                why = _twice(display[key], pipeline.name, ids)
                ambiguous[display[key]] = ambiguous[qualified] = why
            else:
                options[qualified] = ids[0]
    for key, ids in ids_by_name.items():
        if display[key] not in ambiguous:
            options[display[key]] = ids[0] if len(ids) == 1 else tuple(ids)
    return options, ambiguous


def resolve_stages(references: Sequence[int | str], pipelines: Sequence[PipelineStages]) -> tuple[int, ...]:
    """The stage ids that references (ids, names or "Pipeline / Stage") stand for, each once, in the order
    given; :class:`StageReferenceError` names the first bad reference."""
    options, ambiguous = stage_options(pipelines)
    by_key = {_key(name): value for name, value in options.items()}
    ambiguous_by_key = {_key(name): why for name, why in ambiguous.items()}
    known_ids = {stage_id for p in pipelines for stage_id, _ in p.stages}
    chosen: list[int] = []
    for index, reference in enumerate(references):
        for stage_id in _stage_ids(index, reference, by_key, ambiguous_by_key, known_ids):
            if stage_id not in chosen:
                chosen.append(stage_id)
    return tuple(chosen)


def _stage_ids(
    index: int,
    reference: int | str,
    by_key: Mapping[str, OptionValue],
    ambiguous: Mapping[str, str],
    known_ids: set[int],
) -> tuple[int, ...]:
    if isinstance(reference, int):
        if reference not in known_ids:
            raise StageReferenceError(index, f"no stage has id {reference}")
        return (reference,)
    key = _key(reference)
    if key in ambiguous:
        raise StageReferenceError(index, ambiguous[key])
    if key not in by_key:
        raise StageReferenceError(index, f'no stage is named "{reference}"')
    value = by_key[key]
    return tuple(int(v) for v in value) if isinstance(value, tuple) else (int(value),)


def _twice(name: str, pipeline: str, ids: Sequence[int]) -> str:
    listed = ", ".join(str(i) for i in ids)
    return (
        f'stage "{name}" is ambiguous: pipeline "{pipeline}" has {len(ids)} stages of that name'
        f" (ids {listed}); use the stage id"
    )


def _key(name: str) -> str:
    return " ".join(name.split()).casefold()
