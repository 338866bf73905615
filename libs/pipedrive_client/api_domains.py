"""The allow-list of Pipedrive base URLs: https `*.pipedrive.com`, or a configured sandbox URL.

`api_domain` arrives in OAuth token answers; a tampered answer must not make us send tokens elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipedrive_client.errors import ApiDomainRejected

PIPEDRIVE_SUFFIX = ".pipedrive.com"
DEFAULT_API_DOMAIN = "https://api.pipedrive.com"
_HOST_LABELS = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


@dataclass(frozen=True)
class ApiDomainPolicy:
    """Which base URLs the client may call; `sandbox_base_urls` are exact origins such as
    `http://127.0.0.1:8765` (configured per environment, empty in production)."""

    sandbox_base_urls: tuple[str, ...] = ()

    def accept(self, api_domain: str) -> str:
        """The normalized origin (`https://host`) of an allowed `api_domain`, else `ApiDomainRejected`."""
        origin = _origin(api_domain)
        if origin in {_origin(url) for url in self.sandbox_base_urls}:
            return origin
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme != "https" or parts.port is not None or not _HOST_LABELS.match(host):
            raise ApiDomainRejected()
        if not host.endswith(PIPEDRIVE_SUFFIX) or host == PIPEDRIVE_SUFFIX[1:]:
            raise ApiDomainRejected()
        return origin


def _origin(url: str) -> str:
    """`scheme://netloc` in lower case; anything with user info, a query, a fragment or a path is refused."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  # raises ValueError on a malformed port
    except ValueError as failure:
        raise ApiDomainRejected() from failure
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ApiDomainRejected()
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ApiDomainRejected()
    return f"{parts.scheme}://{parts.netloc}".lower()
