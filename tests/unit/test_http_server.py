"""A request aiohttp cannot parse never reaches the app's middlewares: the server itself answers it, with
the JSON error shape like every other error."""

from __future__ import annotations

import asyncio
import logging

import aiohttp
import orjson
import pytest
from aiohttp import web

from service_runtime.http_guards import api_middlewares
from service_runtime.http_server import ApiRunner


async def test_an_unparseable_request_is_answered_with_a_json_400() -> None:
    runner = ApiRunner(web.Application(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", runner.addresses[0][1])
        writer.write(b"GET /?q=" + b"x" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        answer = await reader.read()
        writer.close()
    finally:
        await runner.cleanup()

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400"
    assert b"Content-Type: application/json" in head
    assert orjson.loads(body)["error"] == "bad_request"


async def _read_body(request: web.Request) -> web.Response:
    return web.json_response({"size": len(await request.read())})


async def test_a_body_that_cannot_be_decoded_is_a_json_400_and_no_unhandled_exception_in_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Found by probing `make up`: after the 400, aiohttp drained the rest of the body, met the decoding
    # error again and logged it as an "Unhandled exception" with a traceback at error level.
    app = web.Application(middlewares=api_middlewares())
    app.router.add_post("/v1/things", _read_body)
    runner = ApiRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        with caplog.at_level(logging.INFO, logger="aiohttp.server"):
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://127.0.0.1:{runner.addresses[0][1]}/v1/things",
                    data=b"not gzip at all" * 100,
                    headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
                ) as response,
            ):
                status, body = response.status, await response.json()
            await asyncio.sleep(0.2)  # the server's drain of the body, after the answer
    finally:
        await runner.cleanup()

    assert (status, body["error"]) == (400, "bad_request")
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == []
