"""Filters of API v2 lists, checked against what each entity's list accepts."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Literal

from pipedrive_client.http import QueryValue

MAX_IDS = 100
SortField = Literal["id", "update_time", "add_time"]
DealStatus = Literal["open", "won", "lost", "deleted"]
# Filters beyond the common ones (ids, updated_since/until, sorting, owner_id), per entity list.
ENTITY_FILTERS: dict[str, frozenset[str]] = {
    "organizations": frozenset(),
    "persons": frozenset({"org_id"}),
    "deals": frozenset({"org_id", "person_id", "stage_id", "pipeline_id", "status"}),
}
_COMMON = frozenset({"ids", "owner_id", "updated_since", "updated_until", "sort_by", "sort_direction"})


@dataclass(frozen=True)
class ListFilters:
    """What to list: `updated_since` is inclusive, `updated_until` exclusive (second precision, UTC)."""

    updated_since: datetime | None = None
    updated_until: datetime | None = None
    sort_by: SortField | None = None
    sort_direction: Literal["asc", "desc"] | None = None
    ids: Sequence[int] | None = None
    owner_id: int | None = None
    org_id: int | None = None
    person_id: int | None = None
    stage_id: int | None = None
    pipeline_id: int | None = None
    status: DealStatus | None = None

    def as_query(self, entity: str) -> dict[str, QueryValue | None]:
        """Query parameters for the `entity` list; ValueError for a filter that list does not accept."""
        allowed = _COMMON | ENTITY_FILTERS[entity]
        used = {f.name for f in fields(self) if getattr(self, f.name) is not None}
        if used - allowed:
            raise ValueError(f"{entity} cannot be filtered by {', '.join(sorted(used - allowed))}")
        if self.ids is not None and not 1 <= len(self.ids) <= MAX_IDS:
            raise ValueError(f"ids takes 1 to {MAX_IDS} values")
        return {
            "updated_since": _rfc3339(self.updated_since),
            "updated_until": _rfc3339(self.updated_until),
            "sort_by": self.sort_by,
            "sort_direction": self.sort_direction,
            "ids": ",".join(str(i) for i in self.ids) if self.ids is not None else None,
            "owner_id": self.owner_id,
            "org_id": self.org_id,
            "person_id": self.person_id,
            "stage_id": self.stage_id,
            "pipeline_id": self.pipeline_id,
            "status": self.status,
        }


def _rfc3339(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError("filter timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
