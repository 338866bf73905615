"""A request aiohttp cannot parse never reaches the app's middlewares: the server itself answers it, with
the JSON error shape like every other error."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

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
