"""The allow-list of Pipedrive base URLs: https `*.pipedrive.com`, or a configured local/test URL
(`PIPEDRIVE_ALLOWED_TEST_URLS`, see `pipedrive_client.settings`).

`api_domain` arrives in OAuth token answers; a tampered answer must not make us send tokens elsewhere.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipedrive_client.errors import ApiDomainRejected

ALLOWED_TEST_URLS_ENV = "PIPEDRIVE_ALLOWED_TEST_URLS"
"""The one name of the allow-list of local and test base URLs (connector and pusher alike)."""

PIPEDRIVE_SUFFIX = ".pipedrive.com"
DEFAULT_API_DOMAIN = "https://api.pipedrive.com"
_HOST_LABELS = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$")


@dataclass(frozen=True)
class ApiDomainPolicy:
    """Which base URLs the client may call; `allowed_test_urls` are exact origins such as
    `http://127.0.0.1:8765` (local and test use; empty in production)."""

    allowed_test_urls: tuple[str, ...] = ()

    def accept(self, api_domain: str) -> str:
        """The normalized origin (`https://host`) of an allowed `api_domain`, else `ApiDomainRejected`
        whose message says what is allowed."""
        try:
            origin = origin_of(api_domain)
        except ValueError as failure:
            raise ApiDomainRejected(self.what_is_allowed()) from failure
        if origin in {origin_of(url) for url in self.allowed_test_urls}:
            return origin
        parts = urlsplit(origin)
        host = parts.hostname or ""
        if parts.scheme != "https" or parts.port is not None or not _HOST_LABELS.match(host):
            raise ApiDomainRejected(self.what_is_allowed())
        if not host.endswith(PIPEDRIVE_SUFFIX) or host == PIPEDRIVE_SUFFIX[1:]:
            raise ApiDomainRejected(self.what_is_allowed())
        return origin

    def what_is_allowed(self) -> str:
        """The refusal's message: what the allow-list accepts, naming its setting."""
        tests = ", ".join(self.allowed_test_urls) or "none configured"
        return (
            "Pipedrive API domain is not allowed: use an https://<company>.pipedrive.com origin (no path,"
            f" port or query), or a local/test URL listed in {ALLOWED_TEST_URLS_ENV} ({tests})"
        )


def origin_of(url: str) -> str:
    """`scheme://netloc` in lower case; ValueError for anything with user info, a query, a fragment or a
    path."""
    parts = urlsplit(url.strip())
    parts.port  # noqa: B018  # raises ValueError on a malformed port
    if parts.username or parts.password or parts.query or parts.fragment or parts.path not in ("", "/"):
        raise ValueError("not an origin")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("not an http(s) origin")
    return f"{parts.scheme}://{parts.netloc}".lower()


def web_app_url(api_domain: str, company_domain: str | None) -> str:
    """The company's Pipedrive web app, where its records have their pages (`<url>/organization/<id>`):
    its own `https://<company>.pipedrive.com` API domain, the company domain `/v1/users/me` names when
    the API domain is the shared `api.pipedrive.com`, or a local/test URL itself (the sandbox)."""
    origin = origin_of(api_domain)
    if origin == DEFAULT_API_DOMAIN and company_domain:
        return f"https://{company_domain.lower()}{PIPEDRIVE_SUFFIX}"
    return origin
