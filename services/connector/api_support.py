"""What every handler of the connector's API shares: JSON errors (the shared
shape of service_runtime.http_errors, re-exported), and pydantic-validated bodies that become 400s naming
the problem."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from pipedrive_client import (
    BudgetExhausted,
    InvalidApiKey,
    PipedriveClientFactory,
    PipedriveError,
    RateLimitExceeded,
)
from pipedrive_client.errors import CredentialsUnreadable
from service_runtime.http_errors import json_error, validation_problems
from service_runtime.http_inputs import read_json

__all__ = [
    "json_error",
    "pipedrive_failure",
    "read_body",
    "require_connected",
    "validation_problems",
]

M = TypeVar("M", bound=BaseModel)


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body validated as `model`; a 400 naming every problem otherwise (NUL
    characters in strings included)."""
    return await read_json(request, model)


NOT_CONNECTED = (
    "Pipedrive is not connected for this tenant: connect it first (POST /v1/connection/api-token or OAuth)."
)


async def require_connected(factory: PipedriveClientFactory, tenant: str) -> None:
    """A 409 `not_connected` unless the tenant connected Pipedrive. Stored credentials that no longer work
    (unreadable, refused) still count as connected: the run then ends in Error saying why, where the
    activity log and its alerts show it."""
    if not await factory.credentials.exists(tenant):
        raise json_error(409, "not_connected", NOT_CONNECTED)


def pipedrive_failure(failure: PipedriveError) -> web.HTTPException:
    """The answer to a call Pipedrive refused or could not serve: 409 when the credentials no longer work,
    429 when the budget or the rate limit says wait, 502 otherwise."""
    if isinstance(failure, InvalidApiKey | CredentialsUnreadable):
        return json_error(409, "not_connected", f"{failure}: reconnect Pipedrive.")
    if isinstance(failure, BudgetExhausted | RateLimitExceeded):
        return json_error(429, "pipedrive_budget", str(failure))
    return json_error(502, "pipedrive_failed", str(failure))
