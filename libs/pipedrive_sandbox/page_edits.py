"""Edits between the pages of a list (`/_sandbox/between-pages`): a person changing records while an
integration pages through a list, at the one moment that matters, from outside the sandbox. Recents are
paged by position, so records edited between two page calls move to the end of the list and every item
after their old places moves back: the case a client's paging must survive."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Any

from pipedrive_sandbox.entities import EntityService
from pipedrive_sandbox.errors import SandboxError
from pipedrive_sandbox.events import ChangeSource
from pipedrive_sandbox.store import Entity


@dataclass
class EditsBetweenPages:
    """Changes to make to some records once, just before the sandbox answers the first call of `path`
    that asks for a later page (`start` above 0)."""

    path: str
    entity: Entity
    ids: tuple[int, ...]
    changes: dict[str, Any]
    done_ids: list[int] = field(default_factory=list)
    done: bool = False

    def is_due(self, path: str, start: int) -> bool:
        """Whether a call of `path` from position `start` is the moment to edit."""
        return not self.done and path == self.path and start > 0

    def as_json(self) -> dict[str, Any]:
        """What the admin API shows of it."""
        return {
            "path": self.path,
            "entity": self.entity.value,
            "ids": list(self.ids),
            "changes": self.changes,
            "done": self.done,
            "done_ids": self.done_ids,
        }


def page_start(query: dict[str, str]) -> int:
    """The `start` a list call asks from (0 when absent or not a number: the list's own check says so)."""
    try:
        return int(query.get("start") or 0)
    except ValueError:
        return 0


def edit_between_pages(
    pending: list[EditsBetweenPages], path: str, start: int, entities: EntityService, user_id: int
) -> None:
    """Make the edits due for this call, as `user_id` in the app; records deleted meanwhile are left
    alone (`done_ids` says which were edited)."""
    for edits in pending:
        if edits.is_due(path, start):
            edits.done = True
            for record_id in edits.ids:
                with contextlib.suppress(SandboxError):
                    entities.update(edits.entity, record_id, edits.changes, user_id, ChangeSource.APP)
                    edits.done_ids.append(record_id)
