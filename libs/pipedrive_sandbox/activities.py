"""Activities (API v2): calls, meetings, tasks... linked to an organization, a person or a deal.

Kept apart from the three synced entities: activities are only added and listed here (the pusher adds a done
activity for a revealed company's visited pages), with the v2 representation Pipedrive answers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.timestamps import format_date, format_time

# The activity types every new Pipedrive company has, by key string; `call` is the default.
ACTIVITY_TYPES = ("call", "meeting", "task", "deadline", "email", "lunch")
WRITABLE = frozenset(
    {
        "subject", "type", "owner_id", "deal_id", "lead_id", "person_id", "org_id", "project_id",
        "due_date", "due_time", "duration", "busy", "done", "location", "participants", "attendees",
        "public_description", "priority", "note",
    }
)  # fmt: skip
_LINKS = ("org_id", "person_id", "deal_id")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")

LinkCheck = Callable[[str, int], None]


@dataclass
class ActivityBook:
    """Every activity of the company by id."""

    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    next_id: int = 1

    def add(self, body: Mapping[str, Any], user_id: int, now: int, check_link: LinkCheck) -> dict[str, Any]:
        """Add an activity from a v2 POST body; `check_link` raises when a linked record does not exist."""
        _validate(body, check_link)
        done = bool(body.get("done", False))
        activity: dict[str, Any] = {
            "id": self.next_id,
            "subject": body.get("subject") or "Call",
            "type": body.get("type") or "call",
            "owner_id": body.get("owner_id", user_id),
            "creator_user_id": user_id,
            "is_deleted": False,
            "add_time": format_time(now),
            "update_time": format_time(now),
            "deal_id": body.get("deal_id"),
            "lead_id": body.get("lead_id"),
            "person_id": body.get("person_id"),
            "org_id": body.get("org_id"),
            "project_id": body.get("project_id"),
            "due_date": body.get("due_date") or format_date(now),
            "due_time": body.get("due_time"),
            "duration": body.get("duration"),
            "busy": bool(body.get("busy", False)),
            "done": done,
            "marked_as_done_time": format_time(now) if done else None,
            "location": body.get("location"),
            "participants": list(body.get("participants") or []),
            "public_description": body.get("public_description"),
            "priority": body.get("priority"),
            "note": body.get("note"),
        }
        self.records[activity["id"]] = activity
        self.next_id += 1
        return activity

    def page(
        self, filters: Mapping[str, Any], after_id: int | None, limit: int
    ) -> tuple[list[dict[str, Any]], int | None]:
        """Live activities matching `filters` in id order after `after_id`; the last id when more follow."""
        found = [
            a
            for record_id, a in sorted(self.records.items())
            if (after_id is None or record_id > after_id)
            and not a["is_deleted"]
            and all(a.get(key) == value for key, value in filters.items())
        ]
        page = found[:limit]
        return page, page[-1]["id"] if len(found) > limit else None


def _validate(body: Mapping[str, Any], check_link: LinkCheck) -> None:
    unknown = set(body) - WRITABLE
    if unknown:
        raise InvalidRequest(f"Unknown or read-only field(s): {', '.join(sorted(unknown))}")
    for key in ("subject", "note", "public_description", "lead_id"):
        if body.get(key) is not None and not isinstance(body[key], str):
            raise InvalidRequest(f"{key} must be a string")
    for key in ("done", "busy"):
        if key in body and not isinstance(body[key], bool):
            raise InvalidRequest(f"{key} must be a boolean")
    if body.get("type") is not None and body["type"] not in ACTIVITY_TYPES:
        raise InvalidRequest(f"type must be one of {', '.join(ACTIVITY_TYPES)}")
    if body.get("due_date") is not None and not _DATE.match(str(body["due_date"])):
        raise InvalidRequest("due_date must be a date (YYYY-MM-DD)")
    if body.get("due_time") is not None and not _TIME.match(str(body["due_time"])):
        raise InvalidRequest("due_time must be a time (HH:MM)")
    for key in (*_LINKS, "owner_id"):
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool):
            raise InvalidRequest(f"{key} must be an integer")
        check_link(key, value)
