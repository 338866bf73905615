"""Field definitions (v1 and v2), users (v1), pipelines and stages (v2)."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from aiohttp import web

from pipedrive_sandbox.account import FieldDefinition, Pipeline, Stage
from pipedrive_sandbox.app_keys import credential_of, state_of
from pipedrive_sandbox.errors import InvalidRequest, NotFound
from pipedrive_sandbox.query_params import json_body, path_id, query_int, query_limit
from pipedrive_sandbox.responses import success
from pipedrive_sandbox.state import SandboxState
from pipedrive_sandbox.store import Entity

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
CREATABLE_FIELD_TYPES = (
    "varchar",
    "text",
    "double",
    "date",
    "enum",
    "set",
    "monetary",
    "phone",
    "varchar_auto",
)


def offset_page(request: web.Request, items: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """A page of a small collection with an opaque offset cursor."""
    cursor = request.query.get("cursor")
    try:
        padded = (cursor or "") + "=" * (-len(cursor or "") % 4)
        offset = int(orjson.loads(base64.urlsafe_b64decode(padded))["offset"]) if cursor else 0
    except (ValueError, KeyError, TypeError) as failure:
        raise InvalidRequest("Invalid cursor") from failure
    limit = query_limit(request)
    page = items[offset : offset + limit]
    if offset + limit >= len(items):
        return page, None
    return page, base64.urlsafe_b64encode(orjson.dumps({"offset": offset + limit})).decode().rstrip("=")


def add_field(
    state: SandboxState, entity: Entity, name: object, kind: object, options: object
) -> FieldDefinition:
    """Create a custom field with a fresh 40-hex field code."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("field_name is required")
    if kind not in CREATABLE_FIELD_TYPES:
        raise InvalidRequest(f"field_type must be one of {', '.join(CREATABLE_FIELD_TYPES)}")
    account = state.account
    labels = [o.get("label") for o in options] if isinstance(options, list) else []
    if kind in ("enum", "set") and (not labels or not all(isinstance(label, str) for label in labels)):
        raise InvalidRequest("options with a label are required for enum and set fields")
    account.next_field_id += 1
    option_list = [{"id": account.next_field_id * 100 + i, "label": label} for i, label in enumerate(labels)]
    definition = FieldDefinition(
        id=account.next_field_id,
        entity=entity,
        field_code=f"{state.change_rng.getrandbits(160):040x}",
        field_name=name.strip(),
        field_type=str(kind),
        is_custom_field=True,
        add_ts=int(state.clock.now()),
        options=option_list or None,
        order_nr=len(account.fields[entity]) + 1,
    )
    account.fields[entity].append(definition)
    return definition


def fields_handlers(entity: Entity, one: str, many: str) -> dict[str, Handler]:
    """List and create handlers for one entity's fields, in v2 and v1 forms."""

    async def list_v2(request: web.Request) -> web.StreamResponse:
        items = [f.as_v2() for f in state_of(request).account.fields[entity]]
        page, next_cursor = offset_page(request, items)
        return success(page, {"next_cursor": next_cursor})

    async def add_v2(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        created = add_field(
            state_of(request), entity, body.get("field_name"), body.get("field_type"), body.get("options")
        )
        return success(created.as_v2())

    async def list_v1(request: web.Request) -> web.StreamResponse:
        items = [f.as_v1() for f in state_of(request).account.fields[entity]]
        start = query_int(request, "start") or 0
        limit = query_int(request, "limit") or 100
        page = items[start : start + limit]
        more = start + limit < len(items)
        return success(page, {"start": start, "limit": limit, "more_items_in_collection": more})

    async def add_v1(request: web.Request) -> web.StreamResponse:
        body = await json_body(request)
        created = add_field(
            state_of(request), entity, body.get("name"), body.get("field_type"), body.get("options")
        )
        return success(created.as_v1())

    return {
        f"v2.get{one}Fields": list_v2,
        f"v2.add{one}Field": add_v2,
        f"v1.get{one}Fields": list_v1,
        f"v1.add{one}Field": add_v1,
    }


async def list_users(request: web.Request) -> web.StreamResponse:
    """GET /v1/users."""
    state = state_of(request)
    me = credential_of(request).user_id
    return success([u.as_v1(state.config.company_id, me) for u in state.account.users.values()])


async def get_user(request: web.Request) -> web.StreamResponse:
    """GET /v1/users/{id}."""
    state = state_of(request)
    user = state.account.users.get(path_id(request))
    if user is None:
        raise NotFound("User not found")
    return success(user.as_v1(state.config.company_id, credential_of(request).user_id))


async def current_user(request: web.Request) -> web.StreamResponse:
    """GET /v1/users/me: the caller with the company's facts."""
    state = state_of(request)
    user = state.account.users[credential_of(request).user_id]
    config = state.config
    data = {
        **user.as_v1(config.company_id, user.id),
        "company_id": config.company_id,
        "company_name": config.company_name,
        "company_domain": config.company_domain,
        "company_country": "EE",
        "company_industry": "IT Services",
        "language": {"language_code": "en", "country_code": "US"},
    }
    return success(data)


async def list_pipelines(request: web.Request) -> web.StreamResponse:
    """GET /api/v2/pipelines."""
    items = [p.as_v2() for p in state_of(request).account.pipelines.values()]
    page, next_cursor = offset_page(request, items)
    return success(page, {"next_cursor": next_cursor})


async def get_pipeline(request: web.Request) -> web.StreamResponse:
    """GET /api/v2/pipelines/{id}."""
    pipeline = state_of(request).account.pipelines.get(path_id(request))
    if pipeline is None:
        raise NotFound("Pipeline not found")
    return success(pipeline.as_v2())


async def add_pipeline(request: web.Request) -> web.StreamResponse:
    """POST /api/v2/pipelines: a new pipeline, last in order."""
    body = await json_body(request)
    name = body.get("name")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name is required")
    state = state_of(request)
    pipelines = state.account.pipelines
    pipeline_id = max(pipelines, default=0) + 1
    pipelines[pipeline_id] = Pipeline(pipeline_id, name.strip(), len(pipelines) + 1, int(state.clock.now()))
    return success(pipelines[pipeline_id].as_v2())


async def add_stage(request: web.Request) -> web.StreamResponse:
    """POST /api/v2/stages: a new stage, last in its pipeline (Pipedrive allows repeated names)."""
    body = await json_body(request)
    name, pipeline_id = body.get("name"), body.get("pipeline_id")
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequest("name is required")
    state = state_of(request)
    if not isinstance(pipeline_id, int) or pipeline_id not in state.account.pipelines:
        raise InvalidRequest("pipeline_id must be the id of a pipeline")
    stages = state.account.stages
    probability = body.get("deal_probability", 100)
    if not isinstance(probability, int) or not 0 <= probability <= 100:
        raise InvalidRequest("deal_probability must be a whole percentage")
    stage_id = max(stages, default=0) + 1
    order = 1 + sum(1 for s in stages.values() if s.pipeline_id == pipeline_id)
    stages[stage_id] = Stage(stage_id, pipeline_id, name.strip(), order, probability, int(state.clock.now()))
    return success(stages[stage_id].as_v2())


async def list_stages(request: web.Request) -> web.StreamResponse:
    """GET /api/v2/stages, optionally of one pipeline."""
    pipeline_id = query_int(request, "pipeline_id")
    stages = state_of(request).account.stages.values()
    items = [s.as_v2() for s in stages if pipeline_id is None or s.pipeline_id == pipeline_id]
    page, next_cursor = offset_page(request, items)
    return success(page, {"next_cursor": next_cursor})


async def get_stage(request: web.Request) -> web.StreamResponse:
    """GET /api/v2/stages/{id}."""
    stage = state_of(request).account.stages.get(path_id(request))
    if stage is None:
        raise NotFound("Stage not found")
    return success(stage.as_v2())


def account_handlers() -> dict[str, Handler]:
    """Handlers by operation key for fields, users, pipelines and stages."""
    handlers: dict[str, Handler] = {
        "v1.getUsers": list_users,
        "v1.getCurrentUser": current_user,
        "v1.getUser": get_user,
        "v2.getPipelines": list_pipelines,
        "v2.getPipeline": get_pipeline,
        "v2.addPipeline": add_pipeline,
        "v2.getStages": list_stages,
        "v2.addStage": add_stage,
        "v2.getStage": get_stage,
    }
    for entity, one, many in (
        (Entity.ORGANIZATION, "Organization", "Organizations"),
        (Entity.PERSON, "Person", "Persons"),
        (Entity.DEAL, "Deal", "Deals"),
    ):
        handlers.update(fields_handlers(entity, one, many))
    return handlers
