"""What every handler of the connector's API shares: the dependencies on the app, JSON errors (the shared
shape of service_runtime.http_errors, re-exported), and pydantic-validated bodies that become 400s naming
the problem."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TypeVar

import asyncpg
from aiohttp import web
from pydantic import BaseModel

from connector.catalog import Catalogs
from connector.cursor_store import CursorStore
from connector.import_preview import Planner
from connector.run_store import RunStore
from connector.settings import ConnectorSettings
from connector.tenant_settings import SettingsStore
from pipedrive_client import (
    BudgetExhausted,
    Clock,
    InvalidApiKey,
    OAuthApp,
    OAuthStateStore,
    PipedriveClientFactory,
    PipedriveError,
    RateLimitExceeded,
)
from pipedrive_client.errors import CredentialsUnreadable
from service_runtime.http_errors import json_error, validation_problems
from service_runtime.http_inputs import read_json
from stream_runner.producer import EventProducer

__all__ = [
    "DEPS",
    "ConnectorDeps",
    "deps_of",
    "json_error",
    "pipedrive_failure",
    "read_body",
    "require_connected",
    "validation_problems",
]

M = TypeVar("M", bound=BaseModel)


@dataclass
class ConnectorDeps:
    """Everything the API handlers and workers use, built once by the bootstrap."""

    settings: ConnectorSettings
    pool: asyncpg.Pool
    schema: str
    producer: EventProducer
    factory: PipedriveClientFactory
    oauth_app: OAuthApp | None
    oauth_states: OAuthStateStore
    tenant_settings: SettingsStore
    runs: RunStore
    cursors: CursorStore
    catalogs: Catalogs
    import_plans: Planner
    clock: Clock
    work_available: asyncio.Event
    hints_available: asyncio.Event


DEPS = web.AppKey("connector_deps", ConnectorDeps)


def deps_of(request: web.Request) -> ConnectorDeps:
    """The service's dependencies."""
    return request.app[DEPS]


async def read_body(request: web.Request, model: type[M]) -> M:
    """The request's JSON body validated as `model`; a 400 naming every problem otherwise (NUL
    characters in strings included)."""
    return await read_json(request, model)


NOT_CONNECTED = (
    "Pipedrive is not connected for this tenant: connect it first (POST /v1/connection/api-token or OAuth)."
)


async def require_connected(deps: ConnectorDeps, tenant: str) -> None:
    """A 409 `not_connected` unless the tenant connected Pipedrive. Stored credentials that no longer work
    (unreadable, refused) still count as connected: the run then ends in Error saying why, where the
    activity log and its alerts show it."""
    if not await deps.factory.credentials.exists(tenant):
        raise json_error(409, "not_connected", NOT_CONNECTED)


def pipedrive_failure(failure: PipedriveError) -> web.HTTPException:
    """The answer to a call Pipedrive refused or could not serve: 409 when the credentials no longer work,
    429 when the budget or the rate limit says wait, 502 otherwise."""
    if isinstance(failure, InvalidApiKey | CredentialsUnreadable):
        return json_error(409, "not_connected", f"{failure}: reconnect Pipedrive.")
    if isinstance(failure, BudgetExhausted | RateLimitExceeded):
        return json_error(429, "pipedrive_budget", str(failure))
    return json_error(502, "pipedrive_failed", str(failure))
