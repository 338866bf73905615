"""The mapper's API as OpenAPI 3.1 (served at /openapi.json; docs/openapi/mapper.json): the ABM store."""

from __future__ import annotations

from typing import Any

from mapper.audiences_api import CollectionPath, ListQuery
from mapper.import_plans_api import ImportPlanAnswer, ImportPlanRequest
from service_runtime.openapi import Operation, openapi_document

PATHS = {
    "/v1/import-plans": {
        "post": Operation(
            "A dry run of an import (nothing written): newline-delimited JSON, a first line naming the"
            " duplicate handlings, then one source change per line as the import would emit it; the answer"
            " counts what each handling would create, update, find unchanged, skip or fail, with reasons",
            body=ImportPlanRequest,
            response=ImportPlanAnswer,
        )
    },
    "/v1/{collection}": {
        "get": Operation(
            "The tenant's accounts, contacts or opportunities (`collection`), keyset-paginated, each with its"
            " Pipedrive link",
            query=ListQuery,
            path=CollectionPath,
            errors=(400, 401, 404),
        )
    },
    "/v1/{collection}/{abm_id}": {
        "get": Operation(
            "One account, contact or opportunity by its ABM id", path=CollectionPath, errors=(400, 401, 404)
        )
    },
}


def mapper_openapi() -> dict[str, Any]:
    """The mapper's OpenAPI document."""
    return openapi_document("psync mapper", PATHS, description="The ABM store the mapper keeps.")
