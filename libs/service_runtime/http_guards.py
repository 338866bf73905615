"""The middlewares every service's HTTP app installs, so that no input, however bad, gets a 500 or one of
aiohttp's text pages:

- `json_failures` (outermost): an unexpected exception answers a JSON 500 `internal_error` carrying an
  `error_id` that is also in the log line with the traceback; aiohttp's own plain-text errors (the 413 of
  a body over the size limit, a malformed form) answer the JSON error shape with the same status, and a
  body that cannot be read as its headers say (not the gzip its `Content-Encoding` claims) a JSON 400;
- `json_routing_errors` (service_runtime.http_errors): the router's 404 and 405 as JSON;
- `reject_nul_bytes`: a NUL character in the path or the query string is a 400 naming where it is
  (PostgreSQL text cannot hold one, and no API of ours has a use for it).

`api_middlewares(*own)` lists them in that order, followed by the service's own (the tenant
authentication), which is how every service builds its application.
"""

from __future__ import annotations

import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from service_runtime.http_errors import JSON, json_error, json_routing_errors

_log = structlog.get_logger(__name__)

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "unprocessable",
    431: "headers_too_large",
}
_BODY_HEADERS = {"content-type", "content-length", "content-encoding"}


def api_middlewares(*own: Middleware) -> list[Middleware]:
    """The shared middlewares, outermost first, then `own` (for example the tenant authentication)."""
    return [json_failures, json_routing_errors, reject_nul_bytes, *own]


@web.middleware
async def json_failures(request: web.Request, handler: Handler) -> web.StreamResponse:
    """JSON for every failure a handler or aiohttp raises: plain-text HTTP errors keep their status and
    get the JSON shape; any other exception is logged with an error id and answers a JSON 500."""
    try:
        return await handler(request)
    except web.HTTPException as answer:
        if answer.status < 400 or answer.content_type == JSON:
            raise
        return _as_json(answer, request.client_max_size)
    except web.RequestPayloadError:
        return _unreadable_body(request)
    except Exception as failure:
        error_id = uuid.uuid4().hex
        _log.error(
            "request_failed",
            error_id=error_id,
            method=request.method,
            path=request.path,
            error_class=type(failure).__name__,
            exc_info=failure,
        )
        message = f"An unexpected error occurred; quote error id {error_id} to the operators."
        return web.json_response(
            {"error": "internal_error", "message": message, "error_id": error_id}, status=500
        )


def _unreadable_body(request: web.Request) -> web.Response:
    """The 400 of a body aiohttp could not read: not encoded as `Content-Encoding` says, or cut short."""
    encoding = request.headers.get("Content-Encoding")
    if encoding:
        problem = f"body: cannot be decoded as its Content-Encoding ({encoding}) says"
    else:
        problem = "body: cannot be read (malformed or cut short)"
    return web.json_response({"error": "bad_request", "message": problem, "problems": [problem]}, status=400)


def _as_json(answer: web.HTTPException, limit: int) -> web.Response:
    """aiohttp's plain-text error as the JSON shape, same status and headers (`Allow`, ...)."""
    body: dict[str, object]
    if isinstance(answer, web.HTTPRequestEntityTooLarge):
        message = f"The body is larger than this API accepts (at most {limit} bytes)."
        body = {"error": "payload_too_large", "message": message, "limit_bytes": limit}
    else:
        code = _CODES.get(answer.status, "bad_request" if answer.status < 500 else "internal_error")
        body = {"error": code, "message": (answer.text or answer.reason).strip()}
    headers = {k: v for k, v in answer.headers.items() if k.lower() not in _BODY_HEADERS}
    return web.json_response(body, status=answer.status, reason=answer.reason, headers=headers)


@web.middleware
async def reject_nul_bytes(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A 400 naming the path or the query parameter that holds a NUL character."""
    if "\x00" in request.path:
        problem = "path: must not contain NUL characters"
        raise json_error(400, "bad_request", problem, problems=[problem])
    for name, value in request.query.items():
        if "\x00" in name or "\x00" in value:
            shown = name.replace("\x00", "\\u0000")
            problem = f"{shown}: must not contain NUL characters"
            raise json_error(400, "bad_request", problem, problems=[problem])
    return await handler(request)
