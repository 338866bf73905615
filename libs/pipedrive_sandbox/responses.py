"""JSON responses in Pipedrive's envelopes, serialized with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
UNAUTHORIZED_BODY = {
    "success": False,
    "error": "unauthorized access",
    "errorCode": 401,
    "error_info": ERROR_INFO,
}
BURST_LIMIT_BODY = {
    "success": False,
    "error": "Request over limit",
    "errorCode": 429,
    "error_info": ERROR_INFO,
}
DAILY_LIMIT_BODY = {"success": False, "error": "daily request budget exceeded", "errorCode": 429}
BLOCKED_BODY = {
    "success": False,
    "error": "Forbidden: too many requests were made after rate limiting (429) answers",
    "errorCode": 403,
}


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response; orjson keeps big list pages cheap."""
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def success(data: Any, additional_data: dict[str, Any] | None = None, status: int = 200) -> web.Response:
    """`{"success": true, "data": ...}` with optional `additional_data`."""
    body: dict[str, Any] = {"success": True, "data": data}
    if additional_data is not None:
        body["additional_data"] = additional_data
    return json_response(body, status=status)


def error(status: int, message: str) -> web.Response:
    """A Pipedrive error body for 4xx/5xx answers of API operations."""
    body = {
        "success": False,
        "error": message,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }
    return json_response(body, status=status)
