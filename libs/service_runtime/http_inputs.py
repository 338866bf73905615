"""Reading a request's JSON body and query string into pydantic models, with the 400s every API answers:
not JSON, a NUL character in a string (PostgreSQL text and jsonb cannot hold one), or whatever the model
refuses, each problem named by its field path (`records.0.fields.name: ...`).

`BIGINT` bounds an integer that lands in a PostgreSQL `bigint` column (ids from Pipedrive, counts): a
larger one is refused by the model, never by the database.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from schemas.nul_characters import nul_locations
from service_runtime.http_errors import bad_request, json_error, validation_problems

M = TypeVar("M", bound=BaseModel)

BIGINT_MAX = 2**63 - 1
BigInt = Annotated[int, Field(ge=-BIGINT_MAX - 1, le=BIGINT_MAX)]
"""An integer that fits PostgreSQL's bigint."""
PositiveId = Annotated[int, Field(gt=0, le=BIGINT_MAX)]
"""A record id: positive, fits PostgreSQL's bigint."""


async def read_json(request: web.Request, model: type[M]) -> M:
    """The request's JSON body validated as `model`; a 400 naming every problem otherwise (an empty body
    is `null`, which the model refuses unless it accepts nothing)."""
    return validated(model, await read_json_document(request))


async def read_json_document(request: web.Request) -> Any:
    """The request's JSON body, not validated yet (an empty body is `null`); a 400 when it is not JSON."""
    try:
        return orjson.loads(await request.read() or b"null")
    except orjson.JSONDecodeError as failure:
        raise json_error(400, "bad_request", "The body is not valid JSON.") from failure


def read_query(request: web.Request, model: type[M]) -> M:
    """The query string validated as `model` (see `query_document`); a 400 otherwise."""
    return validated(model, query_document(request))


def query_document(request: web.Request) -> dict[str, str]:
    """The query string, one value per name; a 400 naming each name given more than once (taking one of
    its values would answer another question than the one asked)."""
    repeated = sorted({name for name in request.query if len(request.query.getall(name)) > 1})
    if repeated:
        raise bad_request(
            [f"{name}: given {len(request.query.getall(name))} times; give it once" for name in repeated]
        )
    return dict(request.query)


def validated(model: type[M], document: Any) -> M:
    """`document` as `model`, refusing NUL characters first; a 400 naming every problem otherwise."""
    nul = [f"{where or 'body'}: must not contain NUL characters" for where in nul_locations(document)]
    if nul:
        raise bad_request(nul)
    try:
        return model.model_validate(document)
    except ValidationError as failure:
        raise bad_request(validation_problems(failure)) from failure
