"""The services' OpenAPI documents, written to docs/openapi/<service>.json (`make schemas`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from auditlog.openapi import auditlog_openapi
from connector.openapi import openapi_document as connector_openapi
from mapper.openapi import mapper_openapi
from pusher.openapi import pusher_openapi

DOCS = Path(__file__).resolve().parents[2] / "docs" / "openapi"
GENERATORS: dict[str, Callable[[], dict[str, Any]]] = {
    "connector": connector_openapi,
    "mapper": mapper_openapi,
    "pusher": pusher_openapi,
    "auditlog": auditlog_openapi,
}
_DUMP = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def rendered() -> dict[Path, bytes]:
    """Every service's document, by the path it is checked in at."""
    return {
        DOCS / f"{service}.json": orjson.dumps(build(), option=_DUMP) for service, build in GENERATORS.items()
    }


def stale() -> list[Path]:
    """Checked-in documents that differ from what the code generates now."""
    return [path for path, body in rendered().items() if not path.exists() or path.read_bytes() != body]
