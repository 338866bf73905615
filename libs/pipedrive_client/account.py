"""Account-level resources: field definitions (v2), users (v1), pipelines and stages (v2)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, TypeVar

from pydantic import BaseModel

from pipedrive_client.endpoints import Endpoint
from pipedrive_client.errors import UnexpectedResponse
from pipedrive_client.http import PipedriveHttp, QueryValue
from pipedrive_client.models import CurrentUser, FieldDefinition, Pipeline, Stage, User
from pipedrive_client.pagination import MAX_PAGE_SIZE, Page, iterate_pages, next_cursor_of
from pipedrive_client.shapes import parse_as

M = TypeVar("M", bound=BaseModel)
FieldEntity = Literal["organization", "person", "deal"]


async def _all_pages(
    http: PipedriveHttp, endpoint: Endpoint, model: type[M], query: Mapping[str, QueryValue | None]
) -> list[M]:
    async def fetch(cursor: str | None) -> Page[M]:
        answer = await http.call(endpoint, query={**query, "limit": MAX_PAGE_SIZE, "cursor": cursor})
        return Page(_items(answer.data, model, endpoint.template), next_cursor_of(answer.additional_data))

    return [item async for page in iterate_pages(fetch) for item in page.items]


def _items(data: Any, model: type[M], what: str) -> list[M]:
    if not isinstance(data, list):
        raise UnexpectedResponse(f"Unexpected response from Pipedrive: {what} is not a list")
    return [parse_as(model, item, what) for item in data]


class FieldsResource:
    """Field definitions of organizations, persons or deals (`/api/v2/{entity}Fields`)."""

    def __init__(self, http: PipedriveHttp) -> None:
        self._http = http

    async def list(self, entity: FieldEntity) -> list[FieldDefinition]:
        """Every field definition of the entity, native and custom."""
        endpoint = Endpoint("v2", "GET", f"/{entity}Fields")
        return await _all_pages(self._http, endpoint, FieldDefinition, {})

    async def create(
        self, entity: FieldEntity, name: str, field_type: str, options: Sequence[str] = ()
    ) -> FieldDefinition:
        """Create a custom field (options are the labels of enum and set fields)."""
        body: dict[str, Any] = {"field_name": name, "field_type": field_type}
        if options:
            body["options"] = [{"label": label} for label in options]
        answer = await self._http.call(Endpoint("v2", "POST", f"/{entity}Fields"), body=body)
        return parse_as(FieldDefinition, answer.data, "a created field")


class UsersResource:
    """Users of the company (v1)."""

    def __init__(self, http: PipedriveHttp) -> None:
        self._http = http

    async def list(self) -> list[User]:
        """Every user of the company."""
        answer = await self._http.call(Endpoint("v1", "GET", "/users"))
        return _items(answer.data or [], User, "users")

    async def me(self) -> CurrentUser:
        """The user the credential belongs to, with the company's id and name."""
        answer = await self._http.call(Endpoint("v1", "GET", "/users/me"))
        return parse_as(CurrentUser, answer.data, "the current user")


class PipelinesResource:
    """Pipelines (v2)."""

    def __init__(self, http: PipedriveHttp) -> None:
        self._http = http

    async def list(self) -> list[Pipeline]:
        """Every pipeline."""
        return await _all_pages(self._http, Endpoint("v2", "GET", "/pipelines"), Pipeline, {})

    async def get(self, pipeline_id: int) -> Pipeline:
        """One pipeline by id."""
        answer = await self._http.call(Endpoint("v2", "GET", "/pipelines/{id}"), {"id": pipeline_id})
        return parse_as(Pipeline, answer.data, "a pipeline")


class StagesResource:
    """Stages of the pipelines (v2)."""

    def __init__(self, http: PipedriveHttp) -> None:
        self._http = http

    async def list(self, pipeline_id: int | None = None) -> list[Stage]:
        """Every stage, or the stages of one pipeline."""
        endpoint = Endpoint("v2", "GET", "/stages")
        return await _all_pages(self._http, endpoint, Stage, {"pipeline_id": pipeline_id})

    async def get(self, stage_id: int) -> Stage:
        """One stage by id."""
        answer = await self._http.call(Endpoint("v2", "GET", "/stages/{id}"), {"id": stage_id})
        return parse_as(Stage, answer.data, "a stage")
