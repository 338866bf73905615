"""From the admin's settings to the saved ones (pure): every mapping checked (the rule book's
`mapping_checks`), labels resolved to the account's field keys and codes, the modes left out filled in.

A mapping in effect already (one the tenant saved, or, for an object without saved fields, one of the
defaults `GET /v1/settings` spells out) is kept as it is, its field code with it, and not checked again:
what was accepted is not refused later because the account is not connected right now, the settings `GET`
shows can be sent back with `PUT` as they are, and switching a direction off needs no change to the
modes of the fields (they are dormant while their direction is off; the directions gate every write).
New or changed mappings are checked, and they and a changed domain field need the account's field
definitions (`needs_definitions`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from connector.settings_input import FieldMappingInput, SettingsInput
from schemas.events.common import Direction, SyncObject
from schemas.events.settings import (
    DirectionSwitches,
    FieldMapping,
    FieldMode,
    ObjectSettings,
    OrganizationDomainField,
    TenantSettings,
)
from sync_rules.directions import syncs_toward
from sync_rules.mapping_checks import (
    MappingProblem,
    domain_field_problems,
    mapping_problems,
    pipedrive_field_of,
)
from sync_rules.mapping_resolution import effective_field_settings
from sync_rules.mappings import FieldDefinition

Definitions = Mapping[SyncObject, Sequence[FieldDefinition]]


class SettingsRefused(Exception):
    """The settings cannot work; `problems` name each place and why."""

    def __init__(self, problems: Sequence[MappingProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = list(problems)


def configured(spec: FieldMappingInput, switches: DirectionSwitches) -> FieldMapping:
    """The mapping as saved before resolution (a left-out `to_abm` follows the directions)."""
    to_abm = spec.to_abm
    if to_abm is None:
        to_abm = FieldMode.FILL if syncs_toward(switches, Direction.TO_ABM) else FieldMode.DONT_SYNC
    return FieldMapping(
        abm_field=spec.abm_field,
        pipedrive_field=spec.pipedrive_field,
        custom=spec.custom,
        to_pipedrive=spec.to_pipedrive,
        to_abm=to_abm,
    )


def _kept(mapping: FieldMapping, current: TenantSettings, obj: SyncObject) -> FieldMapping | None:
    """The mapping in effect that `mapping` repeats unchanged (saved, or a default), or None."""
    held = effective_field_settings(current, obj)
    return next((m for m in held if m.model_copy(update={"field_code": None}) == mapping), None)


def needs_definitions(wanted: SettingsInput, current: TenantSettings) -> bool:
    """Whether the settings name Pipedrive fields the current settings do not hold already."""
    label = wanted.organization_domain.custom_field_label
    if label is not None and label != current.organization_domain.custom_field_label:
        return True
    return any(
        _kept(configured(m, spec.directions), current, obj) is None
        for obj, spec in wanted.objects.items()
        for m in spec.fields
    )


def missing_in(wanted: SettingsInput, current: TenantSettings, definitions: Definitions) -> bool:
    """Whether the definitions lack a Pipedrive field the settings name (an older catalog may)."""
    return any(p.missing_in_pipedrive for p in _problems(wanted, current, definitions)[1])


def resolve(
    wanted: SettingsInput, current: TenantSettings, definitions: Definitions | None
) -> dict[str, object]:
    """The settings fields to save; `SettingsRefused` with every problem otherwise."""
    objects, problems = _problems(wanted, current, definitions or {})
    if problems:
        raise SettingsRefused(problems)
    label = wanted.organization_domain.custom_field_label
    code = None
    if label is not None:
        domain = pipedrive_field_of(
            FieldMapping(abm_field="website", pipedrive_field=label, custom=True),
            (definitions or {}).get(SyncObject.ORGANIZATION, ()),
        )
        code = domain.code if domain is not None else current.organization_domain.custom_field_code
    return {
        "objects": {**{o: ObjectSettings() for o in SyncObject}, **objects},
        "frequency": wanted.frequency,
        "auto_push": wanted.auto_push,
        "organization_domain": OrganizationDomainField(
            custom_field_label=label,
            custom_field_code=code,
            keep_subdomains=wanted.organization_domain.keep_subdomains,
        ),
    }


def _problems(
    wanted: SettingsInput, current: TenantSettings, definitions: Definitions
) -> tuple[dict[SyncObject, ObjectSettings], list[MappingProblem]]:
    problems: list[MappingProblem] = []
    objects: dict[SyncObject, ObjectSettings] = {}
    for obj, spec in wanted.objects.items():
        fields: list[FieldMapping] = []
        for index, given in enumerate(spec.fields):
            mapping = configured(given, spec.directions)
            kept = _kept(mapping, current, obj)
            known = definitions.get(obj, ())
            if kept is not None:  # in effect already: kept as it is
                fields.append(kept)
                continue
            problems.extend(mapping_problems(obj, index, mapping, spec.directions, known))
            fields.append(_resolved(mapping, known))
        objects[obj] = ObjectSettings(directions=spec.directions, fields=tuple(fields))
    label = wanted.organization_domain.custom_field_label
    if label is not None and label != current.organization_domain.custom_field_label:
        problems.extend(domain_field_problems(label, definitions.get(SyncObject.ORGANIZATION, ())))
    return objects, problems


def _resolved(mapping: FieldMapping, definitions: Sequence[FieldDefinition]) -> FieldMapping:
    target = pipedrive_field_of(mapping, definitions)
    if target is None:
        return mapping
    if mapping.custom:
        return mapping.model_copy(update={"field_code": target.code})
    return mapping.model_copy(update={"pipedrive_field": target.code})
