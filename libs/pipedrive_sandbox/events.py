"""Change events: what happened to a record, published to webhooks and kept for `/v1/recents`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pipedrive_sandbox.store import Entity


class Action(StrEnum):
    """Webhook v2 `meta.action` values."""

    CREATE = "create"
    CHANGE = "change"
    DELETE = "delete"


class ChangeSource(StrEnum):
    """Webhook v2 `meta.change_source`: made through the API or in the app (the change generator)."""

    API = "api"
    APP = "app"


@dataclass(frozen=True)
class ChangeEvent:
    """One create, change or delete of a record, with its data before and after."""

    entity: Entity
    action: Action
    entity_id: int
    data: dict[str, Any] | None
    previous: dict[str, Any] | None
    change_source: ChangeSource
    user_id: int
    timestamp: float
    merged_to_id: int | None = None
    merged_from_id: int | None = None


EventListener = Callable[[ChangeEvent], None]
