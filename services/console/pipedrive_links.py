"""Links to records in the Pipedrive web app, from the connection's company address."""

from __future__ import annotations

from typing import Any

_PATHS = {"organization": "organization", "person": "person", "deal": "deal"}


def record_url(api_domain: str | None, pipedrive_object: str | None, pipedrive_id: Any) -> str | None:
    """`https://<company>.pipedrive.com/<object>/<id>`, or None when something is unknown."""
    path = _PATHS.get(pipedrive_object or "")
    if not api_domain or path is None or pipedrive_id in (None, ""):
        return None
    return f"{api_domain.rstrip('/')}/{path}/{pipedrive_id}"
