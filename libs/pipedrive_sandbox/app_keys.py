"""Typed keys for what the aiohttp application and requests carry."""

from __future__ import annotations

import asyncio

from aiohttp import web

from pipedrive_sandbox.auth import Credential
from pipedrive_sandbox.state import SandboxState

STATE = web.AppKey("sandbox_state", SandboxState)
DISPATCHER_TASK = web.AppKey("webhook_dispatcher_task", asyncio.Task)
CREDENTIAL = web.RequestKey("sandbox_credential", Credential)


def state_of(request: web.Request) -> SandboxState:
    """The sandbox state behind a request."""
    return request.app[STATE]


def credential_of(request: web.Request) -> Credential:
    """The credential the gateway authenticated for this request."""
    return request[CREDENTIAL]
