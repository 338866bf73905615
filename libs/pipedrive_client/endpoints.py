"""Pipedrive operations as the client calls them: API, method and templated path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

ApiVersion = Literal["v2", "v1"]
_PREFIX: dict[ApiVersion, str] = {"v2": "/api/v2", "v1": "/v1"}
# Creating and merging are not idempotent: a retry after an ambiguous failure could act twice.
_NOT_RETRY_SAFE = ("POST", "PUT")


@dataclass(frozen=True)
class Endpoint:
    """One operation, e.g. `Endpoint("v2", "GET", "/organizations/{id}")`."""

    api: ApiVersion
    method: str
    template: str

    @property
    def is_search(self) -> bool:
        """Search operations have their own burst limit."""
        return self.template.endswith("/search")

    @property
    def retry_safe(self) -> bool:
        """Whether a request may be repeated after a 5xx or a network failure."""
        return self.method not in _NOT_RETRY_SAFE

    @property
    def name(self) -> str:
        """`GET v2 /organizations/{id}`: how logs name the operation (no ids, no query)."""
        return f"{self.method} {self.api} {self.template}"

    def url_path(self, path_params: Mapping[str, int | str] | None = None) -> str:
        """The served path with the API prefix and the (URL-quoted) path parameters filled in."""
        values = {key: quote(str(value), safe="") for key, value in (path_params or {}).items()}
        return _PREFIX[self.api] + self.template.format(**values)
