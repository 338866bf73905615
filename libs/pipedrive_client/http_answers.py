"""How a service's HTTP API answers a call Pipedrive refused or could not serve (the connector's and the
pusher's APIs answer alike)."""

from __future__ import annotations

from aiohttp import web

from pipedrive_client.errors import (
    BudgetExhausted,
    CredentialsUnreadable,
    InvalidApiKey,
    PipedriveError,
    RateLimitExceeded,
)
from service_runtime.http_errors import json_error


def pipedrive_failure(failure: PipedriveError) -> web.HTTPException:
    """The answer to a call Pipedrive refused or could not serve: 409 when the credentials no longer work,
    429 when the budget or the rate limit says wait, 502 otherwise."""
    if isinstance(failure, InvalidApiKey | CredentialsUnreadable):
        return json_error(409, "not_connected", f"{failure}: reconnect Pipedrive.")
    if isinstance(failure, BudgetExhausted | RateLimitExceeded):
        return json_error(429, "pipedrive_budget", str(failure))
    return json_error(502, "pipedrive_failed", str(failure))
