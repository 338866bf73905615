"""Owners: ABM owners are people known by email; Pipedrive owners are user ids. Matched by user email.

An existing Pipedrive owner is only replaced when the tenant maps owner with Overwrite.
"""

from collections.abc import Iterable, Mapping
from typing import Any

from schemas.events.settings import FieldMode
from sync_rules.diffs import field_change


def index_users_by_email(users: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Return Pipedrive user ids keyed by lowercased email, from user records (``id``, ``email``).

    Inactive users (``active_flag`` false) are left out: they cannot own records.
    """
    index: dict[str, int] = {}
    for user in users:
        email, user_id = user.get("email"), user.get("id")
        if isinstance(email, str) and isinstance(user_id, int) and user.get("active_flag", True):
            index[email.strip().lower()] = user_id
    return index


def find_owner_id(owner_email: str | None, users_by_email: Mapping[str, int]) -> int | None:
    """Return the Pipedrive user id of the owner with this email, or None when no user has it."""
    if not owner_email:
        return None
    return users_by_email.get(owner_email.strip().lower())


def owner_change_to_pipedrive(
    abm_owner_email: str | None,
    pipedrive_owner_id: int | None,
    mode: FieldMode,
    users_by_email: Mapping[str, int],
) -> dict[str, int]:
    """Return ``{"owner_id": id}`` when the ABM owner must be written to Pipedrive, else ``{}``.

    An owner with no Pipedrive user is never written; an existing owner is replaced only under Overwrite.
    """
    owner_id = find_owner_id(abm_owner_email, users_by_email)
    if owner_id is None or not field_change(mode, owner_id, pipedrive_owner_id):
        return {}
    return {"owner_id": owner_id}
