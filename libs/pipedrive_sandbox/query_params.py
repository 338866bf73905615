"""Reading query parameters and JSON bodies, failing with a message a client can act on."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from pipedrive_sandbox.errors import InvalidRequest
from pipedrive_sandbox.timestamps import parse_time

MAX_LIMIT = 500


def query_int(request: web.Request, name: str) -> int | None:
    """An integer query parameter, or None when absent."""
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    try:
        return int(raw)
    except ValueError as failure:
        raise InvalidRequest(f"{name} must be an integer") from failure


def query_bool(request: web.Request, name: str) -> bool:
    """A boolean query parameter (`true`/`1`), False when absent."""
    return request.query.get(name, "").lower() in ("true", "1")


def query_time(request: web.Request, name: str) -> int | None:
    """An RFC 3339 timestamp query parameter as epoch seconds, or None when absent."""
    raw = request.query.get(name)
    if not raw:
        return None
    try:
        return parse_time(raw)
    except ValueError as failure:
        raise InvalidRequest(f"{name} must be an RFC 3339 timestamp") from failure


def query_limit(request: web.Request, default: int = 100) -> int:
    """The page size: 1 to 500."""
    limit = query_int(request, "limit")
    if limit is None:
        return default
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidRequest(f"limit must be between 1 and {MAX_LIMIT}")
    return limit


def query_choice(request: web.Request, name: str, choices: tuple[str, ...], default: str) -> str:
    """A query parameter restricted to `choices`."""
    raw = request.query.get(name) or default
    if raw not in choices:
        raise InvalidRequest(f"{name} must be one of {', '.join(choices)}")
    return raw


def path_id(request: web.Request, name: str = "id") -> int:
    """A positive integer path parameter; anything else is refused with Pipedrive's 400 body (an id
    that is a number but names no record is the caller's 404)."""
    raw = request.match_info[name]
    if not raw.isascii() or not raw.isdigit():
        raise InvalidRequest(f"{name} must be an integer")
    return int(raw)


def query_list(request: web.Request, name: str) -> list[str]:
    """A comma-separated query parameter as its non-empty parts (none when absent)."""
    return [part.strip() for part in request.query.get(name, "").split(",") if part.strip()]


async def json_body(request: web.Request) -> dict[str, Any]:
    """The JSON object body of a request (form bodies are accepted too, as Pipedrive v1 does)."""
    if request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return {key: value for key, value in (await request.post()).items()}
    raw = await request.read()
    try:
        body = orjson.loads(raw) if raw else {}
    except orjson.JSONDecodeError as failure:
        raise InvalidRequest("Request body is not valid JSON") from failure
    if not isinstance(body, dict):
        raise InvalidRequest("Request body must be a JSON object")
    return body
