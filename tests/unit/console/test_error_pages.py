"""The console's error pages for input nobody should send it (found by probing `make up` from outside): a
value a service refuses as bad input (a tampered cursor in the address bar) is the 400 page with the
service's words, not a 502; a form over the size limit is the 413 page, not aiohttp's plain-text error; a
form that does not decode as its `Content-Encoding` says is the 400 page, not a 500."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp_jinja2
import jinja2
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from aiohttp.typedefs import Handler

from console.bootstrap import HERE
from console.guards import error_pages, refuse_nul_input, security_headers
from console.service_api import ServiceAnswer, ServiceFailed
from console.template_filters import FILTERS

Client = TestClient[web.Request, web.Application]
REFUSED = {
    "error": "bad_request",
    "message": "cursor: not a cursor of this list",
    "problems": ["cursor: not a cursor of this list", "limit: Input should be less than or equal to 100"],
}


def _answering(status: int, body: object) -> Handler:
    async def handler(_request: web.Request) -> web.Response:
        raise ServiceFailed("auditlog", ServiceAnswer(status, body))

    return handler


async def _form(request: web.Request) -> web.Response:
    return web.Response(text=str(dict(await request.post())))


@pytest.fixture
async def client() -> AsyncIterator[Client]:
    """The console's outer middlewares and templates (no session: the pages of a signed-out visitor)."""
    app = web.Application(middlewares=[error_pages, security_headers, refuse_nul_input], client_max_size=1024)
    aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True)
    aiohttp_jinja2.get_env(app).filters.update(FILTERS)
    app.router.add_get("/refused", _answering(400, REFUSED))
    app.router.add_get("/gone", _answering(404, {"error": "not_found", "message": "No such run."}))
    app.router.add_get("/wait", _answering(429, {"error": "pipedrive_budget", "message": "Budget spent"}))
    app.router.add_get("/broken", _answering(500, {"error": "internal_error", "message": "boom"}))
    app.router.add_post("/form", _form)
    async with TestClient(TestServer(app)) as c:
        yield c


async def test_input_a_service_refuses_is_the_400_page_with_its_words(client: Client) -> None:
    response = await client.get("/refused")

    assert (response.status, response.content_type) == (400, "text/html")
    assert (
        "The auditlog service refused it: cursor: Not a cursor of this list.; limit: Enter a number no"
        " greater than 100." in await response.text()
    )


async def test_a_record_a_service_does_not_know_is_the_404_page(client: Client) -> None:
    response = await client.get("/gone")

    assert (response.status, response.content_type) == (404, "text/html")
    assert "No such run." in await response.text()


async def test_a_service_saying_wait_is_the_429_page(client: Client) -> None:
    # Found by probing `make up`: an import preview of a tenant whose Pipedrive budget was spent was the
    # 502 "Something went wrong" page.
    response = await client.get("/wait")

    assert (response.status, response.content_type) == (429, "text/html")
    assert "Budget spent. Try again later." in await response.text()


async def test_a_service_failing_is_still_the_502_page(client: Client) -> None:
    response = await client.get("/broken")

    assert (response.status, response.content_type) == (502, "text/html")


async def test_a_form_over_the_size_limit_is_the_413_page(client: Client) -> None:
    response = await client.post("/form", data={"field": "x" * 5000})

    assert (response.status, response.content_type) == (413, "text/html")


async def test_a_form_that_does_not_decode_is_the_400_page(client: Client) -> None:
    response = await client.post(
        "/form",
        data=b"not gzip",
        headers={"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded"},
    )

    assert (response.status, response.content_type) == (400, "text/html")
