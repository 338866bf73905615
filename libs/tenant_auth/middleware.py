"""The aiohttp middleware that authenticates every API call, scopes it to one tenant and says who acted
(`tenant_auth.actors`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.typedefs import Middleware

from schemas.events.audit import Actor
from service_runtime.http_errors import json_error
from service_runtime.http_guards import api_middlewares
from tenant_auth.actors import ACTOR, ACTOR_HEADER, acting_as, named_actor
from tenant_auth.keys import split_api_key
from tenant_auth.registry import TenantRegistry

PUBLIC_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/openapi.json"})
TENANT = web.RequestKey("tenant", str)
"""The request key holding the authenticated tenant id."""

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def tenant_auth_middleware(registry: TenantRegistry) -> Middleware:
    """Require `Authorization: Bearer <api key>` on every path but the operational ones."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in PUBLIC_PATHS:
            return await handler(request)
        header = request.headers.get("Authorization", "")
        scheme, _, presented = header.partition(" ")
        tenant = await registry.tenant_of(presented) if scheme.lower() == "bearer" else None
        if tenant is None:
            raise json_error(
                401,
                "unauthorized",
                "Send a valid API key as `Authorization: Bearer <key>`.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        request[TENANT] = tenant
        actor = Actor(key_id=_key_id(presented), name=named_actor(request.headers.get(ACTOR_HEADER)))
        request[ACTOR] = actor
        with acting_as(actor):
            return await handler(request)

    return authenticate


def _key_id(presented: str) -> str | None:
    try:
        return split_api_key(presented)[0]
    except ValueError:
        return None


def tenant_of(request: web.Request) -> str:
    """The authenticated tenant of a request (set by the middleware)."""
    return request[TENANT]


def authenticated_tenant(request: web.Request) -> str | None:
    """The tenant of a request on a path where a key is optional: None when none was presented."""
    return request.get(TENANT)


def tenant_api_app(registry: TenantRegistry) -> web.Application:
    """An application whose every call but the operational ones needs a tenant's API key, with the
    shared API guards (JSON errors, no 500 on bad input)."""
    return web.Application(middlewares=api_middlewares(tenant_auth_middleware(registry)))
