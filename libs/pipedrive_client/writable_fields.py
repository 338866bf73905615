"""Which fields a v2 update may write: the fields API does not say, the write operations' request bodies do.

Built-in fields are writable when `PATCH /api/v2/{entity}/{id}` accepts them (Pipedrive's published v2
spec); everything else (ids, timestamps Pipedrive keeps, computed counts) is read-only. Custom fields are
written under `custom_fields`, except the kinds Pipedrive computes itself.
"""

from __future__ import annotations

from collections.abc import Mapping

from pipedrive_client.account import FieldEntity

WRITABLE_BUILT_IN_FIELDS: Mapping[FieldEntity, frozenset[str]] = {
    "organization": frozenset(
        {
            "name", "owner_id", "address", "website", "linkedin", "industry", "annual_revenue",
            "employee_count", "label_ids", "visible_to",
        }
    ),
    "person": frozenset(
        {
            "name", "owner_id", "org_id", "emails", "phones", "im", "birthday", "job_title", "notes",
            "postal_address", "marketing_status", "label_ids", "visible_to",
        }
    ),
    "deal": frozenset(
        {
            "title", "owner_id", "person_id", "org_id", "pipeline_id", "stage_id", "value", "currency",
            "status", "probability", "expected_close_date", "lost_reason", "won_time", "lost_time",
            "close_time", "archive_time", "is_archived", "is_deleted", "label_ids", "visible_to",
        }
    ),
}  # fmt: skip
"""The built-in fields of each entity that `PATCH /api/v2/{entity}/{id}` accepts."""

COMPUTED_CUSTOM_FIELD_TYPES = frozenset({"picture", "json"})
"""Custom field kinds Pipedrive fills in itself."""


def is_writable(entity: FieldEntity, field_code: str, *, is_custom: bool, field_type: str) -> bool:
    """Whether an update can write this field of `entity`."""
    if is_custom:
        return field_type not in COMPUTED_CUSTOM_FIELD_TYPES
    return field_code in WRITABLE_BUILT_IN_FIELDS[entity]
