"""What every console handler uses, built once by the bootstrap and kept on the application."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from console.oauth_start_store import OAuthStarts
from console.service_api import ServiceApi, TenantApi
from console.session_store import SessionStore
from console.sessions import ConsoleSession
from console.settings import ConsoleSettings
from console.sign_in_store import FailedSignIns
from tenant_auth.users import ConsoleUsers


@dataclass(frozen=True)
class ConsoleDeps:
    """The console's stores and clients."""

    settings: ConsoleSettings
    users: ConsoleUsers
    sessions: SessionStore
    failed_sign_ins: FailedSignIns
    services: ServiceApi
    oauth_starts: OAuthStarts


DEPS = web.AppKey("console_deps", ConsoleDeps)
SESSION = web.RequestKey("console_session", ConsoleSession)


def deps_of(request: web.Request) -> ConsoleDeps:
    """The console's dependencies."""
    return request.app[DEPS]


def session_of(request: web.Request) -> ConsoleSession:
    """The signed-in user's session (set by the session guard on every page but sign-in)."""
    return request[SESSION]


def api_of(request: web.Request) -> TenantApi:
    """The services, called for the signed-in user's tenant with their email as the actor."""
    session = session_of(request)
    return TenantApi(deps_of(request).services, session.tenant_id, session.email)
