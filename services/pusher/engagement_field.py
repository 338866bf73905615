"""The engagement-score custom field: found by its label, created once per Pipedrive account if missing.

The code is kept by `pusher.ports.FieldCodes`. Finding or creating it runs under a lock per (tenant, object,
label) (a Postgres advisory lock), so concurrent pushes on any replica create the field once.
"""

from __future__ import annotations

from pusher.ports import FieldCodes, PipedriveWriter
from schemas.events.common import SyncObject
from sync_rules.mappings import CustomFieldResolutionError

ENGAGEMENT_SCORE_LABEL = "Engagement score"
ENGAGEMENT_SCORE_TYPE = "double"


class CustomFieldCodes:
    """Custom field codes by label, per tenant and object, found or created once."""

    def __init__(self, codes: FieldCodes) -> None:
        self._codes = codes

    async def code_of(
        self, tenant: str, obj: SyncObject, label: str, writes: PipedriveWriter, field_type: str
    ) -> str:
        """The field's 40-hex code; created in Pipedrive when no field has the label.

        Raises `CustomFieldResolutionError` when several custom fields carry the label.
        """
        known = await self._codes.known(tenant, obj, label)
        if known is not None:
            return known
        async with self._codes.slot(tenant, obj, label) as slot:
            known = await slot.known()
            if known is not None:
                return known
            code = await _find_or_create(writes, obj, label, field_type)
            await slot.keep(code)
            return code

    async def forget(self, tenant: str, obj: SyncObject, label: str) -> None:
        """Drop a code Pipedrive no longer knows (the field was deleted there)."""
        await self._codes.forget(tenant, obj, label)


async def _find_or_create(writes: PipedriveWriter, obj: SyncObject, label: str, field_type: str) -> str:
    wanted = " ".join(label.split()).casefold()
    matches = [
        d.field_code
        for d in await writes.field_definitions(obj)
        if d.is_custom_field and " ".join(d.field_name.split()).casefold() == wanted
    ]
    if len(matches) > 1:
        raise CustomFieldResolutionError(
            f"{len(matches)} custom fields are labelled {label!r} in this Pipedrive account; rename all but "
            "one in Pipedrive"
        )
    if matches:
        return matches[0]
    return (await writes.create_field(obj, label, field_type)).field_code
