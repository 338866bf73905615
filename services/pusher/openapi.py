"""The pusher's API as OpenAPI 3.1 (served at /openapi.json; docs/openapi/pusher.json): manual push."""

from __future__ import annotations

from typing import Any

from pusher.manual_push_api import MappingQuery, PushBatchIn
from service_runtime.openapi import Operation, openapi_document

PATHS = {
    "/v1/push/mapping": {
        "get": Operation(
            "The fields a push of one object writes, their modes, the object's switches", query=MappingQuery
        )
    },
    "/v1/push/preview": {
        "post": Operation(
            "The exact changes a push would make; writes nothing (reads Pipedrive's users when an owner"
            " email is to be matched: 409 not connected, 429 budget, 502 Pipedrive or the ABM store failed)",
            body=PushBatchIn,
            errors=(400, 401, 409, 429, 502),
        )
    },
    "/v1/push": {
        "post": Operation(
            "Push the records (a push run); 502 when the ABM store cannot be read for records named by"
            " abm_id",
            body=PushBatchIn,
            ok=202,
            errors=(400, 401, 502),
        )
    },
}


def pusher_openapi() -> dict[str, Any]:
    """The pusher's OpenAPI document."""
    return openapi_document("psync pusher", PATHS, description="Manual pushes into Pipedrive.")
