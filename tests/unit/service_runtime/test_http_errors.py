"""The one JSON error shape: `{error, message, problems?, ...extra}`, with the status and headers given."""

from __future__ import annotations

import orjson
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from pydantic import BaseModel, Field, ValidationError

from service_runtime.http_errors import bad_request, json_error, validation_problems


class Inner(BaseModel):
    count: int = Field(ge=1)


class Outer(BaseModel):
    name: str
    items: list[Inner]


def _body(error: web.HTTPException) -> dict[str, object]:
    assert error.text is not None
    body: dict[str, object] = orjson.loads(error.text)
    return body


def _validation_error(raw: object) -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        Outer.model_validate(raw)
    return caught.value


def test_an_error_has_its_code_and_message_and_no_problems_when_there_are_none() -> None:
    error = json_error(404, "not_found", "No such run for this tenant.")

    assert (error.status, error.content_type) == (404, "application/json")
    assert _body(error) == {"error": "not_found", "message": "No such run for this tenant."}


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 502, 503])
def test_each_status_gets_its_exception_class(status: int) -> None:
    assert json_error(status, "some_code", "Something.").status == status


def test_problems_and_extra_fields_and_headers_are_carried() -> None:
    error = json_error(
        400, "bad_filter", "Unknown column.", problems=["filter: bad"], column="x", headers={"X-Try": "1"}
    )

    assert _body(error) == {
        "error": "bad_filter",
        "message": "Unknown column.",
        "problems": ["filter: bad"],
        "column": "x",
    }
    assert error.headers["X-Try"] == "1"


def test_validation_problems_name_the_dotted_location_of_each_problem() -> None:
    problems = validation_problems(_validation_error({"items": [{"count": 1}, {"count": 0}]}))

    assert problems == ["name: Field required", "items.1.count: Input should be greater than or equal to 1"]


def test_a_problem_with_the_whole_input_is_located_at_the_body() -> None:
    assert validation_problems(_validation_error([1, 2])) == [
        "body: Input should be a valid dictionary or instance of Outer"
    ]


def test_a_bad_request_lists_its_problems_and_joins_them_into_the_message() -> None:
    error = bad_request(["limit: too big", "q: too short"])

    assert error.status == 400
    assert _body(error) == {
        "error": "bad_request",
        "message": "limit: too big; q: too short",
        "problems": ["limit: too big", "q: too short"],
    }


async def test_a_raised_error_reaches_the_client_as_json_with_its_headers() -> None:
    async def refuse(_request: web.Request) -> web.Response:
        raise json_error(401, "unauthorized", "Send a key.", headers={"WWW-Authenticate": "Bearer"})

    app = web.Application()
    app.router.add_get("/", refuse)
    async with TestClient(TestServer(app)) as client:
        response = await client.get("/")

        assert response.status == 401
        assert response.headers["WWW-Authenticate"] == "Bearer"
        assert await response.json() == {"error": "unauthorized", "message": "Send a key."}


@pytest.mark.parametrize(
    "status", [400, 401, 403, 404, 405, 409, 410, 413, 415, 422, 429, 500, 502, 503, 504]
)
def test_every_error_status_the_services_answer_with_can_be_raised(status: int) -> None:
    # Found by probing `make up`: an import preview for a tenant whose daily budget was spent was a 500
    # (KeyError: 429) instead of the 429 `pipedrive_budget` the connector meant to answer.
    error = json_error(status, "some_error", "What went wrong.")

    assert (error.status, error.content_type) == (status, "application/json")
    assert _body(error) == {"error": "some_error", "message": "What went wrong."}
