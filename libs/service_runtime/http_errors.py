"""The one error shape of every service's HTTP API (raise what these return):

    {"error": "<code>", "message": "<a sentence for people>", "problems": ["loc.path: msg", ...], ...}

`error` is the stable code clients branch on, `message` is always there, `problems` only when the input
failed validation (one line per problem), and a few errors add their own fields (e.g. a bad filter's
`column`). `json_routing_errors` gives the router's own 404 and 405 (no route for the path, or not for the
method) the same shape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Handler
from pydantic import ValidationError


def _error_kinds(base: type[web.HTTPException]) -> dict[int, type[web.HTTPException]]:
    """aiohttp's exception class of every error status it knows (every 4xx and 5xx of HTTP); the few
    whose constructor wants more (405's allowed methods, 413's limit) get a plain class of their status."""
    found: dict[int, type[web.HTTPException]] = {}
    for kind in base.__subclasses__():
        found.update(_error_kinds(kind))
        status = getattr(kind, "status_code", -1)
        if status >= 400:
            plain = kind.__init__ is web.HTTPException.__init__
            found[status] = kind if plain else _plain_kind(status)
    return found


def _plain_kind(status: int) -> type[web.HTTPException]:
    return type(f"HTTPError{status}", (web.HTTPError,), {"status_code": status})


_KINDS = _error_kinds(web.HTTPError)
"""Every status a service answers with, whatever it is (a 429 when Pipedrive's budget says wait, a
service's own answer passed on); a status HTTP does not define gets a plain class of its own."""


def _kind_of(status: int) -> type[web.HTTPException]:
    return _KINDS.get(status) or _plain_kind(status)


JSON = "application/json"


def json_error(
    status: int,
    error: str,
    message: str,
    *,
    problems: Sequence[str] = (),
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> web.HTTPException:
    """An HTTP error with the JSON body `{error, message, problems?, **extra}`; `problems` only if any."""
    return _kind_of(status)(text=_body(error, message, problems, extra), content_type=JSON, headers=headers)


def _body(error: str, message: str, problems: Sequence[str], extra: Mapping[str, Any]) -> str:
    body: dict[str, Any] = {"error": error, "message": message}
    if problems:
        body["problems"] = list(problems)
    body.update(extra)
    return orjson.dumps(body).decode()


def validation_problems(error: ValidationError) -> list[str]:
    """`field.path: what is wrong` for each problem pydantic found (`body` when it is the whole input)."""
    return [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()]


def bad_request(problems: Sequence[str]) -> web.HTTPException:
    """The 400 `bad_request` naming every problem, in `problems` and joined into the `message`."""
    return json_error(400, "bad_request", "; ".join(problems), problems=problems)


@web.middleware
async def json_routing_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The router's own plain-text 404 (no route serves the path) and 405 (the route does not allow the
    method, `Allow` kept) as JSON `not_found` and `method_not_allowed`; every other answer, JSON errors the
    handlers raise included, passes through as it is.

    The router raises its 404 and 405 from the innermost handler, after every middleware has run, so the
    tenant authentication answers first: a call without a valid key gets its 401 for an unknown path or
    method too, and only authenticated callers learn which paths and methods exist (the public paths,
    /healthz and the like, answer their 405 to anyone). That holds in either order; the services list this
    middleware first, outermost, so it sees every answer the others let through.
    """
    try:
        return await handler(request)
    except web.HTTPMethodNotAllowed as refused:
        if refused.content_type == JSON:
            raise
        allowed = ", ".join(sorted(refused.allowed_methods))
        message = f"{request.method} is not allowed on {request.path} (allowed: {allowed})."
        text = _body("method_not_allowed", message, (), {})
        raise web.HTTPMethodNotAllowed(
            request.method, refused.allowed_methods, text=text, content_type=JSON
        ) from refused
    except web.HTTPNotFound as missing:
        if missing.content_type == JSON:
            raise
        raise json_error(404, "not_found", f"No route serves {request.method} {request.path}.") from missing
