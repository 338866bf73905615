"""What every handler of the connector's API shares: JSON errors (the shared
shape of service_runtime.http_errors, re-exported; Pipedrive's failures as pipedrive_client.http_answers
answers them), and pydantic-validated bodies that become 400s naming
the problem."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel

from pipedrive_client import PipedriveClientFactory
from pipedrive_client.http_answers import pipedrive_failure
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
