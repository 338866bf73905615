"""The fields a filter can name: label -> where the value sits in a v2 record and how it compares."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from sync_rules.mappings import FieldDefinition
from sync_rules.objects import SyncObject


class FieldKind(StrEnum):
    """How a field's values compare."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    DATETIME = "datetime"
    USER = "user"
    OPTION = "option"


class ServerParam(StrEnum):
    """Pipedrive v2 list parameters a comparison can be pushed down to."""

    OWNER_ID = "owner_id"
    STAGE_ID = "stage_id"
    PIPELINE_ID = "pipeline_id"
    STATUS = "status"
    UPDATE_TIME = "update_time"


OptionValue = int | str | tuple[int | str, ...]
"""What an option name stands for: one value records hold, or any of several (a stage name that several
pipelines have)."""


@dataclass(frozen=True)
class FilterField:
    """A filterable field: its v2 record key (a field code when ``custom``), its kind, and for users and
    options the names admins type mapped to the values records hold (matched case-insensitively).

    ``ambiguous_options`` are names that cannot be told apart (with why); ``ambiguity`` set means the label
    itself names several fields (binding refuses it with that message)."""

    key: str
    kind: FieldKind
    custom: bool = False
    options: Mapping[str, OptionValue] = field(default_factory=dict)
    server_param: ServerParam | None = None
    ambiguous_options: Mapping[str, str] = field(default_factory=dict)
    ambiguity: str | None = None


DEAL_STATUSES: Mapping[str, str] = {status: status for status in ("open", "won", "lost", "deleted")}
_CUSTOM_KINDS = {
    "int": FieldKind.NUMBER,
    "double": FieldKind.NUMBER,
    "monetary": FieldKind.NUMBER,
    "date": FieldKind.DATE,
    "varchar": FieldKind.TEXT,
    "varchar_auto": FieldKind.TEXT,
    "text": FieldKind.TEXT,
    "phone": FieldKind.TEXT,
    "user": FieldKind.USER,
}
_ACCOUNT_KINDS = _CUSTOM_KINDS | {
    "varchar_options": FieldKind.TEXT,
    "address": FieldKind.TEXT,
    "org": FieldKind.NUMBER,
    "people": FieldKind.NUMBER,
    "deal": FieldKind.NUMBER,
    "enum": FieldKind.OPTION,
    "set": FieldKind.OPTION,
    "status": FieldKind.OPTION,
    "visible_to": FieldKind.OPTION,
    "stage": FieldKind.OPTION,
}
"""How the account's field types compare; other types (ranges, times, pictures, ...) are not filterable."""


def standard_filter_fields(
    sync_object: SyncObject,
    *,
    users: Mapping[str, int] | None = None,
    stages: Mapping[str, OptionValue] | None = None,
    pipelines: Mapping[str, OptionValue] | None = None,
) -> dict[str, FilterField]:
    """Return the native fields filterable on an object, keyed by the product's labels.

    ``users`` maps emails or names to user ids, ``stages`` and ``pipelines`` map names to ids, so that
    ``Owner = "ann@acme.com"`` and ``Stage = "Proposal"`` resolve to ids.
    """
    owner = FilterField("owner_id", FieldKind.USER, options=users or {}, server_param=ServerParam.OWNER_ID)
    fields = {
        "Owner": owner,
        "Add Time": FilterField("add_time", FieldKind.DATETIME),
        "Update Time": FilterField("update_time", FieldKind.DATETIME, server_param=ServerParam.UPDATE_TIME),
    }
    if sync_object is SyncObject.ORGANIZATION:
        fields |= {
            "Name": FilterField("name", FieldKind.TEXT),
            "Website": FilterField("website", FieldKind.TEXT),
        }
    elif sync_object is SyncObject.PERSON:
        fields |= {
            "Name": FilterField("name", FieldKind.TEXT),
            "Email": FilterField("emails", FieldKind.TEXT),
            "Phone": FilterField("phones", FieldKind.TEXT),
        }
    else:
        fields |= _deal_fields(stages or {}, pipelines or {})
    return fields


def _deal_fields(
    stages: Mapping[str, OptionValue], pipelines: Mapping[str, OptionValue]
) -> dict[str, FilterField]:
    return {
        "Title": FilterField("title", FieldKind.TEXT),
        "Value": FilterField("value", FieldKind.NUMBER),
        "Currency": FilterField("currency", FieldKind.TEXT),
        "Stage": FilterField("stage_id", FieldKind.OPTION, options=stages, server_param=ServerParam.STAGE_ID),
        "Pipeline": FilterField(
            "pipeline_id", FieldKind.OPTION, options=pipelines, server_param=ServerParam.PIPELINE_ID
        ),
        "Status": FilterField(
            "status", FieldKind.OPTION, options=DEAL_STATUSES, server_param=ServerParam.STATUS
        ),
        "Expected close date": FilterField("expected_close_date", FieldKind.DATE),
    }


def account_filter_fields(
    sync_object: SyncObject,
    definitions: Sequence[FieldDefinition],
    *,
    users: Mapping[str, int] | None = None,
    stages: Mapping[str, OptionValue] | None = None,
    ambiguous_stages: Mapping[str, str] | None = None,
    pipelines: Mapping[str, OptionValue] | None = None,
) -> dict[str, FilterField]:
    """Return every field a filter on an account's object can name: the product's labels
    (:func:`standard_filter_fields`) and each field the account lists, built-in or custom, by its
    Pipedrive label. Options come from the definitions (enum, set, status), users, stages and pipelines.
    A label naming two different fields is kept as an ambiguous field (binding refuses it)."""
    standard = standard_filter_fields(sync_object, users=users, stages=stages, pipelines=pipelines)
    if "Stage" in standard:
        standard["Stage"] = replace(standard["Stage"], ambiguous_options=ambiguous_stages or {})
    by_code = {f.key: f for f in standard.values() if not f.custom}
    found: dict[str, FilterField] = dict(standard)
    keys = {_label_key(label): label for label in found}
    for definition in definitions:
        candidate = _account_field(definition, by_code)
        if candidate is None:
            continue
        key = _label_key(definition.label)
        if key not in keys:
            keys[key] = definition.label
            found[definition.label] = candidate
            continue
        existing = found[keys[key]]
        if (existing.key, existing.custom) != (candidate.key, candidate.custom):
            found[keys[key]] = FilterField(
                "",
                FieldKind.TEXT,
                ambiguity=f'"{definition.label}" names more than one field of this account; rename one in'
                " Pipedrive",
            )
    return found


def _account_field(definition: FieldDefinition, by_code: Mapping[str, FilterField]) -> FilterField | None:
    if not definition.is_custom and definition.code in by_code:
        return by_code[definition.code]
    kind = _ACCOUNT_KINDS.get(definition.field_type)
    if kind is None:
        return None
    options = {label: ident for ident, label in definition.options}
    return FilterField(definition.code, kind, custom=definition.is_custom, options=options)


def _label_key(label: str) -> str:
    return " ".join(label.split()).casefold()


def custom_filter_fields(definitions: list[FieldDefinition]) -> dict[str, FilterField]:
    """Return the filterable custom fields of an account, keyed by label (kinds we cannot compare are left
    out: option sets, addresses, ranges)."""
    return {
        d.label: FilterField(d.code, _CUSTOM_KINDS[d.field_type], custom=True)
        for d in definitions
        if d.is_custom and d.field_type in _CUSTOM_KINDS
    }
