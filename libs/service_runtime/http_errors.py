"""The one error shape of every service's HTTP API (raise what these return):

    {"error": "<code>", "message": "<a sentence for people>", "problems": ["loc.path: msg", ...], ...}

`error` is the stable code clients branch on, `message` is always there, `problems` only when the input
failed validation (one line per problem), and a few errors add their own fields (e.g. a bad filter's
`column`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from aiohttp import web
from pydantic import ValidationError

_KINDS: dict[int, type[web.HTTPException]] = {
    400: web.HTTPBadRequest,
    401: web.HTTPUnauthorized,
    403: web.HTTPForbidden,
    404: web.HTTPNotFound,
    409: web.HTTPConflict,
    502: web.HTTPBadGateway,
    503: web.HTTPServiceUnavailable,
}


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
    body: dict[str, Any] = {"error": error, "message": message}
    if problems:
        body["problems"] = list(problems)
    body.update(extra)
    return _KINDS[status](text=orjson.dumps(body).decode(), content_type="application/json", headers=headers)


def validation_problems(error: ValidationError) -> list[str]:
    """`field.path: what is wrong` for each problem pydantic found (`body` when it is the whole input)."""
    return [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in error.errors()]


def bad_request(problems: Sequence[str]) -> web.HTTPException:
    """The 400 `bad_request` naming every problem, in `problems` and joined into the `message`."""
    return json_error(400, "bad_request", "; ".join(problems), problems=problems)
