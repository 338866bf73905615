"""What the activity log's standard messages mean and what to do about each, in words an admin acts on."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class ErrorHelp:
    """One standard message: what it means and what to do."""

    message: str
    meaning: str
    remedy: str


COMMON_ERRORS = (
    ErrorHelp(
        "Invalid API key",
        "Pipedrive refused the connection's credentials: the API token was revoked or changed, or the"
        " app was uninstalled.",
        "Reconnect Pipedrive on the Pipedrive page (with a new API token or with OAuth), then retry the"
        " failed records.",
    ),
    ErrorHelp(
        "Rate limit exceeded",
        "Pipedrive's request limit for your company was reached, so Pipedrive asked us to wait.",
        "Nothing to do now: the run waits and goes on by itself once the limit resets. If it happens every"
        " day, sync less often or ask your Pipedrive admin about a larger plan.",
    ),
    ErrorHelp(
        "Duplicate found",
        "More than one record matches the same website domain or email, so the record was not written to"
        " avoid updating the wrong one.",
        "Merge the duplicates in Pipedrive (or in the ABM platform), then retry the failed records.",
    ),
    ErrorHelp(
        "Required field missing",
        "Pipedrive needs a field that the record does not have: a name for organizations, a name and email"
        " for persons, a title and an organization or person for deals.",
        "Fill in the missing field (the message names it) at the source, then retry the failed records.",
    ),
)


def help_for(messages: Iterable[str | None]) -> list[ErrorHelp]:
    """The standard messages that appear in any of `messages`, each once, in the order above."""
    texts = [m for m in messages if m]
    return [h for h in COMMON_ERRORS if any(h.message.lower() in t.lower() for t in texts)]
