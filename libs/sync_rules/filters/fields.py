"""The fields a filter can name: label -> where the value sits in a v2 record and how it compares."""

from collections.abc import Mapping
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class FilterField:
    """A filterable field: its v2 record key (a field code when ``custom``), its kind, and for users and
    options the names admins type mapped to the values records hold (matched case-insensitively)."""

    key: str
    kind: FieldKind
    custom: bool = False
    options: Mapping[str, int | str] = field(default_factory=dict)
    server_param: ServerParam | None = None


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


def standard_filter_fields(
    sync_object: SyncObject,
    *,
    users: Mapping[str, int] | None = None,
    stages: Mapping[str, int] | None = None,
    pipelines: Mapping[str, int] | None = None,
) -> dict[str, FilterField]:
    """Return the native fields filterable on an object, keyed by their Pipedrive label.

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


def _deal_fields(stages: Mapping[str, int], pipelines: Mapping[str, int]) -> dict[str, FilterField]:
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


def custom_filter_fields(definitions: list[FieldDefinition]) -> dict[str, FilterField]:
    """Return the filterable custom fields of an account, keyed by label (kinds we cannot compare are left
    out: option sets, addresses, ranges)."""
    return {
        d.label: FilterField(d.code, _CUSTOM_KINDS[d.field_type], custom=True)
        for d in definitions
        if d.is_custom and d.field_type in _CUSTOM_KINDS
    }
