"""Whether a tenant's field mappings can work: each names an ABM field that exists, a Pipedrive field the
connected account has (built-in by its key or label, custom by its label), modes the object's directions
can carry, and, wherever it writes into Pipedrive, a writable Pipedrive field of a type that takes the ABM
field's values (`sync_rules.field_types`).

Each problem names its place in the settings body (``objects.organization.fields[2].abm_field``).
"""

from collections.abc import Sequence
from dataclasses import dataclass

from schemas.events.common import Direction, SyncObject
from schemas.events.settings import DirectionSwitches, FieldMode
from schemas.events.settings import FieldMapping as ConfiguredMapping
from sync_rules.directions import syncs_toward
from sync_rules.field_types import type_mismatch
from sync_rules.mappings import CustomFieldResolutionError, FieldDefinition, resolve_custom_field_code
from sync_rules.record_fields import unknown_field_problem


@dataclass(frozen=True)
class MappingProblem:
    """One problem of the settings: where, what, and whether the account may simply not be known yet
    (a Pipedrive field missing from an older catalog)."""

    path: str
    problem: str
    missing_in_pipedrive: bool = False

    def __str__(self) -> str:
        return f"{self.path}: {self.problem}"


def pipedrive_field_of(
    mapping: ConfiguredMapping, definitions: Sequence[FieldDefinition]
) -> FieldDefinition | None:
    """The account's field a mapping names: a custom field by its label, a built-in one by key or label."""
    if mapping.custom:
        try:
            code = resolve_custom_field_code(mapping.pipedrive_field, definitions)
        except CustomFieldResolutionError:
            return None
        return next(d for d in definitions if d.code == code)
    built_in = [d for d in definitions if not d.is_custom]
    wanted = _key(mapping.pipedrive_field)
    by_code = [d for d in built_in if d.code == mapping.pipedrive_field]
    found = by_code or [d for d in built_in if _key(d.label) == wanted]
    return found[0] if found else None


def mapping_problems(
    obj: SyncObject,
    index: int,
    mapping: ConfiguredMapping,
    switches: DirectionSwitches,
    definitions: Sequence[FieldDefinition],
) -> list[MappingProblem]:
    """Every problem of one mapped field of an object (empty when it can work)."""
    at = f"objects.{obj.value}.fields[{index}]"
    problems: list[MappingProblem] = []
    unknown = unknown_field_problem(obj, mapping.abm_field)
    if unknown is not None:
        problems.append(MappingProblem(f"{at}.abm_field", unknown))
    target = pipedrive_field_of(mapping, definitions)
    if target is None:
        problems.append(MappingProblem(f"{at}.pipedrive_field", _missing(obj, mapping, definitions), True))
    problems.extend(mode_problems(obj, index, mapping, switches))
    if target is not None and mapping.to_pipedrive is not FieldMode.DONT_SYNC:
        problems.extend(push_target_problems(obj, index, mapping, target))
    return problems


def push_target_problems(
    obj: SyncObject, index: int, mapping: ConfiguredMapping, target: FieldDefinition
) -> list[MappingProblem]:
    """Why a mapping cannot write into its Pipedrive field: read-only, or of a type its values do not fit."""
    at = f"objects.{obj.value}.fields[{index}].to_pipedrive"
    if not target.writable:
        return [
            MappingProblem(
                at, f'"{target.label}" is read-only in Pipedrive and cannot be written: use dont_sync'
            )
        ]
    mismatch = type_mismatch(obj, mapping.abm_field, target.label, target.field_type)
    return [MappingProblem(at, mismatch)] if mismatch else []


def mode_problems(
    obj: SyncObject, index: int, mapping: ConfiguredMapping, switches: DirectionSwitches
) -> list[MappingProblem]:
    """The modes of one mapped field that the object's directions cannot carry."""
    at = f"objects.{obj.value}.fields[{index}]"
    return [
        MappingProblem(f"{at}.{attribute}", _direction_off(obj, mode, direction))
        for direction, mode, attribute in (
            (Direction.TO_PIPEDRIVE, mapping.to_pipedrive, "to_pipedrive"),
            (Direction.TO_ABM, mapping.to_abm, "to_abm"),
        )
        if mode is not FieldMode.DONT_SYNC and not syncs_toward(switches, direction)
    ]


def domain_field_problems(label: str | None, definitions: Sequence[FieldDefinition]) -> list[MappingProblem]:
    """The problem of the organization domain's custom field, if any."""
    if label is None:
        return []
    try:
        resolve_custom_field_code(label, definitions)
    except CustomFieldResolutionError as failure:
        return [MappingProblem("organization_domain.custom_field_label", str(failure), True)]
    return []


def _missing(obj: SyncObject, mapping: ConfiguredMapping, definitions: Sequence[FieldDefinition]) -> str:
    name = mapping.pipedrive_field
    if mapping.custom:
        try:
            resolve_custom_field_code(name, definitions)
        except CustomFieldResolutionError as failure:
            return str(failure)
    hint = ""
    if any(d.is_custom and _key(d.label) == _key(name) for d in definitions):
        hint = f'; a custom field is labelled "{name}": set custom to true'
    return f'this Pipedrive account has no built-in {obj.value} field "{name}"{hint}'


def _direction_off(obj: SyncObject, mode: FieldMode, direction: Direction) -> str:
    if direction is Direction.TO_PIPEDRIVE:
        needs, switches = "into Pipedrive", "directions.create_in_pipedrive or .update_in_pipedrive"
    else:
        needs, switches = "into the ABM platform", "directions.create_in_abm or .update_in_abm"
    return f"{mode.value} needs {obj.value}s to sync {needs} ({switches}); use dont_sync"


def _key(label: str) -> str:
    return " ".join(label.split()).casefold()
