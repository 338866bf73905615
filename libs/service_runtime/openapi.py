"""OpenAPI 3.1 descriptions built from a service's request and response models, served at /openapi.json,
and the two checks that keep them honest: the routes it describes are the routes the app serves, and the
checked-in copy under docs/openapi/ is what the code generates (tests/unit/test_openapi.py).

A service describes its API as a table `{path: {method: Operation}}` next to its routes; the operational
paths every service serves (/healthz, /readyz, /metrics, /openapi.json) are added here. Adding a route
means adding its line to the table: the agreement test names what is missing or left over."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

OPENAPI_PATH = "/openapi.json"
_PATH_PARAMETER = re.compile(r"{(\w+)}")
ERROR_REF = "#/components/schemas/Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error the API answers (service_runtime.http_errors).",
    "required": ["error", "message"],
    "properties": {
        "error": {
            "type": "string",
            "description": "A stable code to branch on (bad_request, not_found, ...)",
        },
        "message": {"type": "string", "description": "A sentence for people"},
        "problems": {
            "type": "array",
            "items": {"type": "string"},
            "description": "field.path: what is wrong",
        },
    },
}


@dataclass(frozen=True)
class Operation:
    """One method on one path: what it does, its body, query and answer models, the model of its path
    parameters (when they take less than any string), its success status and the error statuses it can
    answer."""

    summary: str
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    path: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    ok: int = 200
    errors: tuple[int, ...] = (400, 401)
    public: bool = False


OPERATIONAL: dict[str, dict[str, Operation]] = {
    "/healthz": {"get": Operation("Liveness: the process serves HTTP", errors=(), public=True)},
    "/readyz": {
        "get": Operation(
            "Readiness: Kafka and PostgreSQL answer (503 names what fails)", errors=(503,), public=True
        )
    },
    "/metrics": {"get": Operation("Prometheus metrics (text format)", errors=(), public=True)},
    OPENAPI_PATH: {"get": Operation("This description", errors=(), public=True)},
}


def _models(paths: Mapping[str, Mapping[str, Operation]]) -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for operations in paths.values():
        for op in operations.values():
            for model in (op.body, op.query, op.path, op.response):
                if model is not None:
                    found[model.__name__] = model
    return [found[name] for name in sorted(found)]


def _query_parameters(model: type[BaseModel], schema: dict[str, Any]) -> list[dict[str, Any]]:
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": properties.get(name, {})}
        for name in model.model_fields
    ]


def _operation(path: str, op: Operation, schemas: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    described_path = schemas[op.path.__name__].get("properties", {}) if op.path is not None else {}
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": described_path.get(name, {"type": "string"})}
        for name in _PATH_PARAMETER.findall(path)
    ]
    if op.query is not None:
        parameters += _query_parameters(op.query, schemas[op.query.__name__])
    ok: dict[str, Any] = {"description": "OK"}
    if op.response is not None:
        ok["content"] = {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{op.response.__name__}"}}
        }
    error = {"description": "Error", "content": {"application/json": {"schema": {"$ref": ERROR_REF}}}}
    described: dict[str, Any] = {
        "summary": op.summary,
        "responses": {str(op.ok): ok, **{str(status): error for status in op.errors}},
    }
    if parameters:
        described["parameters"] = parameters
    if op.body is not None:
        described["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{op.body.__name__}"}}},
        }
    if op.public:
        described["security"] = []
    return described


def openapi_document(
    title: str, paths: Mapping[str, Mapping[str, Operation]], *, description: str = ""
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of a service: its paths and the operational ones, the schemas of every
    model they name, tenant API keys as the default security."""
    every = {**paths, **OPERATIONAL}
    models = _models(every)
    _, definitions = models_json_schema(
        [(m, "validation") for m in models], ref_template="#/components/schemas/{model}"
    )
    schemas: dict[str, dict[str, Any]] = {"Error": ERROR_SCHEMA, **definitions.get("$defs", {})}
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": "1.0.0", "description": description},
        "security": [{"tenantKey": []}],
        "paths": {
            path: {method: _operation(path, op, schemas) for method, op in sorted(operations.items())}
            for path, operations in sorted(every.items())
        },
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "tenantKey": {"type": "http", "scheme": "bearer", "description": "A tenant API key (psk_...)"}
            },
        },
    }


def add_openapi_route(app: web.Application, document: Mapping[str, Any]) -> None:
    """Serve the document at GET /openapi.json (no key needed)."""
    body = dict(document)

    async def serve(_request: web.Request) -> web.Response:
        return web.json_response(body)

    app.router.add_get(OPENAPI_PATH, serve)


def served_routes(app: web.Application) -> set[tuple[str, str]]:
    """(method, path template) of every route the app serves (HEAD, which aiohttp adds to GET, left out)."""
    return {
        (route.method.lower(), route.resource.canonical)
        for route in app.router.routes()
        if route.resource is not None and route.method != "HEAD"
    }


def described_routes(document: Mapping[str, Any]) -> set[tuple[str, str]]:
    """(method, path) of every operation the document describes."""
    return {(method, path) for path, operations in document["paths"].items() for method in operations}
