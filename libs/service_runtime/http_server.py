"""The HTTP server every service runs its app on: aiohttp's, except that a request it cannot parse (a
request line or header over its size limits, a character HTTP does not allow) is answered with the JSON
error shape like every other error, not aiohttp's plain-text page. Such a request never reaches the app,
so no middleware (service_runtime.http_guards) can answer it. A body that cannot be read (not the gzip
its `Content-Encoding` claims) is answered by the middlewares with a 400; what is left of it, which
aiohttp drains after the answer, fails the same way and is logged as such at info, not as an unhandled
exception with a traceback."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest
from aiohttp.web_server import Server

# aiohttp answers an unparseable request with one of these (the parser's status), or 500.
_MESSAGE = (
    "The request is not valid HTTP or is over the server's limits (the request line and each header at"
    " most 8190 bytes): shorten the query string or send the data in a body."
)
_CODES = {400: "bad_request", 413: "payload_too_large", 431: "headers_too_large"}


class _JsonErrorsRequestHandler(RequestHandler):
    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; refuses when a response began
        code = _CODES.get(status, "bad_request" if status < 500 else "internal_error")
        answer = web.json_response({"error": code, "message": _MESSAGE}, status=status)
        answer.force_close()
        return answer

    def log_exception(self, *args: Any, **kw: Any) -> None:
        failure = kw.get("exc_info")
        if isinstance(failure, web.RequestPayloadError):  # the rest of a body already refused with a 400
            self.logger.info("request_body_unreadable: %s", str(failure).replace("\n", " ").strip())
            return
        super().log_exception(*args, **kw)


class _JsonErrorsServer(Server):
    def __call__(self) -> RequestHandler:
        return _JsonErrorsRequestHandler(self, loop=self._loop, **self._kwargs)


class ApiRunner(web.AppRunner):
    """`web.AppRunner` whose server answers unparseable requests with the JSON error shape."""

    async def _make_server(self) -> Server:
        server = await super()._make_server()
        server.__class__ = _JsonErrorsServer
        return server
