"""structlog configured once per process: JSON lines when not on a terminal, context from contextvars.

Everything a process logs goes through the same processors and renderer: structlog's own loggers, and
the standard library's (aiohttp's server errors with their tracebacks, aiokafka, asyncio) through
`structlog.stdlib.ProcessorFormatter`, so an operator's log shipper reads one JSON object per line. HTTP
access lines come from `AccessLog`, one `http_request` line per answer, never with the query string
(it can hold an OAuth code or state).
"""

from __future__ import annotations

import logging
import sys

import structlog
from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

OPERATIONAL_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
_access = structlog.get_logger("http.access")


def configure_logging(service: str, level: str = "INFO", *, json: bool | None = None) -> None:
    """Configure structlog and the stdlib root logger for one service process."""
    render_json = (not sys.stderr.isatty()) if json is None else json
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer() if render_json else structlog.dev.ConsoleRenderer()
    )
    shared: list[structlog.typing.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[
            *shared,
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    _route_stdlib_logging(shared, renderer)


def _route_stdlib_logging(
    shared: list[structlog.typing.Processor], renderer: structlog.typing.Processor
) -> None:
    """The standard library's records rendered like structlog's (warnings and up: libraries' info lines
    would drown ours), with the logger's name and the traceback as a string."""
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(logging.WARNING)


class AccessLog(AbstractAccessLogger):
    """aiohttp's access log as structlog lines: method, path (no query), status, size and duration;
    the operational probes (/healthz, /readyz, /metrics) only at debug level."""

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        """One `http_request` line for an answered request."""
        write = _access.debug if request.path in OPERATIONAL_PATHS else _access.info
        write(
            "http_request",
            method=request.method,
            path=request.path,
            status=response.status,
            bytes=response.body_length,
            duration_ms=round(time * 1000, 1),
            remote=request.remote,
        )
